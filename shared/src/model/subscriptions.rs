//! Subscriptions: where leads go (CONTRACT §6, Subscriptions). A subscription
//! names a URL, which event types and sources it wants, how to sign, which
//! headers and auth to add, an optional payload template, and how many
//! attempts a delivery gets. Its signing secret, header values and auth
//! values are stored sealed under the data key and masked on every read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::app::App;
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::resources::GSI1;
use crate::aws::store::{Write, s};
use crate::errors::{ApiError, Error};
use crate::http::JsonInput;
use crate::model::events::Source;
use crate::model::leads::LeadEventType;
use crate::rules::clock;
use crate::rules::crypto::DataKey;
use crate::rules::ids::{self, IdKind};
use crate::rules::signing::{self, SigningKey};
use crate::rules::ssrf;
use crate::rules::templates;

pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;
pub const MAX_MAX_ATTEMPTS: u32 = 20;
const MAX_HEADERS: usize = 20;
const MASK: &str = "********";

/// Headers a subscription may not set: the signature headers and those the
/// HTTP client owns.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
    "connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

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
    pub id: String,
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
    pub enabled: bool,
    #[serde(default)]
    pub disabled_reason: Option<String>,
    pub max_attempts: u32,
    pub created_at: String,
    pub updated_at: String,
}

pub fn pk(id: &str) -> String {
    format!("SUB#{id}")
}
pub const SK: &str = "SUB";
const COLLECTION: &str = "SUBS";

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
    /// Does this subscription want `kind` events from `source`?
    pub fn wants(&self, kind: LeadEventType, source: &Source) -> bool {
        let type_ok = self.events.iter().any(|e| e == "*" || e == kind.as_str());
        let source_ok = match &self.sources {
            None => true,
            Some(list) => list.iter().any(|s| match source {
                Source::Webhook { key_id } => s.strip_prefix("key:") == Some(key_id.as_str()),
                Source::MetaLeadAds { .. } => s == "meta_lead_ads",
            }),
        };
        self.enabled && type_ok && source_ok
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
    pub enabled: Option<bool>,
    pub max_attempts: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum AuthKind {
    Bearer,
    Header(String),
}

const FIELDS: &[&str] = &[
    "url",
    "events",
    "sources",
    "secret",
    "headers",
    "auth",
    "template",
    "enabled",
    "maxAttempts",
];

fn header_name_issue(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 100 || http::HeaderName::from_bytes(name.as_bytes()).is_err()
    {
        return Some("is not a valid header name");
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-leadpipe-") {
        return Some("is set by Leadpipe and cannot be overridden");
    }
    None
}

fn header_value_ok(value: &str) -> bool {
    !value.is_empty() && value.len() <= 4096 && http::HeaderValue::from_str(value).is_ok()
}

/// A sample context for checking templates at save time.
pub fn sample_context() -> Value {
    json!({
        "type": "lead.created", "deliveryId": "dlv_sample", "occurredAt": "2026-04-22T10:15:00.000Z",
        "previousSeenAt": "2026-03-01T09:00:00.000Z",
        "lead": {"id": "lead_sample", "email": "alex@example.com", "phone": "+14155550123",
                 "firstName": "Alex \"AJ\"", "lastName": "Customer", "name": "Alex \"AJ\" Customer",
                 "status": "unassigned", "tags": ["webinar", "vip"], "customFields": {"company": "Acme, Inc.", "budget": 5000},
                 "source": {"type": "webhook", "keyId": "key_sample"},
                 "createdAt": "2026-04-22T10:15:00.000Z", "updatedAt": "2026-04-22T10:15:00.000Z", "lastSeenAt": "2026-04-22T10:15:00.000Z"}
    })
}

impl SubChanges {
    /// Reads and checks a body. URL problems are `unsafe_url`; everything
    /// else `validation_failed` with every issue listed.
    pub async fn from_input(
        mut input: JsonInput,
        creating: bool,
        app: &App,
    ) -> Result<Self, ApiError> {
        input.allow_only(FIELDS);
        let mut out = SubChanges::default();

        let url = input.string("url");
        if creating && url.is_none() {
            input.issue("url", "is required");
        }
        let mut unsafe_url = None;
        if let Some(u) = url {
            if u.len() > 2048 {
                input.issue("url", "is longer than 2048 characters");
            } else {
                match ssrf::check_url_resolved(&u, app.config.allow_private_targets, app.dns())
                    .await
                {
                    Ok(t) => out.url = Some(t.url.to_string()),
                    Err(e) => unsafe_url = Some(e),
                }
            }
        }

        if let Some(events) = input.string_list("events") {
            if events.is_empty() {
                input.issue("events", "must list at least one event type, or \"*\"");
            }
            for e in &events {
                if e != "*"
                    && !["lead.created", "lead.updated", "lead.re_engaged"].contains(&e.as_str())
                {
                    input.issue(
                        "events",
                        format!(
                            "unknown event type {:?}",
                            e.chars().take(40).collect::<String>()
                        ),
                    );
                }
            }
            out.events = Some(events);
        } else if creating {
            out.events = Some(vec!["*".into()]);
        }

        if input.has("sources") {
            match input.string_list("sources") {
                None => out.sources = Some(None),
                Some(list) => {
                    for s in &list {
                        let ok = s == "meta_lead_ads"
                            || s.strip_prefix("key:")
                                .is_some_and(|k| ids::is_valid(IdKind::Key, k));
                        if !ok {
                            input.issue(
                                "sources",
                                "entries are \"key:{keyId}\" or \"meta_lead_ads\"",
                            );
                        }
                    }
                    out.sources = Some(Some(list));
                }
            }
        }

        if let Some(secret) = input.string("secret") {
            if !creating {
                input.issue(
                    "secret",
                    "cannot be changed here; use POST /v1/subscriptions/{id}/rotate-secret",
                );
            } else if let Err(e) = SigningKey::parse(&secret) {
                input.issue("secret", e.to_string());
            } else {
                out.secret = Some(secret);
            }
        }

        if input.has("headers") {
            out.headers = Some(read_headers(&mut input));
        }
        if input.has("auth") {
            out.auth = Some(read_auth(&mut input));
        }

        if input.has("template") {
            match input.nullable_string("template") {
                Some(Some(t)) => {
                    if let Err(issue) = templates::check(&t, &sample_context()) {
                        input.issue("template", issue);
                    }
                    out.template = Some(Some(t));
                }
                Some(None) => out.template = Some(None),
                None => {}
            }
        }

        out.enabled = input.bool("enabled");
        if input.has("maxAttempts") {
            match input.raw("maxAttempts").and_then(Value::as_u64) {
                Some(n) if (1..=u64::from(MAX_MAX_ATTEMPTS)).contains(&n) => {
                    out.max_attempts = Some(n as u32)
                }
                _ => input.issue(
                    "maxAttempts",
                    format!("must be a whole number from 1 to {MAX_MAX_ATTEMPTS}"),
                ),
            }
        }
        if let Some(e) = unsafe_url {
            return Err(ApiError::UnsafeUrl(format!("url refused: {e}")));
        }
        input.finish()?;
        Ok(out)
    }
}

fn read_headers(input: &mut JsonInput) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match input.raw("headers").cloned() {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            if map.len() > MAX_HEADERS {
                input.issue("headers", format!("at most {MAX_HEADERS} headers"));
            }
            for (name, value) in map {
                if let Some(issue) = header_name_issue(&name) {
                    input.issue(
                        format!("headers.{}", name.chars().take(60).collect::<String>()),
                        issue,
                    );
                    continue;
                }
                match value.as_str() {
                    Some(v) if header_value_ok(v) => out.push((name, v.to_owned())),
                    _ => input.issue(
                        format!("headers.{name}"),
                        "must be a non-empty string without line breaks",
                    ),
                }
            }
        }
        Some(_) => input.issue("headers", "must be an object of header names to values"),
    }
    out
}

