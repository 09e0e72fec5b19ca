//! A webhook key's rate limit: at most `limit` requests per clock minute.
//!
//! A fixed one-minute window is one counter item per key and minute,
//! bumped with a conditional `ADD` (see `model::keys::admit`): one write
//! unit per admitted request, nothing written for a refused one. Its known
//! edge is that of every fixed window: up to twice the limit can pass
//! within one minute that straddles two windows.

/// The highest limit a key may carry: one window item takes at most this
/// many writes a minute (500 a second, half of what one DynamoDB partition
/// takes), so a limited key never throttles its own window.
pub const MAX_PER_MINUTE: u32 = 30_000;

const WINDOW_MS: i64 = 60_000;

/// The minute a request falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Minutes since the Unix epoch.
    pub index: i64,
    /// Whole seconds until the next window opens (1–60): the `Retry-After`
    /// of a refused request.
    pub retry_after_s: u64,
    /// When the window's counter may be forgotten (Unix seconds): a minute
    /// after the window ends.
    pub expires_at_s: i64,
}

impl Window {
    pub fn at(now_ms: i64) -> Self {
        let index = now_ms.div_euclid(WINDOW_MS);
        let end_ms = (index + 1) * WINDOW_MS;
        let left_ms = end_ms - now_ms;
        Window {
            index,
            retry_after_s: u64::try_from((left_ms + 999) / 1000)
                .unwrap_or(1)
                .clamp(1, 60),
            expires_at_s: end_ms / 1000 + 60,
        }
    }
}

/// What a valid limit is, in words.
pub const LIMIT_RULE: &str = "must be a whole number from 1 to 30000, or null for no limit";

/// Checks a limit as a client sets it.
pub fn check_limit(limit: u64) -> Result<u32, String> {
    match u32::try_from(limit) {
        Ok(n) if (1..=MAX_PER_MINUTE).contains(&n) => Ok(n),
        _ => Err(LIMIT_RULE.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn window_edges() {
        let w = Window::at(120_000);
        assert_eq!((w.index, w.retry_after_s, w.expires_at_s), (2, 60, 240));
        let w = Window::at(179_999);
        assert_eq!((w.index, w.retry_after_s), (2, 1));
        let w = Window::at(179_001);
        assert_eq!(w.retry_after_s, 1);
        let w = Window::at(178_999);
        assert_eq!(w.retry_after_s, 2);
    }

    #[test]
    fn limits() {
        assert!(LIMIT_RULE.contains(&MAX_PER_MINUTE.to_string()));
        assert_eq!(check_limit(1), Ok(1));
        assert_eq!(check_limit(30_000), Ok(30_000));
        for bad in [0, 30_001, u64::from(u32::MAX) + 1] {
            assert!(check_limit(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn retry_after_reaches_the_next_window(now in 0i64..4_000_000_000_000) {
            let w = Window::at(now);
            prop_assert!((1..=60).contains(&w.retry_after_s));
            let later = Window::at(now + w.retry_after_s as i64 * 1000);
            prop_assert_eq!(later.index, w.index + 1);
            prop_assert!(w.expires_at_s * 1000 > now + 60_000);
        }
    }
}
