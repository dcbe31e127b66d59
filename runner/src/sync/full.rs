//! Full mode: rows whose record is no longer listed upstream are soft-deleted (`deleted_at`),
//! never hard-deleted, and a circuit breaker refuses to delete more than the configured share of
//! a table in one run.

use std::collections::HashSet;

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

/// The live (not soft-deleted) rows of the pipeline's table: id and canonical key text
/// (as [`key_text`] builds it from mapped rows).
pub(super) async fn live_keys(
    conn: &mut PgConnection,
    mapping: &CompiledPipeline,
) -> Result<Vec<(Uuid, String)>, StoreError> {
    let key = key_array(mapping)?;
    let table = Ident::new(&mapping.table)?;
    let sql = format!("select id, {key}::text from {table} where deleted_at is null");
    let rows: Vec<(Uuid, String)> = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_all(conn)
        .await
        .map_err(|e| StoreError::from_sqlx("sync", e))?;
    Ok(rows
        .into_iter()
        .map(|(id, k)| (id, canonical_key(&k)))
        .collect())
}

/// Live rows of the table whose key was not `seen`.
pub(super) async fn plan(
    conn: &mut PgConnection,
    mapping: &CompiledPipeline,
    seen: &HashSet<String>,
) -> Result<DeletePlan, StoreError> {
    let rows = live_keys(conn, mapping).await?;
    let live = rows.len() as u64;
    let ids = rows
        .into_iter()
        .filter(|(_, k)| !seen.contains(k))
        .map(|(id, _)| id)
        .collect();
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
