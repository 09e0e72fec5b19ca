//! Signatures on outbound webhooks.
//!
//! * Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256(key,
//!   "{webhook-id}.{webhook-timestamp}.{body}")>`, several space-separated
//!   during a secret rotation (newest first).
//! * `X-Leadpipe-Signature: sha256=<hex HMAC-SHA256(key, body)>` for
//!   receivers that verify the body alone.
//!
//! `key` is the base64-decoded part of the secret after `whsec_`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SECRET_PREFIX: &str = "whsec_";

/// A signing secret, decoded.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

/// Why a secret is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadSecret {
    #[error("must start with whsec_")]
    Prefix,
    #[error("must be whsec_ followed by base64 of 24 to 64 bytes")]
    Encoding,
}

impl SigningKey {
    /// Parses `whsec_<base64>`.
    pub fn parse(secret: &str) -> Result<Self, BadSecret> {
        let b64 = secret
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .ok_or(BadSecret::Prefix)?;
        let bytes = STANDARD.decode(b64).map_err(|_| BadSecret::Encoding)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(BadSecret::Encoding);
        }
        Ok(SigningKey(bytes))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    /// `v1,<base64>` over `{id}.{timestamp}.{body}`.
    pub fn standard_signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// `sha256=<hex>` over the body.
    pub fn body_signature(&self, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(body);
        format!(
            "sha256={}",
            crate::rules::crypto::encode_hex(&mac.finalize().into_bytes())
        )
    }
}

/// A fresh secret: `whsec_` and base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    crate::rules::crypto::fill_random(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The signature headers for one attempt: `webhook-signature` (one entry per
/// key, newest first) and `X-Leadpipe-Signature` (newest key).
pub fn sign(keys: &[SigningKey], id: &str, timestamp: i64, body: &[u8]) -> (String, String) {
    let standard = keys
        .iter()
        .map(|k| k.standard_signature(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ");
    let body_sig = keys
        .first()
        .map(|k| k.body_signature(body))
        .unwrap_or_default();
    (standard, body_sig)
}

/// Verifies a `webhook-signature` header the way a receiver would (any
/// listed signature may match), in constant time. Used by the tests and by
/// `POST /v1/subscriptions/{id}/test` users who want to check their code.
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Ok(key) = SigningKey::parse(secret) else {
        return false;
    };
    let expected = key.standard_signature(id, timestamp, body);
    header
        .split(' ')
        .any(|sig| crate::rules::crypto::constant_time_eq(sig.as_bytes(), expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector published with the Standard Webhooks specification.
    #[test]
    fn standard_webhooks_test_vector() {
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let sig = key.standard_signature(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_sends_both_newest_first() {
        let (new, old) = (new_secret(), new_secret());
        let keys = [
            SigningKey::parse(&new).unwrap(),
            SigningKey::parse(&old).unwrap(),
        ];
        let (header, body_sig) = sign(&keys, "dlv_1", 1700000000, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(verify(&new, "dlv_1", 1700000000, b"{}", parts[0]));
        assert!(verify(&old, "dlv_1", 1700000000, b"{}", parts[1]));
        assert!(body_sig.starts_with("sha256=") && body_sig.len() == 7 + 64);
        assert!(!verify(&new, "dlv_1", 1700000001, b"{}", &header));
    }

    #[test]
    fn bad_secrets() {
        assert_eq!(SigningKey::parse("abc").unwrap_err(), BadSecret::Prefix);
        assert_eq!(
            SigningKey::parse("whsec_!!!").unwrap_err(),
            BadSecret::Encoding
        );
        assert_eq!(
            SigningKey::parse("whsec_c2hvcnQ=").unwrap_err(),
            BadSecret::Encoding
        );
        assert!(SigningKey::parse(&new_secret()).is_ok());
    }
}
