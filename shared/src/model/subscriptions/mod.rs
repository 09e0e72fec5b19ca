//! Subscriptions: where leads go (docs/CONTRACT.md §6, Subscriptions). A subscription
//! names a URL, which event types and sources it wants, how to sign, which
//! headers and auth to add, an optional payload template, and how many
//! attempts a delivery gets. Its signing secret, header values and auth
//! values are stored sealed under the data key and masked on every read.

use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::store::{Write, s};
use crate::aws::table::{self, Listing};
use crate::error::{DataError, Error};
use crate::model::event_type::{EventType, OpsEventType};
use crate::model::events::Source;
use crate::model::history::LeadEventType;
use crate::rules::clock;
use crate::rules::crypto::DataKey;
use crate::rules::ids::{self, IdKind, SubscriptionId};
use crate::rules::signing::{self, SigningKey};

mod changes;
pub use crate::rules::retry::MAX_MAX_ATTEMPTS;
use crate::rules::schedule::Schedule;
pub use changes::{AuthKind, SubChanges};

/// A custom header, its value sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredHeader {
    pub name: String,
    pub value_sealed: String,
}

/// Authentication for the receiver, its secret sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum StoredAuth {
    #[serde(rename = "bearer")]
    Bearer { token_sealed: String },
    #[serde(rename = "header")]
    Header { name: String, value_sealed: String },
}

/// A subscription as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub id: SubscriptionId,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub sources: Option<Vec<String>>,
    pub secret_sealed: String,
    pub secret_hint: String,
    /// During a rotation's grace period: the previous secret and when it stops.
    #[serde(default)]
    pub previous_secret_sealed: Option<String>,
    #[serde(default)]
    pub previous_secret_expires_ms: Option<i64>,
    #[serde(default)]
    pub headers: Vec<StoredHeader>,
    #[serde(default)]
    pub auth: Option<StoredAuth>,
    #[serde(default)]
    pub template: Option<String>,
    /// Routing rule (JSON text, checked at save; see [`crate::rules::filter`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The destination kind (`slack`, `hubspot`…); none for a webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The kind's config (JSON), sealed: it holds the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_sealed: Option<String>,
    /// The kind's config as reads show it (credentials masked), JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_shown: Option<String>,
    /// Destination field → lead field (JSON object), for a kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping: Option<String>,
    pub enabled: bool,
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// Attempts per round: the schedule's length + 1, kept beside it.
    pub max_attempts: u32,
    /// The delays in seconds before each retry ([`Schedule`]); absent on
    /// subscriptions saved before schedules, which keep the exponential
    /// schedule of their `max_attempts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_schedule: Option<Vec<u32>>,
    /// Also sent test leads (a provider's test submission, the console's
    /// Send test lead); off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test_leads: bool,
    pub created_at: String,
    pub updated_at: String,
}

fn ctx(id: &str, what: &str) -> String {
    format!("sub#{id}#{what}")
}

fn secret_hint(secret: &str) -> String {
    let rest = secret
        .strip_prefix(signing::SECRET_PREFIX)
        .unwrap_or(secret);
    format!(
        "{}{}…",
        signing::SECRET_PREFIX,
        rest.chars().take(4).collect::<String>()
    )
}

/// Everything needed to send to a subscription, unsealed (in memory only).
pub struct Credentials {
    /// Signing keys, newest first (two during a rotation's grace period).
    pub keys: Vec<SigningKey>,
    pub headers: Vec<(String, String)>,
    pub auth: Option<(String, String)>,
}

impl Subscription {
    /// The retry schedule in force (see [`Subscription::retry_schedule`]).
    pub fn schedule(&self, config: &crate::Config) -> Schedule {
        let stored = match &self.retry_schedule {
            Some(steps) => Schedule::new(steps.clone()),
            None => Schedule::exponential(
                self.max_attempts,
                config.retry_base,
                config.retry_max,
                config.retry_unit,
            ),
        };
        stored.unwrap_or_else(|e| {
            tracing::warn!(subscription_id = %self.id, error = %e, "stored retry schedule unreadable; the default applies");
            Schedule::default()
        })
    }

    /// Does this subscription want `kind` events from `source`?
    pub fn wants(&self, kind: LeadEventType, source: &Source) -> bool {
        let type_ok = self.events.iter().any(|e| e == "*" || e == kind.as_str());
        let source_ok = match &self.sources {
            None => true,
            Some(list) => list.iter().any(|s| match source {
                Source::Webhook { key_id } => s.strip_prefix("key:") == Some(key_id.as_str()),
                Source::MetaLeadAds { .. } => s == "meta_lead_ads",
                Source::Leadpipe => false,
            }),
        };
        self.enabled && type_ok && source_ok
    }

