//! Keys: the list (request counts, last lead), creation, and the drawer of
//! one key: token masked with show/hide and copy, hook URL, ready HTML form
//! and curl snippets, edit without rotating, regenerate, delete.

use std::collections::HashMap;

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use maud::{Markup, html};
use serde_json::{Value, json};

use super::layout::{self, Nav};
use super::sources;
use super::{Ctx, Problems, html as page_html, redirect, safe_id, split_list};
use crate::http::error::ApiError;
use crate::http::header as req_header;
use crate::providers::Provider;

/// Recent events scanned for each key's last lead.
const RECENT_EVENTS: usize = 200;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

fn list_of(v: &Value, k: &str) -> String {
    v[k].as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The newest `receivedAt` per key among the recent events.
async fn last_use(ctx: &Ctx<'_>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let path = format!("/v1/events?limit={RECENT_EVENTS}");
    if let Ok(page) = ctx.api("GET", &path, None).await {
        for e in page["items"].as_array().into_iter().flatten() {
            if let Some(k) = e["source"]["keyId"].as_str() {
                let at = s(e, "receivedAt").to_owned();
                let entry = out.entry(k.to_owned()).or_insert_with(String::new);
                if at > *entry {
                    *entry = at;
                }
            }
        }
    }
    out
}

/// What the drawer shows of the token.
enum Token<'a> {
    /// Masked; the script can reveal it.
    Masked,
    /// In full, with why (`created`, `regenerated`, `revealed`).
    Shown(&'a str, &'static str),
}

struct View<'a> {
    selected: Option<(&'a Value, Token<'a>)>,
    create: Problems,
    create_values: Option<&'a super::Form>,
    edit: Problems,
    notice: Option<&'a str>,
    status: StatusCode,
}

impl Default for View<'_> {
    fn default() -> Self {
        View {
            selected: None,
            create: Problems::none(),
            create_values: None,
            edit: Problems::none(),
            notice: None,
            status: StatusCode::OK,
        }
    }
}

async fn render(ctx: &Ctx<'_>, view: View<'_>) -> Result<Response<Body>, ApiError> {
    let page = ctx.api("GET", "/v1/keys?limit=100", None).await?;
    let keys = page["items"].as_array().cloned().unwrap_or_default();
    let last = last_use(ctx).await;
    let meta_pages = sources::meta_pages(ctx).await;
    let selected_id = view.selected.as_ref().map(|(k, _)| s(k, "id").to_owned());
    let body = html! {
        (layout::notice(view.notice))
        p.muted { "A key is how a form, a landing page or a tool pushes leads in: a URL and a secret token. "
            "The request count shows which sources actually deliver." }
        div.split {
            section aria-labelledby="keys-h" {
                h2 #keys-h { "Your keys" }
                @if keys.is_empty() {
                    (layout::empty("No keys yet.", html! {
                        p { "Add your first key below, then paste its URL and token into your form or tool." }
                    }))
                } @else {
                    div.table-wrap { table {
                        thead { tr { th { "Name" } th { "Token" } th.num { "Requests" } th.num { "Dropped" } th { "Last lead" } } }
                        tbody {
                            @for k in &keys {
                                @let id = s(k, "id");
                                tr class=[(selected_id.as_deref() == Some(id)).then_some("selected")] {
                                    td { a href={ "/console/keys/" (id) } { (s(k, "name")) } }
                                    td { code { (s(k, "token")) } }
                                    td.num { (k["requestCount"].as_i64().unwrap_or(0)) }
                                    td.num { (k["droppedCount"].as_i64().unwrap_or(0)) }
                                    td { (layout::time_opt(last.get(id).map(String::as_str))) }
                                }
                            }
                        }
                    } }
                }
                (create_form(ctx, &view))
                (meta_pages)
            }
            @if let Some((key, token)) = &view.selected {
                (drawer(ctx, key, token, &view.edit))
            }
        }
    };
    let title = match &view.selected {
        Some((k, _)) => format!("Key: {}", s(k, "name")),
        None => "Webhook keys".to_owned(),
    };
    Ok(page_html(
        view.status,
        layout::page(ctx, &title, Nav::Keys, body),
    ))
}

