//! The single-table layout: every item type, its keys and the index
//! partitions it is listed in. Every key is built here and nowhere else.
//!
//! | item                  | `pk`                          | `sk`                         | `gsi1pk` / `gsi1sk`   | `gsi2pk` / `gsi2sk`                     |
//! |-----------------------|-------------------------------|------------------------------|-----------------------|-----------------------------------------|
//! | inbound event         | `EVT#{eventId}`               | `EVT`                        | `EVENTS` / id         | `EVENTS#{STATUS}` / id                  |
//! | event input (large)    | `EVT#{eventId}`               | `INPUT`                      |                       |                                         |
//! | lead                  | `LEAD#{leadId}`               | `LEAD`                       | `LEADS` / id          | `LEADS#status#{status}` / id            |
//! | history entry         | `LEAD#{leadId}`               | `HIST#{causeId}#{type}`      |                       |                                         |
//! | identity              | `IDENT#email#{email}` or `IDENT#phone#{e164}` | `IDENT`      |                       |                                         |
//! | webhook key           | `KEY#{keyId}`                 | `KEY`                        | `KEYS` / id           |                                         |
//! | key counter shard     | `KEY#{keyId}#COUNT#{n}`       | `COUNT`                      |                       |                                         |
//! | key rate window       | `KEY#{keyId}#RATE#{minute}`   | `RATE`                       |                       |                                         |
//! | subscription          | `SUB#{subId}`                 | `SUB`                        | `SUBS` / id           |                                         |
//! | delivery              | `DLV#{deliveryId}`            | `DLV`                        | `DELIVERIES` / id     | `DELIVERIES#sub#{subId}` / id           |
//! | delivery body         | `DLV#{deliveryId}`            | `BODY`                       |                       |                                         |
//! | delivery attempt      | `DLV#{deliveryId}`            | `ATT#{n:06}`                 |                       |                                         |
//! | Meta leadgen marker   | `META#leadgen#{leadgenId}`    | `LEADGEN`                    |                       |                                         |
//! | idempotency record    | `IDEM#{keyId}#{sha256(key)}`  | `IDEM`                       |                       |                                         |
//!
//! A pending delivery is also on `gsi3pk` / `gsi3sk` = `WORK#dlv#{shard}` / id
//! (see [`GSI3`]); the entry goes when it is delivered or dead.
//!
//! Items that expire carry [`TTL_ATTRIBUTE`] (attempts, idempotency
//! records, rate windows). Ids sort by creation time, so every index lists oldest first
//! and is read backwards for "newest first".

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// A raw DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Partition and sort key attribute names of the table.
pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Attribute holding the expiry (Unix seconds) of short-lived rows.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// A global secondary index with string keys, keeping only the keys and
/// [`INDEX_INCLUDES`] (listings read the items from the table).
#[derive(Debug, Clone, Copy)]
pub struct Gsi {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

/// The attributes every index keeps besides the keys: what listings filter
/// on (deliveries by `status`, leads by `tags`). An update that changes
/// neither rewrites no index copy (measured: `tests/it/cost.rs`).
pub const INDEX_INCLUDES: [&str; 2] = ["status", "tags"];

/// Collections: every key, every event, every lead… in id order.
pub const GSI1: Gsi = Gsi {
    name: "gsi1v2",
    pk: "gsi1pk",
    sk: "gsi1sk",
};
/// Filtered collections: events by status, leads by status, deliveries by
/// subscription.
pub const GSI2: Gsi = Gsi {
    name: "gsi2v2",
    pk: "gsi2pk",
    sk: "gsi2sk",
};
/// Work to watch: an entry only while a delivery is `pending`, in one of
/// [`WORK_SHARDS`] partitions. The sweeper reads these (a handful of
/// items) instead of every recent delivery.
pub const GSI3: Gsi = Gsi {
    name: "gsi3v2",
    pk: "gsi3pk",
    sk: "gsi3sk",
};
pub const GSIS: [Gsi; 3] = [GSI1, GSI2, GSI3];

/// Partitions of the work index: writes spread over them, the sweeper reads
/// them all.
pub const WORK_SHARDS: u32 = 8;

/// The first layout's indexes (same keys, every attribute projected). A
/// table that still has them keeps working; nothing reads them, and an
/// upgrade drops them once the new ones are active (README, "Upgrading").
pub const LEGACY_GSI_NAMES: [&str; 2] = ["gsi1", "gsi2"];

/// The primary key of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: &str) -> Self {
        Key {
            pk,
            sk: sk.to_owned(),
        }
    }
}

// ----- items -----

pub fn event(id: &str) -> Key {
    Key::new(format!("EVT#{id}"), "EVT")
}

/// A large submission of an event, beside the event.
pub fn event_input(id: &str) -> Key {
    Key::new(format!("EVT#{id}"), "INPUT")
}

pub fn lead(id: &str) -> Key {
    Key::new(format!("LEAD#{id}"), "LEAD")
}

