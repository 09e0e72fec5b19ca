//! The stored entities: one file each, with the record as stored, the view
//! the API shows, and the functions that read and write it.

pub mod audit;
pub mod cursors;
pub mod deliveries;
pub mod destination_refs;
pub mod erasure;
pub mod event_type;
pub mod events;
pub mod health;
pub mod history;
pub mod idempotency;
pub mod key_sources;
pub mod keys;
pub mod leads;
pub mod merges;
pub mod meta_deletions;
pub mod pages;
pub mod provider_leads;
pub mod subscriptions;
pub mod tokens;
pub mod workspaces;

use serde::de::DeserializeOwned;

use crate::app::Scope;
use crate::aws::table::Key;
use crate::error::Error;
use crate::rules::ids::{IdKind, WorkspaceId, is_valid};

/// The one read of an item by an id from outside (a path, a message): an
/// id that is not well formed for its kind is simply not found and never
/// reaches the store, and the key is built in the scope's workspace, so
/// another workspace's item is not found either.
pub(crate) async fn read<T: DeserializeOwned>(
    scope: &Scope,
    kind: IdKind,
    id: &str,
    key: fn(&WorkspaceId, &str) -> Key,
) -> Result<Option<T>, Error> {
    if !is_valid(kind, id) {
        return Ok(None);
    }
    let key = key(scope.ws(), id);
    scope.store.get(&key.pk, &key.sk).await
}
