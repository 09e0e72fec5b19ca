//! The request a `delivery.exhausted` event shows: where it went, with
//! what headers and the start of the body — every secret left out. An
//! alert that names no lead and no request cannot be acted on
//! (outpost#403); one that leaks the receiver's token is worse.

use serde_json::{Value, json};
use url::Url;

use crate::model::event_type::EventType;
use crate::model::subscriptions::{StoredAuth, Subscription};

/// How much of the body the snapshot keeps.
pub const BODY_EXCERPT_CHARS: usize = 1024;

/// A path segment this long is taken for a token and masked.
const SECRET_SEGMENT_CHARS: usize = 16;

/// The headers Leadpipe sends whose values say nothing secret.
const PLAIN_HEADERS: [&str; 4] = [
    "content-type",
    "x-leadpipe-event",
    "x-leadpipe-source",
    "webhook-id",
];

/// `url` without what may be secret: no user or password, no query or
/// fragment (only that there was one), and every long path segment (a
/// Slack or Zapier hook's token) masked but for its first 4 characters.
pub fn redact_url(url: &str) -> String {
    let Ok(parsed) = Url::parse(url) else {
        return "(unreadable URL)".to_owned();
    };
    let origin = crate::http::outbound::origin(&parsed);
    let path: Vec<String> = parsed
        .path()
        .split('/')
        .map(|seg| {
            if seg.chars().count() >= SECRET_SEGMENT_CHARS {
                format!("{}…", seg.chars().take(4).collect::<String>())
            } else {
                seg.to_owned()
            }
        })
        .collect();
    let mut out = format!("{origin}{}", path.join("/"));
    if parsed.query().is_some() {
        out.push_str("?…");
    }
    out
}

/// The snapshot of what an attempt of `kind` to `sub` sent: method, URL,
/// header names (values of the secret ones masked) and a body excerpt.
pub fn request(sub: &Subscription, kind: EventType, body: &str) -> Value {
    let mut headers = serde_json::Map::new();
    let native = sub.kind.is_some();
    if !native {
        for name in PLAIN_HEADERS {
            let value = match name {
                "content-type" => "application/json".to_owned(),
                "x-leadpipe-event" => kind.as_str().to_owned(),
                _ => "(as sent)".to_owned(),
            };
            headers.insert(name.to_owned(), json!(value));
        }
        for name in [
            "webhook-signature",
            "webhook-timestamp",
            "x-leadpipe-signature",
        ] {
            headers.insert(name.to_owned(), json!("********"));
        }
        for h in &sub.headers {
            headers.insert(h.name.to_ascii_lowercase(), json!("********"));
        }
        match &sub.auth {
            Some(StoredAuth::Bearer { .. }) => {
                headers.insert("authorization".to_owned(), json!("Bearer ********"));
            }
            Some(StoredAuth::Header { name, .. }) => {
                headers.insert(name.to_ascii_lowercase(), json!("********"));
            }
            None => {}
        }
    }
    let excerpt: String = body.chars().take(BODY_EXCERPT_CHARS).collect();
    json!({
        "method": "POST",
        "url": redact_url(&sub.url),
        "headers": headers,
        "bodyExcerpt": excerpt,
        "bodyTruncated": body.chars().count() > BODY_EXCERPT_CHARS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_in_a_url_are_masked() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"),
            "https://hooks.slack.com/services/T0000/B0000/XXXX…"
        );
        assert_eq!(
            redact_url("https://user:pw@crm.example.com:8443/in?token=s3cret#x"),
            "https://crm.example.com:8443/in?…"
        );
        assert_eq!(redact_url("not a url"), "(unreadable URL)");
    }

    proptest::proptest! {
        #[test]
        fn no_query_or_long_segment_survives(secret in "[A-Za-z0-9]{16,40}") {
            let shown = redact_url(&format!("https://x.example/a/{secret}/b?k={secret}"));
            proptest::prop_assert!(!shown.contains(&secret));
        }
    }
}
