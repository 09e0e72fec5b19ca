//! The single-table layout: every item type, its keys and the index
//! partitions it is listed in. Every key is built here and nowhere else.
//!
//! Every item belongs to one workspace, and its keys say so: `{ws}` below
//! is `W#{workspaceId}#` for a workspace `ws_…`, and nothing for the
//! `default` workspace, whose keys are the layout every earlier version
//! wrote (so an existing deployment's items are the default workspace's,
//! read as they are, with no migration; see [`scoped`]).
//!
//! | item                  | `pk`                          | `sk`                         | `gsi1pk` / `gsi1sk`      | `gsi2pk` / `gsi2sk`                        |
//! |-----------------------|-------------------------------|------------------------------|--------------------------|--------------------------------------------|
//! | inbound event         | `{ws}EVT#{eventId}`           | `EVT`                        | `{ws}EVENTS#s{n}` / id   | `{ws}EVENTS#{STATUS}#s{n}` / id (¹)        |
//! | event input (large)   | `{ws}EVT#{eventId}`           | `INPUT`                      |                          |                                            |
//! | lead                  | `{ws}LEAD#{leadId}`           | `LEAD`                       | `{ws}LEADS#s{n}` / id    | `{ws}LEADS#s{n}#status#{status}` / id      |
//! | history entry         | `{ws}LEAD#{leadId}`           | `HIST#{causeId}#{type}`      |                          |                                            |
//! | lead merge            | `{ws}LEAD#{leadId}`           | `MERGE#{eventId}`            |                          |                                            |
//! | destination refs      | `{ws}LEAD#{leadId}`           | `DEST#{subId}`               |                          |                                            |
//! | identity              | `{ws}IDENT#email#{email}` or `{ws}IDENT#phone#{e164}` | `IDENT` |                    |                                            |
//! | webhook key           | `KEY#{keyId}`                 | `KEY`                        | `{ws}KEYS` / id          |                                            |
//! | key counter shard     | `{ws}KEY#{keyId}#COUNT#{n}`   | `COUNT`                      |                          |                                            |
//! | key rate window       | `{ws}KEY#{keyId}#RATE#{minute}` | `RATE`                     |                          |                                            |
//! | workspace rate window | `{ws}RATE#{minute}`           | `RATE`                       |                          |                                            |
//! | subscription          | `{ws}SUB#{subId}`             | `SUB`                        | `{ws}SUBS` / id          |                                            |
//! | delivery              | `{ws}DLV#{deliveryId}`        | `DLV`                        | `{ws}DELIVERIES#s{n}` / id | `{ws}DELIVERIES#s{n}#sub#{subId}` / id   |
//! | delivery body         | `{ws}DLV#{deliveryId}`        | `BODY`                       |                          |                                            |
//! | delivery attempt      | `{ws}DLV#{deliveryId}`        | `ATT#{n:06}`                 |                          |                                            |
//! | Meta leadgen marker   | `{ws}META#leadgen#{leadgenId}` | `LEADGEN`                   |                          |                                            |
//! | idempotency record    | `{ws}IDEM#{keyId}#{sha256(key)}` | `IDEM`                    |                          |                                            |
//! | audit entry           | `{ws}AUD#{auditId}`           | `AUD`                        | `{ws}AUDIT` / id         |                                            |
//! | workspace             | `WS#{workspaceId}`            | `WS`                         | `WORKSPACES` / id        |                                            |
//! | workspace token       | `TOKEN#{tokenId}`             | `TOKEN`                      | `{ws}TOKENS` / id        |                                            |
//! | Meta page             | `META#page#{pageId}`          | `PAGE`                       | `{ws}PAGES` / id         |                                            |
//! | sweeper's events cursor | `{ws}SWEEP#events`          | `CURSOR`                     |                          |                                            |
//!
//! (¹) Only `FAILED` events, and `RECEIVED` ones that became so out of
//! time order (a reopened `FAILED` event, one written late under an older
//! id): the sweeper finds the rest by reading the events listing past its
//! cursor, and the other status listings read every event, filtered
//! (issue 25: each move on the index billed it twice). An event keeps its
//! status in `eventStatus`, which no index projects (older events: in
//! `status`, until their next move), so its end rewrites no index entry. A
//! delivery's first attempts ride in its item (`inlineAttempts`); later
//! ones, or long answers, are `ATT#` items.
//!
//! Four items are addressed from outside by an id that names no workspace,
//! so their `pk` cannot carry one: a webhook key (its hook URL), a token
//! (the bearer token names it), a Meta page (a leadgen names its page) and
//! the workspace itself. Each stores its `workspace` as an attribute, and
//! the model's one read of it ([`crate::model`]) answers "not found" to any
//! other workspace. Everything those items lead to is under `{ws}`.
//!
//! `{n}` is the item's listing shard, [`shard_of`] its id over
//! [`LISTING_SHARDS`]: every partition that grows with traffic is written
//! `LISTING_SHARDS` ways, and a listing reads them all and merges them
//! (see [`Listing`] and [`crate::aws::listing`]). The default workspace's
//! items written before sharding sit in the same keys without `#s{n}`
//! (`EVENTS`, `LEADS#status#{status}`, …); its listings read that legacy
//! partition as one more shard (a newer workspace has none). `KEYS`, `SUBS`,
//! `TOKENS`, `PAGES` and `AUDIT` grow with configuration, not traffic, and
//! stay one partition.
//!
//! A pending delivery is also on `gsi3pk` / `gsi3sk` = `WORK#dlv#{n}` / id
//! (see [`GSI3`], `{n}` from the same [`shard_of`] over [`WORK_SHARDS`]);
//! the entry goes when it is delivered or dead. The work index is the
//! sweeper's, across workspaces: an entry's `pk` names its workspace
//! ([`workspace_of`]).
//!
//! Items that expire carry [`TTL_ATTRIBUTE`] (attempts, idempotency
//! records, rate windows, and events and deliveries after their
//! workspace's retention). Ids sort by creation time, so every index lists
//! oldest first and is read backwards for "newest first".

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::rules::ids::WorkspaceId;

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

