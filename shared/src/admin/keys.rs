//! `/v1/keys`: the webhook keys forms and tools push leads in with.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::Value;

use super::input::{JsonInput, page_request, reveal};
use crate::app::Scope;
use crate::aws::pagination::Page;
use crate::http::error::ApiError;
use crate::http::{self as h, routes::Matched};
use crate::model::keys::{self, KeyChanges, WebhookKey};
use crate::rules::inbound::fields::clean_tags;
use crate::rules::inbound::origin::DomainPattern;
use crate::rules::rate;

const MAX_DOMAINS: usize = 100;

pub async fn create(scope: &Scope, req: &Request) -> Result<Response<Body>, ApiError> {
    let changes = changes(JsonInput::parse(req)?, true)?;
    let (key, token) = keys::create(scope, changes).await?;
    tracing::info!(key_id = %key.id, "key created");
    key_response(scope, req, key, Some(&token), StatusCode::CREATED).await
}

pub async fn update(scope: &Scope, req: &Request, m: &Matched) -> Result<Response<Body>, ApiError> {
    let changes = changes(JsonInput::parse(req)?, false)?;
    let key = keys::update(scope, m.param("id"), changes).await?;
    key_response(scope, req, key, None, StatusCode::OK).await
}

pub async fn get(
    scope: &Scope,
    req: &Request,
    m: &Matched,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let reveal = reveal(query)?;
    let key = keys::get(scope, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("key"))?;
    let token = if reveal {
        let secrets = scope.secrets.get().await?;
        Some(key.token(&secrets.data_key)?)
    } else {
        None
    };
    key_response(scope, req, key, token.as_deref(), StatusCode::OK).await
}

pub async fn list(
    scope: &Scope,
    req: &Request,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let reveal = reveal(query)?;
    let page = keys::list(scope, &page_request(query)?).await?;
    let ids: Vec<&str> = page.items.iter().map(|k| k.id.as_str()).collect();
    let counts = keys::counts(scope, &ids).await?;
    let secrets = if reveal {
        Some(scope.secrets.get().await?)
    } else {
        None
    };
    let base = h::base_url(req, scope.config.public_url.as_deref());
    let mut items = Vec::with_capacity(page.items.len());
    for key in page.items {
        let token = match &secrets {
            Some(s) => Some(key.token(&s.data_key)?),
            None => None,
        };
        let c = counts.get(key.id.as_str()).copied().unwrap_or_default();
        items.push(KeyView::new(key, token.as_deref(), c, &base));
    }
    let page = Page {
        items,
        next_cursor: page.next_cursor,
    };
    Ok(h::json(StatusCode::OK, &page))
}

pub async fn rotate(scope: &Scope, req: &Request, m: &Matched) -> Result<Response<Body>, ApiError> {
    let (key, token) = keys::rotate(scope, m.param("id")).await?;
    key_response(scope, req, key, Some(&token), StatusCode::OK).await
}

pub async fn delete(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    keys::delete(scope, m.param("id")).await?;
    Ok(h::empty(StatusCode::NO_CONTENT))
}

