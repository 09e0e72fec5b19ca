//! Wall-clock time in the one format the API speaks: RFC 3339, UTC,
//! millisecond precision (`2026-04-22T10:15:00.000Z`).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Seconds since the Unix epoch.
pub fn now_s() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// An RFC 3339 timestamp for a Unix time in milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
    let (h, mi, s, milli) = (t.hour(), t.minute(), t.second(), t.millisecond());
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// Now, as RFC 3339.
pub fn now_rfc3339() -> String {
    rfc3339(now_ms())
}

/// Now, as RFC 3339, but strictly after `previous` (two edits within one
/// millisecond still move an `updatedAt`, which optimistic writes rely on).
pub fn now_after(previous: &str) -> String {
    let now = now_ms();
    match parse_rfc3339(previous) {
        Some(p) if p >= now => rfc3339(p + 1),
        _ => rfc3339(now),
    }
}

/// Parses an RFC 3339 timestamp into Unix milliseconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let ms = 1_776_852_900_123;
        let s = rfc3339(ms);
        assert_eq!(s, "2026-04-22T10:15:00.123Z");
        assert_eq!(parse_rfc3339(&s), Some(ms));
    }
}
