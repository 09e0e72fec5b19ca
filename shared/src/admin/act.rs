//! The admin API's actions, one line each: what an authorised request
//! does. The handler ([`super::handle`]) reaches it after the bearer
//! token; the console ([`crate::console`]) after its session and CSRF
//! checks, in-process, so both run the same rules.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::caller::Caller;
use super::{
    deliveries, dlq, events, export, keys, leads, listeners, pages, subscriptions, workspaces,
};
use crate::http::error::ApiError;
use crate::http::routes::{self, Action};
use crate::http::{self as h};
use crate::model::audit;

/// Runs an admin API action for an authenticated caller: refuses what the
/// caller may not do, runs it, and records every write that succeeded in
/// the workspace's audit trail.
pub(crate) async fn act(
    caller: &Caller,
    req: &Request,
    m: routes::Matched,
) -> Result<Response<Body>, ApiError> {
    let query = h::query(req);
    caller.check(m.route.action, req.method().as_str(), &query)?;
    let resp = run(caller, req, &m, &query).await?;
    if req.method() != http::Method::GET && resp.status().is_success() {
        record(caller, &m, &resp).await;
    }
    Ok(resp)
}

/// Notes a write in the trail. The write is done whatever happens here: a
/// failure is logged, not answered.
async fn record(caller: &Caller, m: &routes::Matched, resp: &Response<Body>) {
    let object_id = ["id", "eventId", "pageId", "tokenId"]
        .iter()
        .rev()
        .map(|p| m.param(p))
        .find(|v| !v.is_empty())
        .map(str::to_owned)
        .or_else(|| created_id(resp));
    let entry = audit::Record {
        actor: &caller.actor,
        action: audit_name(m.route.action),
        object_id,
        via: caller.via,
        ip: caller.ip.as_deref(),
        user_agent: caller.user_agent.as_deref(),
        status: resp.status().as_u16(),
    };
    // A workspace's creation is recorded in the workspace it made.
    let scope = match (m.route.action, created_id(resp)) {
        (Action::WorkspacesCreate, Some(id)) => crate::rules::ids::WorkspaceId::parse(&id)
            .map(|ws| caller.scope.app().scope(ws))
            .unwrap_or_else(|| caller.scope.clone()),
        (Action::WorkspaceUpdate | Action::TokensCreate | Action::TokenRevoke, _) => {
            match crate::rules::ids::WorkspaceId::parse(m.param("id")) {
                Some(ws) => caller.scope.app().scope(ws),
                None => caller.scope.clone(),
            }
        }
        _ => caller.scope.clone(),
    };
    if let Err(e) = audit::record(&scope, entry).await {
        tracing::error!(error = %e, "could not record an audit entry");
    }
}

/// The `id` of what a create answered with.
fn created_id(resp: &Response<Body>) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(resp.body().as_ref()).ok()?;
    body.get("id")?
        .as_str()
        .map(|s| s.chars().take(100).collect())
}

/// The audit trail's name of an action.
fn audit_name(action: Action) -> &'static str {
    use Action::*;
    match action {
        KeysCreate => "keys.create",
        KeyUpdate => "keys.update",
        KeyDelete => "keys.delete",
        KeyRotate => "keys.rotate",
        EventReplay => "events.replay",
        LeadUpdate => "leads.update",
        LeadErase => "leads.erase",
        SubscriptionsCreate => "subscriptions.create",
        SubscriptionUpdate => "subscriptions.update",
        SubscriptionDelete => "subscriptions.delete",
        SubscriptionRotateSecret => "subscriptions.rotate_secret",
        SubscriptionTest => "subscriptions.test",
        DeliveryRetry => "deliveries.retry",
        DlqRedrive => "dlq.redrive",
        MaintenanceBackfill => "maintenance.backfill",
        WorkspacesCreate => "workspaces.create",
        WorkspaceUpdate => "workspaces.update",
        WorkspaceDelete => "workspaces.delete",
        TokensCreate => "tokens.create",
        TokenRevoke => "tokens.revoke",
        MetaPagePut => "meta_pages.put",
        MetaPageDelete => "meta_pages.delete",
        ListenerCreate => "listeners.create",
        ListenerDelete => "listeners.delete",
        ListenerResult => "listeners.ack",
        _ => "other",
    }
}

