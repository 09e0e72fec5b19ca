//! A validated create or patch of a subscription, and how it is applied:
//! every secret value (header, auth, destination config) sealed under the
//! data key as it is set.

use super::{StoredAuth, StoredHeader, Subscription, ctx};
use crate::rules::crypto::DataKey;
use crate::rules::schedule::Schedule;

/// A validated create or patch.
#[derive(Debug, Default)]
pub struct SubChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub sources: Option<Option<Vec<String>>>,
    pub secret: Option<String>,
    pub headers: Option<Vec<(String, String)>>,
    pub auth: Option<Option<(AuthKind, String)>>,
    pub template: Option<Option<String>>,
    pub filter: Option<Option<String>>,
    /// A destination kind and its config (JSON, and JSON as shown).
    pub kind: Option<(String, String, String)>,
    pub mapping: Option<Option<String>>,
    pub enabled: Option<bool>,
    /// A validated schedule (`retrySchedule`, or `maxAttempts` made one).
    pub retry_schedule: Option<Schedule>,
    pub test_leads: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuthKind {
    Bearer,
    Header(String),
}

impl SubChanges {
    pub fn apply(self, sub: &mut Subscription, key: &DataKey) {
        if let Some(v) = self.url {
            sub.url = v;
        }
        if let Some(v) = self.events {
            sub.events = v;
        }
        if let Some(v) = self.sources {
            sub.sources = v;
        }
        if let Some(headers) = self.headers {
            sub.headers = headers
                .into_iter()
                .map(|(name, value)| StoredHeader {
                    value_sealed: key.seal(&ctx(&sub.id, &format!("header#{name}")), &value),
                    name,
                })
                .collect();
        }
        if let Some(auth) = self.auth {
            sub.auth = auth.map(|(kind, value)| {
                let sealed = key.seal(&ctx(&sub.id, "auth"), &value);
                match kind {
                    AuthKind::Bearer => StoredAuth::Bearer {
                        token_sealed: sealed,
                    },
                    AuthKind::Header(name) => StoredAuth::Header {
                        name,
                        value_sealed: sealed,
                    },
                }
            });
        }
        if let Some(v) = self.template {
            sub.template = v;
        }
        if let Some(v) = self.filter {
            sub.filter = v;
        }
        if let Some((kind, config, shown)) = self.kind {
            sub.config_sealed = Some(key.seal(&ctx(&sub.id, "config"), &config));
            sub.config_shown = Some(shown);
            sub.kind = Some(kind);
        }
        if let Some(v) = self.mapping {
            sub.mapping = v;
        }
        if let Some(v) = self.enabled {
            sub.enabled = v;
            if v {
                sub.disabled_reason = None;
            } else if sub.disabled_reason.is_none() {
                sub.disabled_reason = Some("disabled by an operator".into());
            }
        }
        if let Some(v) = self.retry_schedule {
            sub.max_attempts = v.max_attempts();
            sub.retry_schedule = Some(v.steps().to_vec());
        }
        if let Some(v) = self.test_leads {
            sub.test_leads = v;
        }
    }
}
