//! `/v1/leads`: search, read and edit leads. An edit records
//! `lead.updated` with what changed and fans it out at once.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use super::input::{JsonInput, non_empty, page_request};
use crate::app::Scope;
use crate::aws::queue::LeadsMessage;
use crate::http::error::ApiError;
use crate::http::{self as h, routes::Matched};
use crate::model::history::{HistoryEntry, LeadEventType};
use crate::model::leads::{self, LeadFilter, LeadRecord, LeadView};
use crate::process::fan_out::fan_out;
use crate::rules::clock;
use crate::rules::ids::{CauseId, ChangeId};
use crate::rules::inbound::{fields::clean_tags, normalise};

pub async fn list(scope: &Scope, query: &[(String, String)]) -> Result<Response<Body>, ApiError> {
    let filter = filter(scope, query)?;
    let page = leads::list(scope, &filter, &page_request(query)?).await?;
    Ok(h::json(StatusCode::OK, &page.map(LeadView::from)))
}

pub async fn get(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    let lead = leads::get(scope, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    Ok(h::json(StatusCode::OK, &LeadView::from(lead)))
}

/// `PATCH /v1/leads/{id}`: status, tags, custom fields; fires `lead.updated`.
pub async fn update(scope: &Scope, req: &Request, m: &Matched) -> Result<Response<Body>, ApiError> {
    let mut input = JsonInput::parse(req)?;
    input.allow_only(&["status", "tags", "fields"]);
    let status = input.string("status");
    if let Some(s) = &status
        && (s.is_empty() || s.chars().count() > 64)
    {
        input.issue("status", "must be 1 to 64 characters");
    }
    let tags = input.string_list("tags");
    let mut issues = Vec::new();
    let tags = tags.map(|t| clean_tags(t, "tags", &mut issues));
    for i in issues {
        input.issue(i.field, i.issue);
    }
    let fields = match input.raw("fields").cloned() {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Object(map)) => Some(map),
        Some(_) => {
            input.issue("fields", "must be an object (a null value removes a field)");
            None
        }
    };
    input.finish()?;
    let lead = edit(scope, m.param("id"), status, tags, fields).await?;
    Ok(h::json(StatusCode::OK, &LeadView::from(lead)))
}

/// Edits a lead (status, tags, custom fields) and records `lead.updated`
/// with what changed; its deliveries are fanned out at once. No change, no
/// event.
pub async fn edit(
    scope: &Scope,
    id: &str,
    status: Option<String>,
    tags: Option<Vec<String>>,
    fields: Option<serde_json::Map<String, Value>>,
) -> Result<LeadRecord, ApiError> {
    for _ in 0..5 {
        let mut lead = leads::get(scope, id)
            .await?
            .ok_or(ApiError::NotFound("lead"))?;
        let previous_version = lead.version;
        let mut changes = serde_json::Map::new();
        if let Some(s) = &status
            && *s != lead.status
        {
            changes.insert(
                "status".into(),
                serde_json::json!({"from": lead.status, "to": s}),
            );
            lead.set_status(s);
        }
        if let Some(t) = &tags
            && *t != lead.tags
        {
            changes.insert(
                "tags".into(),
                serde_json::json!({"from": lead.tags, "to": t}),
            );
            lead.tags = t.clone();
        }
        if let Some(f) = &fields {
            let mut custom = lead.custom_fields();
            let mut field_changes = serde_json::Map::new();
            for (k, v) in f {
                let before = custom.get(k).cloned().unwrap_or(Value::Null);
                if before == *v {
                    continue;
                }
                field_changes.insert(k.clone(), serde_json::json!({"from": before, "to": v}));
                if v.is_null() {
                    custom.remove(k);
                } else {
                    custom.insert(k.clone(), v.clone());
                }
            }
            if !field_changes.is_empty() {
                changes.insert("fields".into(), Value::Object(field_changes));
                lead.custom_fields = serde_json::to_string(&custom).unwrap_or_else(|_| "{}".into());
            }
        }
        if changes.is_empty() {
            return Ok(lead);
        }
        let now = clock::now_rfc3339();
        lead.updated_at = now.clone();
        lead.version += 1;
        let cause = CauseId::from(&ChangeId::generate());
        let mut entry =
            HistoryEntry::new(scope.ws(), &lead.id, LeadEventType::Updated, &cause, &now);
        entry.changes = Some(Value::Object(changes).to_string());
        if crate::model::history::save_edit(scope, &lead, previous_version, &entry).await? {
            if let Err(e) = fan_out(scope, &lead.id, &cause).await {
                // The edit stands; `process` makes its deliveries, retrying.
                tracing::warn!(error = %e, lead_id = %lead.id, "lead.updated fan-out failed; queued for process");
                let retry = LeadsMessage::FanOut {
                    workspace: scope.ws().clone(),
                    lead_id: lead.id.clone(),
                    cause_id: cause.clone(),
                };
                if let Err(e) = scope
                    .queue
                    .send(&scope.config.leads_queue_url, &retry)
                    .await
                {
                    tracing::error!(error = %e, lead_id = %lead.id, cause_id = %cause,
                        "lead.updated deliveries not made: fan-out and its queueing failed");
                }
            }
            return Ok(lead);
        }
    }
    Err(ApiError::Conflict("the lead kept changing; retry".into()))
}

