//! A delivery's retry schedule, as data (Svix's way): the delays in
//! seconds before each retry. `[5, 300, 1800, 7200, 18000, 36000, 36000]`
//! is 8 attempts over about 27.6 hours. A subscription stores its own
//! (`retrySchedule`) or the default; `maxAttempts` is its length + 1, and a
//! subscription written with `maxAttempts` alone gets an exponential
//! schedule of that length (the deployment's base, doubling to its cap).
//!
//! Each step is jittered (up to a fifth less, so a herd spreads out); a
//! `Retry-After` the receiver sent wins, capped at the schedule's longest
//! step. SQS hides a message for at most 12 hours: a longer wait is chained
//! (the message comes back, finds the attempt not due yet, and waits the
//! rest), and the receives that costs are counted here, so the deliveries
//! queue's `maxReceiveCount` ([`DELIVERIES_MAX_RECEIVES`]) holds every
//! schedule that validates, by construction.

use std::time::Duration;

/// The most steps (retries) a schedule may have.
pub const MAX_STEPS: usize = 20;
/// The shortest and the longest step, seconds.
pub const MIN_STEP_S: u32 = 1;
pub const MAX_STEP_S: u32 = 86_400;
/// The longest a whole schedule may last, seconds (7 days).
pub const MAX_TOTAL_S: u64 = 7 * 86_400;
/// SQS's ceiling on a message's visibility timeout, seconds (12 hours).
pub const SQS_MAX_VISIBILITY_S: u32 = 43_200;

/// The default: Svix's schedule, about 27.6 hours.
pub const DEFAULT_STEPS: [u32; 7] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// Receives one step takes: the attempt's own, and one per 12-hour hop of
/// a wait longer than SQS hides a message.
const fn receives_for_step(step_s: u32) -> u32 {
    step_s.div_ceil(SQS_MAX_VISIBILITY_S)
}

/// Receives the longest valid schedule takes: the first attempt, then each
/// of [`MAX_STEPS`] steps at [`MAX_STEP_S`].
pub const MAX_SCHEDULE_RECEIVES: u32 = 1 + MAX_STEPS as u32 * receives_for_step(MAX_STEP_S);

/// Room beyond the schedule's own receives: waits behind another copy's
/// claim and transient AWS errors, each of which costs a receive.
pub const RECEIVE_MARGIN: u32 = 10;

/// `maxReceiveCount` of the deliveries queue: every valid schedule's
/// receives plus the margin. `deliver` ends a delivery `dead` and parks it
/// itself at the last receive, so SQS never dead-letters a delivery that
/// still says `pending`.
pub const DELIVERIES_MAX_RECEIVES: u32 = MAX_SCHEDULE_RECEIVES + RECEIVE_MARGIN;

/// The work queues keep a message at least this long: past the longest
/// schedule (7 days) by a day, or a round's message would expire mid-way
/// (SQS counts retention from the first send, whatever the visibility
/// changes). Terraform's `message_retention_seconds` is checked against it.
pub const MIN_QUEUE_RETENTION_S: u64 = MAX_TOTAL_S + 86_400;

/// A validated schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(Vec<u32>);

/// Why a schedule was refused (the message names the rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule(DEFAULT_STEPS.to_vec())
    }
}

impl Schedule {
    /// Checks `steps`: at most [`MAX_STEPS`], each 1 s – 24 h, in total at
    /// most 7 days. An empty schedule is one attempt, no retry.
    pub fn new(steps: Vec<u32>) -> Result<Self, Invalid> {
        if steps.len() > MAX_STEPS {
            return Err(Invalid(format!("must have at most {MAX_STEPS} steps")));
        }
        if let Some(bad) = steps
            .iter()
            .find(|s| !(MIN_STEP_S..=MAX_STEP_S).contains(s))
        {
            return Err(Invalid(format!(
                "each step must be from {MIN_STEP_S} to {MAX_STEP_S} seconds (24 hours), got {bad}"
            )));
        }
        let total: u64 = steps.iter().map(|s| u64::from(*s)).sum();
        if total > MAX_TOTAL_S {
            return Err(Invalid(format!(
                "must last at most {MAX_TOTAL_S} seconds (7 days) in total, got {total}"
            )));
        }
        Ok(Schedule(steps))
    }

