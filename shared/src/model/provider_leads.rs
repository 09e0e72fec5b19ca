//! Which lead a provider's own lead id made: written by `process` when a
//! LinkedIn lead is made (one put, LinkedIn leads only), read when LinkedIn
//! says the lead was `DELETED`, so the person's data can be erased.
//! Holds ids only.

use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::aws::table;
use crate::error::Error;
use crate::rules::ids::LeadId;

/// The providers whose lead ids are kept (those that announce deletions).
pub const KEPT: [&str; 1] = ["linkedin"];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderLead {
    pub pk: String,
    pub sk: String,
    pub provider: String,
    pub provider_lead_id: String,
    pub lead_id: LeadId,
}

/// Records that `provider_lead_id` of `provider` made (or was merged into)
/// `lead_id`; a repeat overwrites it with the same.
pub async fn put(
    scope: &Scope,
    provider: &str,
    provider_lead_id: &str,
    lead_id: &LeadId,
) -> Result<(), Error> {
    let key = table::provider_lead(scope.ws(), provider, provider_lead_id);
    scope
        .store
        .put(&ProviderLead {
            pk: key.pk,
            sk: key.sk,
            provider: provider.to_owned(),
            provider_lead_id: provider_lead_id.to_owned(),
            lead_id: lead_id.clone(),
        })
        .await
}

/// The lead a provider's lead id made, if one was recorded.
pub async fn get(
    scope: &Scope,
    provider: &str,
    provider_lead_id: &str,
) -> Result<Option<ProviderLead>, Error> {
    let key = table::provider_lead(scope.ws(), provider, provider_lead_id);
    scope.store.get(&key.pk, &key.sk).await
}

/// Forgets a provider's lead id (after its lead was erased).
pub async fn delete(scope: &Scope, provider: &str, provider_lead_id: &str) -> Result<(), Error> {
    let key = table::provider_lead(scope.ws(), provider, provider_lead_id);
    scope
        .store
        .delete(&key.pk, &key.sk, None, vec![])
        .await
        .map(|_| ())
}
