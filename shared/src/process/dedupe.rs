//! De-duplication: one lead per person, however many events race, with
//! conditional single-item writes — no transaction (a transaction bills
//! every item twice; measured in `tests/it/cost.rs`).
//!
//! An event's person is found through the identity items of its normalised
//! email and phone. Why the writes below stay exactly-once:
//!
//! 1. **One lead id per event.** A new person's lead id is derived from the
//!    event ([`leads::lead_id_of`]), so every try of one event — a
//!    redelivered message, two consumers at once, a crash half way — works
//!    on the same lead, and its put succeeds only where it is absent.
//! 2. **Claims before the lead.** Each address is claimed with a put that
//!    holds only where the identity is absent or already this event's. A
//!    lead is created only after all its claims hold, so no address can
//!    ever find two leads.
//! 3. **Merges serialise on the lead.** A merge is a put conditional on the
//!    lead's version, and merging is idempotent (it fills gaps, unions,
//!    moves `lastSeenAt` forward): a merge applied again after a crash
//!    changes nothing, and is then not written at all. Re-engagement is
//!    decided inside that conditional write and recorded on the lead
//!    (`reEngagement`), so exactly one of racing events sees the silence
//!    and a retry finds the decision it made.
//! 4. **History:** `lead.created` is the lead's own `createdBy`; other
//!    entries are keyed by (lead, cause, type) and put only where absent:
//!    at most one per cause.
//! 5. **The event ends last,** conditional on `RECEIVED`: once. Until then
//!    a retry redoes steps 2–4, which change nothing the second time.
//!
//! A claim left by a try that stopped before its lead existed points at a
//! lead that does not exist. The same event takes it back (step 2's
//! condition); another event waits while the claimer is still `RECEIVED`,
//! and removes the claim once the claimer has ended without that lead (the
//! lead read again after the claimer's status: a try writes its lead before
//! it ends its event) — conditional on the claim not having been written
//! again since it was read (a replayed claimer claims again before it
//! writes its lead).

use std::time::Duration;

use crate::app::Scope;
use crate::aws::store::Write;
use crate::aws::table::{self, Key};
use crate::error::Error;
use crate::model::events::{self, EventRecord, EventStatus};
use crate::model::history::{HistoryEntry, LeadEventType};
use crate::model::leads::{self, Identity, LeadRecord, ReEngagement};
use crate::rules::clock;
use crate::rules::ids::{CauseId, LeadId};
use crate::rules::inbound::LeadInput;

/// How many times a contended resolution is retried before the message is
/// handed back to the queue.
const MAX_ROUNDS: u32 = 12;

/// What became of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// A new lead.
    Created { lead: Box<LeadRecord> },
    /// Merged into an existing lead; `re_engaged` when it had been silent.
    Duplicate {
        lead: Box<LeadRecord>,
        re_engaged: bool,
    },
    /// The event had already been finished (a redelivered message).
    AlreadyDone,
}

/// Who holds one address, as the event being resolved sees it.
#[derive(Debug)]
enum Holder {
    /// Nobody, or a claim this event left before its lead existed.
    Free,
    /// An existing lead.
    Lead(Box<LeadRecord>),
    /// This event's own new lead, which exists: a creation to finish.
    Created,
    /// A claim of another event that is still being resolved.
    Busy,
}

/// One round's way forward.
enum Round {
    Resolved(Resolution),
    /// Someone else wrote first: look again.
    Contended,
}

/// Resolves `event` (with its cleaned `input`) to a lead, exactly once.
pub async fn resolve(
    scope: &Scope,
    event: &EventRecord,
    input: &LeadInput,
) -> Result<Resolution, Error> {
    let mine = leads::lead_id_of(&event.id, &event.received_at);
    for round in 0..MAX_ROUNDS {
        if round > 0 {
            // Spread contending writers apart.
            let mut b = [0u8; 1];
            crate::rules::crypto::fill_random(&mut b);
            tokio::time::sleep(Duration::from_millis(
                10 * u64::from(round) + u64::from(b[0] % 20),
            ))
            .await;
        }
        if let Round::Resolved(resolution) = try_resolve(scope, event, input, &mine).await? {
            return Ok(resolution);
        }
    }
    Err(Error::Data(format!(
        "de-duplication stayed contended after {MAX_ROUNDS} rounds"
    )))
}

