//! Leads: the clean, de-duplicated people Leadpipe keeps (docs/CONTRACT.md §6,
//! Leads), and their identities (one item per normalised email and per
//! E.164 phone, pointing at the lead). Their history is in
//! [`super::history`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::app::Scope;
use crate::aws::listing::Filter;
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::store::{Write, s};
use crate::aws::table::{self, Key, Listing};
use crate::error::{DataError, Error};
use crate::model::events::{LeadDefaults, Source};
use crate::rules::ids::{self, CauseId, EventId, IdKind, LeadId, WorkspaceId};
use crate::rules::inbound::LeadInput;

mod merge;
pub use merge::{Merge, union_tags};

/// A lead as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadRecord {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub gsi2pk: String,
    pub gsi2sk: String,
    /// Absent on the default workspace's leads (every lead before
    /// workspaces); its key says the same.
    #[serde(default, skip_serializing_if = "WorkspaceId::is_default")]
    pub workspace: WorkspaceId,
    pub id: LeadId,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    /// Every other email and phone the person was seen with (each is also
    /// an identity that finds this lead), up to [`MAX_OTHER_ADDRESSES`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_phones: Vec<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub status: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom fields as JSON text (exact numbers, any keys).
    #[serde(default)]
    pub custom_fields: String,
    pub source: Source,
    pub created_at: String,
    pub updated_at: String,
    pub last_seen_at: String,
    /// Optimistic-concurrency version, bumped on every write.
    pub version: i64,
    /// The latest re-engagement, decided in the lead's own conditional
    /// write so exactly one of racing events sees the silence, and a retry
    /// after a crash finds the decision (see `process::dedupe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub re_engagement: Option<ReEngagement>,
    /// The event that created the lead: its `lead.created` history entry
    /// is read from here rather than stored apart (one write less per new
    /// lead; see [`super::history`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<CauseId>,
    /// Made by a test submission (a provider's test lead, the console's
    /// Send test lead): sent only to subscriptions with `testLeads`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

/// Which event re-engaged a lead, and when it had been seen before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReEngagement {
    pub cause_id: CauseId,
    pub previous_seen_at: String,
}

/// The identity item of a normalised email or phone: which lead it finds,
/// and which event's resolution claimed it for that lead.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub pk: String,
    pub sk: String,
    pub lead_id: LeadId,
    /// The event whose resolution wrote the claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<EventId>,
    /// Random, new on every claim write: a stale claim is removed only if
    /// nobody wrote it again since it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
}

impl Identity {
    pub fn new(key: Key, lead_id: &LeadId, claimed_by: &EventId) -> Self {
        Identity {
            pk: key.pk,
            sk: key.sk,
            lead_id: lead_id.clone(),
            claimed_by: Some(claimed_by.clone()),
            claim: Some(crate::rules::crypto::random_token(9)),
        }
    }
}

/// The lead an event creates when its person is new: derived from the
/// event, so every try of one event (a redelivered message, a crash half
/// way) works on the same lead id.
pub fn lead_id_of(event: &EventId, received_at: &str) -> LeadId {
    let ms = crate::rules::clock::parse_rfc3339(received_at)
        .unwrap_or_else(crate::rules::clock::now_ms)
        .max(0) as u64;
    let id = ids::derived_id(IdKind::Lead, ms, event.as_str());
    // A derived id is well formed by construction.
    LeadId::parse(&id).unwrap_or_else(LeadId::generate)
}

/// Bounds of one stored lead, so merges can never grow it past what
/// DynamoDB stores (400 KB an item), whoever posts to a public key: the
/// first values win, and what does not fit is left out of the lead (the
/// event keeps the submission as it came).
pub const MAX_LEAD_CUSTOM_FIELDS: usize = crate::rules::inbound::fields::MAX_CUSTOM_FIELDS;
/// Custom fields of one lead, as stored JSON.
pub const MAX_LEAD_CUSTOM_BYTES: usize = 64 * 1024;
/// Other emails, and other phones, kept on a lead.
pub const MAX_OTHER_ADDRESSES: usize = 10;

/// A lead as the API (and the default webhook body) shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadView {
    pub id: LeadId,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_phones: Vec<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
    pub status: String,
    pub tags: Vec<String>,
    pub custom_fields: BTreeMap<String, Value>,
    pub source: Source,
    pub created_at: String,
    pub updated_at: String,
    pub last_seen_at: String,
    /// A test lead (shown only when true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

impl From<LeadRecord> for LeadView {
    fn from(l: LeadRecord) -> Self {
        LeadView {
            custom_fields: l.custom_fields(),
            id: l.id,
            email: l.email,
            phone: l.phone,
            other_emails: l.other_emails,
            other_phones: l.other_phones,
            first_name: l.first_name,
            last_name: l.last_name,
            name: l.name,
            status: l.status,
            tags: l.tags,
            source: l.source,
            created_at: l.created_at,
            updated_at: l.updated_at,
            last_seen_at: l.last_seen_at,
            test: l.test,
        }
    }
}

