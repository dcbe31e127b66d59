//! One `access_log` row per outbound call: system, method, path template (ids and query values
//! removed), status and latency. It is what the "DrChrono auth error" alert watches.

use std::time::Duration;

use sqlx::PgPool;

/// Writes access-log rows.
#[derive(Debug, Clone)]
pub struct AccessLog {
    pool: Option<PgPool>,
    system: String,
}

impl AccessLog {
    /// Logs calls of `system` into `pool` (no pool: a dry run that records nothing).
    pub fn new(pool: Option<PgPool>, system: &str) -> Self {
        AccessLog {
            pool,
            system: system.to_string(),
        }
    }

    /// Records one call. A failure to log is reported and never fails the call itself.
    pub async fn record(
        &self,
        method: &str,
        url: &str,
        status: Option<u16>,
        latency: Duration,
        pipeline: Option<&str>,
    ) {
        let Some(pool) = &self.pool else { return };
        // Committed without waiting for the WAL flush (`synchronous_commit` off for this one
        // statement's transaction): the row is visible at once, and only a crash of the
        // database server can lose the last moments of rows, as it loses the sync's own
        // writes of those moments. A flush per call was most of a small page's round trip.
        let res = sqlx::query(
            "insert into access_log (system, method, path_template, status_code, latency_ms, pipeline) \
             select $1, $2, $3, $4, $5, $6 from (select set_config('synchronous_commit', 'off', true)) s",
        )
        .bind(&self.system)
        .bind(method)
        .bind(path_template(url))
        .bind(status.map(i32::from))
        .bind(i64::try_from(latency.as_millis()).unwrap_or(i64::MAX))
        .bind(pipeline)
        .execute(pool)
        .await;
        if let Err(e) = res {
            let e = crate::store::StoreError::from_sqlx("write access_log", e);
            tracing::warn!(system = %self.system, error = %e, "Could not write access_log.");
        }
    }
}

/// The path of `url` with every segment that holds a digit replaced by `{id}` and the query
/// dropped: `https://h/api/patients/123?cursor=x` -> `/api/patients/{id}`.
pub fn path_template(url: &str) -> String {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = match without_scheme.find('/') {
        Some(i) if url.contains("://") => &without_scheme[i..],
        _ => without_scheme,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/')
        .map(|seg| {
            if seg.chars().any(|c| c.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::path_template;

    #[test]
    fn ids_and_query_values_never_reach_the_log() {
        assert_eq!(
            path_template("https://drchrono.com/api/patients/123?cursor=abc&since=2024"),
            "/api/patients/{id}"
        );
        assert_eq!(
            path_template(
                "http://127.0.0.1:4000/api/appointments?date_range=2024-01-01/2024-06-01"
            ),
            "/api/appointments"
        );
        assert_eq!(path_template("/o/token/"), "/o/token/");
        assert_eq!(
            path_template("https://coda.io/apis/v1/docs/d1/tables/grid-x/rows"),
            "/apis/{id}/docs/{id}/tables/grid-x/rows"
        );
    }
}
