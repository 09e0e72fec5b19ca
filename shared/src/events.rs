//! Inbound events: one per accepted lead submission (or Meta leadgen
//! change), with its status as it moves through the pipeline
//! (CONTRACT §5): `RECEIVED` → `PROCESSED` | `DUPLICATE` | `FAILED`.

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::errors::{ApiError, Error};
use crate::ids::{self, IdKind};
use crate::inbound::LeadInput;
use crate::pagination::{Page, PageRequest};
use crate::resources::{GSI1, GSI2};

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
    MetaLeadAds,
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
}

/// An event as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub pk: String,
    pub sk: String,
    pub gsi1pk: String,
    pub gsi1sk: String,
    pub gsi2pk: String,
    pub gsi2sk: String,
    pub id: String,
    pub status: EventStatus,
    pub source: Source,
    pub received_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The cleaned submission, as JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default)]
    pub defaults: LeadDefaults,
    #[serde(default)]
    pub request: RequestMeta,
}

pub fn pk(id: &str) -> String {
    format!("EVT#{id}")
}
pub const SK: &str = "EVT";
const COLLECTION: &str = "EVENTS";

fn status_partition(status: EventStatus) -> String {
    format!("EVENTS#{}", status.as_str())
}

impl EventRecord {
    /// A new `RECEIVED` event.
    pub fn received(
        id: String,
        source: Source,
        input: &LeadInput,
        defaults: LeadDefaults,
        request: RequestMeta,
        received_at: String,
    ) -> Result<Self, Error> {
        let input = serde_json::to_string(input).map_err(|e| Error::Data(e.to_string()))?;
        Ok(EventRecord {
            pk: pk(&id),
            sk: SK.into(),
            gsi1pk: COLLECTION.into(),
            gsi1sk: id.clone(),
            gsi2pk: status_partition(EventStatus::Received),
            gsi2sk: id.clone(),
            id,
            status: EventStatus::Received,
            source,
            received_at,
            processed_at: None,
            lead_id: None,
            error: None,
            input: Some(input),
            defaults,
            request,
        })
    }
}

/// An event as the admin API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub id: String,
    pub status: EventStatus,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    pub received_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<EventRecord> for EventView {
    fn from(e: EventRecord) -> Self {
        EventView {
            id: e.id,
            status: e.status,
            source: e.source,
            lead_id: e.lead_id,
            received_at: e.received_at,
            processed_at: e.processed_at,
            error: e.error,
        }
    }
}

pub async fn get(app: &App, id: &str) -> Result<Option<EventRecord>, Error> {
    if !ids::is_valid(IdKind::Event, id) {
        return Ok(None);
    }
    app.store.get(&pk(id), SK).await
}

/// Events, newest first, optionally of one status.
pub async fn list(
    app: &App,
    status: Option<EventStatus>,
    page: &PageRequest,
) -> Result<Page<EventRecord>, ApiError> {
    match status {
        Some(s) => {
            app.store
                .query_page(GSI2, &status_partition(s), page, true)
                .await
        }
        None => app.store.query_page(GSI1, COLLECTION, page, true).await,
    }
}
