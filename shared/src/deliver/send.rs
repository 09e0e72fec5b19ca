//! One signed attempt: the body (the subscription's template, or the
//! default body frozen at fan-out), the Standard Webhooks and
//! `X-Leadpipe-*` headers, the POST through the SSRF-guarded client, and
//! what came back.

use std::time::{Duration, Instant};

use super::destinations;
use crate::app::App;
use crate::http::outbound::{self, REQUEST_TIMEOUT};
use crate::model::event_type::EventType;
use crate::model::events::Source;
use crate::model::subscriptions::{Credentials, Subscription};
use crate::rules::{clock, retry, signing, ssrf};

/// How much of a receiver's answer is kept with an attempt.
pub const RESPONSE_SNIPPET_BYTES: usize = 4096;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    pub status_code: Option<u16>,
    pub duration: Duration,
    pub error: Option<String>,
    pub response: Option<String>,
    pub retry_after: Option<Duration>,
}

impl AttemptResult {
    pub fn delivered(&self) -> bool {
        self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// What an attempt's record says of a request that got no answer. Never
/// the URL: a webhook URL may carry a secret in its path or query (see
/// [`crate::http::outbound`]).
fn failure_text(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("timed out after {} s", REQUEST_TIMEOUT.as_secs());
    }
    let connect = e.is_connect();
    let text = outbound::error_text(e);
    if connect {
        format!(
            "could not connect: {}",
            text.rsplit(": ").next().unwrap_or("refused")
        )
    } else {
        format!("request failed: {text}")
    }
}

/// Every header of one attempt at `body`, signed now: the subscription's
/// custom and auth headers, then the Standard Webhooks and `X-Leadpipe-*`
/// ones, which nothing configured can override. The CLI listener
/// ([`crate::admin::listeners`]) forwards exactly these.
pub fn signed_headers(
    creds: &Credentials,
    delivery_id: &str,
    kind: EventType,
    source: &Source,
    attempt: u32,
    body: &[u8],
) -> http::HeaderMap {
    let timestamp = clock::now_s();
    let (standard, body_sig) = signing::sign(&creds.keys, delivery_id, timestamp, body);
    let mut headers = http::HeaderMap::new();
    for (name, value) in creds.headers.iter().chain(creds.auth.iter()) {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.insert(n, v);
        }
    }
    // Inserted last: nothing configured can override them.
    let fixed: [(&str, String); 9] = [
        ("content-type", "application/json".into()),
        ("webhook-id", delivery_id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", standard),
        ("x-leadpipe-signature", body_sig),
        ("x-leadpipe-event", kind.as_str().to_owned()),
        ("x-leadpipe-source", source.type_name().to_owned()),
        ("x-leadpipe-delivery-id", delivery_id.to_owned()),
        ("x-leadpipe-attempt", attempt.to_string()),
    ];
    for (name, value) in fixed {
        if let Ok(v) = http::HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    headers
}

/// Sends one signed attempt. Never fails: every problem is in the result.
pub async fn send(
    app: &App,
    sub: &Subscription,
    delivery_id: &str,
    kind: EventType,
    source: &Source,
    payload: &str,
    attempt: u32,
) -> AttemptResult {
    // A native destination (Slack, HubSpot…) is its kind's to send.
    if let Some(dest) = destinations::Kind::of(sub) {
        return Box::pin(destinations::send(
            app,
            sub,
            dest,
            delivery_id,
            kind,
            payload,
            attempt,
        ))
        .await;
    }
    let started = Instant::now();
    let fail = |error: String| AttemptResult {
        status_code: None,
        duration: started.elapsed(),
        error: Some(error),
        response: None,
        retry_after: None,
    };
    let target = match ssrf::check_url(&sub.url, app.config.allow_private_targets) {
        Ok(t) => t,
        Err(e) => return fail(format!("url refused: {e}")),
    };
    let secrets = match app.secrets.get().await {
        Ok(s) => s,
        Err(e) => return fail(format!("secrets unavailable: {e}")),
    };
    let creds = match sub.credentials(&secrets.data_key, clock::now_ms()) {
        Ok(c) => c,
        Err(e) => return fail(format!("subscription secrets unreadable: {e}")),
    };
    let body = sub.body_for(kind, payload);
    let headers = signed_headers(&creds, delivery_id, kind, source, attempt, body.as_bytes());
    let client = match app.webhook_client() {
        Ok(c) => c,
        Err(e) => return fail(e.to_string()),
    };
    let result = client
        .post(target.url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => return fail(failure_text(e)),
    };
    let status = resp.status().as_u16();
    let retry_after = retry::retry_after(resp.headers());
    let mut snippet = Vec::new();
    while snippet.len() < RESPONSE_SNIPPET_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => snippet.extend_from_slice(
                &chunk[..chunk.len().min(RESPONSE_SNIPPET_BYTES - snippet.len())],
            ),
            _ => break,
        }
    }
    let error = match status {
        200..=299 => None,
        300..=399 => Some(format!("HTTP {status}: redirects are not followed")),
        _ => Some(format!("HTTP {status}")),
    };
    AttemptResult {
        status_code: Some(status),
        duration: started.elapsed(),
        error,
        response: (!snippet.is_empty()).then(|| String::from_utf8_lossy(&snippet).into_owned()),
        retry_after,
    }
}
