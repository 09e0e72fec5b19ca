//! The deployment's secrets, in two Secrets Manager secrets so that each
//! function can read only what it uses (least privilege, see
//! [`crate::aws::permissions`]):
//!
//! * the **deployment secret** (`LEADPIPE_SECRET_ID`), read by every
//!   function: the data key and the Meta secrets;
//!
//!   ```json
//!   {"dataKey": "<base64 of 32 bytes>",
//!    "metaAppSecret": "…", "metaVerifyToken": "…", "metaPageToken": "…"}
//!   ```
//!
//! * the **admin secret** (`LEADPIPE_ADMIN_SECRET_ID`), read by `admin`
//!   alone: `{"adminToken": "…"}`. A leak of `ingest` or `meta-verify`
//!   (the functions the internet reaches without a credential) cannot reveal
//!   the admin token.
//!
//! Each is read once per cold start and cached for a short TTL (rotation
//! takes effect within it). Single-flight: concurrent requests on a cold
//! container wait for one fetch instead of each making their own. When a
//! refresh fails, the cached value is served for at most [`STALE_GRACE`]
//! past its TTL, then the error is returned: a rotated (revoked) token must
//! not stay valid for as long as Secrets Manager is unreachable.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::aws::LazyClient;
use crate::config::vars;
use crate::error::Error;
use crate::rules::crypto::DataKey;

/// How long past its TTL a cached secret is still served while refreshes
/// fail: long enough to ride out a Secrets Manager blip, short enough that a
/// rotation takes effect soon after.
pub const STALE_GRACE: Duration = Duration::from_secs(300);

/// The deployment secret as stored.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretDocument {
    pub data_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_app_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_verify_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_page_token: Option<String>,
    /// The Meta app's id (not a secret; kept beside its secret): the page
    /// health check looks for it in each page's `subscribed_apps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_app_id: Option<String>,
}

impl std::fmt::Debug for SecretDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretDocument(…)")
    }
}

/// The admin secret as stored.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminSecretDocument {
    pub admin_token: String,
}

impl std::fmt::Debug for AdminSecretDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminSecretDocument(…)")
    }
}

/// A secret's value, parsed and checked. Errors name fields, never values.
pub trait SecretValue: Sized + Send + Sync + 'static {
    /// What the secret is called in errors ("the deployment secret").
    const WHAT: &'static str;
    fn parse(json: &str) -> Result<Self, Error>;
}

/// The deployment secret, parsed and ready to use.
pub struct Secrets {
    pub data_key: DataKey,
    pub meta_app_secret: Option<String>,
    pub meta_verify_token: Option<String>,
    pub meta_page_token: Option<String>,
    pub meta_app_id: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(…)")
    }
}

/// A JSON parse failure, by position only (the text is secret).
fn not_json(what: &str, needs: &str, e: &serde_json::Error) -> Error {
    Error::Secrets(format!(
        "{what} is not the expected JSON document (line {}, column {}): it needs {needs}",
        e.line(),
        e.column()
    ))
}

impl SecretValue for Secrets {
    const WHAT: &'static str = "the deployment secret";

    fn parse(json: &str) -> Result<Self, Error> {
        let doc: SecretDocument =
            serde_json::from_str(json).map_err(|e| not_json(Self::WHAT, "dataKey", &e))?;
        if legacy_admin_token(json) {
            // Every function can read this secret: the admin token belongs
            // in the admin secret alone. Not read from here, but say so.
            tracing::warn!(
                "the deployment secret still holds adminToken: move it to the admin secret \
                 ({}) and remove it from this one",
                vars::ADMIN_SECRET_ID
            );
        }
        let data_key = DataKey::from_base64(&doc.data_key).map_err(|_| {
            Error::Secrets("dataKey in the deployment secret must be 32 bytes, base64".into())
        })?;
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        Ok(Secrets {
            data_key,
            meta_app_secret: non_empty(doc.meta_app_secret),
            meta_verify_token: non_empty(doc.meta_verify_token),
            meta_page_token: non_empty(doc.meta_page_token),
            meta_app_id: non_empty(doc.meta_app_id),
        })
    }
}

/// Whether a deployment secret still carries the admin token (the layout
/// before the split).
fn legacy_admin_token(json: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .is_some_and(|v| v.get("adminToken").is_some())
}

/// The admin secret, parsed: the admin API's bearer token.
pub struct AdminSecret {
    pub admin_token: String,
}

impl std::fmt::Debug for AdminSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminSecret(…)")
    }
}

impl SecretValue for AdminSecret {
    const WHAT: &'static str = "the admin secret";

