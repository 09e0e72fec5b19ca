//! Events: every inbound event by status, FAILED ones with their reason
//! (the list refreshes itself while open), one event with its submission
//! (secrets masked by the API) and provider metadata, and replay
//! (`POST /v1/events/{id}/replay`).

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
        (layout::live_status())
        // A status filter other than FAILED reads the items of up to five
        // pages of the listing (`events::list`): refreshed less often.
        div #events-live data-live=(if status.is_empty() || status == "FAILED" { "3000" } else { "15000" }) {
        @if events.is_empty() {
            (layout::empty(if status.is_empty() { "No events yet." } else if page["nextCursor"].is_string() { "No event with this status among these; older ones follow." } else { "No event with this status." }, html! {
                p { "Every request a key accepts, and every Meta lead, becomes an event here. Send one with the curl line on a "
                    a href="/console/keys" { "key" } "." }
            }))
            (layout::pager("/console/events", &[("status", status)], page["nextCursor"].as_str()))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Event" } th { "Status" } th { "Source" } th { "Lead" } th { "Received" } th { "Reason" } th { span.offscreen { "Actions" } } } }
                tbody {
                    @for e in &events {
                        @let st = s(e, "status");
                        tr {
                            td { a href={ "/console/events/" (s(e, "id")) } { code { (s(e, "id")) } } }
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

/// One event: what arrived (the submission as kept, secrets masked by
/// `GET /v1/events/{id}`), who sent it, what the provider said, and what
/// became of it.
pub async fn show(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let e = ctx.api("GET", &format!("/v1/events/{id}"), None).await?;
    let st = s(&e, "status");
    let provider = e["provider"].as_object().cloned().unwrap_or_default();
    let request = &e["request"];
    let headers: Vec<(String, String)> = request["headers"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .filter_map(|h| Some((h[0].as_str()?.to_owned(), h[1].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let submission = match &e["submission"] {
        Value::Null => None,
        v => serde_json::to_string_pretty(v).ok(),
    };
    let body = html! {
        dl.facts #event-facts {
            dt { "Event" } dd { code { (s(&e, "id")) } }
            dt { "Status" } dd #event-status { (layout::badge(st)) }
            dt { "Source" } dd { (s(&e["source"], "type")) @if let Some(k) = e["source"]["keyId"].as_str() { " · " a href={ "/console/keys/" (k) } { (k) } } }
            dt { "Lead" } dd { @if let Some(l) = e["leadId"].as_str() { a href={ "/console/leads/" (l) } { (l) } } @else { "—" } }
            dt { "Received" } dd { (layout::time(s(&e, "receivedAt"))) }
            dt { "Processed" } dd { (layout::time_opt(e["processedAt"].as_str())) }
            @if let Some(r) = e["error"].as_str() { dt { "Reason" } dd { (r) } }
        }
        @if st == "FAILED" || st == "RECEIVED" {
            div.actions { (layout::action(ctx, &format!("/console/events/{id}/replay"), "Replay",
                Some("Queue this event again for processing?"), false)) }
        }
        h2 { "Provider" }
        @if provider.is_empty() {
            p.muted { "No provider metadata: a plain webhook." }
        } @else {
            dl.facts #provider {
                @for (k, v) in &provider {
                    dt { (k) } dd { @match v { Value::String(t) => (t), other => (other.to_string()) } }
                }
            }
        }
        h2 { "Request" }
        dl.facts #request {
            dt { "Address" } dd { (request["ip"].as_str().unwrap_or("—")) }
            dt { "User agent" } dd { (request["userAgent"].as_str().unwrap_or("—")) }
            dt { "Origin" } dd { (request["origin"].as_str().unwrap_or("—")) }
        }
        @if !headers.is_empty() {
            div.table-wrap { table #request-headers {
                thead { tr { th { "Header" } th { "Value" } } }
                tbody { @for (k, v) in &headers { tr { td { code { (k) } } td { code { (v) } } } } }
            } }
        }
        h2 { "Submission" }
        p.muted { "As kept after cleaning; tokens, keys, secrets and signatures are masked." }
        @match &submission {
            Some(text) => pre #submission { (text) },
            None => p.muted { "Not kept (erased, or expired with the workspace's retention)." },
        }
    };
    Ok(page_html(
        StatusCode::OK,
        layout::page(ctx, "Event", Nav::Events, body),
    ))
}
