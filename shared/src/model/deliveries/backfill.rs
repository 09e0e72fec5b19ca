//! The upgrade step that put pending deliveries written before the work
//! index existed on it.

use super::{Delivery, DeliveryStatus};
use crate::app::Scope;
use crate::aws::listing::Filter;
use crate::aws::store::{Write, s};
use crate::aws::table::{self, Listing};
use crate::error::Error;
use crate::rules::clock;
use crate::rules::ids::IdKind;

/// What [`backfill_work_index`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Backfilled {
    /// Pending deliveries found.
    pub pending: usize,
    /// Of those, put on the work index now (the rest already were).
    pub added: usize,
}

/// Puts every pending delivery that is not on the work index on it: the
/// upgrade step for deliveries written before the index existed.
/// Idempotent (conditional on still pending and not yet indexed); reads
/// every delivery once, so it is run once per upgrade, not on a schedule.
pub async fn backfill_work_index(scope: &Scope) -> Result<Backfilled, Error> {
    let range = (
        crate::rules::ids::bound_at(IdKind::Delivery, 0, false),
        crate::rules::ids::bound_at(
            IdKind::Delivery,
            u64::try_from(clock::now_ms()).unwrap_or(0) + 86_400_000,
            true,
        ),
    );
    let pending = Filter {
        expression: "#st = :v",
        value: s(DeliveryStatus::Pending.as_str()),
        name: Some(("#st", "status")),
    };
    let listing = Listing::deliveries(scope.ws());
    let found: Vec<Delivery> = scope
        .store
        .query_range(
            listing.gsi,
            &listing.partitions(),
            (&range.0, &range.1),
            Some(pending),
            usize::MAX,
        )
        .await?;
    let mut done = Backfilled {
        pending: found.len(),
        added: 0,
    };
    for d in found.iter().filter(|d| d.gsi3pk.is_none()) {
        let w = scope
            .store
            .update_if(
                &d.pk,
                &d.sk,
                "SET gsi3pk = :w, gsi3sk = :id",
                Some("#st = :pending AND attribute_not_exists(gsi3pk)"),
                vec![("#st", "status")],
                vec![
                    (":w", s(table::pending_delivery_shard(&d.id))),
                    (":id", s(d.id.clone())),
                    (":pending", s(DeliveryStatus::Pending.as_str())),
                ],
            )
            .await?;
        if w == Write::Done {
            done.added += 1;
        }
    }
    Ok(done)
}