    fn parse(json: &str) -> Result<Self, Error> {
        let doc: AdminSecretDocument =
            serde_json::from_str(json).map_err(|e| not_json(Self::WHAT, "adminToken", &e))?;
        if doc.admin_token.trim().len() < 16 {
            return Err(Error::Secrets(
                "adminToken in the admin secret must be at least 16 characters".into(),
            ));
        }
        Ok(AdminSecret {
            admin_token: doc.admin_token.trim().to_owned(),
        })
    }
}

/// A value and when it was fetched.
struct Cached<T> {
    fetched: Instant,
    value: Arc<T>,
}

/// The cache behind [`SecretStore`], apart from Secrets Manager so that its
/// rules can be tested with a chosen clock and a fake fetch.
pub(crate) struct Cache<T> {
    ttl: Duration,
    grace: Duration,
    slot: Mutex<Option<Cached<T>>>,
}

impl<T> Cache<T> {
    pub(crate) fn new(ttl: Duration, grace: Duration) -> Self {
        Cache {
            ttl,
            grace,
            slot: Mutex::new(None),
        }
    }

    /// The value at `now`: cached while younger than the TTL, else fetched.
    /// A failed fetch serves the cached value while it is younger than TTL
    /// + grace, and is returned once it is older (or there is none).
    pub(crate) async fn get_with<F, Fut>(&self, now: Instant, fetch: F) -> Result<Arc<T>, Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut slot = self.slot.lock().await;
        let age = |c: &Cached<T>| now.saturating_duration_since(c.fetched);
        if let Some(c) = slot.as_ref()
            && age(c) < self.ttl
        {
            return Ok(c.value.clone());
        }
        match fetch().await {
            Ok(value) => {
                let value = Arc::new(value);
                *slot = Some(Cached {
                    fetched: now,
                    value: value.clone(),
                });
                Ok(value)
            }
            Err(err) => match slot.as_ref() {
                Some(stale) if age(stale) < self.ttl + self.grace => {
                    tracing::warn!(error = %err, "secret refresh failed; using the cached value");
                    Ok(stale.value.clone())
                }
                Some(_) => {
                    // Too old to trust: forget it, so that every request
                    // retries the fetch and nothing serves it again.
                    *slot = None;
                    Err(err)
                }
                None => Err(err),
            },
        }
    }

    async fn is_cached(&self) -> bool {
        self.slot.lock().await.is_some()
    }
}

/// Reads one secret through a short-lived in-process cache.
pub struct SecretStore<T> {
    client: LazyClient<Client>,
    /// `None` when this function is not given the secret (only `admin` is
    /// given the admin secret).
    secret_id: Option<String>,
    /// The variable that names it, for errors.
    var: &'static str,
    cache: Cache<T>,
}

impl<T: SecretValue> SecretStore<T> {
    pub fn new(
        client: LazyClient<Client>,
        var: &'static str,
        secret_id: Option<String>,
        ttl: Duration,
    ) -> Self {
        SecretStore {
            client,
            secret_id,
            var,
            cache: Cache::new(ttl, STALE_GRACE),
        }
    }

    /// Whether a value is cached (fresh or stale).
    pub async fn is_cached(&self) -> bool {
        self.cache.is_cached().await
    }

    /// Fails when this function was given no id for the secret: for `main`,
    /// so that a function that needs it does not start without it.
    pub fn ensure_configured(&self) -> Result<(), Error> {
        self.secret_id
            .as_ref()
            .map(|_| ())
            .ok_or_else(|| self.not_configured())
    }

    fn not_configured(&self) -> Error {
        Error::Config(format!(
            "{} is not set: this function cannot read {}",
            self.var,
            T::WHAT
        ))
    }

    /// The current value: cached, or fetched when the cache is empty or
    /// stale (see the module documentation for failed refreshes).
    pub async fn get(&self) -> Result<Arc<T>, Error> {
        self.cache.get_with(Instant::now(), || self.fetch()).await
    }

