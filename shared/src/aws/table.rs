//! The single-table layout: every item type, its keys and the index
//! partitions it is listed in. Every key is built here and nowhere else.
//!
//! | item                  | `pk`                          | `sk`                         | `gsi1pk` / `gsi1sk`      | `gsi2pk` / `gsi2sk`                        |
//! |-----------------------|-------------------------------|------------------------------|--------------------------|--------------------------------------------|
//! | inbound event         | `EVT#{eventId}`               | `EVT`                        | `EVENTS#s{n}` / id       | `EVENTS#{STATUS}#s{n}` / id                |
//! | event input (large)   | `EVT#{eventId}`               | `INPUT`                      |                          |                                            |
//! | lead                  | `LEAD#{leadId}`               | `LEAD`                       | `LEADS#s{n}` / id        | `LEADS#s{n}#status#{status}` / id          |
//! | history entry         | `LEAD#{leadId}`               | `HIST#{causeId}#{type}`      |                          |                                            |
//! | destination refs      | `LEAD#{leadId}`               | `DEST#{subId}`               |                          |                                            |
//! | identity              | `IDENT#email#{email}` or `IDENT#phone#{e164}` | `IDENT`      |                          |                                            |
//! | webhook key           | `KEY#{keyId}`                 | `KEY`                        | `KEYS` / id              |                                            |
//! | key counter shard     | `KEY#{keyId}#COUNT#{n}`       | `COUNT`                      |                          |                                            |
//! | key rate window       | `KEY#{keyId}#RATE#{minute}`   | `RATE`                       |                          |                                            |
//! | subscription          | `SUB#{subId}`                 | `SUB`                        | `SUBS` / id              |                                            |
//! | delivery              | `DLV#{deliveryId}`            | `DLV`                        | `DELIVERIES#s{n}` / id   | `DELIVERIES#s{n}#sub#{subId}` / id         |
//! | delivery body         | `DLV#{deliveryId}`            | `BODY`                       |                          |                                            |
//! | delivery attempt      | `DLV#{deliveryId}`            | `ATT#{n:06}`                 |                          |                                            |
//! | Meta leadgen marker   | `META#leadgen#{leadgenId}`    | `LEADGEN`                    |                          |                                            |
//! | idempotency record    | `IDEM#{keyId}#{sha256(key)}`  | `IDEM`                       |                          |                                            |
//!
//! `{n}` is the item's listing shard, [`shard_of`] its id over
//! [`LISTING_SHARDS`]: every partition that grows with traffic is written
//! `LISTING_SHARDS` ways, and a listing reads them all and merges them
//! (see [`Listing`] and [`crate::aws::listing`]). Items written before
//! sharding sit in the same keys without `#s{n}` (`EVENTS`,
//! `LEADS#status#{status}`, …); every listing reads that legacy partition as
//! one more shard. `KEYS` and `SUBS` grow with configuration, not traffic,
//! and stay one partition.
//!
//! A pending delivery is also on `gsi3pk` / `gsi3sk` = `WORK#dlv#{n}` / id
//! (see [`GSI3`], `{n}` from the same [`shard_of`] over [`WORK_SHARDS`]);
//! the entry goes when it is delivered or dead.
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// Partitions every growing listing (events, leads, deliveries, each by
/// status or subscription too) is spread over.
///
/// Why 8: one index partition takes about 1,000 write units a second, and
/// a new lead writes each of its listing partitions at most twice
/// (BENCHMARKS.md, "Partitions"), so 8 shards carry ~4,000 leads/s, past
/// what the account's default Lambda concurrency (1,000) and the API's
/// throttle let in; more would only cost reads: a page queries every shard
/// (plus the legacy partition), 9 queries of at most `limit` keys, each
/// billed at least half a read unit. The same as [`WORK_SHARDS`], for one
/// number to reason about.
///
/// Fixed in the code, not configurable: an item's shard is computed from
/// its id, and reads cover shards `0..LISTING_SHARDS`; lowering it would
/// strand every item in the shards cut off. Terraform states it
/// (`local.index_shards`, output `index_shards`) and the infra parity test
/// compares the two.
pub const LISTING_SHARDS: u32 = 8;

/// The shard of an item among `shards`: FNV-1a of its id. Stable (the same
/// id always lands in the same shard, so every index partition of one item
/// carries the same shard, and a moved item stays in its shard), and even
/// (the id's last 16 characters are random, and every byte of the id moves
/// the hash). `shards` of 0 is taken as 1.
pub fn shard_of(id: &str, shards: u32) -> u32 {
    let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % shards.max(1)
}

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

