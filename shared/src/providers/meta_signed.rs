//! Meta's `signed_request` (the data-deletion callback's form field):
//! `base64url(signature) "." base64url(payload)`, where the signature is
//! HMAC-SHA256 under the app secret of the *encoded* payload as sent, and
//! the payload is JSON `{"algorithm": "HMAC-SHA256", "expires",
//! "issued_at", "user_id"}` (`user_id`: the app-scoped id of the person).
//!
//! Base64url is read with or without `=` padding (samples of Meta's
//! requests pad the signature). The signature is compared in constant time
//! before anything of the payload is trusted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The longest `signed_request` read (Meta's are a few hundred bytes).
pub const MAX_SIGNED_REQUEST: usize = 8 * 1024;

/// A verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The app-scoped user id, as text (Meta sends it as a string).
    pub user_id: String,
    pub issued_at: Option<i64>,
    pub expires: Option<i64>,
}

/// Why a `signed_request` was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedError {
    /// Not the documented shape: answered 400.
    Malformed(String),
    /// Well formed, but not signed with the app secret: answered 401.
    BadSignature,
}

fn decode(part: &str, what: &str) -> Result<Vec<u8>, SignedError> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| SignedError::Malformed(format!("the {what} is not base64url")))
}

/// Splits and decodes `text` without checking the signature: the
/// signature's bytes, the encoded payload (what was signed) and the
/// payload's JSON.
fn split(text: &str) -> Result<(Vec<u8>, &str, Value), SignedError> {
    if text.is_empty() || text.len() > MAX_SIGNED_REQUEST {
        return Err(SignedError::Malformed(format!(
            "signed_request must be 1 to {MAX_SIGNED_REQUEST} characters"
        )));
    }
    let Some((sig, payload)) = text.split_once('.') else {
        return Err(SignedError::Malformed(
            "signed_request must be a signature and a payload joined by '.'".into(),
        ));
    };
    if sig.is_empty() || payload.is_empty() || payload.contains('.') {
        return Err(SignedError::Malformed(
            "signed_request must be a signature and a payload joined by '.'".into(),
        ));
    }
    let sig = decode(sig, "signature")?;
    let json = decode(payload, "payload")?;
    let value: Value = serde_json::from_slice(&json)
        .map_err(|_| SignedError::Malformed("the payload is not JSON".into()))?;
    if !value.is_object() {
        return Err(SignedError::Malformed(
            "the payload must be a JSON object".into(),
        ));
    }
    Ok((sig, payload, value))
}

/// Verifies `text` with the app secret and reads it.
pub fn parse(app_secret: &str, text: &str) -> Result<SignedRequest, SignedError> {
    let (sig, payload, value) = split(text.trim())?;
    let algorithm = value["algorithm"].as_str().unwrap_or_default();
    if !algorithm.eq_ignore_ascii_case("HMAC-SHA256") {
        return Err(SignedError::Malformed(
            "the payload's algorithm must be HMAC-SHA256".into(),
        ));
    }
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else {
        return Err(SignedError::BadSignature);
    };
    mac.update(payload.as_bytes());
    // Constant time.
    if mac.verify_slice(&sig).is_err() {
        return Err(SignedError::BadSignature);
    }
    let user_id = crate::providers::id_text(value.get("user_id"))
        .ok_or_else(|| SignedError::Malformed("the payload has no user_id".into()))?;
    Ok(SignedRequest {
        user_id,
        issued_at: value["issued_at"].as_i64(),
        expires: value["expires"].as_i64(),
    })
}

/// Signs `payload` (JSON text) as Meta does (tests and samples).
pub fn sign(app_secret: &str, payload: &str) -> String {
    let encoded = URL_SAFE_NO_PAD.encode(payload.as_bytes());
    let sig = crate::providers::hmac_sha256(app_secret.as_bytes(), &[encoded.as_bytes()]);
    format!("{}.{encoded}", URL_SAFE_NO_PAD.encode(sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PAYLOAD: &str = r#"{"algorithm":"HMAC-SHA256","expires":1291840400,"issued_at":1291836800,"user_id":"218471"}"#;

    #[test]
    fn a_signed_request_is_read() {
        let signed = sign("s3cret", PAYLOAD);
        assert_eq!(
            parse("s3cret", &signed),
            Ok(SignedRequest {
                user_id: "218471".into(),
                issued_at: Some(1_291_836_800),
                expires: Some(1_291_840_400),
            })
        );
        // Padding on the signature, as some of Meta's samples show.
        let (sig, payload) = signed.split_once('.').unwrap();
        assert!(parse("s3cret", &format!("{sig}=.{payload}")).is_ok());
    }

    #[test]
    fn a_wrong_secret_or_a_changed_payload_is_a_bad_signature() {
        let signed = sign("s3cret", PAYLOAD);
        assert_eq!(parse("other", &signed), Err(SignedError::BadSignature));
        let (sig, _) = signed.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(PAYLOAD.replace("218471", "1").as_bytes());
        assert_eq!(
            parse("s3cret", &format!("{sig}.{forged}")),
            Err(SignedError::BadSignature)
        );
    }

    #[test]
    fn malformed_requests_are_named() {
        for bad in [
            "",
            "nodot",
            ".x",
            "x.",
            "a.b.c",
            "!!!.eyJ9",
            "YQ.%%%",
            "YQ.bm90IGpzb24",
        ] {
            assert!(
                matches!(parse("s", bad), Err(SignedError::Malformed(_))),
                "{bad}"
            );
        }
        let other_algo = sign("s", r#"{"algorithm":"HMAC-SHA1","user_id":"1"}"#);
        assert!(matches!(
            parse("s", &other_algo),
            Err(SignedError::Malformed(_))
        ));
        let no_user = sign("s", r#"{"algorithm":"HMAC-SHA256"}"#);
        assert!(matches!(
            parse("s", &no_user),
            Err(SignedError::Malformed(_))
        ));
        let too_long = "a".repeat(MAX_SIGNED_REQUEST + 1);
        assert!(matches!(
            parse("s", &too_long),
            Err(SignedError::Malformed(_))
        ));
    }

    proptest! {
        /// Whatever arrives, the parser answers (no panic), and only a
        /// request signed with the secret is ever accepted.
        #[test]
        fn never_panics_and_never_accepts_unsigned(text in ".{0,300}") {
            prop_assert!(parse("s3cret", &text).is_err());
        }

        /// Any user id signed with the secret is read back exactly; the
        /// same request under another secret is refused.
        #[test]
        fn signed_user_ids_round_trip(user in "[0-9]{1,20}", issued in 0i64..4_000_000_000) {
            let payload = serde_json::json!({"algorithm": "HMAC-SHA256", "issued_at": issued, "user_id": user}).to_string();
            let signed = sign("s3cret", &payload);
            let read = parse("s3cret", &signed).unwrap();
            prop_assert_eq!(read.user_id, user);
            prop_assert_eq!(read.issued_at, Some(issued));
            prop_assert_eq!(parse("other", &signed), Err(SignedError::BadSignature));
        }
    }
}