    /// `max_attempts` attempts (1–21) on an exponential schedule: `base`
    /// doubling to `cap`, in whole `unit`s (at least one; `unit` is a
    /// second outside tests) — what `maxAttempts` meant before schedules.
    pub fn exponential(
        max_attempts: u32,
        base: Duration,
        cap: Duration,
        unit: Duration,
    ) -> Result<Self, Invalid> {
        if !(1..=MAX_STEPS as u32 + 1).contains(&max_attempts) {
            return Err(Invalid(format!(
                "must be a whole number from 1 to {}",
                MAX_STEPS + 1
            )));
        }
        let unit_ms = unit.as_millis().max(1);
        let steps = (1..max_attempts)
            .map(|n| {
                let d = crate::rules::retry::backoff_ceiling(n, base, cap);
                let s = d.as_millis().div_ceil(unit_ms).max(1);
                u32::try_from(s).unwrap_or(MAX_STEP_S).min(MAX_STEP_S)
            })
            .collect();
        Self::new(steps)
    }

    /// The delays, seconds.
    pub fn steps(&self) -> &[u32] {
        &self.0
    }

    /// Attempts in one round: the first and one per step.
    pub fn max_attempts(&self) -> u32 {
        self.0.len() as u32 + 1
    }

    /// The longest step, in `unit`s (what a `Retry-After` is capped at).
    pub fn longest(&self, unit: Duration) -> Duration {
        unit.saturating_mul(self.0.iter().copied().max().unwrap_or(0))
    }

    /// The whole schedule's length, in `unit`s: how long a round keeps
    /// trying.
    pub fn total(&self, unit: Duration) -> Duration {
        unit.saturating_mul(self.0.iter().copied().sum())
    }

    /// Receives a round takes when every attempt fails (see the module).
    pub fn receives(&self) -> u32 {
        1 + self.0.iter().map(|s| receives_for_step(*s)).sum::<u32>()
    }

    /// The delay before the next attempt after attempt `in_round` failed:
    /// its step (in `unit`s) less up to a fifth, or the receiver's
    /// `Retry-After` capped at the longest step; `None` when the round is
    /// spent.
    pub fn delay(
        &self,
        in_round: u32,
        retry_after: Option<Duration>,
        unit: Duration,
    ) -> Option<Duration> {
        let i = usize::try_from(in_round.checked_sub(1)?).ok()?;
        let step = unit.saturating_mul(*self.0.get(i)?);
        Some(match retry_after {
            Some(hint) => hint.min(self.longest(unit)),
            None => jittered(step),
        })
    }
}

/// A schedule written as text (the console's field): whole seconds
/// separated by commas or spaces; `None` when a part is not one.
pub fn parse_list(text: &str) -> Option<Vec<u32>> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().ok())
        .collect()
}

/// A span in words: `5 s`, `30 min`, `2 h`, `1 d 3 h`.
pub fn words(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "min"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, u)| format!("{n} {u}"))
        .collect();
    if parts.is_empty() {
        "0 s".into()
    } else {
        parts.join(" ")
    }
}

impl Schedule {
    /// The schedule in words: `8 attempts over 1 d 3 h (5 s, 5 min, …)`.
    pub fn describe(&self) -> String {
        let total: u64 = self.0.iter().map(|s| u64::from(*s)).sum();
        let steps: Vec<String> = self.0.iter().map(|s| words(u64::from(*s))).collect();
        format!(
            "{} attempts over {} ({})",
            self.max_attempts(),
            words(total),
            if steps.is_empty() {
                "no retry".into()
            } else {
                steps.join(", ")
            }
        )
    }
}

/// Up to a fifth off `d`, at random.
fn jittered(d: Duration) -> Duration {
    let mut b = [0u8; 2];
    crate::rules::crypto::fill_random(&mut b);
    let fraction = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) * 0.2;
    d.mul_f64(1.0 - fraction)
}

