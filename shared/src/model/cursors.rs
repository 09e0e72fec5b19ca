//! Where the sweeper stopped reading a workspace's events listing
//! ([`crate::sweep`]): the id of the newest event it has looked at, or,
//! before its first find, the bound its first run anchored a day back.
//! Events are listed in id order and ids are times, so everything at or
//! before the cursor has been seen once past its grace period.
//!
//! One item per workspace, written by its first run and then only when the
//! cursor moves past an event (a run that finds no new events writes
//! nothing), and only forward: two sweepers at once, or a run that read
//! less than another, never move it back.

use serde::Deserialize;

use crate::app::Scope;
use crate::aws::store::{Write, s};
use crate::aws::table;
use crate::error::Error;

#[derive(Deserialize)]
struct Cursor {
    #[serde(rename = "checkedTo")]
    checked_to: String,
}

/// The newest event id the sweeper has looked at, if it has run.
pub async fn events_checked_to(scope: &Scope) -> Result<Option<String>, Error> {
    let key = table::events_cursor(scope.ws());
    let cursor: Option<Cursor> = scope.store.get(&key.pk, &key.sk).await?;
    Ok(cursor.map(|c| c.checked_to))
}

/// Moves the cursor forward to `to` (an event id); a cursor already at or
/// past it stays. Its answer lost, the SDK's retry finds the cursor moved
/// (a `Conflict`, read as done): the write is idempotent.
pub async fn advance_events(scope: &Scope, to: &str) -> Result<(), Error> {
    let key = table::events_cursor(scope.ws());
    let moved = scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            "SET checkedTo = :to",
            Some("attribute_not_exists(checkedTo) OR checkedTo < :to"),
            vec![],
            vec![(":to", s(to))],
        )
        .await?;
    if moved == Write::Conflict {
        tracing::debug!(to, "events cursor already past this point");
    }
    Ok(())
}
