//! Timestamp helpers: DrChrono serves naive local datetimes (`YYYY-MM-DDTHH:MM:SS`) and
//! plain dates (`YYYY-MM-DD`), without offsets.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

/// The wire format of DrChrono datetimes.
pub const DATETIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";
/// The wire format of DrChrono dates.
pub const DATE_FORMAT: &str = "%Y-%m-%d";

/// Formats a datetime the way DrChrono does.
pub fn fmt_datetime(t: NaiveDateTime) -> String {
    t.format(DATETIME_FORMAT).to_string()
}

/// Formats a date the way DrChrono does.
pub fn fmt_date(d: NaiveDate) -> String {
    d.format(DATE_FORMAT).to_string()
}

/// Midnight at the start of a date.
pub fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_time(NaiveTime::MIN)
}

/// Today's date in UTC: the default anchor of generated data.
pub fn today_utc() -> NaiveDate {
    Utc::now().date_naive()
}

/// The current wall-clock time as naive UTC, truncated to whole seconds.
pub fn now_utc() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.with_nanosecond(0).unwrap_or(now)
}

/// Parses a `since`-style bound: either `YYYY-MM-DD` (midnight) or `YYYY-MM-DDTHH:MM:SS`
/// (a space instead of `T` and fractional seconds are accepted too). Returns `None` if invalid.
pub fn parse_bound(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, DATE_FORMAT) {
        return Some(midnight(d));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// Parses a stored DrChrono datetime string; `None` for empty or malformed values.
pub fn parse_datetime(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, DATETIME_FORMAT).ok()
}

/// Parses a `YYYY-MM-DD` date; `None` if invalid.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), DATE_FORMAT).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_accept_dates_and_datetimes() {
        let d = parse_bound("2024-03-05").expect("date");
        assert_eq!(fmt_datetime(d), "2024-03-05T00:00:00");
        let t = parse_bound("2024-03-05T10:11:12").expect("datetime");
        assert_eq!(fmt_datetime(t), "2024-03-05T10:11:12");
        assert!(parse_bound("2024-03-05 10:11:12.5").is_some());
        assert!(parse_bound("yesterday").is_none());
        assert!(parse_bound("2024-13-01").is_none());
    }

    #[test]
    fn now_has_no_fraction() {
        assert_eq!(now_utc().nanosecond(), 0);
    }
}
