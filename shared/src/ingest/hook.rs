//! `POST /v1/hooks/{keyId}` and its CORS preflight (docs/CONTRACT.md §3).

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::idempotency::{self, Answer, Claim};
use crate::app::{App, Scope};
use crate::aws::queue::LeadsMessage;
use crate::http::error::ApiError;
use crate::http::{self as h, header as get_header};
use crate::model::events::{self, EventRecord, LeadDefaults, RequestMeta, Source};
use crate::model::keys::{self, WebhookKey};
use crate::providers::ProviderMeta;
use crate::rules::clock;
use crate::rules::crypto::DataKey;
use crate::rules::ids::{EventId, IdKind, new_id};
use crate::rules::inbound::{self, LeadInput, fields, origin};

const ALLOW_HEADERS: &str = "Content-Type, X-Webhook-Token, Authorization, Idempotency-Key, Prefer";

/// The token from `X-Webhook-Token`, else `Authorization: Bearer`.
fn presented_token(req: &Request) -> Option<&str> {
    let headers = req.headers();
    get_header(headers, "x-webhook-token").or_else(|| {
        let auth = get_header(headers, "authorization")?;
        let (scheme, token) = auth.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    })
}

/// Checks the presented token against the key's. An unknown key (the
/// caller's concern) and a wrong token answer alike.
fn authenticate(req: &Request, key: &WebhookKey, data_key: &DataKey) -> Result<(), ApiError> {
    let token = presented_token(req).ok_or(ApiError::Unauthorized)?;
    if !key.token_matches(data_key, token)? {
        return Err(ApiError::Unauthorized);
    }
    Ok(())
}

/// Checks the origin against the key's list; returns the `Origin` to echo in
/// CORS headers when the request came from a browser.
pub(super) fn check_origin(
    req: &Request,
    key: &WebhookKey,
) -> Result<Option<HeaderValue>, ApiError> {
    let origin = get_header(req.headers(), "origin");
    let referer = get_header(req.headers(), "referer");
    // Fail closed: a list that cannot be read allows nothing, not everything.
    let patterns = key.domain_patterns().map_err(|e| {
        tracing::error!(key_id = %key.id, error = %e, "stored allow-list unreadable; request refused");
        ApiError::AllowListUnreadable
    })?;
    if !origin::allowed(&patterns, origin, referer) {
        return Err(ApiError::OriginNotAllowed(origin::named(origin, referer)));
    }
    Ok(origin
        .filter(|o| *o != "null")
        .and_then(|o| HeaderValue::from_str(o).ok()))
}

pub async fn preflight(
    app: &App,
    req: &Request,
    key_id: &str,
    cors: &mut Option<HeaderValue>,
) -> Result<Response<Body>, ApiError> {
    let key = keys::find(app, key_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    *cors = check_origin(req, &key)?;
    let mut resp = h::empty(StatusCode::NO_CONTENT);
    let headers = resp.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    Ok(resp)
}

pub(super) fn accepted(event_id: &str) -> Answer {
    Answer {
        status: 202,
        body: json!({"eventId": event_id, "status": "RECEIVED"}).to_string(),
        location: Some(format!("/v1/events/{event_id}")),
    }
}

pub(super) fn respond(answer: &Answer) -> Response<Body> {
    let mut resp = Response::new(Body::Text(answer.body.clone()));
    *resp.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::ACCEPTED);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(loc) = answer
        .location
        .as_deref()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        headers.insert(header::LOCATION, loc);
    }
    resp
}

pub(super) fn request_meta(req: &Request) -> RequestMeta {
    let headers = req.headers();
    let ip = h::source_ip(req);
    let short = |v: &str| v.chars().take(256).collect::<String>();
    RequestMeta {
        ip: ip.map(|v| short(&v)),
        user_agent: get_header(headers, "user-agent").map(short),
        origin: get_header(headers, "origin")
            .or_else(|| get_header(headers, "referer"))
            .map(short),
        headers: kept_headers(headers),
    }
}

/// Headers an event keeps to show what arrived, besides the user agent,
/// origin (else referer) and address it keeps anyway: these, and any that
/// carries a credential (by name), the credential masked before storing.
/// Few and short: every byte is in the event's write units (1 per KB).
const KEPT_HEADERS: [&str; 4] = [
    "content-type",
    "content-length",
    "idempotency-key",
    "prefer",
];
/// At most this many headers, each value cut to 100 characters.
const MAX_KEPT_HEADERS: usize = 12;

fn kept_headers(headers: &http::HeaderMap) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| {
            KEPT_HEADERS.contains(&name.as_str())
                || crate::rules::redact::is_secret_name(name.as_str())
        })
        .take(MAX_KEPT_HEADERS)
        .map(|(name, value)| {
            let v = String::from_utf8_lossy(value.as_bytes());
            (name.as_str().to_owned(), v.chars().take(100).collect())
        })
        .collect();
    crate::rules::redact::mask_headers(&pairs)
}