/// What a native destination keeps of a lead (its contact id there…).
pub fn destination_refs(lead_id: &str, sub_id: &str) -> Key {
    Key::new(format!("LEAD#{lead_id}"), &format!("DEST#{sub_id}"))
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

/// One listing: the index partitions a page is read from, sharded or not.
///
/// A sharded listing's partition is `{fixed}#s{n}{chosen}` and its legacy
/// (pre-sharding) partition `{fixed}{chosen}`. The shard segment comes
/// after the words the code fixes (`EVENTS`, a status of the event enum,
/// `LEADS`, `DELIVERIES`) and before any value an admin chose (a lead's
/// status, a subscription id): whatever that value holds, no sharded key
/// equals a legacy key or another listing's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    pub gsi: Gsi,
    fixed: String,
    chosen: String,
    sharded: bool,
}

impl Listing {
    fn sharded(gsi: Gsi, fixed: String, chosen: String) -> Self {
        Listing {
            gsi,
            fixed,
            chosen,
            sharded: true,
        }
    }

    fn single(gsi: Gsi, partition: &str) -> Self {
        Listing {
            gsi,
            fixed: partition.to_owned(),
            chosen: String::new(),
            sharded: false,
        }
    }

    /// Every event, on [`GSI1`].
    pub fn events() -> Self {
        Self::sharded(GSI1, EVENTS.into(), String::new())
    }

    /// Events of one status (`RECEIVED`, …), on [`GSI2`].
    pub fn events_by_status(status: &str) -> Self {
        Self::sharded(GSI2, format!("{EVENTS}#{status}"), String::new())
    }

    /// Every lead, on [`GSI1`].
    pub fn leads() -> Self {
        Self::sharded(GSI1, LEADS.into(), String::new())
    }

    /// Leads of one status, on [`GSI2`].
    pub fn leads_by_status(status: &str) -> Self {
        Self::sharded(GSI2, LEADS.into(), format!("#status#{status}"))
    }

    /// Every delivery, on [`GSI1`].
    pub fn deliveries() -> Self {
        Self::sharded(GSI1, DELIVERIES.into(), String::new())
    }

    /// Deliveries to one subscription, on [`GSI2`].
    pub fn deliveries_by_subscription(subscription_id: &str) -> Self {
        Self::sharded(GSI2, DELIVERIES.into(), format!("#sub#{subscription_id}"))
    }

    /// Every webhook key, on [`GSI1`] (one partition: keys are few).
    pub fn keys() -> Self {
        Self::single(GSI1, KEYS)
    }

    /// Every subscription, on [`GSI1`] (one partition).
    pub fn subscriptions() -> Self {
        Self::single(GSI1, SUBSCRIPTIONS)
    }

    /// The partition the item with this id is written to.
    pub fn partition_for(&self, id: &str) -> String {
        if self.sharded {
            self.shard(shard_of(id, LISTING_SHARDS))
        } else {
            self.legacy()
        }
    }

    fn shard(&self, n: u32) -> String {
        format!("{}#s{n}{}", self.fixed, self.chosen)
    }

    /// The partition items written before sharding are in (the only one of
    /// an unsharded listing).
    fn legacy(&self) -> String {
        format!("{}{}", self.fixed, self.chosen)
    }

    /// Every partition a page is read from: the shards, then the legacy
    /// partition.
    ///
    /// Why the legacy partition is read rather than emptied: moving the old
    /// items would rewrite every event, lead and delivery ever stored (each
    /// a whole-item write plus its index copies, run by an operator as an
    /// upgrade step), while reading it costs one more query per page, half
    /// a read unit when it is empty. Items leave it on their own as they
    /// change status (their new `gsi2pk` is sharded).
    pub fn partitions(&self) -> Vec<String> {
        if self.sharded {
            (0..LISTING_SHARDS)
                .map(|n| self.shard(n))
                .chain([self.legacy()])
                .collect()
        } else {
            vec![self.legacy()]
        }
    }

    /// What names this listing in its cursors: the index and the legacy
    /// partition, unique per listing.
    pub fn scope(&self) -> String {
        format!("{}/{}", self.gsi.name, self.legacy())
    }
}

/// The work-index partition of a pending delivery, on [`GSI3`].
pub fn pending_delivery_shard(delivery_id: &str) -> String {
    pending_deliveries(shard_of(delivery_id, WORK_SHARDS))
}

/// One partition of pending deliveries, on [`GSI3`].
pub fn pending_deliveries(shard: u32) -> String {
    format!("WORK#dlv#{shard}")
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
