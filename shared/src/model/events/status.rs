//! An event's moves between statuses: finished by `process` (exactly once
//! in effect), failed with its reason, reopened for a retry, and marked by
//! the sweeper when it queues a stuck one. Each is one conditional write
//! on the status it expects; a `Conflict` is the caller's to read (the
//! sweeper's mark reads its own token back).
//!
//! The status is `eventStatus` ([`super::STATUS`]); an event written
//! before that change has it in `status` ([`super::LEGACY_STATUS`]). Every
//! condition accepts either, and every move writes `eventStatus` and
//! removes `status`, so an older event moves over at its next change.

use super::{EventStatus, status_partition};
use crate::app::Scope;
use crate::aws::store::{Write, n, s};
use crate::aws::table;
use crate::error::Error;
use crate::rules::ids::{EventId, IdKind, LeadId};
use serde::Deserialize;

const FINISH: &str = "SET #es = :s, processedAt = :at, leadId = :lead REMOVE #s, gsi2pk, gsi2sk";
const FAIL: &str =
    "SET #es = :s, gsi2pk = :g, gsi2sk = :id, processedAt = :at, #e = :err REMOVE #s";
/// The event is `RECEIVED`, in either attribute.
pub(super) const ONLY_RECEIVED: &str = "(#es = :received OR #s = :received)";
/// The names [`ONLY_RECEIVED`] and the moves use.
pub(super) const STATUS_NAMES: [(&str, &str); 2] =
    [("#es", super::STATUS), ("#s", super::LEGACY_STATUS)];

/// Moves an event from `RECEIVED` to `status` with its lead, as the last
/// write of its resolution; `Conflict` when it was already finished, which
/// is what makes processing exactly-once in effect.
pub async fn finish(
    scope: &Scope,
    event_id: &EventId,
    status: EventStatus,
    lead_id: &LeadId,
    at: &str,
) -> Result<Write, Error> {
    let key = table::event(scope.ws(), event_id.as_str());
    scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            FINISH,
            Some(ONLY_RECEIVED),
            STATUS_NAMES.to_vec(),
            vec![
                (":s", s(status.as_str())),
                (":at", s(at)),
                (":lead", s(lead_id.as_str())),
                (":received", s(EventStatus::Received.as_str())),
            ],
        )
        .await
}

/// Marks an event `FAILED` with its reason (only from `RECEIVED`).
pub async fn mark_failed(
    scope: &Scope,
    event_id: &EventId,
    reason: &str,
    at: &str,
) -> Result<Write, Error> {
    let reason: String = reason.chars().take(1000).collect();
    let key = table::event(scope.ws(), event_id.as_str());
    scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            FAIL,
            Some(ONLY_RECEIVED),
            [STATUS_NAMES.as_slice(), &[("#e", "error")]].concat(),
            vec![
                (":s", s(EventStatus::Failed.as_str())),
                (
                    ":g",
                    s(status_partition(scope.ws(), EventStatus::Failed, event_id)),
                ),
                (":id", s(event_id.as_str())),
                (":at", s(at)),
                (":err", s(reason)),
                (":received", s(EventStatus::Received.as_str())),
            ],
        )
        .await
}

/// Puts a `FAILED` event back to `RECEIVED` so `process` takes it again
/// (a replay, after the cause was fixed); `Conflict` when it is not
/// `FAILED` any more. It moves to the `RECEIVED` status listing: the
/// sweeper's cursor over the events listing has passed it long ago, and
/// that listing is how the sweeper finds it if the replay's message is
/// lost.
pub async fn reopen_failed(scope: &Scope, event_id: &EventId) -> Result<Write, Error> {
    let key = table::event(scope.ws(), event_id.as_str());
    scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            "SET #es = :s, gsi2pk = :g REMOVE #s, processedAt, #e",
            Some("(#es = :failed OR #s = :failed)"),
            [STATUS_NAMES.as_slice(), &[("#e", "error")]].concat(),
            vec![
                (":s", s(EventStatus::Received.as_str())),
                (
                    ":g",
                    s(status_partition(
                        scope.ws(),
                        EventStatus::Received,
                        event_id,
                    )),
                ),
                (":failed", s(EventStatus::Failed.as_str())),
            ],
        )
        .await
}

/// Notes that the sweeper queued a stuck event again, unless it (or another
/// sweeper) did so since `since_ms`: one re-queue per grace period.
pub async fn mark_swept(
    scope: &Scope,
    event_id: &EventId,
    now_ms: i64,
    since_ms: i64,
) -> Result<Write, Error> {
    let key = table::event(scope.ws(), event_id.as_str());
    let token = crate::rules::ids::new_id(IdKind::Request);
    let marked = scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            "SET sweptAtMs = :now, sweptBy = :by",
            Some("(#es = :received OR #s = :received) AND (attribute_not_exists(sweptAtMs) OR sweptAtMs < :since)"),
            STATUS_NAMES.to_vec(),
            vec![
                (":now", n(now_ms)),
                (":by", s(token.clone())),
                (":since", n(since_ms)),
                (":received", s(EventStatus::Received.as_str())),
            ],
        )
        .await?;
    if marked == Write::Done {
        return Ok(marked);
    }
    // A lost answer: the SDK's retry found this very mark (its token), not
    // another run's; the event must still be queued by this run.
    #[derive(Deserialize)]
    struct Mark {
        #[serde(rename = "sweptBy")]
        swept_by: Option<String>,
        #[serde(rename = "eventStatus", alias = "status")]
        status: EventStatus,
    }
    let now: Option<Mark> = scope.store.get(&key.pk, &key.sk).await?;
    Ok(match now {
        Some(m) if m.status == EventStatus::Received && m.swept_by == Some(token) => Write::Done,
        _ => Write::Conflict,
    })
}
