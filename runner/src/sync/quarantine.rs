//! The quarantine: source records a run could not write (PostgreSQL refused a value, or the
//! record fails mapping). They wait in `quarantine` with the reason (names and SQLSTATE only)
//! while the rest of their page is written and the cursor moves on, so one bad record never
//! holds up every other patient's changes. `runner replay --quarantine` writes them again once
//! the data or the mapping is fixed; `verify` and `/health` count what waits.

use serde_json::Value;
use sqlx::{PgConnection, PgPool};

use super::ACTOR;
use crate::config::Plan;
use crate::store::{StoreError, UpsertCounts, set_actor};
use crate::telemetry::events;

/// One waiting record (its content is not shown: it is patient data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// `quarantine.id`.
    pub id: i64,
    /// The pipeline.
    pub pipeline: String,
    /// The record's id.
    pub record_key: String,
    /// Why it was refused.
    pub reason: String,
    /// Attempts so far.
    pub attempts: i32,
}

fn db(op: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| StoreError::from_sqlx(op, e)
}

/// Puts `record` of `pipeline` in the quarantine (or updates its entry), in the caller's
/// transaction, and logs the `record_quarantined` event.
pub async fn put(
    conn: &mut PgConnection,
    pipeline: &str,
    record_key: &str,
    reason: &str,
    record: &Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into quarantine (pipeline, record_key, reason, record) values ($1, $2, $3, $4) \
         on conflict (pipeline, record_key) do update set reason = excluded.reason, \
             record = excluded.record, attempts = quarantine.attempts + 1, \
             last_attempt_at = now(), resolved_at = null",
    )
    .bind(pipeline)
    .bind(record_key)
    .bind(reason)
    .bind(record)
    .execute(conn)
    .await
    .map_err(db("quarantine a record"))?;
    tracing::warn!(
        event = events::RECORD_QUARANTINED,
        pipeline,
        record_key,
        reason,
        "Record quarantined; the rest of the page was written."
    );
    Ok(())
}

/// Open entries, oldest first (all pipelines, or the ids given).
pub async fn open(pool: &PgPool, ids: &[i64]) -> Result<Vec<Quarantined>, StoreError> {
    let rows: Vec<(i64, String, String, String, i32)> = sqlx::query_as(
        "select id, pipeline, record_key, reason, attempts from quarantine \
         where resolved_at is null and (cardinality($1::bigint[]) = 0 or id = any($1)) order by id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
    .map_err(db("list the quarantine"))?;
    Ok(rows
        .into_iter()
        .map(|(id, pipeline, record_key, reason, attempts)| Quarantined {
            id,
            pipeline,
            record_key,
            reason,
            attempts,
        })
        .collect())
}

/// Open entries per pipeline.
pub async fn open_counts(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, StoreError> {
    sqlx::query_as(
        "select pipeline, count(*) from quarantine where resolved_at is null group by pipeline order by 1",
    )
    .fetch_all(conn)
    .await
    .map_err(db("count the quarantine"))
}

/// What a replay of the quarantine did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuarantineReplay {
    /// Entries written and resolved.
    pub resolved: u64,
    /// Rows written.
    pub counts: UpsertCounts,
    /// Entries that failed again: id and reason.
    pub failed: Vec<(i64, String)>,
}

/// Maps and writes every open entry (or the ids given) again with the current config, each
/// in its own transaction under the sync's actor. A record that a webhook wrote meanwhile is
/// not overwritten by the older quarantined copy (the upsert's read-time guard).
pub async fn replay(
    pool: &PgPool,
    plan: &Plan,
    ids: &[i64],
) -> Result<QuarantineReplay, StoreError> {
    let mut report = QuarantineReplay::default();
    let entries: Vec<(i64, String, Value, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "select id, pipeline, record, last_attempt_at from quarantine \
         where resolved_at is null and (cardinality($1::bigint[]) = 0 or id = any($1)) order by id",
    )
    .bind(ids)
    .fetch_all(pool)
    .await
    .map_err(db("read the quarantine"))?;
    for (id, pipeline, record, read_at) in entries {
        let Some(p) = plan.pipeline(&pipeline) else {
            report
                .failed
                .push((id, format!("unknown pipeline {pipeline}")));
            continue;
        };
        let mut tx = pool.begin().await.map_err(db("begin"))?;
        set_actor(&mut tx, ACTOR).await?;
        let written = match p.mapping.map_record(&record) {
            Err(e) => Err(e.to_string()),
            Ok(rows) => {
                let mapped = vec![(0, rows)];
                let out = super::page::write(&mut tx, &p.upsert, &mapped, Some(read_at)).await?;
                match out.refused.into_iter().next() {
                    Some((_, reason)) => Err(reason),
                    None => Ok(out.counts),
                }
            }
        };
        match written {
            Ok(counts) => {
                if counts.inserted > 0 {
                    crate::link::relink::resolve_children(
                        &mut tx,
                        &plan.relations,
                        &p.mapping.table,
                    )
                    .await?;
                }
                if counts.inserted + counts.updated > 0 {
                    crate::link::after_upsert(&mut tx, &plan.link_rules, &p.mapping.table).await?;
                }
                sqlx::query("update quarantine set resolved_at = now(), last_attempt_at = now(), attempts = attempts + 1 where id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("resolve a quarantined record"))?;
                report.resolved += 1;
                report.counts += counts;
            }
            Err(reason) => {
                sqlx::query("update quarantine set reason = $2, last_attempt_at = now(), attempts = attempts + 1 where id = $1")
                    .bind(id)
                    .bind(&reason)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("record a failed replay"))?;
                report.failed.push((id, reason));
            }
        }
        tx.commit().await.map_err(db("commit"))?;
    }
    Ok(report)
}
