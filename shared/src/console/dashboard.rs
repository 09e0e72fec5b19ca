//! The console's home: leads per day by source, each destination's
//! delivery success and latency over 7 and 30 days, and the `FAILED`
//! events and dead deliveries waiting for someone, linking to those lists.
//!
//! What it reads, bounded: the newest leads and the newest deliveries, a
//! page of 200 at a time (each page one Query on a listing index), until
//! 30 days back or [`MAX_PAGES`] pages, whichever comes first; one page of
//! `FAILED` events; one page of keys and one of destinations for their
//! names. So at most 2 × 5 + 3 = 13 queries and 2,200 items whatever the
//! workspace holds; a workspace with more than 1,000 leads or deliveries
//! in 30 days is shown on its newest 1,000 and the page says so.
//! The figures are worked out by [`crate::rules::dashboard`].

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Response};
use maud::{Markup, html};

use super::layout::{self, Nav};
use super::{Ctx, charts, html as page_html};
use crate::app::Scope;
use crate::aws::pagination::PageRequest;
use crate::error::DataError;
use crate::http::error::ApiError;
use crate::model::deliveries::{self, Delivery};
use crate::model::events::{self, EventStatus};
use crate::model::keys;
use crate::model::leads::{self, LeadFilter, LeadRecord};
use crate::model::subscriptions;
use crate::rules::clock;
use crate::rules::dashboard::{self as figures, DeliveryPoint, LeadPoint};

/// Pages of 200 read of each listing, at most.
pub const MAX_PAGES: usize = 5;
const PAGE: u32 = 200;
const DAY_MS: i64 = 86_400_000;
const WINDOW_DAYS: i64 = 30;

