//! `/v1/deliveries` and `/v1/dlq`: every delivery with its attempts,
//! manual retries, and moving the dead-letter queues back to work.

use http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::json;

use super::dlq;
use super::input::page_request;
use crate::app::Scope;
use crate::aws::queue::DeliveriesMessage;
use crate::http::error::ApiError;
use crate::http::{self as h, routes::Matched};
use crate::model::deliveries::{self, Attempt, Delivery, DeliveryStatus};
use crate::model::event_type::EventType;
use crate::rules::ids::{self, IdKind};

pub async fn list(scope: &Scope, query: &[(String, String)]) -> Result<Response<Body>, ApiError> {
    let sub = h::query_param(query, "subscriptionId").filter(|s| !s.is_empty());
    if let Some(s) = sub
        && !ids::is_valid(IdKind::Subscription, s)
    {
        return Err(ApiError::invalid(
            "subscriptionId",
            "is not a subscription id",
        ));
    }
    let status = match h::query_param(query, "status").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            DeliveryStatus::parse(s)
                .ok_or_else(|| ApiError::invalid("status", "must be pending, delivered or dead"))?,
        ),
    };
    let page = deliveries::list(scope, sub, status, &page_request(query)?).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for d in page.items {
        let attempts = deliveries::attempts(scope, &d).await?;
        items.push(DeliveryView::new(d, attempts, false));
    }
    Ok(h::json(
        StatusCode::OK,
        &json!({"items": items, "nextCursor": page.next_cursor}),
    ))
}

pub async fn get(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    let d = deliveries::get(scope, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    let attempts = deliveries::attempts(scope, &d).await?;
    Ok(h::json(
        StatusCode::OK,
        &DeliveryView::new(d, attempts, true),
    ))
}

pub async fn retry(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    let d = deliveries::get(scope, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    if d.status == DeliveryStatus::Pending {
        return Err(ApiError::Conflict("the delivery is already pending".into()));
    }
    // Of two concurrent retries exactly one reopens and queues it.
    let d = deliveries::reopen(scope, &d).await?.ok_or_else(|| {
        ApiError::Conflict("the delivery was retried or redriven meanwhile".into())
    })?;
    scope
        .queue
        .send(
            &scope.config.deliveries_queue_url,
            &DeliveriesMessage::attempt(scope.ws(), &d.id),
        )
        .await?;
    let attempts = deliveries::attempts(scope, &d).await?;
    Ok(h::json(
        StatusCode::ACCEPTED,
        &DeliveryView::new(d, attempts, false),
    ))
}

pub async fn redrive(app: &crate::App) -> Result<Response<Body>, ApiError> {
    let run = dlq::redrive(app).await?;
    tracing::info!(
        leads = run.moved.leads,
        deliveries = run.moved.deliveries,
        dropped = run.dropped,
        "dlq redriven"
    );
    Ok(h::json(
        StatusCode::OK,
        &json!({"moved": run.moved, "dropped": run.dropped}),
    ))
}

/// A delivery as the admin API shows it (the CLI reads it back).
#[derive(Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: String,
    pub subscription_id: String,
    pub event_type: EventType,
    /// None for an operational event about no lead.
    pub lead_id: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: Vec<AttemptView>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub n: u32,
    pub at: String,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
}

impl DeliveryView {
    pub fn new(d: Delivery, attempts: Vec<Attempt>, with_responses: bool) -> Self {
        DeliveryView {
            id: d.id.into(),
            subscription_id: d.subscription_id.into(),
            event_type: d.event_type,
            lead_id: d.lead_id.map(Into::into),
            status: d.status,
            attempts: attempts
                .into_iter()
                .map(|a| AttemptView {
                    n: a.n,
                    at: a.at,
                    status_code: a.status_code,
                    duration_ms: a.duration_ms,
                    error: a.error,
                    response: if with_responses { a.response } else { None },
                })
                .collect(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}
