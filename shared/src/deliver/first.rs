//! The first attempt, made by `process` right after fan-out when the
//! destination is healthy: no queue hop before the first POST, and one
//! delivery write instead of a pending one, its work entry, a claim and an
//! end (issue 25: 10 write units a delivered lead → 5).
//!
//! The guarantees stay those of every attempt:
//!
//! * **claimed before sent**: the delivery is written already claimed for
//!   attempt 1 ([`deliveries::put_first`]), so a copy of the lead's
//!   message, or fan-out run again, never sends it a second time while
//!   this one may;
//! * **bounded**: `process` waits at most `LEADPIPE_FIRST_ATTEMPT_MS`
//!   (3 s); no answer by then is a failed attempt (the receiver may still
//!   take it: the next attempt carries the same `webhook-id`);
//! * **never stranded**: a failed first attempt is recorded like any other
//!   (the delivery joins its listings and the work index) and queued after
//!   the schedule's first step; a `process` that stops before recording
//!   it leaves its message to come back, and fan-out, run again, queues
//!   the delivery ([`found`]): due when the claim's lease runs out, when
//!   `deliver` records the abandoned attempt as unanswered and goes on
//!   ([`record_abandoned`]), or at once when the lease ran out already
//!   (fan-out records it then).
//!
//! A failing (held) subscription, a CLI listener and a deployment whose
//! deliveries must leave from the static egress IP (only `deliver` has it;
//! Terraform sets the budget to 0 there) go through the queue as before.

use std::time::Duration;

use crate::app::Scope;
use crate::aws::queue::DeliveriesMessage;
use crate::error::Error;
use crate::model::deliveries::{self, AttemptRecord, Delivery, DeliveryStatus};
use crate::model::health::Health;
use crate::model::subscriptions::Subscription;
use crate::rules::clock;

use super::attempt::Next;

/// A message that moves a delivery on, and its delay in seconds.
pub type Queued = (DeliveriesMessage, u32);

/// Whether `process` makes the first attempt to `sub` itself.
pub fn eligible(scope: &Scope, sub: &Subscription, health: Option<&Health>) -> bool {
    scope.config.first_attempt.is_some()
        && sub.enabled
        && !crate::listen::is_listener(sub)
        && !health.is_some_and(Health::failing)
}

/// How long a first attempt is claimed: past `process`'s timeout, so a
/// copy of the message never sends while the claimant still may.
pub fn lease(config: &crate::Config) -> Duration {
    config.process_timeout + Duration::from_secs(10)
}

/// Makes the first attempt of `delivery`, just made by fan-out, to `sub`
/// within `budget`; the message that moves it on when it did not get
/// through (after the schedule's first step; at once when it is dead, so
/// `deliver` parks it), none when it did.
pub async fn attempt(
    scope: &Scope,
    delivery: &Delivery,
    sub: &Subscription,
    health: Option<&Health>,
    budget: Duration,
) -> Result<Option<Queued>, Error> {
    let Some(claim) = deliveries::put_first(scope, delivery, lease(&scope.config)).await? else {
        return found(scope, delivery).await;
    };
    let made = super::make_attempt(scope, delivery, sub, claim, health, Some(budget)).await?;
    let message = DeliveriesMessage::attempt(scope.ws(), &delivery.id);
    Ok(match made.map(|m| m.next) {
        None | Some(Next::Delivered) => None,
        Some(Next::Retry { delay }) => Some((message, seconds(delay))),
        Some(Next::Dead | Next::Gone) => Some((message, 0)),
    })
}

/// A delivery fan-out finds made already (by an earlier run, or another
/// copy of the lead's message): the message it still needs, if any.
/// Queued when never tried; when `process` claimed its first attempt and
/// stopped, the attempt is recorded as unanswered once the claim's lease
/// has run out, and queued for when it runs out before that.
pub async fn found(scope: &Scope, made: &Delivery) -> Result<Option<Queued>, Error> {
    let Some(now) = deliveries::get(scope, &made.id).await? else {
        return Ok(None);
    };
    let message = (DeliveriesMessage::attempt(scope.ws(), &made.id), 0);
    if now.status == DeliveryStatus::Pending && now.attempt_count == 0 {
        return Ok(Some(message));
    }
    let now_ms = clock::now_ms();
    match deliveries::abandoned_first(&now, now_ms) {
        // A first attempt recorded as failed whose message may never have
        // been sent (the send failed, the lead's message came back): queue
        // it again, due at its next attempt. A spare copy finds the attempt
        // not due, or claimed, and waits.
        None if now.status == DeliveryStatus::Pending
            && now.attempt_count == 1
            && now.held_at_ms.is_none()
            && now.lease_until_ms.is_none_or(|until| until <= now_ms) =>
        {
            let due = now.next_attempt_at_ms.unwrap_or(now_ms) - now_ms;
            let wait = Duration::from_millis(u64::try_from(due).unwrap_or(0));
            Ok(Some((message.0, seconds(wait))))
        }
        None => Ok(None),
        // The claimant may still be sending. The lead's message is done
        // with it: a message due when the lease runs out moves it on
        // (`deliver` records the attempt as unanswered if the claimant
        // stopped, and finds it moved on if not). Failing the lead's
        // message instead spent a receive each time: at short back-offs
        // they could run out before the lease, the delivery left unlisted
        // until the leads DLQ was redriven.
        Some(Err(until_ms)) => Ok(Some(after_lease(scope, &made.id, until_ms, now_ms))),
        // The delivery as stored (its retention with it).
        Some(Ok(claim)) => Ok(record_abandoned(scope, &now, &claim)
            .await?
            .then_some(message)),
    }
}

/// The message for a delivery whose first attempt is claimed until
/// `until_ms`: due a second after the lease ends (at most SQS's 15
/// minutes; one that comes back early finds the claim and waits again).
pub fn after_lease(scope: &Scope, id: &str, until_ms: i64, now_ms: i64) -> Queued {
    let rest = u64::try_from(until_ms - now_ms).unwrap_or(0);
    let wait = Duration::from_millis(rest) + Duration::from_secs(1);
    (DeliveriesMessage::attempt(scope.ws(), id), seconds(wait))
}

/// Records the first attempt `claim` of `made`, abandoned by a `process`
/// that stopped, as unanswered: the delivery joins its listings and the
/// work index, and its next attempt follows at once. Whoever records it
/// uses the claim stored on the delivery, so a second recorder is told
/// true too; false only once the delivery moved on (attempt 2 claimed) or
/// is gone.
pub async fn record_abandoned(
    scope: &Scope,
    made: &Delivery,
    claim: &deliveries::Claim,
) -> Result<bool, Error> {
    let record = AttemptRecord {
        n: claim.n,
        status_code: None,
        duration_ms: 0,
        error: Some("no answer recorded: process stopped during the first attempt"),
        response: None,
        next_attempt_at_ms: None,
    };
    let recorded =
        deliveries::record_attempt(scope, made, claim, record, DeliveryStatus::Pending).await?;
    if recorded {
        tracing::warn!(delivery_id = %made.id, "an abandoned first attempt recorded as unanswered");
    }
    Ok(recorded)
}

/// A delay as SQS takes it: whole seconds, at most 15 minutes (a longer
/// step comes back early, finds the attempt not due and waits the rest).
fn seconds(delay: Duration) -> u32 {
    u32::try_from(delay.as_secs()).unwrap_or(u32::MAX).min(900)
}
