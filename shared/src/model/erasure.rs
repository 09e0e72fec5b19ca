//! Erasure (GDPR Art. 17): a person's data removed from everything that
//! holds it, and a whole workspace emptied before it is deleted.
//!
//! A lead's erasure removes the lead, its history and its merges (which
//! hold its changes), its identities (so no search by email or phone finds it),
//! the stored submissions and request metadata (IP, user agent, origin) of
//! its events, and its deliveries' frozen bodies and attempt logs. What
//! stays are ids and statuses: an event says `PROCESSED` with a `leadId`
//! that is found no more, a delivery says `delivered` without its body.
//!
//! Each step is an idempotent delete or `REMOVE`: an erasure stopped half
//! way (its answer lost, a crash) is finished by running it again, and the
//! lead item goes last so the run can be found and repeated from it.

use serde::Deserialize;

use crate::app::Scope;
use crate::aws::pagination::{MAX_LIMIT, PageRequest};
use crate::aws::store::s;
use crate::aws::table::{self, Listing};
use crate::error::Error;
use crate::model::leads::LeadRecord;
use crate::rules::clock;

/// A key, for deletes.
#[derive(Debug, Deserialize)]
struct Keyed {
    pk: String,
    sk: String,
    #[serde(default)]
    id: Option<String>,
}

/// What one lead's erasure removed.
#[derive(Debug, Default, Clone, Copy, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Erased {
    pub identities: usize,
    pub events: usize,
    pub deliveries: usize,
    pub history: usize,
}

/// Erases `lead` and what it reached: `delivery_ids` are its deliveries
/// (see [`crate::model::deliveries::id_for`]), `event_ids` the events that
/// made or changed it.
pub async fn erase_lead(
    scope: &Scope,
    lead: &LeadRecord,
    event_ids: &[String],
    delivery_ids: &[String],
) -> Result<Erased, Error> {
    let mut erased = Erased::default();
    let ws = scope.ws();
    let emails = lead.email.iter().chain(lead.other_emails.iter());
    let phones = lead.phone.iter().chain(lead.other_phones.iter());
    let identities: Vec<table::Key> = emails
        .map(|e| table::email_identity(ws, e))
        .chain(phones.map(|p| table::phone_identity(ws, p)))
        .collect();
    for key in identities {
        // Only an identity that still names this lead.
        let values = vec![(":lead", s(lead.id.as_str()))];
        let w = scope
            .store
            .delete(&key.pk, &key.sk, Some("leadId = :lead"), values)
            .await?;
        if w == crate::aws::store::Write::Done {
            erased.identities += 1;
        }
    }
    for id in event_ids {
        let key = table::event(ws, id);
        let input = table::event_input(ws, id);
        scope
            .store
            .delete(&input.pk, &input.sk, None, vec![])
            .await?;
        let w = scope
            .store
            .update_if(
                &key.pk,
                &key.sk,
                "REMOVE #i, #r SET erasedAt = :at",
                Some("attribute_exists(pk)"),
                vec![("#i", "input"), ("#r", "request")],
                vec![(":at", s(clock::now_rfc3339()))],
            )
            .await?;
        if w == crate::aws::store::Write::Done {
            erased.events += 1;
        }
    }
    for id in delivery_ids {
        let key = table::delivery(ws, id);
        let body = table::delivery_body(ws, id);
        scope.store.delete(&body.pk, &body.sk, None, vec![]).await?;
        let attempts: Vec<Keyed> = scope
            .store
            .query_prefix(&key.pk, table::ATTEMPT_PREFIX)
            .await?;
        for a in attempts {
            scope.store.delete(&a.pk, &a.sk, None, vec![]).await?;
        }
        let w = scope
            .store
            .update_if(
                &key.pk,
                &key.sk,
                "REMOVE #p, lastError, inlineAttempts SET erasedAt = :at",
                Some("attribute_exists(pk)"),
                vec![("#p", "payload")],
                vec![(":at", s(clock::now_rfc3339()))],
            )
            .await?;
        if w == crate::aws::store::Write::Done {
            erased.deliveries += 1;
        }
    }
    let lead_key = table::lead(ws, lead.id.as_str());
    let history: Vec<Keyed> = scope
        .store
        .query_prefix(&lead_key.pk, table::HISTORY_PREFIX)
        .await?;
    for h in history {
        scope.store.delete(&h.pk, &h.sk, None, vec![]).await?;
        erased.history += 1;
    }
    // The merges name what each submission changed: personal data too.
    let merges: Vec<Keyed> = scope
        .store
        .query_prefix(&lead_key.pk, table::MERGE_PREFIX)
        .await?;
    for m in merges {
        scope.store.delete(&m.pk, &m.sk, None, vec![]).await?;
        erased.history += 1;
    }
    scope
        .store
        .delete(&lead_key.pk, &lead_key.sk, None, vec![])
        .await?;
    Ok(erased)
}

