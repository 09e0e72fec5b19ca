//! Holding a failing subscription's deliveries, and letting them go (see
//! [`crate::model::health`] for the rules). The bookkeeping runs after an
//! attempt is recorded; its failures are logged, never the delivery's.

use crate::app::Scope;
use crate::aws::pagination::PageRequest;
use crate::aws::queue::DeliveriesMessage;
use crate::error::Error;
use crate::model::deliveries::{self, Delivery, DeliveryStatus};
use crate::model::health::{self, AfterFailure, Health};
use crate::model::subscriptions::{self, Subscription};
use crate::ops;
use crate::rules::clock;
use crate::rules::schedule::words;

/// Held deliveries are released at most this many a second (SQS
/// `DelaySeconds` spreads them; 900 s at most, so up to 9,000 a release —
/// the sweeper frees any beyond once the release's last message is due and
/// the stall window is over).
pub const RELEASE_PER_SECOND: u32 = 10;
const RELEASE_MAX: usize = 900 * RELEASE_PER_SECOND as usize;

/// What to do with a delivery of a failing subscription before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Send,
    Hold,
}

/// Decides whether `d` may be sent: always on a healthy subscription; on a
/// failing one only as its probe (taking the probe over when there is
/// none, or when the probe delivery is no longer pending).
pub async fn gate(scope: &Scope, health: Option<&Health>, d: &Delivery) -> Result<Gate, Error> {
    let Some(h) = health.filter(|h| h.holds(&d.id)) else {
        return Ok(Gate::Send);
    };
    let sub_id = &d.subscription_id;
    let stale_probe = match h.probe.as_deref() {
        None => None,
        Some(p) => match deliveries::get(scope, p).await? {
            Some(probe) if probe.status == DeliveryStatus::Pending => return Ok(Gate::Hold),
            _ => Some(p),
        },
    };
    Ok(
        if health::take_probe(scope, sub_id, &d.id, stale_probe).await? {
            tracing::info!(subscription_id = %sub_id, "this delivery is the failing subscription's probe");
            Gate::Send
        } else {
            Gate::Hold
        },
    )
}

/// After a recorded failure of `d` to `sub`: counts it; makes the
/// subscription `failing`, or disables it after the span.
pub async fn after_failure(
    scope: &Scope,
    sub: &Subscription,
    d: &Delivery,
    dead: bool,
    last: ops::LastAnswer<'_>,
) {
    let result = async {
        match health::record_failure(scope, &sub.id, &d.id, clock::now_ms()).await? {
            AfterFailure::Counted => {}
            AfterFailure::NowFailing => {
                tracing::warn!(
                    subscription_id = %sub.id,
                    failures = scope.config.failing_after,
                    "subscription failing: one probe retries, the other deliveries wait"
                );
                let notice = ops::failing(sub, scope.config.failing_after, &d.id, last.clone());
                ops::tell(scope, notice).await;
            }
            AfterFailure::Disable { failing_for_ms } => {
                let span = words(u64::try_from(failing_for_ms / 1000).unwrap_or(0));
                let reason = format!(
                    "every delivery failed for {span} (since {}); disabled, configuration kept",
                    clock::rfc3339(clock::now_ms() - failing_for_ms)
                );
                let now_off = subscriptions::disable(scope, &sub.id, &reason).await?;
                health::clear(scope, &sub.id).await?;
                if now_off {
                    tracing::error!(subscription_id = %sub.id, reason = %reason, "subscription disabled");
                    ops::tell(scope, ops::disabled(sub, &reason)).await;
                }
                // Held deliveries end dead and parked (`prepare` finds the
                // subscription off).
                release(scope, &sub.id).await?;
                return Ok(());
            }
        }
        if dead {
            // The probe's schedule is spent: hand the probe on.
            let h = health::get(scope, &sub.id).await?;
            if h.as_ref()
                .is_some_and(|h| h.probe.as_deref() == Some(&d.id))
            {
                health::drop_probe(scope, &sub.id, &d.id).await?;
                release_oldest(scope, &sub.id).await?;
            }
        }
        Ok::<_, Error>(())
    };
    if let Err(e) = result.await {
        tracing::warn!(subscription_id = %sub.id, error = %e, "could not record the failure in the subscription's health");
    }
}

/// After a success: healthy again; a failing subscription's held
/// deliveries are released. How many, when this ended a failing spell.
pub async fn after_success(
    scope: &Scope,
    sub: &Subscription,
    health: Option<&Health>,
) -> Option<usize> {
    let sub_id = &sub.id;
    let result = async {
        if health::record_success(scope, health).await? {
            let released = release(scope, sub_id).await?;
            // Its last message's due time: until then the sweeper leaves
            // the held deliveries to it (without it, a release lost).
            let last = u32::try_from(released.saturating_sub(1)).unwrap_or(u32::MAX);
            let span_ms = i64::from(last / RELEASE_PER_SECOND) * 1000;
            health::release_sent(scope, sub_id, clock::now_ms() + span_ms).await?;
            tracing::info!(subscription_id = %sub_id, released, "subscription recovered");
            return Ok(Some(released));
        }
        Ok::<_, Error>(None)
    };
    match result.await {
        Ok(released) => released,
        Err(e) => {
            tracing::warn!(subscription_id = %sub_id, error = %e, "could not record the recovery");
            None
        }
    }
}

/// The held deliveries of a subscription, oldest first (at most `limit`).
async fn held(scope: &Scope, sub_id: &str, limit: usize) -> Result<Vec<Delivery>, Error> {
    let mut found = Vec::new();
    let mut page = PageRequest {
        limit: 100,
        cursor: None,
    };
    loop {
        let listing = crate::aws::table::Listing::deliveries_by_subscription(scope.ws(), sub_id);
        let filter = crate::aws::listing::Filter {
            expression: "#st = :v",
            value: crate::aws::store::s(DeliveryStatus::Pending.as_str()),
            name: Some(("#st", "status")),
        };
        let got = scope
            .store
            .query_page_filtered::<Delivery>(&listing, &page, false, filter)
            .await
            .map_err(|e| Error::Data(e.to_string()))?;
        found.extend(got.items.into_iter().filter(|d| d.held_at_ms.is_some()));
        match got.next_cursor {
            Some(c) if found.len() < limit => page.cursor = Some(c),
            _ => break,
        }
    }
    found.truncate(limit);
    Ok(found)
}

/// Queues a subscription's held deliveries again, in order, at most
/// [`RELEASE_PER_SECOND`] a second; how many.
pub async fn release(scope: &Scope, sub_id: &str) -> Result<usize, Error> {
    let held = held(scope, sub_id, RELEASE_MAX).await?;
    let messages: Vec<(DeliveriesMessage, u32)> = held
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let delay = u32::try_from(i).unwrap_or(u32::MAX) / RELEASE_PER_SECOND;
            (DeliveriesMessage::attempt(scope.ws(), &d.id), delay)
        })
        .collect();
    scope
        .queue
        .send_all_delayed(&scope.config.deliveries_queue_url, &messages)
        .await?;
    Ok(messages.len())
}

/// Queues the oldest held delivery: it takes the probe over.
async fn release_oldest(scope: &Scope, sub_id: &str) -> Result<(), Error> {
    if let Some(d) = held(scope, sub_id, 1).await?.first() {
        let message = DeliveriesMessage::attempt(scope.ws(), &d.id);
        scope
            .queue
            .send(&scope.config.deliveries_queue_url, &message)
            .await?;
    }
    Ok(())
}
