//! A lead's history: the domain events `lead.created`, `lead.re_engaged`
//! and `lead.updated`, one entry per (cause, type) beside the lead, which
//! [`crate::process::fan_out`] turns into deliveries.

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::aws::table;
use crate::error::Error;
use crate::rules::ids::{CauseId, LeadId};

/// The kinds of domain event a lead has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeadEventType {
    #[serde(rename = "lead.created")]
    Created,
    #[serde(rename = "lead.updated")]
    Updated,
    #[serde(rename = "lead.re_engaged")]
    ReEngaged,
}

impl LeadEventType {
    pub const ALL: [LeadEventType; 3] = [
        LeadEventType::Created,
        LeadEventType::Updated,
        LeadEventType::ReEngaged,
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
    /// Set once its deliveries exist and are queued.
    #[serde(default)]
    pub fanned_out: bool,
}

impl HistoryEntry {
    pub fn new(
        lead_id: &LeadId,
        kind: LeadEventType,
        cause_id: &CauseId,
        occurred_at: &str,
    ) -> Self {
        let key = table::history_entry(lead_id.as_str(), cause_id.as_str(), kind.as_str());
        HistoryEntry {
            pk: key.pk,
            sk: key.sk,
            lead_id: lead_id.clone(),
            kind,
            cause_id: cause_id.clone(),
            occurred_at: occurred_at.to_owned(),
            previous_seen_at: None,
            changes: None,
            fanned_out: false,
        }
    }
}

/// A lead's history, oldest first.
pub async fn history(app: &App, lead_id: &str) -> Result<Vec<HistoryEntry>, Error> {
    app.store
        .query_prefix(&table::lead(lead_id).pk, table::HISTORY_PREFIX)
        .await
}

/// The entries of a lead that one cause (an inbound event, an admin edit)
/// made.
pub async fn of_cause(
    app: &App,
    lead_id: &LeadId,
    cause_id: &CauseId,
) -> Result<Vec<HistoryEntry>, Error> {
    app.store
        .query_prefix(
            &table::lead(lead_id.as_str()).pk,
            &table::history_of_cause(cause_id.as_str()),
        )
        .await
}

/// Marks an entry as fanned out: its deliveries exist and are queued.
pub async fn mark_fanned_out(app: &App, entry: &HistoryEntry) -> Result<(), Error> {
    app.store
        .update_if(
            &entry.pk,
            &entry.sk,
            "SET fannedOut = :t",
            None,
            vec![],
            vec![(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))],
        )
        .await
        .map(|_| ())
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
        let e = HistoryEntry::new(&lead, LeadEventType::Created, &(&evt).into(), "t");
        assert_eq!(e.sk, "HIST#evt_01jsaaaaaaaaaaaaaaaaaaaaaa#lead.created");
        for t in LeadEventType::ALL {
            assert_eq!(LeadEventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
        }
        assert_eq!(LeadEventType::parse("lead.deleted"), None);
    }
}
