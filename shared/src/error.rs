//! The library's errors, below the HTTP edge:
//!
//! * [`Error`] — something went wrong inside (an AWS call, configuration,
//!   stored data). Never shown to callers as is. An AWS failure keeps its
//!   [`AwsErrorKind`], so callers can tell throttling from a failed
//!   condition from a broken request.
//! * [`DataError`] — what a model operation answers when it will not do
//!   what was asked: not found, conflict, invalid fields. The HTTP edge
//!   ([`crate::http::error::ApiError`]) turns it into the contract's
//!   envelope; a queue consumer into a retry or a `FAILED` event.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use serde::Serialize;

use crate::rules::crypto::CryptoError;

/// Something that went wrong inside Leadpipe. Never shown to callers as is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("{service} {op} ({kind:?}): {message}")]
    Aws {
        service: &'static str,
        op: &'static str,
        kind: AwsErrorKind,
        message: String,
    },
    #[error("secrets manager: {0}")]
    Secrets(String),
    #[error("stored data: {0}")]
    Data(String),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
}

/// What kind of failure an AWS call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// A condition expression did not hold (someone was first).
    ConditionalCheckFailed,
    /// Another transaction held one of the items.
    TransactionConflict,
    /// Throughput or request-rate limits; try again later.
    Throttling,
    /// The request can never succeed as written (size limits, bad
    /// expressions, an item over 400 KB).
    Validation,
    /// The table, queue or secret does not exist.
    ResourceNotFound,
    /// The service failed on its side (5xx).
    ServiceUnavailable,
    /// No answer in time.
    Timeout,
    /// The request never reached the service, or its answer was unreadable.
    Transport,
    /// Anything else the service answered.
    Other,
}

impl AwsErrorKind {
    /// Reads an error code as AWS services spell it.
    pub fn from_code(code: &str) -> Self {
        match code {
            "ConditionalCheckFailed" | "ConditionalCheckFailedException" => {
                Self::ConditionalCheckFailed
            }
            "TransactionConflict" | "TransactionConflictException" => Self::TransactionConflict,
            "ThrottlingError"
            | "ThrottlingException"
            | "Throttling"
            | "ProvisionedThroughputExceeded"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "AWS.SimpleQueueService.RequestThrottled" => Self::Throttling,
            "ValidationError"
            | "ValidationException"
            | "ItemCollectionSizeLimitExceeded"
            | "ItemCollectionSizeLimitExceededException"
            | "InvalidParameterValue"
            | "InvalidParameterException"
            | "InvalidRequestException" => Self::Validation,
            "ResourceNotFoundException"
            | "AWS.SimpleQueueService.NonExistentQueue"
            | "QueueDoesNotExist" => Self::ResourceNotFound,
            "InternalServerError" | "InternalFailure" | "ServiceUnavailable" => {
                Self::ServiceUnavailable
            }
            _ => Self::Other,
        }
    }

    /// Worth trying again: the same request may succeed later.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::TransactionConflict
                | Self::Throttling
                | Self::ServiceUnavailable
                | Self::Timeout
                | Self::Transport
        )
    }

    /// The kind of an SDK error, from its error code or how it failed.
    pub fn of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Self {
        match err {
            SdkError::TimeoutError(_) => Self::Timeout,
            SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => Self::Transport,
            SdkError::ConstructionFailure(_) => Self::Validation,
            _ => err
                .as_service_error()
                .and_then(|e| e.code())
                .map(Self::from_code)
                .unwrap_or(Self::Other),
        }
    }
}

impl Error {
    /// A failed DynamoDB call, as AWS's error code and message (the SDK's
    /// own display is a terse "service error").
    pub fn store<E, R>(op: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        Self::aws("dynamodb", op, err)
    }

    /// A failed SQS call.
    pub fn queue<E, R>(op: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        Self::aws("sqs", op, err)
    }

    fn aws<E, R>(service: &'static str, op: &'static str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let kind = AwsErrorKind::of(&err);
        // The code and message AWS sent, or the chain of causes; never the
        // raw response (the context display appends its debug form:
        // headers and body, which can carry item data).
        let message = match err.as_service_error() {
            Some(e) => format!(
                "{}: {}",
                e.code().unwrap_or("unknown error"),
                e.message().unwrap_or("no message")
            ),
            None => chain(&err),
        };
        Error::Aws {
            service,
            op,
            kind,
            message,
        }
    }

    /// A request that could not even be built (a builder's missing field).
    pub fn request(service: &'static str, op: &'static str, err: impl std::fmt::Display) -> Self {
        Error::Aws {
            service,
            op,
            kind: AwsErrorKind::Validation,
            message: err.to_string(),
        }
    }

    /// The AWS failure kind, when this is an AWS failure.
    pub fn aws_kind(&self) -> Option<AwsErrorKind> {
        match self {
            Error::Aws { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// Flattens an error with its source chain into one line, for logs.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldIssue {
    pub field: String,
    pub issue: String,
}

impl FieldIssue {
    pub fn new(field: impl Into<String>, issue: impl Into<String>) -> Self {
        FieldIssue {
            field: field.into(),
            issue: issue.into(),
        }
    }
}

/// What a model operation answers when it will not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// No such entity (the name says which: `"key"`, `"lead"`…).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// It changed meanwhile, or would collide; reading again may help.
    #[error("{0}")]
    Conflict(String),
    /// Some fields are not acceptable, each with its issue.
    #[error("invalid fields")]
    Invalid(Vec<FieldIssue>),
    #[error(transparent)]
    Internal(#[from] Error),
}

impl DataError {
    /// One field, one issue.
    pub fn invalid(field: impl Into<String>, issue: impl Into<String>) -> Self {
        DataError::Invalid(vec![FieldIssue::new(field, issue)])
    }
}

impl DataError {
    /// As an internal error, where a refusal cannot happen (a listing read
    /// with a cursor DynamoDB handed out) and would be a bug.
    pub fn into_internal(self) -> Error {
        match self {
            DataError::Internal(e) => e,
            other => Error::Data(other.to_string()),
        }
    }
}

impl From<CryptoError> for DataError {
    fn from(e: CryptoError) -> Self {
        DataError::Internal(Error::Crypto(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_keep_their_kind() {
        use AwsErrorKind::*;
        for (code, kind) in [
            ("ConditionalCheckFailedException", ConditionalCheckFailed),
            ("ConditionalCheckFailed", ConditionalCheckFailed),
            ("TransactionConflict", TransactionConflict),
            ("ThrottlingError", Throttling),
            ("ProvisionedThroughputExceededException", Throttling),
            ("ValidationError", Validation),
            ("ValidationException", Validation),
            ("InternalServerError", ServiceUnavailable),
            ("SomethingNew", Other),
        ] {
            assert_eq!(AwsErrorKind::from_code(code), kind, "{code}");
        }
        assert!(Throttling.is_transient() && TransactionConflict.is_transient());
        assert!(!ConditionalCheckFailed.is_transient() && !Validation.is_transient());
    }
}
