//! The health page's chart of sync runs over the last 24 hours: inline SVG drawn on the server
//! (no script, no library), one stacked bar per hour, succeeded runs in green under failed ones
//! in red, with a text title for screen readers and a tooltip per bar. Everything in it is a
//! number or a time: it holds no record data.

use std::fmt::Write as _;

use chrono::{DateTime, Duration, DurationRound, Utc};

/// Runs that started in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hour {
    /// Runs that succeeded.
    pub succeeded: i64,
    /// Runs that failed.
    pub failed: i64,
}

const WIDTH: i64 = 720;
const HEIGHT: i64 = 120;
const AXIS: i64 = 16;
const BAR: i64 = WIDTH / 24;

/// The 24 hourly buckets ending with the hour of `now`, from `(hour start, succeeded, failed)`
/// rows (rows outside the window are ignored).
pub(super) fn buckets(now: DateTime<Utc>, rows: &[(DateTime<Utc>, i64, i64)]) -> [Hour; 24] {
    let current = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let mut out = [Hour::default(); 24];
    for (start, ok, failed) in rows {
        let back = (current - *start).num_hours();
        if (0..24).contains(&back) {
            let h = &mut out[23 - back as usize];
            h.succeeded += ok;
            h.failed += failed;
        }
    }
    out
}

/// The chart as an `<svg>` element, the last bucket being the hour of `now`.
pub(super) fn svg(now: DateTime<Utc>, hours: &[Hour; 24]) -> String {
    let current = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    let ok: i64 = hours.iter().map(|h| h.succeeded).sum();
    let failed: i64 = hours.iter().map(|h| h.failed).sum();
    let max = hours
        .iter()
        .map(|h| h.succeeded + h.failed)
        .max()
        .unwrap_or(0)
        .max(1);
    let plot = HEIGHT - AXIS;
    let mut s = String::with_capacity(8192);
    let _ = write!(
        s,
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" \
         xmlns=\"http://www.w3.org/2000/svg\" aria-labelledby=\"chart-title\">\
         <title id=\"chart-title\">Sync runs in the last 24 hours: {ok} succeeded, {failed} failed</title>\
         <line x1=\"0\" y1=\"{plot}\" x2=\"{WIDTH}\" y2=\"{plot}\" stroke=\"#8a8f98\" stroke-width=\"1\"/>"
    );
    for (i, h) in hours.iter().enumerate() {
        let x = i as i64 * BAR + 2;
        let start = current - Duration::hours(23 - i as i64);
        let ok_h = h.succeeded * plot / max;
        let failed_h = h.failed * plot / max;
        let _ = write!(
            s,
            "<g><title>{} UTC: {} succeeded, {} failed</title>",
            start.format("%H:00"),
            h.succeeded,
            h.failed
        );
        if h.succeeded > 0 {
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#2e7d32\"/>",
                plot - ok_h,
                BAR - 4,
                ok_h.max(1)
            );
        }
        if h.failed > 0 {
            let _ = write!(
                s,
                "<rect x=\"{x}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#c62828\"/>",
                plot - ok_h - failed_h.max(1),
                BAR - 4,
                failed_h.max(1)
            );
        }
        s.push_str("</g>");
        if i % 6 == 0 {
            let _ = write!(
                s,
                "<text x=\"{x}\" y=\"{}\" font-size=\"11\" fill=\"#3c4043\">{}</text>",
                HEIGHT - 3,
                start.format("%H:00")
            );
        }
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_fall_in_their_hour_and_the_chart_says_what_it_shows() {
        let now = DateTime::parse_from_rfc3339("2026-03-05T14:25:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let hour = |h: i64| now.duration_trunc(Duration::hours(1)).unwrap() - Duration::hours(h);
        let b = buckets(now, &[(hour(0), 3, 1), (hour(5), 2, 0), (hour(30), 9, 9)]);
        assert_eq!(
            b[23],
            Hour {
                succeeded: 3,
                failed: 1
            }
        );
        assert_eq!(
            b[18],
            Hour {
                succeeded: 2,
                failed: 0
            }
        );
        assert_eq!(b.iter().map(|h| h.succeeded).sum::<i64>(), 5);
        let svg = svg(now, &b);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("5 succeeded, 1 failed"));
        assert!(svg.contains("14:00 UTC: 3 succeeded, 1 failed"));
        assert_eq!(svg.matches("fill=\"#c62828\"").count(), 1);
    }
}
