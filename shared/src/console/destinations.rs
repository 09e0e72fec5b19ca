//! Destinations (subscriptions): where leads go. URL (SSRF refusals in
//! words), event and source filters, secret shown once and rotated with
//! grace, custom headers and auth masked, a template editor with a preview
//! on a sample lead, Test (status, timing, first bytes), enable/disable.

use http::StatusCode;
use lambda_http::{Body, Response};
use maud::html;
use serde_json::{Value, json};

use super::destination_form::{SSRF_WORDS, Values, body_of, form_fields, preview, s, strings};
use super::destination_kinds;
use super::layout::{self, Nav};
use super::routing;
use super::{Ctx, Problems, html as page_html, redirect, safe_id};
use crate::http::error::ApiError;

async fn render_list(
    ctx: &Ctx<'_>,
    create: &Problems,
    values: Option<&Values>,
    preview_of: Option<&str>,
    notice: Option<&str>,
    status: StatusCode,
) -> Result<Response<Body>, ApiError> {
    let page = ctx.api("GET", "/v1/subscriptions?limit=100", None).await?;
    let subs = page["items"].as_array().cloned().unwrap_or_default();
    let default = Values {
        enabled: true,
        all_events: true,
        ..Values::default()
    };
    let v = values.unwrap_or(&default);
    let filter_preview = match preview_of {
        Some(_) => Some(Box::pin(routing::preview(ctx, &v.filter)).await),
        None => None,
    };
    let open = values.is_some() || subs.is_empty();
    let body = html! {
        (layout::notice(notice))
        p.muted { "Each lead event is POSTed, signed (Standard Webhooks), to every enabled destination that wants it, and retried until it is taken." }
        @if subs.is_empty() {
            (layout::empty("No destinations yet.", html! {
                p { "Add your CRM's or your app's webhook URL below, then press " strong { "Test" } " to see it answer." }
            }))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "URL" } th { "Events" } th { "State" } th { "Created" } } }
                tbody {
                    @for sub in &subs {
                        tr {
                            td { a href={ "/console/destinations/" (s(sub, "id")) } { (layout::cut(s(sub, "url"), 80)) } }
                            td { (strings(&sub["events"]).join(", ")) }
                            td { (state_badge(sub)) }
                            td { (layout::time(s(sub, "createdAt"))) }
                        }
                    }
                }
            } }
        }
        details #add-destination open[open] {
            summary { "Add destination" }
            form method="post" action="/console/destinations" {
                (layout::csrf(ctx))
                (layout::problems_banner(create))
                @if !create.of("url").is_empty() { p.hint { (SSRF_WORDS) } }
                (form_fields(create, v, true))
                @if let Some(t) = preview_of {
                    @match destination_kinds::request_preview(&v.kinds) { Some(m) => (m), None => (preview(t)) }
                }
                @if let Some(m) = &filter_preview { (m) }
                div.actions {
                    button type="submit" { "Create destination" }
                    button.secondary type="submit" name="op" value="preview" { "Preview template and filter" }
                }
            }
        }
    };
    Ok(page_html(
        status,
        layout::page(ctx, "Destinations", Nav::Destinations, body),
    ))
}

struct Detail<'a> {
    secret: Option<(&'a str, &'static str)>,
    test: Option<&'a Value>,
    edit: Problems,
    values: Option<Values>,
    preview: bool,
    notice: Option<&'a str>,
    status: StatusCode,
}

impl Default for Detail<'_> {
    fn default() -> Self {
        Detail {
            secret: None,
            test: None,
            edit: Problems::none(),
            values: None,
            preview: false,
            notice: None,
            status: StatusCode::OK,
        }
    }
}

