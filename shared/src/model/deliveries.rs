//! Deliveries: one per (history entry, subscription), with a stable id sent
//! as `webhook-id` on every attempt, and a log of every attempt beside it.
//! [`crate::process::fan_out`] makes them; [`crate::deliver`] moves them on.

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::aws::listing::Filter;
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::store::{Write, n, s};
use crate::aws::table::{self, Listing};
use crate::error::{DataError, Error};
use crate::model::events::Source;
use crate::model::history::{HistoryEntry, LeadEventType};
use crate::model::leads::LeadRecord;
use crate::model::subscriptions::Subscription;
use crate::rules::clock;
use crate::rules::ids::{self, IdKind};

/// Attempt logs are kept this long.
const ATTEMPT_RETENTION_S: i64 = 30 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Dead,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 3] = [Self::Pending, Self::Delivered, Self::Dead];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub gsi2pk: String,
    pub gsi2sk: String,
    /// The work index (see [`table::GSI3`]): set while `pending` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3sk: Option<String>,
    pub id: String,
    pub subscription_id: String,
    pub event_type: LeadEventType,
    pub lead_id: String,
    pub source: Source,
    /// The default body, fixed when the delivery was made, so every attempt
    /// sends the same thing. Stored as an item of its own ([`Body`]), not
    /// in the delivery: the delivery is rewritten by its claim, each
    /// attempt and its end, and DynamoDB bills each of those by the whole
    /// item. Deliveries made before that change carry it inline.
    #[serde(default, skip_serializing)]
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempt_count: u32,
    /// The number of the first attempt of the current round.
    pub round_start: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    /// While an attempt is being made: who claimed it and until when
    /// (Unix ms). Another copy of the message waits for it to end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until_ms: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl Delivery {
    /// A new, pending delivery of `entry` (about `lead`) to `sub`, with
    /// its id and its body frozen.
    pub fn new(
        id: String,
        entry: &HistoryEntry,
        lead: &LeadRecord,
        sub: &Subscription,
        payload: String,
    ) -> Self {
        let key = table::delivery(&id);
        let now = clock::now_rfc3339();
        Delivery {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: Listing::deliveries().partition_for(&id),
            gsi1sk: id.clone(),
            gsi2pk: Listing::deliveries_by_subscription(&sub.id).partition_for(&id),
            gsi2sk: id.clone(),
            gsi3pk: Some(table::pending_delivery_shard(&id)),
            gsi3sk: Some(id.clone()),
            subscription_id: sub.id.clone(),
            event_type: entry.kind,
            lead_id: lead.id.to_string(),
            source: lead.source.clone(),
            payload,
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            round_start: 1,
            last_error: None,
            claim: None,
            lease_until_ms: None,
            created_at: now.clone(),
            updated_at: now,
            id,
        }
    }
}

impl Delivery {
    /// Pending, with no attempt under way and no change for `quiet`: its
    /// message was lost or dead-lettered, and nothing will move it on
    /// unless it is queued again.
    pub fn stalled(&self, now_ms: i64, quiet: std::time::Duration) -> bool {
        let quiet_ms = i64::try_from(quiet.as_millis()).unwrap_or(i64::MAX);
        self.status == DeliveryStatus::Pending
            && self.lease_until_ms.is_none_or(|until| until < now_ms)
            && clock::parse_rfc3339(&self.updated_at)
                .is_some_and(|at| now_ms.saturating_sub(at) > quiet_ms)
    }
}

/// One attempt, stored beside its delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub pk: String,
    pub sk: String,
    pub n: u32,
    pub at: String,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    #[serde(default)]
    pub response: Option<String>,
    pub expires_at: i64,
}

/// A delivery's frozen body, beside it (see [`Delivery::payload`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    pk: String,
    sk: String,
    payload: String,
}

/// A delivery without its body (see [`get_to_send`]).
pub async fn get(app: &App, id: &str) -> Result<Option<Delivery>, Error> {
    if !ids::is_valid(IdKind::Delivery, id) {
        return Ok(None);
    }
    let key = table::delivery(id);
    app.store.get(&key.pk, &key.sk).await
}

/// A delivery with its body, to send.
pub async fn get_to_send(app: &App, id: &str) -> Result<Option<Delivery>, Error> {
    if !ids::is_valid(IdKind::Delivery, id) {
        return Ok(None);
    }
    let (key, body) = (table::delivery(id), table::delivery_body(id));
    let (delivery, body) = tokio::try_join!(
        app.store.get::<Delivery>(&key.pk, &key.sk),
        app.store.get::<Body>(&body.pk, &body.sk),
    )?;
    let Some(mut delivery) = delivery else {
        return Ok(None);
    };
    match body {
        Some(body) => delivery.payload = body.payload,
        None if delivery.payload.is_empty() => {
            return Err(Error::Data(format!("delivery {id} has no body")));
        }
        None => {}
    }
    Ok(Some(delivery))
}

/// Writes a new delivery, its body first (so no delivery is ever without
/// one); `Conflict` when it exists already. The body is written only where
/// absent: a fan-out run again after the lead changed keeps the first.
pub async fn put_new(app: &App, delivery: &Delivery) -> Result<Write, Error> {
    let key = table::delivery_body(&delivery.id);
    let body = Body {
        pk: key.pk,
        sk: key.sk,
        payload: delivery.payload.clone(),
    };
    app.store.put_new(&body).await?;
    app.store.put_new(delivery).await
}

pub async fn attempts(app: &App, id: &str) -> Result<Vec<Attempt>, Error> {
    app.store
        .query_prefix(&table::delivery(id).pk, table::ATTEMPT_PREFIX)
        .await
}

