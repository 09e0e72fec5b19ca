//! A delivery's attempts, as data: the claim of the next attempt (a lease,
//! so two copies of one message never send the same attempt), its log
//! entry and the delivery's move on, and what the sweeper and a retry do
//! to a delivery that stopped moving.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{ATTEMPT_RETENTION_S, Attempt, Delivery, DeliveryStatus, InlineAttempt, get};
use crate::app::Scope;
use crate::aws::store::{Write, n, s};
use crate::aws::table;
use crate::error::Error;
use crate::rules::clock;
use crate::rules::ids::{self, IdKind};

/// What one attempt came to, as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord<'a> {
    pub n: u32,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<&'a str>,
    pub response: Option<&'a str>,
    /// When the next attempt is due (Unix ms), if one follows.
    pub next_attempt_at_ms: Option<i64>,
}

/// The right to make attempt `n` of a delivery, held until `lease_until_ms`.
/// Only the holder sends attempt `n` and writes its log entry, so a
/// duplicate message never sends the same attempt twice and the log never
/// shows an attempt that another copy made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub n: u32,
    pub(super) token: String,
    pub lease_until_ms: i64,
    /// The first attempt, claimed by `process` as it wrote the delivery
    /// (see [`super::first`]): recording it puts the delivery on its
    /// listings, and on the work index when it stays pending.
    pub(super) first: bool,
}

impl Claim {
    /// The claim's token: whoever holds it may record attempt `n` (the CLI
    /// listener hands it to `leadpipe listen` and back).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A claim handed back by its holder (`n` and `token` as claimed).
    pub fn held(n: u32, token: String) -> Self {
        Claim {
            n,
            token,
            lease_until_ms: 0,
            first: false,
        }
    }
}

/// What claiming the next attempt found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// This copy makes attempt `claim.n`.
    Yes(Claim),
    /// Another copy is making an attempt until this time (Unix ms).
    Busy { until_ms: i64 },
    /// The delivery moved on (ended, or another copy claimed first).
    Moved,
}

/// Claims attempt `attempt_count + 1` of `d` for `lease`: only while it is
/// `pending`, nobody moved it since `d` was read, and no other lease runs.
pub async fn claim(
    scope: &Scope,
    d: &Delivery,
    lease: std::time::Duration,
) -> Result<Claimed, Error> {
    let now = clock::now_ms();
    if let Some(until) = d.lease_until_ms
        && until > now
    {
        return Ok(Claimed::Busy { until_ms: until });
    }
    let next = d.attempt_count + 1;
    let token = ids::new_id(IdKind::Request);
    let until = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
    let moved = scope
        .store
        .update_if(
            &d.pk,
            &d.sk,
            "SET attemptCount = :n, claim = :c, leaseUntilMs = :l, updatedAt = :now REMOVE heldAtMs",
            Some(
                "#st = :pending AND attemptCount = :prev \
                 AND (attribute_not_exists(leaseUntilMs) OR leaseUntilMs < :nowms)",
            ),
            vec![("#st", "status")],
            vec![
                (":n", n(i64::from(next))),
                (":prev", n(i64::from(d.attempt_count))),
                (":c", s(token.clone())),
                (":l", n(until)),
                (":nowms", n(now)),
                (":now", s(clock::now_rfc3339())),
                (":pending", s(DeliveryStatus::Pending.as_str())),
            ],
        )
        .await?;
    Ok(match moved {
        Write::Done => Claimed::Yes(Claim {
            n: next,
            token,
            lease_until_ms: until,
            first: false,
        }),
        Write::Conflict => Claimed::Moved,
    })
}