/// A `webhook` key's request (the key loaded by [`super::source`]).
pub async fn accept(
    app: &App,
    req: &Request,
    key: WebhookKey,
    data_key: &DataKey,
    cors: &mut Option<HeaderValue>,
) -> Result<Response<Body>, ApiError> {
    authenticate(req, &key, data_key)?;
    *cors = check_origin(req, &key)?;
    // Everything from here on is the key's workspace's.
    let scope = &app.scope(key.workspace.clone());
    if let keys::Admission::Limited { retry_after_s } = keys::admit(scope, &key).await? {
        tracing::info!(retry_after_s, "over the rate limit");
        return Err(ApiError::RateLimited { retry_after_s });
    }

    let body = req.body().as_ref();
    let content_type = get_header(req.headers(), "content-type");
    let raw = inbound::parse_body(content_type, body)?;

    if let Some(field) = key.honeypot_field.as_deref()
        && fields::honeypot_tripped(&raw, field)
    {
        // Indistinguishable from success; only the dropped count moves.
        tracing::info!("honeypot filled; dropped");
        if let Err(e) = keys::count(scope, &key.id, keys::Counter::Dropped).await {
            tracing::warn!(error = %e, "could not count a dropped request");
        }
        return Ok(respond(&accepted(&new_id(IdKind::Event))));
    }

    let input = LeadInput::from_fields(
        raw,
        scope.config.default_region,
        key.honeypot_field.as_deref(),
    )
    .map_err(ApiError::Validation)?;

    let idempotency_key = match req.headers().get("idempotency-key") {
        Some(v) => Some(idempotency::parse_header(v.to_str().unwrap_or("\u{0}"))?),
        None => None,
    };
    let fingerprint = idempotency::fingerprint(body);
    if let Some(ik) = idempotency_key
        && let Claim::Replay(answer) = idempotency::claim(scope, &key.id, ik, &fingerprint).await?
    {
        tracing::info!("idempotent replay");
        return Ok(respond(&answer));
    }

    let result = record_and_enqueue(scope, req, &key, &input, None).await;
    match (result, idempotency_key) {
        (Ok(event_id), ik) => {
            let answer = accepted(event_id.as_str());
            if let Some(ik) = ik
                && let Err(e) =
                    idempotency::complete(scope, &key.id, ik, &fingerprint, answer.clone()).await
            {
                tracing::warn!(error = %e, "could not store the idempotent answer");
            }
            tracing::info!(event_id = %event_id, "accepted");
            if let Some(n) = super::wait::preference(req)
                && let Some(resp) = super::wait::for_lead(scope, &event_id, n).await
            {
                return Ok(resp);
            }
            Ok(respond(&answer))
        }
        (Err(err), Some(ik)) => {
            if let Err(e) = idempotency::release(scope, &key.id, ik).await {
                tracing::warn!(error = %e, "could not release an idempotency claim");
            }
            Err(err)
        }
        (Err(err), None) => Err(err),
    }
}

/// Writes the `RECEIVED` event, then queues it (and counts the request).
/// If queueing fails the event is taken back, unless it is under way
/// after all ([`events::withdraw`]).
pub async fn record_and_enqueue(
    scope: &Scope,
    req: &Request,
    key: &WebhookKey,
    input: &LeadInput,
    provider: Option<ProviderMeta>,
) -> Result<EventId, ApiError> {
    let event_id = EventId::generate();
    let event = EventRecord::received(
        scope.ws(),
        event_id.clone(),
        Source::Webhook {
            key_id: key.id.to_string(),
        },
        input,
        LeadDefaults {
            status: key.default_status.clone(),
            tags: key.default_tags.clone(),
        },
        request_meta(req),
        clock::now_rfc3339(),
    )?;
    let mut event = event;
    event.provider = provider;
    event.expires_at = Some(crate::model::workspaces::expiry(scope.app(), scope.ws()).await?);
    events::put_new(scope, &event).await?;
    let message = LeadsMessage::Event {
        workspace: scope.ws().clone(),
        event_id: event_id.clone(),
    };
    let (sent, counted) = tokio::join!(
        scope.queue.send(&scope.config.leads_queue_url, &message),
        keys::count(scope, &key.id, keys::Counter::Requests),
    );
    if let Err(e) = &counted {
        tracing::warn!(error = %e, "could not count a request");
    }
    if let Err(err) = sent {
        // Taken back only while nothing counts on it: a send whose answer
        // was lost may have queued it, and `process` may be at work.
        let identities: Vec<crate::aws::table::Key> = [
            input
                .email
                .as_deref()
                .map(|v| crate::aws::table::email_identity(scope.ws(), v)),
            input
                .phone
                .as_deref()
                .map(|v| crate::aws::table::phone_identity(scope.ws(), v)),
        ]
        .into_iter()
        .flatten()
        .collect();
        // Boxed: this rare path must not grow every request's future.
        match Box::pin(events::withdraw(scope, &event_id, &identities)).await {
            Ok(events::Withdrawn::Removed) => {}
            Ok(events::Withdrawn::Kept) => {
                // Its message got through after all: accepted. (Were it
                // not, the sweeper queues the event still `RECEIVED`.)
                tracing::warn!(error = %err, event_id = %event_id, "enqueue reported a failure, but the event is under way; accepted");
                return Ok(event_id);
            }
            Err(e) => {
                tracing::error!(error = %e, event_id = %event_id, "enqueue failed and the event could not be taken back; the sweeper queues it");
                return Err(err.into());
            }
        }
        // Not accepted after all: take the count back (it ran alongside the
        // send to keep the accepted path one round trip shorter).
        if counted.is_ok()
            && let Err(e) = keys::count_by(scope, &key.id, keys::Counter::Requests, -1).await
        {
            tracing::warn!(error = %e, "could not take back a request count");
        }
        return Err(err.into());
    }
    Ok(event_id)
}
