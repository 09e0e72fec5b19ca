//! The deployment's secret: one JSON document in Secrets Manager, read once
//! per cold start and cached for a short TTL (rotation takes effect within
//! it). Single-flight: concurrent requests on a cold container wait for one
//! fetch instead of each making their own.
//!
//! ```json
//! {"adminToken": "…", "dataKey": "<base64 of 32 bytes>",
//!  "metaAppSecret": "…", "metaVerifyToken": "…", "metaPageToken": "…"}
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::aws::LazyClient;
use crate::error::Error;
use crate::rules::crypto::DataKey;

/// The secret document as stored.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretDocument {
    pub admin_token: String,
    pub data_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_app_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_verify_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_page_token: Option<String>,
}

impl std::fmt::Debug for SecretDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretDocument(…)")
    }
}

/// The deployment's secrets, parsed and ready to use.
pub struct Secrets {
    pub admin_token: String,
    pub data_key: DataKey,
    pub meta_app_secret: Option<String>,
    pub meta_verify_token: Option<String>,
    pub meta_page_token: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(…)")
    }
}

impl Secrets {
    /// Parses and checks the JSON document. The error names the field, never
    /// its value.
    pub fn parse(json: &str) -> Result<Self, Error> {
        let doc: SecretDocument = serde_json::from_str(json).map_err(|e| {
            Error::Secrets(format!(
                "the deployment secret is not the expected JSON document (line {}, column {}): \
                 it needs adminToken and dataKey",
                e.line(),
                e.column()
            ))
        })?;
        if doc.admin_token.trim().len() < 16 {
            return Err(Error::Secrets(
                "adminToken in the deployment secret must be at least 16 characters".into(),
            ));
        }
        let data_key = DataKey::from_base64(&doc.data_key).map_err(|_| {
            Error::Secrets("dataKey in the deployment secret must be 32 bytes, base64".into())
        })?;
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        Ok(Secrets {
            admin_token: doc.admin_token.trim().to_owned(),
            data_key,
            meta_app_secret: non_empty(doc.meta_app_secret),
            meta_verify_token: non_empty(doc.meta_verify_token),
            meta_page_token: non_empty(doc.meta_page_token),
        })
    }
}

struct Cached {
    fetched: Instant,
    value: Arc<Secrets>,
}

/// Reads the deployment secret through a short-lived in-process cache.
pub struct SecretStore {
    client: LazyClient<Client>,
    secret_id: String,
    ttl: Duration,
    cache: Mutex<Option<Cached>>,
}

impl SecretStore {
    pub fn new(client: LazyClient<Client>, secret_id: String, ttl: Duration) -> Self {
        SecretStore {
            client,
            secret_id,
            ttl,
            cache: Mutex::new(None),
        }
    }

    /// Whether a value is cached (fresh or stale).
    pub async fn is_cached(&self) -> bool {
        self.cache.lock().await.is_some()
    }

    /// The current secrets: cached, or fetched when the cache is empty or
    /// stale. A failed refresh keeps serving the stale value (and logs), so a
    /// Secrets Manager blip does not take ingestion down.
    pub async fn get(&self) -> Result<Arc<Secrets>, Error> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && c.fetched.elapsed() < self.ttl
        {
            return Ok(c.value.clone());
        }
        match self.fetch().await {
            Ok(value) => {
                let value = Arc::new(value);
                *cache = Some(Cached {
                    fetched: Instant::now(),
                    value: value.clone(),
                });
                Ok(value)
            }
            Err(err) => match cache.as_ref() {
                Some(stale) => {
                    tracing::warn!(error = %err, "secret refresh failed; using the cached value");
                    Ok(stale.value.clone())
                }
                None => Err(err),
            },
        }
    }

    async fn fetch(&self) -> Result<Secrets, Error> {
        let out = self
            .client.get().await
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| {
                Error::Secrets(format!(
                    "cannot read the deployment secret {:?}: {} (create it, see the README's deploy section)",
                    self.secret_id,
                    DisplayErrorContext(e)
                ))
            })?;
        let text = out.secret_string().ok_or_else(|| {
            Error::Secrets(format!(
                "the deployment secret {:?} has no string value",
                self.secret_id
            ))
        })?;
        Secrets::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_complete_document() {
        let key = crate::rules::crypto::generate_data_key();
        let json = format!(
            r#"{{"adminToken":"adm_0123456789abcdef","dataKey":"{key}","metaVerifyToken":"v","metaPageToken":""}}"#
        );
        let s = Secrets::parse(&json).unwrap();
        assert_eq!(s.admin_token, "adm_0123456789abcdef");
        assert_eq!(s.meta_verify_token.as_deref(), Some("v"));
        assert_eq!(s.meta_page_token, None);
    }

    #[test]
    fn errors_name_fields_not_values() {
        let err = Secrets::parse(r#"{"adminToken":"short","dataKey":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("adminToken"));
        assert!(!err.to_string().contains("short"));
        let err = Secrets::parse(r#"{"adminToken":"0123456789abcdefgh","dataKey":"bm9wZQ=="}"#)
            .unwrap_err();
        assert!(err.to_string().contains("dataKey"));
        let err = Secrets::parse("hunter2").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }
}
