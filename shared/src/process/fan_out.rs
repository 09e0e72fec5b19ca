//! Fan-out: a lead's new history entries become deliveries, one per
//! enabled subscription that wants the entry's type and source, each with
//! its body frozen and a message on the deliveries queue — or, in
//! `process` and to a healthy destination, its first attempt made here
//! ([`crate::deliver::first`]), queued only when it did not get through.
//!
//! Idempotent: a delivery's id is derived from the entry and the
//! subscription and written only once; running it again after a crash (or
//! for a redelivered message) finds each delivery made and queues only
//! those never tried, so no second copy is sent. No "fanned out" mark is
//! written: it cost every entry a write to save a rare re-run a few reads.

use serde_json::{Value, json};

use crate::app::Scope;
use crate::aws::queue::DeliveriesMessage;
use crate::aws::store::Write;
use crate::deliver::first;
use crate::error::Error;
use crate::model::deliveries::{self, Delivery};
use crate::model::health;
use crate::model::history::{self, HistoryEntry, LeadEventType};
use crate::model::leads::{self, LeadRecord, LeadView};
use crate::model::subscriptions::{self, Subscription};
use crate::rules::ids::{CauseId, LeadId};

/// Fans out every history entry of `lead_id` caused by `cause_id` that has
/// not been fanned out yet; returns how many deliveries it queued.
/// Every attempt goes through the deliveries queue: for callers that
/// answer a person (the admin API), who should not wait on a CRM.
pub async fn fan_out(scope: &Scope, lead_id: &LeadId, cause_id: &CauseId) -> Result<usize, Error> {
    fan_out_cause(scope, lead_id, cause_id, false, Via::Queue).await
}

/// [`fan_out`] in `process`, which makes the first attempt of each
/// delivery itself where it may (see [`crate::deliver::first`]), of a
/// cause that may be a test submission (`test`): its deliveries go only
/// to subscriptions with `testLeads`, even when it merged into a real lead.
pub async fn fan_out_as(
    scope: &Scope,
    lead_id: &LeadId,
    cause_id: &CauseId,
    test: bool,
) -> Result<usize, Error> {
    fan_out_cause(scope, lead_id, cause_id, test, Via::FirstAttempt).await
}

/// [`fan_out_as`] run again (the lead's message came back after its event
/// ended, or a fan-out message): also looks, for each subscription that no
/// longer wants the lead, for a first attempt a stopped `process` left
/// claimed and unlisted, which nothing else would find.
pub async fn fan_out_again_as(
    scope: &Scope,
    lead_id: &LeadId,
    cause_id: &CauseId,
    test: bool,
) -> Result<usize, Error> {
    fan_out_cause(scope, lead_id, cause_id, test, Via::FirstAttemptAgain).await
}

/// The history entries of `lead_id` caused by `cause_id`, fanned out.
async fn fan_out_cause(
    scope: &Scope,
    lead_id: &LeadId,
    cause_id: &CauseId,
    test: bool,
    via: Via,
) -> Result<usize, Error> {
    let Some(lead) = leads::get(scope, lead_id.as_str()).await? else {
        return Ok(0);
    };
    let entries = history::of_cause(scope, &lead, cause_id).await?;
    fan_out_entries(scope, &lead, &entries, test, via).await
}

/// How a fan-out's deliveries start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A message each on the deliveries queue.
    Queue,
    /// The first attempt made here when the destination is healthy and
    /// the deployment allows it; the queue otherwise.
    FirstAttempt,
    /// [`Via::FirstAttempt`], run again: see [`fan_out_again_as`].
    FirstAttemptAgain,
}

