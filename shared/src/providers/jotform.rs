//! Jotform webhooks (Settings → Integrations → WebHooks; the body as
//! Jotform's webhook posts it).
//!
//! Jotform POSTs `multipart/form-data` with `formID`, `submissionID`,
//! `formTitle`, `pretty`, `ip`, … and `rawRequest`: a JSON string of the
//! answers, each under `q<N>_<name>` (`q4_email`, `q3_fullName` as
//! `{"first", "last"}`, `q5_phoneNumber` as `{"full"}` or a string).
//! Jotform signs nothing, so the key's secret travels in the URL
//! (`?token=`), which Leadpipe never writes into a log line.

use serde_json::{Map, Value};

use super::{Adapter, Presented, ProviderMeta, Submission, id_text, media_type, multipart};
use crate::error::FieldIssue;
use crate::http::query_param;
use crate::rules::crypto::constant_time_eq;
use crate::rules::inbound::{BodyError, RawFields, body};

pub struct Jotform;

impl Adapter for Jotform {
    fn authentic(&self, secret: &str, req: &Presented<'_>) -> bool {
        query_param(req.query, "token")
            .is_some_and(|t| constant_time_eq(t.as_bytes(), secret.as_bytes()))
    }

    fn parse(&self, content_type: Option<&str>, body: &[u8]) -> Result<Submission, BodyError> {
        let outer = match media_type(content_type).as_str() {
            "multipart/form-data" => multipart::parse(content_type.unwrap_or(""), body)?,
            "application/x-www-form-urlencoded" => body::parse_body(content_type, body)?,
            _ => {
                return Err(BodyError::UnsupportedMediaType(
                    "Jotform posts multipart/form-data".into(),
                ));
            }
        };
        let text = |name: &str| {
            outer
                .iter()
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| id_text(Some(v)))
        };
        let invalid = |field: &str, issue: &str| BodyError::Invalid(FieldIssue::new(field, issue));
        let lead_id = text("submissionID").ok_or_else(|| invalid("submissionID", "is required"))?;
        let raw = outer
            .iter()
            .find(|(k, _)| k == "rawRequest")
            .and_then(|(_, v)| v.as_str())
            .ok_or_else(|| invalid("rawRequest", "is required"))?;
        let answers = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(a)) => a,
            _ => return Err(invalid("rawRequest", "must be a JSON object")),
        };
        let mut meta = ProviderMeta::new("jotform");
        meta.lead_id = Some(lead_id);
        meta.form_id = text("formID");
        meta.form_name = text("formTitle");
        Ok(Submission {
            fields: answer_fields(answers),
            meta,
        })
    }
}

/// `q12_fullName` → `fullName`; keys without the `q<N>_` prefix are
/// Jotform's own bookkeeping (`slug`, `buildDate`, `temp_upload`, …).
fn answer_name(key: &str) -> Option<&str> {
    let rest = key.strip_prefix('q')?;
    let (digits, name) = rest.split_once('_')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty())
        .then_some(name)
}

/// A slug Jotform numbered (`email4`) names what it would unnumbered.
fn unnumbered(name: &str) -> &str {
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if trimmed.is_empty() { name } else { trimmed }
}

