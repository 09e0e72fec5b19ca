//! A subscription as the admin API shows it, and its retry schedule as the
//! API takes it (`retrySchedule`, `maxAttempts`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::input::JsonInput;
use crate::model::health::{Health, State};
use crate::model::subscriptions::{MAX_MAX_ATTEMPTS, StoredAuth, SubChanges, Subscription};
use crate::rules::clock;
use crate::rules::schedule::Schedule;

const MASK: &str = "********";

/// `retrySchedule` (delays in seconds, validated) and `maxAttempts` (made
/// an exponential schedule of that length); both at once must agree.
pub(super) fn retry_schedule(input: &mut JsonInput, config: &crate::Config, out: &mut SubChanges) {
    let attempts = if input.has("maxAttempts") {
        match input.raw("maxAttempts").and_then(Value::as_u64) {
            Some(n) if (1..=u64::from(MAX_MAX_ATTEMPTS)).contains(&n) => Some(n as u32),
            _ => {
                input.issue(
                    "maxAttempts",
                    format!("must be a whole number from 1 to {MAX_MAX_ATTEMPTS}"),
                );
                None
            }
        }
    } else {
        None
    };
    let steps = if input.has("retrySchedule") {
        let raw = input.raw("retrySchedule").cloned();
        let steps: Option<Vec<u32>> = raw.as_ref().and_then(Value::as_array).and_then(|a| {
            a.iter()
                .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
                .collect()
        });
        match steps.map(Schedule::new) {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                input.issue("retrySchedule", e.0);
                None
            }
            None => {
                input.issue(
                    "retrySchedule",
                    "must be an array of whole numbers of seconds",
                );
                None
            }
        }
    } else {
        None
    };
    out.retry_schedule = match (steps, attempts) {
        (Some(s), Some(n)) if s.max_attempts() != n => {
            input.issue(
                "maxAttempts",
                "must be the length of retrySchedule + 1 when both are given",
            );
            None
        }
        (Some(s), _) => Some(s),
        (None, Some(n)) => {
            Schedule::exponential(n, config.retry_base, config.retry_max, config.retry_unit).ok()
        }
        (None, None) => None,
    };
}

/// A subscription as the admin API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub sources: Option<Vec<String>>,
    pub secret: String,
    pub headers: BTreeMap<String, String>,
    pub auth: Option<Value>,
    pub template: Option<String>,
    pub filter: Option<Value>,
    /// `webhook`, or a native destination's kind.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping: Option<Value>,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    pub max_attempts: u32,
    pub retry_schedule: Vec<u32>,
    /// Also sent test leads.
    pub test_leads: bool,
    /// `active`, `failing` (held: one probe retries, the others wait) or
    /// `disabled`.
    pub state: &'static str,
    /// Attempts that failed in a row.
    pub consecutive_failures: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl SubscriptionView {
    /// `secret` in clear where it may be shown (creation, rotation); header
    /// and auth values are always masked.
    pub fn new(
        sub: Subscription,
        secret: Option<&str>,
        config: &crate::Config,
        health: Option<&Health>,
    ) -> Self {
        let now = clock::now_ms();
        let schedule = sub.schedule(config);
        let (kind, config, mapping) = super::destinations::show(&sub);
        SubscriptionView {
            kind,
            config,
            mapping,
            secret: secret.map(str::to_owned).unwrap_or(sub.secret_hint),
            headers: sub
                .headers
                .into_iter()
                .map(|h| (h.name, MASK.to_owned()))
                .collect(),
            auth: sub.auth.map(|a| match a {
                StoredAuth::Bearer { .. } => json!({"type": "bearer", "token": MASK}),
                StoredAuth::Header { name, .. } => {
                    json!({"type": "header", "name": name, "value": MASK})
                }
            }),
            previous_secret_expires_at: sub
                .previous_secret_expires_ms
                .filter(|t| *t > now && sub.previous_secret_sealed.is_some())
                .map(clock::rfc3339),
            id: sub.id.into(),
            url: sub.url,
            events: sub.events,
            sources: sub.sources,
            template: sub.template,
            filter: super::routing::show_filter(sub.filter.as_deref()),
            enabled: sub.enabled,
            disabled_reason: sub.disabled_reason,
            max_attempts: schedule.max_attempts(),
            retry_schedule: schedule.steps().to_vec(),
            test_leads: sub.test_leads,
            state: State::of(sub.enabled, health).as_str(),
            consecutive_failures: health.map_or(0, |h| h.consecutive_failures),
            failing_since: health
                .and_then(|h| h.failing_since_ms)
                .filter(|_| sub.enabled)
                .map(clock::rfc3339),
            created_at: sub.created_at,
            updated_at: sub.updated_at,
        }
    }
}