async fn render_one(ctx: &Ctx<'_>, id: &str, d: Detail<'_>) -> Result<Response<Body>, ApiError> {
    let sub = ctx
        .api("GET", &format!("/v1/subscriptions/{id}"), None)
        .await?;
    let enabled = sub["enabled"].as_bool().unwrap_or(false);
    let values = d.values.unwrap_or_else(|| Values::from_sub(&sub));
    let filter_preview = if d.preview || !values.filter.is_empty() {
        Some(Box::pin(routing::preview(ctx, &values.filter)).await)
    } else {
        None
    };
    let headers: Vec<(String, String)> = sub["headers"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let auth = &sub["auth"];
    let body = html! {
        (layout::notice(d.notice))
        @if let Some((secret, why)) = d.secret {
            div.banner.secret role="status" {
                p { strong { "Signing secret " (why) ". " } "It is shown this once: copy it into the receiver now." }
                (layout::copyable("secret-full", secret))
            }
        }
        dl.facts {
            (destination_kinds::facts(&sub))
            dt { "URL" } dd { (layout::copyable("dest-url", s(&sub, "url"))) }
            dt { "State" } dd {
                (state_badge(&sub))
                @if let Some(r) = sub["disabledReason"].as_str() { " " span.muted { (r) } }
                @if let Some(since) = sub["failingSince"].as_str() {
                    " " span.muted { "failing since " (layout::time(since)) " (" (sub["consecutiveFailures"].as_u64().unwrap_or(0)) " failures in a row): one delivery keeps retrying, the others wait and go out in order once it gets through" }
                }
            }
            dt { "Events" } dd { (strings(&sub["events"]).join(", ")) }
            dt { "Sources" } dd { @if sub["sources"].is_null() { span.muted { "every source" } } @else { (strings(&sub["sources"]).join(", ")) } }
            dt { "Signing secret" } dd {
                code { (s(&sub, "secret")) }
                @if let Some(t) = sub["previousSecretExpiresAt"].as_str() { br; span.muted { "The previous secret also signs until " (layout::time(t)) } }
            }
            dt { "Custom headers" } dd {
                @if headers.is_empty() { span.muted { "none" } }
                @for (n, v) in &headers { code { (n) ": " (v) } br; }
            }
            dt { "Authentication" } dd {
                @match auth["type"].as_str() {
                    Some("bearer") => code { "Authorization: Bearer " (s(auth, "token")) },
                    Some("header") => code { (s(auth, "name")) ": " (s(auth, "value")) },
                    _ => span.muted { "none" },
                }
            }
            dt { "Retries" } dd { (retries(&sub)) ", then the delivery is dead (and waits in the dead-letter queue)" }
            dt { "Egress" } dd { span.muted { "When the deployment sets static_egress_ip, deliveries leave from the address in Terraform's egress_ip output: allow-list it at the receiver." } }
            dt { "Created" } dd { (layout::time(s(&sub, "createdAt"))) }
        }
        div.actions {
            (layout::action(ctx, &format!("/console/destinations/{id}/test"), "Test", None, false))
            (layout::action(ctx, &format!("/console/destinations/{id}/toggle"),
                if enabled { "Disable" } else { "Enable" }, None, false))
            a.button.secondary href={ "/console/deliveries?subscriptionId=" (id) } { "Deliveries" }
        }
        @if let Some(t) = d.test {
            @let ok = t["delivered"].as_bool().unwrap_or(false);
            div.result.good[ok].bad[!ok] #test-result role="status" {
                p {
                    strong { @if ok { "Delivered" } @else { "Not delivered" } }
                    " · status " strong #test-status { (t["statusCode"].as_u64().map(|c| c.to_string()).unwrap_or_else(|| "none".into())) }
                    " · " strong #test-ms { (t["durationMs"].as_u64().unwrap_or(0)) " ms" }
                }
                @if let Some(e) = t["error"].as_str() { p { "Error: " (e) } }
                @if let Some(r) = t["response"].as_str() { p.muted { "First bytes of the answer:" } pre { (layout::cut(r, 1024)) } }
            }
        }
        h2 { "Rotate the signing secret" }
        form method="post" action={ "/console/destinations/" (id) "/rotate" } data-confirm="Issue a new signing secret? The old one keeps signing, beside the new one, for the grace period." {
            (layout::csrf(ctx))
            div.field {
                label for="f-grace" { "Old secret keeps working for" }
                select #f-grace name="graceSeconds" {
                    option value="0" { "no time: stop at once" }
                    option value="3600" { "1 hour" }
                    option value="86400" selected { "24 hours" }
                    option value="604800" { "7 days" }
                }
            }
            button.secondary type="submit" { "Rotate secret" }
        }
        h2 { "Edit" }
        form method="post" action={ "/console/destinations/" (id) } {
            (layout::csrf(ctx))
            (layout::problems_banner(&d.edit))
            @if !d.edit.of("url").is_empty() { p.hint { (SSRF_WORDS) } }
            (form_fields(&d.edit, &values, false))
            @if let (true, Some(m)) = (d.preview, destination_kinds::request_preview(&values.kinds)) { (m) }
            @else if d.preview || !values.template.is_empty() { (preview(&values.template)) }
            @if let Some(m) = &filter_preview { (m) }
            div.actions {
                button type="submit" { "Save changes" }
                button.secondary type="submit" name="op" value="preview" { "Preview template and filter" }
            }
        }
        h2 { "Delete" }
        (layout::action(ctx, &format!("/console/destinations/{id}/delete"), "Delete destination",
            Some("Delete this destination? Leads will no longer be sent to it."), true))
    };
    Ok(page_html(
        d.status,
        layout::page(ctx, "Destination", Nav::Destinations, body),
    ))
}

fn done(q: &[(String, String)]) -> Option<&'static str> {
    match crate::http::query_param(q, "done") {
        Some("deleted") => Some("Destination deleted."),
        Some("saved") => Some("Destination saved."),
        Some("enabled") => Some("Destination enabled: new events will be sent to it."),
        Some("disabled") => Some(
            "Destination disabled: nothing is sent until you enable it. URL and secret are kept.",
        ),
        _ => None,
    }
}

