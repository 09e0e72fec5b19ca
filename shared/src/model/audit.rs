//! The audit trail: every write through the API or the console, in its
//! workspace — who (a token's id and name, or the root), what (the action
//! and the object), when, and from where (source IP, user agent). Never a
//! secret: an entry holds names and ids only.

use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::table::{self, Listing};
use crate::error::{DataError, Error};
use crate::rules::clock;
use crate::rules::ids::AuditId;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Actor {
    /// The deployment's admin token.
    Root,
    /// A workspace token.
    Token {
        #[serde(rename = "tokenId")]
        token_id: String,
        name: String,
    },
}

/// Longest user agent kept.
const MAX_USER_AGENT: usize = 256;

/// One entry as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub id: AuditId,
    pub at: String,
    pub actor: Actor,
    /// `keys.create`, `leads.erase`, …
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
    /// `api` or `console`.
    pub via: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The answer's status code.
    pub status: u16,
}

/// What a write is, for its entry.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub actor: &'a Actor,
    pub action: &'a str,
    pub object_id: Option<String>,
    pub via: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub status: u16,
}

/// Records one write (one write unit, plus its listing's index copy).
pub async fn record(scope: &Scope, r: Record<'_>) -> Result<(), Error> {
    let id = AuditId::generate();
    let key = table::audit_entry(scope.ws(), id.as_str());
    let entry = AuditEntry {
        pk: key.pk,
        sk: key.sk,
        gsi1pk: Listing::audit(scope.ws()).partition_for(id.as_str()),
        gsi1sk: id.to_string(),
        at: clock::now_rfc3339(),
        actor: r.actor.clone(),
        action: r.action.to_owned(),
        object_id: r.object_id,
        via: r.via.to_owned(),
        ip: r.ip.map(|ip| ip.chars().take(64).collect()),
        user_agent: r
            .user_agent
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
        status: r.status,
        id,
    };
    scope.store.put(&entry).await
}

/// A workspace's trail, newest first.
pub async fn list(scope: &Scope, page: &PageRequest) -> Result<Page<AuditEntry>, DataError> {
    scope
        .store
        .query_page(&Listing::audit(scope.ws()), page, true)
        .await
}
