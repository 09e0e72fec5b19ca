//! Back-off as data: the delay before attempt `n + 1`, after `n` failures.
//! The schedule of Graph API retries in `process` (and of a subscription
//! written with `maxAttempts` alone, see [`crate::rules::schedule`]):
//! `min(BASE × 2^(n-1), MAX)` less up to 20 % jitter, so a herd of retries
//! spreads out; a `Retry-After` the other side sent (seconds or an
//! HTTP-date) wins, capped at MAX.

use std::time::Duration;

/// The most attempts a subscription may ask for in one round: the first
/// and one per step of the longest schedule.
pub const MAX_MAX_ATTEMPTS: u32 = crate::rules::schedule::MAX_STEPS as u32 + 1;

/// Receives of one lead message before SQS gives up on it: enough that the
/// back-off of `process` (1 s doubling, capped at
/// [`crate::config::DEFAULT_LEAD_RETRY_MAX`]) outlasts a Graph API outage
/// of an hour (checked by a test in `aws::resources`).
pub const LEADS_MAX_RECEIVES: u32 = 20;

/// Receives of one delivery message: derived from the retry schedules
/// (see [`crate::rules::schedule`]).
pub use crate::rules::schedule::DELIVERIES_MAX_RECEIVES;
const _: () = assert!(DELIVERIES_MAX_RECEIVES > MAX_MAX_ATTEMPTS + 1);

/// The delay after the `failures`-th failed attempt before jitter: the
/// longest it can be.
pub fn backoff_ceiling(failures: u32, base: Duration, max: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    base.saturating_mul(1u32 << exp).min(max)
}

/// The shortest the delay after the `failures`-th failure can be (jitter
/// takes off at most a fifth).
pub fn backoff_floor(failures: u32, base: Duration, max: Duration) -> Duration {
    backoff_ceiling(failures, base, max).mul_f64(0.8)
}

/// The delay after the `failures`-th failed attempt (1-based).
pub fn backoff(failures: u32, base: Duration, max: Duration) -> Duration {
    let raw = backoff_ceiling(failures, base, max);
    let mut b = [0u8; 2];
    crate::rules::crypto::fill_random(&mut b);
    let fraction = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) * 0.2;
    raw.mul_f64(1.0 - fraction)
}

/// A `Retry-After` header (RFC 9110 §10.2.3): delay-seconds, or an
/// HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`) read against `now`; a date
/// in the past means now. Anything else is ignored.
pub fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: a number too large for u64 is "a very long time".
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let at =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = at - now;
    Some(if wait.is_negative() {
        Duration::ZERO
    } else {
        wait.unsigned_abs()
    })
}

/// The `Retry-After` of an answer, if it has a usable one.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, time::OffsetDateTime::now_utc())
}

/// The delay, honouring a `Retry-After` up to `max`.
pub fn backoff_with_hint(
    failures: u32,
    base: Duration,
    max: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    match retry_after {
        Some(hint) => hint.min(max),
        None => backoff(failures, base, max),
    }
}

/// An SQS visibility timeout for a delay: whole seconds, rounded up, within
/// SQS's 0–43 200 s.
pub fn visibility_seconds(delay: Duration) -> i32 {
    let secs = delay.as_millis().div_ceil(1000);
    secs.min(43_200) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_doubles_to_the_cap_with_bounded_jitter() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(15));
        let nominal = [1_000u64, 2_000, 4_000, 8_000, 15_000, 15_000];
        for (i, n) in nominal.iter().enumerate() {
            for _ in 0..50 {
                let d = backoff(i as u32 + 1, base, max).as_millis() as u64;
                assert!(d <= *n && d >= n * 8 / 10, "attempt {}: {d} vs {n}", i + 1);
            }
        }
        assert!(backoff(200, base, max) <= max);
    }

    #[test]
    fn retry_after_is_capped() {
        let (base, max) = (Duration::from_secs(1), Duration::from_secs(15));
        assert_eq!(
            backoff_with_hint(1, base, max, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(
            backoff_with_hint(1, base, max, Some(Duration::from_secs(500))),
            max
        );
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = time::macros::datetime!(2026-11-22 20:00:00 UTC);
        let parse = |v: &str| parse_retry_after(v, now);
        assert_eq!(parse("120"), Some(Duration::from_secs(120)));
        assert_eq!(parse(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse("99999999999999999999999"),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse("Sun, 22 Nov 2026 20:01:30 GMT"),
            Some(Duration::from_secs(90))
        );
        assert_eq!(parse("Sun, 22 Nov 2026 19:00:00 GMT"), Some(Duration::ZERO));
        for bad in [
            "",
            "-5",
            "1.5",
            "soon",
            "Sun, 99 Nov 2026 20:01:30 GMT",
            "+3",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        // Whatever it says, the schedule caps it.
        let max = Duration::from_secs(60);
        let hint = parse("Mon, 01 Jan 2035 00:00:00 GMT");
        assert_eq!(backoff_with_hint(1, Duration::from_secs(1), max, hint), max);
    }

    proptest::proptest! {
        #[test]
        fn any_header_value_is_safe(v in "\\PC{0,64}") {
            let now = time::OffsetDateTime::now_utc();
            let _ = parse_retry_after(&v, now);
        }
    }

    #[test]
    fn visibility_rounds_up() {
        assert_eq!(visibility_seconds(Duration::from_millis(800)), 1);
        assert_eq!(visibility_seconds(Duration::from_millis(15_000)), 15);
        assert_eq!(visibility_seconds(Duration::from_secs(100_000)), 43_200);
        assert_eq!(visibility_seconds(Duration::ZERO), 0);
    }
}
