//! Randomness, constant-time comparison and the AES-256-GCM envelope under
//! which every stored secret (key tokens, subscription secrets, custom header
//! values) sits in DynamoDB.
//!
//! Ciphertext format: `v1.` + base64url(nonce ‖ ciphertext ‖ tag). The item's
//! identity is bound as associated data, so a ciphertext copied onto another
//! item does not decrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use subtle::ConstantTimeEq;

const VERSION: &str = "v1.";
const NONCE_LEN: usize = 12;

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill_random(buf: &mut [u8]) {
    // getrandom only fails when the OS has no entropy source at all; there
    // is nothing sensible to do then but stop.
    #[allow(clippy::expect_used)]
    getrandom::fill(buf).expect("the operating system's random source failed");
}

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    fill_random(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Compares two secrets in constant time (in the length of the shorter; the
/// lengths themselves are not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Why a stored secret could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the data key must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext does not authenticate under this data key")]
    Forged,
}

/// The deployment's 32-byte data key.
#[derive(Clone)]
pub struct DataKey(Aes256Gcm);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(…)")
    }
}

impl DataKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != 32 {
            return Err(CryptoError::BadKey);
        }
        Aes256Gcm::new_from_slice(bytes)
            .map(DataKey)
            .map_err(|_| CryptoError::BadKey)
    }

    /// Decodes a key written as standard base64 (what `openssl rand -base64
    /// 32` prints), also accepting base64url.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let bytes = STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| CryptoError::BadKey)?;
        Self::from_bytes(&bytes)
    }

    /// Encrypts `plaintext`, bound to `context` (for example `key#key_01…#token`).
    pub fn seal(&self, context: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption with a valid key and a 12-byte nonce cannot fail.
        #[allow(clippy::expect_used)]
        let ct = self
            .0
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("AES-GCM encryption");
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Decrypts what [`DataKey::seal`] produced under the same `context`.
    pub fn open(&self, context: &str, sealed: &str) -> Result<String, CryptoError> {
        let body = sealed.strip_prefix(VERSION).ok_or(CryptoError::Malformed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| CryptoError::Malformed)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ct,
            aad: context.as_bytes(),
        };
        let plain = self
            .0
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| CryptoError::Forged)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Malformed)
    }
}

/// A fresh random 32-byte data key, base64 (for bootstrapping a deployment).
pub fn generate_data_key() -> String {
    let mut key = [0u8; 32];
    fill_random(&mut key);
    STANDARD.encode(key)
}

/// Lower-case hex of `bytes`.
pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> DataKey {
        DataKey::from_bytes(&[7u8; 32]).unwrap()
    }

    #[test]
    fn seal_open_round_trip() {
        let k = key();
        let sealed = k.seal("key#a#token", "wh_live_secret");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("wh_live_secret"));
        assert_eq!(k.open("key#a#token", &sealed).unwrap(), "wh_live_secret");
    }

    #[test]
    fn context_is_bound() {
        let k = key();
        let sealed = k.seal("key#a#token", "x");
        assert_eq!(k.open("key#b#token", &sealed), Err(CryptoError::Forged));
    }

    #[test]
    fn tampering_and_garbage_are_refused() {
        let k = key();
        let mut sealed = k.seal("c", "hello").into_bytes();
        let last = sealed.len() - 2;
        sealed[last] = if sealed[last] == b'A' { b'B' } else { b'A' };
        let sealed = String::from_utf8(sealed).unwrap();
        assert!(k.open("c", &sealed).is_err());
        assert_eq!(k.open("c", "nope"), Err(CryptoError::Malformed));
        assert_eq!(k.open("c", "v1.AAAA"), Err(CryptoError::Malformed));
    }

    #[test]
    fn other_key_cannot_open() {
        let sealed = key().seal("c", "hello");
        let other = DataKey::from_bytes(&[8u8; 32]).unwrap();
        assert_eq!(other.open("c", &sealed), Err(CryptoError::Forged));
    }

    #[test]
    fn data_key_decoding() {
        let text = generate_data_key();
        assert!(DataKey::from_base64(&text).is_ok());
        assert_eq!(
            DataKey::from_base64("c2hvcnQ=").unwrap_err(),
            CryptoError::BadKey
        );
    }

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
