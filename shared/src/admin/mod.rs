//! `admin`: the management API (CONTRACT §6). Every route but `/healthz`
//! needs `Authorization: Bearer <admin token>`. Keys, events and leads are
//! here; subscriptions, deliveries and the DLQs in `outbound`.

pub mod dlq;

mod outbound;

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use tracing::Instrument;

use crate::app::App;
use crate::aws::pagination::{Page, PageRequest};
use crate::errors::ApiError;
use crate::http::routes::{self, Action, Function, Matched};
use crate::http::{self as h, JsonInput};
use crate::model::events::{self, EventStatus, EventView};
use crate::model::keys::{self, KeyChanges, KeyView, WebhookKey};
use crate::model::leads::{self, LeadFilter, LeadView};
use crate::rules::crypto::constant_time_eq;
use crate::rules::inbound::normalise;

/// The `admin` function's handler.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let request_id = h::request_id(&req);
    let span = tracing::info_span!(
        "admin",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path()
    );
    async {
        // One future per admin action, the largest sets the size: on the
        // heap, not on the runtime's stack.
        match Box::pin(route(app, &req)).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::info!(code = e.code(), "rejected");
                e.into_response(&request_id)
            }
        }
    }
    .instrument(span)
    .await
}

async fn route(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let m = routes::resolve(
        req.method().as_str(),
        req.uri().path(),
        Some(Function::Admin),
    )?;
    if m.route.action == Action::Health {
        return Ok(h::json(
            StatusCode::OK,
            &json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
        ));
    }
    authorize(app, req).await?;
    let query = h::query(req);
    match m.route.action {
        Action::KeysCreate => create_key(app, req).await,
        Action::KeysList => list_keys(app, req, &query).await,
        Action::KeyGet => get_key(app, req, &m, &query).await,
        Action::KeyUpdate => update_key(app, req, &m).await,
        Action::KeyDelete => {
            keys::delete(app, m.param("id")).await?;
            Ok(h::empty(StatusCode::NO_CONTENT))
        }
        Action::KeyRotate => {
            let (key, token) = keys::rotate(app, m.param("id")).await?;
            key_response(app, req, key, Some(&token), StatusCode::OK).await
        }
        Action::EventGet => {
            let event = events::get(app, m.param("eventId"))
                .await?
                .ok_or(ApiError::NotFound("event"))?;
            Ok(h::json(StatusCode::OK, &EventView::from(event)))
        }
        Action::EventsList => {
            let status = match h::query_param(&query, "status") {
                None | Some("") => None,
                Some(s) => Some(EventStatus::parse(s).ok_or_else(|| {
                    ApiError::invalid("status", "must be RECEIVED, PROCESSED, DUPLICATE or FAILED")
                })?),
            };
            let page = page_request(&query)?;
            let page = events::list(app, status, &page).await?;
            Ok(h::json(StatusCode::OK, &page.map(EventView::from)))
        }
        Action::LeadsList => {
            let filter = lead_filter(app, &query)?;
            let page = leads::list(app, &filter, &page_request(&query)?).await?;
            Ok(h::json(StatusCode::OK, &page.map(LeadView::from)))
        }
        Action::LeadGet => {
            let lead = leads::get(app, m.param("id"))
                .await?
                .ok_or(ApiError::NotFound("lead"))?;
            Ok(h::json(StatusCode::OK, &LeadView::from(lead)))
        }
        Action::LeadsExport => export_leads(app, &query).await,
        Action::LeadUpdate => outbound::update_lead(app, req, &m).await,
        Action::SubscriptionsCreate => outbound::create_subscription(app, req).await,
        Action::SubscriptionsList => outbound::list_subscriptions(app, &query).await,
        Action::SubscriptionGet => outbound::get_subscription(app, &m).await,
        Action::SubscriptionUpdate => outbound::update_subscription(app, req, &m).await,
        Action::SubscriptionDelete => outbound::delete_subscription(app, &m).await,
        Action::SubscriptionRotateSecret => outbound::rotate_secret(app, req, &m).await,
        Action::SubscriptionTest => outbound::test_subscription(app, &m).await,
        Action::DeliveriesList => outbound::list_deliveries(app, &query).await,
        Action::DeliveryGet => outbound::get_delivery(app, &m).await,
        Action::DeliveryRetry => outbound::retry_delivery(app, &m).await,
        Action::DlqRedrive => outbound::redrive(app).await,
        Action::HookPost
        | Action::HookPreflight
        | Action::MetaNotification
        | Action::MetaHandshake
        | Action::Health => Err(ApiError::NotFound("route")),
    }
}