    async fn fetch(&self) -> Result<T, Error> {
        let secret_id = self
            .secret_id
            .as_deref()
            .ok_or_else(|| self.not_configured())?;
        let out = self
            .client
            .get()
            .await
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| {
                Error::Secrets(format!(
                    "cannot read {} {secret_id:?}: {} (create it, see the README's deploy section)",
                    T::WHAT,
                    DisplayErrorContext(e)
                ))
            })?;
        let text = out.secret_string().ok_or_else(|| {
            Error::Secrets(format!("{} {secret_id:?} has no string value", T::WHAT))
        })?;
        T::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn parses_a_complete_document() {
        let key = crate::rules::crypto::generate_data_key();
        let json = format!(r#"{{"dataKey":"{key}","metaVerifyToken":"v","metaPageToken":""}}"#);
        let s = Secrets::parse(&json).unwrap();
        assert_eq!(s.meta_verify_token.as_deref(), Some("v"));
        assert_eq!(s.meta_page_token, None);
        let a = AdminSecret::parse(r#"{"adminToken":" adm_0123456789abcdef "}"#).unwrap();
        assert_eq!(a.admin_token, "adm_0123456789abcdef");
    }

    #[test]
    fn a_legacy_deployment_secret_still_parses_without_exposing_the_admin_token() {
        let key = crate::rules::crypto::generate_data_key();
        let json = format!(r#"{{"adminToken":"adm_0123456789abcdef","dataKey":"{key}"}}"#);
        assert!(legacy_admin_token(&json));
        let s = Secrets::parse(&json).unwrap();
        assert!(!format!("{s:?}").contains("adm_"));
        assert!(!legacy_admin_token(&format!(r#"{{"dataKey":"{key}"}}"#)));
    }

    #[test]
    fn errors_name_fields_not_values() {
        let err = AdminSecret::parse(r#"{"adminToken":"short"}"#).unwrap_err();
        assert!(err.to_string().contains("adminToken"));
        assert!(!err.to_string().contains("short"));
        let err = Secrets::parse(r#"{"dataKey":"bm9wZQ=="}"#).unwrap_err();
        assert!(err.to_string().contains("dataKey"));
        let err = Secrets::parse("hunter2").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        let err = AdminSecret::parse("hunter2").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert!(err.to_string().contains("admin secret"));
    }

    const TTL: Duration = Duration::from_secs(300);
    const GRACE: Duration = Duration::from_secs(300);

    /// A fetch that counts its calls and answers `value`, or fails.
    async fn fetch(calls: &AtomicU32, value: Option<u32>) -> Result<u32, Error> {
        calls.fetch_add(1, Ordering::SeqCst);
        value.ok_or_else(|| Error::Secrets("unreachable".into()))
    }

    #[tokio::test]
    async fn fresh_values_are_served_from_the_cache() {
        let cache = Cache::new(TTL, GRACE);
        let calls = AtomicU32::new(0);
        let t0 = Instant::now();
        assert_eq!(
            *cache.get_with(t0, || fetch(&calls, Some(1))).await.unwrap(),
            1
        );
        let later = t0 + TTL - Duration::from_secs(1);
        assert_eq!(
            *cache
                .get_with(later, || fetch(&calls, Some(2)))
                .await
                .unwrap(),
            1
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Past the TTL: fetched again, the new value replaces the old.
        let expired = t0 + TTL;
        assert_eq!(
            *cache
                .get_with(expired, || fetch(&calls, Some(2)))
                .await
                .unwrap(),
            2
        );
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_failed_refresh_serves_the_stale_value_for_the_grace_period_only() {
        let cache = Cache::new(TTL, GRACE);
        let calls = AtomicU32::new(0);
        let t0 = Instant::now();
        cache.get_with(t0, || fetch(&calls, Some(1))).await.unwrap();
        // Within TTL + grace: a failed refresh serves the stale value.
        for at in [TTL, TTL + GRACE / 2, TTL + GRACE - Duration::from_millis(1)] {
            let got = cache.get_with(t0 + at, || fetch(&calls, None)).await;
            assert_eq!(*got.unwrap(), 1, "at {at:?}");
        }
        // Past it: the error, and the stale value is gone for good.
        let past = t0 + TTL + GRACE;
        let err = cache
            .get_with(past, || fetch(&calls, None))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("unreachable"));
        assert!(!cache.is_cached().await);
        let again = cache
            .get_with(past + Duration::from_secs(1), || fetch(&calls, None))
            .await;
        assert!(again.is_err());
        // Once Secrets Manager answers again, so does the cache.
        let back = cache
            .get_with(past + Duration::from_secs(2), || fetch(&calls, Some(3)))
            .await;
        assert_eq!(*back.unwrap(), 3);
    }

    #[tokio::test]
    async fn with_nothing_cached_a_failed_fetch_is_an_error() {
        let cache: Cache<u32> = Cache::new(TTL, GRACE);
        let calls = AtomicU32::new(0);
        assert!(
            cache
                .get_with(Instant::now(), || fetch(&calls, None))
                .await
                .is_err()
        );
        assert!(!cache.is_cached().await);
    }

    #[tokio::test]
    async fn an_unconfigured_secret_is_a_clear_error() {
        let sdk = aws_config::SdkConfig::builder().build();
        let store: SecretStore<AdminSecret> = SecretStore::new(
            LazyClient::new(crate::aws::Sdk::given(sdk), Client::new),
            vars::ADMIN_SECRET_ID,
            None,
            TTL,
        );
        let err = store.ensure_configured().unwrap_err().to_string();
        assert!(err.contains(vars::ADMIN_SECRET_ID), "{err}");
        let err = store.get().await.unwrap_err().to_string();
        assert!(err.contains("cannot read the admin secret"), "{err}");
    }
}
