//! Taking back an event whose message ingest could not queue.

use super::EventStatus;
use crate::app::Scope;
use crate::aws::store::s;
use crate::aws::table;
use crate::error::Error;
use crate::rules::ids::EventId;

/// What [`withdraw`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawn {
    /// Removed: nothing had started on it.
    Removed,
    /// Kept: its message got through after all (`process` has claimed an
    /// address for it, or ended it), or it is gone already.
    Kept,
}

/// Takes back an event whose message ingest could not queue — only while
/// nothing counts on it: still `RECEIVED`, and no address of it claimed by
/// it (`identities`: its email's and phone's identity keys). A send that
/// failed may still have delivered the message; a concurrent event of the
/// same person then waits on this event's claims, and removing it would
/// let that one make a second lead. One transaction, on this rare path.
pub async fn withdraw(
    scope: &Scope,
    id: &EventId,
    identities: &[table::Key],
) -> Result<Withdrawn, Error> {
    let key = table::event(scope.ws(), id.as_str());
    let mut items = vec![scope.store.tx_delete(
        &key.pk,
        &key.sk,
        Some(super::status::ONLY_RECEIVED),
        super::status::STATUS_NAMES.to_vec(),
        vec![(":received", s(EventStatus::Received.as_str()))],
    )?];
    for identity in identities {
        items.push(scope.store.tx_check(
            &identity.pk,
            &identity.sk,
            "attribute_not_exists(pk) OR claimedBy <> :e",
            vec![(":e", s(id.as_str()))],
        )?);
    }
    match scope.store.transact(items).await? {
        crate::aws::store::Tx::Done => {
            let input = table::event_input(scope.ws(), id.as_str());
            scope
                .store
                .delete(&input.pk, &input.sk, None, vec![])
                .await?;
            Ok(Withdrawn::Removed)
        }
        crate::aws::store::Tx::Cancelled(_) => Ok(Withdrawn::Kept),
    }
}
