//! The local API server: every route of [`leadpipe::http::routes::ROUTES`],
//! served over HTTP/1 by the same handler each Lambda function runs.

use std::convert::Infallible;
use std::future::Future;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Request, Response};
use leadpipe::http::routes::{self, Function};
use leadpipe::{ApiError, App, admin, http as h, ingest, meta_verify};
use tokio::net::TcpListener;

/// Largest body the local server reads (API Gateway's limit is 10 MB; the
/// handlers enforce their own, smaller ones).
const MAX_BODY: usize = 10 * 1024 * 1024;

/// Runs one request through the function that owns its route.
pub async fn dispatch(app: &App, req: Request) -> Response<Body> {
    // A browser opening the bare address lands on the console.
    if req.uri().path() == "/" && req.method() == http::Method::GET {
        let mut resp = Response::new(Body::Empty);
        *resp.status_mut() = http::StatusCode::FOUND;
        resp.headers_mut().insert(
            http::header::LOCATION,
            http::HeaderValue::from_static("/console"),
        );
        return resp;
    }
    match routes::resolve(req.method().as_str(), req.uri().path(), None) {
        Ok(m) => match m.route.function {
            Function::Ingest => ingest::handle(app, req).await,
            Function::MetaVerify => meta_verify::handle(app, req).await,
            Function::Admin => admin::handle(app, req).await,
            // Queue consumers and the sweeper serve no route.
            Function::Process | Function::Deliver | Function::Sweep => {
                ApiError::NotFound("route").into_response(&h::request_id(&req))
            }
        },
        Err(e) => e.into_response(&h::request_id(&req)),
    }
}

async fn serve_one(
    app: App,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let resp = ApiError::PayloadTooLarge { limit: MAX_BODY }.into_response("local");
            return Ok(to_hyper(resp));
        }
    };
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Binary(body.to_vec())
    };
    let resp = dispatch(&app, Request::from_parts(parts, body)).await;
    Ok(to_hyper(resp))
}

fn to_hyper(resp: Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = resp.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// Serves until `shutdown` completes.
pub async fn serve(app: App, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let app = app.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| serve_one(app.clone(), req));
                    if let Err(e) = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(error = %e, "connection closed");
                    }
                });
            }
        }
    }
}
