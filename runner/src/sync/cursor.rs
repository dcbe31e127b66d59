//! Incremental cursors and resumable listings, stored in `sync_cursors`.

use chrono::{Duration as ChronoDuration, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::config::pipeline::{CursorFormat, Incremental};

/// Where an interrupted listing continues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeState {
    /// Index of the listing segment (date window) in progress.
    pub segment: usize,
    /// The `next` URL of the last committed page.
    pub next: Option<String>,
    /// The highest cursor value seen so far in this listing.
    pub max_cursor: Option<String>,
    /// The `since` value the listing was started with (a resumed listing must use the same).
    pub since: Option<String>,
}

/// The stored state of a pipeline.
#[derive(Debug, Clone, Default)]
pub(super) struct CursorRow {
    /// The committed incremental cursor.
    pub cursor: Option<String>,
    /// An interrupted listing, if any.
    pub resume: Option<ResumeState>,
}

/// Reads the stored state of `pipeline`.
pub(super) async fn load(
    conn: &mut PgConnection,
    pipeline: &str,
) -> Result<CursorRow, sqlx::Error> {
    let row: Option<(Option<String>, Option<sqlx::types::Json<ResumeState>>)> =
        sqlx::query_as("select cursor_value, resume_state from sync_cursors where pipeline = $1")
            .bind(pipeline)
            .fetch_optional(conn)
            .await?;
    Ok(
        row.map_or_else(CursorRow::default, |(cursor, resume)| CursorRow {
            cursor,
            resume: resume.map(|j| j.0),
        }),
    )
}

/// Records progress of a listing (in the transaction of the page it covers).
pub(super) async fn save_resume(
    conn: &mut PgConnection,
    pipeline: &str,
    state: &ResumeState,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into sync_cursors (pipeline, resume_state) values ($1, $2) on conflict (pipeline) do update set resume_state = excluded.resume_state, updated_at = now()",
    )
    .bind(pipeline)
    .bind(sqlx::types::Json(state))
    .execute(conn)
    .await?;
    Ok(())
}

/// Completes a listing: advances the cursor (never backwards) and clears the resume state.
pub(super) async fn finish(
    conn: &mut PgConnection,
    pipeline: &str,
    cursor: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into sync_cursors (pipeline, cursor_value, resume_state) values ($1, $2, null)
         on conflict (pipeline) do update set
           cursor_value = case when sync_cursors.cursor_value is null or excluded.cursor_value > sync_cursors.cursor_value
                               then coalesce(excluded.cursor_value, sync_cursors.cursor_value) else sync_cursors.cursor_value end,
           resume_state = null, updated_at = now()",
    )
    .bind(pipeline)
    .bind(cursor)
    .execute(conn)
    .await?;
    Ok(())
}

/// The `since` value for a run: the stored cursor minus the lookback, written as configured.
pub(super) fn since_value(inc: &Incremental, cursor: &str) -> Option<String> {
    let t = parse(cursor)? - ChronoDuration::seconds(i64::try_from(inc.lookback_secs).unwrap_or(0));
    Some(format(inc.format, t))
}

/// Writes a point in time as the API expects.
pub(super) fn format(fmt: CursorFormat, t: NaiveDateTime) -> String {
    match fmt {
        CursorFormat::Date => t.format("%Y-%m-%d").to_string(),
        CursorFormat::Datetime => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
    }
}

/// Reads a cursor value (`YYYY-MM-DD`, naive or RFC 3339 datetime).
pub fn parse(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.naive_utc())
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok())
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok())
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_the_lookback_and_uses_the_configured_format() {
        let inc = Incremental {
            param: "since".into(),
            field: "$.updated_at".into(),
            lookback_secs: 3600,
            format: CursorFormat::Datetime,
        };
        assert_eq!(
            since_value(&inc, "2024-03-05T14:30:00").as_deref(),
            Some("2024-03-05T13:30:00")
        );
        let d = Incremental {
            format: CursorFormat::Date,
            ..inc
        };
        assert_eq!(
            since_value(&d, "2024-03-05T00:30:00").as_deref(),
            Some("2024-03-04")
        );
        assert_eq!(since_value(&d, "garbage"), None);
    }
}