/// The prefix every key of `ws` carries: none for the default workspace.
const SCOPE_PREFIX: &str = "W#";

/// `text` inside workspace `ws`: `W#{ws}#{text}`, or `text` itself in the
/// default workspace (the layout before workspaces).
pub fn scoped(ws: &WorkspaceId, text: &str) -> String {
    if ws.is_default() {
        text.to_owned()
    } else {
        format!("{SCOPE_PREFIX}{ws}#{text}")
    }
}

/// The workspace a scoped `pk` belongs to, and the rest of it; `None` when
/// the prefix names no valid workspace.
pub fn workspace_of(pk: &str) -> Option<(WorkspaceId, &str)> {
    match pk.strip_prefix(SCOPE_PREFIX) {
        None => Some((WorkspaceId::default_workspace(), pk)),
        Some(rest) => {
            let (ws, rest) = rest.split_once('#')?;
            Some((WorkspaceId::parse(ws).filter(|w| !w.is_default())?, rest))
        }
    }
}

fn in_ws(ws: &WorkspaceId, pk: &str, sk: &str) -> Key {
    Key::new(scoped(ws, pk), sk)
}

pub fn event(ws: &WorkspaceId, id: &str) -> Key {
    in_ws(ws, &format!("EVT#{id}"), "EVT")
}

/// A large submission of an event, beside the event.
pub fn event_input(ws: &WorkspaceId, id: &str) -> Key {
    in_ws(ws, &format!("EVT#{id}"), "INPUT")
}

pub fn lead(ws: &WorkspaceId, id: &str) -> Key {
    in_ws(ws, &format!("LEAD#{id}"), "LEAD")
}

/// A history entry of a lead: one per (cause, type), so recording it twice
/// is impossible.
pub fn history_entry(ws: &WorkspaceId, lead_id: &str, cause_id: &str, event_type: &str) -> Key {
    in_ws(
        ws,
        &format!("LEAD#{lead_id}"),
        &format!("HIST#{cause_id}#{event_type}"),
    )
}

/// The sort-key prefix of a lead's whole history.
pub const HISTORY_PREFIX: &str = "HIST#";

/// The sort-key prefix of the history entries one cause made.
pub fn history_of_cause(cause_id: &str) -> String {
    format!("{HISTORY_PREFIX}{cause_id}#")
}

/// A merge of a later submission into a lead: one per (lead, event).
pub fn lead_merge(ws: &WorkspaceId, lead_id: &str, event_id: &str) -> Key {
    in_ws(
        ws,
        &format!("LEAD#{lead_id}"),
        &format!("{MERGE_PREFIX}{event_id}"),
    )
}

