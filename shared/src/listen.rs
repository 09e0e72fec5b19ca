//! `leadpipe listen`: deliveries received on a laptop with no inbound
//! connection. A listener is a subscription whose URL is
//! `leadpipe-listen://<name>`: `process` fans out to it like any other, but
//! `deliver` leaves its deliveries `pending` instead of sending them; the
//! CLI long-polls them ([`crate::admin::listeners`]), each claimed and
//! signed exactly as `deliver` would sign it (same headers, same secret),
//! forwards them to the local receiver and reports what it answered, which
//! is recorded as the attempt. The listener is created when `listen` starts
//! and deleted when it stops; its deliveries left behind end `dead`
//! ("subscription deleted") like any deleted subscription's.
//!
//! The wire types below are shared by the server and the CLI.

use serde::{Deserialize, Serialize};

use crate::model::subscriptions::Subscription;

/// The URL scheme that marks a subscription as a CLI listener.
pub const URL_SCHEME: &str = "leadpipe-listen://";

/// The longest a poll waits for a delivery (API Gateway answers within 30 s).
pub const MAX_WAIT_S: u64 = 20;

/// Deliveries handed out per poll.
pub const MAX_BATCH: usize = 10;

/// Is `sub` a CLI listener?
pub fn is_listener(sub: &Subscription) -> bool {
    is_listener_url(&sub.url)
}

pub fn is_listener_url(url: &str) -> bool {
    url.starts_with(URL_SCHEME)
}

/// A listener's name: 1–64 of `A-Z a-z 0-9 . _ -`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `POST /v1/listeners` → 201: the listener and its signing secret, once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    /// The subscription's id (`sub_…`).
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub sources: Option<Vec<String>>,
    /// The signing secret in full (`whsec_…`): the local receiver verifies
    /// with it.
    pub secret: String,
    pub created_at: String,
}

/// One delivery to forward: the body and every header `deliver` would send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Forward {
    pub delivery_id: String,
    pub event_type: String,
    /// The attempt this forward is (`X-Leadpipe-Attempt`).
    pub attempt: u32,
    /// Hands the result back to the claim this poll made.
    pub claim: String,
    /// Header names lower-case, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// `GET /v1/listeners/{id}/deliveries` → 200.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Forwards {
    pub items: Vec<Forward>,
}

/// `POST /v1/listeners/{id}/ack`: what the local receiver answered to a
/// forward (no `statusCode`: it could not be reached).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForwardResult {
    pub delivery_id: String,
    pub attempt: u32,
    pub claim: String,
    #[serde(default)]
    pub status_code: Option<u16>,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub response: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls() {
        assert!(valid_name("laptop-1.local_x"));
        assert!(!valid_name(""));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(&"a".repeat(65)));
        assert!(is_listener_url("leadpipe-listen://laptop"));
        assert!(!is_listener_url("https://leadpipe-listen://x"));
    }

    #[test]
    fn result_reads_with_defaults() {
        let r: ForwardResult =
            serde_json::from_str(r#"{"deliveryId": "dlv_1", "attempt": 2, "claim": "req_1"}"#)
                .unwrap();
        assert_eq!(r.status_code, None);
        assert_eq!(r.duration_ms, 0);
    }
}