pub async fn list(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let q = ctx.query();
    render_list(ctx, &Problems::none(), None, None, done(&q), StatusCode::OK).await
}

pub async fn create(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let form = ctx.form();
    let values = Values::from_form(&form);
    if form.get("op") == "preview" {
        return render_list(
            ctx,
            &Problems::none(),
            Some(&values),
            Some(&values.template),
            None,
            StatusCode::OK,
        )
        .await;
    }
    let body = match body_of(&form, true) {
        Ok(b) => b,
        Err(p) => {
            return render_list(
                ctx,
                &p,
                Some(&values),
                None,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match ctx.api("POST", "/v1/subscriptions", Some(body)).await {
        Ok(sub) => {
            let secret = s(&sub, "secret").to_owned();
            let id = s(&sub, "id").to_owned();
            render_one(
                ctx,
                &id,
                Detail {
                    secret: Some((&secret, "created")),
                    status: StatusCode::CREATED,
                    ..Detail::default()
                },
            )
            .await
        }
        Err(e @ ApiError::Internal(_)) => Err(e),
        Err(e) => {
            let p = Problems::from_api(&e, "url");
            let t = (!p.of("template").is_empty()).then_some(values.template.as_str());
            render_list(ctx, &p, Some(&values), t, None, e.status()).await
        }
    }
}

pub async fn show(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let q = ctx.query();
    render_one(
        ctx,
        id,
        Detail {
            notice: done(&q),
            ..Detail::default()
        },
    )
    .await
}

pub async fn edit(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let form = ctx.form();
    let values = Values::from_form(&form);
    if form.get("op") == "preview" {
        return render_one(
            ctx,
            id,
            Detail {
                values: Some(values),
                preview: true,
                ..Detail::default()
            },
        )
        .await;
    }
    let result = match body_of(&form, false) {
        Ok(body) => ctx
            .api("PATCH", &format!("/v1/subscriptions/{id}"), Some(body))
            .await
            .map_err(|e| (e.status(), Problems::from_api(&e, "url"), e)),
        Err(p) => Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            p,
            ApiError::Validation(vec![]),
        )),
    };
    match result {
        Ok(_) => Ok(redirect(&format!("/console/destinations/{id}?done=saved"))),
        Err((_, _, e @ (ApiError::Internal(_) | ApiError::NotFound(_)))) => Err(e),
        Err((status, p, _)) => {
            render_one(
                ctx,
                id,
                Detail {
                    edit: p,
                    values: Some(values),
                    status,
                    ..Detail::default()
                },
            )
            .await
        }
    }
}

pub async fn test(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let result = ctx
        .api("POST", &format!("/v1/subscriptions/{id}/test"), None)
        .await?;
    render_one(
        ctx,
        id,
        Detail {
            test: Some(&result),
            ..Detail::default()
        },
    )
    .await
}

pub async fn rotate(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let grace: u64 = ctx.form().get("graceSeconds").parse().unwrap_or(86_400);
    let sub = ctx
        .api(
            "POST",
            &format!("/v1/subscriptions/{id}/rotate-secret"),
            Some(json!({ "graceSeconds": grace })),
        )
        .await?;
    let secret = s(&sub, "secret").to_owned();
    render_one(
        ctx,
        id,
        Detail {
            secret: Some((&secret, "rotated")),
            ..Detail::default()
        },
    )
    .await
}

pub async fn toggle(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let sub = ctx
        .api("GET", &format!("/v1/subscriptions/{id}"), None)
        .await?;
    let enable = !sub["enabled"].as_bool().unwrap_or(false);
    ctx.api(
        "PATCH",
        &format!("/v1/subscriptions/{id}"),
        Some(json!({ "enabled": enable })),
    )
    .await?;
    let done = if enable { "enabled" } else { "disabled" };
    Ok(redirect(&format!("/console/destinations/{id}?done={done}")))
}

pub async fn delete(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    ctx.api("DELETE", &format!("/v1/subscriptions/{id}"), None)
        .await?;
    Ok(redirect("/console/destinations?done=deleted"))
}

/// The subscription's schedule in words.
fn retries(sub: &Value) -> String {
    let steps: Option<Vec<u32>> = sub["retrySchedule"].as_array().and_then(|a| {
        a.iter()
            .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
            .collect()
    });
    match steps.map(crate::rules::schedule::Schedule::new) {
        Some(Ok(s)) => s.describe(),
        _ => format!("{} attempts", sub["maxAttempts"].as_u64().unwrap_or(0)),
    }
}

/// `active`, `failing` or `disabled` (older answers: from `enabled`).
fn state_badge(sub: &Value) -> maud::Markup {
    let state = sub["state"]
        .as_str()
        .unwrap_or(if sub["enabled"].as_bool().unwrap_or(false) {
            "active"
        } else {
            "disabled"
        });
    layout::badge(state)
}
