//! The field rules of CONTRACT §3: which sent field means what, and the
//! normalised lead input that comes out.
//!
//! Field names are matched without regard to case or separators, so `email`,
//! `Email`, `e-mail`… `first_name`, `firstName`, `First Name` all land in the
//! same place. Everything else non-empty is kept as a custom field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::body::RawFields;
use super::normalise::{self, Region};
use crate::error::FieldIssue;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_CHARS: usize = 64;
pub const MAX_CUSTOM_FIELDS: usize = 100;
pub const MAX_FIELD_NAME_CHARS: usize = 100;

/// A lead as submitted, cleaned: what `process` turns into (or merges into)
/// a lead.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub custom_fields: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    Email,
    Phone,
    Name,
    FirstName,
    LastName,
    Tags,
}

impl Known {
    fn label(self) -> &'static str {
        match self {
            Known::Email => "email",
            Known::Phone => "phone",
            Known::Name => "name",
            Known::FirstName => "first_name",
            Known::LastName => "last_name",
            Known::Tags => "tags",
        }
    }
}

/// `First Name` → `firstname`; `tags[]` → `tags`.
pub fn canonical_name(name: &str) -> String {
    let name = name.trim().strip_suffix("[]").unwrap_or(name.trim());
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

fn known(name: &str) -> Option<Known> {
    Some(match canonical_name(name).as_str() {
        "email" | "emailaddress" => Known::Email,
        "phone" | "phonenumber" => Known::Phone,
        "name" | "fullname" => Known::Name,
        "firstname" => Known::FirstName,
        "lastname" => Known::LastName,
        "tags" => Known::Tags,
        _ => return None,
    })
}

/// True when `value` carries nothing: null, blank string, empty array/object.
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.iter().all(is_empty),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// True when the honeypot field `field` was sent non-empty.
pub fn honeypot_tripped(fields: &RawFields, field: &str) -> bool {
    fields.iter().any(|(k, v)| k == field && !is_empty(v))
}

/// Removes control characters (keeping nothing a name or a tag should hold).
fn clean_text(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

fn split_tags(value: &Value, out: &mut Vec<String>) -> Result<(), &'static str> {
    match value {
        Value::String(s) => {
            out.extend(s.split(',').map(clean_text));
            Ok(())
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(s) => out.push(clean_text(s)),
                    Value::Null => {}
                    _ => return Err("must be an array of strings or a comma-separated string"),
                }
            }
            Ok(())
        }
        Value::Null => Ok(()),
        _ => Err("must be an array of strings or a comma-separated string"),
    }
}

/// Cleans a list of tags: trimmed, control characters removed, blanks
/// dropped, duplicates removed (first spelling kept), bounded.
pub fn clean_tags(raw: Vec<String>, field: &str, issues: &mut Vec<FieldIssue>) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in raw
        .into_iter()
        .map(|t| clean_text(&t))
        .filter(|t| !t.is_empty())
    {
        if tag.chars().count() > MAX_TAG_CHARS {
            issues.push(FieldIssue::new(
                field,
                format!("a tag is longer than {MAX_TAG_CHARS} characters"),
            ));
            return vec![];
        }
        if !tags.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
            tags.push(tag);
        }
    }
    if tags.len() > MAX_TAGS {
        issues.push(FieldIssue::new(field, format!("more than {MAX_TAGS} tags")));
        return vec![];
    }
    tags
}