async fn run(
    caller: &Caller,
    req: &Request,
    m: &routes::Matched,
    query: &[(String, String)],
) -> Result<Response<Body>, ApiError> {
    let scope = &caller.scope;
    let app = scope.app();
    match m.route.action {
        Action::KeysCreate => keys::create(scope, req).await,
        Action::KeysList => keys::list(scope, req, query).await,
        Action::KeyGet => keys::get(scope, req, m, query).await,
        Action::KeyUpdate => keys::update(scope, req, m).await,
        Action::KeyDelete => keys::delete(scope, m).await,
        Action::KeyRotate => keys::rotate(scope, req, m).await,
        Action::EventGet => events::get(scope, m).await,
        Action::EventsList => events::list(scope, query).await,
        Action::EventReplay => events::replay(scope, m).await,
        Action::LeadsList => leads::list(scope, query).await,
        Action::LeadGet => leads::get(scope, m).await,
        Action::LeadsExport => export::leads(scope, query).await,
        Action::LeadUpdate => leads::update(scope, req, m).await,
        Action::SubscriptionsCreate => subscriptions::create(scope, req).await,
        Action::SubscriptionsList => subscriptions::list(scope, query).await,
        Action::SubscriptionGet => subscriptions::get(scope, m).await,
        Action::SubscriptionUpdate => subscriptions::update(scope, req, m).await,
        Action::SubscriptionDelete => subscriptions::delete(scope, m).await,
        Action::SubscriptionRotateSecret => subscriptions::rotate_secret(scope, req, m).await,
        Action::SubscriptionTest => subscriptions::test(scope, m).await,
        Action::DeliveriesList => deliveries::list(scope, query).await,
        Action::DeliveryGet => deliveries::get(scope, m).await,
        Action::DeliveryRetry => deliveries::retry(scope, m).await,
        Action::DlqRedrive => deliveries::redrive(app).await,
        Action::LeadErase => leads::erase(scope, m).await,
        Action::ListenerCreate => listeners::create(scope, req).await,
        Action::ListenerDelete => listeners::delete(scope, m).await,
        Action::ListenerPoll => listeners::poll(scope, m, query).await,
        Action::ListenerResult => listeners::result(scope, req, m).await,
        Action::WorkspacesCreate => workspaces::create(app, req).await,
        Action::WorkspacesList => workspaces::list(app, query).await,
        Action::WorkspaceGet => workspaces::get(app, m).await,
        Action::WorkspaceUpdate => workspaces::update(app, req, m).await,
        Action::WorkspaceDelete => workspaces::delete(app, req, m).await,
        Action::WorkspaceCurrent => workspaces::current(scope).await,
        Action::TokensCreate => workspaces::create_token(app, req, m).await,
        Action::TokensList => workspaces::list_tokens(app, m, query).await,
        Action::TokenRevoke => workspaces::revoke_token(app, m).await,
        Action::AuditList => workspaces::audit(scope, query).await,
        Action::MetaPagesList => pages::list(scope, query).await,
        Action::MetaPagePut => pages::put(scope, req, m).await,
        Action::MetaPageDelete => pages::delete(scope, m).await,
        Action::DlqDepth => Ok(h::json(StatusCode::OK, &dlq::depths(app).await?)),
        Action::MaintenanceBackfill => {
            let done = crate::model::deliveries::backfill_work_index(&app.default_scope()).await?;
            tracing::info!(
                pending = done.pending,
                added = done.added,
                "backfilled the work index"
            );
            Ok(h::json(StatusCode::OK, &json!({"deliveries": done})))
        }
        Action::HookPost
        | Action::HookPreflight
        | Action::MetaNotification
        | Action::MetaHandshake
        | Action::Health
        | Action::OpenApi
        | Action::Console(_) => Err(ApiError::NotFound("route")),
    }
}
