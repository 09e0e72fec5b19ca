//! `/v1/subscriptions`: where leads go. Bodies are checked here (URL
//! through the SSRF guard, template against a sample lead); secrets, header
//! and auth values are masked on every read.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use super::input::{JsonInput, page_request};
use super::subscription_view::SubscriptionView;
use crate::app::Scope;
use crate::deliver::send;
use crate::http::error::ApiError;
use crate::http::resolver;
use crate::http::{self as h, routes::Matched};
use crate::model::event_type::{EventType, OpsEventType};
use crate::model::events::Source;
use crate::model::health;
use crate::model::history::LeadEventType;
use crate::model::subscriptions::{self, AuthKind, SubChanges, Subscription};
use crate::rules::clock;
use crate::rules::ids::{self, IdKind};
use crate::rules::signing::SigningKey;
use crate::rules::templates;

const MAX_HEADERS: usize = 20;

pub async fn create(scope: &Scope, req: &Request) -> Result<Response<Body>, ApiError> {
    let changes = Box::pin(changes(JsonInput::parse(req)?, None, scope)).await?;
    let (sub, secret) = subscriptions::create(scope, changes).await?;
    tracing::info!(subscription_id = %sub.id, "subscription created");
    let location = format!("/v1/subscriptions/{}", sub.id);
    let mut resp = h::json(
        StatusCode::CREATED,
        &SubscriptionView::new(sub, Some(&secret), &scope.config, None),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn list(scope: &Scope, query: &[(String, String)]) -> Result<Response<Body>, ApiError> {
    let page = subscriptions::list(scope, &page_request(query)?).await?;
    let ids: Vec<&str> = page.items.iter().map(|s| s.id.as_str()).collect();
    let healths = Box::pin(health::get_many(scope, &ids)).await?;
    Ok(h::json(
        StatusCode::OK,
        &page.map(|s| {
            let h = healths.get(s.id.as_str()).cloned();
            SubscriptionView::new(s, None, &scope.config, h.as_ref())
        }),
    ))
}

pub async fn get(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    let sub = subscriptions::get(scope, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    let health = Box::pin(health::get(scope, &sub.id)).await?;
    Ok(h::json(
        StatusCode::OK,
        &SubscriptionView::new(sub, None, &scope.config, health.as_ref()),
    ))
}

pub async fn update(scope: &Scope, req: &Request, m: &Matched) -> Result<Response<Body>, ApiError> {
    let current = subscriptions::get(scope, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    let changes = Box::pin(changes(JsonInput::parse(req)?, Some(&current), scope)).await?;
    let sub = subscriptions::update(scope, m.param("id"), changes).await?;
    let health = Box::pin(health::get(scope, &sub.id)).await?;
    Ok(h::json(
        StatusCode::OK,
        &SubscriptionView::new(sub, None, &scope.config, health.as_ref()),
    ))
}

pub async fn delete(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    subscriptions::delete(scope, m.param("id")).await?;
    // Its health goes with it (an id never comes back); a health item left
    // behind is harmless, so the delete is not failed for it.
    if let Err(e) = crate::model::health::clear(scope, m.param("id")).await {
        tracing::warn!(error = %e, "a deleted subscription's health item was left behind");
    }
    Ok(h::empty(StatusCode::NO_CONTENT))
}

pub async fn rotate_secret(
    scope: &Scope,
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
    let (sub, secret) = subscriptions::rotate_secret(scope, m.param("id"), grace).await?;
    tracing::info!(subscription_id = %sub.id, grace, "signing secret rotated");
    Ok(h::json(
        StatusCode::OK,
        &SubscriptionView::new(sub, Some(&secret), &scope.config, None),
    ))
}

/// Sends a synthetic, signed `lead.created` now, marked as a test, and
/// reports what happened.
pub async fn test(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    let sub = subscriptions::get(scope, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("subscription"))?;
    let id = ids::new_id(IdKind::Delivery);
    let mut payload = sample_context();
    payload["deliveryId"] = json!(id);
    payload["occurredAt"] = json!(clock::now_rfc3339());
    // Marked as a test for every destination, so a receiver can drop it:
    // `"test": true` in the body (a real delivery has no `test`), and the
    // lead tagged `leadpipe-test`. A native kind keeps nothing of it.
    payload["test"] = json!(true);
    payload["lead"]["tags"] = json!(["leadpipe-test"]);
    let source = Source::Webhook {
        key_id: "key_sample".into(),
    };
    let result = send::send(
        scope,
        &sub,
        &id,
        LeadEventType::Created.into(),
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
            // Beyond the contract: the first bytes of the answer (the console shows them).
            "response": result.response.map(|r| r.chars().take(1024).collect::<String>()),
        }),
    ))
}

/// Headers a subscription may not set: the signature headers and those the
/// HTTP client owns.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "transfer-encoding",
    "connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

const FIELDS: &[&str] = &[
    "url",
    "events",
    "sources",
    "secret",
    "headers",
    "auth",
    "template",
    "filter",
    "kind",
    "config",
    "mapping",
    "enabled",
    "maxAttempts",
    "retrySchedule",
    "testLeads",
];

fn header_name_issue(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 100 || http::HeaderName::from_bytes(name.as_bytes()).is_err()
    {
        return Some("is not a valid header name");
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-leadpipe-") {
        return Some("is set by Leadpipe and cannot be overridden");
    }
    None
}

fn header_value_ok(value: &str) -> bool {
    !value.is_empty() && value.len() <= 4096 && http::HeaderValue::from_str(value).is_ok()
}

/// A sample context for checking templates at save time.
pub fn sample_context() -> Value {
    json!({
        "type": "lead.created", "deliveryId": "dlv_sample", "occurredAt": "2026-04-22T10:15:00.000Z",
        "previousSeenAt": "2026-03-01T09:00:00.000Z",
        "lead": {"id": "lead_sample", "email": "alex@example.com", "phone": "+14155550123",
                 "firstName": "Alex \"AJ\"", "lastName": "Customer", "name": "Alex \"AJ\" Customer",
                 "status": "unassigned", "tags": ["webinar", "vip"], "customFields": {"company": "Acme, Inc.", "budget": 5000},
                 "source": {"type": "webhook", "keyId": "key_sample"},
                 "createdAt": "2026-04-22T10:15:00.000Z", "updatedAt": "2026-04-22T10:15:00.000Z", "lastSeenAt": "2026-04-22T10:15:00.000Z"}
    })
}

/// `events` and `sources` (creating: `events` defaults to `["*"]`); also
/// read by [`super::listeners`].
pub(super) fn filters(input: &mut JsonInput, creating: bool, out: &mut SubChanges) {
    if let Some(events) = input.string_list("events") {
        if events.is_empty() {
            input.issue("events", "must list at least one event type, or \"*\"");
        }
        for e in &events {
            if e != "*" && EventType::parse(e).is_none() {
                input.issue(
                    "events",
                    format!(
                        "unknown event type {:?}",
                        e.chars().take(40).collect::<String>()
                    ),
                );
            }
        }
        out.events = Some(events);
    } else if creating {
        out.events = Some(vec!["*".into()]);
    }

    if input.has("sources") {
        match input.string_list("sources") {
            None => out.sources = Some(None),
            Some(list) => {
                for s in &list {
                    let ok = s == "meta_lead_ads"
                        || s.strip_prefix("key:")
                            .is_some_and(|k| ids::is_valid(IdKind::Key, k));
                    if !ok {
                        input.issue(
                            "sources",
                            "entries are \"key:{keyId}\" or \"meta_lead_ads\"",
                        );
                    }
                }
                out.sources = Some(Some(list));
            }
        }
    }
}

/// Reads and checks a body. URL problems are `unsafe_url`; everything
/// else `validation_failed` with every issue listed.
pub async fn changes(
    mut input: JsonInput,
    current: Option<&Subscription>,
    scope: &Scope,
) -> Result<SubChanges, ApiError> {
    input.allow_only(FIELDS);
    let creating = current.is_none();
    let mut out = SubChanges::default();
    let dest = Box::pin(super::destinations::read(&mut input, current, scope)).await;
    let webhook = dest.kind.is_none();
    if let Some((kind, url)) = dest.change {
        out.kind = Some(kind);
        out.url = Some(url);
    }
    out.mapping = dest.mapping;

    let url = input.string("url").filter(|_| webhook);
    if creating && webhook && url.is_none() {
        input.issue("url", "is required");
    }
    let mut unsafe_url = None;
    if let Some(u) = url {
        if u.len() > 2048 {
            input.issue("url", "is longer than 2048 characters");
        } else {
            match resolver::check_url_resolved(&u, scope.config.allow_private_targets, scope.dns())
                .await
            {
                Ok(t) => out.url = Some(t.url.to_string()),
                Err(e) => unsafe_url = Some(e),
            }
        }
    }

    filters(&mut input, creating, &mut out);
    // An alert is for a person: a webhook or a Slack channel, not a CRM.
    let crm = dest
        .kind
        .is_some_and(|k| k != crate::deliver::destinations::Kind::Slack);
    let events = out.events.as_ref().or(current.map(|c| &c.events));
    if crm && events.is_some_and(|ev| ev.iter().any(|e| OpsEventType::parse(e).is_some())) {
        input.issue(
            "events",
            "operational events (delivery.exhausted…) go to a webhook or Slack destination",
        );
    }

    if let Some(secret) = input.string("secret") {
        if !creating {
            input.issue(
                "secret",
                "cannot be changed here; use POST /v1/subscriptions/{id}/rotate-secret",
            );
        } else if let Err(e) = SigningKey::parse(&secret) {
            input.issue("secret", e.to_string());
        } else {
            out.secret = Some(secret);
        }
    }

    if input.has("headers") {
        out.headers = Some(read_headers(&mut input));
    }
    if input.has("auth") {
        out.auth = Some(read_auth(&mut input));
    }

    if input.has("template") {
        match input.nullable_string("template") {
            Some(Some(t)) => {
                if let Err(issue) = templates::check(&t, &sample_context()) {
                    input.issue("template", issue);
                }
                out.template = Some(Some(t));
            }
            Some(None) => out.template = Some(None),
            None => {}
        }
    }

    out.filter = super::routing::read_filter(&mut input);
    out.enabled = input.bool("enabled");
    out.test_leads = input.bool("testLeads");
    super::subscription_view::retry_schedule(&mut input, &scope.config, &mut out);
    if let Some(e) = unsafe_url {
        return Err(ApiError::UnsafeUrl(format!("url refused: {e}")));
    }
    input.finish()?;
    Ok(out)
}

fn read_headers(input: &mut JsonInput) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match input.raw("headers").cloned() {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            if map.len() > MAX_HEADERS {
                input.issue("headers", format!("at most {MAX_HEADERS} headers"));
            }
            for (name, value) in map {
                if let Some(issue) = header_name_issue(&name) {
                    input.issue(
                        format!("headers.{}", name.chars().take(60).collect::<String>()),
                        issue,
                    );
                    continue;
                }
                match value.as_str() {
                    Some(v) if header_value_ok(v) => out.push((name, v.to_owned())),
                    _ => input.issue(
                        format!("headers.{name}"),
                        "must be a non-empty string without line breaks",
                    ),
                }
            }
        }
        Some(_) => input.issue("headers", "must be an object of header names to values"),
    }
    out
}

fn read_auth(input: &mut JsonInput) -> Option<(AuthKind, String)> {
    let auth = input.raw("auth").cloned()?;
    if auth.is_null() {
        return None;
    }
    let kind = auth["type"].as_str().unwrap_or("");
    match kind {
        "bearer" => match auth["token"].as_str() {
            Some(t) if header_value_ok(t) => Some((AuthKind::Bearer, t.to_owned())),
            _ => {
                input.issue(
                    "auth.token",
                    "is required: a non-empty string without line breaks",
                );
                None
            }
        },
        "header" => {
            let name = auth["name"].as_str().unwrap_or("");
            let value = auth["value"].as_str().unwrap_or("");
            if let Some(issue) = header_name_issue(name) {
                input.issue("auth.name", issue);
                return None;
            }
            if !header_value_ok(value) {
                input.issue(
                    "auth.value",
                    "is required: a non-empty string without line breaks",
                );
                return None;
            }
            Some((AuthKind::Header(name.to_owned()), value.to_owned()))
        }
        _ => {
            input.issue("auth.type", "must be \"bearer\" or \"header\"");
            None
        }
    }
}