/// The sort-key prefix of a lead's merges.
pub const MERGE_PREFIX: &str = "MERGE#";

pub fn email_identity(ws: &WorkspaceId, email: &str) -> Key {
    in_ws(ws, &format!("IDENT#email#{email}"), "IDENT")
}

pub fn phone_identity(ws: &WorkspaceId, phone: &str) -> Key {
    in_ws(ws, &format!("IDENT#phone#{phone}"), "IDENT")
}

/// A webhook key: addressed by its hook URL, which names no workspace (the
/// item's `workspace` attribute does).
pub fn webhook_key(id: &str) -> Key {
    Key::new(format!("KEY#{id}"), "KEY")
}

/// One shard of a key's request and drop counters.
pub fn key_counter(ws: &WorkspaceId, key_id: &str, shard: u32) -> Key {
    in_ws(ws, &format!("KEY#{key_id}#COUNT#{shard}"), "COUNT")
}

/// A key's request count in one minute (see [`crate::rules::rate`]).
pub fn rate_window(ws: &WorkspaceId, key_id: &str, minute: i64) -> Key {
    in_ws(ws, &format!("KEY#{key_id}#RATE#{minute}"), "RATE")
}

/// A workspace's request count in one minute, every key together.
pub fn workspace_rate_window(ws: &WorkspaceId, minute: i64) -> Key {
    in_ws(ws, &format!("RATE#{minute}"), "RATE")
}

/// What a native destination keeps of a lead (its contact id there…).
pub fn destination_refs(ws: &WorkspaceId, lead_id: &str, sub_id: &str) -> Key {
    in_ws(ws, &format!("LEAD#{lead_id}"), &format!("DEST#{sub_id}"))
}

pub fn subscription(ws: &WorkspaceId, id: &str) -> Key {
    in_ws(ws, &format!("SUB#{id}"), "SUB")
}

/// A subscription's health (failures in a row, `failing`), beside it.
pub fn subscription_health(ws: &WorkspaceId, id: &str) -> Key {
    in_ws(ws, &format!("SUB#{id}"), "HEALTH")
}

pub fn delivery(ws: &WorkspaceId, id: &str) -> Key {
    in_ws(ws, &format!("DLV#{id}"), "DLV")
}

/// A delivery's body, frozen when it was made, beside the delivery.
pub fn delivery_body(ws: &WorkspaceId, id: &str) -> Key {
    in_ws(ws, &format!("DLV#{id}"), "BODY")
}

/// Attempt `n` of a delivery, stored beside it.
pub fn attempt(ws: &WorkspaceId, delivery_id: &str, n: u32) -> Key {
    in_ws(
        ws,
        &format!("DLV#{delivery_id}"),
        &format!("{ATTEMPT_PREFIX}{n:06}"),
    )
}

/// The sort-key prefix of a delivery's attempts.
pub const ATTEMPT_PREFIX: &str = "ATT#";

/// The marker that a Meta `leadgen_id` was seen.
pub fn leadgen_marker(ws: &WorkspaceId, leadgen_id: &str) -> Key {
    in_ws(ws, &format!("META#leadgen#{leadgen_id}"), "LEADGEN")
}

/// An `Idempotency-Key` claim within a webhook key; `digest` is the hex
/// SHA-256 of the header value.
pub fn idempotency(ws: &WorkspaceId, scope: &str, digest: &str) -> Key {
    in_ws(ws, &format!("IDEM#{scope}#{digest}"), "IDEM")
}

/// An entry of a workspace's audit trail.
pub fn audit_entry(ws: &WorkspaceId, id: &str) -> Key {
    in_ws(ws, &format!("AUD#{id}"), "AUD")
}

/// A workspace.
pub fn workspace(id: &WorkspaceId) -> Key {
    Key::new(format!("WS#{id}"), "WS")
}

/// A workspace's API token: the bearer token names it, not its workspace
/// (the item's `workspace` attribute does).
pub fn token(id: &str) -> Key {
    Key::new(format!("TOKEN#{id}"), "TOKEN")
}

/// A Meta page registered by a workspace: a leadgen names its page, and
/// the page its workspace (the item's `workspace` attribute).
pub fn meta_page(page_id: &str) -> Key {
    Key::new(format!("META#page#{page_id}"), "PAGE")
}

/// A Meta data-deletion request, by its confirmation code (deployment
/// wide: Meta's app serves every workspace).
pub fn meta_deletion(code: &str) -> Key {
    Key::new(format!("META#deletion#{code}"), "DELETION")
}

