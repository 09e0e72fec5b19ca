//! `deliver`: the deliveries-queue consumer. Each record names a delivery;
//! the records of a batch run concurrently over one kept-alive client, and
//! each goes through the same stages:
//!
//! prepare (read the delivery and its subscription) → [`send`] one signed
//! attempt → [`attempt::decide`] what it means → record it, then act:
//! delivered, retry after the subscription's schedule's next step (a batch
//! item failure whose visibility is set to the delay, chained past SQS's
//! 12-hour ceiling), or dead once the schedule is spent in a round (parked
//! on the deliveries DLQ; a 410 also disables the subscription). A redrive or retry starts a new round,
//! attempt numbers counting on.

pub mod attempt;
pub mod destinations;
pub mod first;
mod give_up;
pub mod held;
pub mod send;

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use tracing::Instrument;

use crate::app::{App, Scope};
use crate::aws::batch::{self, Outcome};
use crate::aws::queue::DeliveriesMessage;
use crate::aws::resources::DELIVERIES_QUEUE;
use crate::error::Error;
use crate::model::deliveries::{
    self, AttemptRecord, Claim, Claimed, Delivery, DeliveryStatus, Finished,
};
use crate::model::health::{self, Health};
use crate::model::subscriptions::{self, Subscription};
use crate::ops;
use crate::rules::{clock, schedule};
use attempt::{Answered, Next, Policy};
use give_up::give_up;

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
        let Some(DeliveriesMessage::Attempt {
            workspace,
            delivery_id,
        }) = record.body.as_deref().and_then(DeliveriesMessage::parse)
        else {
            tracing::error!("poison message: not a delivery message; it goes to the DLQ");
            return Outcome::Retry {
                delay: Duration::ZERO,
                reason: "not a delivery message".into(),
            };
        };
        tracing::Span::current().record("delivery_id", delivery_id.as_str());
        let scope = app.scope(workspace);
        let outcome = match attempt_delivery(&scope, &delivery_id).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Retry {
                delay: app.config.retry_base,
                reason: e.to_string(),
            },
        };
        match outcome {
            Outcome::Retry { reason, .. } if last_receive(record) => {
                give_up(&scope, &delivery_id, &reason).await
            }
            outcome => outcome,
        }
    }
    .instrument(span)
    .await
}

/// How long a claimed attempt is held: past the consumer's timeout (the
/// deployment's, `LEADPIPE_DELIVER_TIMEOUT_SECONDS`, up to Lambda's 900 s),
/// so a copy of the message never sends while the claimant still may.
pub fn lease(config: &crate::Config) -> Duration {
    config.deliver_timeout + Duration::from_secs(10)
}

/// A pending delivery untouched for this long has no message that will
/// move it on (its longest wait is one back-off plus one lease): the
/// sweeper and a redrive queue it again.
/// `LEADPIPE_DELIVERY_STALL_SECONDS` sets it outright (a shorter one only
/// costs extra messages: a claim keeps a copy from sending twice).
pub fn stall_after(config: &crate::Config) -> Duration {
    config
        .delivery_stall
        .unwrap_or(config.retry_max + lease(config) + Duration::from_secs(60))
}

/// True on the last receive before SQS would dead-letter the message.
fn last_receive(record: &SqsMessage) -> bool {
    batch::receive_count(record) + 1 >= DELIVERIES_QUEUE.max_receive_count
}

/// What preparing an attempt found.
enum Prepared {
    /// Send attempt `claim.n` of `delivery` to `sub`.
    Send {
        delivery: Box<Delivery>,
        sub: Box<Subscription>,
        claim: Claim,
        health: Option<Box<Health>>,
    },
    /// Look again after this long: another copy is making an attempt, the
    /// next attempt is not due, or an abandoned first attempt was just
    /// recorded (at once).
    Wait(Duration),
    /// Dead: make sure it is parked on the DLQ.
    Park(Box<Delivery>),
    /// Nothing to do (delivered, unknown, or another copy moved it).
    Nothing,
}

/// Makes the next attempt of a delivery and records it.
pub async fn attempt_delivery(scope: &Scope, delivery_id: &str) -> Result<Outcome, Error> {
    let (delivery, sub, claim, health) = match prepare(scope, delivery_id).await? {
        Prepared::Send {
            delivery,
            sub,
            claim,
            health,
        } => (delivery, sub, claim, health),
        Prepared::Wait(delay) => {
            return Ok(Outcome::Retry {
                delay,
                reason: "waiting: another copy's attempt, or the next step".into(),
            });
        }
        Prepared::Park(delivery) => return park(scope, &delivery).await,
        Prepared::Nothing => return Ok(Outcome::Done),
    };
    let Some(made) = make_attempt(scope, &delivery, &sub, claim, health.as_deref(), None).await?
    else {
        // The lease ran out mid-attempt and another copy went on.
        return Ok(Outcome::Done);
    };
    match made.next {
        Next::Delivered => Ok(Outcome::Done),
        // SQS hides the message for at most 12 hours: a longer step comes
        // back early, finds the attempt not due, and waits the rest.
        Next::Retry { delay } => Ok(Outcome::Retry {
            delay: schedule::hop(delay),
            reason: made.error.unwrap_or_default(),
        }),
        // Dead is written first and the message kept until the DLQ has
        // its copy: a crash in between brings the message back, and a
        // message that finds its delivery dead parks it (see `prepare`).
        Next::Gone | Next::Dead => park(scope, &delivery).await,
    }
}

