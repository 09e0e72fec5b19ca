//! Events still `RECEIVED` past the grace period, queued again.
//!
//! A new event is on the events listing only (`{ws}EVENTS#s{n}`), not on
//! the status listing: that would cost two index writes per event (its
//! entry put, then deleted) for the rare one whose message went missing;
//! and its status is not on its listing entry either (that would cost a
//! write per event at its end, see [`events::STATUS`]). So the sweeper
//! reads the listing from a cursor ([`crate::model::cursors`]) up to the
//! grace bound, once, and the items behind each page (one `BatchGetItem`):
//! every event is read about once, and an idle workspace costs one empty
//! query per shard. An event still `RECEIVED` is marked (one sweeper
//! queues it) and its message sent; then the cursor moves past the page.
//!
//! Why once is enough: a message sent is SQS's to keep until `process`
//! ends the event or the message reaches the leads DLQ, and either is an
//! end the contract names. The cursor moves only past entries whose
//! message was sent (a send that fails fails the run before the cursor
//! moves), and stops before an entry that another run marked within the
//! grace period but may not have sent (that run may have failed after its
//! mark): the page is read again until the mark is old enough to be taken.
//!
//! Ids are times, and an event is written when its id is made, well
//! within the grace period; an event that becomes `RECEIVED` out of that
//! order (a replay reopening a `FAILED` one, a Meta leadgen event written
//! late under its marker's older id) is on the `RECEIVED` status listing
//! instead, which is read whole on every run, as are events from before
//! this layout.

use std::collections::HashSet;
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{BATCH, id_ms, ms};
use crate::app::Scope;
use crate::aws::listing::key_of;
use crate::aws::queue::LeadsMessage;
use crate::aws::store::{Write, from_item};
use crate::aws::table::{Item, Listing};
use crate::error::Error;
use crate::model::cursors;
use crate::model::events::{self, EventStatus};
use crate::rules::ids::{EventId, IdKind, bound_at};

/// A workspace with no cursor yet (its first sweep, or the first after an
/// upgrade to this layout) reads this far back: far past the grace period
/// and a sweeper's schedule, and the events from before the layout are on
/// the status listing anyway.
const FIRST_LOOK_BACK_MS: i64 = 24 * 60 * 60 * 1000;

/// How long one run reads past the cursors, every workspace together,
/// before it leaves the rest to the next run (each cursor keeps its
/// place), so that a burst of traffic or a first run's look-back never
/// runs the function (60 s) out of time; the stalled deliveries are swept
/// before. A page of 500 entries takes tens of milliseconds on DynamoDB: a
/// run reads ~150,000 events within it, five minutes of 500 leads a second.
pub(super) const SCAN_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// How long a write of an event may take after [`events::put_new`] judged
/// it on time (its SDK retries: the operation timeout is 10 s), with room
/// for the index to catch up: the cursor stays this far behind
/// [`events::LATE_AFTER`] too, so an event written just before it would
/// count as late has landed, and is listed, before the cursor passes its
/// id, whatever the grace (chaos runs use seconds).
const PUT_MAX_MS: i64 = 60_000;

