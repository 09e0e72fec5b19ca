//! `meta-verify`: Meta's subscription handshake,
//! `GET /v1/providers/meta/webhook?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`.
//! The right token gets `C` back as `text/plain`; anything else is 403.

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use tracing::Instrument;

use crate::app::App;
use crate::http::error::ApiError;
use crate::http::routes::{self, Function};
use crate::http::{self as h, query_param};
use crate::rules::crypto::constant_time_eq;

/// The `meta-verify` function's handler.
pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let request_id = h::request_id(&req);
    let span = tracing::info_span!("meta-verify", request_id = %request_id);
    async {
        match handshake(app, &req).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::info!(code = e.code(), "handshake refused");
                e.into_response(&request_id)
            }
        }
    }
    .instrument(span)
    .await
}

async fn handshake(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    routes::resolve(
        req.method().as_str(),
        req.uri().path(),
        Some(Function::MetaVerify),
    )?;
    let query = h::query(req);
    let refuse = || ApiError::Forbidden("verification failed".into());
    let secrets = app.secrets.get().await?;
    let Some(expected) = secrets.meta_verify_token.as_deref() else {
        tracing::warn!("metaVerifyToken is not set in the deployment secret");
        return Err(refuse());
    };
    let mode = query_param(&query, "hub.mode").unwrap_or("");
    let token = query_param(&query, "hub.verify_token").unwrap_or("");
    let challenge = query_param(&query, "hub.challenge").ok_or_else(refuse)?;
    if mode != "subscribe"
        || !constant_time_eq(token.as_bytes(), expected.as_bytes())
        || challenge.len() > 1024
    {
        return Err(refuse());
    }
    tracing::info!("meta webhook verified");
    let mut resp = Response::new(Body::Text(challenge.to_owned()));
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(resp)
}
