//! The durable inbox (`inbox` table): every accepted webhook, raw, with its processing status.
//! A delivery is stored once per `(source, delivery_id)`; a redelivery is a no-op. Entries are
//! claimed with `FOR UPDATE SKIP LOCKED`, so several workers (or `runner replay` next to a
//! running server) never process the same entry at once.

use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::store::StoreError;

/// `inbox.source` of DrChrono webhooks.
pub const SOURCE_DRCHRONO: &str = "drchrono";
/// `inbox.source` of Deep Cura gridhooks.
pub const SOURCE_DEEPCURA: &str = "deepcura";
/// `inbox.source` of posts to the inbound routes (`inbox.event` is the route).
pub const SOURCE_INBOUND: &str = "inbound";

/// Processing status of an inbox entry (`inbox.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Stored, not processed yet.
    Received,
    /// Written to its pipelines' tables.
    Processed,
    /// Nothing to do (`PING`, an event no pipeline takes).
    Ignored,
    /// Processing failed; `inbox.error` says why. `runner replay` retries it.
    Failed,
}

impl Status {
    /// The value stored in `inbox.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Processed => "processed",
            Status::Ignored => "ignored",
            Status::Failed => "failed",
        }
    }
}

/// A webhook to store.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// `drchrono`, `deepcura`, `inbound`.
    pub source: &'a str,
    /// The sender's delivery id, or a hash of the body when it sends none.
    pub delivery_id: &'a str,
    /// The event name, when the source has one.
    pub event: Option<&'a str>,
    /// Event and delivery metadata only; never signatures or secrets.
    pub headers: Value,
    /// The raw request body (what was signed or encrypted).
    pub body: &'a [u8],
    /// The parsed (for Deep Cura: decrypted) JSON.
    pub payload: Option<&'a Value>,
    /// `Received`, or `Ignored` for deliveries known to need nothing.
    pub status: Status,
    /// A pipeline it feeds reads the record from the API first (`webhooks.refetch`).
    pub needs_refetch: bool,
}

/// A stored entry, as processing needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    /// `inbox.id`.
    pub id: i64,
    /// `drchrono`, `deepcura`.
    pub source: String,
    /// The event name, if any.
    pub event: Option<String>,
    /// The parsed JSON, if any.
    pub payload: Option<Json<Value>>,
    /// The record as the API showed it when re-read (`null`: gone upstream), if it was.
    pub refetched: Option<Json<Value>>,
    /// When it was re-read.
    pub refetched_at: Option<chrono::DateTime<chrono::Utc>>,
}

const COLUMNS: &str = "id, source, event, payload, refetched, refetched_at";

/// Entries that may be processed now: not waiting for their record to be re-read.
const READY: &str = "(not needs_refetch or refetched_at is not null)";

/// Stores `e` unless `(source, delivery_id)` is already there. Returns the new id, or `None`
/// for a redelivery (nothing written).
pub async fn insert(conn: &mut PgConnection, e: &NewEntry<'_>) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar(
        "insert into inbox (source, delivery_id, event, headers, body, payload, status, processed_at, needs_refetch) \
         values ($1, $2, $3, $4, $5, $6, $7, case when $7 = 'ignored' then now() end, $8) \
         on conflict (source, delivery_id) do nothing returning id",
    )
    .bind(e.source)
    .bind(e.delivery_id)
    .bind(e.event)
    .bind(Json(&e.headers))
    .bind(e.body)
    .bind(e.payload.map(Json))
    .bind(e.status.as_str())
    .bind(e.needs_refetch)
    .fetch_optional(conn)
    .await
    .map_err(|err| StoreError::from_sqlx("store a webhook in the inbox", err))
}

/// Claims the oldest `received` entry (row-locked until the caller's transaction ends),
/// skipping entries another worker holds.
pub async fn claim_next(conn: &mut PgConnection) -> Result<Option<Entry>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from inbox where status = 'received' and {READY} \
         order by id limit 1 for update skip locked"
    )))
    .fetch_optional(conn)
    .await
    .map_err(|e| StoreError::from_sqlx("claim an inbox entry", e))
}

/// Claims up to `limit` of the oldest `received` entries that nobody else holds.
pub async fn claim_batch(conn: &mut PgConnection, limit: i64) -> Result<Vec<Entry>, StoreError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from inbox where status = 'received' and {READY} \
         order by id limit $1 for update skip locked"
    )))
    .bind(limit)
    .fetch_all(conn)
    .await
    .map_err(|e| StoreError::from_sqlx("claim inbox entries", e))
}

/// Claims entry `id` if its status is one of `statuses` and nobody else holds it.
pub async fn claim(
    conn: &mut PgConnection,
    id: i64,
    statuses: &[Status],
) -> Result<Option<Entry>, StoreError> {
    let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from inbox where id = $1 and status = any($2) and {READY} \
         for update skip locked"
    )))
    .bind(id)
    .bind(statuses)
    .fetch_optional(conn)
    .await
    .map_err(|e| StoreError::from_sqlx("claim an inbox entry", e))
}

/// Records the outcome of one processing attempt. `error` holds ids and codes only.
pub async fn finish(
    conn: &mut PgConnection,
    id: i64,
    status: Status,
    error: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query(
        "update inbox set status = $2, error = $3, attempts = attempts + 1, processed_at = now() \
         where id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(error)
    .execute(conn)
    .await
    .map_err(|e| StoreError::from_sqlx("record an inbox outcome", e))?;
    Ok(())
}

/// Ids of the entries with one of `statuses`, received at or after `since`, and (when `ids`
/// is not empty) among `ids`; oldest first.
pub async fn select(
    conn: &mut PgConnection,
    statuses: &[Status],
    since: Option<chrono::DateTime<chrono::Utc>>,
    ids: &[i64],
) -> Result<Vec<i64>, StoreError> {
    let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    sqlx::query_scalar(
        "select id from inbox where status = any($1) \
         and ($2::timestamptz is null or received_at >= $2) \
         and (cardinality($3::bigint[]) = 0 or id = any($3)) order by id",
    )
    .bind(statuses)
    .bind(since)
    .bind(ids)
    .fetch_all(conn)
    .await
    .map_err(|e| StoreError::from_sqlx("select inbox entries", e))
}

/// Entries waiting for their record to be re-read: id, event and payload (at most `limit`).
pub async fn awaiting_refetch(
    conn: &mut PgConnection,
    limit: i64,
) -> Result<Vec<(i64, Option<String>, Option<Json<Value>>)>, StoreError> {
    sqlx::query_as(
        "select id, event, payload from inbox where status = 'received' and needs_refetch \
         and refetched_at is null order by id limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
    .map_err(|e| StoreError::from_sqlx("list entries to re-read", e))
}

/// Records the re-read record of entry `id` (`Value::Null`: gone upstream), read at `at`.
pub async fn set_refetched(
    conn: &mut PgConnection,
    id: i64,
    record: &Value,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    sqlx::query("update inbox set refetched = $2, refetched_at = $3 where id = $1")
        .bind(id)
        .bind(Json(record))
        .bind(at)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from_sqlx("record a re-read record", e))?;
    Ok(())
}