/// Checks the bearer token against the deployment's admin token.
async fn authorize(app: &App, req: &Request) -> Result<(), ApiError> {
    let presented = h::header(req.headers(), "authorization")
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::Unauthorized)?;
    let secrets = app.secrets.get().await?;
    if constant_time_eq(presented.as_bytes(), secrets.admin_token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

fn page_request(query: &[(String, String)]) -> Result<PageRequest, ApiError> {
    PageRequest::from_query(
        h::query_param(query, "limit"),
        h::query_param(query, "cursor"),
    )
}

fn reveal(query: &[(String, String)]) -> Result<bool, ApiError> {
    match h::query_param(query, "reveal") {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(ApiError::invalid("reveal", "must be true or false")),
    }
}

async fn key_response(
    app: &App,
    req: &Request,
    key: WebhookKey,
    token: Option<&str>,
    status: StatusCode,
) -> Result<Response<Body>, ApiError> {
    let counts = keys::counts(app, &[key.id.as_str()]).await?;
    let c = counts.get(&key.id).copied().unwrap_or_default();
    let base = h::base_url(req, app.config.public_url.as_deref());
    let location = format!("/v1/keys/{}", key.id);
    let mut resp = h::json(status, &KeyView::new(key, token, c, &base));
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&location)
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

async fn create_key(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let changes = KeyChanges::from_input(JsonInput::parse(req)?, true)?;
    let (key, token) = keys::create(app, changes).await?;
    tracing::info!(key_id = %key.id, "key created");
    key_response(app, req, key, Some(&token), StatusCode::CREATED).await
}

async fn update_key(app: &App, req: &Request, m: &Matched) -> Result<Response<Body>, ApiError> {
    let changes = KeyChanges::from_input(JsonInput::parse(req)?, false)?;
    let key = keys::update(app, m.param("id"), changes).await?;
    key_response(app, req, key, None, StatusCode::OK).await
}

async fn get_key(
    app: &App,
    req: &Request,
    m: &Matched,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let reveal = reveal(query)?;
    let key = keys::get(app, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("key"))?;
    let token = if reveal {
        let secrets = app.secrets.get().await?;
        Some(key.token(&secrets.data_key)?)
    } else {
        None
    };
    key_response(app, req, key, token.as_deref(), StatusCode::OK).await
}

async fn list_keys(
    app: &App,
    req: &Request,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let reveal = reveal(query)?;
    let page = keys::list(app, &page_request(query)?).await?;
    let ids: Vec<&str> = page.items.iter().map(|k| k.id.as_str()).collect();
    let counts = keys::counts(app, &ids).await?;
    let secrets = if reveal {
        Some(app.secrets.get().await?)
    } else {
        None
    };
    let base = h::base_url(req, app.config.public_url.as_deref());
    let mut items = Vec::with_capacity(page.items.len());
    for key in page.items {
        let token = match &secrets {
            Some(s) => Some(key.token(&s.data_key)?),
            None => None,
        };
        let c = counts.get(&key.id).copied().unwrap_or_default();
        items.push(KeyView::new(key, token.as_deref(), c, &base));
    }
    let page = Page {
        items,
        next_cursor: page.next_cursor,
    };
    Ok(h::json(StatusCode::OK, &page))
}

fn lead_filter(app: &App, query: &[(String, String)]) -> Result<LeadFilter, ApiError> {
    let non_empty = |name: &str| {
        h::query_param(query, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let email = non_empty("email")
        .map(|e| normalise::email(e).map_err(|issue| ApiError::invalid("email", issue)))
        .transpose()?;
    let phone = non_empty("phone")
        .map(|p| {
            normalise::phone(p, app.config.default_region)
                .map_err(|issue| ApiError::invalid("phone", issue))
        })
        .transpose()?;
    Ok(LeadFilter {
        status: non_empty("status").map(str::to_owned),
        tag: non_empty("tag").map(str::to_owned),
        email,
        phone,
    })
}

/// Largest export answered at once (API Gateway and Lambda answer at most
/// 6 MB); past it the answer carries `X-Next-Cursor` to continue from.
const EXPORT_LIMIT_BYTES: usize = 5 * 1024 * 1024;

/// `GET /v1/leads/export`: CSV, built page by page (200 leads at a time);
/// only the CSV text is held, never the whole set of leads.
async fn export_leads(app: &App, query: &[(String, String)]) -> Result<Response<Body>, ApiError> {
    let filter = lead_filter(app, query)?;
    let mut page = PageRequest::from_query(Some("200"), h::query_param(query, "cursor"))?;
    let mut csv = leads::CSV_COLUMNS.join(",");
    csv.push_str("\r\n");
    let mut rows = 0usize;
    let next = loop {
        let batch = leads::list(app, &filter, &page).await?;
        for lead in &batch.items {
            leads::csv_row(lead, &mut csv);
            rows += 1;
        }
        match batch.next_cursor {
            Some(c) if csv.len() < EXPORT_LIMIT_BYTES => page.cursor = Some(c),
            other => break other,
        }
    };
    tracing::info!(rows, bytes = csv.len(), "leads exported");
    let mut resp = Response::new(Body::Text(csv));
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"leads.csv\""),
    );
    if let Some(c) = next.and_then(|c| HeaderValue::from_str(&c.encode()).ok()) {
        headers.insert("x-next-cursor", c);
    }
    Ok(resp)
}
