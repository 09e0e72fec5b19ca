//! Deliveries: one per (history entry, subscription), with a stable id sent
//! as `webhook-id` on every attempt, and a log of every attempt beside it.
//! [`crate::process::fan_out`] makes them; [`crate::deliver`] moves them on.

mod backfill;
mod first;
mod lifecycle;

pub use backfill::{Backfilled, backfill_work_index};
pub use first::{abandoned_first, put_first};
pub use lifecycle::{
    AttemptRecord, Claim, Claimed, Finished, claim, finish, hold, record_attempt, reopen,
    touch_stalled,
};
use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::aws::listing::Filter;
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::store::{Write, s};
use crate::aws::table::{self, Listing};
use crate::error::{DataError, Error};
use crate::model::event_type::{EventType, OpsEventType};
use crate::model::events::Source;
use crate::model::history::HistoryEntry;
use crate::model::leads::LeadRecord;
use crate::model::subscriptions::Subscription;
use crate::rules::clock;
use crate::rules::ids::{self, DeliveryId, IdKind, LeadId, SubscriptionId, WorkspaceId};

/// A held delivery is queued again by the sweeper after this long (it is
/// held again at once while its subscription still fails); sooner, after
/// the stall window, once its hold no longer stands (`sweep`).
pub const HELD_RECHECK: std::time::Duration = std::time::Duration::from_secs(3_600);

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
    /// The listings (every delivery; by subscription). Empty while
    /// `process` makes the first attempt ([`first`]): the delivery joins
    /// them with that attempt's record.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gsi1pk: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gsi1sk: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gsi2pk: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gsi2sk: String,
    /// The work index (see [`table::GSI3`]): set while `pending` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi3sk: Option<String>,
    pub id: DeliveryId,
    pub subscription_id: SubscriptionId,
    pub event_type: EventType,
    /// The lead it is about; none for an operational event about no lead
    /// (`subscription.failing`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<LeadId>,
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
    /// The claim whose attempt was recorded last: a write whose answer
    /// was lost is told from another copy's by it (see
    /// [`record_attempt`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_claim: Option<String>,
    /// When the next attempt is due (Unix ms), after a failed one: a wait
    /// longer than SQS hides a message for is chained until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at_ms: Option<i64>,
    /// Since when it waits, with no message, for its failing subscription
    /// to recover (Unix ms; see [`crate::model::health`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_at_ms: Option<i64>,
    /// The first attempts' log, kept in the item (see [`record_attempt`]);
    /// later ones are [`Attempt`] items beside it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline_attempts: Vec<InlineAttempt>,
    pub created_at: String,
    pub updated_at: String,
    /// When the delivery, its body and its attempts expire: the
    /// workspace's retention after it was made (DynamoDB TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl Delivery {
    /// A new, pending delivery of `entry` (about `lead`) to `sub`, with
    /// its id and its body frozen.
    pub fn new(
        id: DeliveryId,
        entry: &HistoryEntry,
        lead: &LeadRecord,
        sub: &Subscription,
        payload: String,
    ) -> Self {
        let what = What {
            event_type: entry.kind.into(),
            lead_id: Some(lead.id.clone()),
            source: lead.source.clone(),
        };
        Self::fresh(&lead.workspace, id, what, sub, payload)
    }

    /// A new, pending delivery of an operational event (see
    /// [`crate::ops`]) to `sub`, about `lead_id` when it concerns a lead.
    pub fn notice(
        ws: &WorkspaceId,
        id: DeliveryId,
        kind: OpsEventType,
        lead_id: Option<LeadId>,
        sub: &Subscription,
        payload: String,
    ) -> Self {
        let what = What {
            event_type: EventType::Ops(kind),
            lead_id,
            source: Source::Leadpipe,
        };
        Self::fresh(ws, id, what, sub, payload)
    }

    fn fresh(
        ws: &WorkspaceId,
        id: DeliveryId,
        what: What,
        sub: &Subscription,
        payload: String,
    ) -> Self {
        let key = table::delivery(ws, &id);
        let now = clock::now_rfc3339();
        Delivery {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: Listing::deliveries(ws).partition_for(&id),
            gsi1sk: id.to_string(),
            gsi2pk: Listing::deliveries_by_subscription(ws, &sub.id).partition_for(&id),
            gsi2sk: id.to_string(),
            gsi3pk: Some(table::pending_delivery_shard(&id)),
            gsi3sk: Some(id.to_string()),
            subscription_id: sub.id.clone(),
            event_type: what.event_type,
            lead_id: what.lead_id,
            source: what.source,
            payload,
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            round_start: 1,
            last_error: None,
            claim: None,
            lease_until_ms: None,
            last_claim: None,
            next_attempt_at_ms: None,
            held_at_ms: None,
            inline_attempts: Vec::new(),
            created_at: now.clone(),
            updated_at: now,
            expires_at: None,
            id,
        }
    }
}

/// What a delivery carries, about what, from where.
struct What {
    event_type: EventType,
    lead_id: Option<LeadId>,
    source: Source,
}

impl Delivery {
    /// Pending, with no attempt under way and no change for `quiet`: its
    /// message was lost or dead-lettered, and nothing will move it on
    /// unless it is queued again.
    pub fn stalled(&self, now_ms: i64, quiet: std::time::Duration) -> bool {
        // A held delivery waits for its subscription's probe: looked at
        // again hourly, in case the probe was lost (the sweeper looks
        // sooner when the hold no longer stands: `quiet_for`).
        let quiet = if self.held_at_ms.is_some() {
            quiet.max(HELD_RECHECK)
        } else {
            quiet
        };
        self.quiet_for(now_ms, quiet)
    }

