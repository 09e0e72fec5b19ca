//! `process`: the leads-queue consumer. Each record of an SQS batch names an
//! event; the records run concurrently and each ends one of three ways:
//!
//! * done — the event is `PROCESSED`, `DUPLICATE` or `FAILED` (with its
//!   reason), or it was already finished: the message is deleted;
//! * retry — a transient failure (throttling, Graph 5xx/429, a timeout): the
//!   record is reported as a batch item failure, its visibility set to the
//!   back-off for its receive count; past `maxReceiveCount` SQS moves it to
//!   the leads DLQ;
//! * poison — a body that is not a lead message: reported as a failure with
//!   no delay, so it reaches the DLQ after `maxReceiveCount` receives.

pub mod dedupe;
pub mod erase;
pub mod fan_out;
pub mod outcome;

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::Instrument;

use crate::app::{App, Scope};
use crate::aws::batch::{self, Outcome};
use crate::aws::queue::LeadsMessage;
use crate::error::AwsErrorKind;

use crate::model::events::{self, EventRecord, EventStatus};
use crate::model::leads;
use crate::providers::meta;
use crate::rules::clock;
use crate::rules::inbound::LeadInput;
use dedupe::Resolution;
use outcome::{Backoff, Failure};

/// The `process` function's handler.
pub async fn handle(app: &App, event: SqsEvent) -> SqsBatchResponse {
    batch::run(app, &app.config.leads_queue_url, &event, |r| {
        handle_record(app, r)
    })
    .await
}

async fn handle_record(app: &App, record: &SqsMessage) -> Outcome {
    let message_id = record.message_id.clone().unwrap_or_default();
    let span = tracing::info_span!("process", message_id = %message_id, event_id = tracing::field::Empty, lead_id = tracing::field::Empty);
    async {
        let attempt = batch::receive_count(record);
        let body = record.body.as_deref().unwrap_or_default();
        let Some(message) = LeadsMessage::parse(body) else {
            tracing::error!(attempt, "poison message: not a leads-queue message; it goes to the DLQ");
            return Outcome::Retry {
                delay: Duration::ZERO,
                reason: "not a leads-queue message".into(),
            };
        };
        let scope = app.scope(message.workspace().clone());
        let event_id = match message {
            LeadsMessage::Event { event_id, .. } => event_id,
            LeadsMessage::FanOut {
                lead_id, cause_id, ..
            } => return fan_out_again(&scope, &lead_id, &cause_id, attempt).await,
        };
        tracing::Span::current().record("event_id", event_id.as_str());
        let outcome = process_event(&scope, event_id.as_str(), attempt).await;
        match &outcome {
            Outcome::Done => {}
            Outcome::Retry { delay, reason } => {
                tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, reason = %reason, "will retry")
            }
        }
        outcome
    }
    .instrument(span)
    .await
}

/// Makes the deliveries of a fan-out that failed where it started (see
/// [`LeadsMessage::FanOut`]); a fan-out is safe to run again.
async fn fan_out_again(
    scope: &Scope,
    lead_id: &crate::rules::ids::LeadId,
    cause_id: &crate::rules::ids::CauseId,
    attempt: u32,
) -> Outcome {
    tracing::Span::current().record("lead_id", lead_id.as_str());
    match fan_out::fan_out_again_as(scope, lead_id, cause_id, false).await {
        Ok(n) => {
            tracing::info!(deliveries = n, cause_id = %cause_id, "fan-out finished");
            Outcome::Done
        }
        Err(e) => backoff_policy(scope).retry(attempt, e.to_string(), None),
    }
}

/// The back-off between tries of one lead message: the delivery base,
/// the long lead cap (an hour's Graph outage fits in the queue's receives).
fn backoff_policy(app: &App) -> Backoff {
    Backoff {
        base: app.config.retry_base,
        max: app.config.lead_retry_max,
    }
}