/// What a recorded attempt came to.
pub struct Made {
    pub next: Next,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// Sends attempt `claim.n` of `delivery` to `sub` (giving up after
/// `budget` when one is set: no answer in time is a failed attempt),
/// records it, and keeps the subscription's health and the operational
/// events; `None` when the claim was lost meanwhile. What follows (the
/// next try, parking) is the caller's.
pub async fn make_attempt(
    scope: &Scope,
    delivery: &Delivery,
    sub: &Subscription,
    claim: Claim,
    health: Option<&Health>,
    budget: Option<Duration>,
) -> Result<Option<Made>, Error> {
    let n = claim.n;
    let sending = send::send(
        scope,
        sub,
        &delivery.id,
        delivery.event_type,
        &delivery.source,
        &delivery.payload,
        n,
    );
    let result = match budget {
        None => sending.await,
        Some(budget) => match tokio::time::timeout(budget, sending).await {
            Ok(result) => result,
            Err(_) => send::AttemptResult {
                status_code: None,
                duration: budget,
                error: Some(format!(
                    "no answer within the first attempt's {} ms; the next attempt goes through the queue",
                    budget.as_millis()
                )),
                response: None,
                retry_after: None,
            },
        },
    };
    let in_round = n + 1 - delivery.round_start;
    let schedule = sub.schedule(&scope.config);
    let policy = Policy {
        schedule: &schedule,
        unit: scope.config.retry_unit,
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
    if next == Next::Gone {
        // Disabled first: a crash after this finds the subscription off
        // and ends the delivery dead, parked, all the same.
        let reason = format!("the endpoint answered 410 Gone at {}", clock::now_rfc3339());
        if subscriptions::disable(scope, &sub.id, &reason).await? {
            tracing::warn!(subscription_id = %sub.id, "410 Gone: subscription disabled");
            ops::tell(scope, ops::disabled(sub, &reason)).await;
        }
    }
    let record = AttemptRecord {
        n,
        status_code: result.status_code,
        duration_ms: result.duration.as_millis() as u64,
        error: result.error.as_deref(),
        response: result.response.as_deref(),
        next_attempt_at_ms: match next {
            Next::Retry { delay } => {
                Some(clock::now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 4))
            }
            _ => None,
        },
    };
    if !deliveries::record_attempt(scope, delivery, &claim, record, next.status()).await? {
        return Ok(None);
    }
    if matches!(next, Next::Dead | Next::Gone) {
        // The dead-deliveries alarm counts this line (infra alarms.tf).
        tracing::error!(
            subscription_id = %sub.id,
            lead_id = delivery.lead_id.as_deref(),
            attempt = n,
            status_code = result.status_code,
            "delivery dead"
        );
        // An operational event's own death raises nothing (no loops).
        if !delivery.event_type.is_ops() {
            let last = ops::LastAnswer {
                status_code: result.status_code,
                error: result.error.as_deref(),
            };
            ops::tell(scope, ops::exhausted(delivery, n, Some(sub), last)).await;
        }
    }
    // The subscription's health: failures counted (failing, disabled after
    // the span), a success ends a failing spell and releases the held.
    let last = ops::LastAnswer {
        status_code: result.status_code,
        error: result.error.as_deref(),
    };
    match next {
        Next::Delivered => {
            let released = Box::pin(held::after_success(scope, sub, health)).await;
            // Reported before: it died once and was retried, or it was the
            // probe of a failing subscription.
            if !delivery.event_type.is_ops() && (delivery.round_start > 1 || released.is_some()) {
                ops::tell(scope, ops::recovered(delivery, n, released)).await;
            }
        }
        Next::Retry { .. } => {
            Box::pin(held::after_failure(scope, sub, delivery, false, last)).await;
        }
        Next::Dead => Box::pin(held::after_failure(scope, sub, delivery, true, last)).await,
        Next::Gone => {}
    }
    Ok(Some(Made {
        next,
        error: result.error,
    }))
}

/// Reads the delivery and its subscription, and claims the next attempt;
/// ends the delivery here when its subscription is gone or off.
async fn prepare(scope: &Scope, delivery_id: &str) -> Result<Prepared, Error> {
    let Some(delivery) = deliveries::get_to_send(scope, delivery_id).await? else {
        tracing::warn!("delivery not found; message dropped");
        return Ok(Prepared::Nothing);
    };
    match delivery.status {
        DeliveryStatus::Delivered => return Ok(Prepared::Nothing),
        DeliveryStatus::Dead => return Ok(Prepared::Park(Box::new(delivery))),
        DeliveryStatus::Pending => {}
    }
    // A first attempt `process` claimed and never recorded: waited for
    // while its lease runs, recorded as unanswered once it ran out (then
    // the next attempt follows, with the delivery listed).
    let now_ms = clock::now_ms();
    match deliveries::abandoned_first(&delivery, now_ms) {
        None => {}
        Some(Err(until_ms)) => {
            let rest = u64::try_from(until_ms - now_ms).unwrap_or(0);
            return Ok(Prepared::Wait(Duration::from_millis(rest + 1_000)));
        }
        Some(Ok(claim)) => {
            first::record_abandoned(scope, &delivery, &claim).await?;
            return Ok(Prepared::Wait(Duration::ZERO));
        }
    }
    let reason = match subscriptions::get(scope, &delivery.subscription_id).await? {
        // A CLI listener's deliveries wait, pending, for `leadpipe listen`
        // to collect them (see `crate::listen`).
        Some(sub) if sub.enabled && crate::listen::is_listener(&sub) => {
            return Ok(Prepared::Nothing);
        }
        Some(sub) if sub.enabled => {
            // Not due yet (a step longer than SQS hides a message): wait
            // the rest, in hops of at most 12 hours.
            if let Some(at) = delivery.next_attempt_at_ms
                && at - clock::now_ms() > 1_000
            {
                let rest = u64::try_from(at - clock::now_ms()).unwrap_or(0);
                return Ok(Prepared::Wait(schedule::hop(Duration::from_millis(rest))));
            }
            // A failing subscription's deliveries wait, but for its probe.
            let health = Box::pin(health::get(scope, &sub.id)).await?;
            if Box::pin(held::gate(scope, health.as_ref(), &delivery)).await? == held::Gate::Hold {
                if Box::pin(deliveries::hold(scope, &delivery)).await? {
                    tracing::info!(subscription_id = %sub.id, "held: the subscription is failing");
                    // A release (recovery, or disabling) that ran between
                    // the read and the hold did not see this one: look again.
                    let now = Box::pin(health::get(scope, &sub.id)).await?;
                    if !now.as_ref().is_some_and(Health::failing) {
                        return Ok(Prepared::Wait(Duration::ZERO));
                    }
                }
                return Ok(Prepared::Nothing);
            }
            return Ok(
                match deliveries::claim(scope, &delivery, lease(&scope.config)).await? {
                    Claimed::Yes(claim) => Prepared::Send {
                        delivery: Box::new(delivery),
                        sub: Box::new(sub),
                        claim,
                        health: health.map(Box::new),
                    },
                    Claimed::Busy { until_ms } => Prepared::Wait(Duration::from_millis(
                        u64::try_from(until_ms - clock::now_ms()).unwrap_or(0) + 1_000,
                    )),
                    Claimed::Moved => Prepared::Nothing,
                },
            );
        }
        Some(sub) => format!(
            "subscription disabled: {}",
            sub.disabled_reason.unwrap_or_default()
        ),
        None => "subscription deleted".to_owned(),
    };
    Ok(
        match deliveries::finish(scope, &delivery, DeliveryStatus::Dead, &reason).await? {
            // Ended here (a lost answer included: `finish` tells its own
            // write from another's).
            Finished::Now => {
                tracing::error!(subscription_id = %delivery.subscription_id, lead_id = delivery.lead_id.as_deref(), reason = %reason, "delivery dead");
                Prepared::Park(Box::new(delivery))
            }
            Finished::Claimed { until_ms } => Prepared::Wait(Duration::from_millis(
                u64::try_from(until_ms - clock::now_ms()).unwrap_or(0) + 1_000,
            )),
            Finished::Already(_) | Finished::Gone => Prepared::Nothing,
        },
    )
}

/// Parks a dead delivery where an operator sees it and can redrive it.
/// A crash can park one twice; a redrive reopens it once (see
/// [`deliveries::reopen`]).
async fn park(scope: &Scope, delivery: &Delivery) -> Result<Outcome, Error> {
    let message = DeliveriesMessage::attempt(scope.ws(), &delivery.id);
    scope
        .queue
        .send(&scope.config.deliveries_dlq_url, &message)
        .await?;
    Ok(Outcome::Done)
}
