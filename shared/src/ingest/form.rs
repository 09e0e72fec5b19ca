//! A `form` key's request: a plain HTML form posted by a browser
//! (docs/CONTRACT.md §3, "Sources: form").
//!
//! No token: the key's allowed origins (required for this provider;
//! `Origin`, else `Referer`) authenticate it, the honeypot and, when the
//! key has a Turnstile secret (`providerSecret`), Cloudflare's siteverify
//! (`LEADPIPE_TURNSTILE_VERIFY_URL`) keep bots out. A browser is answered
//! `303 See Other` to the `_redirect` field (when on the key's allowed
//! domains), else the key's `redirectUrl`, else the hosted thank-you page
//! (`GET /v1/hooks/{keyId}`); a client that asks for JSON gets the JSON
//! answer. Refused spam is answered exactly like success.

use http::{HeaderValue, StatusCode, header as hdr};
use lambda_http::{Body, Request, Response};
use maud::{DOCTYPE, Markup, html};

use super::hook;
use crate::app::App;
use crate::error::FieldIssue;
use crate::http::error::ApiError;
use crate::http::{self as h, header};
use crate::model::keys::{self, WebhookKey};
use crate::providers::ProviderMeta;
use crate::providers::form::{self as post, FormPost};
use crate::rules::crypto::DataKey;
use crate::rules::ids::{IdKind, new_id};
use crate::rules::inbound::origin::{self, DomainPattern};
use crate::rules::inbound::{LeadInput, fields};

/// Longest Turnstile token Cloudflare issues.
const MAX_TURNSTILE_TOKEN: usize = 2048;

pub async fn accept(
    app: &App,
    req: &Request,
    key: WebhookKey,
    data_key: &DataKey,
    cors: &mut Option<HeaderValue>,
) -> Result<Response<Body>, ApiError> {
    // The origins are this key's only credential: an empty list (refused
    // at save) allows nothing here.
    if key.allowed_domains.is_empty() {
        let (o, r) = (
            header(req.headers(), "origin"),
            header(req.headers(), "referer"),
        );
        return Err(ApiError::OriginNotAllowed(
            crate::rules::inbound::origin::named(o, r),
        ));
    }
    *cors = hook::check_origin(req, &key)?;
    let scope = &app.scope(key.workspace.clone());
    if let keys::Admission::Limited { retry_after_s } = keys::admit(scope, &key).await? {
        return Err(ApiError::RateLimited { retry_after_s });
    }
    let content_type = header(req.headers(), "content-type");
    let json = post::wants_json(header(req.headers(), "accept"), content_type);
    let form = post::parse(content_type, req.body().as_ref())?;
    let base = h::base_url(req, app.config.public_url.as_deref());
    let target = redirect_target(&key, &form, &base);

    if is_spam(app, req, &key, data_key, &form).await? {
        if let Err(e) = keys::count(scope, &key.id, keys::Counter::Dropped).await {
            tracing::warn!(error = %e, "could not count a dropped request");
        }
        return Ok(success(json, &new_id(IdKind::Event), &target));
    }
    let input = match LeadInput::from_fields(
        form.fields,
        app.config.default_region,
        key.honeypot_field.as_deref(),
    ) {
        Ok(input) => input,
        Err(issues) if !json => return Ok(problem_page(&issues)),
        Err(issues) => return Err(ApiError::Validation(issues)),
    };
    let event_id =
        hook::record_and_enqueue(scope, req, &key, &input, Some(ProviderMeta::new("form"))).await?;
    tracing::info!(event_id = %event_id, "form post accepted");
    Ok(success(json, event_id.as_str(), &target))
}

/// The honeypot, then Turnstile when the key has its secret.
async fn is_spam(
    app: &App,
    req: &Request,
    key: &WebhookKey,
    data_key: &DataKey,
    form: &FormPost,
) -> Result<bool, ApiError> {
    if let Some(field) = key.honeypot_field.as_deref()
        && fields::honeypot_tripped(&form.fields, field)
    {
        tracing::info!("honeypot filled; dropped");
        return Ok(true);
    }
    let Some(secret) = key.provider_secret(data_key)? else {
        return Ok(false);
    };
    let Some(token) = form
        .turnstile
        .as_deref()
        .filter(|t| t.len() <= MAX_TURNSTILE_TOKEN)
    else {
        tracing::info!("no Turnstile token; dropped");
        return Ok(true);
    };
    let passed = turnstile(app, &secret, token, hook::request_meta(req).ip.as_deref()).await?;
    if !passed {
        tracing::info!("Turnstile refused the token; dropped");
    }
    Ok(!passed)
}