/// Rows read newest first until `since_ms` or the page bound; true when
/// the bound cut the window short.
async fn newest<T, F, Fut>(
    since_ms: i64,
    at: impl Fn(&T) -> &str,
    read: F,
) -> Result<(Vec<T>, bool), DataError>
where
    F: Fn(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<crate::aws::pagination::Page<T>, DataError>>,
{
    let mut out = Vec::new();
    let mut req = PageRequest {
        limit: PAGE,
        cursor: None,
    };
    for _ in 0..MAX_PAGES {
        let page = read(req).await?;
        let old = page
            .items
            .last()
            .and_then(|x| clock::parse_rfc3339(at(x)))
            .is_some_and(|ms| ms < since_ms);
        out.extend(page.items);
        match page.next_cursor {
            Some(c) if !old => {
                req = PageRequest {
                    limit: PAGE,
                    cursor: Some(c),
                }
            }
            _ => return Ok((out, false)),
        }
    }
    Ok((out, true))
}

struct Read {
    leads: Vec<LeadRecord>,
    leads_cut: bool,
    deliveries: Vec<Delivery>,
    deliveries_cut: bool,
    failed: usize,
    failed_more: bool,
    key_names: BTreeMap<String, String>,
    destination_kinds: BTreeMap<String, String>,
}

async fn read(scope: &Scope, since_ms: i64) -> Result<Read, DataError> {
    let first = PageRequest {
        limit: PAGE,
        cursor: None,
    };
    let filter = LeadFilter::default();
    let (leads, deliveries, failed, keys, subs) = tokio::try_join!(
        newest(
            since_ms,
            |l: &LeadRecord| l.created_at.as_str(),
            |p| {
                let filter = &filter;
                async move { leads::list(scope, filter, &p).await }
            }
        ),
        newest(
            since_ms,
            |d: &Delivery| d.created_at.as_str(),
            |p| async move { deliveries::list(scope, None, None, &p).await }
        ),
        events::list(scope, Some(EventStatus::Failed), &first),
        keys::list(scope, &first),
        subscriptions::list(scope, &first),
    )?;
    Ok(Read {
        leads: leads.0,
        leads_cut: leads.1,
        deliveries: deliveries.0,
        deliveries_cut: deliveries.1,
        failed: failed.items.len(),
        failed_more: failed.next_cursor.is_some(),
        key_names: keys
            .items
            .into_iter()
            .map(|k| (k.id.to_string(), k.name))
            .collect(),
        destination_kinds: subs
            .items
            .into_iter()
            .map(|s| (s.id.to_string(), s.kind.unwrap_or_else(|| "webhook".into())))
            .collect(),
    })
}

/// A lead's source as the chart names it: its key's name, or the provider.
fn source_label(l: &LeadRecord, key_names: &BTreeMap<String, String>) -> String {
    match l.source.key_id() {
        Some(k) => key_names
            .get(k)
            .filter(|n| !n.is_empty())
            .cloned()
            .unwrap_or_else(|| k.to_owned()),
        None => l.source.type_name().to_owned(),
    }
}

pub async fn show(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let now = clock::now_ms();
    let r = read(&ctx.caller.scope, now - WINDOW_DAYS * DAY_MS).await?;
    let labels: Vec<String> = r
        .leads
        .iter()
        .map(|l| source_label(l, &r.key_names))
        .collect();
    let lead_points: Vec<LeadPoint<'_>> = r
        .leads
        .iter()
        .zip(&labels)
        .map(|(l, s)| LeadPoint {
            created_at: &l.created_at,
            source: s,
        })
        .collect();
    let delivery_points: Vec<DeliveryPoint<'_>> = r
        .deliveries
        .iter()
        .filter_map(|d| {
            Some(DeliveryPoint {
                destination: d.subscription_id.as_str(),
                status: d.status.as_str(),
                created_at_ms: clock::parse_rfc3339(&d.created_at)?,
                updated_at_ms: clock::parse_rfc3339(&d.updated_at)?,
            })
        })
        .collect();
    let week = figures::leads_per_day(&lead_points, now, 7);
    let month = figures::leads_per_day(&lead_points, now, WINDOW_DAYS as usize);
    let d7 = figures::destination_stats(&delivery_points, now, 7);
    let d30 = figures::destination_stats(&delivery_points, now, WINDOW_DAYS);
    let dead = delivery_points
        .iter()
        .filter(|d| d.status == "dead")
        .count();
    let body = html! {
        section.tiles aria-label="Needs attention" {
            a.tile.bad[r.failed > 0] #failed-events href="/console/events?status=FAILED" {
                strong { (r.failed) @if r.failed_more { "+" } }
                " FAILED events"
            }
            a.tile.bad[dead > 0] #dead-deliveries href="/console/deliveries?status=dead" {
                strong { (dead) @if r.deliveries_cut { "+" } }
                " dead deliveries (30 days)"
            }
            a.tile href="/console/leads" {
                strong #leads-30 { (month.total()) @if r.leads_cut { "+" } }
                " leads (30 days)"
            }
        }
        section aria-labelledby="leads-h" {
            h2 #leads-h { "Leads per day by source" }
            h3 { "Last 7 days" }
            (charts::leads_per_day("leads-7", &week))
            h3 { "Last 30 days" }
            (charts::leads_per_day("leads-30d", &month))
            @if r.leads_cut {
                p.muted { "Drawn from the newest " (r.leads.len()) " leads: the dashboard reads at most "
                    (MAX_PAGES * PAGE as usize) " of each kind." }
            }
        }
        section aria-labelledby="dest-h" {
            h2 #dest-h { "Deliveries by destination" }
            p.muted { "Success is delivered out of finished (delivered or dead); latency is from the lead to the receiver's 2xx, retries included." }
            @for (label, rows) in [("Last 7 days", &d7), ("Last 30 days", &d30)] {
                h3 { (label) }
                @if rows.is_empty() {
                    p.muted { "No deliveries." }
                } @else {
                    (destination_table(rows, &r.destination_kinds))
                }
            }
        }
    };
    Ok(page_html(
        StatusCode::OK,
        layout::page(ctx, "Overview", Nav::Overview, body),
    ))
}

fn destination_table(
    rows: &[figures::DestinationStats],
    kinds: &BTreeMap<String, String>,
) -> Markup {
    html! {
        div.table-wrap { table.destinations-stats {
            thead { tr {
                th { "Destination" } th { "Success" } th.num { "Delivered" } th.num { "Dead" }
                th.num { "Pending" } th.num { "Latency p50" } th.num { "p95" }
            } }
            tbody {
                @for s in rows {
                    tr {
                        td {
                            a href={ "/console/destinations/" (s.destination) } { (s.destination) }
                            @if let Some(k) = kinds.get(&s.destination) { " " span.muted { (k) } }
                        }
                        td { (charts::success_bar(s)) }
                        td.num { (s.delivered) }
                        td.num {
                            @if s.dead > 0 {
                                a href={ "/console/deliveries?status=dead&subscriptionId=" (s.destination) } { (s.dead) }
                            } @else { "0" }
                        }
                        td.num { (s.pending) }
                        td.num { (s.p50_ms.map(charts::duration).unwrap_or_else(|| "—".into())) }
                        td.num { (s.p95_ms.map(charts::duration).unwrap_or_else(|| "—".into())) }
                    }
                }
            }
        } }
    }
}
