//! Deliveries: one per (lead event, subscription), with a stable id sent as
//! `webhook-id` on every attempt, and a log of every attempt.
//!
//! * [`fan_out`] turns a lead's new history entries into deliveries and
//!   queue messages (idempotent: the delivery id is derived from the entry
//!   and the subscription, and written only once).
//! * [`handle`] is the `deliver` function: a batch of messages, sent
//!   concurrently over one kept-alive client. A failed attempt is a batch
//!   item failure whose visibility is set to the back-off; after the
//!   subscription's `maxAttempts` in a round the delivery is `dead` and its
//!   message moves to the deliveries DLQ; a redrive or retry starts a new
//!   round, attempt numbers counting on.

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tracing::Instrument;

use crate::app::App;
use crate::aws::batch::{self, Outcome};
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::resources::{GSI1, GSI2};
use crate::aws::store::{Write, n, s};
use crate::errors::{ApiError, Error};
use crate::model::events::Source;
use crate::model::leads::{self, LeadEvent, LeadEventType, LeadRecord, LeadView};
use crate::model::subscriptions::{self, Subscription};
use crate::rules::clock;
use crate::rules::ids::{self, IdKind};
use crate::rules::retry;
use crate::rules::signing;
use crate::rules::ssrf;
use crate::rules::templates;

/// How much of a receiver's answer is kept with an attempt.
pub const RESPONSE_SNIPPET_BYTES: usize = 4096;
/// Attempt logs are kept this long.
const ATTEMPT_RETENTION_S: i64 = 30 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryStatus {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub gsi2pk: String,
    pub gsi2sk: String,
    pub id: String,
    pub subscription_id: String,
    pub event_type: LeadEventType,
    pub lead_id: String,
    pub source: Source,
    /// The default body, fixed when the delivery was made, so every attempt
    /// sends the same thing.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    /// The number of the first attempt of the current round.
    pub round_start: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// One attempt, stored beside its delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub pk: String,
    pub sk: String,
    pub n: u32,
    pub at: String,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    #[serde(default)]
    pub response: Option<String>,
    pub expires_at: i64,
}

/// The message on the deliveries queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryMessage {
    pub delivery_id: String,
}

pub fn pk(id: &str) -> String {
    format!("DLV#{id}")
}
const SK: &str = "DLV";
const COLLECTION: &str = "DELIVERIES";

fn by_subscription(sub_id: &str) -> String {
    format!("DELIVERIES#sub#{sub_id}")
}

/// The default webhook body (CONTRACT §7).
pub fn default_body(
    kind: LeadEventType,
    delivery_id: &str,
    occurred_at: &str,
    lead: &LeadView,
    entry: Option<&LeadEvent>,
) -> Value {
    let mut body = json!({
        "type": kind.as_str(),
        "deliveryId": delivery_id,
        "occurredAt": occurred_at,
        "lead": lead,
    });
    if let Some(e) = entry {
        if kind == LeadEventType::ReEngaged
            && let Some(p) = &e.previous_seen_at
        {
            body["previousSeenAt"] = json!(p);
        }
        if kind == LeadEventType::Updated
            && let Some(c) = e
                .changes
                .as_deref()
                .and_then(|c| serde_json::from_str::<Value>(c).ok())
        {
            body["changes"] = c;
        }
    }
    body
}