fn answer_fields(answers: Map<String, Value>) -> RawFields {
    let mut out = Vec::new();
    for (key, value) in answers {
        let Some(name) = answer_name(&key) else {
            continue;
        };
        let base = unnumbered(name);
        match value {
            // A name widget: {"first", "middle"?, "last", "prefix"?, "suffix"?}.
            Value::Object(o) if o.contains_key("first") || o.contains_key("last") => {
                for part in ["first", "last"] {
                    if let Some(v) = o.get(part) {
                        out.push((format!("{part}_name"), v.clone()));
                    }
                }
            }
            // A phone widget: {"full"} or {"area", "phone"}.
            Value::Object(o) if o.contains_key("full") || o.contains_key("phone") => {
                let full = match o.get("full").and_then(Value::as_str) {
                    Some(f) => f.to_owned(),
                    None => ["area", "phone"]
                        .iter()
                        .filter_map(|k| o.get(*k).and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                out.push((base.to_owned(), Value::String(full)));
            }
            other => out.push((base.to_owned(), other)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use proptest::prelude::*;
    use serde_json::json;

    pub(crate) fn sample_body(boundary: &str) -> String {
        let raw = json!({
            "slug": "submit/243231271343446",
            "q3_fullName": {"first": "Zoë", "last": "Müller"},
            "q4_email4": "zoe@example.com",
            "q5_phoneNumber": {"full": "(650) 555-0123"},
            "q6_company": "Acme",
            "temp_upload": {},
            "path": "/submit/243231271343446"
        });
        let part = |name: &str, value: &str| {
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
        };
        [
            part("formID", "243231271343446"),
            part("submissionID", "6084250982513018472"),
            part("formTitle", "Demo request"),
            part("rawRequest", &raw.to_string()),
            part("pretty", "Full Name:Zoë Müller, E-mail:zoe@example.com"),
            format!("--{boundary}--\r\n"),
        ]
        .concat()
    }

    #[test]
    fn reads_raw_request_answers() {
        let ct = "multipart/form-data; boundary=------------------------J1JNT4vbVO4FCC1qLG4HSv";
        let body = sample_body("------------------------J1JNT4vbVO4FCC1qLG4HSv");
        let s = Jotform.parse(Some(ct), body.as_bytes()).unwrap();
        let mut fields = s.fields.clone();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            fields,
            vec![
                ("company".into(), json!("Acme")),
                ("email".into(), json!("zoe@example.com")),
                ("first_name".into(), json!("Zoë")),
                ("last_name".into(), json!("Müller")),
                ("phoneNumber".into(), json!("(650) 555-0123")),
            ]
        );
        assert_eq!(s.meta.lead_id.as_deref(), Some("6084250982513018472"));
        assert_eq!(s.meta.form_id.as_deref(), Some("243231271343446"));
        assert_eq!(s.meta.form_name.as_deref(), Some("Demo request"));
    }

    #[test]
    fn the_token_is_in_the_query() {
        let headers = HeaderMap::new();
        let query = vec![("token".to_owned(), "wh_live_x".to_owned())];
        let req = Presented {
            headers: &headers,
            query: &query,
            body: b"",
        };
        assert!(Jotform.authentic("wh_live_x", &req));
        assert!(!Jotform.authentic("wh_live_y", &req));
        assert!(!Jotform.authentic("wh_live_x", &Presented { query: &[], ..req }));
    }

    #[test]
    fn malformed_bodies_are_errors() {
        let ct = Some("multipart/form-data; boundary=B");
        let part = |name: &str, value: &str| {
            format!(
                "--B\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n--B--"
            )
        };
        assert!(
            Jotform
                .parse(ct, part("rawRequest", "{}").as_bytes())
                .is_err()
        );
        assert!(
            Jotform
                .parse(ct, part("submissionID", "1").as_bytes())
                .is_err()
        );
        assert!(Jotform.parse(Some("application/json"), b"{}").is_err());
        let bad_raw = "--B\r\nContent-Disposition: form-data; name=\"submissionID\"\r\n\r\n1\r\n\
                       --B\r\nContent-Disposition: form-data; name=\"rawRequest\"\r\n\r\n[1]\r\n--B--";
        assert!(Jotform.parse(ct, bad_raw.as_bytes()).is_err());
    }

    #[test]
    fn answer_names() {
        assert_eq!(answer_name("q12_fullName"), Some("fullName"));
        assert_eq!(answer_name("q_x"), None);
        assert_eq!(answer_name("slug"), None);
        assert_eq!(answer_name("q1_"), None);
        assert_eq!(unnumbered("email4"), "email");
        assert_eq!(unnumbered("42"), "42");
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Jotform.parse(Some("multipart/form-data; boundary=B"), &body);
            let _ = Jotform.parse(Some("application/x-www-form-urlencoded"), &body);
        }

        #[test]
        fn any_raw_request_object_reads(raw in proptest::collection::btree_map("q[0-9]{1,3}_[a-z]{1,8}", "\\PC{0,20}", 0..10)) {
            let fields = answer_fields(raw.clone().into_iter().map(|(k, v)| (k, json!(v))).collect());
            prop_assert_eq!(fields.len(), raw.len());
        }
    }
}
