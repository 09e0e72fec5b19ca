//! `deliver`: the deliveries-queue consumer. Each record names a delivery;
//! the records of a batch run concurrently over one kept-alive client, and
//! each goes through the same stages:
//!
//! prepare (read the delivery and its subscription) → [`send`] one signed
//! attempt → [`attempt::decide`] what it means → record it, then act:
//! delivered, retry after the back-off (a batch item failure whose
//! visibility is set to the delay), or dead after the subscription's
//! `maxAttempts` in a round (parked on the deliveries DLQ; a 410 also
//! disables the subscription). A redrive or retry starts a new round,
//! attempt numbers counting on.

pub mod attempt;
pub mod send;

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::Instrument;

use crate::app::App;
use crate::aws::batch::{self, Outcome};
use crate::aws::queue::DeliveryMessage;
use crate::error::Error;
use crate::model::deliveries::{self, AttemptRecord, Delivery, DeliveryStatus};
use crate::model::subscriptions::{self, Subscription};
use crate::rules::clock;
use attempt::{Answered, Next, Policy};

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

/// What preparing an attempt found.
enum Prepared {
    /// Send the next attempt of `delivery` to `sub`.
    Send {
        delivery: Box<Delivery>,
        sub: Box<Subscription>,
    },
    /// Nothing to send (done already, or ended here).
    Nothing,
}

/// Makes the next attempt of a delivery and records it.
pub async fn attempt_delivery(app: &App, delivery_id: &str) -> Result<Outcome, Error> {
    let (delivery, sub) = match prepare(app, delivery_id).await? {
        Prepared::Send { delivery, sub } => (delivery, sub),
        Prepared::Nothing => return Ok(Outcome::Done),
    };
    let n = delivery.attempt_count + 1;
    let result = send::send(
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
    let policy = Policy {
        max_attempts: sub.max_attempts,
        base: app.config.retry_base,
        max: app.config.retry_max,
    };
    let answered = Answered {
        status_code: result.status_code,
        retry_after: result.retry_after,
    };
    let next = attempt::decide(answered, in_round, policy);
    tracing::info!(
        attempt = n,
        status_code = result.status_code,
        duration_ms = result.duration.as_millis() as u64,
        error = result.error.as_deref(),
        outcome = ?next.status(),
        "attempt"
    );
    let record = AttemptRecord {
        n,
        status_code: result.status_code,
        duration_ms: result.duration.as_millis() as u64,
        error: result.error.as_deref(),
        response: result.response.as_deref(),
    };
    if !deliveries::record_attempt(app, &delivery, record, next.status()).await? {
        // Another copy of the message made this attempt first.
        return Ok(Outcome::Done);
    }
    match next {
        Next::Delivered => Ok(Outcome::Done),
        Next::Retry { delay } => Ok(Outcome::Retry {
            delay,
            reason: result.error.unwrap_or_default(),
        }),
        Next::Gone => {
            let reason = format!("the endpoint answered 410 Gone at {}", clock::now_rfc3339());
            subscriptions::disable(app, &sub.id, &reason).await?;
            tracing::warn!(subscription_id = %sub.id, "410 Gone: subscription disabled");
            park(app, &delivery).await
        }
        Next::Dead => park(app, &delivery).await,
    }
}

/// Reads the delivery and its subscription; ends the delivery here when its
/// subscription is gone or off.
async fn prepare(app: &App, delivery_id: &str) -> Result<Prepared, Error> {
    let Some(delivery) = deliveries::get(app, delivery_id).await? else {
        tracing::warn!("delivery not found; message dropped");
        return Ok(Prepared::Nothing);
    };
    if delivery.status != DeliveryStatus::Pending {
        return Ok(Prepared::Nothing);
    }
    let reason = match subscriptions::get(app, &delivery.subscription_id).await? {
        Some(sub) if sub.enabled => {
            return Ok(Prepared::Send {
                delivery: Box::new(delivery),
                sub: Box::new(sub),
            });
        }
        Some(sub) => format!(
            "subscription disabled: {}",
            sub.disabled_reason.unwrap_or_default()
        ),
        None => "subscription deleted".to_owned(),
    };
    deliveries::finish(app, &delivery, DeliveryStatus::Dead, &reason).await?;
    Ok(Prepared::Nothing)
}

/// Parks a dead delivery where an operator sees it and can redrive it.
async fn park(app: &App, delivery: &Delivery) -> Result<Outcome, Error> {
    let message = DeliveryMessage {
        delivery_id: delivery.id.clone(),
    };
    app.queue
        .send(&app.config.deliveries_dlq_url, &message)
        .await?;
    Ok(Outcome::Done)
}
