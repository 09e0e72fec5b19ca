//! What a failure while processing an event means for its message: a pure
//! mapping, so the retry rules are tested without the emulator.
//!
//! * permanent — the event can never become a lead (unreadable input, a
//!   Graph 4xx, a Meta lead that fails validation): it ends `FAILED` with
//!   the reason, and the message is deleted;
//! * transient — it may work later (throttling, a timeout, Graph 5xx/429):
//!   the message comes back after the back-off (a `Retry-After` wins, up to
//!   the cap), and past `maxReceiveCount` SQS moves it to the leads DLQ.

use std::time::Duration;

use crate::aws::batch::Outcome;
use crate::error::FieldIssue;
use crate::providers::meta::GraphError;
use crate::rules::retry;

/// Why an event could not be processed this time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Permanent(String),
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
}

impl Failure {
    pub fn transient(reason: impl Into<String>) -> Self {
        Failure::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// A lead from Meta that fails Leadpipe's field rules.
    pub fn invalid_meta_lead(issues: &[FieldIssue]) -> Self {
        let list: Vec<String> = issues
            .iter()
            .map(|i| format!("{}: {}", i.field, i.issue))
            .collect();
        Failure::Permanent(format!(
            "the lead from Meta is not valid ({})",
            list.join("; ")
        ))
    }
}

impl From<GraphError> for Failure {
    fn from(e: GraphError) -> Self {
        match e {
            GraphError::Transient {
                reason,
                retry_after,
            } => Failure::Transient {
                reason,
                retry_after,
            },
            GraphError::Permanent(reason) => Failure::Permanent(reason),
        }
    }
}

/// The back-off in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The message comes back after the back-off for its `attempt`-th
    /// receive, or after `hint` (capped) when the other side named a time.
    pub fn retry(self, attempt: u32, reason: String, hint: Option<Duration>) -> Outcome {
        Outcome::Retry {
            delay: retry::backoff_with_hint(attempt, self.base, self.max, hint),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(300),
    };

    #[test]
    fn graph_errors_keep_their_nature() {
        assert_eq!(
            Failure::from(GraphError::Permanent("HTTP 400".into())),
            Failure::Permanent("HTTP 400".into())
        );
        assert_eq!(
            Failure::from(GraphError::Transient {
                reason: "HTTP 503".into(),
                retry_after: Some(Duration::from_secs(7)),
            }),
            Failure::Transient {
                reason: "HTTP 503".into(),
                retry_after: Some(Duration::from_secs(7)),
            }
        );
    }

    #[test]
    fn invalid_meta_leads_fail_with_every_issue() {
        let f = Failure::invalid_meta_lead(&[
            FieldIssue::new("email", "not a valid address"),
            FieldIssue::new("phone", "too short"),
        ]);
        assert_eq!(
            f,
            Failure::Permanent(
                "the lead from Meta is not valid (email: not a valid address; phone: too short)"
                    .into()
            )
        );
    }

    #[test]
    fn retries_grow_and_honour_the_hint_up_to_the_cap() {
        let delay = |attempt, hint| match BACKOFF.retry(attempt, "x".into(), hint) {
            Outcome::Retry { delay, .. } => delay,
            Outcome::Done => panic!("a retry"),
        };
        // 20 % jitter at most below the schedule: 1 s, 2 s, 4 s…
        assert!(delay(1, None) <= Duration::from_secs(1));
        assert!(delay(3, None) >= Duration::from_millis(3200));
        assert!(delay(30, None) <= BACKOFF.max);
        assert_eq!(
            delay(1, Some(Duration::from_secs(42))),
            Duration::from_secs(42)
        );
        assert_eq!(delay(1, Some(Duration::from_secs(86_400))), BACKOFF.max);
    }
}