/// Deliveries, newest first, by subscription and/or status.
pub async fn list(
    app: &App,
    subscription_id: Option<&str>,
    status: Option<DeliveryStatus>,
    page: &PageRequest,
) -> Result<Page<Delivery>, DataError> {
    let listing = match subscription_id {
        Some(sub) => Listing::deliveries_by_subscription(sub),
        None => Listing::deliveries(),
    };
    match status {
        None => app.store.query_page(&listing, page, true).await,
        Some(st) => {
            let filter = Filter {
                expression: "#st = :v",
                value: s(st.as_str()),
                name: Some(("#st", "status")),
            };
            app.store
                .query_page_filtered(&listing, page, true, filter)
                .await
        }
    }
}

/// What one attempt came to, as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord<'a> {
    pub n: u32,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<&'a str>,
    pub response: Option<&'a str>,
}

/// The right to make attempt `n` of a delivery, held until `lease_until_ms`.
/// Only the holder sends attempt `n` and writes its log entry, so a
/// duplicate message never sends the same attempt twice and the log never
/// shows an attempt that another copy made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub n: u32,
    token: String,
    pub lease_until_ms: i64,
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
pub async fn claim(app: &App, d: &Delivery, lease: std::time::Duration) -> Result<Claimed, Error> {
    let now = clock::now_ms();
    if let Some(until) = d.lease_until_ms
        && until > now
    {
        return Ok(Claimed::Busy { until_ms: until });
    }
    let next = d.attempt_count + 1;
    let token = ids::new_id(IdKind::Request);
    let until = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
    let moved = app
        .store
        .update_if(
            &d.pk,
            &d.sk,
            "SET attemptCount = :n, claim = :c, leaseUntilMs = :l, updatedAt = :now",
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
        }),
        Write::Conflict => Claimed::Moved,
    })
}

/// Stores the attempt `claim` made, then moves the delivery to `status`
/// and releases the claim; false when the claim was lost (its lease ran
/// out and another copy claimed the next attempt) — the log entry is still
/// true: this copy made that attempt.
pub async fn record_attempt(
    app: &App,
    d: &Delivery,
    claim: &Claim,
    attempt: AttemptRecord<'_>,
    status: DeliveryStatus,
) -> Result<bool, Error> {
    let now = clock::now_rfc3339();
    let key = table::attempt(&d.id, claim.n);
    let item = Attempt {
        pk: key.pk,
        sk: key.sk,
        n: claim.n,
        at: now.clone(),
        status_code: attempt.status_code,
        duration_ms: attempt.duration_ms,
        error: attempt.error.map(str::to_owned),
        response: attempt.response.map(str::to_owned),
        expires_at: clock::now_s() + ATTEMPT_RETENTION_S,
    };
    app.store.put(&item).await?;
    let expression = if status == DeliveryStatus::Pending {
        "SET #st = :s, updatedAt = :now, lastError = :e REMOVE claim, leaseUntilMs"
    } else {
        // Delivered or dead: off the work index.
        "SET #st = :s, updatedAt = :now, lastError = :e REMOVE claim, leaseUntilMs, gsi3pk, gsi3sk"
    };
    let moved = app
        .store
        .update_if(
            &d.pk,
            &d.sk,
            expression,
            Some("claim = :c AND attemptCount = :n"),
            vec![("#st", "status")],
            vec![
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
            ],
        )
        .await?;
    Ok(moved == Write::Done)
}

/// Ends a `pending` delivery without an attempt (its subscription is gone
/// or off, or its message cannot be kept any longer); false when it was
/// not pending any more — `delivered` is never overwritten.
pub async fn finish(
    app: &App,
    d: &Delivery,
    status: DeliveryStatus,
    reason: &str,
) -> Result<bool, Error> {
    let moved = app
        .store
        .update_if(
            &d.pk,
            &d.sk,
            "SET #st = :s, updatedAt = :now, lastError = :e REMOVE claim, leaseUntilMs, gsi3pk, gsi3sk",
            Some("#st = :pending"),
            vec![("#st", "status")],
            vec![
                (":s", s(status.as_str())),
                (":now", s(clock::now_rfc3339())),
                (":e", s(reason)),
                (":pending", s(DeliveryStatus::Pending.as_str())),
            ],
        )
        .await?;
    Ok(moved == Write::Done)
}

/// Marks a stalled delivery as queued again now, unless it moved since
/// `d` was read: of two sweepers exactly one queues it, and it is not
/// queued again before it stalls again.
pub async fn touch_stalled(app: &App, d: &Delivery) -> Result<Write, Error> {
    app.store
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
pub async fn reopen(app: &App, d: &Delivery) -> Result<Option<Delivery>, Error> {
    if d.status == DeliveryStatus::Pending {
        return Ok(None);
    }
    let moved = app
        .store
        .update_if(
            &d.pk,
            &d.sk,
            "SET #st = :p, roundStart = :r, updatedAt = :now, gsi3pk = :w, gsi3sk = :id REMOVE claim, leaseUntilMs",
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
        Write::Done => get(app, &d.id).await,
        Write::Conflict => Ok(None),
    }
}

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
pub async fn backfill_work_index(app: &App) -> Result<Backfilled, Error> {
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
    let listing = Listing::deliveries();
    let found: Vec<Delivery> = app
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
        let w = app
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_as_the_contract_spells_them() {
        for st in DeliveryStatus::ALL {
            assert_eq!(DeliveryStatus::parse(st.as_str()), Some(st));
            assert_eq!(
                serde_json::to_value(st).unwrap(),
                serde_json::json!(st.as_str())
            );
        }
        assert_eq!(DeliveryStatus::parse("DEAD"), None);
    }
}