    /// Does this subscription want operational events of `kind`? Only when
    /// it names them (`*` means every lead event), and only a kind that
    /// can carry them: a webhook, or Slack.
    pub fn wants_ops(&self, kind: OpsEventType) -> bool {
        self.enabled
            && self.events.iter().any(|e| e == kind.as_str())
            && matches!(self.kind.as_deref(), None | Some("slack"))
    }

    /// The body to send: the template rendered, or the default body. An
    /// operational event is always sent as its default body: a template
    /// is written for leads.
    pub fn body_for(&self, kind: EventType, payload: &str) -> String {
        match &self.template {
            Some(t) if !kind.is_ops() => {
                let ctx: serde_json::Value =
                    serde_json::from_str(payload).unwrap_or(serde_json::Value::Null);
                crate::rules::templates::render(t, &ctx)
            }
            _ => payload.to_owned(),
        }
    }

    /// Does the lead (as the API shows it) pass this subscription's filter?
    pub fn routes(&self, lead: &serde_json::Value) -> bool {
        crate::rules::filter::stored_matches(self.filter.as_deref(), lead)
    }

    /// The destination kind's config, unsealed (in memory only).
    pub fn config(&self, key: &DataKey) -> Result<serde_json::Value, Error> {
        let sealed = self
            .config_sealed
            .as_deref()
            .ok_or_else(|| Error::Data("the destination has no config".into()))?;
        let text = key.open(&ctx(&self.id, "config"), sealed)?;
        serde_json::from_str(&text).map_err(|e| Error::Data(format!("stored config: {e}")))
    }

