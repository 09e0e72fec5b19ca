//! The admin API's actions, one line each: what an authorised request
//! does. The handler ([`super::handle`]) reaches it after the bearer
//! token; the console ([`crate::console`]) after its session and CSRF
//! checks, in-process, so both run the same rules.

use std::future::Future;
use std::pin::Pin;

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
        KeyTestLead => "keys.test_lead",
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

/// An action's answer, on the heap: each arm boxes its own future, so
/// the dispatch's frame stays small however many actions there are.
type Answer<'a> = Pin<Box<dyn Future<Output = Result<Response<Body>, ApiError>> + Send + 'a>>;

fn run<'a>(
    caller: &'a Caller,
    req: &'a Request,
    m: &'a routes::Matched,
    query: &'a [(String, String)],
) -> Answer<'a> {
    let scope = &caller.scope;
    let app = scope.app();
    match m.route.action {
        Action::KeysCreate => Box::pin(keys::create(scope, req)),
        Action::KeysList => Box::pin(keys::list(scope, req, query)),
        Action::KeyGet => Box::pin(keys::get(scope, req, m, query)),
        Action::KeyUpdate => Box::pin(keys::update(scope, req, m)),
        Action::KeyDelete => Box::pin(keys::delete(scope, m)),
        Action::KeyRotate => Box::pin(keys::rotate(scope, req, m)),
        Action::KeyTestLead => Box::pin(super::test_lead::send(scope, req, m)),
        Action::EventGet => Box::pin(events::get(scope, m)),
        Action::EventsList => Box::pin(events::list(scope, query)),
        Action::EventReplay => Box::pin(events::replay(scope, m)),
        Action::LeadsList => Box::pin(leads::list(scope, query)),
        Action::LeadGet => Box::pin(leads::get(scope, m)),
        Action::LeadsExport => Box::pin(export::leads(scope, query)),
        Action::LeadUpdate => Box::pin(leads::update(scope, req, m)),
        Action::SubscriptionsCreate => Box::pin(subscriptions::create(scope, req)),
        Action::SubscriptionsList => Box::pin(subscriptions::list(scope, query)),
        Action::SubscriptionGet => Box::pin(subscriptions::get(scope, m)),
        Action::SubscriptionUpdate => Box::pin(subscriptions::update(scope, req, m)),
        Action::SubscriptionDelete => Box::pin(subscriptions::delete(scope, m)),
        Action::SubscriptionRotateSecret => Box::pin(subscriptions::rotate_secret(scope, req, m)),
        Action::SubscriptionTest => Box::pin(subscriptions::test(scope, m)),
        Action::DeliveriesList => Box::pin(deliveries::list(scope, query)),
        Action::DeliveryGet => Box::pin(deliveries::get(scope, m)),
        Action::DeliveryRetry => Box::pin(deliveries::retry(scope, m)),
        Action::DlqRedrive => Box::pin(deliveries::redrive(app)),
        Action::LeadErase => Box::pin(leads::erase(scope, m)),
        Action::ListenerCreate => Box::pin(listeners::create(scope, req)),
        Action::ListenerDelete => Box::pin(listeners::delete(scope, m)),
        Action::ListenerPoll => Box::pin(listeners::poll(scope, m, query)),
        Action::ListenerResult => Box::pin(listeners::result(scope, req, m)),
        Action::WorkspacesCreate => Box::pin(workspaces::create(app, req)),
        Action::WorkspacesList => Box::pin(workspaces::list(app, query)),
        Action::WorkspaceGet => Box::pin(workspaces::get(app, m)),
        Action::WorkspaceUpdate => Box::pin(workspaces::update(app, req, m)),
        Action::WorkspaceDelete => Box::pin(workspaces::delete(app, req, m)),
        Action::WorkspaceCurrent => Box::pin(workspaces::current(scope)),
        Action::TokensCreate => Box::pin(workspaces::create_token(app, req, m)),
        Action::TokensList => Box::pin(workspaces::list_tokens(app, m, query)),
        Action::TokenRevoke => Box::pin(workspaces::revoke_token(app, m)),
        Action::AuditList => Box::pin(workspaces::audit(scope, query)),
        Action::MetaPagesList => Box::pin(pages::list(scope, query)),
        Action::MetaPagePut => Box::pin(pages::put(scope, req, m)),
        Action::MetaPageDelete => Box::pin(pages::delete(scope, m)),
        Action::DlqDepth => {
            Box::pin(async move { Ok(h::json(StatusCode::OK, &dlq::depths(app).await?)) })
        }
        Action::MaintenanceBackfill => Box::pin(async move {
            let done = crate::model::deliveries::backfill_work_index(&app.default_scope()).await?;
            tracing::info!(
                pending = done.pending,
                added = done.added,
                "backfilled the work index"
            );
            Ok(h::json(StatusCode::OK, &json!({"deliveries": done})))
        }),
        Action::HookPost
        | Action::HookPreflight
        | Action::HookPage
        | Action::MetaNotification
        | Action::MetaHandshake
        | Action::MetaDataDeletion
        | Action::MetaDataDeletionStatus
        | Action::Health
        | Action::OpenApi
        | Action::Console(_) => Box::pin(async { Err(ApiError::NotFound("route")) }),
    }
}