async fn try_resolve(
    scope: &Scope,
    event: &EventRecord,
    input: &LeadInput,
    mine: &LeadId,
) -> Result<Round, Error> {
    let email_key = input
        .email
        .as_deref()
        .map(|v| table::email_identity(scope.ws(), v));
    let phone_key = input
        .phone
        .as_deref()
        .map(|v| table::phone_identity(scope.ws(), v));
    let (email, phone) = tokio::try_join!(
        holder(scope, event, mine, email_key.as_ref()),
        holder(scope, event, mine, phone_key.as_ref()),
    )?;
    if matches!(email, Holder::Busy) || matches!(phone, Holder::Busy) {
        return Ok(Round::Contended);
    }
    if matches!(email, Holder::Created) || matches!(phone, Holder::Created) {
        return create(scope, event, input, mine, [None, None]).await;
    }
    let free = |h: &Holder, key: Option<Key>| matches!(h, Holder::Free).then_some(key).flatten();
    let claims = [free(&email, email_key), free(&phone, phone_key)];
    // The person is the email's lead, else the phone's; a phone another
    // lead holds is not merged into this one.
    let mut input = input.clone();
    let target = match (email, phone) {
        (Holder::Lead(l), phone) => {
            if matches!(&phone, Holder::Lead(o) if o.id != l.id) {
                input.phone = None;
            }
            l
        }
        (_, Holder::Lead(l)) => l,
        _ => return create(scope, event, &input, mine, claims).await,
    };
    merge(scope, event, &input, *target, mine, claims).await
}

/// Reads who holds `key` (see [`Holder`]); removes a claim left by another
/// event that ended without creating its lead.
async fn holder(
    scope: &Scope,
    event: &EventRecord,
    mine: &LeadId,
    key: Option<&Key>,
) -> Result<Holder, Error> {
    let Some(key) = key else {
        return Ok(Holder::Free);
    };
    let Some(identity) = leads::identity(scope, key).await? else {
        return Ok(Holder::Free);
    };
    if let Some(lead) = leads::get(scope, identity.lead_id.as_str()).await? {
        return Ok(if lead.id == *mine {
            Holder::Created
        } else {
            Holder::Lead(Box::new(lead))
        });
    }
    if identity.lead_id == *mine {
        return Ok(Holder::Free);
    }
    // A claim whose lead does not exist: is its event still at work?
    if let Some(claimer) = &identity.claimed_by
        && claimer != &event.id
        && events::get(scope, claimer.as_str())
            .await?
            .is_some_and(|e| e.status == EventStatus::Received)
    {
        return Ok(Holder::Busy);
    }
    // Its event has ended — but it may have written its lead and ended
    // between the two reads above. A try writes its lead before it ends its
    // event, so a lead still absent now was never written by that try.
    if leads::get(scope, identity.lead_id.as_str())
        .await?
        .is_some()
    {
        return Ok(Holder::Busy);
    }
    let removed = leads::remove_stale_claim(scope, key, &identity).await?;
    tracing::info!(lead_id = %identity.lead_id, "stale identity claim removed");
    Ok(match removed {
        Write::Done => Holder::Free,
        Write::Conflict => Holder::Busy,
    })
}

/// Claims `key` for `lead_id`: only where it is absent or this event's own
/// earlier claim (pointing at `mine`).
async fn claim(
    scope: &Scope,
    event: &EventRecord,
    key: Key,
    lead_id: &LeadId,
    mine: &LeadId,
) -> Result<Write, Error> {
    leads::claim_identity(scope, Identity::new(key, lead_id, &event.id), mine).await
}

async fn claim_all(
    scope: &Scope,
    event: &EventRecord,
    claims: [Option<Key>; 2],
    lead_id: &LeadId,
    mine: &LeadId,
) -> Result<Write, Error> {
    for key in claims.into_iter().flatten() {
        if claim(scope, event, key, lead_id, mine).await? == Write::Conflict {
            return Ok(Write::Conflict);
        }
    }
    Ok(Write::Done)
}

