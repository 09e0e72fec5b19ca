//! Leads: search by email, phone, tag or status; one lead with its
//! history (events and deliveries); edit status, tags and custom fields
//! (which fires `lead.updated`); CSV export.

use http::StatusCode;
use lambda_http::{Body, Response};
use maud::html;
use serde_json::{Map, Value, json};

use super::layout::{self, Nav};
use super::lead_history;
use super::{Ctx, Problems, html as page_html, query_string, redirect, safe_id, split_list};
use crate::http::error::ApiError;
use crate::http::query_param;
use crate::model::history;

const FILTERS: [(&str, &str); 4] = [
    ("email", "Email"),
    ("phone", "Phone"),
    ("tag", "Tag"),
    ("status", "Status"),
];

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

fn display_name(l: &Value) -> String {
    let n = s(l, "name");
    if !n.is_empty() {
        return n.to_owned();
    }
    format!("{} {}", s(l, "firstName"), s(l, "lastName"))
        .trim()
        .to_owned()
}

pub async fn list(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let q = ctx.query();
    let get = |k: &str| query_param(&q, k).unwrap_or("").trim();
    let pairs: Vec<(&str, &str)> = FILTERS.iter().map(|(k, _)| (*k, get(k))).collect();
    let mut api_pairs = pairs.clone();
    api_pairs.push(("limit", "50"));
    api_pairs.push(("cursor", get("cursor")));
    let searching = pairs.iter().any(|(_, v)| !v.is_empty());
    let (leads, next, problems) = match ctx
        .api(
            "GET",
            &format!("/v1/leads{}", query_string(&api_pairs)),
            None,
        )
        .await
    {
        Ok(page) => (
            page["items"].as_array().cloned().unwrap_or_default(),
            page["nextCursor"].as_str().map(str::to_owned),
            Problems::none(),
        ),
        Err(e @ ApiError::Internal(_)) => return Err(e),
        Err(e) => (vec![], None, Problems::from_api(&e, "email")),
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let export = format!("/console/leads/export.csv{}", query_string(&pairs));
    let erased = (get("done") == "erased")
        .then_some("The person was erased: no listing, search or export shows them any more.");
    let body = html! {
        (layout::notice(erased))
        form.search method="get" action="/console/leads" role="search" {
            @for (k, label) in FILTERS {
                (layout::field(k, label, get(k), &problems, ""))
            }
            div.actions { button type="submit" { "Search" } a.button.secondary href="/console/leads" { "Clear" } }
        }
        (layout::problems_banner(&problems))
        p { a href=(export) download="leads.csv" { "Export these leads as CSV" } }
        @if leads.is_empty() {
            @if searching {
                (layout::empty("No lead matches.", html! { p { "Emails and phones match exactly (any spelling of the same number); try one filter at a time." } }))
            } @else {
                (layout::empty("No leads yet.", html! {
                    p { "Leads appear here as soon as a form posts to a key. Open " a href="/console/keys" { "Keys" } ", copy the curl line of a key, and send one." }
                }))
            }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Name" } th { "Email" } th { "Phone" } th { "Status" } th { "Tags" } th { "Last seen" } } }
                tbody {
                    @for l in &leads {
                        tr {
                            td { a href={ "/console/leads/" (s(l, "id")) } { @let n = display_name(l); @if n.is_empty() { "(no name)" } @else { (n) } } }
                            td { (s(l, "email")) }
                            td { (s(l, "phone")) }
                            td { (s(l, "status")) }
                            td { (l["tags"].as_array().map(|t| t.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()) }
                            td { (layout::time(s(l, "lastSeenAt"))) }
                        }
                    }
                }
            } }
            (layout::pager("/console/leads", &pairs, next.as_deref()))
        }
    };
    Ok(page_html(
        status,
        layout::page(ctx, "Leads", Nav::Leads, body),
    ))
}

pub async fn export(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let q = ctx.query();
    let pairs: Vec<(&str, &str)> = FILTERS
        .iter()
        .map(|(k, _)| (*k, query_param(&q, k).unwrap_or("")))
        .collect();
    let mut resp = ctx
        .api_raw(
            "GET",
            &format!("/v1/leads/export{}", query_string(&pairs)),
            None,
        )
        .await?;
    resp.headers_mut().insert(
        http::header::CONTENT_DISPOSITION,
        http::HeaderValue::from_static("attachment; filename=\"leads.csv\""),
    );
    Ok(resp)
}

