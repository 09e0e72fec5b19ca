//! Request bodies: a JSON object or an HTML form, at most 64 KiB, decoded
//! into an ordered list of fields. Duplicated keys are kept (the field rules
//! decide what they mean); nothing is guessed from a wrong media type.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::error::FieldIssue;

/// The largest body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Fields in the order they were sent. Values are JSON values (form fields
/// are strings).
pub type RawFields = Vec<(String, Value)>;

/// Why a body cannot be read. The HTTP edge answers each with its status
/// (415, 413, 400, 422) in the contract's envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("{0}")]
    Malformed(String),
    /// Readable, but one part of it is not acceptable.
    #[error("{}: {}", .0.field, .0.issue)]
    Invalid(FieldIssue),
}

impl BodyError {
    /// The contract's error code for it.
    pub fn code(&self) -> &'static str {
        match self {
            BodyError::UnsupportedMediaType(_) => "unsupported_media_type",
            BodyError::TooLarge { .. } => "payload_too_large",
            BodyError::Malformed(_) => "malformed_body",
            BodyError::Invalid(_) => "validation_failed",
        }
    }
}

/// The body's format, from `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Form,
}

/// Reads `Content-Type`: JSON (`application/json`, `…+json`) or a form;
/// anything else is 415. Without a header the body is sniffed: `{` is JSON,
/// else a form (what `curl -d` sends).
pub fn format(content_type: Option<&str>, body: &[u8]) -> Result<Format, BodyError> {
    let Some(ct) = content_type else {
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        return Ok(if first == Some(&b'{') {
            Format::Json
        } else {
            Format::Form
        });
    };
    let mut parts = ct.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset_ok = parts.all(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        !k.trim().eq_ignore_ascii_case("charset")
            || matches!(
                v.trim().trim_matches('"').to_ascii_lowercase().as_str(),
                "utf-8" | "utf8" | "us-ascii"
            )
    });
    let format = match media.as_str() {
        "application/json" => Format::Json,
        m if m.starts_with("application/") && m.ends_with("+json") => Format::Json,
        "application/x-www-form-urlencoded" => Format::Form,
        _ => {
            return Err(BodyError::UnsupportedMediaType(format!(
                "send application/json or application/x-www-form-urlencoded, not {}",
                truncate(&media, 60)
            )));
        }
    };
    if !charset_ok {
        return Err(BodyError::UnsupportedMediaType(
            "only UTF-8 bodies are accepted".into(),
        ));
    }
    Ok(format)
}

/// Decodes a body of the given format (size already checked by the caller
/// through [`parse_body`]).
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<RawFields, BodyError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    match format(content_type, body)? {
        Format::Json => parse_json(body),
        Format::Form => parse_form(body),
    }
}

fn parse_json(body: &[u8]) -> Result<RawFields, BodyError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut de = serde_json::Deserializer::from_slice(body);
    let fields = match Fields::deserialize(&mut de).and_then(|f| de.end().map(|_| f)) {
        Ok(Fields(f)) => f,
        Err(e) if e.is_data() => {
            return Err(BodyError::Malformed(
                "the body must be a JSON object".into(),
            ));
        }
        Err(e) => {
            return Err(BodyError::Malformed(format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )));
        }
    };
    Ok(fields)
}

/// A JSON object read as ordered pairs, keeping duplicate keys.
struct Fields(RawFields);

impl<'de> de::Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

fn parse_form(body: &[u8]) -> Result<RawFields, BodyError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| BodyError::Malformed("the form is not valid UTF-8".into()))?;
    let mut out = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_component(k)?;
        let value = decode_component(v)?;
        out.push((key, Value::String(value)));
    }
    Ok(out)
}

fn decode_component(raw: &str) -> Result<String, BodyError> {
    let plus = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| BodyError::Malformed("a form field is not valid UTF-8 once decoded".into()))
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_object_keeps_order_and_duplicates() {
        let f = parse_body(
            Some("application/json; charset=utf-8"),
            br#"{"b":1,"a":"x","b":2}"#,
        )
        .unwrap();
        assert_eq!(
            f,
            vec![
                ("b".into(), json!(1)),
                ("a".into(), json!("x")),
                ("b".into(), json!(2))
            ]
        );
    }

    #[test]
    fn json_errors() {
        for body in [&b"[1,2]"[..], b"\"s\"", b"42", b"null"] {
            let e = parse_body(Some("application/json"), body).unwrap_err();
            assert_eq!(e.code(), "malformed_body", "{body:?}");
        }
        for body in [&b"{"[..], b"{\"a\":}", b"", b"{} x", b"\xff\xfe"] {
            let e = parse_body(Some("application/json"), body).unwrap_err();
            assert_eq!(e.code(), "malformed_body");
        }
    }

    #[test]
    fn form_decoding() {
        let f = parse_body(
            Some("application/x-www-form-urlencoded"),
            b"email=a%40b.co&name=Ann+Lee&tags=x&tags=y&flag",
        )
        .unwrap();
        assert_eq!(f[0], ("email".into(), json!("a@b.co")));
        assert_eq!(f[1], ("name".into(), json!("Ann Lee")));
        assert_eq!(f[4], ("flag".into(), json!("")));
        assert_eq!(
            parse_body(Some("application/x-www-form-urlencoded"), b"a=%ff")
                .unwrap_err()
                .code(),
            "malformed_body"
        );
    }

    #[test]
    fn media_types() {
        assert_eq!(
            parse_body(Some("text/plain"), b"{}").unwrap_err().code(),
            "unsupported_media_type"
        );
        assert_eq!(
            parse_body(Some("application/json; charset=latin1"), b"{}")
                .unwrap_err()
                .code(),
            "unsupported_media_type"
        );
        assert!(parse_body(Some("application/vnd.api+json"), b"{}").is_ok());
        assert!(parse_body(None, b" {\"a\":1}").is_ok());
        assert!(parse_body(None, b"a=1").is_ok());
    }

    #[test]
    fn size_limit() {
        let big = vec![b'a'; MAX_BODY_BYTES + 1];
        assert_eq!(
            parse_body(Some("application/json"), &big)
                .unwrap_err()
                .code(),
            "payload_too_large"
        );
    }
}
