//! What a caller sees when a request fails. Every error response on every
//! route is produced by [`ApiError::into_response`], in the contract's
//! envelope:
//!
//! ```json
//! {"error": {"code": "validation_failed", "message": "…", "details": [{"field": "email", "issue": "…"}]}, "requestId": "…"}
//! ```

use http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::error::FieldIssue;
use crate::error::{DataError, Error, chain};
use crate::rules::crypto::CryptoError;
use crate::rules::inbound::BodyError;

/// What a caller sees when a request fails. One variant per contract code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid credentials")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// The request's origin, as [`crate::rules::inbound::origin::named`]
    /// tells it (escaped, bounded).
    #[error("{0} is not allowed for this key")]
    OriginNotAllowed(String),
    /// The key's stored allow-list cannot be read: nothing is allowed until
    /// an admin saves the list again.
    #[error("this key's allowed domains cannot be read; an admin must set them again")]
    AllowListUnreadable,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    MalformedBody(String),
    #[error("request is not valid")]
    Validation(Vec<FieldIssue>),
    #[error("{0}")]
    UnsafeUrl(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many requests: the rate limit is reached, retry after {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("internal error")]
    Internal(#[from] Error),
}

impl From<DataError> for ApiError {
    fn from(e: DataError) -> Self {
        match e {
            DataError::NotFound(what) => ApiError::NotFound(what),
            DataError::Conflict(message) => ApiError::Conflict(message),
            DataError::Invalid(issues) => ApiError::Validation(issues),
            DataError::Internal(err) => ApiError::Internal(err),
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::UnsupportedMediaType(message) => ApiError::UnsupportedMediaType(message),
            BodyError::TooLarge { limit } => ApiError::PayloadTooLarge { limit },
            BodyError::Malformed(message) => ApiError::MalformedBody(message),
            BodyError::Invalid(issue) => ApiError::Validation(vec![issue]),
        }
    }
}

impl From<CryptoError> for ApiError {
    fn from(e: CryptoError) -> Self {
        ApiError::Internal(Error::Crypto(e))
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body_<'a>,
    #[serde(rename = "requestId")]
    request_id: &'a str,
}

#[derive(Serialize)]
struct Body_<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a [FieldIssue]>,
}

impl ApiError {
    /// One field, one issue: the common 422.
    pub fn invalid(field: impl Into<String>, issue: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldIssue::new(field, issue)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_)
            | ApiError::OriginNotAllowed(_)
            | ApiError::AllowListUnreadable => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MalformedBody(_) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) | ApiError::UnsafeUrl(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::OriginNotAllowed(_) => "origin_not_allowed",
            ApiError::AllowListUnreadable => "allow_list_unreadable",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::MalformedBody(_) => "malformed_body",
            ApiError::Validation(_) => "validation_failed",
            ApiError::UnsafeUrl(_) => "unsafe_url",
            ApiError::Conflict(_) => "conflict",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The response for this error, in the envelope. Internal errors are
    /// logged here, with their cause, and answered without it.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        if let ApiError::Internal(err) = &self {
            tracing::error!(error = %chain(err), request_id, "internal error");
        }
        let details = match &self {
            ApiError::Validation(d) => Some(d.as_slice()),
            _ => None,
        };
        let envelope = Envelope {
            error: Body_ {
                code: self.code(),
                message: self.to_string(),
                details,
            },
            request_id,
        };
        let mut resp = crate::http::json(self.status(), &envelope);
        let headers = resp.headers_mut();
        match &self {
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    headers.insert(header::ALLOW, v);
                }
            }
            ApiError::RateLimited { retry_after_s } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
            }
            ApiError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(resp: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(resp.body().as_ref()).unwrap()
    }

    #[test]
    fn validation_envelope() {
        let resp = ApiError::invalid("email", "not a valid address").into_response("req_1");
        assert_eq!(resp.status(), 422);
        assert_eq!(
            body(&resp),
            serde_json::json!({
                "error": {"code": "validation_failed", "message": "request is not valid",
                          "details": [{"field": "email", "issue": "not a valid address"}]},
                "requestId": "req_1"
            })
        );
    }

    #[test]
    fn internal_errors_leak_nothing() {
        let err = ApiError::from(Error::Data("arn:aws:dynamodb:secret-table".into()));
        let resp = err.into_response("req_2");
        assert_eq!(resp.status(), 500);
        let text = String::from_utf8(resp.body().to_vec()).unwrap();
        assert!(!text.contains("arn:"));
        assert!(text.contains("\"internal\""));
    }

    #[test]
    fn every_code_maps_to_its_status() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::Unauthorized, 401, "unauthorized"),
            (ApiError::Forbidden("x".into()), 403, "forbidden"),
            (
                ApiError::OriginNotAllowed("Origin https://x.example".into()),
                403,
                "origin_not_allowed",
            ),
            (ApiError::NotFound("key"), 404, "not_found"),
            (
                ApiError::MethodNotAllowed {
                    allow: "GET".into(),
                },
                405,
                "method_not_allowed",
            ),
            (
                ApiError::PayloadTooLarge { limit: 1 },
                413,
                "payload_too_large",
            ),
            (
                ApiError::UnsupportedMediaType("x".into()),
                415,
                "unsupported_media_type",
            ),
            (ApiError::MalformedBody("x".into()), 400, "malformed_body"),
            (ApiError::Validation(vec![]), 422, "validation_failed"),
            (ApiError::UnsafeUrl("x".into()), 422, "unsafe_url"),
            (ApiError::Conflict("x".into()), 409, "conflict"),
            (
                ApiError::RateLimited { retry_after_s: 1 },
                429,
                "rate_limited",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.status().as_u16(), status);
            assert_eq!(err.code(), code);
        }
    }

    #[test]
    fn body_errors_answer_with_their_own_code() {
        for e in [
            BodyError::UnsupportedMediaType("x".into()),
            BodyError::TooLarge { limit: 1 },
            BodyError::Malformed("x".into()),
            BodyError::Invalid(FieldIssue::new("f", "x")),
        ] {
            let code = e.code();
            assert_eq!(ApiError::from(e).code(), code);
        }
    }
}
