//! Inbound events: one per accepted lead submission (or Meta leadgen
//! change), with its status as it moves through the pipeline
//! (docs/CONTRACT.md §5): `RECEIVED` → `PROCESSED` | `DUPLICATE` | `FAILED`.

mod leadgen;
mod withdraw;
pub use leadgen::{LeadgenMarker, leadgen_marker, put_marker};
pub use withdraw::{Withdrawn, withdraw};

use serde::{Deserialize, Serialize};

use crate::app::Scope;
use crate::aws::pagination::{Page, PageRequest};
use crate::aws::store::{Write, n, s};
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
    /// The status index (see [`list`]): set while `RECEIVED` or `FAILED`,
    /// the states someone acts on; an event that ends `PROCESSED` or
    /// `DUPLICATE` leaves it (its status change would bill the index
    /// twice, a delete and a put, for a listing seldom read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi2sk: Option<String>,
    /// Absent on the default workspace's events; its key says the same.
    #[serde(default, skip_serializing_if = "WorkspaceId::is_default")]
    pub workspace: WorkspaceId,
    pub id: EventId,
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
            gsi2pk: Some(status_partition(ws, EventStatus::Received, &id)),
            gsi2sk: Some(id.to_string()),
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
pub async fn list(
    scope: &Scope,
    status: Option<EventStatus>,
    page: &PageRequest,
) -> Result<Page<EventRecord>, DataError> {
    let mut page: Page<EventRecord> = match status {
        // Ended events are not on the status index: every event, filtered
        // (events from before that change still are; they are found too).
        Some(st @ (EventStatus::Processed | EventStatus::Duplicate)) => {
            let filter = crate::aws::listing::Filter {
                expression: "#st = :v",
                value: s(st.as_str()),
                name: Some(("#st", "status")),
            };
            let listing = Listing::events(scope.ws());
            scope
                .store
                .query_page_filtered(&listing, page, true, filter)
                .await?
        }
        Some(st) => {
            let listing = Listing::events_by_status(scope.ws(), st.as_str());
            scope.store.query_page(&listing, page, true).await?
        }
        None => {
            let listing = Listing::events(scope.ws());
            scope.store.query_page(&listing, page, true).await?
        }
    };
    page.items
        .retain(|e| !crate::model::workspaces::expired(e.expires_at));
    Ok(page)
}

/// The status listing partition an event is in while it has `status`.
fn status_partition(ws: &WorkspaceId, status: EventStatus, id: &EventId) -> String {
    Listing::events_by_status(ws, status.as_str()).partition_for(id.as_str())
}

const FINISH: &str = "SET #s = :s, processedAt = :at, leadId = :lead REMOVE gsi2pk, gsi2sk";
const FAIL: &str = "SET #s = :s, gsi2pk = :g, processedAt = :at, #e = :err";
const ONLY_RECEIVED: &str = "#s = :received";

/// Moves an event from `RECEIVED` to `status` with its lead, as the last
/// write of its resolution; `Conflict` when it was already finished, which
/// is what makes processing exactly-once in effect.
pub async fn finish(
    scope: &Scope,
    event_id: &EventId,
    status: EventStatus,
    lead_id: &LeadId,
    at: &str,
) -> Result<Write, Error> {
    let key = table::event(scope.ws(), event_id.as_str());
    scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            FINISH,
            Some(ONLY_RECEIVED),
            vec![("#s", "status")],
            vec![
                (":s", s(status.as_str())),
                (":at", s(at)),
                (":lead", s(lead_id.as_str())),
                (":received", s(EventStatus::Received.as_str())),
            ],
        )
        .await
}

/// Marks an event `FAILED` with its reason (only from `RECEIVED`).
pub async fn mark_failed(
    scope: &Scope,
    event_id: &EventId,
    reason: &str,
    at: &str,
) -> Result<Write, Error> {
    let reason: String = reason.chars().take(1000).collect();
    let key = table::event(scope.ws(), event_id.as_str());
    scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            FAIL,
            Some(ONLY_RECEIVED),
            vec![("#s", "status"), ("#e", "error")],
            vec![
                (":s", s(EventStatus::Failed.as_str())),
                (
                    ":g",
                    s(status_partition(scope.ws(), EventStatus::Failed, event_id)),
                ),
                (":at", s(at)),
                (":err", s(reason)),
                (":received", s(EventStatus::Received.as_str())),
            ],
        )
        .await
}

/// Puts a `FAILED` event back to `RECEIVED` so `process` takes it again
/// (a replay, after the cause was fixed); `Conflict` when it is not
/// `FAILED` any more.
pub async fn reopen_failed(scope: &Scope, event_id: &EventId) -> Result<Write, Error> {
    let key = table::event(scope.ws(), event_id.as_str());
    scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            "SET #s = :s, gsi2pk = :g REMOVE processedAt, #e",
            Some("#s = :failed"),
            vec![("#s", "status"), ("#e", "error")],
            vec![
                (":s", s(EventStatus::Received.as_str())),
                (
                    ":g",
                    s(status_partition(
                        scope.ws(),
                        EventStatus::Received,
                        event_id,
                    )),
                ),
                (":failed", s(EventStatus::Failed.as_str())),
            ],
        )
        .await
}

/// Notes that the sweeper queued a stuck event again, unless it (or another
/// sweeper) did so since `since_ms`: one re-queue per grace period.
pub async fn mark_swept(
    scope: &Scope,
    event_id: &EventId,
    now_ms: i64,
    since_ms: i64,
) -> Result<Write, Error> {
    let key = table::event(scope.ws(), event_id.as_str());
    let token = crate::rules::ids::new_id(IdKind::Request);
    let marked = scope
        .store
        .update_if(
            &key.pk,
            &key.sk,
            "SET sweptAtMs = :now, sweptBy = :by",
            Some("#s = :received AND (attribute_not_exists(sweptAtMs) OR sweptAtMs < :since)"),
            vec![("#s", "status")],
            vec![
                (":now", n(now_ms)),
                (":by", s(token.clone())),
                (":since", n(since_ms)),
                (":received", s(EventStatus::Received.as_str())),
            ],
        )
        .await?;
    if marked == Write::Done {
        return Ok(marked);
    }
    // A lost answer: the SDK's retry found this very mark (its token), not
    // another run's; the event must still be queued by this run.
    #[derive(Deserialize)]
    struct Mark {
        #[serde(rename = "sweptBy")]
        swept_by: Option<String>,
        status: EventStatus,
    }
    let now: Option<Mark> = scope.store.get(&key.pk, &key.sk).await?;
    Ok(match now {
        Some(m) if m.status == EventStatus::Received && m.swept_by == Some(token) => Write::Done,
        _ => Write::Conflict,
    })
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

/// Writes a new `RECEIVED` event (a large submission first, apart).
///
/// Its id is fresh (80 random bits), so an item already under it can only
/// be this very write, made by an SDK retry after its answer was lost (a
/// timeout, a 500 after the write): that is success, not a collision.
pub async fn put_new(scope: &Scope, event: &EventRecord) -> Result<(), Error> {
    let whole = serde_json::to_vec(event).map_or(usize::MAX, |j| j.len());
    let Some(input) = event.input.as_ref().filter(|_| whole > INLINE_EVENT_MAX) else {
        return scope.store.put_new(event).await.map(|_| ());
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
    scope.store.put_new(&event).await.map(|_| ())
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
