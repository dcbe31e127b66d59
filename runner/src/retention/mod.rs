//! Retention of what the runner keeps about its own work:
//!
//! - the Pub/Sub dedupe ids (`processed_messages`) are purged after 7 days;
//! - the audit tables (`change_log`, `sync_log`, `access_log`) are partitioned by month: the
//!   partitions of the coming months are created ahead, partitions older than the hot period
//!   are archived to Cloud Storage ([`archive`]) and detached, and archived partitions are
//!   dropped after `keep_years` (7).
//!
//! [`run_once`] does what the connected role may: every role purges and creates partitions
//! (through SECURITY DEFINER functions); only the owner of the audit tables archives, detaches
//! and drops (in the GCP topology, the `runner retention` job; in the embedded topology,
//! `runner serve` itself). `runner serve` runs it daily in every role ([`spawn_daily`]).

pub mod archive;
pub mod partitions;

use chrono::{DateTime, Datelike as _, Months, NaiveDate, Utc};
use sqlx::PgPool;
use tokio::task::JoinHandle;

use crate::app::Shutdown;
use crate::config::retention::Retention;
use crate::gcp::{Storage, StorageError};
use crate::store::StoreError;
use crate::telemetry::events;

pub use archive::Archived;
pub use partitions::{AUDIT_TABLES, Partition};

/// Why a retention run failed. Partition names, statuses and counts only.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// A database step failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The upload (or the check of an existing object) failed; nothing was detached.
    #[error("archive of {partition} failed: {source}")]
    Upload {
        /// The partition.
        partition: String,
        /// What Cloud Storage answered.
        #[source]
        source: StorageError,
    },
    /// The object in Cloud Storage is not what was built; nothing was detached.
    #[error("archive of {partition} does not verify: {what}")]
    Mismatch {
        /// The partition.
        partition: String,
        /// Which check failed.
        what: String,
    },
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Processed Pub/Sub message ids deleted.
    pub purged_messages: i64,
    /// Monthly partitions created ahead.
    pub partitions_created: i32,
    /// Partitions archived and detached.
    pub archived: Vec<Archived>,
    /// Archived partitions dropped after `keep_years`.
    pub dropped: Vec<String>,
    /// Why archiving was skipped, if it was.
    pub archive_skipped: Option<&'static str>,
}

/// Deletes processed Pub/Sub message ids older than 7 days; returns how many.
pub async fn purge_processed(pool: &PgPool) -> Result<i64, StoreError> {
    sqlx::query_scalar("select purge_processed_messages()")
        .fetch_one(pool)
        .await
        .map_err(|e| StoreError::from_sqlx("purge processed_messages", e))
}

/// One retention run at `now`. `storage` is where archives go (required when
/// `settings.archive_bucket` is set). Stops at the first archive that fails: that partition
/// and the later ones stay attached, and nothing is dropped in that run.
pub async fn run_once(
    pool: &PgPool,
    settings: &Retention,
    storage: Option<&Storage>,
    now: DateTime<Utc>,
) -> Result<RetentionReport, RetentionError> {
    let mut report = RetentionReport {
        purged_messages: purge_processed(pool).await?,
        ..RetentionReport::default()
    };
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| StoreError::from_sqlx("acquire", e))?;
    report.partitions_created = partitions::ensure(&mut conn, settings.months_ahead).await?;
    let bucket = settings.archive_bucket.trim();
    let storage = if bucket.is_empty() {
        Err("no archive bucket is configured (retention.archive_bucket)")
    } else if !partitions::owns_audit_tables(&mut conn).await? {
        Err("this database role does not own the audit tables; the retention job archives")
    } else {
        storage.ok_or("no Cloud Storage client")
    };
    let storage = match storage {
        Ok(s) => s,
        Err(why) => {
            report.archive_skipped = Some(why);
            return Ok(report);
        }
    };
    // One archiver at a time: the job and an embedded server may overlap.
    let locked: bool =
        sqlx::query_scalar("select pg_try_advisory_lock(hashtext('runner:retention'))")
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| StoreError::from_sqlx("retention lock", e))?;
    if !locked {
        report.archive_skipped = Some("another retention run holds the lock");
        return Ok(report);
    }
    let result =
        archive_and_drop(pool, &mut conn, settings, storage, bucket, now, &mut report).await;
    let _ = sqlx::query("select pg_advisory_unlock(hashtext('runner:retention'))")
        .execute(&mut *conn)
        .await;
    result.map(|()| report)
}

