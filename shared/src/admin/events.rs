//! `/v1/events`: the inbound events and what became of each.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;

use super::input::page_request;
use crate::app::Scope;
use crate::aws::queue::LeadsMessage;
use crate::aws::store::Write;
use crate::http::error::ApiError;
use crate::http::{self as h, query_param, routes::Matched};
use crate::model::events::{self, EventRecord, EventStatus, Source};
use crate::rules::ids::{EventId, LeadId};

/// `GET /v1/events/{eventId}`: the event with its submission as kept
/// (secrets masked) and what is known of the request.
pub async fn get(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    let event = events::get(scope, m.param("eventId"))
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    let submission = events::input_of(scope, &event)
        .await?
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .map(|mut v| {
            crate::rules::redact::mask(&mut v);
            v
        });
    let request = event.request.clone();
    let mut view = EventView::from(event);
    view.submission = submission;
    view.request = Some(request);
    Ok(h::json(StatusCode::OK, &view))
}

/// `POST /v1/events/{eventId}/replay`: queues one event again — a
/// `FAILED` one (back to `RECEIVED`, after its cause was fixed: a Meta page
/// token, a field rule) or one stuck `RECEIVED`. 202 with the event; 409
/// when it was processed already.
pub async fn replay(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    let event = events::get(scope, m.param("eventId"))
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    match event.status {
        EventStatus::Received => {}
        EventStatus::Failed => {
            if events::reopen_failed(scope, &event.id).await? == Write::Conflict {
                return Err(ApiError::Conflict(
                    "the event changed meanwhile; look again".into(),
                ));
            }
        }
        EventStatus::Processed | EventStatus::Duplicate => {
            return Err(ApiError::Conflict(format!(
                "the event is {} already; edit its lead instead",
                event.status.as_str()
            )));
        }
    }
    scope
        .queue
        .send(
            &scope.config.leads_queue_url,
            &LeadsMessage::Event {
                workspace: scope.ws().clone(),
                event_id: event.id.clone(),
            },
        )
        .await?;
    tracing::info!(event_id = %event.id, was = event.status.as_str(), "event replayed");
    let event = events::get(scope, event.id.as_str())
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    Ok(h::json(StatusCode::ACCEPTED, &EventView::from(event)))
}

pub async fn list(scope: &Scope, query: &[(String, String)]) -> Result<Response<Body>, ApiError> {
    let status = match query_param(query, "status") {
        None | Some("") => None,
        Some(s) => Some(EventStatus::parse(s).ok_or_else(|| {
            ApiError::invalid("status", "must be RECEIVED, PROCESSED, DUPLICATE or FAILED")
        })?),
    };
    let page = events::list(scope, status, &page_request(query)?).await?;
    Ok(h::json(StatusCode::OK, &page.map(EventView::from)))
}

/// An event as the admin API shows it (the CLI reads it back).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub id: EventId,
    pub status: EventStatus,
    pub source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<LeadId>,
    pub received_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the provider said about the lead: its id, form, campaign, ad.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<crate::providers::ProviderMeta>,
    /// `GET /v1/events/{id}` only: the submission as kept (cleaned, its
    /// secrets masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission: Option<serde_json::Value>,
    /// `GET /v1/events/{id}` only: who sent it (address, user agent,
    /// origin, a few headers with credentials masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<crate::model::events::RequestMeta>,
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
            provider: e.provider,
            submission: None,
            request: None,
        }
    }
}
