//! Masking of secrets in a submission before it is shown (the console's
//! event page): a value whose field name says it is a credential — a
//! token, a key (`google_key`, `api_key`), a secret, a password, a
//! signature — is replaced, at any depth, and so is any string that looks
//! like one of Leadpipe's own credentials whatever its field is called.

use serde_json::Value;

/// What a masked value is shown as.
pub const MASK: &str = "••••••";

/// Leadpipe's own credential prefixes (webhook tokens, signing secrets,
/// admin and workspace tokens).
const OWN_PREFIXES: [&str; 4] = ["wh_live_", "whsec_", "adm_", "lpt_"];

/// Whether a field of this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let n: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    // Ids of keys and tokens are not secrets: `keyId`, `token_id`.
    if n.ends_with("id") || n.ends_with("ids") {
        return false;
    }
    const WORDS: [&str; 8] = [
        "token",
        "secret",
        "password",
        "passwd",
        "signature",
        "authorization",
        "cookie",
        "credential",
    ];
    WORDS.iter().any(|w| n.contains(w)) || n.ends_with("key") || n.ends_with("keys")
}

/// Whether a string is one of Leadpipe's own credentials.
pub fn looks_like_credential(text: &str) -> bool {
    OWN_PREFIXES.iter().any(|p| text.starts_with(p))
}

/// `value` with every secret masked; returns how many were.
pub fn mask(value: &mut Value) -> usize {
    match value {
        Value::Object(map) => {
            let mut n = 0;
            for (k, v) in map.iter_mut() {
                if is_secret_name(k) && !v.is_null() {
                    *v = Value::String(MASK.into());
                    n += 1;
                } else {
                    n += mask(v);
                }
            }
            n
        }
        Value::Array(items) => items.iter_mut().map(mask).sum(),
        Value::String(s) if looks_like_credential(s) => {
            *s = MASK.into();
            1
        }
        _ => 0,
    }
}

/// Header pairs with the secret ones masked (`X-Webhook-Token`,
/// `Webhook-Signature`, `Authorization`, `X-Hub-Signature-256`…).
pub fn mask_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            if is_secret_name(k) || looks_like_credential(v) {
                (k.clone(), MASK.to_owned())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credential_names_are_secret() {
        for n in [
            "google_key",
            "api_key",
            "apiKey",
            "X-Webhook-Token",
            "webhook-signature",
            "X-Hub-Signature-256",
            "Authorization",
            "client_secret",
            "password",
            "access_token",
            "Cookie",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "email", "keyId", "key_id", "token_id", "phone", "form_id", "company",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn secrets_are_masked_at_any_depth() {
        let mut v = json!({
            "email": "a@b.c",
            "google_key": "wh_real_secret",
            "keyId": "key_1",
            "customFields": {
                "note": "hello",
                "api_key": "sk_123",
                "pasted": "wh_live_abcdef",
                "list": [{"token": "t"}, "lpt_xyz", 3]
            },
            "signature": null
        });
        let n = mask(&mut v);
        assert_eq!(n, 5);
        assert_eq!(v["email"], "a@b.c");
        assert_eq!(v["keyId"], "key_1");
        assert_eq!(v["google_key"], MASK);
        assert_eq!(v["customFields"]["api_key"], MASK);
        assert_eq!(v["customFields"]["pasted"], MASK);
        assert_eq!(v["customFields"]["list"][0]["token"], MASK);
        assert_eq!(v["customFields"]["list"][1], MASK);
        assert_eq!(v["customFields"]["list"][2], 3);
        assert_eq!(v["customFields"]["note"], "hello");
        assert!(v["signature"].is_null(), "nothing to hide in a null");
        assert!(!v.to_string().contains("wh_real_secret"));
    }

    #[test]
    fn headers_are_masked_by_name_and_by_value() {
        let h = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-webhook-token".to_owned(), "wh_live_1".to_owned()),
            ("webhook-signature".to_owned(), "v1,abc".to_owned()),
            ("x-forwarded-for".to_owned(), "203.0.113.9".to_owned()),
            ("x-custom".to_owned(), "whsec_zzz".to_owned()),
        ];
        let m = mask_headers(&h);
        assert_eq!(m[0].1, "application/json");
        assert_eq!(m[1].1, MASK);
        assert_eq!(m[2].1, MASK);
        assert_eq!(m[3].1, "203.0.113.9");
        assert_eq!(m[4].1, MASK);
    }
}