/// Makes and queues the deliveries of `entries` (about `lead`) to every
/// subscription that wants them; safe to run again. A test lead's (or a
/// test cause's, `test`) go only to subscriptions with `testLeads`.
pub async fn fan_out_entries(
    scope: &Scope,
    lead: &LeadRecord,
    entries: &[HistoryEntry],
    test: bool,
    via: Via,
) -> Result<usize, Error> {
    let test = test || lead.test;
    let budget = match via {
        Via::FirstAttempt | Via::FirstAttemptAgain => scope.config.first_attempt,
        Via::Queue => None,
    };
    if entries.is_empty() {
        return Ok(0);
    }
    let lead_id = &lead.id;
    let subs = subscriptions::all(scope).await?;
    let expires_at = crate::model::workspaces::expiry(scope.app(), scope.ws()).await?;
    // Routing rules see the lead as the API shows it.
    let shown = serde_json::to_value(LeadView::from(lead.clone())).unwrap_or(Value::Null);
    let wanted: Vec<(&HistoryEntry, &Subscription)> = entries
        .iter()
        .flat_map(|entry| {
            subs.iter()
                // An erasure is announced wherever the lead may have gone:
                // its tombstone has nothing left for a filter to match.
                .filter(|s| {
                    (!test || s.test_leads)
                        && s.wants(entry.kind, &lead.source)
                        && (entry.kind == LeadEventType::Deleted || s.routes(&shown))
                })
                .map(move |s| (entry, s))
        })
        .collect();
    // Whether `process` may make each first attempt depends on the
    // destination's health: read once for all of them.
    let healths = match budget {
        Some(_) if !wanted.is_empty() => {
            let mut ids: Vec<&str> = wanted.iter().map(|(_, s)| s.id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            health::get_many(scope, &ids).await?
        }
        _ => Default::default(),
    };
    let mut messages = Vec::new();
    if via == Via::FirstAttemptAgain {
        messages.extend(left_unwanted(scope, lead, entries, &subs, &wanted).await?);
    }
    let mut firsts = Vec::new();
    for (entry, sub) in wanted {
        let mut delivery = delivery_for(entry, lead, sub);
        delivery.expires_at = Some(expires_at);
        if let Some(budget) = budget {
            let health = healths.get(sub.id.as_str()).cloned();
            if first::eligible(scope, sub, health.as_ref()) {
                firsts.push((delivery, sub, health, budget));
                continue;
            }
        }
        let queued = match deliveries::put_new(scope, &delivery).await? {
            Write::Done => Some((DeliveriesMessage::attempt(scope.ws(), &delivery.id), 0)),
            // Made by an earlier run that may have stopped before
            // queueing it: queued again unless it was already tried.
            Write::Conflict => first::found(scope, &delivery).await?,
        };
        messages.extend(queued);
    }
    let queue = &scope.config.deliveries_queue_url;
    scope.queue.send_all_delayed(queue, &messages).await?;
    let made = messages.len() + firsts.len();
    // The first attempts, all at once; those that did not get through
    // are queued for their next.
    let tries = firsts
        .iter()
        .map(|(d, sub, health, budget)| first::attempt(scope, d, sub, health.as_ref(), *budget));
    let mut next = Vec::new();
    let mut failed = None;
    for result in futures::future::join_all(tries).await {
        match result {
            Ok(queued) => next.extend(queued),
            Err(e) => failed = Some(e),
        }
    }
    scope.queue.send_all_delayed(queue, &next).await?;
    if made > 0 {
        tracing::info!(lead_id = %lead_id, deliveries = made, first_attempts = firsts.len(), "fanned out");
    }
    // The lead's message comes back and fan-out, run again, finishes.
    match failed {
        Some(e) => Err(e),
        None => Ok(made),
    }
}

/// The messages for first attempts left claimed and unlisted (`process`
/// stopped mid-attempt) to subscriptions that have since stopped wanting
/// the lead (their types, sources, filter or state changed): one read per
/// such pair, on a fan-out run again only.
async fn left_unwanted(
    scope: &Scope,
    lead: &LeadRecord,
    entries: &[HistoryEntry],
    subs: &[Subscription],
    wanted: &[(&HistoryEntry, &Subscription)],
) -> Result<Vec<first::Queued>, Error> {
    let wanted: std::collections::HashSet<_> = wanted
        .iter()
        .map(|(e, s)| deliveries::id_for(e, &s.id))
        .collect();
    let unwanted: Vec<Delivery> = entries
        .iter()
        .flat_map(|entry| subs.iter().map(move |sub| (entry, sub)))
        .filter(|(entry, sub)| !wanted.contains(&deliveries::id_for(entry, &sub.id)))
        .map(|(entry, sub)| delivery_for(entry, lead, sub))
        .collect();
    let found = futures::future::try_join_all(unwanted.iter().map(|d| first::found(scope, d)));
    Ok(found.await?.into_iter().flatten().collect())
}

/// The delivery of `entry` to `sub`: the same id every time.
fn delivery_for(entry: &HistoryEntry, lead: &LeadRecord, sub: &Subscription) -> Delivery {
    let id = deliveries::id_for(entry, &sub.id);
    let view = LeadView::from(lead.clone());
    let payload = default_body(entry.kind, &id, &entry.occurred_at, &view, Some(entry)).to_string();
    Delivery::new(id, entry, lead, sub, payload)
}

/// The default webhook body (docs/CONTRACT.md §7).
pub fn default_body(
    kind: LeadEventType,
    delivery_id: &str,
    occurred_at: &str,
    lead: &LeadView,
    entry: Option<&HistoryEntry>,
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
