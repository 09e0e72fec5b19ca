//! One provider call inside an attempt, and how a sequence of them becomes
//! the attempt's [`AttemptResult`]: the decisive call's status, its
//! `Retry-After`, and a log of every call (method, path, status, the
//! answer's first bytes) as the attempt's response excerpt. Never a URL's
//! query or a credential: paths only.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::deliver::send::{AttemptResult, RESPONSE_SNIPPET_BYTES};
use crate::http::outbound::{self, REQUEST_TIMEOUT};
use crate::rules::retry;

/// How much of a provider's answer is read (JSON bodies are small).
const MAX_ANSWER: usize = 256 * 1024;

/// What one call came to.
#[derive(Debug, Clone)]
pub struct Answer {
    /// `None` when no answer came (refused, timed out).
    pub status: Option<u16>,
    pub body: String,
    pub retry_after: Option<Duration>,
    /// Why no answer came.
    pub error: Option<String>,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_some_and(|c| (200..300).contains(&c))
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// The calls of one attempt, in order.
pub struct Log {
    started: Instant,
    lines: Vec<String>,
}

impl Log {
    pub fn new() -> Self {
        Log {
            started: Instant::now(),
            lines: vec![],
        }
    }

    /// Sends `req` (described as `what`, e.g. `POST /crm/v3/objects/contacts`)
    /// and records it.
    pub async fn call(&mut self, what: &str, req: reqwest::RequestBuilder) -> Answer {
        let answer = fetch(req).await;
        let excerpt: String = answer.body.chars().take(600).collect();
        self.lines.push(match (answer.status, &answer.error) {
            (Some(code), _) => format!("{what} → {code} {excerpt}"),
            (None, Some(e)) => format!("{what} → no answer: {e}"),
            (None, None) => format!("{what} → no answer"),
        });
        answer
    }

    /// Like [`Log::call`], keeping only the status: for answers that carry
    /// a credential (an OAuth token endpoint's).
    pub async fn call_redacted(&mut self, what: &str, req: reqwest::RequestBuilder) -> Answer {
        let answer = fetch(req).await;
        self.lines.push(match (answer.status, &answer.error) {
            (Some(code), _) if (200..300).contains(&code) => format!("{what} → {code} (token)"),
            (Some(code), _) => {
                let excerpt: String = answer.body.chars().take(300).collect();
                format!("{what} → {code} {excerpt}")
            }
            (None, Some(e)) => format!("{what} → no answer: {e}"),
            (None, None) => format!("{what} → no answer"),
        });
        answer
    }

    /// Notes a step that made no call.
    pub fn note(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
    }

    fn response(&self) -> Option<String> {
        let text = self.lines.join("\n");
        let mut end = text.len().min(RESPONSE_SNIPPET_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        (!text.is_empty()).then(|| text[..end].to_owned())
    }

    /// The attempt succeeded.
    pub fn delivered(self, status: u16) -> AttemptResult {
        AttemptResult {
            status_code: Some(status),
            duration: self.started.elapsed(),
            error: None,
            response: self.response(),
            retry_after: None,
        }
    }

    /// The attempt failed on `answer` (its status, or no answer), with
    /// `why` in words.
    pub fn failed_on(self, answer: &Answer, why: impl Into<String>) -> AttemptResult {
        AttemptResult {
            status_code: answer.status,
            duration: self.started.elapsed(),
            error: Some(why.into()),
            response: self.response(),
            retry_after: answer.retry_after,
        }
    }

    /// The attempt failed without an HTTP answer to point at.
    pub fn failed(self, why: impl Into<String>, retry_after: Option<Duration>) -> AttemptResult {
        AttemptResult {
            status_code: None,
            duration: self.started.elapsed(),
            error: Some(why.into()),
            response: self.response(),
            retry_after,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Self::new()
    }
}

/// A failure before any call.
pub fn failed(started: Instant, error: String) -> AttemptResult {
    AttemptResult {
        status_code: None,
        duration: started.elapsed(),
        error: Some(error),
        response: None,
        retry_after: None,
    }
}

async fn fetch(req: reqwest::RequestBuilder) -> Answer {
    let mut resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            let error = if e.is_timeout() {
                format!("timed out after {} s", REQUEST_TIMEOUT.as_secs())
            } else {
                outbound::error_text(e)
            };
            return Answer {
                status: None,
                body: String::new(),
                retry_after: None,
                error: Some(error),
            };
        }
    };
    let status = resp.status().as_u16();
    let mut retry_after = retry::retry_after(resp.headers());
    if status == 429 && retry_after.is_none() {
        // Pipedrive's and others' "seconds until the window resets".
        retry_after = resp
            .headers()
            .get("x-ratelimit-reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| *s <= 86_400)
            .map(Duration::from_secs);
    }
    let mut body = Vec::new();
    while body.len() < MAX_ANSWER {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(MAX_ANSWER - body.len())])
            }
            _ => break,
        }
    }
    Answer {
        status: Some(status),
        body: String::from_utf8_lossy(&body).into_owned(),
        retry_after,
        error: None,
    }
}

/// The standard words for an answer that is not a success.
pub fn describe(provider: &str, answer: &Answer) -> String {
    match (answer.status, &answer.error) {
        (Some(code), _) => format!("{provider} answered HTTP {code}"),
        (None, Some(e)) => format!("{provider} did not answer: {e}"),
        (None, None) => format!("{provider} did not answer"),
    }
}
