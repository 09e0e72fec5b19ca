//! Events: every inbound event by status, FAILED ones with their reason,
//! and replay (`POST /v1/events/{id}/replay`).

use http::StatusCode;
use lambda_http::{Body, Response};
use maud::html;
use serde_json::Value;

use super::layout::{self, Nav};
use super::{Ctx, html as page_html, query_string, redirect, safe_id};
use crate::http::error::ApiError;
use crate::http::query_param;

const STATUSES: [&str; 4] = ["RECEIVED", "PROCESSED", "DUPLICATE", "FAILED"];

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

pub async fn list(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let q = ctx.query();
    let status = query_param(&q, "status")
        .filter(|s| STATUSES.contains(s))
        .unwrap_or("");
    let cursor = query_param(&q, "cursor").unwrap_or("");
    let page = ctx
        .api(
            "GET",
            &format!(
                "/v1/events{}",
                query_string(&[("status", status), ("limit", "50"), ("cursor", cursor)])
            ),
            None,
        )
        .await?;
    let events = page["items"].as_array().cloned().unwrap_or_default();
    let notice = match query_param(&q, "done") {
        Some("replayed") => Some("Event queued again: it is processed within seconds."),
        _ => None,
    };
    let problem = query_param(&q, "refused").map(|r| match r {
        "processed" => "That event was processed already: edit its lead instead.",
        _ => "That event could not be replayed.",
    });
    let body = html! {
        (layout::notice(notice))
        @if let Some(p) = problem { div.banner.error role="alert" { (p) } }
        ul.tabs aria-label="Filter by status" {
            li { a href="/console/events" aria-current=[status.is_empty().then_some("page")] { "All" } }
            @for st in STATUSES {
                li { a href={ "/console/events?status=" (st) } aria-current=[(status == st).then_some("page")] { (st) } }
            }
        }
        @if events.is_empty() {
            (layout::empty(if status.is_empty() { "No events yet." } else { "No event with this status." }, html! {
                p { "Every request a key accepts, and every Meta lead, becomes an event here. Send one with the curl line on a "
                    a href="/console/keys" { "key" } "." }
            }))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Event" } th { "Status" } th { "Source" } th { "Lead" } th { "Received" } th { "Reason" } th { span.offscreen { "Actions" } } } }
                tbody {
                    @for e in &events {
                        @let st = s(e, "status");
                        tr {
                            td { code { (s(e, "id")) } }
                            td { (layout::badge(st)) }
                            td { (s(&e["source"], "type")) @if let Some(k) = e["source"]["keyId"].as_str() { br; a href={ "/console/keys/" (k) } { (k) } } }
                            td { @if let Some(l) = e["leadId"].as_str() { a href={ "/console/leads/" (l) } { (l) } } }
                            td { (layout::time(s(e, "receivedAt"))) }
                            td { @if let Some(r) = e["error"].as_str() { (r) } }
                            td {
                                @if st == "FAILED" || st == "RECEIVED" {
                                    (layout::action(ctx, &format!("/console/events/{}/replay", s(e, "id")), "Replay",
                                        Some("Queue this event again for processing?"), false))
                                }
                            }
                        }
                    }
                }
            } }
            (layout::pager("/console/events", &[("status", status)], page["nextCursor"].as_str()))
        }
    };
    Ok(page_html(
        StatusCode::OK,
        layout::page(ctx, "Events", Nav::Events, body),
    ))
}

pub async fn replay(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    match ctx
        .api("POST", &format!("/v1/events/{id}/replay"), None)
        .await
    {
        Ok(_) => Ok(redirect("/console/events?done=replayed")),
        Err(ApiError::Conflict(_)) => Ok(redirect("/console/events?refused=processed")),
        Err(e) => Err(e),
    }
}