impl LeadInput {
    /// Applies the field rules. `ignore` names a field that is not data (the
    /// key's honeypot). Every problem is reported, not just the first.
    pub fn from_fields(
        fields: RawFields,
        region: Region,
        ignore: Option<&str>,
    ) -> Result<LeadInput, Vec<FieldIssue>> {
        let mut issues = Vec::new();
        let mut seen: BTreeMap<&'static str, (String, String)> = BTreeMap::new();
        let mut raw_tags = Vec::new();
        let mut custom: BTreeMap<String, Value> = BTreeMap::new();
        let mut lead = LeadInput::default();

        for (name, value) in fields {
            if ignore == Some(name.as_str()) || is_empty(&value) {
                continue;
            }
            let Some(kind) = known(&name) else {
                add_custom(&mut custom, name, value, &mut issues);
                continue;
            };
            if kind == Known::Tags {
                if let Err(issue) = split_tags(&value, &mut raw_tags) {
                    issues.push(FieldIssue::new(name, issue));
                }
                continue;
            }
            let text = match (&value, kind) {
                (Value::String(s), _) => Some(s.clone()),
                // A phone number sent as a JSON number is still a phone number.
                (Value::Number(_), Known::Phone) => scalar_text(&value),
                _ => None,
            };
            let Some(text) = text else {
                issues.push(FieldIssue::new(name, "must be a string"));
                continue;
            };
            let text = text.trim().to_owned();
            match seen.get(kind.label()) {
                Some((first_name, first)) if *first != text => {
                    issues.push(FieldIssue::new(
                        name.clone(),
                        format!("conflicts with {first_name}: one value only"),
                    ));
                    continue;
                }
                Some(_) => continue,
                None => {
                    seen.insert(kind.label(), (name.clone(), text.clone()));
                }
            }
            match kind {
                Known::Email => match normalise::email(&text) {
                    Ok(e) => lead.email = Some(e),
                    Err(issue) => issues.push(FieldIssue::new(name, issue)),
                },
                Known::Phone => match normalise::phone(&text, region) {
                    Ok(p) => lead.phone = Some(p),
                    Err(issue) => issues.push(FieldIssue::new(name, issue)),
                },
                Known::Name | Known::FirstName | Known::LastName => {
                    let clean = clean_text(&text);
                    if clean.chars().count() > MAX_NAME_CHARS {
                        issues.push(FieldIssue::new(
                            name,
                            format!("is longer than {MAX_NAME_CHARS} characters"),
                        ));
                        continue;
                    }
                    let slot = match kind {
                        Known::Name => &mut lead.name,
                        Known::FirstName => &mut lead.first_name,
                        _ => &mut lead.last_name,
                    };
                    *slot = (!clean.is_empty()).then_some(clean);
                }
                Known::Tags => {}
            }
        }

        lead.tags = clean_tags(raw_tags, "tags", &mut issues);
        lead.custom_fields = custom;
        lead.complete_names();
        if lead.email.is_none()
            && lead.phone.is_none()
            && !issues
                .iter()
                .any(|i| known(&i.field).is_some_and(|k| matches!(k, Known::Email | Known::Phone)))
        {
            issues.push(FieldIssue::new("email", "email or phone is required"));
        }
        if issues.is_empty() {
            Ok(lead)
        } else {
            Err(issues)
        }
    }

