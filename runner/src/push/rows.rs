//! The PostgreSQL side of a push: current rows of a source table (as `to_jsonb`, read in UTC
//! so timestamps are stable), the old values of hard-deleted rows (from `change_log`), and
//! the confirmed content hashes in `coda_pushed_rows`.

use std::collections::HashMap;

use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

use super::error::PushError;
use crate::store::Ident;

/// A source row: its id and its columns.
#[derive(Debug, Clone)]
pub(crate) struct SourceRow {
    /// The row's `id`.
    pub id: Uuid,
    /// Every column, as `to_jsonb` gives it.
    pub values: Map<String, Value>,
}

impl SourceRow {
    /// True when `deleted_at` is set.
    pub(crate) fn is_deleted(&self) -> bool {
        self.values.get("deleted_at").is_some_and(|v| !v.is_null())
    }
}

/// What Coda last confirmed for a row.
#[derive(Debug, Clone)]
pub(crate) struct Pushed {
    /// The content hash.
    pub hash: String,
    /// The Coda row id, when known.
    pub coda_row_id: Option<String>,
}

fn decode(rows: Vec<Value>) -> Vec<SourceRow> {
    rows.into_iter()
        .filter_map(|v| match v {
            Value::Object(values) => {
                let id = values.get("id")?.as_str()?.parse().ok()?;
                Some(SourceRow { id, values })
            }
            _ => None,
        })
        .collect()
}

/// A transaction whose session time zone is UTC, so `to_jsonb` writes timestamps in UTC.
async fn utc_transaction(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, PushError> {
    let mut tx = pool.begin().await.map_err(PushError::store("begin"))?;
    sqlx::query("set local timezone to 'UTC'")
        .execute(&mut *tx)
        .await
        .map_err(PushError::store("set timezone"))?;
    Ok(tx)
}

/// The rows of `source` with these ids (missing ids were hard-deleted).
pub(crate) async fn read_by_ids(
    pool: &PgPool,
    source: &Ident,
    ids: &[Uuid],
) -> Result<Vec<SourceRow>, PushError> {
    let sql = format!("select to_jsonb(t) from {source} t where t.id = any($1)");
    let mut tx = utc_transaction(pool).await?;
    let rows: Vec<Value> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(PushError::store("read rows"))?;
    tx.commit().await.map_err(PushError::store("commit"))?;
    Ok(decode(rows))
}

/// One page of `source` ordered by id, after `after` (keyset paging for full pushes).
pub(crate) async fn read_page(
    pool: &PgPool,
    source: &Ident,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SourceRow>, PushError> {
    let sql = format!(
        "select to_jsonb(t) from {source} t where $1::uuid is null or t.id > $1 order by t.id limit $2"
    );
    let mut tx = utc_transaction(pool).await?;
    let rows: Vec<Value> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(PushError::store("read rows"))?;
    tx.commit().await.map_err(PushError::store("commit"))?;
    Ok(decode(rows))
}

/// The last known columns of hard-deleted rows: the old values of their `DELETE` audit rows.
pub(crate) async fn deleted_rows(
    pool: &PgPool,
    table: &str,
    ids: &[Uuid],
) -> Result<Vec<SourceRow>, PushError> {
    let rows: Vec<(Uuid, Option<Value>)> = sqlx::query_as(
        "select distinct on (record_id) record_id, old_values from change_log where table_name = $1 and record_id = any($2) and operation = 'DELETE' order by record_id, id desc",
    )
    .bind(table)
    .bind(ids)
    .fetch_all(pool)
    .await
    .map_err(PushError::store("read deleted rows"))?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, v)| match v {
            Some(Value::Object(mut values)) => {
                // Marks the row deleted whatever its columns said.
                values.insert("deleted_at".into(), Value::Bool(true));
                Some(SourceRow { id, values })
            }
            _ => None,
        })
        .collect())
}

/// Confirmed hashes of a Coda table: of `ids`, or of every row when `ids` is `None`.
pub(crate) async fn hashes(
    pool: &PgPool,
    coda_table: &str,
    ids: Option<&[Uuid]>,
) -> Result<HashMap<Uuid, Pushed>, PushError> {
    let rows: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
        "select record_id, content_hash, coda_row_id from coda_pushed_rows where coda_table = $1 and ($2::uuid[] is null or record_id = any($2))",
    )
    .bind(coda_table)
    .bind(ids)
    .fetch_all(pool)
    .await
    .map_err(PushError::store("read hashes"))?;
    Ok(rows
        .into_iter()
        .map(|(id, hash, coda_row_id)| (id, Pushed { hash, coda_row_id }))
        .collect())
}

/// Records confirmed hashes.
pub(crate) async fn record_hashes(
    pool: &PgPool,
    coda_table: &str,
    rows: &[(Uuid, String)],
) -> Result<(), PushError> {
    let (ids, hashes): (Vec<Uuid>, Vec<String>) = rows.iter().cloned().unzip();
    sqlx::query(
        "insert into coda_pushed_rows (coda_table, record_id, content_hash) select $1, * from unnest($2::uuid[], $3::text[]) on conflict (coda_table, record_id) do update set content_hash = excluded.content_hash, pushed_at = now()",
    )
    .bind(coda_table)
    .bind(&ids)
    .bind(&hashes)
    .execute(pool)
    .await
    .map_err(PushError::store("record hashes"))?;
    Ok(())
}

/// Forgets the hashes of rows removed from Coda.
pub(crate) async fn drop_hashes(
    pool: &PgPool,
    coda_table: &str,
    ids: &[Uuid],
) -> Result<(), PushError> {
    sqlx::query("delete from coda_pushed_rows where coda_table = $1 and record_id = any($2)")
        .bind(coda_table)
        .bind(ids)
        .execute(pool)
        .await
        .map_err(PushError::store("drop hashes"))?;
    Ok(())
}

/// Records what reconcile found Coda holding: the content hash and the Coda row id of rows
/// whose synced cells equal PostgreSQL.
pub(crate) async fn record_rows(
    pool: &PgPool,
    coda_table: &str,
    rows: &[(Uuid, String, String)],
) -> Result<(), PushError> {
    let mut ids = Vec::with_capacity(rows.len());
    let mut hashes = Vec::with_capacity(rows.len());
    let mut row_ids = Vec::with_capacity(rows.len());
    for (id, hash, row) in rows {
        ids.push(*id);
        hashes.push(hash.as_str());
        row_ids.push(row.as_str());
    }
    sqlx::query(
        "insert into coda_pushed_rows (coda_table, record_id, content_hash, coda_row_id) select $1, * from unnest($2::uuid[], $3::text[], $4::text[]) on conflict (coda_table, record_id) do update set content_hash = excluded.content_hash, coda_row_id = excluded.coda_row_id, pushed_at = now()",
    )
    .bind(coda_table)
    .bind(&ids)
    .bind(&hashes)
    .bind(&row_ids)
    .execute(pool)
    .await
    .map_err(PushError::store("record reconciled rows"))?;
    Ok(())
}
