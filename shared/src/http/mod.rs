//! Small helpers over `lambda_http` requests and responses, shared by every
//! HTTP handler (on Lambda and in the local stack alike).

pub mod error;
pub mod outbound;
pub mod resolver;
pub mod routes;

use http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::rules::ids::{IdKind, new_id};

/// A JSON response.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    let mut resp = Response::new(Body::Binary(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An empty response (`204`).
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = status;
    resp
}

/// The request id the caller sees in error bodies and the logs: API
/// Gateway's, else the Lambda invocation's, else a fresh one (local stack).
pub fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            if let Some(id) = &ctx.request_id {
                return id.clone();
            }
        }
        Some(RequestContext::ApiGatewayV1(ctx)) => {
            if let Some(id) = &ctx.request_id {
                return id.clone();
            }
        }
        _ => {}
    }
    if let Some(ctx) = req.lambda_context_ref()
        && !ctx.request_id.is_empty()
    {
        return ctx.request_id.clone();
    }
    new_id(IdKind::Request)
}

/// A header as text; absent, empty or non-UTF-8 values are `None`.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The decoded query parameters, in order.
pub fn query(req: &Request) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The first value of a query parameter.
pub fn query_param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The externally visible base URL (`https://host`), for links in bodies.
pub fn base_url(req: &Request, configured: Option<&str>) -> String {
    if let Some(url) = configured {
        return url.to_owned();
    }
    let headers = req.headers();
    let host = header(headers, "x-forwarded-host")
        .or_else(|| header(headers, "host"))
        .or_else(|| req.uri().host())
        .unwrap_or("localhost");
    let proto = header(headers, "x-forwarded-proto").unwrap_or(
        if host.starts_with("127.") || host.starts_with("localhost") {
            "http"
        } else {
            "https"
        },
    );
    format!("{proto}://{host}")
}

/// The client's address: API Gateway's source IP, else the first
/// `X-Forwarded-For` hop (the local stack), at most 64 characters.
pub fn source_ip(req: &Request) -> Option<String> {
    let ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
    .or_else(|| {
        header(req.headers(), "x-forwarded-for")
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_owned())
    });
    ip.map(|v| v.chars().take(64).collect())
}
