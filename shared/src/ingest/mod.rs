//! `ingest`: every lead that enters Leadpipe (docs/CONTRACT.md §3 and §4).
//!
//! * [`source`] — `POST /v1/hooks/{keyId}`: the key's provider decides;
//!   [`form`] for plain HTML forms (and the thank-you page, `GET`).
//! * [`hook`] — a `webhook` key's post and the CORS preflight:
//!   authenticate → check origin → parse → honeypot → validate →
//!   idempotency → record the event `RECEIVED` → queue it → `202`.
//! * [`meta`] — `POST /v1/providers/meta/webhook`: verify Meta's signature,
//!   one event per new `leadgen`, queued → `200`.
//! * [`meta_deletion`] — Meta's data-deletion callback and its status.
//! * [`idempotency`] — `Idempotency-Key`: a repeat gets the first answer.
//! * [`wait`] — `Prefer: wait=N`: `201` with the lead when it is made in time.
//!
//! Nothing is half-written: when the message cannot be queued the event row
//! is removed again and the caller gets a 500 to retry.

pub mod form;
pub mod hook;
pub mod idempotency;
pub mod linkedin;
pub mod meta;
pub mod meta_deletion;
pub mod source;
pub mod wait;

use http::{HeaderValue, header};
use lambda_http::{Body, Request, Response};
use tracing::Instrument;

use crate::app::App;
use crate::http::request_id;
use crate::http::routes::{self, Action, Function};

/// The `ingest` function's handler.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let span =
        tracing::info_span!("ingest", request_id = %request_id, key_id = tracing::field::Empty);
    async {
        let matched = match routes::resolve(
            req.method().as_str(),
            req.uri().path(),
            Some(Function::Ingest),
        ) {
            Ok(m) => m,
            Err(e) => return e.into_response(&request_id),
        };
        let key_id = matched.param("keyId");
        tracing::Span::current().record("key_id", key_id);
        let mut cors = None;
        let result = match matched.route.action {
            Action::HookPreflight => hook::preflight(app, &req, key_id, &mut cors).await,
            Action::HookPage => source::page(app, &req, key_id).await,
            Action::MetaNotification => meta::notification(app, &req).await,
            Action::MetaDataDeletion => meta_deletion::request(app, &req).await,
            Action::MetaDataDeletionStatus => meta_deletion::status(app, &matched).await,
            _ => source::accept(app, &req, key_id, &mut cors).await,
        };
        let mut resp = result.unwrap_or_else(|e| {
            tracing::info!(code = e.code(), "rejected");
            e.into_response(&request_id)
        });
        if let Some(origin) = cors {
            let headers = resp.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(header::VARY, HeaderValue::from_static("Origin"));
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("Location, Preference-Applied"),
            );
        }
        resp
    }
    .instrument(span)
    .await
}