async fn render(
    ctx: &Ctx<'_>,
    id: &str,
    problems: &Problems,
    notice: Option<&str>,
    status: StatusCode,
) -> Result<Response<Body>, ApiError> {
    let lead = ctx.api("GET", &format!("/v1/leads/{id}"), None).await?;
    let (entries, merges) = tokio::join!(
        history::history(&ctx.caller.scope, id),
        crate::model::merges::of_lead(&ctx.caller.scope, id),
    );
    let history_rows = lead_history::rows(&entries?, &merges?);
    // Deliveries have no index by lead: the recent ones are searched.
    let deliveries: Vec<Value> = ctx
        .api("GET", "/v1/deliveries?limit=200", None)
        .await
        .ok()
        .and_then(|p| p["items"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d["leadId"].as_str() == Some(id))
        .collect();
    let custom = lead["customFields"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let custom_text: String = custom
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}: {s}"),
            other => format!("{k}: {other}"),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let tags = lead["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let title = {
        let n = display_name(&lead);
        if n.is_empty() {
            "Lead".to_owned()
        } else {
            format!("Lead: {n}")
        }
    };
    let body = html! {
        (layout::notice(notice))
        dl.facts {
            dt { "Email" } dd { (s(&lead, "email")) }
            dt { "Phone" } dd { (s(&lead, "phone")) }
            dt { "Status" } dd { (s(&lead, "status")) }
            dt { "Tags" } dd { (tags) }
            dt { "Source" } dd { (s(&lead["source"], "type")) @if let Some(k) = lead["source"]["keyId"].as_str() { " · " a href={ "/console/keys/" (k) } { (k) } } }
            dt { "Created" } dd { (layout::time(s(&lead, "createdAt"))) }
            dt { "Last seen" } dd { (layout::time(s(&lead, "lastSeenAt"))) }
            @for (k, v) in &custom {
                dt { (k) } dd { @match v { Value::String(s) => (s), other => (other.to_string()) } }
            }
        }
        h2 { "History" }
        (lead_history::table(&history_rows))
        h2 { "Deliveries" }
        @if deliveries.is_empty() {
            p.muted { "None among the recent deliveries. Add a " a href="/console/destinations" { "destination" } " to send leads on." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Delivery" } th { "Event" } th { "Status" } th.num { "Attempts" } } }
                tbody {
                    @for d in &deliveries {
                        tr {
                            td { a href={ "/console/deliveries/" (s(d, "id")) } { (s(d, "id")) } }
                            td { (s(d, "eventType")) }
                            td { (layout::badge(s(d, "status"))) }
                            td.num { (d["attempts"].as_array().map(Vec::len).unwrap_or(0)) }
                        }
                    }
                }
            } }
        }
        h2 { "Edit" }
        p.muted { "Saving a change sends lead.updated to the destinations that want it." }
        form method="post" action={ "/console/leads/" (id) } {
            (layout::csrf(ctx))
            (layout::problems_banner(problems))
            (layout::field("status", "Status", s(&lead, "status"), problems, ""))
            (layout::field("tags", "Tags", &tags, problems, "Comma-separated."))
            (layout::textarea("fields", "Custom fields", &custom_text, problems,
                "One “name: value” a line. Remove a line to remove the field."))
            button type="submit" { "Save lead" }
        }
        @if !ctx.caller.is_viewer() {
            h2 { "Erase" }
            p.muted { "Erasing removes this person from Leadpipe (GDPR Art. 17): the lead, its history, the email and phone "
                "it is found by, the submissions of its events and the bodies and attempt logs of its deliveries. "
                "Ids and statuses stay, without personal data. Destinations that ask for lead.deleted are told. "
                "This cannot be undone." }
            (layout::action(ctx, &format!("/console/leads/{id}/erase"), "Erase this person",
                Some("Erase this person's data everywhere? This cannot be undone."), true))
        }
    };
    Ok(page_html(
        status,
        layout::page(ctx, &title, Nav::Leads, body),
    ))
}

pub async fn show(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let q = ctx.query();
    let notice = (query_param(&q, "done") == Some("saved"))
        .then_some("Lead saved; lead.updated was sent to the destinations that want it.");
    render(ctx, id, &Problems::none(), notice, StatusCode::OK).await
}

pub async fn edit(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    let form = ctx.form();
    let lead = ctx.api("GET", &format!("/v1/leads/{id}"), None).await?;
    // Custom fields: the lines given; a field no longer listed is removed.
    let mut fields = Map::new();
    let mut issues = Vec::new();
    for line in form.get("fields").lines().filter(|l| !l.trim().is_empty()) {
        match line.split_once(':') {
            Some((k, v)) if !k.trim().is_empty() => {
                fields.insert(k.trim().to_owned(), json!(v.trim()));
            }
            _ => issues.push(crate::error::FieldIssue::new(
                "fields",
                "lines are “name: value”",
            )),
        }
    }
    if let Some(old) = lead["customFields"].as_object() {
        for (k, v) in old {
            match fields.get(k) {
                None => {
                    fields.insert(k.clone(), Value::Null);
                }
                // Unchanged non-string values keep their type.
                Some(Value::String(new))
                    if !v.is_string() && new.as_str() == v.to_string().as_str() =>
                {
                    fields.insert(k.clone(), v.clone());
                }
                _ => {}
            }
        }
    }
    if !issues.is_empty() {
        let p = Problems {
            fields: issues,
            message: Some("Some fields need attention.".into()),
        };
        return render(ctx, id, &p, None, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
    let body = json!({
        "status": form.get("status"),
        "tags": split_list(form.get("tags")),
        "fields": fields,
    });
    match ctx
        .api("PATCH", &format!("/v1/leads/{id}"), Some(body))
        .await
    {
        Ok(_) => Ok(redirect(&format!("/console/leads/{id}?done=saved"))),
        Err(e @ (ApiError::Internal(_) | ApiError::NotFound(_))) => Err(e),
        Err(e) => {
            let p = Problems::from_api(&e, "status");
            render(ctx, id, &p, None, e.status()).await
        }
    }
}

/// `POST /console/leads/{id}/erase`.
pub async fn erase(ctx: &Ctx<'_>) -> Result<Response<Body>, ApiError> {
    let id = safe_id(ctx.param("id"))?;
    ctx.api("POST", &format!("/v1/leads/{id}/erase"), None)
        .await?;
    Ok(super::redirect("/console/leads?done=erased"))
}
