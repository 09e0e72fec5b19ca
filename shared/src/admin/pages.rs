//! `/v1/meta/pages`: the Meta pages a workspace receives leads from. The
//! page access token is sealed on save and never shown again (a list shows
//! whether one is set).

use std::collections::BTreeMap;

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use super::input::{JsonInput, page_request};
use crate::app::Scope;
use crate::http::error::ApiError;
use crate::http::{self as h, routes::Matched};
use crate::model::keys;
use crate::model::pages::{self, MetaPage, Registration};

/// At most this many forms mapped to keys on one page.
const MAX_FORMS: usize = 200;

fn view(p: &MetaPage) -> Value {
    json!({
        "pageId": p.page_id,
        "name": p.name,
        "accessToken": "set",
        "formKeys": p.form_keys,
        "health": health(p),
        "createdAt": p.created_at,
        "updatedAt": p.updated_at,
    })
}

/// The sweep's last finding about the page (see [`crate::sweep::check_pages`]).
pub fn health(p: &MetaPage) -> Value {
    let checked_at = p.checked_at_ms.map(crate::rules::clock::rfc3339);
    match (&p.failing_reason, &p.failing_since) {
        (Some(reason), since) => json!({
            "state": "failing", "reason": reason, "since": since, "checkedAt": checked_at,
        }),
        (None, _) if p.healthy_at.is_some() => json!({"state": "healthy", "checkedAt": checked_at}),
        (None, _) => json!({"state": "unchecked"}),
    }
}

pub async fn list(scope: &Scope, query: &[(String, String)]) -> Result<Response<Body>, ApiError> {
    let page = pages::list(scope, &page_request(query)?).await?;
    let items: Vec<Value> = page.items.iter().map(view).collect();
    Ok(h::json(
        StatusCode::OK,
        &json!({"items": items, "nextCursor": page.next_cursor}),
    ))
}

/// `PUT /v1/meta/pages/{pageId}` `{"accessToken", "name"?, "formKeys"?}`:
/// registers the page for this workspace, or updates it (the token may
/// then be left out to keep it).
pub async fn put(scope: &Scope, req: &Request, m: &Matched) -> Result<Response<Body>, ApiError> {
    let page_id = m.param("pageId");
    if !pages::valid_id(page_id) {
        return Err(ApiError::invalid(
            "pageId",
            "must be a Meta page id: digits only, at most 64",
        ));
    }
    let mut input = JsonInput::parse(req)?;
    input.allow_only(&["accessToken", "name", "formKeys"]);
    let access_token = input.string("accessToken");
    if let Some(t) = &access_token
        && (t.is_empty() || t.len() > 4096)
    {
        input.issue("accessToken", "must be 1 to 4096 characters");
    }
    let name = input.string("name").unwrap_or_default();
    if name.chars().count() > 200 {
        input.issue("name", "is longer than 200 characters");
    }
    let mut form_keys = BTreeMap::new();
    match input.raw("formKeys").cloned() {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) if map.len() <= MAX_FORMS => {
            for (form, key) in map {
                match key.as_str() {
                    Some(k) if pages::valid_id(&form) => {
                        if keys::get(scope, k).await?.is_none() {
                            input.issue(
                                format!("formKeys.{form}"),
                                "is not a key of this workspace",
                            );
                        }
                        form_keys.insert(form, k.to_owned());
                    }
                    _ => input.issue(
                        "formKeys",
                        "must map form ids (digits) to key ids of this workspace",
                    ),
                }
            }
        }
        Some(_) => input.issue(
            "formKeys",
            format!("must be an object of at most {MAX_FORMS} form ids to key ids"),
        ),
    }
    input.finish()?;
    let existed = pages::get(scope, page_id).await?.is_some();
    let page = pages::put(
        scope,
        page_id,
        Registration {
            name,
            access_token,
            form_keys,
        },
    )
    .await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(h::json(status, &view(&page)))
}

pub async fn delete(scope: &Scope, m: &Matched) -> Result<Response<Body>, ApiError> {
    pages::delete(scope, m.param("pageId")).await?;
    Ok(h::empty(StatusCode::NO_CONTENT))
}
