//! Deliveries: every webhook sent (the list refreshes itself while open),
//! its attempts with the answer's first bytes, retry, the dead ones (those in the dead-letter queue) and
//! redrive.

use http::StatusCode;
use lambda_http::{Body, Response};
use maud::html;
use serde_json::Value;

use super::layout::{self, Nav};
use super::{Ctx, html as page_html, query_string, redirect, safe_id};
use crate::http::error::ApiError;
use crate::http::query_param;

const STATUSES: [&str; 3] = ["pending", "delivered", "dead"];

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

fn last_attempt(d: &Value) -> String {
    match d["attempts"].as_array().and_then(|a| a.last()) {
        Some(a) => match (a["statusCode"].as_u64(), a["error"].as_str()) {
            (Some(c), _) => format!("HTTP {c} in {} ms", a["durationMs"].as_u64().unwrap_or(0)),
            (None, Some(e)) => layout::cut(e, 80),
            (None, None) => "—".into(),
        },
        None => "not tried yet".into(),
    }
}

pub async fn list(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let q = ctx.query();
    let status = query_param(&q, "status")
        .filter(|s| STATUSES.contains(s))
        .unwrap_or("");
    let sub = query_param(&q, "subscriptionId")
        .and_then(|s| safe_id(s).ok())
        .unwrap_or("");
    let cursor = query_param(&q, "cursor").unwrap_or("");
    let page = ctx
        .api(
            "GET",
            &format!(
                "/v1/deliveries{}",
                query_string(&[
                    ("status", status),
                    ("subscriptionId", sub),
                    ("limit", "50"),
                    ("cursor", cursor)
                ])
            ),
            None,
        )
        .await?;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    let dead = ctx
        .api("GET", "/v1/deliveries?status=dead&limit=200", None)
        .await?;
    let dead_count = dead["items"].as_array().map(Vec::len).unwrap_or(0);
    let dead_more = dead["nextCursor"].is_string();
    let depth = ctx.api("GET", "/v1/dlq", None).await?;
    let waiting = |queue: &str| depth[queue]["waiting"].as_u64().unwrap_or(0);
    let notice = match query_param(&q, "done") {
        Some("redriven") => Some("Dead-letter queues redriven: their messages are back at work."),
        _ => None,
    };
    let body = html! {
        (layout::notice(notice))
        section.result.bad[dead_count > 0].good[dead_count == 0] aria-labelledby="dlq-h" {
            h2 #dlq-h { "Dead-letter queue" }
            p #dlq-depth {
                strong { (dead_count) @if dead_more { "+" } }
                " dead deliveries: every attempt failed; they wait in the dead-letter queue."
            }
            p #dlq-queues {
                "In the dead-letter queues now: "
                strong { (waiting("deliveries")) } " delivery messages, "
                strong { (waiting("leads")) } " lead messages (leads that could not be processed)."
            }
            (layout::action(ctx, "/console/dlq/redrive", "Redrive all",
                Some("Move every dead-lettered message back to work? Each delivery gets a new round of attempts."), false))
        }
        ul.tabs aria-label="Filter by status" {
            li { a href={ "/console/deliveries" (query_string(&[("subscriptionId", sub)])) } aria-current=[status.is_empty().then_some("page")] { "All" } }
            @for st in STATUSES {
                li { a href={ "/console/deliveries" (query_string(&[("status", st), ("subscriptionId", sub)])) } aria-current=[(status == st).then_some("page")] { (st) } }
            }
        }
        @if !sub.is_empty() { p { "Destination " a href={ "/console/destinations/" (sub) } { (sub) } " only · " a href="/console/deliveries" { "all destinations" } } }
        (layout::live_status())
        div #deliveries-live data-live="3000" {
        @if items.is_empty() {
            (layout::empty("No deliveries here.", html! {
                p { "A delivery is made for each lead event and each enabled " a href="/console/destinations" { "destination" } " that wants it." }
            }))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Delivery" } th { "Event" } th { "Lead" } th { "Status" } th.num { "Attempts" } th { "Last attempt" } th { "Updated" } } }
                tbody {
                    @for d in &items {
                        tr {
                            td { a href={ "/console/deliveries/" (s(d, "id")) } { (s(d, "id")) } }
                            td { (s(d, "eventType")) }
                            td { @if let Some(l) = d["leadId"].as_str() { a href={ "/console/leads/" (l) } { (l) } } @else { "—" } }
                            td { (layout::badge(s(d, "status"))) }
                            td.num { (d["attempts"].as_array().map(Vec::len).unwrap_or(0)) }
                            td { (last_attempt(d)) }
                            td { (layout::time(s(d, "updatedAt"))) }
                        }
                    }
                }
            } }
            (layout::pager("/console/deliveries", &[("status", status), ("subscriptionId", sub)], page["nextCursor"].as_str()))
        }
        }
    };
    Ok(page_html(
        StatusCode::OK,
        layout::page(ctx, "Deliveries", Nav::Deliveries, body),
    ))
}