/// Whether nothing a user made is left in the workspace (keys,
/// subscriptions, leads, events).
pub async fn is_empty(scope: &Scope) -> Result<bool, Error> {
    let ws = scope.ws();
    for listing in [
        Listing::keys(ws),
        Listing::subscriptions(ws),
        Listing::leads(ws),
        Listing::events(ws),
    ] {
        if !first_page(scope, &listing, 1).await?.is_empty() {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn first_page(scope: &Scope, listing: &Listing, limit: u32) -> Result<Vec<Keyed>, Error> {
    let page = PageRequest {
        limit,
        cursor: None,
    };
    Ok(scope
        .store
        .query_page::<Keyed>(listing, &page, false)
        .await
        .map_err(crate::error::DataError::into_internal)?
        .items)
}

/// How far a workspace's erasure got.
#[derive(Debug, Default, Clone, Copy)]
pub struct Progress {
    pub done: bool,
    pub erased: usize,
}

/// How long one call erases before answering (API Gateway waits 29 s).
const BUDGET_MS: i64 = 20_000;

/// Deletes everything of a workspace, page by page, within a time budget;
/// called again, it goes on where it stopped. Keys and tokens go first,
/// so nothing new arrives while the rest is erased.
pub async fn erase_workspace(scope: &Scope) -> Result<Progress, Error> {
    let started = clock::now_ms();
    let ws = scope.ws();
    let mut progress = Progress::default();
    let listings = [
        Listing::keys(ws),
        Listing::tokens(ws),
        Listing::pages(ws),
        Listing::subscriptions(ws),
        Listing::deliveries(ws),
        Listing::events(ws),
        Listing::leads(ws),
        Listing::audit(ws),
    ];
    for listing in listings {
        loop {
            if clock::now_ms() - started > BUDGET_MS {
                return Ok(progress);
            }
            let items = first_page(scope, &listing, MAX_LIMIT).await?;
            if items.is_empty() {
                break;
            }
            for item in items {
                // What hangs off the item by name (a key's counters, a
                // lead's identities), then everything in its partition (a
                // delivery's body and attempts, an event's input).
                if let Some(id) = &item.id {
                    erase_named(scope, id).await?;
                }
                let beside: Vec<Keyed> = scope.store.query_prefix(&item.pk, "").await?;
                for b in beside {
                    scope.store.delete(&b.pk, &b.sk, None, vec![]).await?;
                }
                scope.store.delete(&item.pk, &item.sk, None, vec![]).await?;
                progress.erased += 1;
            }
        }
    }
    progress.done = true;
    Ok(progress)
}

/// Items named after an entity rather than beside it: a key's counter
/// shards, a lead's identities.
async fn erase_named(scope: &Scope, id: &str) -> Result<(), Error> {
    if id.starts_with("key_") {
        for n in 0..scope.config.counter_shards {
            let k = table::key_counter(scope.ws(), id, n);
            scope.store.delete(&k.pk, &k.sk, None, vec![]).await?;
        }
    }
    if id.starts_with("lead_") {
        let key = table::lead(scope.ws(), id);
        if let Some(lead) = scope.store.get::<LeadRecord>(&key.pk, &key.sk).await? {
            erase_lead(scope, &lead, &[], &[]).await?;
        }
    }
    Ok(())
}
