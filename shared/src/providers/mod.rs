//! The systems leads come from besides Leadpipe's own hook.
//!
//! A webhook key is a *source*: its `provider` decides how a request to its
//! hook URL (`/v1/hooks/{keyId}`) is authenticated and read. `webhook` is
//! Leadpipe's own format (token in a header, [`crate::ingest::hook`]);
//! `form` is a plain HTML form ([`form`], no token); every other provider
//! posts its own documented body, and has one file here implementing
//! [`Adapter`]: authenticate on the raw bytes (constant time), read the body
//! into the same fields the field rules read, and name the provider's own
//! lead id (de-duplication) and metadata (form, campaign, ad ids).
//!
//! Meta Lead Ads ([`meta`]) is app-level, not per key.

pub mod form;
pub mod google_ads;
pub mod jotform;
pub mod linkedin;
pub mod meta;
pub mod meta_health;
pub mod meta_signed;
pub mod multipart;
pub mod tally;
pub mod typeform;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;

use crate::rules::inbound::{BodyError, RawFields};

/// The largest body a provider adapter reads (Typeform sends the form's
/// definition with every answer; Jotform a multipart body).
pub const MAX_PROVIDER_BODY_BYTES: usize = 256 * 1024;

/// What kind of source a key is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Leadpipe's own JSON or form post with the token in a header.
    #[default]
    Webhook,
    /// A plain HTML `<form action=…>`: no token, allowed origins required.
    Form,
    GoogleAds,
    Typeform,
    Tally,
    Jotform,
    /// LinkedIn Lead Sync: a challenge, signed notifications, the lead
    /// fetched from LinkedIn's API ([`linkedin`], [`crate::ingest::linkedin`]).
    Linkedin,
}

impl Provider {
    pub const ALL: [Provider; 7] = [
        Provider::Webhook,
        Provider::Form,
        Provider::GoogleAds,
        Provider::Typeform,
        Provider::Tally,
        Provider::Jotform,
        Provider::Linkedin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Webhook => "webhook",
            Provider::Form => "form",
            Provider::GoogleAds => "google_ads",
            Provider::Typeform => "typeform",
            Provider::Tally => "tally",
            Provider::Jotform => "jotform",
            Provider::Linkedin => "linkedin",
        }
    }

    /// A provider by its contract name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// The adapter of a provider that posts its own format.
    pub fn adapter(self) -> Option<&'static dyn Adapter> {
        match self {
            Provider::Webhook | Provider::Form | Provider::Linkedin => None,
            Provider::GoogleAds => Some(&google_ads::GoogleAds),
            Provider::Typeform => Some(&typeform::Typeform),
            Provider::Tally => Some(&tally::Tally),
            Provider::Jotform => Some(&jotform::Jotform),
        }
    }
}

/// A request as an adapter sees it to authenticate it.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    pub headers: &'a HeaderMap,
    pub query: &'a [(String, String)],
    pub body: &'a [u8],
}

/// One provider that posts its own format.
pub trait Adapter: Sync {
    /// True when the request carries `secret` (the key's `providerSecret`,
    /// else its token) as the provider documents it; constant time.
    fn authentic(&self, secret: &str, req: &Presented<'_>) -> bool;

    /// Reads the documented body into fields for the field rules, and the
    /// provider's metadata.
    fn parse(&self, content_type: Option<&str>, body: &[u8]) -> Result<Submission, BodyError>;

    /// The status of an accepted request (Google Ads expects 200).
    fn accepted_status(&self) -> u16 {
        202
    }
}

/// A provider's submission: fields for the field rules and what the
/// provider says about the lead.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub fields: RawFields,
    pub meta: ProviderMeta,
}

/// What a provider says about a lead, kept on its event (`provider` in the
/// event view). Ids are strings: int64 ids lose digits as JSON numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderMeta {
    /// `google_ads`, `typeform`, `tally`, `jotform`, `form`, `meta`.
    pub name: String,
    /// The provider's own id of the lead (de-duplication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_id: Option<String>,
    /// Google's click id (`gcl_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub click_id: Option<String>,
    /// The provider marked it a test lead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

impl ProviderMeta {
    pub fn new(name: &str) -> Self {
        ProviderMeta {
            name: name.to_owned(),
            ..Self::default()
        }
    }
}

/// The longest id kept (anything longer is not an id any provider sends).
const MAX_ID_CHARS: usize = 200;

/// An id as text, exactly: strings as sent, integers digit for digit;
/// anything else (or blank, or too long) is no id.
pub fn id_text(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => return None,
    };
    (!text.is_empty()
        && text.chars().count() <= MAX_ID_CHARS
        && !text.chars().any(char::is_control))
    .then_some(text)
}

/// A JSON body, as an object.
pub fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, BodyError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(BodyError::Malformed(
            "the body must be a JSON object".into(),
        )),
        Err(e) => Err(BodyError::Malformed(format!(
            "the body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))),
    }
}

/// HMAC-SHA256 of `parts` (concatenated) under `secret`.
pub fn hmac_sha256(secret: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length; this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// True when `presented` is the standard base64 of HMAC-SHA256(secret,
/// body); constant time.
pub fn base64_hmac_valid(secret: &str, body: &[u8], presented: &str) -> bool {
    let Ok(sig) = STANDARD.decode(presented.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// `base64(HMAC-SHA256(secret, body))` (tests and samples sign with it).
pub fn base64_hmac(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(hmac_sha256(secret.as_bytes(), &[body]))
}

/// The media type of a `Content-Type`, lower-cased, without parameters.
pub fn media_type(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn providers_round_trip_their_names() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), json!(p.as_str()));
        }
        assert_eq!(Provider::parse("Google_Ads"), None);
        assert_eq!(Provider::default(), Provider::Webhook);
    }

    #[test]
    fn ids_stay_exact() {
        assert_eq!(
            id_text(Some(&json!(9_007_199_254_740_993_u64))).as_deref(),
            Some("9007199254740993")
        );
        assert_eq!(id_text(Some(&json!(" 12 "))).as_deref(), Some("12"));
        assert_eq!(id_text(Some(&json!(1.5))), None);
        assert_eq!(id_text(Some(&json!(""))), None);
        assert_eq!(id_text(Some(&json!("a\u{0}b"))), None);
        assert_eq!(id_text(None), None);
    }

    #[test]
    fn base64_hmac_checks() {
        let sig = base64_hmac("s", "héllo\n".as_bytes());
        assert!(base64_hmac_valid("s", "héllo\n".as_bytes(), &sig));
        assert!(!base64_hmac_valid("t", "héllo\n".as_bytes(), &sig));
        assert!(!base64_hmac_valid("s", "héllo".as_bytes(), &sig));
        assert!(!base64_hmac_valid("s", b"x", "not base64!"));
    }
}
