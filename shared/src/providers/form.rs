//! `form`: a plain HTML `<form action="{hook}" method="post">` on a static
//! page: no token, no JavaScript. A browser cannot set a header, so such a
//! key is authenticated by its allowed origins (required), its honeypot and
//! optionally Cloudflare Turnstile (the `cf-turnstile-response` field,
//! verified server-side, see [`crate::ingest::form`]).
//!
//! This file reads the body: `application/x-www-form-urlencoded` or
//! `multipart/form-data` (what a browser sends; JSON too, for a script),
//! and takes out the control fields that are not lead data: `_redirect`
//! and `cf-turnstile-response`.

use serde_json::Value;

use super::{media_type, multipart};
use crate::rules::inbound::{BodyError, RawFields, body};

/// The Turnstile widget's field.
pub const TURNSTILE_FIELD: &str = "cf-turnstile-response";
/// Where the visitor goes next, when on the key's allowed domains.
pub const REDIRECT_FIELD: &str = "_redirect";

/// A browser form's submission.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FormPost {
    /// The lead's fields (control fields taken out).
    pub fields: RawFields,
    pub redirect: Option<String>,
    pub turnstile: Option<String>,
}

/// Reads a form post.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<FormPost, BodyError> {
    if body.len() > body::MAX_BODY_BYTES {
        return Err(BodyError::TooLarge {
            limit: body::MAX_BODY_BYTES,
        });
    }
    let all = match media_type(content_type).as_str() {
        "multipart/form-data" => multipart::parse(content_type.unwrap_or(""), body)?,
        _ => body::parse_body(content_type, body)?,
    };
    let mut post = FormPost::default();
    for (name, value) in all {
        let text = || value.as_str().map(|s| s.trim().to_owned());
        match name.as_str() {
            REDIRECT_FIELD => post.redirect = text().filter(|s| !s.is_empty()),
            TURNSTILE_FIELD => post.turnstile = text().filter(|s| !s.is_empty()),
            // Any other `_`-field is the form's own plumbing.
            n if n.starts_with('_') => {}
            _ => post.fields.push((name, value)),
        }
    }
    Ok(post)
}

/// True when the client asked for JSON (a script), not a page.
pub fn wants_json(accept: Option<&str>, content_type: Option<&str>) -> bool {
    let accept = accept.unwrap_or("").to_ascii_lowercase();
    let html = accept.contains("text/html");
    !html && (accept.contains("application/json") || media_type(content_type).ends_with("json"))
}

/// The turnstile answer's `success`, from siteverify's JSON.
pub fn siteverify_success(answer: &[u8]) -> bool {
    serde_json::from_slice::<Value>(answer)
        .ok()
        .and_then(|v| v.get("success").and_then(Value::as_bool))
        == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn control_fields_are_taken_out() {
        let p = parse(
            Some("application/x-www-form-urlencoded"),
            b"email=zo%C3%AB%40example.com&_redirect=https%3A%2F%2Fwww.example.com%2Fthanks&cf-turnstile-response=tok&_gotcha=&name=Zo%C3%AB",
        )
        .unwrap();
        assert_eq!(
            p.fields,
            vec![
                ("email".into(), json!("zoë@example.com")),
                ("name".into(), json!("Zoë"))
            ]
        );
        assert_eq!(
            p.redirect.as_deref(),
            Some("https://www.example.com/thanks")
        );
        assert_eq!(p.turnstile.as_deref(), Some("tok"));
    }

    #[test]
    fn multipart_posts_read() {
        let body =
            "--b\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.co\r\n--b--\r\n";
        let p = parse(Some("multipart/form-data; boundary=b"), body.as_bytes()).unwrap();
        assert_eq!(p.fields, vec![("email".into(), json!("a@b.co"))]);
    }

    #[test]
    fn json_or_a_page() {
        assert!(!wants_json(
            Some("text/html,application/xhtml+xml,*/*;q=0.8"),
            Some("application/x-www-form-urlencoded")
        ));
        assert!(!wants_json(None, Some("application/x-www-form-urlencoded")));
        assert!(wants_json(
            Some("application/json"),
            Some("application/x-www-form-urlencoded")
        ));
        assert!(wants_json(None, Some("application/json")));
    }

    #[test]
    fn siteverify_answers() {
        assert!(siteverify_success(
            br#"{"success": true, "error-codes": []}"#
        ));
        assert!(!siteverify_success(
            br#"{"success": false, "error-codes": ["invalid-input-response"]}"#
        ));
        assert!(!siteverify_success(b"<html>"));
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(Some("application/x-www-form-urlencoded"), &body);
            let _ = parse(Some("multipart/form-data; boundary=b"), &body);
            let _ = siteverify_success(&body);
        }
    }
}