impl Delivery {
    fn new(entry: &LeadEvent, lead: &LeadRecord, sub: &Subscription) -> Self {
        let ms = clock::parse_rfc3339(&entry.occurred_at)
            .unwrap_or_else(clock::now_ms)
            .max(0) as u64;
        let id = ids::derived_id(
            IdKind::Delivery,
            ms,
            &format!("{}|{}|{}", entry.pk, entry.sk, sub.id),
        );
        let view = LeadView::from(lead.clone());
        let payload =
            default_body(entry.kind, &id, &entry.occurred_at, &view, Some(entry)).to_string();
        let now = clock::now_rfc3339();
        Delivery {
            pk: pk(&id),
            sk: SK.into(),
            gsi1pk: COLLECTION.into(),
            gsi1sk: id.clone(),
            gsi2pk: by_subscription(&sub.id),
            gsi2sk: id.clone(),
            subscription_id: sub.id.clone(),
            event_type: entry.kind,
            lead_id: lead.id.clone(),
            source: lead.source.clone(),
            payload,
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            round_start: 1,
            last_error: None,
            created_at: now.clone(),
            updated_at: now,
            id,
        }
    }
}

// ----- fan-out -----

/// Fans out every history entry of `lead` caused by `cause_id` that has not
/// been fanned out yet: one delivery and one message per enabled, matching
/// subscription, then marks the entry. Safe to run again after a crash.
pub async fn fan_out(app: &App, lead_id: &str, cause_id: &str) -> Result<usize, Error> {
    let entries: Vec<LeadEvent> = app
        .store
        .query_prefix(&leads::pk(lead_id), &format!("HIST#{cause_id}#"))
        .await?;
    let pending: Vec<LeadEvent> = entries.into_iter().filter(|e| !e.fanned_out).collect();
    if pending.is_empty() {
        return Ok(0);
    }
    let Some(lead) = leads::get(app, lead_id).await? else {
        return Ok(0);
    };
    let subs = subscriptions::all(app).await?;
    let mut messages = Vec::new();
    for entry in &pending {
        for sub in subs.iter().filter(|s| s.wants(entry.kind, &lead.source)) {
            let delivery = Delivery::new(entry, &lead, sub);
            let queue_it = match app.store.put_new(&delivery).await? {
                Write::Done => true,
                // Made by an earlier run that may have stopped before
                // queueing it: queue it again unless it was already tried.
                Write::Conflict => match get(app, &delivery.id).await? {
                    Some(d) => d.status == DeliveryStatus::Pending && d.attempt_count == 0,
                    None => false,
                },
            };
            if queue_it {
                messages.push(DeliveryMessage {
                    delivery_id: delivery.id.clone(),
                });
            }
        }
    }
    app.queue
        .send_all(&app.config.deliveries_queue_url, &messages)
        .await?;
    for entry in &pending {
        app.store
            .update_if(
                &entry.pk,
                &entry.sk,
                "SET fannedOut = :t",
                None,
                vec![],
                vec![(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))],
            )
            .await?;
    }
    if !messages.is_empty() {
        tracing::info!(lead_id, deliveries = messages.len(), "fanned out");
    }
    Ok(messages.len())
}

// ----- reads -----

pub async fn get(app: &App, id: &str) -> Result<Option<Delivery>, Error> {
    if !ids::is_valid(IdKind::Delivery, id) {
        return Ok(None);
    }
    app.store.get(&pk(id), SK).await
}

pub async fn attempts(app: &App, id: &str) -> Result<Vec<Attempt>, Error> {
    app.store.query_prefix(&pk(id), "ATT#").await
}

/// Deliveries, newest first, by subscription and/or status.
pub async fn list(
    app: &App,
    subscription_id: Option<&str>,
    status: Option<DeliveryStatus>,
    page: &PageRequest,
) -> Result<Page<Delivery>, ApiError> {
    let (gsi, partition) = match subscription_id {
        Some(sub) => (GSI2, by_subscription(sub)),
        None => (GSI1, COLLECTION.to_owned()),
    };
    match status {
        None => app.store.query_page(gsi, &partition, page, true).await,
        Some(st) => {
            let value = serde_json::to_value(st)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            app.store
                .query_page_filtered(
                    gsi,
                    &partition,
                    page,
                    true,
                    crate::aws::store::Filter {
                        expression: "#st = :v",
                        value: s(value),
                        name: Some(("#st", "status")),
                    },
                )
                .await
        }
    }
}

