//! Back-off as data: the delay before attempt `n + 1`, after `n` failures.
//! One schedule for Graph API retries in `process` and for deliveries:
//! `min(BASE × 2^(n-1), MAX)` less up to 20 % jitter, so a herd of retries
//! spreads out; a `Retry-After` the other side sent wins, capped at MAX.

use std::time::Duration;

/// The delay after the `failures`-th failed attempt (1-based).
pub fn backoff(failures: u32, base: Duration, max: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    let raw = base.saturating_mul(1u32 << exp).min(max);
    let mut b = [0u8; 2];
    crate::crypto::fill_random(&mut b);
    let fraction = f64::from(u16::from_le_bytes(b)) / f64::from(u16::MAX) * 0.2;
    raw.mul_f64(1.0 - fraction)
}

/// The delay, honouring a `Retry-After` (seconds) up to `max`.
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
    fn visibility_rounds_up() {
        assert_eq!(visibility_seconds(Duration::from_millis(800)), 1);
        assert_eq!(visibility_seconds(Duration::from_millis(15_000)), 15);
        assert_eq!(visibility_seconds(Duration::from_secs(100_000)), 43_200);
        assert_eq!(visibility_seconds(Duration::ZERO), 0);
    }
}
