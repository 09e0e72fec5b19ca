//! `admin`: the management API (docs/CONTRACT.md §6), one file per resource:
//! [`keys`], [`events`], [`leads`] (and their CSV [`export`]),
//! [`subscriptions`], [`deliveries`] (with the [`dlq`] redrive). Every
//! route but `/healthz` needs `Authorization: Bearer <admin token>`;
//! request bodies are read and checked here ([`input`]), the stored
//! entities are [`crate::model`]'s.

mod act;
pub mod caller;
pub mod deliveries;
pub mod destinations;
pub mod dlq;
pub mod events;
pub mod export;
pub mod input;
pub mod keys;
pub mod leads;
pub mod listeners;
pub mod pages;
pub mod routing;
pub mod subscription_view;
pub mod subscriptions;
pub mod test_lead;
pub mod workspaces;

pub(crate) use act::act;
use http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use tracing::Instrument;

use crate::app::App;
use crate::http::error::ApiError;
use crate::http::routes::{self, Action, Function};
use crate::http::{self as h};

/// The `admin` function's handler.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let request_id = h::request_id(&req);
    let span = tracing::info_span!(
        "admin",
        request_id = %request_id,
        method = %req.method(),
        path = %req.uri().path()
    );
    async {
        // One future per admin action, the largest sets the size: on the
        // heap, not on the runtime's stack.
        match Box::pin(route(app, &req)).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::info!(code = e.code(), "rejected");
                e.into_response(&request_id)
            }
        }
    }
    .instrument(span)
    .await
}

async fn route(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    // Resolved against every route, not only admin's: API Gateway's
    // `$default` route sends admin whatever no route matched, and another
    // method on a known path is then 405 with that path's Allow.
    let m = routes::resolve(req.method().as_str(), req.uri().path(), None)?;
    if m.route.function != Function::Admin {
        return Err(ApiError::NotFound("route"));
    }
    match m.route.action {
        Action::Health => {
            return Ok(h::json(
                StatusCode::OK,
                &json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
            ));
        }
        // Public, like /healthz: it describes the routes, not any data.
        Action::OpenApi => return Ok(crate::openapi::response()),
        _ => {}
    }
    if let Action::Console(page) = m.route.action {
        // The console signs in with a session cookie, not the bearer token.
        return Ok(crate::console::handle(app, req, &m, page).await);
    }
    let caller = caller::authenticate(app, req).await?;
    act::act(&caller, req, m).await
}
