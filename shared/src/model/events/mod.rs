//! Inbound events: one per accepted lead submission (or Meta leadgen
//! change), with its status as it moves through the pipeline
//! (docs/CONTRACT.md §5): `RECEIVED` → `PROCESSED` | `DUPLICATE` | `FAILED`.

mod leadgen;
mod restore;
mod status;
mod withdraw;
pub use leadgen::{LeadgenMarker, leadgen_marker, put_marker};
pub use restore::restored;
pub use status::{finish, mark_failed, mark_swept, reopen_failed};
pub use withdraw::{Withdrawn, withdraw};

use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::aws::pagination::{Cursor, Page, PageRequest};
use crate::aws::table::{self, Listing};
use crate::error::{DataError, Error};
use crate::rules::ids::{EventId, IdKind, LeadId, WorkspaceId};
use crate::rules::inbound::LeadInput;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventStatus {
    Received,
    Processed,
    Duplicate,
    Failed,
}

impl EventStatus {
    pub const ALL: [EventStatus; 4] = [
        EventStatus::Received,
        EventStatus::Processed,
        EventStatus::Duplicate,
        EventStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Received => "RECEIVED",
            EventStatus::Processed => "PROCESSED",
            EventStatus::Duplicate => "DUPLICATE",
            EventStatus::Failed => "FAILED",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

/// Where an event came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    Webhook {
        #[serde(rename = "keyId")]
        key_id: String,
    },
    MetaLeadAds {
        #[serde(rename = "pageId", default, skip_serializing_if = "Option::is_none")]
        page_id: Option<String>,
        #[serde(rename = "formId", default, skip_serializing_if = "Option::is_none")]
        form_id: Option<String>,
        #[serde(rename = "adId", default, skip_serializing_if = "Option::is_none")]
        ad_id: Option<String>,
    },
    /// Leadpipe itself: the source of an operational event
    /// ([`crate::ops`]); never a lead's.
    Leadpipe,
}

impl Source {
    /// The source type as the contract spells it (`source.type`,
    /// `X-Leadpipe-Source`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Source::Webhook { .. } => "webhook",
            Source::MetaLeadAds { .. } => "meta_lead_ads",
            Source::Leadpipe => "leadpipe",
        }
    }

    /// The webhook key a lead came in with, if it came through a hook.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Source::Webhook { key_id } => Some(key_id),
            Source::MetaLeadAds { .. } | Source::Leadpipe => None,
        }
    }
}

/// What the key said new leads get, as it was when the event arrived.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadDefaults {
    pub status: String,
    pub tags: Vec<String>,
}

/// Who sent the request, for the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// A few of the request's headers, as (name, value), those that carry
    /// a credential (a token, a signature) masked before they are stored
    /// (see [`crate::rules::redact`]); bounded by the ingest function.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
}

