//! The batched upsert: one statement per batch writes new rows, updates rows that really
//! changed, leaves identical rows alone and refuses stale versions.
//!
//! The caller opens the transaction and sets the actor ([`set_actor`](super::set_actor)), so
//! that the upsert, its audit rows, its outbox events and the cursor advance commit together.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::ops::AddAssign;
use std::sync::Arc;

use serde_json::{Map, Value};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::StoreError;
use super::sql::build_upsert;
use crate::config::field_type::FieldType;

/// Where and how a batch of rows is upserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertTarget {
    /// The table. It must follow the synced-table conventions: `id uuid`, a UNIQUE constraint
    /// on the key, and the bookkeeping columns `updated_at`, `synced_at`, `deleted_at`.
    pub table: String,
    /// The natural key columns (the table's UNIQUE constraint); each must be mapped.
    pub key: Vec<String>,
    /// The version column (e.g. `source_updated_at`): a row whose stored version is newer is
    /// not overwritten. `None` disables the guard.
    pub version: Option<String>,
    /// The mapped columns, keys and version included. `created_at`, `updated_at`,
    /// `synced_at` and `source_digest` are maintained by the store and may not be mapped.
    pub columns: Vec<UpsertColumn>,
    /// Store each row's source digest (migration 0018): the table has a `source_digest bytea`
    /// column and each row carries the digest as hex text under [`SOURCE_DIGEST`] (a row
    /// without one stores NULL). A row whose values are unchanged but whose digest differs
    /// gets the new digest and counts as unchanged: no `updated_at`, no audit, no event.
    pub digest: bool,
}

/// The bookkeeping column (and row key) of the source digest; see [`UpsertTarget::digest`].
pub const SOURCE_DIGEST: &str = "source_digest";

/// One mapped column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertColumn {
    /// The column name, which is also the row's JSON key.
    pub name: String,
    /// The type the row's JSON value is read as (for a lookup: the source id's type).
    pub ty: FieldType,
    /// Resolve a source id to a local foreign key instead of storing the value as is.
    pub lookup: Option<Lookup>,
}

/// Resolves a local foreign key: the row carries the SOURCE id (typed by the column's `ty`);
/// the stored value is `(SELECT id FROM {table} WHERE {by} = value)`, NULL when not found (a
/// child may arrive before its parent; soft-deleted parents still resolve).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The parent table; its primary key must be `id`.
    pub table: String,
    /// The parent column holding the source id, e.g. `drchrono_id` (should be UNIQUE).
    pub by: String,
}

/// What a batch did. Duplicate keys within one batch count once (the last occurrence wins).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    /// New rows.
    pub inserted: u64,
    /// Existing rows that changed (undeleted rows included).
    pub updated: u64,
    /// Existing rows identical to the incoming ones: nothing written, nothing audited.
    pub unchanged: u64,
    /// Incoming rows older than the stored version: ignored.
    pub stale: u64,
}

impl UpsertCounts {
    /// All rows accounted for.
    pub fn total(&self) -> u64 {
        self.inserted + self.updated + self.unchanged + self.stale
    }
}

impl AddAssign for UpsertCounts {
    fn add_assign(&mut self, other: Self) {
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.stale += other.stale;
    }
}

/// An upsert statement built once for a target and reused for every batch (PostgreSQL
/// prepares it once per connection too).
#[derive(Debug, Clone)]
pub struct PreparedUpsert {
    table: String,
    key: Vec<String>,
    sql: Arc<str>,
}

impl PreparedUpsert {
    /// Validates the target's names and builds its statement.
    pub fn new(target: &UpsertTarget) -> Result<Self, StoreError> {
        Ok(Self {
            table: target.table.clone(),
            key: target.key.clone(),
            sql: build_upsert(target)?.into(),
        })
    }

    /// The statement's SQL text (for diagnostics and benchmarks).
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Upserts one batch in a single statement on `conn`, which should be inside a
    /// transaction with an actor set. Rows are JSON objects keyed by column name whose values
    /// are already coerced (see [`FieldType`]); a missing key is NULL.
    ///
    /// Duplicate natural keys inside the batch would make PostgreSQL fail ("ON CONFLICT DO
    /// UPDATE command cannot affect row a second time"), so they are removed here first,
    /// keeping the last occurrence: the latest delivery of a record wins, as it would have
    /// across two batches.
    pub async fn execute(
        &self,
        conn: &mut PgConnection,
        rows: &[Map<String, Value>],
    ) -> Result<UpsertCounts, StoreError> {
        self.execute_read_at(conn, rows, None).await
    }

