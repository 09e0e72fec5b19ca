//! Native destinations: a subscription whose `kind` is not `webhook` is
//! delivered by its kind's file here ([`slack`], [`hubspot`], [`pipedrive`],
//! [`sheets`]), one file per
//! kind. Each checks its `config` at save (credentials sealed, masked on
//! read), has a default `mapping` (destination field → lead field), and
//! turns one delivery attempt into the provider's request(s), answering the
//! same [`AttemptResult`] a webhook send does: so retries, the attempt log,
//! the DLQ and redrive apply unchanged.

pub mod call;
pub mod google_auth;
pub mod hubspot;
pub mod mapping;
pub mod pipedrive;
pub mod sheets;
pub mod slack;

use serde_json::Value;

use crate::app::{App, Scope};
use crate::aws::table;
use crate::deliver::send::AttemptResult;
use crate::error::FieldIssue;
use crate::model::event_type::EventType;
use crate::model::subscriptions::Subscription;

/// A destination kind other than a plain webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Slack,
    Hubspot,
    Pipedrive,
    GoogleSheets,
}

/// A config as checked at save.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The whole config (sealed when stored).
    pub config: Value,
    /// What reads show: credentials masked.
    pub shown: Value,
    /// The subscription's `url` as reads show it (no secret in it).
    pub url: String,
}

/// What one attempt of a delivery to a destination knows.
pub struct Attempt<'a> {
    /// The subscription's workspace.
    pub scope: &'a Scope,
    pub sub: &'a Subscription,
    pub config: &'a Value,
    pub delivery_id: &'a str,
    pub event: EventType,
    /// The default body frozen at fan-out (`lead`, `type`, `changes`…).
    pub payload: &'a Value,
    pub attempt: u32,
}

impl Attempt<'_> {
    /// The lead as the API shows it.
    pub fn lead(&self) -> &Value {
        &self.payload["lead"]
    }

    /// A test send (the admin API's Test): nothing is kept.
    pub fn is_test(&self) -> bool {
        self.payload["test"].as_bool().unwrap_or(false)
    }

    /// The subscription's mapping, or the kind's default.
    pub fn mapping(&self, kind: Kind) -> Vec<(String, String)> {
        self.sub
            .mapping
            .as_deref()
            .and_then(mapping::parse_stored)
            .unwrap_or_else(|| kind.default_mapping())
    }
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Slack,
        Kind::Hubspot,
        Kind::Pipedrive,
        Kind::GoogleSheets,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Slack => "slack",
            Kind::Hubspot => "hubspot",
            Kind::Pipedrive => "pipedrive",
            Kind::GoogleSheets => "google_sheets",
        }
    }

    /// What people call it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Slack => "Slack",
            Kind::Hubspot => "HubSpot",
            Kind::Pipedrive => "Pipedrive",
            Kind::GoogleSheets => "Google Sheets",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The kind of a stored subscription; `None` for a webhook.
    pub fn of(sub: &Subscription) -> Option<Kind> {
        sub.kind.as_deref().and_then(Kind::parse)
    }

    /// The names `kind` accepts, for messages.
    pub fn names() -> String {
        let mut names = vec!["webhook"];
        names.extend(Kind::ALL.iter().map(|k| k.as_str()));
        names.join(", ")
    }

    /// Checks a config at save; issues are named `config.FIELD`.
    pub async fn check_config(self, app: &App, config: &Value) -> Result<Checked, Vec<FieldIssue>> {
        if !config.is_object() {
            return Err(vec![FieldIssue::new(
                "config",
                format!("is required for kind {}: an object", self.as_str()),
            )]);
        }
        match self {
            Kind::Slack => slack::check_config(app, config).await,
            Kind::Hubspot => hubspot::check_config(app, config),
            Kind::Pipedrive => pipedrive::check_config(app, config),
            Kind::GoogleSheets => sheets::check_config(app, config),
        }
    }

    /// Destination field → lead field, when the subscription sets none.
    pub fn default_mapping(self) -> Vec<(String, String)> {
        let pairs: &[(&str, &str)] = match self {
            Kind::Slack => slack::DEFAULT_MAPPING,
            Kind::Hubspot => hubspot::DEFAULT_MAPPING,
            Kind::Pipedrive => pipedrive::DEFAULT_MAPPING,
            Kind::GoogleSheets => sheets::DEFAULT_MAPPING,
        };
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    /// What the request(s) for `payload` would look like (the console's
    /// mapping preview): method, path and JSON body, credentials left out.
    pub fn preview(self, mapping: &[(String, String)], payload: &Value) -> Value {
        match self {
            Kind::Slack => slack::message(mapping, payload, None),
            Kind::Hubspot => hubspot::preview(mapping, &payload["lead"]),
            Kind::Pipedrive => pipedrive::preview(mapping, &payload["lead"]),
            Kind::GoogleSheets => sheets::preview(mapping, &payload["lead"]),
        }
    }

    /// Makes one attempt. Never fails: every problem is in the result.
    pub async fn send(self, a: &Attempt<'_>) -> AttemptResult {
        match self {
            Kind::Slack => slack::send(a).await,
            Kind::Hubspot => hubspot::send(a).await,
            Kind::Pipedrive => pipedrive::send(a).await,
            Kind::GoogleSheets => sheets::send(a).await,
        }
    }
}

/// Sends one attempt of a delivery to a destination of `kind`.
pub async fn send(
    app: &App,
    sub: &Subscription,
    kind: Kind,
    delivery_id: &str,
    event: EventType,
    payload: &str,
    attempt: u32,
) -> AttemptResult {
    let started = std::time::Instant::now();
    let config = match app.secrets.get().await {
        Ok(secrets) => sub.config(&secrets.data_key),
        Err(e) => return call::failed(started, format!("secrets unavailable: {e}")),
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => return call::failed(started, format!("destination config unreadable: {e}")),
    };
    let payload: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    let Some((ws, _)) = table::workspace_of(&sub.pk) else {
        return call::failed(started, "the destination's workspace is unreadable".into());
    };
    let scope = app.scope(ws);
    let a = Attempt {
        scope: &scope,
        sub,
        config: &config,
        delivery_id,
        event,
        payload: &payload,
        attempt,
    };
    kind.send(&a).await
}

/// A config field that must be a non-empty string of at most `max`
/// characters without control characters.
pub fn required_text(
    config: &Value,
    field: &str,
    max: usize,
    issues: &mut Vec<FieldIssue>,
) -> String {
    match config[field].as_str().map(str::trim) {
        Some(v) if !v.is_empty() && v.len() <= max && !v.chars().any(char::is_control) => {
            v.to_owned()
        }
        _ => {
            issues.push(FieldIssue::new(
                format!("config.{field}"),
                format!("is required: a string of at most {max} characters"),
            ));
            String::new()
        }
    }
}

/// Refuses keys a kind's config does not have.
pub fn only_keys(config: &Value, allowed: &[&str], issues: &mut Vec<FieldIssue>) {
    if let Some(map) = config.as_object() {
        for k in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
            issues.push(FieldIssue::new(
                format!("config.{}", k.chars().take(40).collect::<String>()),
                format!(
                    "is not a field of this kind's config ({})",
                    allowed.join(", ")
                ),
            ));
        }
    }
}

/// How a secret is shown on reads: its first characters, then a mask.
pub fn mask(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}…********")
}