/// A delivery as the admin API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub subscription_id: String,
    pub event_type: LeadEventType,
    pub lead_id: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<AttemptView>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub n: u32,
    pub at: String,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

impl DeliveryView {
    pub fn new(d: Delivery, attempts: Vec<Attempt>, with_responses: bool) -> Self {
        DeliveryView {
            id: d.id,
            subscription_id: d.subscription_id,
            event_type: d.event_type,
            lead_id: d.lead_id,
            status: d.status,
            attempts: attempts
                .into_iter()
                .map(|a| AttemptView {
                    n: a.n,
                    at: a.at,
                    status_code: a.status_code,
                    duration_ms: a.duration_ms,
                    error: a.error,
                    response: if with_responses { a.response } else { None },
                })
                .collect(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

// ----- sending -----

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    pub status_code: Option<u16>,
    pub duration: Duration,
    pub error: Option<String>,
    pub response: Option<String>,
    pub retry_after: Option<Duration>,
}

impl AttemptResult {
    pub fn delivered(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// The body for a subscription: its template rendered, or the default body.
pub fn body_for(sub: &Subscription, payload: &str) -> String {
    match &sub.template {
        Some(t) => {
            let ctx: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
            templates::render(t, &ctx)
        }
        None => payload.to_owned(),
    }
}

/// Sends one signed attempt. Never fails: every problem is in the result.
pub async fn send(
    app: &App,
    sub: &Subscription,
    delivery_id: &str,
    kind: LeadEventType,
    source: &Source,
    payload: &str,
    attempt: u32,
) -> AttemptResult {
    let started = Instant::now();
    let fail = |error: String| AttemptResult {
        status_code: None,
        duration: started.elapsed(),
        error: Some(error),
        response: None,
        retry_after: None,
    };
    let target = match ssrf::check_url(&sub.url, app.config.allow_private_targets) {
        Ok(t) => t,
        Err(e) => return fail(format!("url refused: {e}")),
    };
    let secrets = match app.secrets.get().await {
        Ok(s) => s,
        Err(e) => return fail(format!("secrets unavailable: {e}")),
    };
    let creds = match sub.credentials(&secrets.data_key, clock::now_ms()) {
        Ok(c) => c,
        Err(e) => return fail(format!("subscription secrets unreadable: {e}")),
    };
    let body = body_for(sub, payload);
    let timestamp = clock::now_s();
    let (standard, body_sig) = signing::sign(&creds.keys, delivery_id, timestamp, body.as_bytes());
    let source_type = match source {
        Source::Webhook { .. } => "webhook",
        Source::MetaLeadAds { .. } => "meta_lead_ads",
    };
    let mut headers = http::HeaderMap::new();
    for (name, value) in creds.headers.iter().chain(creds.auth.iter()) {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.insert(n, v);
        }
    }
    // Inserted last: nothing configured can override them.
    let fixed: [(&str, String); 9] = [
        ("content-type", "application/json".into()),
        ("webhook-id", delivery_id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", standard),
        ("x-leadpipe-signature", body_sig),
        ("x-leadpipe-event", kind.as_str().to_owned()),
        ("x-leadpipe-source", source_type.to_owned()),
        ("x-leadpipe-delivery-id", delivery_id.to_owned()),
        ("x-leadpipe-attempt", attempt.to_string()),
    ];
    for (name, value) in fixed {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    let result = app
        .webhook_client()
        .post(target.url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            let what = if e.is_timeout() {
                "timed out after 10 s".to_owned()
            } else if e.is_connect() {
                format!(
                    "could not connect: {}",
                    crate::errors::chain(&e)
                        .split(": ")
                        .last()
                        .unwrap_or("refused")
                )
            } else {
                format!("request failed: {}", crate::errors::chain(&e))
            };
            return fail(what);
        }
    };
    let status = resp.status().as_u16();
    let retry_after = crate::rules::retry::retry_after(resp.headers());
    let mut snippet = Vec::new();
    while snippet.len() < RESPONSE_SNIPPET_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => snippet.extend_from_slice(
                &chunk[..chunk.len().min(RESPONSE_SNIPPET_BYTES - snippet.len())],
            ),
            _ => break,
        }
    }
    let error = match status {
        200..=299 => None,
        300..=399 => Some(format!("HTTP {status}: redirects are not followed")),
        _ => Some(format!("HTTP {status}")),
    };
    AttemptResult {
        status_code: Some(status),
        duration: started.elapsed(),
        error,
        response: (!snippet.is_empty()).then(|| String::from_utf8_lossy(&snippet).into_owned()),
        retry_after,
    }
}

// ----- the deliver function -----

/// The `deliver` function's handler.
pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    batch::run(app, &app.config.deliveries_queue_url, &event, |r| {
        deliver_record(app, r)
    })
    .await
}

async fn deliver_record(app: &App, record: &SqsMessage) -> Outcome {
    let message_id = record.message_id.clone().unwrap_or_default();
    let span = tracing::info_span!("deliver", message_id = %message_id, delivery_id = tracing::field::Empty);
    async {
        let Some(message) = record
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<DeliveryMessage>(b).ok())
        else {
            tracing::error!("poison message: not a delivery message; it goes to the DLQ");
            return Outcome::Retry {
                delay: Duration::ZERO,
                reason: "not a delivery message".into(),
            };
        };
        tracing::Span::current().record("delivery_id", message.delivery_id.as_str());
        match attempt_delivery(app, &message.delivery_id).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Retry {
                delay: app.config.retry_base,
                reason: e.to_string(),
            },
        }
    }
    .instrument(span)
    .await
}