pub async fn get(scope: &Scope, id: &str) -> Result<Option<LeadRecord>, Error> {
    super::read(scope, IdKind::Lead, id, table::lead).await
}

/// The lead an identity points at.
pub async fn by_identity(scope: &Scope, identity: &Key) -> Result<Option<LeadRecord>, Error> {
    match scope
        .store
        .get::<Identity>(&identity.pk, &identity.sk)
        .await?
    {
        Some(identity) => get(scope, identity.lead_id.as_str()).await,
        None => Ok(None),
    }
}

/// Filters of `GET /v1/leads`.
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    pub status: Option<String>,
    pub tag: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Leads, newest first, filtered.
pub async fn list(
    scope: &Scope,
    filter: &LeadFilter,
    page: &PageRequest,
) -> Result<Page<LeadRecord>, DataError> {
    // Email and phone are exact, normalised look-ups through the identities.
    let identity = match (&filter.email, &filter.phone) {
        (Some(e), _) => Some(table::email_identity(scope.ws(), e)),
        (None, Some(p)) => Some(table::phone_identity(scope.ws(), p)),
        _ => None,
    };
    if let Some(identity) = identity {
        let lead = by_identity(scope, &identity).await?;
        let items = lead
            .into_iter()
            .filter(|l| {
                filter
                    .phone
                    .as_ref()
                    .is_none_or(|p| l.phone.as_ref() == Some(p) || l.other_phones.contains(p))
            })
            .filter(|l| filter.status.as_ref().is_none_or(|s| &l.status == s))
            .filter(|l| {
                filter
                    .tag
                    .as_ref()
                    .is_none_or(|t| l.tags.iter().any(|x| x.eq_ignore_ascii_case(t)))
            })
            .collect();
        return Ok(Page {
            items,
            next_cursor: None,
        });
    }
    let listing = match &filter.status {
        Some(s) => Listing::leads_by_status(scope.ws(), s),
        None => Listing::leads(scope.ws()),
    };
    match &filter.tag {
        None => scope.store.query_page(&listing, page, true).await,
        Some(tag) => {
            scope
                .store
                .query_page_filtered(
                    &listing,
                    page,
                    true,
                    Filter {
                        expression: "contains(tags, :v)",
                        value: s(tag),
                        name: None,
                    },
                )
                .await
        }
    }
}

#[cfg(test)]
mod tests;

/// What is left of an erased lead to announce it: its id, workspace,
/// source and times; every personal field empty.
pub fn tombstone(lead: &LeadRecord, at: &str) -> LeadRecord {
    let mut t = LeadRecord::new(
        &lead.workspace,
        lead.id.clone(),
        &LeadInput::default(),
        &LeadDefaults {
            status: "erased".into(),
            tags: Vec::new(),
        },
        lead.source.clone(),
        &lead.created_at,
    );
    t.updated_at = at.to_owned();
    t.last_seen_at = lead.last_seen_at.clone();
    t.test = lead.test;
    t
}

/// Who holds an address: its identity item, if any.
pub async fn identity(scope: &Scope, key: &Key) -> Result<Option<Identity>, Error> {
    scope.store.get(&key.pk, &key.sk).await
}

/// Claims an address for its lead: only where it is absent or already
/// this lead's (`mine`, an earlier try of the same event).
pub async fn claim_identity(
    scope: &Scope,
    identity: Identity,
    mine: &LeadId,
) -> Result<Write, Error> {
    scope
        .store
        .put_if(
            &identity,
            "attribute_not_exists(pk) OR leadId = :mine",
            [(":mine".to_owned(), s(mine.as_str()))].into(),
        )
        .await
}

/// Removes a stale claim, unless it was written again since it was read
/// (its random claim token, or for a claim from before tokens its lead).
pub async fn remove_stale_claim(scope: &Scope, key: &Key, read: &Identity) -> Result<Write, Error> {
    match &read.claim {
        Some(claim) => {
            scope
                .store
                .delete(
                    &key.pk,
                    &key.sk,
                    Some("claim = :c"),
                    vec![(":c", s(claim.as_str()))],
                )
                .await
        }
        None => {
            scope
                .store
                .delete(
                    &key.pk,
                    &key.sk,
                    Some("leadId = :l AND attribute_not_exists(claim)"),
                    vec![(":l", s(read.lead_id.as_str()))],
                )
                .await
        }
    }
}

/// Writes a new lead; one already there (an earlier try of the same
/// event, whose id it derives from) is this one.
pub async fn put_created(scope: &Scope, lead: &LeadRecord) -> Result<Write, Error> {
    scope.store.put_new(lead).await
}

/// Writes a merged lead if nobody changed it since `version` was read.
pub async fn save_merge(scope: &Scope, lead: &LeadRecord, version: i64) -> Result<Write, Error> {
    scope
        .store
        .put_if(
            lead,
            "version = :v",
            [(":v".to_owned(), crate::aws::store::n(version))].into(),
        )
        .await
}
