//! The field rules of docs/CONTRACT.md §3: which sent field means what, and the
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
#[path = "fields_tests.rs"]
mod tests;