pub fn filter(scope: &Scope, query: &[(String, String)]) -> Result<LeadFilter, ApiError> {
    let non_empty = |name: &str| non_empty(query, name);
    let email = non_empty("email")
        .map(|e| normalise::email(e).map_err(|issue| ApiError::invalid("email", issue)))
        .transpose()?;
    let phone = non_empty("phone")
        .map(|p| {
            normalise::phone(p, scope.config.default_region)
                .map_err(|issue| ApiError::invalid("phone", issue))
        })
        .transpose()?;
    Ok(LeadFilter {
        status: non_empty("status").map(str::to_owned),
        tag: non_empty("tag").map(str::to_owned),
        email,
        phone,
    })
}

/// `POST /v1/leads/{id}/erase`: the person's data goes from everything
/// that holds it (see [`crate::model::erasure`]); subscriptions that ask
/// for `lead.deleted` get one, carrying the lead's id and nothing personal.
/// Sent before anything is erased: if sending fails nothing is gone and
/// the call can be repeated.
pub async fn erase(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    use crate::model::{deliveries, erasure, history, subscriptions};
    let lead = leads::get(scope, m.param("id"))
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    let entries = history::history(scope, lead.id.as_str()).await?;
    // The submissions merged into the lead are the person's too (a merge
    // that did not re-engage has no history entry: its merge names it).
    let merged = crate::model::merges::of_lead(scope, lead.id.as_str()).await?;
    let subs = subscriptions::all(scope).await?;
    let mut event_ids: Vec<String> = entries
        .iter()
        .map(|e| e.cause_id.as_str().to_owned())
        .filter(|c| c.starts_with("evt_"))
        .collect();
    for m in merged {
        let id = m.event_id.to_string();
        if !event_ids.contains(&id) {
            event_ids.push(id);
        }
    }
    let delivery_ids: Vec<String> = entries
        .iter()
        .flat_map(|e| subs.iter().map(|s| deliveries::id_for(e, &s.id).into()))
        .collect();
    // The announcement: a tombstone of the lead, its id and nothing else.
    let now = clock::now_rfc3339();
    let cause = CauseId::from(&ChangeId::generate());
    let tombstone = leads::tombstone(&lead, &now);
    let entry = HistoryEntry::new(scope.ws(), &lead.id, LeadEventType::Deleted, &cause, &now);
    crate::process::fan_out::fan_out_entries(scope, &tombstone, &[entry]).await?;
    let erased = erasure::erase_lead(scope, &lead, &event_ids, &delivery_ids).await?;
    tracing::info!(lead_id = %lead.id, ?erased, "lead erased");
    Ok(h::json(
        StatusCode::OK,
        &serde_json::json!({"id": lead.id, "erased": erased, "erasedAt": now}),
    ))
}
