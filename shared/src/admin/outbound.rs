//! Admin routes for the outbound half: subscriptions, deliveries, the DLQs,
//! and lead edits (which fire `lead.updated`).

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::admin::dlq;
use crate::app::App;
use crate::aws::pagination::PageRequest;
use crate::deliver::{self, DeliveryMessage, DeliveryStatus, DeliveryView};
use crate::errors::ApiError;
use crate::http::routes::Matched;
use crate::http::{self as h, JsonInput};
use crate::model::events::Source;
use crate::model::leads::{self, LeadEventType, LeadView};
use crate::model::subscriptions::{self, SubChanges, SubscriptionView};
use crate::rules::clock;
use crate::rules::ids::{self, IdKind};

fn page_request(query: &[(String, String)]) -> Result<PageRequest, ApiError> {
    PageRequest::from_query(
        h::query_param(query, "limit"),
        h::query_param(query, "cursor"),
    )
}

pub async fn create_subscription(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let changes = SubChanges::from_input(JsonInput::parse(req)?, true, app).await?;
    let (sub, secret) = subscriptions::create(app, changes).await?;
    tracing::info!(subscription_id = %sub.id, "subscription created");
    let location = format!("/v1/subscriptions/{}", sub.id);
    let mut resp = h::json(
        StatusCode::CREATED,
        &SubscriptionView::new(sub, Some(&secret)),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn list_subscriptions(
    app: &App,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let page = subscriptions::list(app, &page_request(query)?).await?;
    Ok(h::json(
        StatusCode::OK,
        &page.map(|s| SubscriptionView::new(s, None)),
    ))
}

pub async fn get_subscription(app: &App, m: &Matched) -> Result<Response<Body>, ApiError> {
    let sub = subscriptions::get(app, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    Ok(h::json(StatusCode::OK, &SubscriptionView::new(sub, None)))
}

pub async fn update_subscription(
    app: &App,
    req: &Request,
    m: &Matched,
) -> Result<Response<Body>, ApiError> {
    let changes = SubChanges::from_input(JsonInput::parse(req)?, false, app).await?;
    let sub = subscriptions::update(app, m.param("id"), changes).await?;
    Ok(h::json(StatusCode::OK, &SubscriptionView::new(sub, None)))
}

pub async fn delete_subscription(app: &App, m: &Matched) -> Result<Response<Body>, ApiError> {
    subscriptions::delete(app, m.param("id")).await?;
    Ok(h::empty(StatusCode::NO_CONTENT))
}

pub async fn rotate_secret(
    app: &App,
    req: &Request,
    m: &Matched,
) -> Result<Response<Body>, ApiError> {
    let mut input = JsonInput::parse(req)?;
    input.allow_only(&["graceSeconds"]);
    let grace = match input.raw("graceSeconds") {
        None | Some(serde_json::Value::Null) => 86_400,
        Some(v) => match v.as_u64() {
            Some(g) if g <= 7 * 86_400 => g,
            _ => {
                input.issue(
                    "graceSeconds",
                    "must be a whole number of seconds from 0 to 604800",
                );
                0
            }
        },
    };
    input.finish()?;
    let (sub, secret) = subscriptions::rotate_secret(app, m.param("id"), grace).await?;
    tracing::info!(subscription_id = %sub.id, grace, "signing secret rotated");
    Ok(h::json(
        StatusCode::OK,
        &SubscriptionView::new(sub, Some(&secret)),
    ))
}

/// Sends a synthetic, signed `lead.created` now and reports what happened.
pub async fn test_subscription(app: &App, m: &Matched) -> Result<Response<Body>, ApiError> {
    let sub = subscriptions::get(app, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    let id = ids::new_id(IdKind::Delivery);
    let mut payload = subscriptions::sample_context();
    payload["deliveryId"] = json!(id);
    payload["occurredAt"] = json!(clock::now_rfc3339());
    let source = Source::Webhook {
        key_id: "key_sample".into(),
    };
    let result = deliver::send(
        app,
        &sub,
        &id,
        LeadEventType::Created,
        &source,
        &payload.to_string(),
        1,
    )
    .await;
    Ok(h::json(
        StatusCode::OK,
        &json!({
            "delivered": result.delivered(),
            "statusCode": result.status_code,
            "durationMs": result.duration.as_millis() as u64,
            "error": result.error,
        }),
    ))
}

pub async fn list_deliveries(
    app: &App,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
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
    let page = deliver::list(app, sub, status, &page_request(query)?).await?;
    let mut items = Vec::with_capacity(page.items.len());
    for d in page.items {
        let attempts = deliver::attempts(app, &d.id).await?;
        items.push(DeliveryView::new(d, attempts, false));
    }
    Ok(h::json(
        StatusCode::OK,
        &json!({"items": items, "nextCursor": page.next_cursor}),
    ))
}

pub async fn get_delivery(app: &App, m: &Matched) -> Result<Response<Body>, ApiError> {
    let d = deliver::get(app, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    let attempts = deliver::attempts(app, &d.id).await?;
    Ok(h::json(
        StatusCode::OK,
        &DeliveryView::new(d, attempts, true),
    ))
}

pub async fn retry_delivery(app: &App, m: &Matched) -> Result<Response<Body>, ApiError> {
    let d = deliver::get(app, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    if d.status == DeliveryStatus::Pending {
        return Err(ApiError::Conflict("the delivery is already pending".into()));
    }
    let d = deliver::reopen(app, &d.id)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    app.queue
        .send(
            &app.config.deliveries_queue_url,
            &DeliveryMessage {
                delivery_id: d.id.clone(),
            },
        )
        .await?;
    let attempts = deliver::attempts(app, &d.id).await?;
    Ok(h::json(
        StatusCode::ACCEPTED,
        &DeliveryView::new(d, attempts, false),
    ))
}

pub async fn redrive(app: &App) -> Result<Response<Body>, ApiError> {
    let moved = dlq::redrive(app).await?;
    tracing::info!(
        leads = moved.leads,
        deliveries = moved.deliveries,
        "dlq redriven"
    );
    Ok(h::json(StatusCode::OK, &json!({"moved": moved})))
}

/// `PATCH /v1/leads/{id}`: status, tags, custom fields; fires `lead.updated`.
pub async fn update_lead(
    app: &App,
    req: &Request,
    m: &Matched,
) -> Result<Response<Body>, ApiError> {
    let mut input = JsonInput::parse(req)?;
    input.allow_only(&["status", "tags", "fields"]);
    let status = input.string("status");
    if let Some(s) = &status
        && (s.is_empty() || s.chars().count() > 64)
    {
        input.issue("status", "must be 1 to 64 characters");
    }
    let tags = input.string_list("tags");
    let mut issues = Vec::new();
    let tags = tags.map(|t| crate::rules::inbound::fields::clean_tags(t, "tags", &mut issues));
    for i in issues {
        input.issue(i.field, i.issue);
    }
    let fields = match input.raw("fields").cloned() {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Object(map)) => Some(map),
        Some(_) => {
            input.issue("fields", "must be an object (a null value removes a field)");
            None
        }
    };
    input.finish()?;
    let lead = leads::update(app, m.param("id"), status, tags, fields).await?;
    Ok(h::json(StatusCode::OK, &LeadView::from(lead)))
}