/// Asks siteverify about a token: `secret`, `response`, `remoteip`, form
/// encoded; `{"success": true}` passes. An unreachable or failing endpoint
/// is not a pass, and not spam either: the visitor is told to try again.
async fn turnstile(
    app: &App,
    secret: &str,
    token: &str,
    ip: Option<&str>,
) -> Result<bool, ApiError> {
    // Built whole before any await: the serializer is not `Send`.
    let body = {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("secret", secret)
            .append_pair("response", token);
        if let Some(ip) = ip {
            body.append_pair("remoteip", ip);
        }
        body.finish()
    };
    let unavailable =
        || ApiError::Forbidden("the spam check could not be completed; try again".into());
    let sent = app
        .http()?
        .post(&app.config.turnstile_verify_url)
        .header(hdr::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await;
    let resp = match sent {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            tracing::warn!(status = r.status().as_u16(), "Turnstile siteverify failed");
            return Err(unavailable());
        }
        Err(e) => {
            tracing::warn!(error = %crate::http::outbound::error_text(e), "Turnstile siteverify unreachable");
            return Err(unavailable());
        }
    };
    match resp.bytes().await {
        Ok(b) => Ok(post::siteverify_success(&b)),
        Err(e) => {
            tracing::warn!(error = %crate::http::outbound::error_text(e), "Turnstile answer unreadable");
            Err(unavailable())
        }
    }
}

/// Where the browser goes: `_redirect` when it is an http(s) URL on the
/// key's allowed domains, else the key's `redirectUrl`, else the hosted
/// thank-you page.
pub fn redirect_target(key: &WebhookKey, form: &FormPost, base: &str) -> String {
    let patterns: Vec<DomainPattern> = key.domain_patterns().unwrap_or_default();
    let asked = form.redirect.as_deref().filter(|r| {
        url::Url::parse(r).is_ok_and(|u| {
            matches!(u.scheme(), "https" | "http")
                && u.username().is_empty()
                && u.password().is_none()
                && !patterns.is_empty()
                && origin::allowed(
                    &patterns,
                    Some(u.origin().ascii_serialization().as_str()),
                    None,
                )
        })
    });
    asked
        .map(str::to_owned)
        .or_else(|| key.redirect_url.clone())
        .unwrap_or_else(|| format!("{base}/v1/hooks/{}", key.id))
}

fn success(json: bool, event_id: &str, target: &str) -> Response<Body> {
    if json {
        return hook::respond(&hook::accepted(event_id));
    }
    let mut resp = h::empty(StatusCode::SEE_OTHER);
    if let Ok(v) = HeaderValue::from_str(target) {
        resp.headers_mut().insert(hdr::LOCATION, v);
    }
    resp
}

fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
            }
            body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 4rem auto; padding: 0 1rem; line-height: 1.5" {
                (body)
            }
        }
    }
}

fn html_response(status: StatusCode, markup: Markup) -> Response<Body> {
    let mut resp = Response::new(Body::Text(markup.into_string()));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        hdr::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        hdr::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        hdr::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// A form post that cannot make a lead, shown to the visitor.
fn problem_page(issues: &[FieldIssue]) -> Response<Body> {
    let body = html! {
        h1 { "Please check the form" }
        ul { @for i in issues { li { strong { (i.field) } ": " (i.issue) } } }
        p { "Go back, correct it and send it again." }
    };
    html_response(
        StatusCode::UNPROCESSABLE_ENTITY,
        page("Please check the form", body),
    )
}

/// `GET /v1/hooks/{keyId}`: the hosted thank-you page a `form` post lands
/// on when neither `_redirect` nor the key's `redirectUrl` says otherwise.
pub fn thanks() -> Response<Body> {
    let body = html! {
        h1 { "Thank you" }
        p { "Your details were received. You can close this page or go back." }
    };
    html_response(StatusCode::OK, page("Thank you", body))
}
