//! `Prefer: wait=N` (RFC 7240 §4.3) on the hook: the caller would rather
//! wait up to N seconds (1–10) for the lead than get `202` at once. When
//! processing ends within the wait with a lead (`PROCESSED` or
//! `DUPLICATE`), the answer is `201 {"eventId", "status", "leadId",
//! "lead"}` with `Preference-Applied: wait=N`; otherwise today's `202`.
//!
//! The wait is spent in `ingest` (billed Lambda time), reading the event
//! every [`POLL`]; it is capped at [`MAX_APPLIED_S`] so the function ends
//! well before its 10 s timeout.

use std::time::Duration;

use http::{HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::app::Scope;
use crate::http as h;
use crate::model::events::{self, EventStatus};
use crate::model::leads::{self, LeadView};
use crate::rules::ids::EventId;

/// What RFC 7240 lets a client ask (a wait beyond it is not honoured).
pub const MAX_ASKED_S: u64 = 10;
/// The longest wait applied: `ingest`'s timeout is 10 s.
pub const MAX_APPLIED_S: u64 = 8;
/// How often the event is read while waiting.
pub const POLL: Duration = Duration::from_millis(200);

/// The `wait` preference of a request, in seconds (`Prefer` may list
/// several preferences, comma-separated, and repeat the header; the first
/// `wait` counts). `None` without one, or with one that is not 1–10.
pub fn preference(req: &Request) -> Option<u64> {
    req.headers()
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| {
            let p = p.split(';').next()?.trim();
            let (name, value) = p.split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("wait")
                .then(|| value.trim().trim_matches('"').parse::<u64>().ok())
                .flatten()
        })
        .filter(|n| (1..=MAX_ASKED_S).contains(n))
}

/// Waits up to `seconds` (capped) for the event to end with a lead; the
/// `201` answer then, else `None` (the caller answers as without the
/// preference). A read that fails ends the wait: the lead is not lost,
/// only the early answer.
pub async fn for_lead(scope: &Scope, event_id: &EventId, seconds: u64) -> Option<Response<Body>> {
    let applied = seconds.min(MAX_APPLIED_S);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(applied);
    loop {
        tokio::time::sleep(POLL).await;
        let event = match events::get(scope, event_id.as_str()).await {
            Ok(Some(e)) => e,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(error = %e, "Prefer wait: the event could not be read");
                return None;
            }
        };
        match (event.status, event.lead_id) {
            (EventStatus::Processed | EventStatus::Duplicate, Some(lead_id)) => {
                let lead = match leads::get(scope, lead_id.as_str()).await {
                    Ok(Some(l)) => LeadView::from(l),
                    _ => return None,
                };
                let mut resp = h::json(
                    StatusCode::CREATED,
                    &json!({"eventId": event_id.as_str(), "status": event.status, "leadId": lead_id, "lead": lead}),
                );
                let headers = resp.headers_mut();
                if let Ok(v) = HeaderValue::from_str(&format!("wait={applied}")) {
                    headers.insert("preference-applied", v);
                }
                if let Ok(v) = HeaderValue::from_str(&format!("/v1/events/{event_id}")) {
                    headers.insert(http::header::LOCATION, v);
                }
                return Some(resp);
            }
            (EventStatus::Failed, _) => return None,
            _ => {}
        }
        if tokio::time::Instant::now() + POLL > deadline {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(values: &[&str]) -> Request {
        let mut b = http::Request::builder();
        for v in values {
            b = b.header("prefer", *v);
        }
        b.body(Body::Empty).unwrap()
    }

    #[test]
    fn reads_the_wait_preference() {
        assert_eq!(preference(&with(&["wait=5"])), Some(5));
        assert_eq!(preference(&with(&["respond-async, wait=3"])), Some(3));
        assert_eq!(
            preference(&with(&["handling=lenient", "Wait = 10"])),
            Some(10)
        );
        assert_eq!(preference(&with(&["wait=\"2\""])), Some(2));
        assert_eq!(preference(&with(&["wait=0"])), None);
        assert_eq!(preference(&with(&["wait=11"])), None);
        assert_eq!(preference(&with(&["wait=abc"])), None);
        assert_eq!(preference(&with(&["return=minimal"])), None);
        assert_eq!(preference(&with(&[])), None);
    }
}
