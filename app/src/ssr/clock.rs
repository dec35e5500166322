//! Time as the dashboard stores, shows and compares it: Unix milliseconds in the database
//! (portable across SQLite and PostgreSQL), RFC 3339 on the wire and in CSVs, whole days for
//! sign-in staleness.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Now, as stored: Unix milliseconds.
pub fn now_ms() -> i64 {
    unix_ms(OffsetDateTime::now_utc())
}

/// Now in Unix seconds (session sign-in times).
pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

pub fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A stored time; one out of range reads as the epoch.
pub fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A stored time (Unix milliseconds) as RFC 3339; empty when out of range.
pub fn rfc3339_of_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(format_time)
        .unwrap_or_default()
}

pub fn format_time(value: OffsetDateTime) -> String {
    value.format(&Rfc3339).unwrap_or_default()
}

/// Null, empty and unparseable timestamps all mean "none recorded".
pub fn parse_time(value: Option<&str>) -> Option<OffsetDateTime> {
    value
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

/// Whole days from `t` to `now`; a time in the future counts as today.
pub fn days_since(t: Option<OffsetDateTime>, now: OffsetDateTime) -> Option<i64> {
    t.map(|t| (now - t).whole_days().max(0))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;

    #[test]
    fn seven_fractional_digits_and_empty_values_parse() {
        let t = parse_time(Some("2022-04-20T06:11:11.7227953Z")).unwrap();
        assert_eq!(format_time(t), "2022-04-20T06:11:11.7227953Z");
        assert_eq!(parse_time(Some("")), None);
        assert_eq!(parse_time(Some("  ")), None);
        assert_eq!(parse_time(Some("yesterday")), None);
        assert_eq!(parse_time(None), None);
    }

    #[test]
    fn stored_times_round_trip_and_days_count_whole() {
        let t = OffsetDateTime::from_unix_timestamp(1_767_323_045).unwrap();
        assert_eq!(from_unix_ms(unix_ms(t)), t);
        assert_eq!(rfc3339_of_ms(unix_ms(t)), "2026-01-02T03:04:05Z");
        assert_eq!(days_since(Some(t), t + time::Duration::hours(49)), Some(2));
        assert_eq!(days_since(Some(t + time::Duration::days(1)), t), Some(0));
        assert_eq!(days_since(None, t), None);
    }
}