    /// Unseals the secrets for a send at `now_ms`.
    pub fn credentials(&self, key: &DataKey, now_ms: i64) -> Result<Credentials, Error> {
        let secret = key.open(&ctx(&self.id, "secret"), &self.secret_sealed)?;
        let mut keys = vec![
            SigningKey::parse(&secret).map_err(|e| Error::Data(format!("stored secret: {e}")))?,
        ];
        if let (Some(prev), Some(until)) = (
            &self.previous_secret_sealed,
            self.previous_secret_expires_ms,
        ) && now_ms < until
        {
            let old = key.open(&ctx(&self.id, "previous-secret"), prev)?;
            if let Ok(k) = SigningKey::parse(&old) {
                keys.push(k);
            }
        }
        let headers = self
            .headers
            .iter()
            .map(|h| {
                Ok((
                    h.name.clone(),
                    key.open(
                        &ctx(&self.id, &format!("header#{}", h.name)),
                        &h.value_sealed,
                    )?,
                ))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let auth = match &self.auth {
            None => None,
            Some(StoredAuth::Bearer { token_sealed }) => Some((
                "Authorization".to_owned(),
                format!("Bearer {}", key.open(&ctx(&self.id, "auth"), token_sealed)?),
            )),
            Some(StoredAuth::Header { name, value_sealed }) => Some((
                name.clone(),
                key.open(&ctx(&self.id, "auth"), value_sealed)?,
            )),
        };
        Ok(Credentials {
            keys,
            headers,
            auth,
        })
    }
}

/// Creates a subscription; returns it with its secret in clear.
pub async fn create(
    scope: &Scope,
    mut changes: SubChanges,
) -> Result<(Subscription, String), DataError> {
    let secrets = scope.secrets.get().await?;
    let id = SubscriptionId::generate();
    let key = table::subscription(scope.ws(), &id);
    let secret = changes.secret.take().unwrap_or_else(signing::new_secret);
    let now = clock::now_rfc3339();
    let mut sub = Subscription {
        pk: key.pk,
        sk: key.sk,
        gsi1pk: Listing::subscriptions(scope.ws()).partition_for(&id),
        gsi1sk: id.to_string(),
        secret_sealed: secrets.data_key.seal(&ctx(&id, "secret"), &secret),
        secret_hint: secret_hint(&secret),
        id,
        url: String::new(),
        events: vec!["*".into()],
        sources: None,
        previous_secret_sealed: None,
        previous_secret_expires_ms: None,
        headers: vec![],
        auth: None,
        template: None,
        filter: None,
        kind: None,
        config_sealed: None,
        config_shown: None,
        mapping: None,
        enabled: true,
        disabled_reason: None,
        max_attempts: Schedule::default().max_attempts(),
        retry_schedule: Some(Schedule::default().steps().to_vec()),
        test_leads: false,
        created_at: now.clone(),
        updated_at: now,
    };
    changes.apply(&mut sub, &secrets.data_key);
    match scope.store.put_new(&sub).await? {
        Write::Done => Ok((sub, secret)),
        Write::Conflict => Err(DataError::Conflict(
            "subscription id collision; try again".into(),
        )),
    }
}

pub async fn get(scope: &Scope, id: &str) -> Result<Option<Subscription>, Error> {
    super::read(scope, IdKind::Subscription, id, table::subscription).await
}

pub async fn list(scope: &Scope, page: &PageRequest) -> Result<Page<Subscription>, DataError> {
    scope
        .store
        .query_page(&Listing::subscriptions(scope.ws()), page, true)
        .await
}

/// Every subscription (for fan-out), oldest first.
pub async fn all(scope: &Scope) -> Result<Vec<Subscription>, Error> {
    let mut out = Vec::new();
    let mut page = PageRequest {
        limit: crate::aws::pagination::MAX_LIMIT,
        cursor: None,
    };
    loop {
        let batch: Page<Subscription> = scope
            .store
            .query_page(&Listing::subscriptions(scope.ws()), &page, false)
            .await
            .map_err(DataError::into_internal)?;
        out.extend(batch.items);
        match batch.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

fn bump(sub: &mut Subscription) -> String {
    let next = clock::now_after(&sub.updated_at);
    std::mem::replace(&mut sub.updated_at, next)
}

/// Writes `sub` back if nobody changed it meanwhile.
pub async fn save(scope: &Scope, sub: &mut Subscription) -> Result<(), DataError> {
    let previous = bump(sub);
    let values = std::collections::HashMap::from([(":prev".to_owned(), s(previous))]);
    match scope
        .store
        .put_if(sub, "attribute_exists(pk) AND updatedAt = :prev", values)
        .await?
    {
        Write::Done => Ok(()),
        Write::Conflict => Err(DataError::Conflict(
            "the subscription changed while this request ran; read it again and retry".into(),
        )),
    }
}

pub async fn update(
    scope: &Scope,
    id: &str,
    changes: SubChanges,
) -> Result<Subscription, DataError> {
    let secrets = scope.secrets.get().await?;
    let mut sub = get(scope, id)
        .await?
        .ok_or(DataError::NotFound("subscription"))?;
    changes.apply(&mut sub, &secrets.data_key);
    save(scope, &mut sub).await?;
    Ok(sub)
}

/// Issues a new secret; the old one keeps signing (second) for `grace`.
pub async fn rotate_secret(
    scope: &Scope,
    id: &str,
    grace_s: u64,
) -> Result<(Subscription, String), DataError> {
    let secrets = scope.secrets.get().await?;
    let mut sub = get(scope, id)
        .await?
        .ok_or(DataError::NotFound("subscription"))?;
    let old = secrets
        .data_key
        .open(&ctx(&sub.id, "secret"), &sub.secret_sealed)?;
    let new = signing::new_secret();
    sub.previous_secret_sealed = (grace_s > 0).then(|| {
        secrets
            .data_key
            .seal(&ctx(&sub.id, "previous-secret"), &old)
    });
    sub.previous_secret_expires_ms =
        (grace_s > 0).then(|| clock::now_ms() + (grace_s as i64) * 1000);
    sub.secret_sealed = secrets.data_key.seal(&ctx(&sub.id, "secret"), &new);
    sub.secret_hint = secret_hint(&new);
    save(scope, &mut sub).await?;
    Ok((sub, new))
}

pub async fn delete(scope: &Scope, id: &str) -> Result<(), DataError> {
    if !ids::is_valid(IdKind::Subscription, id) {
        return Err(DataError::NotFound("subscription"));
    }
    let key = table::subscription(scope.ws(), id);
    match scope
        .store
        .delete(&key.pk, &key.sk, Some("attribute_exists(pk)"), vec![])
        .await?
    {
        Write::Done => Ok(()),
        Write::Conflict => Err(DataError::NotFound("subscription")),
    }
}

/// Turns a subscription off with a reason, keeping everything else (a 410
/// from the receiver does this).
/// Turns a subscription off, keeping its configuration; true when this
/// call did it (it was on), false when it was off or gone already. A lost
/// answer is told from another's write by the reason it stored.
pub async fn disable(scope: &Scope, id: &str, reason: &str) -> Result<bool, Error> {
    use aws_sdk_dynamodb::types::AttributeValue::Bool;
    let now = clock::now_rfc3339();
    let key = table::subscription(scope.ws(), id);
    let w = scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            "SET enabled = :f, disabledReason = :r, updatedAt = :now",
            Some("attribute_exists(pk) AND enabled = :t"),
            vec![],
            vec![
                (":f", Bool(false)),
                (":t", Bool(true)),
                (":r", s(reason)),
                (":now", s(now)),
            ],
        )
        .await?;
    Ok(match w {
        Write::Done => true,
        Write::Conflict => get(scope, id)
            .await?
            .is_some_and(|sub| !sub.enabled && sub.disabled_reason.as_deref() == Some(reason)),
    })
}

#[cfg(test)]
mod tests;