fn create_form(ctx: &Ctx<'_>, view: &View<'_>) -> Markup {
    let v = |k: &str| view.create_values.map(|f| f.get(k)).unwrap_or("");
    let open = !view.create.is_empty();
    html! {
        details #add-key open[open] {
            summary { "Add key" }
            form method="post" action="/console/keys" {
                (layout::csrf(ctx))
                (layout::problems_banner(&view.create))
                (key_fields(
                    &view.create,
                    v("name"),
                    v("allowedDomains"),
                    v("honeypotField"),
                    if v("defaultStatus").is_empty() { "unassigned" } else { v("defaultStatus") },
                    v("defaultTags"),
                    v("rateLimitPerMinute"),
                ))
                (sources::fields(&view.create, v("provider"), false, v("redirectUrl")))
                button type="submit" { "Create key" }
            }
        }
    }
}

fn key_fields(
    p: &Problems,
    name: &str,
    domains: &str,
    honeypot: &str,
    status: &str,
    tags: &str,
    rate: &str,
) -> Markup {
    html! {
        (layout::field("name", "Name", name, p, "An internal label: “Landing page”, “FB lead form”."))
        (layout::field("allowedDomains", "Allowed domains", domains, p,
            "Comma-separated; *.example.com matches subdomains. Empty allows any origin (not recommended for browser forms)."))
        (layout::field("honeypotField", "Honeypot field name", honeypot, p,
            "A hidden field of your form; when a bot fills it the lead is dropped silently."))
        (layout::field("defaultStatus", "Default lead status", status, p, ""))
        (layout::field("defaultTags", "Default tags", tags, p, "Comma-separated; every lead from this key gets them."))
        (layout::field("rateLimitPerMinute", "Rate limit (requests a minute)", rate, p,
            "Empty for none. Past it the hook answers 429 with Retry-After and stores nothing."))
    }
}