/// How far the sweeper has read a workspace's events listing (see
/// [`crate::sweep`]).
pub fn events_cursor(ws: &WorkspaceId) -> Key {
    in_ws(ws, "SWEEP#events", "CURSOR")
}

/// Which lead a provider's own lead id made (LinkedIn's form response id):
/// read when the provider asks for the lead's deletion.
pub fn provider_lead(ws: &WorkspaceId, provider: &str, provider_lead_id: &str) -> Key {
    in_ws(ws, &format!("PLEAD#{provider}#{provider_lead_id}"), "PLEAD")
}

// ----- index partitions -----

pub const EVENTS: &str = "EVENTS";
pub const LEADS: &str = "LEADS";
pub const KEYS: &str = "KEYS";
pub const SUBSCRIPTIONS: &str = "SUBS";
pub const DELIVERIES: &str = "DELIVERIES";
pub const AUDIT: &str = "AUDIT";
pub const WORKSPACES: &str = "WORKSPACES";
pub const TOKENS: &str = "TOKENS";
pub const PAGES: &str = "PAGES";

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
    /// Whether the pre-sharding partition is read too (the default
    /// workspace only: no other workspace existed before sharding).
    legacy: bool,
}

impl Listing {
    fn sharded(gsi: Gsi, ws: &WorkspaceId, fixed: &str, chosen: String) -> Self {
        Listing {
            gsi,
            fixed: scoped(ws, fixed),
            chosen,
            sharded: true,
            legacy: ws.is_default(),
        }
    }

    fn single(gsi: Gsi, partition: String) -> Self {
        Listing {
            gsi,
            fixed: partition,
            chosen: String::new(),
            sharded: false,
            legacy: true,
        }
    }

    /// Every event, on [`GSI1`].
    pub fn events(ws: &WorkspaceId) -> Self {
        Self::sharded(GSI1, ws, EVENTS, String::new())
    }

    /// Events of one status (`RECEIVED`, …), on [`GSI2`].
    pub fn events_by_status(ws: &WorkspaceId, status: &str) -> Self {
        Self::sharded(GSI2, ws, &format!("{EVENTS}#{status}"), String::new())
    }

    /// Every lead, on [`GSI1`].
    pub fn leads(ws: &WorkspaceId) -> Self {
        Self::sharded(GSI1, ws, LEADS, String::new())
    }

    /// Leads of one status, on [`GSI2`].
    pub fn leads_by_status(ws: &WorkspaceId, status: &str) -> Self {
        Self::sharded(GSI2, ws, LEADS, format!("#status#{status}"))
    }

    /// Every delivery, on [`GSI1`].
    pub fn deliveries(ws: &WorkspaceId) -> Self {
        Self::sharded(GSI1, ws, DELIVERIES, String::new())
    }

    /// Deliveries to one subscription, on [`GSI2`].
    pub fn deliveries_by_subscription(ws: &WorkspaceId, subscription_id: &str) -> Self {
        Self::sharded(GSI2, ws, DELIVERIES, format!("#sub#{subscription_id}"))
    }

    /// Every webhook key, on [`GSI1`] (one partition: keys are few).
    pub fn keys(ws: &WorkspaceId) -> Self {
        Self::single(GSI1, scoped(ws, KEYS))
    }

    /// Every subscription, on [`GSI1`] (one partition).
    pub fn subscriptions(ws: &WorkspaceId) -> Self {
        Self::single(GSI1, scoped(ws, SUBSCRIPTIONS))
    }

    /// A workspace's audit trail, on [`GSI1`] (one partition: it grows with
    /// admin writes, not traffic).
    pub fn audit(ws: &WorkspaceId) -> Self {
        Self::single(GSI1, scoped(ws, AUDIT))
    }

    /// A workspace's API tokens, on [`GSI1`].
    pub fn tokens(ws: &WorkspaceId) -> Self {
        Self::single(GSI1, scoped(ws, TOKENS))
    }

    /// A workspace's Meta pages, on [`GSI1`].
    pub fn pages(ws: &WorkspaceId) -> Self {
        Self::single(GSI1, scoped(ws, PAGES))
    }

    /// Every workspace but `default`, on [`GSI1`].
    pub fn workspaces() -> Self {
        Self::single(GSI1, WORKSPACES.to_owned())
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
                .chain(self.legacy.then(|| self.legacy()))
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