/// An event as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    /// The status index (see [`list`]): set while `FAILED`, the state
    /// someone acts on, and while `RECEIVED` out of time order (reopened
    /// for a replay, or written late under an older id: see [`put_new`]),
    /// where the sweeper's cursor over the events listing has passed it.
    /// A new event is on no status listing: the sweeper finds it by that
    /// cursor (see [`crate::sweep`]), and each move on the index would
    /// bill it twice, a delete and a put, for a listing seldom read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    /// Absent on the default workspace's events; its key says the same.
    #[serde(default, skip_serializing_if = "WorkspaceId::is_default")]
    pub workspace: WorkspaceId,
    pub id: EventId,
    /// Stored as `eventStatus` ([`STATUS`]), read from `status` too
    /// ([`LEGACY_STATUS`]) on events written before.
    #[serde(rename = "eventStatus", alias = "status")]
    pub status: EventStatus,
    pub source: Source,
    pub received_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<LeadId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The cleaned submission, as JSON text, when it is small; a larger
    /// one is an item of its own (`inputApart`, see [`put_new`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub input_apart: bool,
    #[serde(default)]
    pub defaults: LeadDefaults,
    #[serde(default)]
    pub request: RequestMeta,
    /// Meta Lead Ads: the lead to fetch from the Graph API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leadgen: Option<crate::providers::meta::Leadgen>,
    /// What the provider said about the lead (its id, form, campaign, ad).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<crate::providers::ProviderMeta>,
    /// When the event expires: its workspace's retention after it arrived
    /// (DynamoDB TTL; absent on events from before retention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl EventRecord {
    /// A test submission (the provider said so, or the console's Send
    /// test lead): its deliveries go only to subscriptions with `testLeads`.
    pub fn is_test(&self) -> bool {
        self.provider.as_ref().is_some_and(|p| p.test)
    }
    /// A new `RECEIVED` event.
    pub fn received(
        ws: &WorkspaceId,
        id: EventId,
        source: Source,
        input: &LeadInput,
        defaults: LeadDefaults,
        request: RequestMeta,
        received_at: String,
    ) -> Result<Self, Error> {
        let input = serde_json::to_string(input).map_err(|e| Error::Data(e.to_string()))?;
        let mut event = Self::base(ws, id, source, received_at);
        event.input = Some(input);
        event.defaults = defaults;
        event.request = request;
        Ok(event)
    }

    /// A new `RECEIVED` event for a Meta `leadgen` change.
    pub fn from_leadgen(
        ws: &WorkspaceId,
        id: EventId,
        leadgen: crate::providers::meta::Leadgen,
        received_at: String,
    ) -> Self {
        let source = Source::MetaLeadAds {
            page_id: leadgen.page_id.clone(),
            form_id: leadgen.form_id.clone(),
            ad_id: leadgen.ad_id.clone(),
        };
        let mut event = Self::base(ws, id, source, received_at);
        event.defaults = LeadDefaults {
            status: "unassigned".into(),
            tags: vec![],
        };
        let mut meta = crate::providers::ProviderMeta::new("meta");
        meta.lead_id = Some(leadgen.leadgen_id.clone());
        meta.form_id = leadgen.form_id.clone();
        meta.ad_id = leadgen.ad_id.clone();
        meta.page_id = leadgen.page_id.clone();
        event.provider = Some(meta);
        event.leadgen = Some(leadgen);
        event
    }

    fn base(ws: &WorkspaceId, id: EventId, source: Source, received_at: String) -> Self {
        let key = table::event(ws, id.as_str());
        EventRecord {
            pk: key.pk,
            sk: key.sk,
            gsi1pk: Listing::events(ws).partition_for(id.as_str()),
            gsi1sk: id.to_string(),
            gsi2pk: None,
            gsi2sk: None,
            workspace: ws.clone(),
            id,
            status: EventStatus::Received,
            source,
            received_at,
            processed_at: None,
            lead_id: None,
            error: None,
            input: None,
            input_apart: false,
            defaults: LeadDefaults::default(),
            request: RequestMeta::default(),
            leadgen: None,
            provider: None,
            expires_at: None,
        }
    }
}

pub async fn get(scope: &Scope, id: &str) -> Result<Option<EventRecord>, Error> {
    let event: Option<EventRecord> = super::read(scope, IdKind::Event, id, table::event).await?;
    Ok(event.filter(|e| !crate::model::workspaces::expired(e.expires_at)))
}

/// Events, newest first, optionally of one status.
///
/// `FAILED` events are on the status listing. Any other status reads the
/// events listing and keeps the events of that status: the listings' index
/// entries do not carry an event's status (see [`STATUS`]), so the filter
/// runs on the items, after they are read, page after page until `limit`
/// are found or [`FILTER_READS`] pages were read. A page may therefore hold
/// fewer than `limit` events (none, even) and still have a next cursor, as
/// a filtered listing of DynamoDB's own does: a client follows the cursor.
pub async fn list(
    scope: &Scope,
    status: Option<EventStatus>,
    page: &PageRequest,
) -> Result<Page<EventRecord>, DataError> {
    let mut page: Page<EventRecord> = match status {
        Some(EventStatus::Failed) => {
            let listing = Listing::events_by_status(scope.ws(), EventStatus::Failed.as_str());
            scope.store.query_page(&listing, page, true).await?
        }
        Some(st) => Box::pin(filtered(scope, st, page)).await?,
        None => {
            let listing = Listing::events(scope.ws());
            scope.store.query_page(&listing, page, true).await?
        }
    };
    page.items
        .retain(|e| !crate::model::workspaces::expired(e.expires_at));
    Ok(page)
}

/// How many pages of the events listing one filtered page reads at most.
pub const FILTER_READS: usize = 5;

/// Events of status `st`, read from the events listing and kept by their
/// items' status; the cursor points past the last event kept (when the
/// page filled) or past the last one read.
async fn filtered(
    scope: &Scope,
    st: EventStatus,
    page: &PageRequest,
) -> Result<Page<EventRecord>, DataError> {
    let listing = Listing::events(scope.ws());
    let limit = page.limit.max(1) as usize;
    let mut request = page.clone();
    let mut kept: Vec<EventRecord> = Vec::new();
    for _ in 0..FILTER_READS {
        let read: Page<EventRecord> = scope.store.query_page(&listing, &request, true).await?;
        kept.extend(read.items.into_iter().filter(|e| e.status == st));
        if kept.len() >= limit {
            kept.truncate(limit);
            // More may have been read than kept: the next page starts
            // after the last one kept.
            let next_cursor = kept
                .last()
                .map(|e| Cursor::past(&listing.scope(), true, e.id.as_str()));
            return Ok(Page {
                items: kept,
                next_cursor,
            });
        }
        match read.next_cursor {
            Some(c) => request.cursor = Some(c),
            None => {
                return Ok(Page {
                    items: kept,
                    next_cursor: None,
                });
            }
        }
    }
    Ok(Page {
        items: kept,
        next_cursor: request.cursor,
    })
}