async fn archive_and_drop(
    pool: &PgPool,
    conn: &mut sqlx::PgConnection,
    settings: &Retention,
    storage: &Storage,
    bucket: &str,
    now: DateTime<Utc>,
    report: &mut RetentionReport,
) -> Result<(), RetentionError> {
    let today = now.date_naive();
    let hot_from = months_before(today, settings.hot_months);
    for parent in AUDIT_TABLES {
        for p in partitions::attached(conn, parent).await? {
            if p.end() > hot_from {
                continue;
            }
            match archive::archive(pool, storage, bucket, &p).await {
                Ok(done) => {
                    tracing::info!(event = events::RETENTION_ARCHIVED, table = parent, partition = %done.partition, rows = done.rows, bytes = done.bytes, "Audit partition archived and detached.");
                    report.archived.push(done);
                }
                Err(e) => {
                    tracing::error!(event = events::RETENTION_FAILED, table = parent, partition = %p.name, reason = %e, "Audit archive failed; the partition stays attached.");
                    return Err(e);
                }
            }
        }
    }
    let drop_before = months_before(today, settings.keep_years.saturating_mul(12));
    report.dropped = drop_expired(conn, drop_before).await?;
    Ok(())
}

/// Drops detached, archived partitions whose month ended before `before`; returns their names.
async fn drop_expired(
    conn: &mut sqlx::PgConnection,
    before: NaiveDate,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select partition, parent from audit_archives \
         where detached_at is not null and dropped_at is null \
           and month + interval '1 month' <= $1 order by partition",
    )
    .bind(before)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| StoreError::from_sqlx("list expired archives", e))?;
    let mut dropped = Vec::new();
    for (name, parent) in rows {
        let Some(parent) = AUDIT_TABLES.iter().copied().find(|t| *t == parent) else {
            continue;
        };
        let Some(p) = Partition::parse(parent, &name) else {
            continue;
        };
        let sql = format!("drop table if exists public.{}", p.ident()?);
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::from_sqlx("drop an expired audit partition", e))?;
        sqlx::query("update audit_archives set dropped_at = now() where partition = $1")
            .bind(&name)
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::from_sqlx("record a dropped partition", e))?;
        dropped.push(name);
    }
    Ok(dropped)
}

/// The first day of the month `months` months before the month of `day`.
fn months_before(day: NaiveDate, months: u32) -> NaiveDate {
    let first = day.with_day0(0).unwrap_or(day);
    first
        .checked_sub_months(Months::new(months))
        .unwrap_or(NaiveDate::MIN)
}

/// Runs [`run_once`] at start-up and then on `settings.cron` until `stop`. A failed run is
/// logged (the `retention_failed` event) and retried at the next fire.
pub fn spawn_daily(
    pool: PgPool,
    settings: Retention,
    storage: Option<std::sync::Arc<Storage>>,
    mut stop: Shutdown,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let cron = crate::schedule::parse_schedule(&settings.cron).ok();
        loop {
            match run_once(&pool, &settings, storage.as_deref(), Utc::now()).await {
                Ok(r) => tracing::info!(
                    purged = r.purged_messages,
                    created = r.partitions_created,
                    archived = r.archived.len(),
                    dropped = r.dropped.len(),
                    archive_skipped = r.archive_skipped.unwrap_or("-"),
                    "Retention run finished."
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "Retention run failed; retrying at the next fire.");
                }
            }
            let wait = cron
                .as_ref()
                .and_then(|c| c.find_next_occurrence(&Utc::now(), false).ok())
                .and_then(|next| (next - Utc::now()).to_std().ok())
                .unwrap_or(std::time::Duration::from_secs(24 * 3600));
            tokio::select! {
                () = stop.wait() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_before_counts_whole_months_from_the_first_of_the_month() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(months_before(d(2026, 11, 27), 13), d(2025, 10, 1));
        assert_eq!(months_before(d(2026, 1, 31), 1), d(2025, 12, 1));
        assert_eq!(months_before(d(2026, 11, 27), 84), d(2019, 11, 1));
    }
}
