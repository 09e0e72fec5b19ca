//! What an attempt's result means for its delivery: a pure decision, so
//! changing the retry rules needs no emulator.

use std::time::Duration;

use crate::model::deliveries::DeliveryStatus;
use crate::rules::retry;

/// The retry policy in force: the subscription's attempts per round and the
/// deployment's back-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

/// What an attempt came to, as far as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// The receiver's status code; `None` when no answer came.
    pub status_code: Option<u16>,
    /// The receiver's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
}

/// The delivery's next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A 2xx: done.
    Delivered,
    /// Try again after `delay` (this was attempt `in_round` of the round).
    Retry { delay: Duration },
    /// The round's attempts are spent: `dead`, parked in the DLQ.
    Dead,
    /// 410 Gone: `dead`, and the subscription is disabled.
    Gone,
}

impl Next {
    /// The status the delivery is stored with.
    pub fn status(self) -> DeliveryStatus {
        match self {
            Next::Delivered => DeliveryStatus::Delivered,
            Next::Retry { .. } => DeliveryStatus::Pending,
            Next::Dead | Next::Gone => DeliveryStatus::Dead,
        }
    }
}

/// Decides what follows attempt number `in_round` of the current round.
pub fn decide(answered: Answered, in_round: u32, policy: Policy) -> Next {
    match answered.status_code {
        Some(200..=299) => Next::Delivered,
        Some(410) => Next::Gone,
        _ if in_round >= policy.max_attempts => Next::Dead,
        _ => Next::Retry {
            delay: retry::backoff_with_hint(
                in_round,
                policy.base,
                policy.max,
                answered.retry_after,
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: Policy = Policy {
        max_attempts: 4,
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
    };

    fn answered(code: Option<u16>) -> Answered {
        Answered {
            status_code: code,
            retry_after: None,
        }
    }

    #[test]
    fn success_is_delivered_whatever_the_round() {
        for code in [200, 201, 204, 299] {
            assert_eq!(decide(answered(Some(code)), 4, POLICY), Next::Delivered);
        }
    }

    #[test]
    fn gone_ends_at_once() {
        let next = decide(answered(Some(410)), 1, POLICY);
        assert_eq!(next, Next::Gone);
        assert_eq!(next.status(), DeliveryStatus::Dead);
    }

    #[test]
    fn failures_retry_until_the_round_is_spent() {
        for code in [None, Some(500), Some(429), Some(404), Some(301)] {
            for n in 1..POLICY.max_attempts {
                let next = decide(answered(code), n, POLICY);
                assert!(matches!(next, Next::Retry { .. }), "{code:?} {n}");
                assert_eq!(next.status(), DeliveryStatus::Pending);
            }
            assert_eq!(
                decide(answered(code), POLICY.max_attempts, POLICY),
                Next::Dead
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let hinted = Answered {
            status_code: Some(503),
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(
            decide(hinted, 1, POLICY),
            Next::Retry {
                delay: Duration::from_secs(30)
            }
        );
        let too_long = Answered {
            retry_after: Some(Duration::from_secs(3600)),
            ..hinted
        };
        assert_eq!(
            decide(too_long, 1, POLICY),
            Next::Retry { delay: POLICY.max }
        );
    }
}