/// A history entry of a lead: one per (cause, type), so recording it twice
/// is impossible.
pub fn history_entry(lead_id: &str, cause_id: &str, event_type: &str) -> Key {
    Key::new(
        format!("LEAD#{lead_id}"),
        &format!("HIST#{cause_id}#{event_type}"),
    )
}

/// The sort-key prefix of a lead's whole history.
pub const HISTORY_PREFIX: &str = "HIST#";

/// The sort-key prefix of the history entries one cause made.
pub fn history_of_cause(cause_id: &str) -> String {
    format!("{HISTORY_PREFIX}{cause_id}#")
}

pub fn email_identity(email: &str) -> Key {
    Key::new(format!("IDENT#email#{email}"), "IDENT")
}

pub fn phone_identity(phone: &str) -> Key {
    Key::new(format!("IDENT#phone#{phone}"), "IDENT")
}

pub fn webhook_key(id: &str) -> Key {
    Key::new(format!("KEY#{id}"), "KEY")
}

/// One shard of a key's request and drop counters.
pub fn key_counter(key_id: &str, shard: u32) -> Key {
    Key::new(format!("KEY#{key_id}#COUNT#{shard}"), "COUNT")
}

/// A key's request count in one minute (see [`crate::rules::rate`]).
pub fn rate_window(key_id: &str, minute: i64) -> Key {
    Key::new(format!("KEY#{key_id}#RATE#{minute}"), "RATE")
}

pub fn subscription(id: &str) -> Key {
    Key::new(format!("SUB#{id}"), "SUB")
}

pub fn delivery(id: &str) -> Key {
    Key::new(format!("DLV#{id}"), "DLV")
}

/// A delivery's body, frozen when it was made, beside the delivery.
pub fn delivery_body(id: &str) -> Key {
    Key::new(format!("DLV#{id}"), "BODY")
}

/// Attempt `n` of a delivery, stored beside it.
pub fn attempt(delivery_id: &str, n: u32) -> Key {
    Key::new(
        format!("DLV#{delivery_id}"),
        &format!("{ATTEMPT_PREFIX}{n:06}"),
    )
}

/// The sort-key prefix of a delivery's attempts.
pub const ATTEMPT_PREFIX: &str = "ATT#";

/// The marker that a Meta `leadgen_id` was seen.
pub fn leadgen_marker(leadgen_id: &str) -> Key {
    Key::new(format!("META#leadgen#{leadgen_id}"), "LEADGEN")
}

/// An `Idempotency-Key` claim within a webhook key; `digest` is the hex
/// SHA-256 of the header value.
pub fn idempotency(scope: &str, digest: &str) -> Key {
    Key::new(format!("IDEM#{scope}#{digest}"), "IDEM")
}

// ----- index partitions -----

pub const EVENTS: &str = "EVENTS";
pub const LEADS: &str = "LEADS";
pub const KEYS: &str = "KEYS";
pub const SUBSCRIPTIONS: &str = "SUBS";
pub const DELIVERIES: &str = "DELIVERIES";

/// Events of one status (`RECEIVED`, …), on [`GSI2`].
pub fn events_by_status(status: &str) -> String {
    format!("EVENTS#{status}")
}

/// Leads of one status, on [`GSI2`].
pub fn leads_by_status(status: &str) -> String {
    format!("LEADS#status#{status}")
}

/// The work-index partition of a pending delivery, on [`GSI3`].
pub fn pending_delivery_shard(delivery_id: &str) -> String {
    let shard = delivery_id.bytes().map(u32::from).sum::<u32>() % WORK_SHARDS;
    pending_deliveries(shard)
}

/// One partition of pending deliveries, on [`GSI3`].
pub fn pending_deliveries(shard: u32) -> String {
    format!("WORK#dlv#{shard}")
}

/// Deliveries to one subscription, on [`GSI2`].
pub fn deliveries_by_subscription(subscription_id: &str) -> String {
    format!("DELIVERIES#sub#{subscription_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_as_documented() {
        assert_eq!(event("evt_1"), Key::new("EVT#evt_1".into(), "EVT"));
        assert_eq!(
            history_entry("lead_1", "evt_1", "lead.created").sk,
            "HIST#evt_1#lead.created"
        );
        assert!(
            history_entry("lead_1", "evt_1", "lead.created")
                .sk
                .starts_with(&history_of_cause("evt_1"))
        );
        assert_eq!(attempt("dlv_1", 3).sk, "ATT#000003");
        assert_eq!(key_counter("key_1", 7).pk, "KEY#key_1#COUNT#7");
        assert_eq!(events_by_status("FAILED"), "EVENTS#FAILED");
    }

    #[test]
    fn item_kinds_do_not_share_partitions() {
        // A lead's partition holds its history; nothing else may land there.
        let partitions = [
            event("x").pk,
            lead("x").pk,
            email_identity("x").pk,
            phone_identity("x").pk,
            webhook_key("x").pk,
            key_counter("x", 0).pk,
            rate_window("x", 0).pk,
            subscription("x").pk,
            delivery("x").pk,
            leadgen_marker("x").pk,
            idempotency("x", "y").pk,
        ];
        for (i, a) in partitions.iter().enumerate() {
            for b in &partitions[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
