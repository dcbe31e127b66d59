//! Full mode: rows whose record is no longer listed upstream are soft-deleted (`deleted_at`),
//! never hard-deleted, and a circuit breaker refuses to delete more than the configured share of
//! a table in one run.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use futures_util::TryStreamExt;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use crate::mapping::CompiledPipeline;
use crate::store::{Ident, StoreError};

/// The canonical text of a natural key, as built from mapped rows and from the database.
pub fn key_text(values: &[Value]) -> String {
    Value::Array(values.to_vec()).to_string()
}

/// What soft-deletion would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DeletePlan {
    /// Rows to soft-delete.
    pub ids: Vec<Uuid>,
    /// Live rows in the table before the run.
    pub live: u64,
}

/// The SQL expression of a row's natural key as a JSON array (`jsonb_build_array(...)`).
pub(super) fn key_array(mapping: &CompiledPipeline) -> Result<String, StoreError> {
    let keys = mapping
        .key
        .iter()
        .map(|k| Ident::new(k).map(|k| k.to_string()))
        .collect::<Result<Vec<_>, _>>()?
        .join(", ");
    Ok(format!("jsonb_build_array({keys})"))
}

/// The canonical key text (as [`key_text`] builds it) of a key array as PostgreSQL prints it.
pub(super) fn canonical_key(printed: &str) -> String {
    serde_json::from_str::<Value>(printed)
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// The keys a complete listing held, as 64-bit hashes of their canonical text (a listing of
/// 200,000 records keeps 200,000 numbers, not strings). Two keys sharing a hash could only
/// spare a row from the soft delete, never delete one.
#[derive(Debug, Default)]
pub(super) struct Seen(HashSet<u64>);

impl Seen {
    /// Notes a key (its [`key_text`]) as listed.
    pub(super) fn insert(&mut self, key_text: &str) {
        self.0.insert(hash(key_text));
    }

    fn contains(&self, key_text: &str) -> bool {
        self.0.contains(&hash(key_text))
    }
}

fn hash(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// The id and key text of the table's live (not soft-deleted) rows.
fn live_sql(mapping: &CompiledPipeline) -> Result<String, StoreError> {
    let key = key_array(mapping)?;
    let table = Ident::new(&mapping.table)?;
    Ok(format!(
        "select id, {key}::text from {table} where deleted_at is null"
    ))
}

/// The live (not soft-deleted) rows of the pipeline's table: id and canonical key text
/// (as [`key_text`] builds it from mapped rows).
pub(super) async fn live_keys(
    conn: &mut PgConnection,
    mapping: &CompiledPipeline,
) -> Result<Vec<(Uuid, String)>, StoreError> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(AssertSqlSafe(live_sql(mapping)?))
        .fetch_all(conn)
        .await
        .map_err(|e| StoreError::from_sqlx("sync", e))?;
    Ok(rows
        .into_iter()
        .map(|(id, k)| (id, canonical_key(&k)))
        .collect())
}

/// Live rows of the table whose key was not `seen`, read as a stream (only those are kept).
pub(super) async fn plan(
    conn: &mut PgConnection,
    mapping: &CompiledPipeline,
    seen: &Seen,
) -> Result<DeletePlan, StoreError> {
    let mut rows =
        sqlx::query_as::<_, (Uuid, String)>(AssertSqlSafe(live_sql(mapping)?)).fetch(conn);
    let (mut live, mut ids) = (0, Vec::new());
    while let Some((id, k)) = rows
        .try_next()
        .await
        .map_err(|e| StoreError::from_sqlx("sync", e))?
    {
        live += 1;
        if !seen.contains(&canonical_key(&k)) {
            ids.push(id);
        }
    }
    Ok(DeletePlan { ids, live })
}

/// Soft-deletes `ids` (the caller's transaction sets the actor).
pub(super) async fn apply(
    conn: &mut PgConnection,
    table: &str,
    ids: &[Uuid],
) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let table = Ident::new(table)?;
    let sql = format!(
        "update {table} set deleted_at = now(), updated_at = now() where id = any($1) and deleted_at is null"
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_sqlx("sync", e))?
        .rows_affected())
}
