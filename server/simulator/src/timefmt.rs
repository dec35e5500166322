//! Timestamp formats used on the wire.

use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Partner Center style: UTC, 7 fractional digits, `Z` (e.g. `2021-08-06T21:15:04.3461507Z`).
pub(crate) fn format_ticks(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:07}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() / 100
    )
}

/// Graph style (`innerError.date`, relationship dates): UTC, whole seconds, `Z`.
pub(crate) fn format_graph(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Entra error `timestamp` style: `2024-05-01 12:34:56Z`.
pub(crate) fn format_entra(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// An OData date-time literal: RFC 3339 (`2024-01-01T00:00:00Z`, fractions and offsets allowed)
/// or a bare date (`2024-01-01`, midnight UTC).
pub(crate) fn parse_datetime(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let mut parts = text.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    if text.len() != 10 {
        return None;
    }
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    Some(PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc())
}

/// The instant `ticks` (100 ns units) after the Unix epoch.
pub(crate) fn from_ticks(ticks: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ticks) * 100)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// 100 ns ticks since the Unix epoch.
pub(crate) fn to_ticks(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 100) as i64
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]
mod tests {
    use super::*;

    #[test]
    fn seven_fraction_digits() {
        let t = OffsetDateTime::parse("2021-08-06T21:15:04.3461507Z", &Rfc3339).unwrap();
        assert_eq!(format_ticks(t), "2021-08-06T21:15:04.3461507Z");
        assert_eq!(
            format_ticks(from_ticks(to_ticks(t))),
            "2021-08-06T21:15:04.3461507Z"
        );
        assert_eq!(format_entra(t), "2021-08-06 21:15:04Z");
    }

    #[test]
    fn parses_odata_literals() {
        assert!(parse_datetime("2024-01-01T00:00:00Z").is_some());
        assert!(parse_datetime("2024-01-01T00:00:00.1234567+02:00").is_some());
        assert_eq!(
            parse_datetime("2024-01-01"),
            parse_datetime("2024-01-01T00:00:00Z")
        );
        assert!(parse_datetime("2024-13-01").is_none());
        assert!(parse_datetime("yesterday").is_none());
        assert!(parse_datetime("2024-01-011").is_none());
    }
}
