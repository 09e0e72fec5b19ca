//! A destination's field mapping: destination field → lead field, e.g.
//! `{"firstname": "firstName", "company": "customFields.company"}`.
//! Checked at save; read at send, where each lead field becomes text.

use serde_json::{Map, Value};

use crate::error::FieldIssue;

/// At most this many mapped fields.
pub const MAX_FIELDS: usize = 50;

/// Lead fields a mapping may name, besides `customFields.NAME`.
pub const LEAD_FIELDS: &[&str] = &[
    "id",
    "email",
    "phone",
    "firstName",
    "lastName",
    "name",
    "status",
    "tags",
    "otherEmails",
    "otherPhones",
    "createdAt",
    "updatedAt",
    "lastSeenAt",
    "source.type",
    "source.keyId",
    "source.pageId",
    "source.formId",
    "source.adId",
];

fn lead_field_ok(f: &str) -> bool {
    LEAD_FIELDS.contains(&f)
        || f.strip_prefix("customFields.")
            .is_some_and(|n| !n.is_empty() && n.len() <= 200 && !n.chars().any(char::is_control))
}

/// Checks a mapping object; returns it as ordered pairs.
pub fn check(v: &Value) -> Result<Vec<(String, String)>, Vec<FieldIssue>> {
    let Some(map) = v.as_object() else {
        return Err(vec![FieldIssue::new(
            "mapping",
            "must be an object of destination field → lead field",
        )]);
    };
    let mut issues = Vec::new();
    if map.is_empty() || map.len() > MAX_FIELDS {
        issues.push(FieldIssue::new(
            "mapping",
            format!("must map 1 to {MAX_FIELDS} fields"),
        ));
    }
    let mut out = Vec::new();
    for (dest, lead) in map {
        let name: String = dest.chars().take(60).collect();
        if dest.trim().is_empty() || dest.len() > 100 || dest.chars().any(char::is_control) {
            issues.push(FieldIssue::new(
                format!("mapping.{name}"),
                "destination field names are 1 to 100 characters",
            ));
            continue;
        }
        match lead.as_str() {
            Some(f) if lead_field_ok(f) => out.push((dest.clone(), f.to_owned())),
            _ => issues.push(FieldIssue::new(
                format!("mapping.{name}"),
                format!(
                    "must name a lead field: {} or customFields.NAME",
                    LEAD_FIELDS.join(", ")
                ),
            )),
        }
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}

/// A stored mapping (checked at save).
pub fn parse_stored(text: &str) -> Option<Vec<(String, String)>> {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| check(&v).ok())
}

/// Pairs as a JSON object.
pub fn to_json(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect::<Map<_, _>>(),
    )
}

/// The text of lead field `field`: strings as they are, numbers and
/// booleans printed, lists joined with ", "; `None` when missing or empty.
pub fn value_of(lead: &Value, field: &str) -> Option<String> {
    let v = match field.strip_prefix("customFields.") {
        Some(name) => lead.get("customFields")?.get(name)?,
        None => field.split('.').try_fold(lead, |v, part| v.get(part))?,
    };
    let text = text(v);
    (!text.is_empty()).then_some(text)
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(text)
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// Every mapped field that has a value: (destination field, text).
pub fn values(mapping: &[(String, String)], lead: &Value) -> Vec<(String, String)> {
    mapping
        .iter()
        .filter_map(|(dest, field)| value_of(lead, field).map(|v| (dest.clone(), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_follow_the_mapping_and_skip_empties() {
        let lead = json!({"email": "a@b.co", "tags": ["x", "y"], "firstName": "",
                          "customFields": {"company": "Acme", "seats.n": 3},
                          "source": {"type": "webhook"}});
        let mapping = check(&json!({"email": "email", "tags": "tags", "firstname": "firstName",
                                    "company": "customFields.company", "seats": "customFields.seats.n",
                                    "src": "source.type"}))
        .unwrap();
        assert_eq!(
            values(&mapping, &lead),
            [
                ("company".to_owned(), "Acme".to_owned()),
                ("email".to_owned(), "a@b.co".to_owned()),
                ("seats".to_owned(), "3".to_owned()),
                ("src".to_owned(), "webhook".to_owned()),
                ("tags".to_owned(), "x, y".to_owned()),
            ]
        );
    }

    #[test]
    fn bad_mappings_name_each_field() {
        let issues =
            check(&json!({"a": "nope", "": "email", "b": 3, "c": "customFields."})).unwrap_err();
        let fields: Vec<_> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, ["mapping.", "mapping.a", "mapping.b", "mapping.c"]);
        assert!(check(&json!([])).is_err());
        assert!(check(&json!({})).is_err());
    }
}