/// Stores the attempt `claim` made, then moves the delivery to `status`
/// and releases the claim; false when the claim was lost (its lease ran
/// out and another copy claimed the next attempt) — the log entry is still
/// true: this copy made that attempt.
///
/// The move records the claim's token (`lastClaim`): when its answer is
/// lost and the SDK's retry finds the condition failed, the delivery read
/// back tells this copy's own earlier write (true) from another's (false).
pub async fn record_attempt(
    scope: &Scope,
    d: &Delivery,
    claim: &Claim,
    attempt: AttemptRecord<'_>,
    status: DeliveryStatus,
) -> Result<bool, Error> {
    let now = clock::now_rfc3339();
    let key = table::attempt(scope.ws(), &d.id, claim.n);
    let item = Attempt {
        pk: key.pk,
        sk: key.sk,
        n: claim.n,
        at: now.clone(),
        status_code: attempt.status_code,
        duration_ms: attempt.duration_ms,
        error: attempt.error.map(str::to_owned),
        response: attempt.response.map(str::to_owned),
        // With its delivery (the workspace's retention), or the default.
        expires_at: d.expires_at.unwrap_or(clock::now_s() + ATTEMPT_RETENTION_S),
    };
    // The first attempts ride in the write that records them (the
    // delivery is rewritten anyway): a unit a lead saved. A long answer,
    // or a later attempt, gets an item of its own, so the delivery that
    // every claim rewrites stays small.
    let inline = inline_entry(&item);
    let log = match &inline {
        Some(_) => ", inlineAttempts = list_append(if_not_exists(inlineAttempts, :none), :att)",
        None => {
            scope.store.put(&item).await?;
            ""
        }
    };
    // A first attempt made by `process`: the delivery joins its listings
    // now, and the work index if it stays pending.
    let listed = match (claim.first, status) {
        (false, _) => "",
        (true, DeliveryStatus::Pending) => {
            ", gsi1pk = :g1p, gsi1sk = :id, gsi2pk = :g2p, gsi2sk = :id, gsi3pk = :g3p, gsi3sk = :id"
        }
        (true, _) => ", gsi1pk = :g1p, gsi1sk = :id, gsi2pk = :g2p, gsi2sk = :id",
    };
    let expression = if status == DeliveryStatus::Pending {
        format!(
            "SET #st = :s, updatedAt = :now, lastError = :e, lastClaim = :c, nextAttemptAtMs = :next{log}{listed} REMOVE claim, leaseUntilMs"
        )
    } else {
        // Delivered or dead: off the work index.
        format!(
            "SET #st = :s, updatedAt = :now, lastError = :e, lastClaim = :c{log}{listed} REMOVE claim, leaseUntilMs, gsi3pk, gsi3sk, nextAttemptAtMs"
        )
    };
    let mut values = vec![
        (":n", n(i64::from(claim.n))),
        (":c", s(claim.token.clone())),
        (":s", s(status.as_str())),
        (":now", s(now)),
        (
            ":e",
            attempt
                .error
                .map(s)
                .unwrap_or(aws_sdk_dynamodb::types::AttributeValue::Null(true)),
        ),
    ];
    if claim.first {
        values.push((":id", s(d.id.to_string())));
        values.push((
            ":g1p",
            s(table::Listing::deliveries(scope.ws()).partition_for(&d.id)),
        ));
        values.push((
            ":g2p",
            s(
                table::Listing::deliveries_by_subscription(scope.ws(), &d.subscription_id)
                    .partition_for(&d.id),
            ),
        ));
        if status == DeliveryStatus::Pending {
            values.push((":g3p", s(table::pending_delivery_shard(&d.id))));
        }
    }
    if let Some(entry) = inline {
        values.push((":att", AttributeValue::L(vec![entry])));
        values.push((":none", AttributeValue::L(vec![])));
    }
    if status == DeliveryStatus::Pending {
        values.push((
            ":next",
            attempt
                .next_attempt_at_ms
                .map(n)
                .unwrap_or(aws_sdk_dynamodb::types::AttributeValue::Null(true)),
        ));
    }
    let moved = scope
        .store
        .update_if(
            &d.pk,
            &d.sk,
            &expression,
            Some("claim = :c AND attemptCount = :n"),
            vec![("#st", "status")],
            values,
        )
        .await?;
    if moved == Write::Done {
        return Ok(true);
    }
    // Our own write whose answer was lost, or another copy's?
    Ok(get(scope, &d.id).await?.is_some_and(|now| {
        now.last_claim.as_deref() == Some(claim.token.as_str()) && now.attempt_count == claim.n
    }))
}

/// The attempts kept in the delivery item: the first few.
pub const INLINE_ATTEMPTS: u32 = 3;
/// An answer longer than this is kept in an attempt item of its own.
pub const INLINE_RESPONSE_BYTES: usize = 256;

/// `a` as an entry of the delivery's `inlineAttempts`, when it belongs
/// there (one of the first [`INLINE_ATTEMPTS`], with a short answer).
fn inline_entry(a: &Attempt) -> Option<AttributeValue> {
    let short = a
        .response
        .as_ref()
        .is_none_or(|r| r.len() <= INLINE_RESPONSE_BYTES)
        && a.error
            .as_ref()
            .is_none_or(|e| e.len() <= INLINE_RESPONSE_BYTES);
    if a.n > INLINE_ATTEMPTS || !short {
        return None;
    }
    let entry = InlineAttempt {
        n: a.n,
        at: a.at.clone(),
        status_code: a.status_code,
        duration_ms: a.duration_ms,
        error: a.error.clone(),
        response: a.response.clone(),
    };
    serde_dynamo::to_attribute_value(entry).ok()
}

/// What [`finish`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Ended now (or by this call's own write whose answer was lost).
    Now,
    /// Another copy holds a live claim and is making an attempt until
    /// this time (Unix ms): it moves the delivery on, not this call.
    Claimed { until_ms: i64 },
    /// Not pending any more: ended in this status.
    Already(DeliveryStatus),
    /// Gone (erased or expired).
    Gone,
}

