//! A Meta leadgen's marker: which event recorded a `leadgen_id`, so a
//! second notification for it is a duplicate, not a second lead.

use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::aws::store::Write;
use crate::aws::table;
use crate::error::Error;
use crate::rules::ids::{EventId, WorkspaceId};

/// The marker that a Meta `leadgen_id` was recorded as the event it names;
/// written in one transaction with that event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadgenMarker {
    pub pk: String,
    pub sk: String,
    pub event_id: EventId,
}

impl LeadgenMarker {
    pub fn new(ws: &WorkspaceId, leadgen_id: &str, event_id: &EventId) -> Self {
        let key = table::leadgen_marker(ws, leadgen_id);
        LeadgenMarker {
            pk: key.pk,
            sk: key.sk,
            event_id: event_id.clone(),
        }
    }
}

/// Writes a leadgen's marker; `Conflict` when the leadgen was seen before.
pub async fn put_marker(scope: &Scope, marker: &LeadgenMarker) -> Result<Write, Error> {
    scope.store.put_new(marker).await
}

/// The marker of a Meta `leadgen_id`, naming the event that recorded it.
pub async fn leadgen_marker(
    scope: &Scope,
    leadgen_id: &str,
) -> Result<Option<LeadgenMarker>, Error> {
    let key = table::leadgen_marker(scope.ws(), leadgen_id);
    scope.store.get(&key.pk, &key.sk).await
}
