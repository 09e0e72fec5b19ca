//! `/v1/workspaces` (the root's), `/v1/workspace` (the caller's own),
//! `/v1/workspaces/{id}/tokens` and `/v1/audit`.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::input::{JsonInput, page_request};
use crate::app::{App, Scope};
use crate::aws::pagination::Page;
use crate::http::error::ApiError;
use crate::http::{self as h, routes::Matched};
use crate::model::audit::{self, AuditEntry};
use crate::model::tokens::{self, Role, Token};
use crate::model::workspaces::{self, MAX_NAME, MAX_RETENTION_DAYS, Workspace, WorkspaceChanges};
use crate::model::{erasure, workspaces as ws_model};
use crate::rules::ids::WorkspaceId;
use crate::rules::rate;

/// A workspace as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceView {
    pub id: WorkspaceId,
    pub name: String,
    pub retention_days: u32,
    /// The workspace's own budget; `null`: the deployment's default.
    pub rate_limit_per_minute: Option<u32>,
    pub created_at: Option<String>,
}

impl From<Workspace> for WorkspaceView {
    fn from(w: Workspace) -> Self {
        WorkspaceView {
            id: w.id,
            name: w.name,
            retention_days: w.retention_days,
            rate_limit_per_minute: w.rate_limit_per_minute,
            created_at: w.created_at,
        }
    }
}

fn changes(mut input: JsonInput, creating: bool) -> Result<WorkspaceChanges, ApiError> {
    input.allow_only(&["name", "retentionDays", "rateLimitPerMinute"]);
    let name = input.string("name");
    match &name {
        None if creating => input.issue("name", "is required"),
        Some(n) if n.is_empty() => input.issue("name", "must not be empty"),
        Some(n) if n.chars().count() > MAX_NAME => {
            input.issue("name", format!("is longer than {MAX_NAME} characters"))
        }
        _ => {}
    }
    let retention = input.raw("retentionDays").cloned().map(|v| {
        v.as_u64()
            .filter(|d| (1..=u64::from(MAX_RETENTION_DAYS)).contains(d))
            .map(|d| d as u32)
    });
    let retention_days = match retention {
        Some(Some(d)) => Some(d),
        Some(None) => {
            input.issue(
                "retentionDays",
                format!("must be a whole number of days from 1 to {MAX_RETENTION_DAYS}"),
            );
            None
        }
        None => None,
    };
    let limit = input.raw("rateLimitPerMinute").cloned().map(|v| match v {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .ok_or_else(|| rate::LIMIT_RULE.to_owned())
            .and_then(rate::check_limit)
            .map(Some),
    });
    let rate_limit_per_minute = match limit {
        Some(Ok(l)) => Some(l),
        Some(Err(issue)) => {
            input.issue("rateLimitPerMinute", issue);
            None
        }
        None => None,
    };
    input.finish()?;
    Ok(WorkspaceChanges {
        name,
        retention_days,
        rate_limit_per_minute,
    })
}

/// A workspace id from the path, as [`WorkspaceId`]: malformed is not found.
fn path_ws(m: &Matched) -> Result<WorkspaceId, ApiError> {
    WorkspaceId::parse(m.param("id")).ok_or(ApiError::NotFound("workspace"))
}

async fn existing(app: &App, m: &Matched) -> Result<Workspace, ApiError> {
    let id = path_ws(m)?;
    workspaces::get(app, &id)
        .await?
        .ok_or(ApiError::NotFound("workspace"))
}

pub async fn create(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let changes = changes(JsonInput::parse(req)?, true)?;
    let ws = workspaces::create(app, changes).await?;
    tracing::info!(workspace = %ws.id, "workspace created");
    Ok(h::json(StatusCode::CREATED, &WorkspaceView::from(ws)))
}

pub async fn list(app: &App, query: &[(String, String)]) -> Result<Response<Body>, ApiError> {
    let page = workspaces::list(app, &page_request(query)?).await?;
    Ok(h::json(
        StatusCode::OK,
        &Page {
            items: page
                .items
                .into_iter()
                .map(WorkspaceView::from)
                .collect::<Vec<_>>(),
            next_cursor: page.next_cursor,
        },
    ))
}

pub async fn get(app: &App, m: &Matched) -> Result<Response<Body>, ApiError> {
    let ws = existing(app, m).await?;
    Ok(h::json(StatusCode::OK, &WorkspaceView::from(ws)))
}

pub async fn current(scope: &Scope) -> Result<Response<Body>, ApiError> {
    let ws = workspaces::get(scope.app(), scope.ws())
        .await?
        .ok_or(ApiError::NotFound("workspace"))?;
    Ok(h::json(StatusCode::OK, &WorkspaceView::from(ws)))
}

pub async fn update(app: &App, req: &Request, m: &Matched) -> Result<Response<Body>, ApiError> {
    let id = path_ws(m)?;
    let changes = changes(JsonInput::parse(req)?, false)?;
    let ws = workspaces::update(app, &id, changes).await?;
    Ok(h::json(StatusCode::OK, &WorkspaceView::from(ws)))
}

