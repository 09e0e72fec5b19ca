//! `/v1/listeners`: the server side of `leadpipe listen` (see
//! [`crate::listen`]). Create a listener (a subscription the CLI collects
//! from), long-poll its pending deliveries — each claimed for
//! [`LISTEN_LEASE`] and signed as `deliver` signs — report each forward's
//! answer, and delete the listener.

use std::time::{Duration, Instant};

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::input::{JsonInput, non_empty};
use super::subscriptions::filters;
use crate::app::Scope;
use crate::aws::pagination::PageRequest;
use crate::aws::queue::DeliveriesMessage;
use crate::deliver::send::{self, RESPONSE_SNIPPET_BYTES};
use crate::http::error::ApiError;
use crate::http::{self as h, routes::Matched};
use crate::listen::{self, Forward, ForwardResult, Forwards, Listener};
use crate::model::deliveries::{self, AttemptRecord, Claim, Claimed, DeliveryStatus};
use crate::model::subscriptions::{self, SubChanges, Subscription};
use crate::rules::clock;
use crate::rules::ids::{self, IdKind};

/// How long a handed-out delivery is the CLI's: past it, a poll hands it
/// out again (the CLI stopped mid-forward).
pub const LISTEN_LEASE: Duration = Duration::from_secs(60);

/// How often a poll looks again while nothing is pending.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// `POST /v1/listeners` `{"name"?, "events"?, "sources"?}` → 201.
pub async fn create(scope: &Scope, req: &Request) -> Result<Response<Body>, ApiError> {
    let mut input = JsonInput::parse(req)?;
    input.allow_only(&["name", "events", "sources"]);
    let name = input.string("name").unwrap_or_else(|| "cli".into());
    if !listen::valid_name(&name) {
        input.issue("name", "must be 1 to 64 of A-Z a-z 0-9 . _ -");
    }
    let mut changes = SubChanges::default();
    filters(&mut input, true, &mut changes);
    input.finish()?;
    changes.url = Some(format!("{}{name}", listen::URL_SCHEME));
    let (sub, secret) = subscriptions::create(scope, changes).await?;
    tracing::info!(subscription_id = %sub.id, "listener created");
    let mut resp = h::json(
        StatusCode::CREATED,
        &Listener {
            id: sub.id.to_string(),
            url: sub.url,
            events: sub.events,
            sources: sub.sources,
            secret,
            created_at: sub.created_at,
        },
    );
    if let Ok(v) = HeaderValue::from_str(&format!("/v1/subscriptions/{}", sub.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn listener(scope: &Scope, id: &str) -> Result<Subscription, ApiError> {
    match subscriptions::get(scope, id).await? {
        Some(sub) if listen::is_listener(&sub) => Ok(sub),
        _ => Err(ApiError::NotFound("listener")),
    }
}

/// `DELETE /v1/listeners/{id}` → 204.
pub async fn delete(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    let sub = listener(scope, m.param("id")).await?;
    subscriptions::delete(scope, &sub.id).await?;
    tracing::info!(subscription_id = %sub.id, "listener deleted");
    Ok(h::empty(StatusCode::NO_CONTENT))
}

/// `GET /v1/listeners/{id}/deliveries?waitSeconds=` → 200 with up to
/// [`listen::MAX_BATCH`] claimed, signed deliveries; empty after the wait.
pub async fn poll(
    scope: &Scope,
    m: &Matched,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let wait = match non_empty(query, "waitSeconds") {
        None => listen::MAX_WAIT_S,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|w| *w <= listen::MAX_WAIT_S)
            .ok_or_else(|| {
                ApiError::invalid(
                    "waitSeconds",
                    format!("must be a whole number from 0 to {}", listen::MAX_WAIT_S),
                )
            })?,
    };
    let sub = listener(scope, m.param("id")).await?;
    let until = Instant::now() + Duration::from_secs(wait);
    loop {
        let items = collect(scope, &sub).await?;
        if !items.is_empty() || Instant::now() + POLL_EVERY > until {
            return Ok(h::json(StatusCode::OK, &Forwards { items }));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Claims and signs the listener's pending deliveries, oldest first.
async fn collect(scope: &Scope, sub: &Subscription) -> Result<Vec<Forward>, ApiError> {
    let page = PageRequest {
        limit: crate::aws::pagination::MAX_LIMIT,
        cursor: None,
    };
    let mut pending =
        deliveries::list(scope, Some(&sub.id), Some(DeliveryStatus::Pending), &page).await?;
    pending.items.reverse();
    let secrets = scope.secrets.get().await?;
    let creds = sub.credentials(&secrets.data_key, clock::now_ms())?;
    let now = clock::now_ms();
    let mut out = Vec::new();
    for listed in pending.items {
        if out.len() >= listen::MAX_BATCH {
            break;
        }
        if listed.lease_until_ms.is_some_and(|t| t > now) {
            continue;
        }
        let Some(d) = deliveries::get_to_send(scope, &listed.id).await? else {
            continue;
        };
        let Claimed::Yes(claim) = deliveries::claim(scope, &d, LISTEN_LEASE).await? else {
            continue;
        };
        let body = sub.body_for(d.event_type, &d.payload);
        let headers = send::signed_headers(
            &creds,
            &d.id,
            d.event_type,
            &d.source,
            claim.n,
            body.as_bytes(),
        );
        out.push(Forward {
            delivery_id: d.id.to_string(),
            event_type: d.event_type.as_str().to_owned(),
            attempt: claim.n,
            claim: claim.token().to_owned(),
            headers: headers
                .iter()
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
            body,
        });
    }
    Ok(out)
}

fn clip(text: Option<String>, max: usize) -> Option<String> {
    text.map(|t| t.chars().take(max).collect())
}

/// `POST /v1/listeners/{id}/ack` with a
/// [`ForwardResult`] → 200: the attempt recorded; a 2xx is `delivered`,
/// anything else `dead` (parked: `leadpipe deliveries retry` sends it to
/// the listener again).
pub async fn result(scope: &Scope, req: &Request, m: &Matched) -> Result<Response<Body>, ApiError> {
    let sub = listener(scope, m.param("id")).await?;
    let input: ForwardResult = serde_json::from_slice(req.body().as_ref())
        .map_err(|e| ApiError::MalformedBody(format!("not a forward result: {e}")))?;
    if !ids::is_valid(IdKind::Request, &input.claim) {
        return Err(ApiError::invalid(
            "claim",
            "is not a claim this API handed out",
        ));
    }
    let d = deliveries::get(scope, &input.delivery_id)
        .await?
        .filter(|d| d.subscription_id == sub.id)
        .ok_or(ApiError::NotFound("delivery"))?;
    let delivered = input.status_code.is_some_and(|c| (200..300).contains(&c));
    let error = match (input.status_code, clip(input.error, 500)) {
        (Some(c), _) if !delivered => Some(format!("HTTP {c} from the listener's receiver")),
        (None, e) => Some(e.unwrap_or_else(|| "the listener's receiver did not answer".into())),
        _ => None,
    };
    let status = if delivered {
        DeliveryStatus::Delivered
    } else {
        DeliveryStatus::Dead
    };
    let response = clip(input.response, RESPONSE_SNIPPET_BYTES);
    let record = AttemptRecord {
        n: input.attempt,
        status_code: input.status_code,
        duration_ms: input.duration_ms,
        error: error.as_deref(),
        response: response.as_deref(),
        next_attempt_at_ms: None,
    };
    let claim = Claim::held(input.attempt, input.claim);
    if !deliveries::record_attempt(scope, &d, &claim, record, status).await? {
        return Err(ApiError::Conflict(
            "this claim is no longer held (the delivery was handed out again)".into(),
        ));
    }
    if status == DeliveryStatus::Dead {
        let message = DeliveriesMessage::attempt(scope.ws(), &d.id);
        scope
            .queue
            .send(&scope.config.deliveries_dlq_url, &message)
            .await?;
    }
    Ok(h::json(
        StatusCode::OK,
        &json!({"deliveryId": d.id, "status": status.as_str()}),
    ))
}
