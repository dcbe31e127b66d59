//! The session-level advisory locks of the push, each on a connection of its own (never a
//! pooled one: a pooled connection would go back to the pool still holding the lock), so a
//! process that dies, however it dies, releases them when PostgreSQL ends its session.
//!
//! - [`WorkerLock`]: held by an outbox worker for its whole life. Its claims carry the lock's
//!   key in `claimed_by`, and a claim whose lock nobody holds any more belongs to a dead worker:
//!   the next claim takes it over at once, whatever its lease says.
//! - [`TableLock`]: held by a full push (`runner push`) while it pushes one Coda table, so two
//!   full pushes of one table never send the same rows twice.

use sqlx::{Connection, PgConnection, PgPool};

use super::error::PushError;

/// The first key of every worker lock (`pg_advisory_lock(WORKER_LOCK_CLASS, n)`): the bytes
/// `outb`. `pg_locks` shows it as `classid`, the worker's `n` as `objid` (`objsubid = 2`).
pub const WORKER_LOCK_CLASS: i32 = 0x6F75_7462;

/// The prefix of `claimed_by` for claims tied to a worker lock: `outbox-worker:<n>`.
pub(crate) const HOLDER_PREFIX: &str = "outbox-worker:";

/// The first key of table locks is `hashtext` of this; the second is `hashtext(doc/table)`.
pub(crate) const TABLE_NAMESPACE: &str = "runner.push";

async fn connect(pool: &PgPool) -> Result<PgConnection, PushError> {
    PgConnection::connect_with(&pool.connect_options())
        .await
        .map_err(PushError::store("lock connection"))
}

/// An outbox worker's identity: a session-level advisory lock on `(WORKER_LOCK_CLASS, n)`,
/// with `n` random, held on its own connection.
#[derive(Debug)]
pub struct WorkerLock {
    conn: PgConnection,
    id: i32,
}

impl WorkerLock {
    /// Opens a connection and takes a free worker lock on it.
    pub async fn acquire(pool: &PgPool) -> Result<Self, PushError> {
        let mut conn = connect(pool).await?;
        loop {
            let id = random_key();
            let got: bool = sqlx::query_scalar("select pg_try_advisory_lock($1, $2)")
                .bind(WORKER_LOCK_CLASS)
                .bind(id)
                .fetch_one(&mut conn)
                .await
                .map_err(PushError::store("worker lock"))?;
            if got {
                return Ok(WorkerLock { conn, id });
            }
        }
    }

    /// What this worker writes in `claimed_by`.
    pub fn holder(&self) -> String {
        format!("{HOLDER_PREFIX}{}", self.id)
    }

    /// Checks that the lock's session is alive; after a lost connection (a database restart)
    /// the lock is gone and other workers may take this worker's claims, so a new lock is
    /// taken (a new identity) before anything else is claimed.
    pub async fn ensure(&mut self, pool: &PgPool) -> Result<(), PushError> {
        if self.conn.ping().await.is_ok() {
            return Ok(());
        }
        tracing::warn!(
            holder = %self.holder(),
            "Outbox worker lost its lock session; taking a new one."
        );
        *self = WorkerLock::acquire(pool).await?;
        Ok(())
    }

    /// Ends the session (and so the lock).
    pub async fn release(self) {
        let _ = self.conn.close().await;
    }
}

/// A positive random int4 (an `objid` that reads the same as a signed or unsigned number).
fn random_key() -> i32 {
    let b = uuid::Uuid::new_v4().into_bytes();
    let n = i32::from_be_bytes([b[0], b[1], b[2], b[3]]) & i32::MAX;
    n.max(1)
}

/// A full push's lock on one Coda table. Release it with [`TableLock::release`]; dropping it
/// closes the connection, which releases it too.
#[derive(Debug)]
pub(crate) struct TableLock {
    conn: PgConnection,
    key: String,
}

impl TableLock {
    /// Takes the lock of Coda table `table` of `doc` if it is free; `Err(conn)` (the open
    /// connection, for [`TableLock::wait`]) when another session holds it.
    pub(crate) async fn try_acquire(
        pool: &PgPool,
        doc: &str,
        table: &str,
    ) -> Result<Result<Self, PendingLock>, PushError> {
        let mut conn = connect(pool).await?;
        let key = format!("{doc}/{table}");
        let got: bool =
            sqlx::query_scalar("select pg_try_advisory_lock(hashtext($1), hashtext($2))")
                .bind(TABLE_NAMESPACE)
                .bind(&key)
                .fetch_one(&mut conn)
                .await
                .map_err(PushError::store("table lock"))?;
        Ok(if got {
            Ok(TableLock { conn, key })
        } else {
            Err(PendingLock(TableLock { conn, key }))
        })
    }

    /// Releases the lock and closes its connection (the explicit unlock makes the release
    /// visible before this returns).
    pub(crate) async fn release(mut self) {
        let _ = sqlx::query("select pg_advisory_unlock(hashtext($1), hashtext($2))")
            .bind(TABLE_NAMESPACE)
            .bind(&self.key)
            .execute(&mut self.conn)
            .await;
        let _ = self.conn.close().await;
    }
}

/// A table lock another session holds: wait for it, or drop it to give up.
#[derive(Debug)]
pub(crate) struct PendingLock(TableLock);

impl PendingLock {
    /// Waits until the other session releases the table, then holds it.
    pub(crate) async fn wait(self) -> Result<TableLock, PushError> {
        let mut lock = self.0;
        sqlx::query("select pg_advisory_lock(hashtext($1), hashtext($2))")
            .bind(TABLE_NAMESPACE)
            .bind(&lock.key)
            .execute(&mut lock.conn)
            .await
            .map_err(PushError::store("table lock"))?;
        Ok(lock)
    }

    /// Gives up (closes the connection).
    pub(crate) async fn abandon(self) {
        let _ = self.0.conn.close().await;
    }
}