fn read_auth(input: &mut JsonInput) -> Option<(AuthKind, String)> {
    let auth = input.raw("auth").cloned()?;
    if auth.is_null() {
        return None;
    }
    let kind = auth["type"].as_str().unwrap_or("");
    match kind {
        "bearer" => match auth["token"].as_str() {
            Some(t) if header_value_ok(t) => Some((AuthKind::Bearer, t.to_owned())),
            _ => {
                input.issue(
                    "auth.token",
                    "is required: a non-empty string without line breaks",
                );
                None
            }
        },
        "header" => {
            let name = auth["name"].as_str().unwrap_or("");
            let value = auth["value"].as_str().unwrap_or("");
            if let Some(issue) = header_name_issue(name) {
                input.issue("auth.name", issue);
                return None;
            }
            if !header_value_ok(value) {
                input.issue(
                    "auth.value",
                    "is required: a non-empty string without line breaks",
                );
                return None;
            }
            Some((AuthKind::Header(name.to_owned()), value.to_owned()))
        }
        _ => {
            input.issue("auth.type", "must be \"bearer\" or \"header\"");
            None
        }
    }
}

impl SubChanges {
    fn apply(self, sub: &mut Subscription, key: &DataKey) {
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
        if let Some(v) = self.enabled {
            sub.enabled = v;
            if v {
                sub.disabled_reason = None;
            } else if sub.disabled_reason.is_none() {
                sub.disabled_reason = Some("disabled by an operator".into());
            }
        }
        if let Some(v) = self.max_attempts {
            sub.max_attempts = v;
        }
    }
}