/// `DELETE /v1/workspaces/{id}`: only when empty, or with `?erase=true`
/// and `{"confirm": "<the workspace's name>"}`, which erases everything in
/// it first (answering `202` with what is left while a large workspace
/// takes more than one call).
pub async fn delete(app: &App, req: &Request, m: &Matched) -> Result<Response<Body>, ApiError> {
    let ws = existing(app, m).await?;
    if ws.id.is_default() {
        return Err(ApiError::Conflict(
            "the default workspace cannot be deleted".into(),
        ));
    }
    let query = h::query(req);
    let erase = super::input::non_empty(&query, "erase") == Some("true");
    let scope = app.scope(ws.id.clone());
    if erase {
        let mut input = JsonInput::parse(req)?;
        input.allow_only(&["confirm"]);
        let confirm = input.string("confirm");
        if confirm.as_deref() != Some(ws.name.as_str()) {
            input.issue(
                "confirm",
                "must be the workspace's name, to confirm its erasure",
            );
        }
        input.finish()?;
        let left = erasure::erase_workspace(&scope).await?;
        if !left.done {
            return Ok(h::json(
                StatusCode::ACCEPTED,
                &json!({"status": "erasing", "erased": left.erased}),
            ));
        }
    } else if !erasure::is_empty(&scope).await? {
        return Err(ApiError::Conflict(
            "the workspace still holds keys, subscriptions, leads or events; delete them, or \
             erase everything with ?erase=true and {\"confirm\": \"<name>\"}"
                .into(),
        ));
    }
    ws_model::remove(app, &ws.id).await?;
    tracing::info!(workspace = %ws.id, "workspace deleted");
    Ok(h::empty(StatusCode::NO_CONTENT))
}

/// A token as the API shows it: never the token itself, but on creation.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    pub workspace: WorkspaceId,
    pub name: String,
    pub role: Role,
    /// `lpt_abcd…` in lists; the whole token once, on creation.
    pub token: String,
    pub created_at: String,
}

impl TokenView {
    fn new(t: Token, secret: Option<String>) -> Self {
        TokenView {
            id: t.id.to_string(),
            workspace: t.workspace,
            name: t.name,
            role: t.role,
            token: secret.unwrap_or(t.hint),
            created_at: t.created_at,
        }
    }
}

pub async fn create_token(
    app: &App,
    req: &Request,
    m: &Matched,
) -> Result<Response<Body>, ApiError> {
    let ws = existing(app, m).await?;
    let mut input = JsonInput::parse(req)?;
    input.allow_only(&["name", "role"]);
    let name = input.string("name");
    match &name {
        None => input.issue("name", "is required"),
        Some(n) if n.is_empty() => input.issue("name", "must not be empty"),
        Some(n) if n.chars().count() > MAX_NAME => {
            input.issue("name", format!("is longer than {MAX_NAME} characters"))
        }
        _ => {}
    }
    let role = match input.string("role").as_deref() {
        None => {
            input.issue("role", "is required: admin or viewer");
            None
        }
        Some(r) => {
            let role = Role::parse(r);
            if role.is_none() {
                input.issue("role", "must be admin or viewer");
            }
            role
        }
    };
    input.finish()?;
    let (Some(name), Some(role)) = (name, role) else {
        return Err(ApiError::invalid("role", "must be admin or viewer"));
    };
    let (token, secret) = tokens::create(app, &ws.id, name, role).await?;
    tracing::info!(token_id = %token.id, workspace = %ws.id, "token created");
    Ok(h::json(
        StatusCode::CREATED,
        &TokenView::new(token, Some(secret)),
    ))
}

pub async fn list_tokens(
    app: &App,
    m: &Matched,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let ws = existing(app, m).await?;
    let page = tokens::list(app, &ws.id, &page_request(query)?).await?;
    Ok(h::json(
        StatusCode::OK,
        &Page {
            items: page
                .items
                .into_iter()
                .map(|t| TokenView::new(t, None))
                .collect::<Vec<_>>(),
            next_cursor: page.next_cursor,
        },
    ))
}

pub async fn revoke_token(app: &App, m: &Matched) -> Result<Response<Body>, ApiError> {
    let ws = existing(app, m).await?;
    tokens::revoke(app, &ws.id, m.param("tokenId")).await?;
    tracing::info!(token_id = m.param("tokenId"), "token revoked");
    Ok(h::empty(StatusCode::NO_CONTENT))
}

/// `GET /v1/audit`: the workspace's trail, newest first.
pub async fn audit(scope: &Scope, query: &[(String, String)]) -> Result<Response<Body>, ApiError> {
    let page: Page<AuditEntry> = audit::list(scope, &page_request(query)?).await?;
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id, "at": e.at, "actor": e.actor, "action": e.action,
                "objectId": e.object_id, "via": e.via, "ip": e.ip,
                "userAgent": e.user_agent, "status": e.status,
            })
        })
        .collect();
    Ok(h::json(
        StatusCode::OK,
        &json!({"items": items, "nextCursor": page.next_cursor}),
    ))
}
