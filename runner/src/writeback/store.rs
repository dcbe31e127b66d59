//! The SQL of one endpoint, built once from validated identifiers: read the row under a lock,
//! update only the fields a body carries and only when a value really changes (so an unchanged
//! PATCH writes nothing: no audit row, no change event), or insert a new row. Values go in as
//! one JSON object read by `jsonb_populate_record` with the table's own row type, so PostgreSQL
//! does every type conversion exactly as its columns define them.

use serde_json::{Map, Value};
use sqlx::{AssertSqlSafe, PgConnection};

use crate::config::writeback::Endpoint;
use crate::store::{Ident, StoreError};

/// A row as stored: its JSON (every column) and its version (`updated_at`, RFC 3339).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    /// `to_jsonb(row)`.
    pub row: Value,
    /// `updated_at`, the version a caller may send back.
    pub version: String,
    /// `updated_at` in seconds since the epoch, for `If-Unmodified-Since`.
    pub updated_epoch: i64,
}

/// The statements of one endpoint.
#[derive(Debug, Clone)]
pub struct EndpointSql {
    table: Ident,
    key: Ident,
    key_type: &'static str,
    select: String,
    update: String,
}

const ROW: &str = "to_jsonb(t), to_char(t.\"updated_at\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), extract(epoch from t.\"updated_at\")::bigint";

impl EndpointSql {
    /// Builds the statements of `ep`; fails on a name that is not an identifier.
    pub fn new(ep: &Endpoint) -> Result<Self, StoreError> {
        let table = Ident::new(&ep.table)?;
        let key = Ident::new(&ep.key)?;
        let key_type = ep.key_type.sql_type();
        let fields: Vec<(Ident, &str)> = ep
            .fields
            .keys()
            .map(|f| Ident::new(f).map(|i| (i, f.as_str())))
            .collect::<Result<_, _>>()?;
        let select =
            format!("SELECT {ROW} FROM public.{table} t WHERE t.{key} = $1::{key_type} FOR UPDATE");
        let sets: Vec<String> = fields
            .iter()
            .map(|(f, name)| format!("{f} = CASE WHEN $1 ? '{name}' THEN r.{f} ELSE t.{f} END"))
            .collect();
        let differs: Vec<String> = fields
            .iter()
            .map(|(f, name)| format!("($1 ? '{name}' AND t.{f} IS DISTINCT FROM r.{f})"))
            .collect();
        let update = format!(
            "UPDATE public.{table} t SET {}, \"updated_at\" = now() \
             FROM jsonb_populate_record(NULL::public.{table}, $1) r \
             WHERE t.{key} = $2::{key_type} AND ({}) RETURNING {ROW}",
            sets.join(", "),
            differs.join(" OR ")
        );
        Ok(EndpointSql {
            table,
            key,
            key_type,
            select,
            update,
        })
    }

    /// The row with `key`, locked until the transaction ends.
    pub async fn lock(
        &self,
        conn: &mut PgConnection,
        key: &Value,
    ) -> Result<Option<StoredRow>, StoreError> {
        let row: Option<(Value, String, i64)> = sqlx::query_as(AssertSqlSafe(self.select.as_str()))
            .bind(key_text(key))
            .fetch_optional(conn)
            .await
            .map_err(|e| StoreError::from_sqlx(format!("read {}", self.table.as_str()), e))?;
        Ok(row.map(stored))
    }

    /// Writes the fields of `values` that differ; `None` when nothing changed.
    pub async fn update(
        &self,
        conn: &mut PgConnection,
        key: &Value,
        values: &Map<String, Value>,
    ) -> Result<Option<StoredRow>, StoreError> {
        if values.is_empty() {
            return Ok(None);
        }
        let row: Option<(Value, String, i64)> = sqlx::query_as(AssertSqlSafe(self.update.as_str()))
            .bind(Value::Object(values.clone()))
            .bind(key_text(key))
            .fetch_optional(conn)
            .await
            .map_err(|e| StoreError::from_sqlx(format!("update {}", self.table.as_str()), e))?;
        Ok(row.map(stored))
    }

    /// Inserts a row with `key` and the fields of `values` (the others take their defaults).
    pub async fn insert(
        &self,
        conn: &mut PgConnection,
        key: &Value,
        values: &Map<String, Value>,
    ) -> Result<StoredRow, StoreError> {
        let fields: Vec<Ident> = values
            .keys()
            .map(|f| Ident::new(f))
            .collect::<Result<_, _>>()?;
        let (table, k, kt) = (&self.table, &self.key, self.key_type);
        let mut cols = vec![k.to_string()];
        cols.extend(fields.iter().map(ToString::to_string));
        let mut vals = vec![format!("$2::{kt}")];
        vals.extend(fields.iter().map(|f| format!("r.{f}")));
        let sql = format!(
            "INSERT INTO public.{table} AS t ({}) SELECT {} FROM jsonb_populate_record(NULL::public.{table}, $1) r RETURNING {ROW}",
            cols.join(", "),
            vals.join(", ")
        );
        let row: (Value, String, i64) = sqlx::query_as(AssertSqlSafe(sql))
            .bind(Value::Object(values.clone()))
            .bind(key_text(key))
            .fetch_one(conn)
            .await
            .map_err(|e| StoreError::from_sqlx(format!("insert into {}", table.as_str()), e))?;
        Ok(stored(row))
    }
}

fn stored((row, version, updated_epoch): (Value, String, i64)) -> StoredRow {
    StoredRow {
        row,
        version,
        updated_epoch,
    }
}

/// The key as text for a `$n::type` bind.
fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