/// The part of a wait SQS can hide a message for; the rest is chained.
pub fn hop(wait: Duration) -> Duration {
    wait.min(Duration::from_secs(u64::from(SQS_MAX_VISIBILITY_S)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_default_spans_a_day_and_more() {
        let s = Schedule::default();
        assert!(s.total(SECOND) >= Duration::from_secs(86_400));
        assert_eq!(s.max_attempts(), 8);
        assert_eq!(s.total(SECOND), Duration::from_secs(99_305));
        assert!(Schedule::new(DEFAULT_STEPS.to_vec()).is_ok());
    }

    #[test]
    fn validation_names_each_rule() {
        assert!(Schedule::new(vec![]).is_ok());
        assert!(
            Schedule::new(vec![1; 21])
                .unwrap_err()
                .0
                .contains("20 steps")
        );
        assert!(Schedule::new(vec![0]).unwrap_err().0.contains("from 1"));
        assert!(
            Schedule::new(vec![86_401])
                .unwrap_err()
                .0
                .contains("24 hours")
        );
        assert!(
            Schedule::new(vec![86_400; 8])
                .unwrap_err()
                .0
                .contains("7 days")
        );
        assert!(Schedule::new(vec![86_400; 7]).is_ok());
    }

    #[test]
    fn max_attempts_is_an_exponential_schedule_of_that_length() {
        let (base, cap) = (Duration::from_secs(1), Duration::from_secs(15));
        let s = Schedule::exponential(4, base, cap, SECOND).unwrap();
        assert_eq!(s.steps(), &[1, 2, 4]);
        assert_eq!(s.max_attempts(), 4);
        let s = Schedule::exponential(7, base, cap, SECOND).unwrap();
        assert_eq!(s.steps(), &[1, 2, 4, 8, 15, 15]);
        let sub_second = Schedule::exponential(3, Duration::from_millis(50), cap, SECOND).unwrap();
        assert_eq!(sub_second.steps(), &[1, 1]);
        // A compressed unit keeps the same delays.
        let ms10 = Duration::from_millis(10);
        let compressed = Schedule::exponential(4, base, cap, ms10).unwrap();
        assert_eq!(compressed.steps(), &[100, 200, 400]);
        assert_eq!(compressed.total(ms10), Duration::from_secs(7));
        let one = Schedule::exponential(1, base, cap, SECOND).unwrap();
        assert_eq!(one.steps(), &[] as &[u32]);
        assert!(Schedule::exponential(0, base, cap, SECOND).is_err());
        assert!(Schedule::exponential(22, base, cap, SECOND).is_err());
    }

    #[test]
    fn delays_follow_the_steps_with_bounded_jitter() {
        let s = Schedule::default();
        for (i, step) in DEFAULT_STEPS.iter().enumerate() {
            let nominal = Duration::from_secs(u64::from(*step));
            for _ in 0..20 {
                let d = s.delay(i as u32 + 1, None, SECOND).unwrap();
                assert!(d <= nominal && d >= nominal.mul_f64(0.8), "{i}: {d:?}");
            }
        }
        assert_eq!(s.delay(8, None, SECOND), None, "the round is spent");
        assert_eq!(s.delay(0, None, SECOND), None);
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_longest_step() {
        let s = Schedule::new(vec![5, 60]).unwrap();
        assert_eq!(
            s.delay(1, Some(Duration::from_secs(30)), SECOND),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            s.delay(1, Some(Duration::from_secs(3_600)), SECOND),
            Some(Duration::from_secs(60))
        );
        assert_eq!(s.delay(3, Some(Duration::from_secs(1)), SECOND), None);
    }

    #[test]
    fn receives_cover_every_valid_schedule() {
        let worst = Schedule::new(vec![MAX_STEP_S; 7]).unwrap();
        assert_eq!(worst.receives(), 15);
        let many = Schedule::new(vec![30_240; 20]).unwrap();
        assert!(many.receives() <= MAX_SCHEDULE_RECEIVES);
        assert_eq!(Schedule::default().receives(), 8);
        assert_eq!(DELIVERIES_MAX_RECEIVES, 51);
        assert_eq!(
            hop(Duration::from_secs(86_400)),
            Duration::from_secs(43_200)
        );
    }

    #[test]
    fn text_and_words() {
        assert_eq!(parse_list("5, 300 1800"), Some(vec![5, 300, 1800]));
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(parse_list("5, soon"), None);
        assert_eq!(parse_list("-1"), None);
        assert_eq!(
            Schedule::default().describe(),
            "8 attempts over 1 d 3 h (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)"
        );
        assert_eq!(
            Schedule::new(vec![]).unwrap().describe(),
            "1 attempts over 0 s (no retry)"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_valid_schedule_fits_the_queue(steps in proptest::collection::vec(0u32..100_000, 0..25)) {
            if let Ok(s) = Schedule::new(steps) {
                proptest::prop_assert!(s.receives() + RECEIVE_MARGIN <= DELIVERIES_MAX_RECEIVES);
                proptest::prop_assert!(s.total(SECOND).as_secs() <= MAX_TOTAL_S);
                proptest::prop_assert!(s.max_attempts() <= MAX_STEPS as u32 + 1);
            }
        }
    }
}