/// Every stuck event of the workspace queued again; how many. Both reads
/// run whatever the other's outcome (the first error is the run's), and
/// both stop at `deadline`.
pub(super) async fn stuck_events(
    scope: &Scope,
    now: i64,
    deadline: Instant,
) -> Result<usize, Error> {
    let by_status = Box::pin(on_status_listing(scope, now, deadline)).await;
    let by_cursor = Box::pin(past_cursor(scope, now, deadline)).await;
    match (by_status, by_cursor) {
        (Ok(a), Ok(b)) => Ok(a + b),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// Events past the cursor, up to the grace bound (and never nearer than a
/// late write's bound, see [`PUT_MAX_MS`]).
async fn past_cursor(scope: &Scope, now: i64, deadline: Instant) -> Result<usize, Error> {
    let grace = scope.config.sweep_grace;
    let late = ms(events::LATE_AFTER) + PUT_MAX_MS;
    let to = bound_at(
        IdKind::Event,
        u64::try_from(now - ms(grace).max(late)).unwrap_or(0),
        true,
    );
    let cursor = match cursors::events_checked_to(scope).await? {
        Some(c) => c,
        // A workspace's first run anchors its cursor a day back before it
        // reads: from then on every run starts where the last stopped,
        // however long the sweeper was away or cut short, never a look-back
        // from its own time.
        None => {
            let anchor = bound_at(
                IdKind::Event,
                u64::try_from(now.saturating_sub(FIRST_LOOK_BACK_MS)).unwrap_or(0),
                false,
            );
            cursors::advance_events(scope, &anchor).await?;
            anchor
        }
    };
    let mut from = format!("{cursor}\u{1}");
    let listing = Listing::events(scope.ws());
    let partitions = listing.partitions();
    let mut queued = 0;
    // Once an entry is held (marked by another run within the grace), the
    // cursor stays before it for the rest of this run.
    let mut held = false;
    while from <= to {
        if Instant::now() > deadline {
            tracing::info!(workspace = %scope.ws(), "events cursor behind; the next run reads on");
            break;
        }
        let (entries, next) = scope
            .store
            .query_range_entries(listing.gsi, &partitions, (&from, &to), BATCH)
            .await?;
        let received = Box::pin(received_of(scope, &entries, false)).await?;
        let mut messages = Vec::new();
        let mut passed: Option<&str> = None;
        for (id, _) in &entries {
            if received.contains(id.as_str())
                && let Some(event_id) = EventId::parse(id)
            {
                match events::mark_swept(scope, &event_id, now, now - ms(grace)).await? {
                    Write::Done => messages.push(message(scope, event_id)),
                    // Ended meanwhile (passed), or marked by a run that
                    // may not have sent it (held: looked at again).
                    Write::Conflict => {
                        let now_status = events::get(scope, id).await?.map(|e| e.status);
                        held |= now_status == Some(EventStatus::Received);
                    }
                }
            }
            if !held {
                passed = Some(id);
            }
        }
        queued += messages.len();
        scope
            .queue
            .send_all(&scope.config.leads_queue_url, &messages)
            .await?;
        if let Some(id) = passed {
            cursors::advance_events(scope, id).await?;
        }
        match next {
            Some(n) => from = n,
            None => break,
        }
    }
    Ok(queued)
}

/// Events on the `RECEIVED` status listing (out of time order, or from
/// before this layout), whole, each queued once per grace period.
async fn on_status_listing(scope: &Scope, now: i64, deadline: Instant) -> Result<usize, Error> {
    let grace = scope.config.sweep_grace;
    let to = bound_at(IdKind::Event, id_ms(now, grace), true);
    let mut from = bound_at(IdKind::Event, 0, false);
    let listing = Listing::events_by_status(scope.ws(), EventStatus::Received.as_str());
    let partitions = listing.partitions();
    let mut queued = 0;
    while Instant::now() <= deadline {
        let (entries, next) = scope
            .store
            .query_range_entries(listing.gsi, &partitions, (&from, &to), BATCH)
            .await?;
        let mut messages = Vec::new();
        for id in Box::pin(received_of(scope, &entries, true)).await? {
            let Some(event_id) = EventId::parse(&id) else {
                continue;
            };
            if events::mark_swept(scope, &event_id, now, now - ms(grace)).await? == Write::Done {
                messages.push(message(scope, event_id));
            }
        }
        queued += messages.len();
        scope
            .queue
            .send_all(&scope.config.leads_queue_url, &messages)
            .await?;
        match next {
            Some(n) => from = n,
            None => break,
        }
    }
    Ok(queued)
}

/// The ids of the entries' events that are `RECEIVED` and on the `RECEIVED`
/// status listing (`listed`), or not on it (the cursor's: those on it are
/// [`on_status_listing`]'s to queue; were they marked by both, the second
/// mark would fail and hold the cursor for as long as they stay
/// `RECEIVED`). An event's status is not on its listing entry
/// ([`events::STATUS`]), so the items are read (one `BatchGetItem` a page:
/// a read unit an event, a fifth of the write unit its entry would cost to
/// keep current); an entry that still carries `status`
/// ([`events::LEGACY_STATUS`]), an event written before that change, is
/// read only when it says `RECEIVED`. An item that does not read as an
/// event is logged and passed: it can never be processed, and must not
/// stop either read.
async fn received_of(
    scope: &Scope,
    entries: &[(String, Item)],
    listed: bool,
) -> Result<HashSet<String>, Error> {
    #[derive(serde::Deserialize)]
    struct Status {
        id: String,
        #[serde(rename = "eventStatus", alias = "status")]
        status: EventStatus,
        #[serde(rename = "gsi2pk")]
        on_status_listing: Option<String>,
    }
    let received = EventStatus::Received.as_str();
    let mut found = HashSet::new();
    let keys: Vec<(String, String)> = entries
        .iter()
        .filter(|(_, entry)| match entry.get(events::LEGACY_STATUS) {
            Some(AttributeValue::S(s)) => s == received,
            _ => true,
        })
        .filter_map(|(_, entry)| key_of(entry))
        .collect();
    if keys.is_empty() {
        return Ok(found);
    }
    for item in scope.store.batch_get(&keys).await? {
        match from_item::<Status>(item) {
            Ok(e)
                if e.status == EventStatus::Received && e.on_status_listing.is_some() == listed =>
            {
                found.insert(e.id);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, workspace = %scope.ws(), "an event listing entry's item does not read as an event; passed")
            }
        }
    }
    Ok(found)
}

fn message(scope: &Scope, event_id: EventId) -> LeadsMessage {
    LeadsMessage::Event {
        workspace: scope.ws().clone(),
        event_id,
    }
}
