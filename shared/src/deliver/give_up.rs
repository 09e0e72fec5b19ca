//! The last receive of a delivery's message, before SQS would
//! dead-letter it: the delivery ends `dead` and is parked, so its status
//! never says `pending` while its message sits in the DLQ.

use super::{first, park};
use crate::app::Scope;
use crate::aws::batch::Outcome;
use crate::aws::resources::DELIVERIES_QUEUE;
use crate::model::deliveries::{self, DeliveryStatus, Finished};
use crate::model::subscriptions;
use crate::ops;
use crate::rules::clock;
use std::time::Duration;

/// The message cannot come back again: end the delivery `dead` and park
/// it, so its status never says `pending` while SQS holds it in the DLQ.
/// If even that fails SQS dead-letters the message, and the delivery,
/// stalled, is queued again by the sweeper — except a first attempt
/// `process` abandoned, on no listing and not on the work index, which
/// waits in the DLQ for a redrive.
pub(super) async fn give_up(scope: &Scope, delivery_id: &str, reason: &str) -> Outcome {
    let reason = format!(
        "gave up after {} receives: {reason}",
        DELIVERIES_QUEUE.max_receive_count
    );
    let parked = async {
        let Some(mut d) = deliveries::get_to_send(scope, delivery_id).await? else {
            return Ok(Outcome::Done);
        };
        // A first attempt `process` claimed and never recorded is on no
        // listing and not on the work index: a message must keep it, or
        // its record list it, before it can end.
        let now_ms = clock::now_ms();
        match deliveries::abandoned_first(&d, now_ms) {
            None => {}
            Some(Err(until_ms)) => {
                let message = first::after_lease(scope, delivery_id, until_ms, now_ms);
                let queue = &scope.config.deliveries_queue_url;
                scope.queue.send_all_delayed(queue, &[message]).await?;
                return Ok(Outcome::Done);
            }
            Some(Ok(claim)) => {
                first::record_abandoned(scope, &d, &claim).await?;
                let Some(now) = deliveries::get_to_send(scope, delivery_id).await? else {
                    return Ok(Outcome::Done);
                };
                d = now;
            }
        }
        match deliveries::finish(scope, &d, DeliveryStatus::Dead, &reason).await? {
            Finished::Now => {
                tracing::error!(reason = %reason, "delivery dead");
                if !d.event_type.is_ops() {
                    let sub = subscriptions::get(scope, &d.subscription_id).await?;
                    let last = ops::LastAnswer {
                        status_code: None,
                        error: Some(&reason),
                    };
                    let notice = ops::exhausted(&d, d.attempt_count, sub.as_ref(), last);
                    ops::tell(scope, notice).await;
                }
                park(scope, &d).await
            }
            // Dead before (its park may have failed): park it.
            Finished::Already(DeliveryStatus::Dead) => park(scope, &d).await,
            // Another copy is sending: its answer decides (a 200 must not
            // be overwritten by dead), and its message, or the sweeper,
            // moves the delivery on.
            Finished::Claimed { .. } => {
                tracing::info!("last receive while another copy makes an attempt; left to it");
                Ok(Outcome::Done)
            }
            Finished::Already(_) | Finished::Gone => Ok(Outcome::Done),
        }
    };
    match parked.await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Retry {
            delay: Duration::ZERO,
            reason: format!("{reason}; and could not park it: {e}"),
        },
    }
}
