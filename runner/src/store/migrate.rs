//! Database creation and the embedded migrations of `schema/db/`.

use sqlx::PgPool;
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::Postgres;

use super::StoreError;

/// The migrations of `schema/db/`, embedded at compile time. Tests can use it with
/// `#[sqlx::test(migrator = "runner::store::MIGRATOR")]`.
pub static MIGRATOR: Migrator = sqlx::migrate!("../schema/db");

/// Creates the database named in `database_url` when it does not exist yet, connecting to the
/// `postgres` maintenance database of the same server (`template1` when the target is
/// `postgres` itself). Returns whether it created the database. Losing a creation race to
/// another process counts as "already there".
pub async fn create_database_if_missing(database_url: &str) -> Result<bool, StoreError> {
    let exists = Postgres::database_exists(database_url)
        .await
        .map_err(|e| StoreError::from_sqlx("check that the database exists", e))?;
    if exists {
        return Ok(false);
    }
    match Postgres::create_database(database_url).await {
        Ok(()) => Ok(true),
        Err(err) => match StoreError::from_sqlx("create the database", err) {
            // 42P04 duplicate_database: someone else created it meanwhile.
            e if e.sqlstate() == Some("42P04") => Ok(false),
            e => Err(e),
        },
    }
}

/// Applies every migration not applied yet. Concurrent callers serialize on the migrator's
/// advisory lock; applied migrations are skipped, so running it twice is a no-op.
pub async fn run_migrations(pool: &PgPool) -> Result<(), StoreError> {
    MIGRATOR.run(pool).await.map_err(StoreError::Migrate)
}

/// The versions of the embedded migrations that the database has not applied (successfully)
/// yet: empty when the schema is current. A server whose role may not migrate checks this
/// instead, and `/ready` reports it.
pub async fn pending_migrations(pool: &PgPool) -> Result<Vec<i64>, StoreError> {
    let applied: Vec<i64> =
        sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
            .fetch_all(pool)
            .await
            .or_else(
                |e| match StoreError::from_sqlx("read applied migrations", e) {
                    // 42P01 undefined_table: nothing was ever applied.
                    e if e.sqlstate() == Some("42P01") => Ok(Vec::new()),
                    e => Err(e),
                },
            )?;
    Ok(MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .map(|m| m.version)
        .collect())
}