pub async fn show(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let d = ctx
        .api("GET", &format!("/v1/deliveries/{id}"), None)
        .await?;
    let q = ctx.query();
    let notice = match query_param(&q, "done") {
        Some("retried") => Some("Queued again: a new round of attempts starts now."),
        Some("pending") => Some("This delivery is still pending; it is retried on its own."),
        _ => None,
    };
    let status = s(&d, "status");
    let attempts = d["attempts"].as_array().cloned().unwrap_or_default();
    let body = html! {
        (layout::notice(notice))
        dl.facts {
            dt { "Status" } dd #delivery-status { (layout::badge(status)) }
            dt { "Event" } dd { (s(&d, "eventType")) }
            dt { "Destination" } dd { a href={ "/console/destinations/" (s(&d, "subscriptionId")) } { (s(&d, "subscriptionId")) } }
            dt { "Lead" } dd { @if let Some(l) = d["leadId"].as_str() { a href={ "/console/leads/" (l) } { (l) } } @else { "— (an operational event about no lead)" } }
            dt { "Created" } dd { (layout::time(s(&d, "createdAt"))) }
        }
        @if status != "pending" {
            div.actions { (layout::action(ctx, &format!("/console/deliveries/{id}/retry"), "Retry", None, false)) }
        }
        h2 { "Attempts" }
        @if attempts.is_empty() {
            p.muted { "No attempt yet: it is queued." }
        } @else {
            div.table-wrap { table #attempts {
                thead { tr { th.num { "#" } th { "When" } th { "Status" } th.num { "Time" } th { "Error / answer" } } }
                tbody {
                    @for a in &attempts {
                        tr {
                            td.num { (a["n"].as_u64().unwrap_or(0)) }
                            td { (layout::time(s(a, "at"))) }
                            td { @match a["statusCode"].as_u64() { Some(c) => (c), None => "—" } }
                            td.num { (a["durationMs"].as_u64().unwrap_or(0)) " ms" }
                            td {
                                @if let Some(e) = a["error"].as_str() { (e) }
                                @if let Some(r) = a["response"].as_str() { pre { (layout::cut(r, 600)) } }
                            }
                        }
                    }
                }
            } }
        }
    };
    Ok(page_html(
        StatusCode::OK,
        layout::page(ctx, "Delivery", Nav::Deliveries, body),
    ))
}

pub async fn retry(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    match ctx
        .api("POST", &format!("/v1/deliveries/{id}/retry"), None)
        .await
    {
        Ok(_) => Ok(redirect(&format!("/console/deliveries/{id}?done=retried"))),
        Err(ApiError::Conflict(_)) => {
            Ok(redirect(&format!("/console/deliveries/{id}?done=pending")))
        }
        Err(e) => Err(e),
    }
}

pub async fn redrive(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    ctx.api("POST", "/v1/dlq/redrive", None).await?;
    Ok(redirect("/console/deliveries?done=redriven"))
}