    /// A full name alone is split at its first space; first and last alone
    /// make the name.
    pub fn complete_names(&mut self) {
        match (&self.name, &self.first_name, &self.last_name) {
            (Some(full), None, None) => {
                let (first, last) = match full.split_once(' ') {
                    Some((f, l)) => (f.to_owned(), Some(l.trim().to_owned())),
                    None => (full.clone(), None),
                };
                self.first_name = Some(first);
                self.last_name = last.filter(|l| !l.is_empty());
            }
            (None, first, last) if first.is_some() || last.is_some() => {
                let joined = [first.as_deref(), last.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                self.name = Some(joined);
            }
            _ => {}
        }
    }
}

fn add_custom(
    custom: &mut BTreeMap<String, Value>,
    name: String,
    value: Value,
    issues: &mut Vec<FieldIssue>,
) {
    let key = clean_text(&name);
    if key.is_empty() {
        return;
    }
    if key.chars().count() > MAX_FIELD_NAME_CHARS {
        let shown: String = key.chars().take(40).collect();
        issues.push(FieldIssue::new(
            format!("{shown}…"),
            format!("field names are at most {MAX_FIELD_NAME_CHARS} characters"),
        ));
        return;
    }
    let value = match value {
        Value::String(s) => Value::String(s.trim().to_owned()),
        other => other,
    };
    match custom.get_mut(&key) {
        // A repeated field (checkboxes) becomes a list of its values.
        Some(Value::Array(list)) => list.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            if custom.len() >= MAX_CUSTOM_FIELDS {
                if !issues.iter().any(|i| i.field == "customFields") {
                    issues.push(FieldIssue::new(
                        "customFields",
                        format!("more than {MAX_CUSTOM_FIELDS} custom fields"),
                    ));
                }
                return;
            }
            custom.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const US: Region = Region::US;
    use serde_json::json;

    fn fields(v: Value) -> RawFields {
        v.as_object().unwrap().clone().into_iter().collect()
    }

    fn ok(v: Value) -> LeadInput {
        LeadInput::from_fields(fields(v), US, None).unwrap()
    }

    fn issues(v: Value) -> Vec<FieldIssue> {
        LeadInput::from_fields(fields(v), US, None).unwrap_err()
    }

    #[test]
    fn the_contract_example() {
        let l = ok(
            json!({"name": "Alex Customer", "phone": "+91 98765 43210", "email": "Alex@Example.com "}),
        );
        assert_eq!(l.email.as_deref(), Some("alex@example.com"));
        assert_eq!(l.phone.as_deref(), Some("+919876543210"));
        assert_eq!(l.first_name.as_deref(), Some("Alex"));
        assert_eq!(l.last_name.as_deref(), Some("Customer"));
        assert_eq!(l.name.as_deref(), Some("Alex Customer"));
    }

    #[test]
    fn aliases_and_names() {
        let l = ok(json!({"full_name": "Ann Marie Lee", "phone_number": "4155550123"}));
        assert_eq!(l.first_name.as_deref(), Some("Ann"));
        assert_eq!(l.last_name.as_deref(), Some("Marie Lee"));
        assert_eq!(l.phone.as_deref(), Some("+14155550123"));
        let l = ok(json!({"First Name": "Bo", "lastName": "Diddley", "Email": "bo@x.io"}));
        assert_eq!(l.name.as_deref(), Some("Bo Diddley"));
        let l = ok(json!({"first_name": "Cher", "email": "c@x.io"}));
        assert_eq!(l.name.as_deref(), Some("Cher"));
        assert_eq!(l.last_name, None);
        let l = ok(json!({"name": "Madonna", "email": "m@x.io"}));
        assert_eq!(l.first_name.as_deref(), Some("Madonna"));
        assert_eq!(l.last_name, None);
    }

    #[test]
    fn tags_and_custom_fields() {
        let l = ok(
            json!({"email": "a@b.co", "tags": " vip, , webinar,VIP ", "utm_source": "google", "empty": "", "n": 3}),
        );
        assert_eq!(l.tags, vec!["vip", "webinar"]);
        assert_eq!(l.custom_fields.get("utm_source"), Some(&json!("google")));
        assert_eq!(l.custom_fields.get("n"), Some(&json!(3)));
        assert!(!l.custom_fields.contains_key("empty"));
        let l = ok(json!({"email": "a@b.co", "tags": ["a", "b"]}));
        assert_eq!(l.tags, vec!["a", "b"]);
    }

    #[test]
    fn repeated_form_fields() {
        let raw = vec![
            ("email".to_owned(), json!("a@b.co")),
            ("tags[]".to_owned(), json!("x")),
            ("tags[]".to_owned(), json!("y")),
            ("interest".to_owned(), json!("a")),
            ("interest".to_owned(), json!("b")),
            ("email".to_owned(), json!("A@B.co")),
        ];
        let l = LeadInput::from_fields(raw, US, None).unwrap_err();
        assert_eq!(l[0].field, "email");
        let raw = vec![
            ("email".to_owned(), json!("a@b.co")),
            ("tags[]".to_owned(), json!("x")),
            ("tags[]".to_owned(), json!("y")),
            ("interest".to_owned(), json!("a")),
            ("interest".to_owned(), json!("b")),
            ("email".to_owned(), json!("a@b.co")),
        ];
        let l = LeadInput::from_fields(raw, US, None).unwrap();
        assert_eq!(l.tags, vec!["x", "y"]);
        assert_eq!(l.custom_fields["interest"], json!(["a", "b"]));
    }

    #[test]
    fn validation_reports_every_field() {
        let i = issues(json!({"name": "x"}));
        assert_eq!(
            i,
            vec![FieldIssue::new("email", "email or phone is required")]
        );
        let i = issues(json!({"email": "nope", "phone": "12"}));
        assert_eq!(i.len(), 2);
        assert_eq!(i[0].field, "email");
        assert_eq!(i[1].field, "phone");
        let i = issues(json!({"email": 5}));
        assert_eq!(i[0].issue, "must be a string");
        let i = issues(json!({"email": "a@b.co", "name": "x".repeat(201)}));
        assert_eq!(i[0].field, "name");
        let i = issues(json!({"email": "a@b.co", "tags": {"a": 1}}));
        assert_eq!(i[0].field, "tags");
    }

    #[test]
    fn honeypot_is_ignored_as_data() {
        let raw = fields(json!({"email": "a@b.co", "company_url": ""}));
        assert!(!honeypot_tripped(&raw, "company_url"));
        let l = LeadInput::from_fields(raw, US, Some("company_url")).unwrap();
        assert!(l.custom_fields.is_empty());
        let raw = fields(json!({"email": "a@b.co", "company_url": "http://spam"}));
        assert!(honeypot_tripped(&raw, "company_url"));
    }

    #[test]
    fn control_characters_are_cleaned() {
        let l = ok(json!({"email": "a@b.co", "name": "Ann\u{0}\n  Lee"}));
        assert_eq!(l.name.as_deref(), Some("Ann Lee"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::rules::inbound::normalise;
    const US: Region = Region::US;
    use proptest::prelude::*;

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(json_number),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn json_number(n: i64) -> Value {
        Value::Number(n.into())
    }

    fn field_name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("email".to_owned()),
            Just("Phone".to_owned()),
            Just("phone_number".to_owned()),
            Just("full_name".to_owned()),
            Just("First Name".to_owned()),
            Just("last_name".to_owned()),
            Just("tags".to_owned()),
            Just("tags[]".to_owned()),
            ".{0,12}",
        ]
    }

    proptest! {
        /// Whatever arrives, the rules answer (a lead or issues) and never
        /// panic; a lead always has an email or a phone, already normalised.
        #[test]
        fn any_fields_give_a_clean_lead_or_issues(
            fields in prop::collection::vec((field_name(), any_json()), 0..12)
        ) {
            match LeadInput::from_fields(fields, US, None) {
                Ok(lead) => {
                    prop_assert!(lead.email.is_some() || lead.phone.is_some());
                    if let Some(e) = &lead.email {
                        prop_assert_eq!(normalise::email(e), Ok(e.clone()));
                    }
                    if let Some(p) = &lead.phone {
                        prop_assert!(p.starts_with('+'));
                        prop_assert_eq!(normalise::phone(p, US), Ok(p.clone()));
                    }
                    prop_assert!(lead.tags.len() <= MAX_TAGS);
                    for t in &lead.tags {
                        prop_assert!(!t.is_empty() && t.trim() == t);
                    }
                    prop_assert!(lead.custom_fields.values().all(|v| !is_empty(v)));
                }
                Err(issues) => prop_assert!(!issues.is_empty()),
            }
        }

        /// Normalising an email is idempotent and case-insensitive.
        #[test]
        fn email_normalisation_is_stable(
            local in "[a-zA-Z0-9]([a-zA-Z0-9._+-]{0,20}[a-zA-Z0-9])?",
            domain in "[a-zA-Z0-9]{1,12}\\.[a-zA-Z]{2,6}",
            pad in " {0,3}"
        ) {
            prop_assume!(!local.contains(".."));
            let raw = format!("{pad}{local}@{domain}{pad}");
            let once = normalise::email(&raw).unwrap();
            prop_assert_eq!(&once, &once.to_lowercase());
            prop_assert_eq!(normalise::email(&once).unwrap(), once.clone());
            prop_assert_eq!(normalise::email(&raw.to_uppercase()).unwrap(), once);
        }

        /// A US number in any common spelling lands on one E.164 form.
        #[test]
        fn us_phone_spellings_agree(area in 201u32..989, exchange in 200u32..999, line in 0u32..9999) {
            let e164 = format!("+1{area}{exchange}{line:04}");
            if let Ok(canonical) = normalise::phone(&e164, US) {
                for spelling in [
                    format!("({area}) {exchange}-{line:04}"),
                    format!("{area}.{exchange}.{line:04}"),
                    format!("+1 {area} {exchange} {line:04}"),
                    format!("1-{area}-{exchange}-{line:04}"),
                ] {
                    prop_assert_eq!(normalise::phone(&spelling, US), Ok(canonical.clone()));
                }
            }
        }

        /// Names: a first and last name always make `name`, a full name
        /// always splits back.
        #[test]
        fn names_complete_each_other(first in "[A-Za-z]{1,10}", last in "[A-Za-z]{1,10}( [A-Za-z]{1,10})?") {
            let mut a = LeadInput { first_name: Some(first.clone()), last_name: Some(last.clone()), ..Default::default() };
            a.complete_names();
            prop_assert_eq!(a.name.clone(), Some(format!("{first} {last}")));
            let mut b = LeadInput { name: a.name.clone(), ..Default::default() };
            b.complete_names();
            prop_assert_eq!(b.first_name, Some(first));
            prop_assert_eq!(b.last_name, Some(last));
        }
    }
}
