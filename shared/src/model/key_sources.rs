//! A key as a *source* (issue 23): its provider's secret and API token,
//! sealed under the data key like the token and never shown, and the
//! checks that hold across a key's fields. Beside [`super::keys`], which
//! stores keys.

use super::keys::{KeyChanges, WebhookKey};
use crate::error::{DataError, Error, FieldIssue};
use crate::providers::Provider;
use crate::rules::crypto::DataKey;

fn provider_secret_context(id: &str) -> String {
    format!("key#{id}#providerSecret")
}

fn provider_token_context(id: &str) -> String {
    format!("key#{id}#providerToken")
}

impl WebhookKey {
    /// The secret a provider signs with: `providerSecret` when set, else the
    /// token.
    pub fn signing_secret(&self, key: &DataKey) -> Result<String, Error> {
        match &self.provider_secret_sealed {
            Some(sealed) => Ok(key.open(&provider_secret_context(&self.id), sealed)?),
            None => self.token(key),
        }
    }

    /// The `providerSecret` in clear, when one is set.
    pub fn provider_secret(&self, key: &DataKey) -> Result<Option<String>, Error> {
        self.provider_secret_sealed
            .as_ref()
            .map(|sealed| Ok(key.open(&provider_secret_context(&self.id), sealed)?))
            .transpose()
    }

    /// The `providerToken` in clear, when one is set.
    pub fn provider_token(&self, key: &DataKey) -> Result<Option<String>, Error> {
        self.provider_token_sealed
            .as_ref()
            .map(|sealed| Ok(key.open(&provider_token_context(&self.id), sealed)?))
            .transpose()
    }
}

impl KeyChanges {
    /// Applies the changes to `key`, sealing a new provider secret under
    /// `data_key`; then checks what holds across fields: a `form` key needs
    /// allowed origins (it has no token, they are its authentication).
    pub fn apply_sealed(self, key: &mut WebhookKey, data_key: &DataKey) -> Result<(), DataError> {
        if let Some(secret) = &self.provider_secret {
            key.provider_secret_sealed = secret
                .as_ref()
                .map(|s| data_key.seal(&provider_secret_context(&key.id), s));
        }
        if let Some(token) = &self.provider_token {
            key.provider_token_sealed = token
                .as_ref()
                .map(|t| data_key.seal(&provider_token_context(&key.id), t));
        }
        if let Some(v) = self.provider {
            key.provider = v;
        }
        if let Some(v) = self.redirect_url.clone() {
            key.redirect_url = v;
        }
        self.apply(key);
        if key.provider == Provider::Form && key.allowed_domains.is_empty() {
            return Err(DataError::Invalid(vec![FieldIssue::new(
                "allowedDomains",
                "a form key needs at least one allowed domain: it has no token, the origins are its authentication",
            )]));
        }
        Ok(())
    }
}