async fn key_response(
    scope: &Scope,
    req: &Request,
    key: WebhookKey,
    token: Option<&str>,
    status: StatusCode,
) -> Result<Response<Body>, ApiError> {
    let counts = keys::counts(scope, &[key.id.as_str()]).await?;
    let c = counts.get(key.id.as_str()).copied().unwrap_or_default();
    let base = h::base_url(req, scope.config.public_url.as_deref());
    let location = format!("/v1/keys/{}", key.id);
    let mut resp = h::json(status, &KeyView::new(key, token, c, &base));
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&location)
    {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

const FIELDS: &[&str] = &[
    "name",
    "allowedDomains",
    "honeypotField",
    "defaultStatus",
    "defaultTags",
    "rateLimitPerMinute",
];

/// Reads and checks a create (`creating`) or patch body.
pub fn changes(mut input: JsonInput, creating: bool) -> Result<KeyChanges, ApiError> {
    if input.has("token") {
        input.issue("token", "cannot be set; use POST /v1/keys/{id}/rotate");
    }
    for read_only in [
        "id",
        "url",
        "requestCount",
        "droppedCount",
        "createdAt",
        "updatedAt",
    ] {
        if input.has(read_only) {
            input.issue(read_only, "is read-only");
        }
    }
    let mut allowed = FIELDS.to_vec();
    allowed.extend([
        "token",
        "id",
        "url",
        "requestCount",
        "droppedCount",
        "createdAt",
        "updatedAt",
    ]);
    input.allow_only(&allowed);

    let name = input.string("name");
    match &name {
        None if creating => input.issue("name", "is required"),
        Some(n) if n.is_empty() => input.issue("name", "must not be empty"),
        Some(n) if n.chars().count() > 200 => input.issue("name", "is longer than 200 characters"),
        _ => {}
    }
    let allowed_domains = input.string_list("allowedDomains").map(|list| {
        let mut out: Vec<String> = Vec::new();
        for entry in list.iter().filter(|e| !e.is_empty()) {
            match DomainPattern::parse(entry) {
                Ok(p) => {
                    let p = p.to_string();
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
                Err(issue) => input.issue("allowedDomains", issue),
            }
        }
        if out.len() > MAX_DOMAINS {
            input.issue("allowedDomains", format!("at most {MAX_DOMAINS} entries"));
        }
        out
    });
    let honeypot_field = input.nullable_string("honeypotField");
    if let Some(Some(h)) = &honeypot_field
        && h.chars().count() > 100
    {
        input.issue("honeypotField", "is longer than 100 characters");
    }
    let default_status = input.string("defaultStatus");
    match &default_status {
        Some(s) if s.is_empty() => input.issue("defaultStatus", "must not be empty"),
        Some(s) if s.chars().count() > 64 => {
            input.issue("defaultStatus", "is longer than 64 characters")
        }
        _ => {}
    }
    let default_tags = input.string_list("defaultTags");
    let mut issues = Vec::new();
    let default_tags = default_tags.map(|t| clean_tags(t, "defaultTags", &mut issues));
    for i in issues {
        input.issue(i.field, i.issue);
    }
    // Absent: unchanged; null: no limit; else 1 to rate::MAX_PER_MINUTE.
    let rate_limit = input.raw("rateLimitPerMinute").map(|v| match v {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .ok_or_else(|| rate::LIMIT_RULE.to_owned())
            .and_then(rate::check_limit)
            .map(Some),
    });
    let rate_limit_per_minute = match rate_limit {
        None => None,
        Some(Ok(limit)) => Some(limit),
        Some(Err(issue)) => {
            input.issue("rateLimitPerMinute", issue);
            None
        }
    };
    input.finish()?;
    Ok(KeyChanges {
        name,
        allowed_domains,
        honeypot_field,
        default_status,
        default_tags,
        rate_limit_per_minute,
    })
}

/// A key as the admin API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub url: String,
    pub token: String,
    pub allowed_domains: Vec<String>,
    pub honeypot_field: Option<String>,
    pub default_status: String,
    pub default_tags: Vec<String>,
    /// `null`: no limit.
    pub rate_limit_per_minute: Option<u32>,
    pub request_count: i64,
    pub dropped_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl KeyView {
    /// The view of `key`; `token` is the token in clear where it may be
    /// shown (creation, rotation, `?reveal=true`), else the hint is.
    pub fn new(key: WebhookKey, token: Option<&str>, counts: (i64, i64), base_url: &str) -> Self {
        KeyView {
            url: format!("{base_url}/v1/hooks/{}", key.id),
            token: token.map(str::to_owned).unwrap_or(key.token_hint),
            id: key.id.into(),
            name: key.name,
            allowed_domains: key.allowed_domains,
            honeypot_field: key.honeypot_field,
            default_status: key.default_status,
            default_tags: key.default_tags,
            rate_limit_per_minute: key.rate_limit_per_minute,
            request_count: counts.0,
            dropped_count: counts.1,
            created_at: key.created_at,
            updated_at: key.updated_at,
        }
    }
}
