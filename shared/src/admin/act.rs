//! The admin API's actions, one line each: what an authorised request
//! does. The handler ([`super::handle`]) reaches it after the bearer
//! token; the console ([`crate::console`]) after its session and CSRF
//! checks, in-process, so both run the same rules.

use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use super::{deliveries, dlq, events, export, keys, leads, subscriptions};
use crate::app::App;
use crate::http::error::ApiError;
use crate::http::routes::{self, Action};
use crate::http::{self as h};

/// Runs an authorised admin API action.
pub(crate) async fn act(
    app: &App,
    req: &Request,
    m: routes::Matched,
) -> Result<Response<Body>, ApiError> {
    let query = h::query(req);
    match m.route.action {
        Action::KeysCreate => keys::create(app, req).await,
        Action::KeysList => keys::list(app, req, &query).await,
        Action::KeyGet => keys::get(app, req, &m, &query).await,
        Action::KeyUpdate => keys::update(app, req, &m).await,
        Action::KeyDelete => keys::delete(app, &m).await,
        Action::KeyRotate => keys::rotate(app, req, &m).await,
        Action::EventGet => events::get(app, &m).await,
        Action::EventsList => events::list(app, &query).await,
        Action::EventReplay => events::replay(app, &m).await,
        Action::LeadsList => leads::list(app, &query).await,
        Action::LeadGet => leads::get(app, &m).await,
        Action::LeadsExport => export::leads(app, &query).await,
        Action::LeadUpdate => leads::update(app, req, &m).await,
        Action::SubscriptionsCreate => subscriptions::create(app, req).await,
        Action::SubscriptionsList => subscriptions::list(app, &query).await,
        Action::SubscriptionGet => subscriptions::get(app, &m).await,
        Action::SubscriptionUpdate => subscriptions::update(app, req, &m).await,
        Action::SubscriptionDelete => subscriptions::delete(app, &m).await,
        Action::SubscriptionRotateSecret => subscriptions::rotate_secret(app, req, &m).await,
        Action::SubscriptionTest => subscriptions::test(app, &m).await,
        Action::DeliveriesList => deliveries::list(app, &query).await,
        Action::DeliveryGet => deliveries::get(app, &m).await,
        Action::DeliveryRetry => deliveries::retry(app, &m).await,
        Action::DlqRedrive => deliveries::redrive(app).await,
        Action::DlqDepth => Ok(h::json(StatusCode::OK, &dlq::depths(app).await?)),
        Action::MaintenanceBackfill => {
            let done = crate::model::deliveries::backfill_work_index(app).await?;
            tracing::info!(
                pending = done.pending,
                added = done.added,
                "backfilled the work index"
            );
            Ok(h::json(StatusCode::OK, &json!({"deliveries": done})))
        }
        Action::HookPost
        | Action::HookPreflight
        | Action::HookPage
        | Action::MetaNotification
        | Action::MetaHandshake
        | Action::Health
        | Action::OpenApi
        | Action::Console(_) => Err(ApiError::NotFound("route")),
    }
}