fn drawer(ctx: &Ctx<'_>, key: &Value, token: &Token<'_>, edit: &Problems) -> Markup {
    let id = s(key, "id");
    let url = s(key, "url");
    let masked = s(key, "token");
    let honeypot = key["honeypotField"].as_str().unwrap_or("");
    let token_for_snippets = match token {
        Token::Shown(t, _) => *t,
        Token::Masked => "YOUR_TOKEN",
    };
    let curl = format!(
        "curl -X POST '{url}' \\\n  -H 'X-Webhook-Token: {token_for_snippets}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{{\"name\": \"Alex Customer\", \"email\": \"alex@example.com\", \"phone\": \"+1 415 555 0123\"}}'"
    );
    let provider = Provider::parse(s(key, "provider")).unwrap_or_default();
    let secret_set = key["providerSecretSet"].as_bool() == Some(true);
    let form = sources::form_snippet(provider, url, honeypot);
    html! {
        aside.drawer aria-labelledby="drawer-h" {
            h2 #drawer-h { (s(key, "name")) }
            @match token {
                Token::Shown(t, why) => {
                    div.banner.secret role="status" {
                        p { strong { "Token " (why) ". " } "Copy it now into your form or tool; the key list shows it masked." }
                        (layout::copyable("token-full", t))
                    }
                }
                Token::Masked => {}
            }
            dl.facts {
                dt { "Token" }
                dd {
                    span.copyable {
                        code #token data-masked=(masked) data-reveal={ "/console/keys/" (id) "/reveal" } { (masked) }
                        form.inline method="post" action={ "/console/keys/" (id) "/reveal" } {
                            (layout::csrf(ctx))
                            button.small.secondary type="submit" data-toggle="token" aria-pressed="false" { "Show" }
                        }
                        button.small type="button" data-copy="token" { "Copy" }
                    }
                }
                dt { "Source" } dd { (provider.as_str()) }
                dt { "Hook URL" }
                dd { (layout::copyable("hook-url", url)) }
                dt { "Requests" } dd { (key["requestCount"].as_i64().unwrap_or(0)) " accepted, " (key["droppedCount"].as_i64().unwrap_or(0)) " dropped by the honeypot" }
                dt { "Allowed domains" } dd { @if list_of(key, "allowedDomains").is_empty() { span.muted { "any origin" } } @else { (list_of(key, "allowedDomains")) } }
                dt { "Honeypot field" } dd { @if honeypot.is_empty() { span.muted { "none" } } @else { code { (honeypot) } } }
                dt { "Default status" } dd { (s(key, "defaultStatus")) }
                dt { "Default tags" } dd { (list_of(key, "defaultTags")) }
                dt { "Rate limit" } dd { @match key["rateLimitPerMinute"].as_u64() { Some(n) => { (n) " requests a minute" } None => { span.muted { "none" } } } }
                dt { "Created" } dd { (layout::time(s(key, "createdAt"))) }
            }
            div.actions {
                (layout::action(ctx, &format!("/console/keys/{id}/test-lead"), "Send test lead", None, false))
                (layout::action(ctx, &format!("/console/keys/{id}/rotate"), "Regenerate token",
                    Some("Regenerate this key's token? The old token stops working immediately: every form and tool using it must be updated."), false))
                (layout::action(ctx, &format!("/console/keys/{id}/delete"), "Delete key",
                    Some("Delete this key permanently? Requests with its token will be refused."), true))
            }
            (sources::setup_steps(provider, url, token_for_snippets, secret_set))
            h3 { "Send a lead with curl" }
            pre #snippet-curl { (curl) }
            button.small type="button" data-copy="snippet-curl" { "Copy curl" }
            h3 { "Or an HTML form" }
            pre #snippet-form { (form) }
            button.small type="button" data-copy="snippet-form" { "Copy HTML" }
            details open[!edit.is_empty()] {
                summary { "Edit key" }
                p.muted { "Changes keep the token." }
                form method="post" action={ "/console/keys/" (id) } {
                    (layout::csrf(ctx))
                    (layout::problems_banner(edit))
                    (key_fields(edit, s(key, "name"), &list_of(key, "allowedDomains"), honeypot,
                        s(key, "defaultStatus"), &list_of(key, "defaultTags"), &rate_text(key)))
                    (sources::fields(edit, s(key, "provider"), secret_set, s(key, "redirectUrl")))
                    button type="submit" { "Save changes" }
                }
            }
        }
    }
}

fn rate_text(key: &Value) -> String {
    key["rateLimitPerMinute"]
        .as_u64()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// Empty: no limit; a whole number as a number; anything else as typed,
/// for the API to refuse beside the field.
fn rate_of(text: &str) -> Value {
    match text.trim() {
        "" => Value::Null,
        t => t.parse::<u64>().map_or_else(|_| json!(t), |n| json!(n)),
    }
}

fn body_of(form: &super::Form) -> Value {
    let mut body = json!({
        "rateLimitPerMinute": rate_of(form.get("rateLimitPerMinute")),
        "name": form.get("name"),
        "allowedDomains": split_list(form.get("allowedDomains")),
        "honeypotField": form.get("honeypotField"),
        "defaultStatus": if form.get("defaultStatus").is_empty() { "unassigned" } else { form.get("defaultStatus") },
        "defaultTags": split_list(form.get("defaultTags")),
    });
    if let Value::Object(map) = &mut body {
        sources::body_fields(|k| form.get(k).to_owned(), map);
    }
    body
}

async fn get_key(ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    ctx.api("GET", &format!("/v1/keys/{}", safe_id(id)?), None)
        .await
}

#[cfg(test)]
#[test]
fn rate_limits_read_from_the_form() {
    assert_eq!(rate_of(""), Value::Null);
    assert_eq!(rate_of(" 600 "), json!(600));
    assert_eq!(rate_of("lots"), json!("lots"));
}

fn done(q: &[(String, String)]) -> Option<&'static str> {
    match crate::http::query_param(q, "done") {
        Some("deleted") => Some("Key deleted. Requests with its token are now refused."),
        Some("saved") => Some("Key saved. The token is unchanged."),
        Some("test-lead") => Some(
            "Test lead sent through this key: see Events. It is marked as a test and goes only to destinations that accept test leads.",
        ),
        _ => None,
    }
}

