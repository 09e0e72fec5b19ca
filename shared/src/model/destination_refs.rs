//! What a native destination keeps of a lead, beside the lead: the ids the
//! provider gave it (HubSpot's contact id…), so that later events update
//! that record and a retry after a lost answer makes no second one; and
//! when a create was sent without an answer (`pendingMs`), so that a retry
//! looks for what it may have made before making another.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::aws::table;
use crate::error::Error;
use crate::rules::clock;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refs {
    pub pk: String,
    pub sk: String,
    #[serde(default)]
    pub ids: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_ms: Option<i64>,
    #[serde(default)]
    pub updated_at: String,
}

impl Refs {
    pub fn id(&self, name: &str) -> Option<&str> {
        self.ids.get(name).map(String::as_str)
    }
}

/// The refs of (`lead_id`, `sub_id`); empty when none were kept.
pub async fn get(scope: &Scope, lead_id: &str, sub_id: &str) -> Result<Refs, Error> {
    let key = table::destination_refs(scope.ws(), lead_id, sub_id);
    Ok(scope.store.get(&key.pk, &key.sk).await?.unwrap_or(Refs {
        pk: key.pk,
        sk: key.sk,
        ..Refs::default()
    }))
}

/// Writes them (the last attempt's word wins: attempts of one delivery are
/// claimed one at a time).
pub async fn put(scope: &Scope, refs: &mut Refs) -> Result<(), Error> {
    refs.updated_at = clock::now_rfc3339();
    scope.store.put(refs).await
}
