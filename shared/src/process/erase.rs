//! A lead's erasure as a whole (GDPR Art. 17): `lead.deleted` announced to
//! the subscriptions that ask for it (a tombstone: the lead's id, nothing
//! personal), then everything that holds the person's data removed
//! ([`crate::model::erasure`]). Used by the admin API's
//! `POST /v1/leads/{id}/erase` and by a provider's own deletion (LinkedIn's
//! `leadAction: "DELETED"`).

use crate::app::Scope;
use crate::error::Error;
use crate::model::erasure::{self, Erased};
use crate::model::history::{self, HistoryEntry, LeadEventType};
use crate::model::leads::{self, LeadRecord};
use crate::model::{deliveries, subscriptions};
use crate::rules::clock;
use crate::rules::ids::{CauseId, ChangeId};

/// Erases `lead`; returns what went and when. The announcement is sent
/// before anything is erased: if sending fails nothing is gone and the
/// erasure can be repeated.
pub async fn erase(scope: &Scope, lead: &LeadRecord) -> Result<(Erased, String), Error> {
    let entries = history::history(scope, lead.id.as_str()).await?;
    let subs = subscriptions::all(scope).await?;
    // The submissions merged into the lead are the person's too (a merge
    // that did not re-engage has no history entry: its merge names it).
    let merged = crate::model::merges::of_lead(scope, lead.id.as_str()).await?;
    let mut event_ids: Vec<String> = entries
        .iter()
        .map(|e| e.cause_id.as_str().to_owned())
        .filter(|c| c.starts_with("evt_"))
        .collect();
    for m in merged {
        let id = m.event_id.to_string();
        if !event_ids.contains(&id) {
            event_ids.push(id);
        }
    }
    let delivery_ids: Vec<String> = entries
        .iter()
        .flat_map(|e| subs.iter().map(|s| deliveries::id_for(e, &s.id).into()))
        .collect();
    let now = clock::now_rfc3339();
    let cause = CauseId::from(&ChangeId::generate());
    let tombstone = leads::tombstone(lead, &now);
    let entry = HistoryEntry::new(scope.ws(), &lead.id, LeadEventType::Deleted, &cause, &now);
    super::fan_out::fan_out_entries(
        scope,
        &tombstone,
        &[entry],
        false,
        super::fan_out::Via::Queue,
    )
    .await?;
    let erased = erasure::erase_lead(scope, lead, &event_ids, &delivery_ids).await?;
    tracing::info!(lead_id = %lead.id, ?erased, "lead erased");
    Ok((erased, now))
}
