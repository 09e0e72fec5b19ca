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
use crate::providers::Provider;
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
    "provider",
    "providerSecret",
    "providerToken",
    "redirectUrl",
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
        "providerSecretSet",
        "providerTokenSet",
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
        "providerSecretSet",
        "providerTokenSet",
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
    let provider = input.string("provider").and_then(|p| {
        let parsed = Provider::parse(&p);
        if parsed.is_none() {
            input.issue("provider", provider_rule());
        }
        parsed
    });
    let provider_secret = input.nullable_string("providerSecret");
    if let Some(Some(secret)) = &provider_secret
        && let Err(issue) = check_provider_secret(secret)
    {
        input.issue("providerSecret", issue);
    }
    let provider_token = input.nullable_string("providerToken");
    if let Some(Some(token)) = &provider_token
        && let Err(issue) = check_provider_token(token)
    {
        input.issue("providerToken", issue);
    }
    let redirect_url = input.nullable_string("redirectUrl");
    if let Some(Some(url)) = &redirect_url
        && let Err(issue) = check_redirect_url(url)
    {
        input.issue("redirectUrl", issue);
    }
    input.finish()?;
    Ok(KeyChanges {
        name,
        allowed_domains,
        honeypot_field,
        default_status,
        default_tags,
        rate_limit_per_minute,
        provider,
        provider_secret: provider_secret.map(|s| s.filter(|s| !s.is_empty())),
        provider_token: provider_token.map(|s| s.filter(|s| !s.is_empty())),
        redirect_url: redirect_url.map(|u| u.filter(|u| !u.is_empty())),
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
    pub provider: Provider,
    /// Whether a `providerSecret` is set (it is never shown).
    pub provider_secret_set: bool,
    /// Whether a `providerToken` is set (it is never shown).
    pub provider_token_set: bool,
    pub redirect_url: Option<String>,
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
            provider: key.provider,
            provider_secret_set: key.provider_secret_sealed.is_some(),
            provider_token_set: key.provider_token_sealed.is_some(),
            redirect_url: key.redirect_url,
            request_count: counts.0,
            dropped_count: counts.1,
            created_at: key.created_at,
            updated_at: key.updated_at,
        }
    }
}

fn provider_rule() -> String {
    let names: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
    format!("must be one of {}", names.join(", "))
}

/// A provider's secret: 1 to 512 visible characters (`null` or `""`
/// removes it).
fn check_provider_secret(secret: &str) -> Result<(), &'static str> {
    if secret.chars().count() > 512 {
        return Err("is longer than 512 characters");
    }
    if secret.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(())
}

/// A provider's API access token: at most 4,096 visible characters.
fn check_provider_token(token: &str) -> Result<(), &'static str> {
    if token.chars().count() > 4096 {
        return Err("is longer than 4096 characters");
    }
    if token.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(())
}

/// Where browsers go after a `form` post: an absolute `https` URL (`http`
/// only for localhost), without credentials, at most 2,000 characters.
pub fn check_redirect_url(text: &str) -> Result<(), &'static str> {
    if text.is_empty() {
        return Ok(());
    }
    if text.len() > 2000 {
        return Err("is longer than 2000 characters");
    }
    let url = url::Url::parse(text).map_err(|_| "must be an absolute URL")?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => return Err("must be an https URL"),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold credentials");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_urls() {
        assert!(check_redirect_url("https://www.example.com/thanks?x=1").is_ok());
        assert!(check_redirect_url("http://127.0.0.1:8080/t").is_ok());
        assert!(check_redirect_url("http://www.example.com/").is_err());
        assert!(check_redirect_url("javascript:alert(1)").is_err());
        assert!(check_redirect_url("/thanks").is_err());
        assert!(check_redirect_url("https://u:p@example.com/").is_err());
    }

    #[test]
    fn provider_secrets() {
        assert!(check_provider_secret("whsec_abc").is_ok());
        assert!(check_provider_secret("a\nb").is_err());
        assert!(check_provider_secret(&"x".repeat(513)).is_err());
    }
}
