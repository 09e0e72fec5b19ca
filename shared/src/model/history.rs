//! A lead's history: the domain events `lead.created`, `lead.re_engaged`
//! and `lead.updated`, one entry per (cause, type), which
//! [`crate::process::fan_out`] turns into deliveries.
//!
//! `lead.re_engaged` and `lead.updated` are items beside the lead.
//! `lead.created` is read from the lead itself (`createdBy`, `createdAt`):
//! every new lead would otherwise pay one more write for an item that only
//! repeats what the lead says. Leads from before that change still have
//! the item, and it is read as it is.

use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::aws::table;
use crate::error::Error;
use crate::model::leads::{self, LeadRecord};
use crate::rules::ids::{CauseId, LeadId, WorkspaceId};

/// The kinds of domain event a lead has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeadEventType {
    #[serde(rename = "lead.created")]
    Created,
    #[serde(rename = "lead.updated")]
    Updated,
    #[serde(rename = "lead.re_engaged")]
    ReEngaged,
    /// The person's data was erased (GDPR Art. 17): the delivery carries
    /// the lead's id and nothing personal.
    #[serde(rename = "lead.deleted")]
    Deleted,
}

impl LeadEventType {
    pub const ALL: [LeadEventType; 4] = [
        LeadEventType::Created,
        LeadEventType::Updated,
        LeadEventType::ReEngaged,
        LeadEventType::Deleted,
    ];

    /// The type as the contract spells it (`lead.created`…), exactly.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LeadEventType::Created => "lead.created",
            LeadEventType::Updated => "lead.updated",
            LeadEventType::ReEngaged => "lead.re_engaged",
            LeadEventType::Deleted => "lead.deleted",
        }
    }
}

/// One entry of a lead's history: a domain event, keyed by what caused it
/// (the inbound event id), so recording it twice is impossible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub pk: String,
    pub sk: String,
    pub lead_id: LeadId,
    #[serde(rename = "type")]
    pub kind: LeadEventType,
    /// The inbound event (or admin change) that caused it.
    pub cause_id: CauseId,
    pub occurred_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_seen_at: Option<String>,
    /// `lead.updated`: what changed, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<String>,
}

impl HistoryEntry {
    pub fn new(
        ws: &WorkspaceId,
        lead_id: &LeadId,
        kind: LeadEventType,
        cause_id: &CauseId,
        occurred_at: &str,
    ) -> Self {
        let key = table::history_entry(ws, lead_id.as_str(), cause_id.as_str(), kind.as_str());
        HistoryEntry {
            pk: key.pk,
            sk: key.sk,
            lead_id: lead_id.clone(),
            kind,
            cause_id: cause_id.clone(),
            occurred_at: occurred_at.to_owned(),
            previous_seen_at: None,
            changes: None,
        }
    }

    /// The `lead.created` entry a lead carries, if it records its cause.
    pub fn created(lead: &LeadRecord) -> Option<Self> {
        let cause = lead.created_by.as_ref()?;
        Some(Self::new(
            &lead.workspace,
            &lead.id,
            LeadEventType::Created,
            cause,
            &lead.created_at,
        ))
    }
}

/// `stored` with the lead's own `lead.created` entry added where `wanted`
/// and not stored (leads from before `createdBy` have it stored).
fn with_created(
    mut stored: Vec<HistoryEntry>,
    lead: &LeadRecord,
    wanted: impl Fn(&CauseId) -> bool,
) -> Vec<HistoryEntry> {
    let has_created = stored.iter().any(|e| e.kind == LeadEventType::Created);
    if let Some(created) = HistoryEntry::created(lead)
        && !has_created
        && wanted(&created.cause_id)
    {
        stored.insert(0, created);
    }
    stored
}

/// A lead's history, oldest first (empty when the lead does not exist).
pub async fn history(scope: &Scope, lead_id: &str) -> Result<Vec<HistoryEntry>, Error> {
    let pk = table::lead(scope.ws(), lead_id).pk;
    let (lead, stored) = tokio::try_join!(
        leads::get(scope, lead_id),
        scope
            .store
            .query_prefix::<HistoryEntry>(&pk, table::HISTORY_PREFIX),
    )?;
    Ok(match lead {
        Some(lead) => with_created(stored, &lead, |_| true),
        None => stored,
    })
}

/// The entries of `lead` that one cause (an inbound event, an admin edit)
/// made.
pub async fn of_cause(
    scope: &Scope,
    lead: &LeadRecord,
    cause_id: &CauseId,
) -> Result<Vec<HistoryEntry>, Error> {
    let stored = scope
        .store
        .query_prefix(
            &table::lead(scope.ws(), lead.id.as_str()).pk,
            &table::history_of_cause(cause_id.as_str()),
        )
        .await?;
    Ok(with_created(stored, lead, |c| c == cause_id))
}

/// Writes a history entry once: one per (cause, type), a second try of the
/// same cause finds it there.
pub async fn put_new(
    scope: &Scope,
    entry: &HistoryEntry,
) -> Result<crate::aws::store::Write, Error> {
    scope.store.put_new(entry).await
}

/// Saves an admin's edit of a lead with its `lead.updated` entry, both or
/// neither (a transaction: edits are rare, and the lead must never change
/// without its history); false when the lead changed since
/// `previous_version` was read.
pub async fn save_edit(
    scope: &Scope,
    lead: &LeadRecord,
    previous_version: i64,
    entry: &HistoryEntry,
) -> Result<bool, Error> {
    use crate::aws::store::{Tx, n};
    let items = vec![
        scope.store.tx_put(
            lead,
            Some("version = :v"),
            vec![(":v", n(previous_version))],
        )?,
        scope
            .store
            .tx_put(entry, Some("attribute_not_exists(pk)"), vec![])?,
    ];
    Ok(scope.store.transact(items).await? == Tx::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_types_serialise_as_the_contract_names() {
        assert_eq!(
            serde_json::to_value(LeadEventType::ReEngaged).unwrap(),
            json!("lead.re_engaged")
        );
        let lead = LeadId::parse("lead_01jsaaaaaaaaaaaaaaaaaaaaaa").unwrap();
        let evt = crate::rules::ids::EventId::parse("evt_01jsaaaaaaaaaaaaaaaaaaaaaa").unwrap();
        let e = HistoryEntry::new(
            &WorkspaceId::default(),
            &lead,
            LeadEventType::Created,
            &(&evt).into(),
            "t",
        );
        assert_eq!(e.sk, "HIST#evt_01jsaaaaaaaaaaaaaaaaaaaaaa#lead.created");
        for t in LeadEventType::ALL {
            assert_eq!(LeadEventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        }
        assert_eq!(LeadEventType::parse("lead.removed"), None);
    }
}