/// Processes one event, exactly once in effect.
pub async fn process_event(scope: &Scope, event_id: &str, attempt: u32) -> Outcome {
    let policy = backoff_policy(scope);
    let backoff = |reason: String, hint: Option<Duration>| policy.retry(attempt, reason, hint);
    let event = match events::get(scope, event_id).await {
        Ok(Some(e)) => e,
        Ok(None) => {
            // Removed by ingest after a failed enqueue: the caller was told to retry.
            tracing::warn!("event not found; message dropped");
            return Outcome::Done;
        }
        Err(e) => return backoff(e.to_string(), None),
    };
    if event.status != EventStatus::Received {
        // Processed before (a redelivered message): finish a fan-out that
        // may have been cut short, then stop.
        tracing::info!(status = event.status.as_str(), "already processed");
        return match &event.lead_id {
            Some(lead_id) => {
                // The marker too: a stop may have come between the event's
                // end and its write.
                if let Err(e) = remember_provider_lead(scope, &event, lead_id).await {
                    return backoff(e.to_string(), None);
                }
                match fan_out::fan_out_again_as(
                    scope,
                    lead_id,
                    &(&event.id).into(),
                    event.is_test(),
                )
                .await
                {
                    Ok(_) => Outcome::Done,
                    Err(e) => backoff(e.to_string(), None),
                }
            }
            None => Outcome::Done,
        };
    }
    let input = match lead_input(scope, &event).await {
        Ok(input) => input,
        Err(Failure::Permanent(reason)) => return fail(scope, &event, &reason, attempt).await,
        Err(Failure::Transient {
            reason,
            retry_after,
        }) => return backoff(reason, retry_after),
    };
    let lead_id = match dedupe::resolve(scope, &event, &input).await {
        Ok(Resolution::Created { lead }) => {
            tracing::info!(lead_id = %lead.id, "lead created");
            lead.id
        }
        Ok(Resolution::Duplicate { lead, re_engaged }) => {
            tracing::info!(lead_id = %lead.id, re_engaged, "duplicate merged");
            lead.id
        }
        Ok(Resolution::AlreadyDone) => match events::get(scope, event.id.as_str()).await {
            Ok(Some(EventRecord {
                lead_id: Some(id), ..
            })) => id,
            // The event went (ingest removes one whose message it could not
            // queue) or ended without a lead while this try wrote its lead:
            // the lead stands, so its `lead.created` is still sent.
            Ok(_) => match created_by_this(scope, &event).await {
                Ok(Some(id)) => id,
                Ok(None) => return Outcome::Done,
                Err(e) => return backoff(e.to_string(), None),
            },
            Err(e) => return backoff(e.to_string(), None),
        },
        // A write DynamoDB refuses outright can never succeed.
        Err(e) if e.aws_kind() == Some(AwsErrorKind::Validation) => {
            return fail(
                scope,
                &event,
                &format!("the lead cannot be stored: {e}"),
                attempt,
            )
            .await;
        }
        Err(e) => return backoff(e.to_string(), None),
    };
    if let Err(e) = remember_provider_lead(scope, &event, &lead_id).await {
        return backoff(e.to_string(), None);
    }
    match fan_out::fan_out_as(scope, &lead_id, &(&event.id).into(), event.is_test()).await {
        Ok(_) => Outcome::Done,
        // The event is finished; the retry finds it so and fans out again.
        Err(e) => backoff(e.to_string(), None),
    }
}

/// For a provider that announces deletions (LinkedIn), which lead its lead
/// id made: one put, for those leads only (see
/// [`crate::model::provider_leads`]). Idempotent.
async fn remember_provider_lead(
    scope: &Scope,
    event: &EventRecord,
    lead_id: &crate::rules::ids::LeadId,
) -> Result<(), crate::Error> {
    let Some(meta) = &event.provider else {
        return Ok(());
    };
    match &meta.lead_id {
        Some(id) if crate::model::provider_leads::KEPT.contains(&meta.name.as_str()) => {
            crate::model::provider_leads::put(scope, &meta.name, id, lead_id).await
        }
        _ => Ok(()),
    }
}

/// The lead `event` created, if it created one.
async fn created_by_this(
    scope: &Scope,
    event: &EventRecord,
) -> Result<Option<crate::rules::ids::LeadId>, crate::Error> {
    let mine = leads::lead_id_of(&event.id, &event.received_at);
    let cause: crate::rules::ids::CauseId = (&event.id).into();
    Ok(leads::get(scope, mine.as_str())
        .await?
        .filter(|l| l.created_by.as_ref() == Some(&cause))
        .map(|l| l.id))
}

/// The cleaned submission: stored by ingest, or fetched from the Graph API.
async fn lead_input(scope: &Scope, event: &EventRecord) -> Result<LeadInput, Failure> {
    let stored = events::input_of(scope, event)
        .await
        .map_err(|e| Failure::transient(e.to_string()))?;
    if let Some(text) = &stored {
        return serde_json::from_str(text)
            .map_err(|e| Failure::Permanent(format!("stored input unreadable: {e}")));
    }
    let Some(leadgen) = &event.leadgen else {
        return Err(Failure::Permanent(if event.input_apart {
            "the event's stored input is missing".into()
        } else {
            "event has neither input nor leadgen".into()
        }));
    };
    let secrets = scope
        .secrets
        .get()
        .await
        .map_err(|e| Failure::transient(e.to_string()))?;
    // The token of the page's registration in this workspace; the
    // deployment's own page token serves `default` (the set-up before
    // workspaces). A page nobody registered can never be fetched.
    let page = match leadgen.page_id.as_deref() {
        Some(id) => crate::model::pages::get(scope, id)
            .await
            .map_err(|e| Failure::transient(e.to_string()))?,
        None => None,
    };
    let registered = match &page {
        Some(p) => Some(
            p.access_token(&secrets.data_key)
                .map_err(|e| Failure::transient(e.to_string()))?,
        ),
        None => None,
    };
    let fallback = scope
        .ws()
        .is_default()
        .then(|| secrets.meta_page_token.clone())
        .flatten();
    let Some(token) = registered.or(fallback) else {
        return Err(Failure::Permanent(format!(
            "Meta page {} is not registered with any workspace (PUT /v1/meta/pages/{{pageId}}), and the deployment has no page token",
            leadgen.page_id.as_deref().unwrap_or("(none)")
        )));
    };
    let token = token.as_str();
    let http = scope
        .http()
        .map_err(|e| Failure::transient(e.to_string()))?;
    let fields = meta::fetch_lead(
        http,
        &scope.config.meta_graph_url,
        token,
        &leadgen.leadgen_id,
    )
    .await?;
    LeadInput::from_fields(fields, scope.config.default_region, None)
        .map_err(|issues| Failure::invalid_meta_lead(&issues))
}

async fn fail(scope: &Scope, event: &EventRecord, reason: &str, attempt: u32) -> Outcome {
    match events::mark_failed(scope, &event.id, reason, &clock::now_rfc3339()).await {
        Ok(_) => {
            tracing::warn!(reason, "event failed");
            Outcome::Done
        }
        Err(e) => backoff_policy(scope).retry(attempt, e.to_string(), None),
    }
}