/// Makes the next attempt of a delivery and records it.
pub async fn attempt_delivery(app: &App, delivery_id: &str) -> Result<Outcome, Error> {
    let Some(delivery) = get(app, delivery_id).await? else {
        tracing::warn!("delivery not found; message dropped");
        return Ok(Outcome::Done);
    };
    if delivery.status != DeliveryStatus::Pending {
        return Ok(Outcome::Done);
    }
    let sub = match subscriptions::get(app, &delivery.subscription_id).await? {
        Some(s) if s.enabled => s,
        Some(s) => {
            let reason = format!(
                "subscription disabled: {}",
                s.disabled_reason.unwrap_or_default()
            );
            finish(app, &delivery, DeliveryStatus::Dead, Some(&reason)).await?;
            return Ok(Outcome::Done);
        }
        None => {
            finish(
                app,
                &delivery,
                DeliveryStatus::Dead,
                Some("subscription deleted"),
            )
            .await?;
            return Ok(Outcome::Done);
        }
    };
    let n = delivery.attempt_count + 1;
    let result = send(
        app,
        &sub,
        &delivery.id,
        delivery.event_type,
        &delivery.source,
        &delivery.payload,
        n,
    )
    .await;
    let in_round = n + 1 - delivery.round_start;
    let gone = result.status_code == Some(410);
    let status = if result.delivered() {
        DeliveryStatus::Delivered
    } else if gone || in_round >= sub.max_attempts {
        DeliveryStatus::Dead
    } else {
        DeliveryStatus::Pending
    };
    tracing::info!(
        attempt = n,
        status_code = result.status_code,
        duration_ms = result.duration.as_millis() as u64,
        error = result.error.as_deref(),
        outcome = ?status,
        "attempt"
    );
    if !record_attempt(app, &delivery, n, &result, status).await? {
        // Another copy of the message made this attempt first.
        return Ok(Outcome::Done);
    }
    if gone {
        let reason = format!("the endpoint answered 410 Gone at {}", clock::now_rfc3339());
        subscriptions::disable(app, &sub.id, &reason).await?;
        tracing::warn!(subscription_id = %sub.id, "410 Gone: subscription disabled");
    }
    match status {
        DeliveryStatus::Delivered => Ok(Outcome::Done),
        DeliveryStatus::Dead => {
            // Parked where an operator sees it and can redrive it.
            app.queue
                .send(
                    &app.config.deliveries_dlq_url,
                    &DeliveryMessage {
                        delivery_id: delivery.id.clone(),
                    },
                )
                .await?;
            Ok(Outcome::Done)
        }
        DeliveryStatus::Pending => Ok(Outcome::Retry {
            delay: retry::backoff_with_hint(
                in_round,
                app.config.retry_base,
                app.config.retry_max,
                result.retry_after,
            ),
            reason: result.error.unwrap_or_default(),
        }),
    }
}