    /// [`PreparedUpsert::execute`] for a batch read from the source at `read_at`: a stored row
    /// written after that moment (`synced_at` later, by a webhook processed meanwhile) is newer
    /// than the batch and is not overwritten; it counts as stale. This guards tables whose
    /// source has no version field, where a listing fetched before a change must not undo it.
    pub async fn execute_read_at<R: Borrow<Map<String, Value>> + Sync>(
        &self,
        conn: &mut PgConnection,
        rows: &[R],
        read_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<UpsertCounts, StoreError> {
        if rows.is_empty() {
            return Ok(UpsertCounts::default());
        }
        let batch = dedupe_keep_last(&self.table, &self.key, rows)?;
        let row = sqlx::query(AssertSqlSafe(Arc::clone(&self.sql)))
            .bind(Json(&batch))
            .bind(read_at)
            .fetch_one(conn)
            .await
            .map_err(|e| StoreError::from_sqlx(format!("upsert into {}", self.table), e))?;
        let count = |i: usize| -> Result<u64, StoreError> {
            let n: i64 = row
                .try_get(i)
                .map_err(|e| StoreError::from_sqlx(format!("upsert into {}", self.table), e))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let (inserted, written, stale, digest_only) = (count(0)?, count(1)?, count(2)?, count(3)?);
        let updated = written.saturating_sub(digest_only);
        let distinct = batch.len() as u64;
        Ok(UpsertCounts {
            inserted,
            updated,
            stale,
            unchanged: distinct.saturating_sub(inserted + updated + stale),
        })
    }
}

/// Upserts one batch into `target` (builds the statement each call: callers that upsert many
/// batches into the same target should keep a [`PreparedUpsert`]).
pub async fn upsert_batch(
    conn: &mut PgConnection,
    target: &UpsertTarget,
    rows: &[Map<String, Value>],
) -> Result<UpsertCounts, StoreError> {
    PreparedUpsert::new(target)?.execute(conn, rows).await
}

/// Returns the rows with unique natural keys, keeping the last occurrence of each key and the
/// batch order otherwise. Fails on a row with a missing or null key value.
fn dedupe_keep_last<'a, R: Borrow<Map<String, Value>>>(
    table: &str,
    key: &[String],
    rows: &'a [R],
) -> Result<Vec<&'a Map<String, Value>>, StoreError> {
    let mut last: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    let mut sigs = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().map(Borrow::borrow).enumerate() {
        let mut sig = String::new();
        for column in key {
            match row.get(column) {
                Some(v) if !v.is_null() => {
                    // JSON text is unambiguous (strings are quoted and escaped).
                    sig.push_str(&v.to_string());
                    sig.push('\u{1f}');
                }
                _ => {
                    return Err(StoreError::MissingKey {
                        table: table.to_owned(),
                        row: i,
                        column: column.clone(),
                    });
                }
            }
        }
        last.insert(sig.clone(), i);
        sigs.push(sig);
    }
    if last.len() == rows.len() {
        return Ok(rows.iter().map(Borrow::borrow).collect());
    }
    Ok(rows
        .iter()
        .map(Borrow::borrow)
        .enumerate()
        .filter(|(i, _)| last[&sigs[*i]] == *i)
        .map(|(_, r)| r)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn duplicates_keep_the_last_occurrence_in_batch_order() {
        let rows = vec![
            row(json!({"id": 1, "t": "p", "v": "a"})),
            row(json!({"id": 2, "t": "p", "v": "b"})),
            row(json!({"id": 1, "t": "p", "v": "c"})),
            row(json!({"id": 1, "t": "s", "v": "d"})),
        ];
        let key = vec!["id".to_owned(), "t".to_owned()];
        let kept = dedupe_keep_last("x", &key, &rows).unwrap();
        let values: Vec<&Value> = kept.iter().map(|r| &r["v"]).collect();
        assert_eq!(values, [&json!("b"), &json!("c"), &json!("d")]);
    }

    #[test]
    fn a_row_without_a_key_value_is_an_error_naming_the_row() {
        let rows = vec![row(json!({"id": 1})), row(json!({"id": null}))];
        let err = dedupe_keep_last("x", &["id".to_owned()], &rows).unwrap_err();
        assert!(
            matches!(err, StoreError::MissingKey { row: 1, .. }),
            "{err}"
        );
    }
}