pub async fn list(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let q = ctx.query();
    render(
        ctx,
        View {
            notice: done(&q),
            ..View::default()
        },
    )
    .await
}

pub async fn show(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let key = get_key(ctx, ctx.param("id")).await?;
    let q = ctx.query();
    render(
        ctx,
        View {
            selected: Some((&key, Token::Masked)),
            notice: done(&q),
            ..View::default()
        },
    )
    .await
}

pub async fn create(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let form = ctx.form();
    match ctx.api("POST", "/v1/keys", Some(body_of(&form))).await {
        Ok(key) => {
            let token = s(&key, "token").to_owned();
            let masked = get_key(ctx, s(&key, "id")).await?;
            render(
                ctx,
                View {
                    selected: Some((&masked, Token::Shown(&token, "created"))),
                    status: StatusCode::CREATED,
                    ..View::default()
                },
            )
            .await
        }
        Err(e @ ApiError::Internal(_)) => Err(e),
        Err(e) => {
            render(
                ctx,
                View {
                    create: Problems::from_api(&e, "name"),
                    create_values: Some(&form),
                    status: e.status(),
                    ..View::default()
                },
            )
            .await
        }
    }
}

pub async fn edit(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let form = ctx.form();
    match ctx
        .api("PATCH", &format!("/v1/keys/{id}"), Some(body_of(&form)))
        .await
    {
        Ok(_) => Ok(redirect(&format!("/console/keys/{id}?done=saved"))),
        Err(e @ (ApiError::Internal(_) | ApiError::NotFound(_))) => Err(e),
        Err(e) => {
            let key = get_key(ctx, id).await?;
            render(
                ctx,
                View {
                    selected: Some((&key, Token::Masked)),
                    edit: Problems::from_api(&e, "name"),
                    status: e.status(),
                    ..View::default()
                },
            )
            .await
        }
    }
}

/// The token in full: JSON for the script (`Accept: application/json`),
/// else the drawer with it shown.
pub async fn reveal(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let key = ctx
        .api("GET", &format!("/v1/keys/{id}?reveal=true"), None)
        .await?;
    let token = s(&key, "token").to_owned();
    tracing::info!(key_id = id, "console: token revealed");
    let wants_json =
        req_header(ctx.req.headers(), "accept").is_some_and(|a| a.contains("application/json"));
    if wants_json {
        let mut resp = Response::new(Body::Text(json!({ "token": token }).to_string()));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(resp);
    }
    let masked = get_key(ctx, id).await?;
    render(
        ctx,
        View {
            selected: Some((&masked, Token::Shown(&token, "revealed"))),
            ..View::default()
        },
    )
    .await
}

pub async fn rotate(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let key = ctx
        .api("POST", &format!("/v1/keys/{id}/rotate"), None)
        .await?;
    let token = s(&key, "token").to_owned();
    let masked = get_key(ctx, id).await?;
    render(
        ctx,
        View {
            selected: Some((
                &masked,
                Token::Shown(&token, "regenerated: the old token no longer works"),
            )),
            ..View::default()
        },
    )
    .await
}

pub async fn delete(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    ctx.api("DELETE", &format!("/v1/keys/{id}"), None).await?;
    Ok(redirect("/console/keys?done=deleted"))
}