/// Stores attempt `n`, then moves the delivery on from attempt `n - 1`;
/// false when it had already moved (a duplicate message raced this one and
/// made the same attempt). Two writes, not a transaction: a transaction
/// bills each item, and each index copy, twice, and nothing here needs one.
/// The attempt is keyed by its number, so a crash between the writes leaves
/// a record that the retry of that same attempt overwrites.
async fn record_attempt(
    app: &App,
    d: &Delivery,
    n: u32,
    r: &AttemptResult,
    status: DeliveryStatus,
) -> Result<bool, Error> {
    let now = clock::now_rfc3339();
    let attempt = Attempt {
        pk: pk(&d.id),
        sk: format!("ATT#{n:06}"),
        n,
        at: now.clone(),
        status_code: r.status_code,
        duration_ms: r.duration.as_millis() as u64,
        error: r.error.clone(),
        response: r.response.clone(),
        expires_at: clock::now_s() + ATTEMPT_RETENTION_S,
    };
    let status_text = serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    app.store.put(&attempt).await?;
    let moved = app
        .store
        .update_if(
            &d.pk,
            SK,
            "SET attemptCount = :n, #st = :s, updatedAt = :now, lastError = :e",
            Some("attemptCount = :prev"),
            vec![("#st", "status")],
            vec![
                (":n", crate::aws::store::n(i64::from(n))),
                (":prev", crate::aws::store::n(i64::from(n - 1))),
                (":s", s(status_text)),
                (":now", s(now)),
                (
                    ":e",
                    r.error
                        .clone()
                        .map(s)
                        .unwrap_or(aws_sdk_dynamodb::types::AttributeValue::Null(true)),
                ),
            ],
        )
        .await?;
    Ok(moved == crate::aws::store::Write::Done)
}

async fn finish(
    app: &App,
    d: &Delivery,
    status: DeliveryStatus,
    reason: Option<&str>,
) -> Result<(), Error> {
    let status_text = serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    app.store
        .update_if(
            &d.pk,
            SK,
            "SET #st = :s, updatedAt = :now, lastError = :e",
            None,
            vec![("#st", "status")],
            vec![
                (":s", s(status_text)),
                (":now", s(clock::now_rfc3339())),
                (":e", s(reason.unwrap_or(""))),
            ],
        )
        .await
        .map(|_| ())
}

/// Starts a new round of attempts for a delivery (retry, redrive): status
/// `pending`, the next attempt counts from where the last left off.
pub async fn reopen(app: &App, id: &str) -> Result<Option<Delivery>, Error> {
    let Some(d) = get(app, id).await? else {
        return Ok(None);
    };
    app.store
        .update_if(
            &d.pk,
            SK,
            "SET #st = :p, roundStart = :r, updatedAt = :now",
            Some("attemptCount = :c"),
            vec![("#st", "status")],
            vec![
                (":p", s("pending")),
                (":r", n(i64::from(d.attempt_count + 1))),
                (":now", s(clock::now_rfc3339())),
                (":c", n(i64::from(d.attempt_count))),
            ],
        )
        .await?;
    get(app, id).await
}
