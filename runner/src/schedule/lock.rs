//! Per-pipeline PostgreSQL advisory locks: two instances (or an API trigger and the embedded
//! scheduler of one instance) never run the same pipeline at once.
//!
//! The lock is session-level and taken on a dedicated connection opened for the run, not a
//! pooled one: it is never handed back to the pool still holding the lock, the sync keeps the
//! whole pool, and if the run is cancelled or the process dies the session ends and PostgreSQL
//! releases the lock by itself.

use sqlx::{Connection, PgConnection, PgPool};

use crate::store::StoreError;

/// The first key of every sync lock (`hashtext` of it), so our locks never collide with other
/// users of advisory locks; the second key is `hashtext(pipeline)`.
pub const NAMESPACE: &str = "runner.sync";

/// What a run does when another process holds the lock it needs (a pipeline's, a Coda
/// table's): `runner sync` and `runner push` take `--if-locked wait|skip`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum IfLocked {
    /// Wait until the other run has finished, then run.
    #[default]
    Wait,
    /// Leave it to the other run: skip, say so, and do not count it as a failure.
    Skip,
}

/// A held lock on one pipeline. Release it with [`PipelineLock::release`]; dropping it closes
/// the connection, which releases it too.
#[derive(Debug)]
pub struct PipelineLock {
    conn: PgConnection,
    pipeline: String,
}

impl PipelineLock {
    /// Takes the lock of `pipeline` if it is free; `None` when another session holds it.
    /// Never waits.
    pub async fn try_acquire(pool: &PgPool, pipeline: &str) -> Result<Option<Self>, StoreError> {
        let err = |e| StoreError::from_sqlx("advisory lock", e);
        let mut conn = PgConnection::connect_with(&pool.connect_options())
            .await
            .map_err(err)?;
        let got: bool =
            sqlx::query_scalar("select pg_try_advisory_lock(hashtext($1), hashtext($2))")
                .bind(NAMESPACE)
                .bind(pipeline)
                .fetch_one(&mut conn)
                .await
                .map_err(err)?;
        if !got {
            let _ = conn.close().await;
            return Ok(None);
        }
        Ok(Some(PipelineLock {
            conn,
            pipeline: pipeline.to_string(),
        }))
    }

    /// Takes the lock of `pipeline`, waiting for another session to release it.
    pub async fn acquire(pool: &PgPool, pipeline: &str) -> Result<Self, StoreError> {
        let err = |e| StoreError::from_sqlx("advisory lock", e);
        let mut conn = PgConnection::connect_with(&pool.connect_options())
            .await
            .map_err(err)?;
        sqlx::query("select pg_advisory_lock(hashtext($1), hashtext($2))")
            .bind(NAMESPACE)
            .bind(pipeline)
            .execute(&mut conn)
            .await
            .map_err(err)?;
        Ok(PipelineLock {
            conn,
            pipeline: pipeline.to_string(),
        })
    }

    /// The pipeline this lock holds.
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    /// Releases the lock and closes its connection. The explicit unlock makes the release
    /// visible before this returns; closing the session would release it too.
    pub async fn release(mut self) {
        let unlocked = sqlx::query("select pg_advisory_unlock(hashtext($1), hashtext($2))")
            .bind(NAMESPACE)
            .bind(&self.pipeline)
            .execute(&mut self.conn)
            .await;
        if let Err(e) = unlocked {
            tracing::warn!(pipeline = %self.pipeline, error = %StoreError::from_sqlx("advisory unlock", e), "Could not unlock; closing the session releases it.");
        }
        let _ = self.conn.close().await;
    }
}