/// Ends a `pending` delivery without an attempt (its subscription is gone
/// or off, or its message cannot be kept any longer). Never while another
/// copy holds a live claim (its answer, a 200 perhaps, decides), and never
/// over `delivered`. A lost answer is told from another's write by reading
/// the delivery back: ended in `status` with no claim is the same end.
pub async fn finish(
    scope: &Scope,
    d: &Delivery,
    status: DeliveryStatus,
    reason: &str,
) -> Result<Finished, Error> {
    let now_ms = clock::now_ms();
    let moved = scope
        .store
        .update_if(
            &d.pk,
            &d.sk,
            "SET #st = :s, updatedAt = :now, lastError = :e REMOVE claim, leaseUntilMs, gsi3pk, gsi3sk",
            Some(
                "#st = :pending AND (attribute_not_exists(leaseUntilMs) OR leaseUntilMs < :nowms)",
            ),
            vec![("#st", "status")],
            vec![
                (":s", s(status.as_str())),
                (":now", s(clock::now_rfc3339())),
                (":e", s(reason)),
                (":nowms", n(now_ms)),
                (":pending", s(DeliveryStatus::Pending.as_str())),
            ],
        )
        .await?;
    if moved == Write::Done {
        return Ok(Finished::Now);
    }
    let Some(found) = get(scope, &d.id).await? else {
        return Ok(Finished::Gone);
    };
    Ok(match (found.status, found.lease_until_ms) {
        (DeliveryStatus::Pending, Some(until)) if until >= now_ms => {
            Finished::Claimed { until_ms: until }
        }
        // Pending, unclaimed: the condition failed only on a lease that
        // has since run out; the caller's next receive tries again.
        (DeliveryStatus::Pending, _) => Finished::Claimed { until_ms: now_ms },
        (st, _) if st == status && found.last_error.as_deref() == Some(reason) => Finished::Now,
        (st, _) => Finished::Already(st),
    })
}

/// Holds a pending delivery while its subscription is failing: it waits
/// with no message (the caller deletes it) until the probe's success
/// releases it, or the sweeper looks again. Never under a live claim;
/// false when it moved meanwhile.
pub async fn hold(scope: &Scope, d: &Delivery) -> Result<bool, Error> {
    let now = clock::now_ms();
    let moved = scope
        .store
        .update_if(
            &d.pk,
            &d.sk,
            "SET heldAtMs = :now, updatedAt = :at",
            Some(
                "#st = :pending AND attemptCount = :c \
                 AND (attribute_not_exists(leaseUntilMs) OR leaseUntilMs < :now)",
            ),
            vec![("#st", "status")],
            vec![
                (":now", n(now)),
                (":at", s(clock::now_rfc3339())),
                (":c", n(i64::from(d.attempt_count))),
                (":pending", s(DeliveryStatus::Pending.as_str())),
            ],
        )
        .await?;
    Ok(moved == Write::Done)
}

/// Marks a stalled delivery as queued again now, unless it moved since
/// `d` was read: of two sweepers exactly one queues it, and it is not
/// queued again before it stalls again.
pub async fn touch_stalled(scope: &Scope, d: &Delivery) -> Result<Write, Error> {
    scope
        .store
        .update_if(
            &d.pk,
            &d.sk,
            "SET updatedAt = :now",
            Some("#st = :pending AND updatedAt = :was AND attemptCount = :c"),
            vec![("#st", "status")],
            vec![
                (":now", s(clock::now_rfc3339())),
                (":was", s(d.updated_at.clone())),
                (":c", n(i64::from(d.attempt_count))),
                (":pending", s(DeliveryStatus::Pending.as_str())),
            ],
        )
        .await
}

/// Starts a new round of attempts (retry, redrive): `pending` again, the
/// next attempt counting on from the last. Only from the state `d` was
/// read in (status and attempt count), so of two concurrent retries or
/// redrives exactly one reopens; `None` for the others.
pub async fn reopen(scope: &Scope, d: &Delivery) -> Result<Option<Delivery>, Error> {
    if d.status == DeliveryStatus::Pending {
        return Ok(None);
    }
    let moved = scope
        .store
        .update_if(
            &d.pk,
            &d.sk,
            "SET #st = :p, roundStart = :r, updatedAt = :now, gsi3pk = :w, gsi3sk = :id REMOVE claim, leaseUntilMs, nextAttemptAtMs",
            Some("#st = :was AND attemptCount = :c"),
            vec![("#st", "status")],
            vec![
                (":p", s(DeliveryStatus::Pending.as_str())),
                (":w", s(table::pending_delivery_shard(&d.id))),
                (":id", s(d.id.clone())),
                (":was", s(d.status.as_str())),
                (":r", n(i64::from(d.attempt_count + 1))),
                (":now", s(clock::now_rfc3339())),
                (":c", n(i64::from(d.attempt_count))),
            ],
        )
        .await?;
    match moved {
        Write::Done => get(scope, &d.id).await,
        Write::Conflict => Ok(None),
    }
}
