//! No echo loop: a write-back comes from a Coda row that already shows the values it sends.
//! When that row was in step with PostgreSQL before the write (its confirmed content hash is
//! the hash of the row as it was), the write records, in the same transaction, the hash of
//! what Coda now shows: the old row with the sent values in place. The change event then goes
//! to the push as usual, which sends the row only when the stored row differs from that
//! (a value PostgreSQL normalised, a server-set column such as `updated_at` that the mapping
//! shows), so a write-back that Coda already shows makes no Coda write call.
//!
//! A Coda row that was not in step (never pushed, or a push still pending) keeps its hash,
//! and the push sends the row as it always would.

use std::sync::Arc;

use serde_json::{Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::push::{CompiledMapping, Mappings, content_hash, row_json};
use crate::store::StoreError;

/// The Coda mappings of one write-back table (the plan's, compiled once at load).
#[derive(Debug, Clone)]
pub(super) struct Echo {
    maps: Arc<Mappings>,
    mappings: Vec<CompiledMapping>,
}

impl Echo {
    /// The mappings of `maps` (the plan's) fed by PostgreSQL table `table`.
    pub(super) fn new(maps: Arc<Mappings>, table: &str) -> Self {
        let mappings = maps.for_source(table).cloned().collect();
        Echo { maps, mappings }
    }

    /// Records what Coda shows after a write-back: `before` is the row as it was, `sent` the
    /// fields as the request carried them.
    pub(super) async fn record_shown(
        &self,
        conn: &mut PgConnection,
        before: &Value,
        sent: &Map<String, Value>,
    ) -> Result<(), StoreError> {
        let Some(before) = before.as_object() else {
            return Ok(());
        };
        let Some(id) = before
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            return Ok(());
        };
        let mut shown = before.clone();
        shown.extend(sent.iter().map(|(k, v)| (k.clone(), v.clone())));
        for m in &self.mappings {
            let (Ok(old), Ok(now)) = (self.maps.cells(m, before), self.maps.cells(m, &shown))
            else {
                continue;
            };
            sqlx::query(
                "update coda_pushed_rows set content_hash = $4 \
                 where coda_table = $1 and record_id = $2 and content_hash = $3",
            )
            .bind(&m.table)
            .bind(id)
            .bind(content_hash(&row_json(&old)))
            .bind(content_hash(&row_json(&now)))
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::from_sqlx("record what Coda shows", e))?;
        }
        Ok(())
    }
}
