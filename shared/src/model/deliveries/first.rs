//! A delivery whose first attempt `process` makes itself, right after
//! fan-out (see [`crate::deliver::first`]): written once, already claimed
//! for attempt 1 and on no listing, then moved on by the attempt's record,
//! which puts it on its listings (and on the work index if it stays
//! pending). A delivered lead costs its body, this put and that record.
//!
//! If `process` stops in between, its message comes back: fan-out finds
//! the delivery made with its claim ([`abandoned_first`]) and queues it
//! for when the lease runs out, when `deliver` records that attempt as
//! unanswered, which lists it like any failed attempt (fan-out records it
//! itself when the lease is over already).

use std::time::Duration;

use super::lifecycle::Claim;
use super::{Delivery, DeliveryStatus, get, put_body};
use crate::app::Scope;
use crate::aws::store::Write;
use crate::error::Error;
use crate::rules::clock;
use crate::rules::ids::{self, IdKind};

/// Writes `d`, as fan-out made it, claimed for its first attempt by this
/// caller until `lease` from now, its body first; `None` when the delivery
/// exists already. A lost answer is told from another's write by the
/// claim read back.
pub async fn put_first(
    scope: &Scope,
    d: &Delivery,
    lease: Duration,
) -> Result<Option<Claim>, Error> {
    put_body(scope, d).await?;
    let token = ids::new_id(IdKind::Request);
    let until = clock::now_ms() + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
    let mut item = d.clone();
    for listing in [
        &mut item.gsi1pk,
        &mut item.gsi1sk,
        &mut item.gsi2pk,
        &mut item.gsi2sk,
    ] {
        listing.clear();
    }
    item.gsi3pk = None;
    item.gsi3sk = None;
    item.status = DeliveryStatus::Pending;
    item.attempt_count = 1;
    item.claim = Some(token.clone());
    item.lease_until_ms = Some(until);
    let claim = Claim {
        n: 1,
        token,
        lease_until_ms: until,
        first: true,
    };
    match scope.store.put_new(&item).await? {
        Write::Done => Ok(Some(claim)),
        Write::Conflict => Ok(get(scope, &d.id)
            .await?
            .filter(|now| now.claim.as_deref() == Some(claim.token.as_str()))
            .map(|_| claim)),
    }
}

/// The first attempt's claim on `found` (a delivery fan-out met made
/// already, or `deliver` read) when `process` claimed it and never
/// recorded the attempt:
/// `Ok` once its lease has run out (the claimant is gone: record the
/// attempt as unanswered), `Err(until_ms)` while it may still be sending.
/// `None` for any other delivery.
pub fn abandoned_first(found: &Delivery, now_ms: i64) -> Option<Result<Claim, i64>> {
    if found.status != DeliveryStatus::Pending || !found.gsi1pk.is_empty() {
        return None;
    }
    let token = found.claim.clone()?;
    let until = found.lease_until_ms.unwrap_or(0);
    Some(if until > now_ms {
        Err(until)
    } else {
        Ok(Claim {
            n: found.attempt_count,
            token,
            lease_until_ms: until,
            first: true,
        })
    })
}