/// A new person: claims, the lead (which holds its `lead.created` entry),
/// the event.
async fn create(
    scope: &Scope,
    event: &EventRecord,
    input: &LeadInput,
    mine: &LeadId,
    claims: [Option<Key>; 2],
) -> Result<Round, Error> {
    if claim_all(scope, event, claims, mine, mine).await? == Write::Conflict {
        return Ok(Round::Contended);
    }
    // Ingest takes back an event whose message it could not queue, unless
    // one of its addresses is claimed (`events::withdraw`): read after the
    // claims, a taken-back event makes no lead.
    if events::get(scope, event.id.as_str()).await?.is_none() {
        return Ok(Round::Resolved(Resolution::AlreadyDone));
    }
    let mut lead = LeadRecord::new(
        scope.ws(),
        mine.clone(),
        input,
        &event.defaults,
        event.source.clone(),
        &event.received_at,
    );
    // The lead carries its `lead.created` entry.
    lead.created_by = Some((&event.id).into());
    lead.test = event.is_test();
    // Absent, or put by an earlier try of this event: either way it is ours.
    leads::put_created(scope, &lead).await?;
    Ok(Round::Resolved(
        match finish(scope, event, EventStatus::Processed, &lead.id).await? {
            Write::Done => Resolution::Created {
                lead: Box::new(lead),
            },
            Write::Conflict => Resolution::AlreadyDone,
        },
    ))
}

/// A known person: claims of new addresses, the merge, a
/// `lead.re_engaged` entry when due, the event.
async fn merge(
    scope: &Scope,
    event: &EventRecord,
    input: &LeadInput,
    mut lead: LeadRecord,
    mine: &LeadId,
    claims: [Option<Key>; 2],
) -> Result<Round, Error> {
    if claim_all(scope, event, claims, &lead.id, mine).await? == Write::Conflict {
        return Ok(Round::Contended);
    }
    let before = lead.clone();
    let merge = lead.merge(input, &event.defaults, &event.received_at);
    if merge.dropped_fields > 0 {
        tracing::warn!(
            lead_id = %lead.id,
            dropped = merge.dropped_fields,
            "custom fields left out: the lead is at its bounds"
        );
    }
    let cause: CauseId = (&event.id).into();
    let re_engagement = match &lead.re_engagement {
        // Decided by an earlier try of this event.
        Some(r) if r.cause_id == cause => Some(r.clone()),
        _ if silent_long_enough(
            &merge.previous_seen_at,
            &event.received_at,
            scope.config.reengage_after,
        ) =>
        {
            let r = ReEngagement {
                cause_id: cause.clone(),
                previous_seen_at: merge.previous_seen_at.clone(),
            };
            lead.re_engagement = Some(r.clone());
            Some(r)
        }
        _ => None,
    };
    let mut unchanged = lead.clone();
    unchanged.version = before.version;
    if unchanged != before {
        let write = leads::save_merge(scope, &lead, before.version).await?;
        if write == Write::Conflict {
            return Ok(Round::Contended);
        }
    }
    // The merge in the lead's history, once per event (a try after a crash
    // here finds the lead merged already and records no changes: the first
    // record, if it got written, is kept).
    let changes = crate::model::merges::diff(&before, &lead);
    crate::model::merges::record(scope, &lead.id, &event.id, &event.received_at, &changes).await?;
    if let Some(r) = &re_engagement {
        let mut entry = HistoryEntry::new(
            scope.ws(),
            &lead.id,
            LeadEventType::ReEngaged,
            &cause,
            &event.received_at,
        );
        entry.previous_seen_at = Some(r.previous_seen_at.clone());
        crate::model::history::put_new(scope, &entry).await?;
    }
    Ok(Round::Resolved(
        match finish(scope, event, EventStatus::Duplicate, &lead.id).await? {
            Write::Done => Resolution::Duplicate {
                lead: Box::new(lead),
                re_engaged: re_engagement.is_some(),
            },
            Write::Conflict => Resolution::AlreadyDone,
        },
    ))
}

async fn finish(
    scope: &Scope,
    event: &EventRecord,
    status: EventStatus,
    lead_id: &LeadId,
) -> Result<Write, Error> {
    events::finish(scope, &event.id, status, lead_id, &clock::now_rfc3339()).await
}

fn silent_long_enough(previous: &str, now: &str, after: Duration) -> bool {
    match (clock::parse_rfc3339(previous), clock::parse_rfc3339(now)) {
        (Some(p), Some(n)) => n - p >= after.as_millis() as i64,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn re_engagement_threshold() {
        let day = Duration::from_secs(86_400);
        assert!(silent_long_enough(
            "2026-01-01T00:00:00.000Z",
            "2026-01-31T00:00:00.000Z",
            day * 30
        ));
        assert!(!silent_long_enough(
            "2026-01-01T00:00:00.000Z",
            "2026-01-30T23:59:59.999Z",
            day * 30
        ));
        assert!(!silent_long_enough(
            "garbage",
            "2026-01-30T23:59:59.999Z",
            day
        ));
    }
}