/// Creates a subscription; returns it with its secret in clear.
pub async fn create(
    app: &App,
    mut changes: SubChanges,
) -> Result<(Subscription, String), ApiError> {
    let secrets = app.secrets.get().await?;
    let id = ids::new_id(IdKind::Subscription);
    let secret = changes.secret.take().unwrap_or_else(signing::new_secret);
    let now = clock::now_rfc3339();
    let mut sub = Subscription {
        pk: pk(&id),
        sk: SK.into(),
        gsi1pk: COLLECTION.into(),
        gsi1sk: id.clone(),
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
        enabled: true,
        disabled_reason: None,
        max_attempts: DEFAULT_MAX_ATTEMPTS,
        created_at: now.clone(),
        updated_at: now,
    };
    changes.apply(&mut sub, &secrets.data_key);
    match app.store.put_new(&sub).await? {
        Write::Done => Ok((sub, secret)),
        Write::Conflict => Err(ApiError::Conflict(
            "subscription id collision; try again".into(),
        )),
    }
}

pub async fn get(app: &App, id: &str) -> Result<Option<Subscription>, Error> {
    if !ids::is_valid(IdKind::Subscription, id) {
        return Ok(None);
    }
    app.store.get(&pk(id), SK).await
}

pub async fn list(app: &App, page: &PageRequest) -> Result<Page<Subscription>, ApiError> {
    app.store.query_page(GSI1, COLLECTION, page, true).await
}

/// Every subscription (for fan-out), oldest first.
pub async fn all(app: &App) -> Result<Vec<Subscription>, Error> {
    let mut out = Vec::new();
    let mut page = PageRequest {
        limit: crate::aws::pagination::MAX_LIMIT,
        cursor: None,
    };
    loop {
        let batch: Page<Subscription> = app
            .store
            .query_page(GSI1, COLLECTION, &page, false)
            .await
            .map_err(|e| Error::Data(e.to_string()))?;
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
pub async fn save(app: &App, sub: &mut Subscription) -> Result<(), ApiError> {
    let previous = bump(sub);
    let values = std::collections::HashMap::from([(":prev".to_owned(), s(previous))]);
    match app
        .store
        .put_if(sub, "attribute_exists(pk) AND updatedAt = :prev", values)
        .await?
    {
        Write::Done => Ok(()),
        Write::Conflict => Err(ApiError::Conflict(
            "the subscription changed while this request ran; read it again and retry".into(),
        )),
    }
}

pub async fn update(app: &App, id: &str, changes: SubChanges) -> Result<Subscription, ApiError> {
    let secrets = app.secrets.get().await?;
    let mut sub = get(app, id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    changes.apply(&mut sub, &secrets.data_key);
    save(app, &mut sub).await?;
    Ok(sub)
}

/// Issues a new secret; the old one keeps signing (second) for `grace`.
pub async fn rotate_secret(
    app: &App,
    id: &str,
    grace_s: u64,
) -> Result<(Subscription, String), ApiError> {
    let secrets = app.secrets.get().await?;
    let mut sub = get(app, id)
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
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
    save(app, &mut sub).await?;
    Ok((sub, new))
}

pub async fn delete(app: &App, id: &str) -> Result<(), ApiError> {
    if !ids::is_valid(IdKind::Subscription, id) {
        return Err(ApiError::NotFound("subscription"));
    }
    match app
        .store
        .delete(&pk(id), SK, Some("attribute_exists(pk)"))
        .await?
    {
        Write::Done => Ok(()),
        Write::Conflict => Err(ApiError::NotFound("subscription")),
    }
}

/// Turns a subscription off with a reason, keeping everything else (a 410
/// from the receiver does this).
pub async fn disable(app: &App, id: &str, reason: &str) -> Result<(), Error> {
    let now = clock::now_rfc3339();
    app.store
        .update_if(
            &pk(id),
            SK,
            "SET enabled = :f, disabledReason = :r, updatedAt = :now",
            Some("attribute_exists(pk)"),
            vec![],
            vec![
                (":f", aws_sdk_dynamodb::types::AttributeValue::Bool(false)),
                (":r", s(reason)),
                (":now", s(now)),
            ],
        )
        .await
        .map(|_| ())
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
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    pub max_attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl SubscriptionView {
    /// `secret` in clear where it may be shown (creation, rotation); header
    /// and auth values are always masked.
    pub fn new(sub: Subscription, secret: Option<&str>) -> Self {
        let now = clock::now_ms();
        SubscriptionView {
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
            id: sub.id,
            url: sub.url,
            events: sub.events,
            sources: sub.sources,
            template: sub.template,
            enabled: sub.enabled,
            disabled_reason: sub.disabled_reason,
            max_attempts: sub.max_attempts,
            created_at: sub.created_at,
            updated_at: sub.updated_at,
        }
    }
}