    /// Pending, with no attempt under way and no change for `quiet`,
    /// held or not.
    pub fn quiet_for(&self, now_ms: i64, quiet: std::time::Duration) -> bool {
        let quiet_ms = i64::try_from(quiet.as_millis()).unwrap_or(i64::MAX);
        // Quiet since its last change, or since its next attempt fell due
        // (a step of hours is a long wait, not a stall).
        let since = clock::parse_rfc3339(&self.updated_at)
            .map(|at| at.max(self.next_attempt_at_ms.unwrap_or(0)));
        self.status == DeliveryStatus::Pending
            && self.lease_until_ms.is_none_or(|until| until < now_ms)
            && since.is_some_and(|at| now_ms.saturating_sub(at) > quiet_ms)
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

/// One attempt as the delivery item keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineAttempt {
    pub n: u32,
    pub at: String,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    #[serde(default)]
    pub response: Option<String>,
}

/// A delivery's frozen body, beside it (see [`Delivery::payload`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    pk: String,
    sk: String,
    payload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
}

/// The id of the delivery of `entry` to subscription `sub_id`: the same
/// every time (a fan-out run again finds the deliveries it made, and an
/// erasure finds a lead's deliveries without an index by lead).
pub fn id_for(entry: &HistoryEntry, sub_id: &str) -> DeliveryId {
    let ms = clock::parse_rfc3339(&entry.occurred_at)
        .unwrap_or_else(clock::now_ms)
        .max(0) as u64;
    let id = ids::derived_id(
        IdKind::Delivery,
        ms,
        &format!("{}|{}|{}", entry.pk, entry.sk, sub_id),
    );
    // A derived id is well formed by construction.
    DeliveryId::parse(&id).unwrap_or_else(DeliveryId::generate)
}

/// A delivery without its body (see [`get_to_send`]).
pub async fn get(scope: &Scope, id: &str) -> Result<Option<Delivery>, Error> {
    let d: Option<Delivery> =
        crate::model::read(scope, IdKind::Delivery, id, table::delivery).await?;
    Ok(d.filter(|d| !crate::model::workspaces::expired(d.expires_at)))
}

/// A delivery with its body, to send.
pub async fn get_to_send(scope: &Scope, id: &str) -> Result<Option<Delivery>, Error> {
    if !ids::is_valid(IdKind::Delivery, id) {
        return Ok(None);
    }
    let (key, body) = (
        table::delivery(scope.ws(), id),
        table::delivery_body(scope.ws(), id),
    );
    let (delivery, body) = tokio::try_join!(
        scope.store.get::<Delivery>(&key.pk, &key.sk),
        scope.store.get::<Body>(&body.pk, &body.sk),
    )?;
    let Some(mut delivery) = delivery else {
        return Ok(None);
    };
    // A body frozen inline (a delivery made before bodies were kept apart)
    // wins over a body item a fan-out run since may have added beside it.
    if delivery.payload.is_empty() {
        let Some(body) = body else {
            return Err(Error::Data(format!("delivery {id} has no body")));
        };
        delivery.payload = body.payload;
    }
    Ok(Some(delivery))
}

/// Writes a new delivery, its body first (so no delivery is ever without
/// one); `Conflict` when it exists already. The body is written only where
/// absent: a fan-out run again after the lead changed keeps the first.
pub async fn put_new(scope: &Scope, delivery: &Delivery) -> Result<Write, Error> {
    put_body(scope, delivery).await?;
    scope.store.put_new(delivery).await
}

/// The body of `delivery`, where absent.
async fn put_body(scope: &Scope, delivery: &Delivery) -> Result<(), Error> {
    let key = table::delivery_body(scope.ws(), &delivery.id);
    let body = Body {
        pk: key.pk,
        sk: key.sk,
        payload: delivery.payload.clone(),
        expires_at: delivery.expires_at,
    };
    scope.store.put_new(&body).await?;
    Ok(())
}

/// Every attempt of `d`, in order: those kept in its item, then the
/// items beside it.
pub async fn attempts(scope: &Scope, d: &Delivery) -> Result<Vec<Attempt>, Error> {
    let mut all: Vec<Attempt> = d
        .inline_attempts
        .iter()
        .map(|a| Attempt {
            pk: d.pk.clone(),
            sk: d.sk.clone(),
            n: a.n,
            at: a.at.clone(),
            status_code: a.status_code,
            duration_ms: a.duration_ms,
            error: a.error.clone(),
            response: a.response.clone(),
            expires_at: d.expires_at.unwrap_or(0),
        })
        .collect();
    let apart: Vec<Attempt> = scope
        .store
        .query_prefix(&d.pk, table::ATTEMPT_PREFIX)
        .await?;
    all.extend(apart);
    all.sort_by_key(|a| a.n);
    Ok(all)
}

/// Deliveries, newest first, by subscription and/or status.
pub async fn list(
    scope: &Scope,
    subscription_id: Option<&str>,
    status: Option<DeliveryStatus>,
    page: &PageRequest,
) -> Result<Page<Delivery>, DataError> {
    let listing = match subscription_id {
        Some(sub) => Listing::deliveries_by_subscription(scope.ws(), sub),
        None => Listing::deliveries(scope.ws()),
    };
    match status {
        None => scope.store.query_page(&listing, page, true).await,
        Some(st) => {
            let filter = Filter {
                expression: "#st = :v",
                value: s(st.as_str()),
                name: Some(("#st", "status")),
            };
            scope
                .store
                .query_page_filtered(&listing, page, true, filter)
                .await
        }
    }
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
