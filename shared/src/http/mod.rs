//! Small helpers over `lambda_http` requests and responses, shared by every
//! HTTP handler (on Lambda and in the local stack alike).

pub mod routes;

use http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::errors::{ApiError, FieldIssue};
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

/// A JSON object from a request body, with per-field accessors that collect
/// every problem before answering one 422 with all of them.
pub struct JsonInput {
    map: Map<String, Value>,
    issues: Vec<FieldIssue>,
}

impl JsonInput {
    /// Parses the body: 415 unless JSON, 400 unless an object.
    pub fn parse(req: &Request) -> Result<Self, ApiError> {
        if let Some(ct) = header(req.headers(), "content-type") {
            let media = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if media != "application/json" && !media.ends_with("+json") {
                return Err(ApiError::UnsupportedMediaType(
                    "send application/json".into(),
                ));
            }
        }
        let body = req.body().as_ref();
        if body.len() > 256 * 1024 {
            return Err(ApiError::PayloadTooLarge { limit: 256 * 1024 });
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonInput {
                map: Map::new(),
                issues: vec![],
            });
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(JsonInput {
                map,
                issues: vec![],
            }),
            Ok(_) => Err(ApiError::MalformedBody(
                "the body must be a JSON object".into(),
            )),
            Err(e) => Err(ApiError::MalformedBody(format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ))),
        }
    }

    /// Records an issue for every field not in `allowed`.
    pub fn allow_only(&mut self, allowed: &[&str]) {
        let unknown: Vec<String> = self
            .map
            .keys()
            .filter(|k| !allowed.contains(&k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            let shown: String = k.chars().take(64).collect();
            self.issue(shown, "is not a known field");
        }
    }

    pub fn issue(&mut self, field: impl Into<String>, issue: impl Into<String>) {
        self.issues.push(FieldIssue::new(field, issue));
    }

    /// The raw JSON value of a field.
    pub fn raw(&self, field: &str) -> Option<&Value> {
        self.map.get(field)
    }

    pub fn has(&self, field: &str) -> bool {
        self.map.contains_key(field)
    }

    /// Absent → `None`; present and a string → trimmed; otherwise an issue.
    /// `null` counts as absent.
    pub fn string(&mut self, field: &str) -> Option<String> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(_) => {
                self.issue(field, "must be a string");
                None
            }
        }
    }

    /// Absent → `None`; `null` → `Some(None)`; a string → `Some(Some(..))`.
    pub fn nullable_string(&mut self, field: &str) -> Option<Option<String>> {
        match self.map.get(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => {
                let t = s.trim();
                Some((!t.is_empty()).then(|| t.to_owned()))
            }
            Some(_) => {
                self.issue(field, "must be a string or null");
                None
            }
        }
    }

    pub fn bool(&mut self, field: &str) -> Option<bool> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.issue(field, "must be true or false");
                None
            }
        }
    }

    /// Absent → `None`; an array of strings → trimmed; otherwise an issue.
    pub fn string_list(&mut self, field: &str) -> Option<Vec<String>> {
        match self.map.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Value::String(s) => out.push(s.trim().to_owned()),
                        _ => {
                            self.issue(field, "must be an array of strings");
                            return None;
                        }
                    }
                }
                Some(out)
            }
            Some(_) => {
                self.issue(field, "must be an array of strings");
                None
            }
        }
    }

    /// Answers 422 with every issue recorded, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.issues))
        }
    }
}
