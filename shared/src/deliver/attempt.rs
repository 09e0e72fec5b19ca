//! What an attempt's result means for its delivery: a pure decision, so
//! changing the retry rules needs no emulator.

use std::time::Duration;

use crate::model::deliveries::DeliveryStatus;
use crate::rules::schedule::Schedule;

/// The retry policy in force: the subscription's schedule, and how long
/// one of its seconds lasts (a second, outside tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy<'a> {
    pub schedule: &'a Schedule,
    pub unit: Duration,
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
    /// The round's schedule is spent: `dead`, parked in the DLQ.
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
pub fn decide(answered: Answered, in_round: u32, policy: Policy<'_>) -> Next {
    match answered.status_code {
        Some(200..=299) => Next::Delivered,
        Some(410) => Next::Gone,
        _ => match policy
            .schedule
            .delay(in_round, answered.retry_after, policy.unit)
        {
            Some(delay) => Next::Retry { delay },
            None => Next::Dead,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule::new(vec![1, 2, 60]).unwrap()
    }

    fn policy(schedule: &Schedule) -> Policy<'_> {
        Policy {
            schedule,
            unit: Duration::from_secs(1),
        }
    }

    fn answered(code: Option<u16>) -> Answered {
        Answered {
            status_code: code,
            retry_after: None,
        }
    }

    #[test]
    fn success_is_delivered_whatever_the_round() {
        let s = schedule();
        for code in [200, 201, 204, 299] {
            assert_eq!(decide(answered(Some(code)), 4, policy(&s)), Next::Delivered);
        }
    }

    #[test]
    fn gone_ends_at_once() {
        let s = schedule();
        let next = decide(answered(Some(410)), 1, policy(&s));
        assert_eq!(next, Next::Gone);
        assert_eq!(next.status(), DeliveryStatus::Dead);
    }

    #[test]
    fn failures_retry_until_the_schedule_is_spent() {
        let s = schedule();
        for code in [None, Some(500), Some(429), Some(404), Some(301)] {
            for n in 1..s.max_attempts() {
                let next = decide(answered(code), n, policy(&s));
                assert!(matches!(next, Next::Retry { .. }), "{code:?} {n}");
                assert_eq!(next.status(), DeliveryStatus::Pending);
            }
            assert_eq!(
                decide(answered(code), s.max_attempts(), policy(&s)),
                Next::Dead
            );
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_longest_step() {
        let s = schedule();
        let hinted = Answered {
            status_code: Some(503),
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(
            decide(hinted, 1, policy(&s)),
            Next::Retry {
                delay: Duration::from_secs(30)
            }
        );
        let too_long = Answered {
            retry_after: Some(Duration::from_secs(3600)),
            ..hinted
        };
        assert_eq!(
            decide(too_long, 1, policy(&s)),
            Next::Retry {
                delay: Duration::from_secs(60)
            }
        );
    }
}
