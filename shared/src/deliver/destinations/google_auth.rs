//! Google service-account auth for Sheets: an RS256-signed JWT (RFC 7523's
//! JWT bearer grant, as Google's "OAuth 2.0 for Server to Server
//! Applications" describes) exchanged at the token endpoint
//! (`LEADPIPE_GOOGLE_OAUTH_URL`, default `https://oauth2.googleapis.com/token`)
//! for an access token, cached in the container until a minute before it
//! expires. The key file's own `token_uri` is not used: the endpoint is
//! the deployment's, so a pasted key cannot send Leadpipe elsewhere.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

use super::call::{Answer, Log};
use crate::rules::clock;

/// The scope Leadpipe asks for: read and write spreadsheets.
pub const SCOPE: &str = "https://www.googleapis.com/auth/spreadsheets";
/// A token is used until this long before it expires.
const MARGIN_S: i64 = 60;

/// A service account's key, parsed.
pub struct ServiceAccount {
    pub client_email: String,
    key: RsaKeyPair,
}

/// Reads the service-account JSON (an object, or that object as text).
pub fn parse(v: &Value) -> Result<ServiceAccount, String> {
    let owned;
    let v = match v {
        Value::String(text) => {
            owned = serde_json::from_str::<Value>(text)
                .map_err(|_| "is not the service account's JSON key file".to_owned())?;
            &owned
        }
        other => other,
    };
    if v["type"].as_str() != Some("service_account") {
        return Err(
            "is not a service account key (its \"type\" is not \"service_account\")".into(),
        );
    }
    let email = v["client_email"]
        .as_str()
        .filter(|e| e.contains('@') && e.len() <= 320 && !e.chars().any(char::is_control))
        .ok_or("has no client_email")?;
    let pem = v["private_key"].as_str().ok_or("has no private_key")?;
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|_| "has a private_key that is not PEM")?;
    let key = RsaKeyPair::from_pkcs8(&der)
        .map_err(|_| "has a private_key that is not an RSA key in PKCS #8")?;
    Ok(ServiceAccount {
        client_email: email.to_owned(),
        key,
    })
}

impl ServiceAccount {
    /// The signed assertion for `audience` (the token endpoint), valid for
    /// an hour from `now_s`.
    pub fn assertion(&self, audience: &str, now_s: i64) -> Result<String, String> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = json!({"iss": self.client_email, "scope": SCOPE, "aud": audience,
                            "iat": now_s, "exp": now_s + 3600});
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string().as_bytes());
        let signing_input = format!("{header}.{claims}");
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "the key could not sign".to_owned())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// Tokens by (endpoint, client email): (token, expiry in Unix seconds).
fn cache() -> &'static Mutex<HashMap<String, (String, i64)>> {
    static CACHE: OnceLock<Mutex<HashMap<String, (String, i64)>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cache_key(endpoint: &str, email: &str) -> String {
    format!("{endpoint}|{email}")
}

/// Forgets a token the API refused (expired or revoked early).
pub fn forget(endpoint: &str, email: &str) {
    if let Ok(mut c) = cache().lock() {
        c.remove(&cache_key(endpoint, email));
    }
}

/// An access token: the cached one, or a new one from `endpoint`.
pub async fn token(
    client: &reqwest::Client,
    endpoint: &str,
    account: &ServiceAccount,
    log: &mut Log,
) -> Result<String, Answer> {
    let now = clock::now_s();
    let key = cache_key(endpoint, &account.client_email);
    if let Some((token, until)) = cache().lock().ok().and_then(|c| c.get(&key).cloned())
        && now < until - MARGIN_S
    {
        return Ok(token);
    }
    let assertion = account.assertion(endpoint, now).map_err(|e| Answer {
        status: None,
        body: String::new(),
        retry_after: None,
        error: Some(e),
    })?;
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
        .append_pair("assertion", &assertion)
        .finish();
    let req = client
        .post(endpoint)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form);
    let answer = log.call_redacted("POST token endpoint", req).await;
    let body = answer.json();
    match (answer.ok(), body["access_token"].as_str()) {
        (true, Some(token)) => {
            let expires_in = body["expires_in"].as_i64().unwrap_or(3600).clamp(0, 86_400);
            if let Ok(mut c) = cache().lock() {
                c.insert(key, (token.to_owned(), now + expires_in));
            }
            Ok(token.to_owned())
        }
        _ => Err(answer),
    }
}
