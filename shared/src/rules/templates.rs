//! Payload templates: a JSON document with `{{placeholders}}` inside its
//! strings, for receivers that want their own shape (HubSpot's contacts API,
//! a Google Sheet script…).
//!
//! Values are JSON-string-escaped (a quote in a name cannot break out of its
//! string), a missing value renders as an empty string, and object keys are
//! literal. A template is checked when saved: rendered with a sample lead,
//! it must be valid JSON.

use serde_json::Value;

/// Renders `template`, looking each placeholder up in `ctx`: a JSON object
/// shaped like the default body (`type`, `deliveryId`, `occurredAt`,
/// `previousSeenAt`, `lead.{…}`, `lead.customFields.NAME`, `lead.tags`
/// comma-joined).
pub fn render(template: &str, ctx: &Value) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                escape_into(&lookup(ctx, name), &mut out);
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The text of a placeholder: strings as they are, numbers and booleans
/// printed, lists comma-joined, objects as compact JSON, missing as "".
fn lookup(ctx: &Value, name: &str) -> String {
    let mut value = ctx;
    // Custom field names may contain dots: everything after the prefix is
    // the field's name.
    if let Some(field) = name.strip_prefix("lead.customFields.") {
        return text(&ctx["lead"]["customFields"][field]);
    }
    for part in name.split('.') {
        value = match value.get(part) {
            Some(v) => v,
            None => return String::new(),
        };
    }
    text(value)
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Appends `s` escaped for the inside of a JSON string.
fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// Checks a template at save time: it must render, with `sample`, to valid
/// JSON.
pub fn check(template: &str, sample: &Value) -> Result<(), String> {
    if template.len() > 64 * 1024 {
        return Err("is larger than 64 KiB".into());
    }
    let rendered = render(template, sample);
    serde_json::from_str::<Value>(&rendered)
        .map(|_| ())
        .map_err(|e| {
            format!(
                "does not render to valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const HUBSPOT: &str = r#"{"properties": {"email": "{{lead.email}}", "firstname": "{{lead.firstName}}",
        "phone": "{{lead.phone}}", "hs_lead_status": "{{lead.status}}", "tags": "{{lead.tags}}",
        "budget": "{{lead.customFields.budget}}", "company": "{{lead.customFields.company}}", "lead_source": "Leadpipe"}}"#;

    fn ctx(first: &str) -> Value {
        json!({"type": "lead.created", "deliveryId": "dlv_1", "occurredAt": "2026-04-22T10:15:00.000Z",
               "lead": {"id": "lead_1", "email": "a@b.co", "phone": "+14155550123", "firstName": first,
                        "status": "new", "tags": ["a", "b"], "customFields": {"budget": 5000},
                        "source": {"type": "webhook", "keyId": "key_1"}}})
    }

    #[test]
    fn hubspot_shape_with_a_quote_and_a_missing_value() {
        let out = render(HUBSPOT, &ctx("Ann \"the lead\" O'Neil"));
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["properties"]["firstname"], "Ann \"the lead\" O'Neil");
        assert_eq!(v["properties"]["company"], "");
        assert_eq!(v["properties"]["budget"], "5000");
        assert_eq!(v["properties"]["tags"], "a,b");
        assert_eq!(v["properties"]["lead_source"], "Leadpipe");
    }

    #[test]
    fn check_at_save() {
        assert!(check(HUBSPOT, &ctx("x")).is_ok());
        assert!(check(r#"{"a": "{{lead.email}}""#, &ctx("x")).is_err());
        assert!(check(r#"{"a": {{lead.email}}}"#, &ctx("x")).is_err());
        assert!(check("{\"unclosed\": \"{{lead.email\"}", &ctx("x")).is_ok());
    }

    proptest! {
        /// Whatever the lead's values, a valid template renders valid JSON
        /// and the values come back exactly.
        #[test]
        fn output_is_always_valid_json(first in any::<String>(), email in any::<String>(), custom in any::<String>()) {
            let mut c = ctx(&first);
            c["lead"]["email"] = json!(email);
            c["lead"]["customFields"]["budget"] = json!(custom);
            let out = render(HUBSPOT, &c);
            let v: Value = serde_json::from_str(&out).unwrap();
            prop_assert_eq!(v["properties"]["firstname"].as_str().unwrap(), first.as_str());
            prop_assert_eq!(v["properties"]["email"].as_str().unwrap(), email.as_str());
            prop_assert_eq!(v["properties"]["budget"].as_str().unwrap(), custom.as_str());
        }
    }
}