/// The attribute an event's status is stored in. Not `status`, which the
/// listings' indexes project (for leads' and deliveries' filters): an
/// event's end would then rewrite its entry on the events listing, one
/// write unit per lead, for nothing a listing reads (issue 25). The
/// sweeper reads the few items it needs; status filters run on the items.
pub const STATUS: &str = "eventStatus";

/// Where events written before that change keep their status; every
/// status write removes it, and conditions accept either (see
/// [`status`]).
pub const LEGACY_STATUS: &str = "status";

/// The status listing partition an event is in while it has `status`.
fn status_partition(ws: &WorkspaceId, status: EventStatus, id: &EventId) -> String {
    Listing::events_by_status(ws, status.as_str()).partition_for(id.as_str())
}

/// An event whose submission fits in one write unit with it (its JSON up
/// to this size, a little above the size DynamoDB bills) keeps it inline.
///
/// DynamoDB bills every write of an item by its whole size, and an event
/// is written twice (received, then ended). A large submission (custom
/// fields allow 64 KiB) kept inline would be billed at full size on both
/// writes; kept apart it is written once and the event stays one unit.
/// Small ones stay inline: apart they would cost one more write.
pub const INLINE_EVENT_MAX: usize = 1000;

/// A large submission, beside its event.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct EventInput {
    pk: String,
    sk: String,
    input: String,
}

/// How old an event's id may be when it is written and still be left to
/// the sweeper's cursor (see [`put_new`]): far more than a write's own
/// retries take, far less than the sweeper's grace period.
pub const LATE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// Writes a new `RECEIVED` event (a large submission first, apart).
///
/// Its id is fresh (80 random bits), so an item already under it can only
/// be this very write, made by an SDK retry after its answer was lost (a
/// timeout, a 500 after the write): that is success, not a collision.
///
/// An event written under an id older than [`LATE_AFTER`] (a Meta leadgen
/// whose marker was written long before its event) may land behind the
/// sweeper's cursor; it goes on the `RECEIVED` status listing, which the
/// sweeper reads whole.
pub async fn put_new(scope: &Scope, event: &EventRecord) -> Result<(), Error> {
    let whole = serde_json::to_vec(event).map_or(usize::MAX, |j| j.len());
    let Some(input) = event.input.as_ref().filter(|_| whole > INLINE_EVENT_MAX) else {
        let written = match late_listing(scope, event) {
            None => scope.store.put_new(event).await,
            Some((pk, sk)) => {
                let mut late = event.clone();
                (late.gsi2pk, late.gsi2sk) = (Some(pk), Some(sk));
                scope.store.put_new(&late).await
            }
        };
        return written.map(|_| ());
    };
    let key = table::event_input(scope.ws(), event.id.as_str());
    let apart = EventInput {
        pk: key.pk,
        sk: key.sk,
        input: input.clone(),
    };
    scope.store.put_new(&apart).await?;
    let mut event = event.clone();
    event.input = None;
    event.input_apart = true;
    if let Some((pk, sk)) = late_listing(scope, &event) {
        (event.gsi2pk, event.gsi2sk) = (Some(pk), Some(sk));
    }
    scope.store.put_new(&event).await.map(|_| ())
}

/// The `RECEIVED` status listing's keys for `event` when its id is older
/// than [`LATE_AFTER`] (judged just before the write, so only the write's
/// own retries follow; the sweeper leaves room for them); `None` for an
/// event written on time, the usual case.
fn late_listing(scope: &Scope, event: &EventRecord) -> Option<(String, String)> {
    let late_from = crate::rules::clock::now_ms()
        .saturating_sub(i64::try_from(LATE_AFTER.as_millis()).unwrap_or(i64::MAX));
    let bound =
        crate::rules::ids::bound_at(IdKind::Event, u64::try_from(late_from).unwrap_or(0), false);
    (event.status == EventStatus::Received && event.id.as_str() < bound.as_str()).then(|| {
        (
            status_partition(scope.ws(), EventStatus::Received, &event.id),
            event.id.to_string(),
        )
    })
}

/// The event's cleaned submission, wherever it is kept.
pub async fn input_of(scope: &Scope, event: &EventRecord) -> Result<Option<String>, Error> {
    if !event.input_apart {
        return Ok(event.input.clone());
    }
    let key = table::event_input(scope.ws(), event.id.as_str());
    Ok(scope
        .store
        .get::<EventInput>(&key.pk, &key.sk)
        .await?
        .map(|i| i.input))
}
