//! Meta Lead Ads (docs/CONTRACT.md §4): the `hub.challenge` handshake, the signed
//! `leadgen` notifications, and the Graph API look-up of each lead.
//!
//! Ids are kept exactly as strings: Meta sends them as strings or as JSON
//! numbers, and numbers past 2^53 lose digits in JavaScript — not here, where
//! an integer id is read as a `u64` and printed back digit for digit.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::error::FieldIssue;
use crate::rules::inbound::BodyError;
use crate::rules::inbound::RawFields;

/// Largest notification body accepted (1000 updates fit comfortably).
pub const MAX_NOTIFICATION_BYTES: usize = 1024 * 1024;

/// Checks `X-Hub-Signature-256: sha256=<hex>` over the raw body, in
/// constant time.
pub fn signature_valid(app_secret: &str, body: &[u8], header: Option<&str>) -> bool {
    let Some(hex) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Some(expected) = decode_hex(hex) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// `sha256=<hex>` for a body (what Meta sends; used by tests and samples).
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("sha256={}", crate::rules::crypto::encode_hex(&digest))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// A Meta object id, exact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetaId(pub String);

impl<'de> Deserialize<'de> for MetaId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = MetaId;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an id as a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MetaId, E> {
                let v = v.trim();
                if v.is_empty()
                    || v.len() > 64
                    || !v
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    return Err(E::custom("an id must be 1-64 letters, digits, '_' or '-'"));
                }
                Ok(MetaId(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MetaId, E> {
                Ok(MetaId(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MetaId, E> {
                if v < 0 {
                    return Err(E::custom("an id cannot be negative"));
                }
                Ok(MetaId(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<MetaId, E> {
                Err(E::custom("an id must be an integer below 2^64 or a string"))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
struct Notification {
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Value,
}

/// One `leadgen` change: a lead to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Leadgen {
    pub leadgen_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LeadgenValue {
    leadgen_id: MetaId,
    #[serde(default)]
    page_id: Option<MetaId>,
    #[serde(default)]
    form_id: Option<MetaId>,
    #[serde(default)]
    ad_id: Option<MetaId>,
    #[serde(default)]
    created_time: Option<MetaId>,
}

/// Every `leadgen` change of a notification, in order; other fields are
/// ignored. A notification that is not the expected JSON is a 400.
pub fn leadgen_changes(body: &[u8]) -> Result<Vec<Leadgen>, BodyError> {
    let n: Notification = serde_json::from_slice(body)
        .map_err(|e| BodyError::Malformed(format!("not a Meta webhook notification: {e}")))?;
    let mut out = Vec::new();
    for (i, entry) in n.entry.into_iter().enumerate() {
        for (j, change) in entry.changes.into_iter().enumerate() {
            if change.field != "leadgen" {
                continue;
            }
            let v: LeadgenValue = serde_json::from_value(change.value).map_err(|e| {
                BodyError::Invalid(FieldIssue::new(
                    format!("entry[{i}].changes[{j}].value"),
                    e.to_string(),
                ))
            })?;
            out.push(Leadgen {
                leadgen_id: v.leadgen_id.0,
                page_id: v.page_id.map(|x| x.0),
                form_id: v.form_id.map(|x| x.0),
                ad_id: v.ad_id.map(|x| x.0),
                created_time: v.created_time.map(|x| x.0),
            });
        }
    }
    Ok(out)
}

/// Why the Graph API did not give a lead.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphError {
    /// 5xx, 429, a timeout or a connection failure: retry later.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Any other 4xx, or an answer that is not a lead: the event fails.
    Permanent(String),
}

#[derive(Deserialize)]
struct GraphLead {
    #[serde(default)]
    field_data: Vec<FieldData>,
}

#[derive(Deserialize)]
struct FieldData {
    name: String,
    #[serde(default)]
    values: Vec<Value>,
}

/// Maps Graph's `field_data` to submitted fields: one value stays a value,
/// several become a list.
pub fn field_data_to_fields(body: &[u8]) -> Result<RawFields, GraphError> {
    let lead: GraphLead = serde_json::from_slice(body).map_err(|e| {
        GraphError::Permanent(format!(
            "graph api answered with something that is not a lead: {e}"
        ))
    })?;
    Ok(lead
        .field_data
        .into_iter()
        .filter(|f| !f.name.trim().is_empty())
        .map(|f| {
            let value = match f.values.len() {
                0 => Value::Null,
                1 => f.values.into_iter().next().unwrap_or(Value::Null),
                _ => Value::Array(f.values),
            };
            (f.name, value)
        })
        .collect())
}

/// Fetches a lead from the Graph API.
pub async fn fetch_lead(
    http: &reqwest::Client,
    graph_url: &str,
    page_token: &str,
    leadgen_id: &str,
) -> Result<RawFields, GraphError> {
    let url = url::Url::parse_with_params(
        &format!("{graph_url}/{leadgen_id}"),
        [
            ("access_token", page_token),
            (
                "fields",
                "id,created_time,field_data,form_id,ad_id,campaign_id,platform,is_organic",
            ),
        ],
    )
    .map_err(|_| GraphError::Permanent("the Graph API URL is not valid".into()))?;
    let result = http.get(url).send().await;
    let resp = match result {
        Ok(r) => r,
        // The error's text carries the URL, and the URL the token: say less.
        Err(e) if e.is_timeout() => {
            return Err(GraphError::Transient {
                reason: "graph api timed out".into(),
                retry_after: None,
            });
        }
        Err(e) => {
            let stage = if e.is_connect() { "connect" } else { "request" };
            // Without the URL (it carries the page token); the token is also
            // masked in case a cause ever quotes it.
            let text = crate::http::outbound::error_text(e).replace(page_token, "***");
            return Err(GraphError::Transient {
                reason: format!("graph api unreachable ({stage}): {text}"),
                retry_after: None,
            });
        }
    };
    let status = resp.status();
    let retry_after = crate::rules::retry::retry_after(resp.headers());
    let body = resp.bytes().await.map_err(|_| GraphError::Transient {
        reason: "graph api answer cut short".into(),
        retry_after: None,
    })?;
    if status.is_success() {
        return field_data_to_fields(&body);
    }
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_default()
        .replace(page_token, "***");
    let message: String = message.chars().take(300).collect();
    let reason = format!("graph api {}: {}", status.as_u16(), message)
        .trim_end_matches([' ', ':'])
        .to_owned();
    if status.is_server_error() || status.as_u16() == 429 {
        Err(GraphError::Transient {
            reason,
            retry_after,
        })
    } else {
        Err(GraphError::Permanent(reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let body = br#"{"object":"page"}"#;
        let sig = sign("s3cret", body);
        assert!(signature_valid("s3cret", body, Some(&sig)));
        assert!(!signature_valid("other", body, Some(&sig)));
        assert!(!signature_valid("s3cret", b"{}", Some(&sig)));
        assert!(!signature_valid("s3cret", body, None));
        assert!(!signature_valid("s3cret", body, Some("sha1=abc")));
        assert!(!signature_valid("s3cret", body, Some("sha256=zz")));
        assert!(!signature_valid(
            "s3cret",
            body,
            Some(
                &sig.to_uppercase()
                    .replace("SHA256", "sha256")
                    .replace('A', "é")
            )
        ));
    }

    #[test]
    fn ids_stay_exact_past_2_pow_53() {
        let body = br#"{"object":"page","entry":[{"id":"1","time":1,"changes":[
            {"field":"leadgen","value":{"leadgen_id":1234567890123456789,"page_id":"987","form_id":9007199254740993,"created_time":1700000000}},
            {"field":"feed","value":{"x":1}},
            {"field":"leadgen","value":{"leadgen_id":"444","page_id":987}}]}]}"#;
        let changes = leadgen_changes(body).unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].leadgen_id, "1234567890123456789");
        assert_eq!(changes[0].form_id.as_deref(), Some("9007199254740993"));
        assert_eq!(changes[1].leadgen_id, "444");
        assert_eq!(changes[1].page_id.as_deref(), Some("987"));
    }

    #[test]
    fn bad_notifications() {
        assert!(leadgen_changes(b"nope").is_err());
        assert!(
            leadgen_changes(
                br#"{"entry":[{"changes":[{"field":"leadgen","value":{"leadgen_id":1.5}}]}]}"#
            )
            .is_err()
        );
        assert!(
            leadgen_changes(br#"{"entry":[{"changes":[{"field":"leadgen","value":{}}]}]}"#)
                .is_err()
        );
        assert_eq!(leadgen_changes(br#"{"object":"page"}"#).unwrap(), vec![]);
    }

    #[test]
    fn field_data_mapping() {
        let body = br#"{"id":"1","field_data":[
            {"name":"email","values":["A@B.co"]},{"name":"full_name","values":["Ann Lee"]},
            {"name":"interests","values":["a","b"]},{"name":"","values":["x"]}]}"#;
        let f = field_data_to_fields(body).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[2].1, serde_json::json!(["a", "b"]));
    }
}
