//! Migrations, least-privilege roles and database creation.

use runner::store::{
    MIGRATOR, create_database_if_missing, run_migrations, set_actor, upsert_batch,
};
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

use super::{ACTOR, T1, count, patient, patients};

#[sqlx::test(migrations = false)]
async fn migrations_apply_to_a_fresh_database_and_a_second_run_is_a_no_op(
    pool: PgPool,
) -> anyhow::Result<()> {
    run_migrations(&pool).await?;
    run_migrations(&pool).await?;
    let applied = count(&pool, "_sqlx_migrations WHERE success").await?;
    assert_eq!(applied as usize, MIGRATOR.iter().count());
    let roles = count(
        &pool,
        "pg_roles WHERE rolname LIKE 'clinical\\_%' AND NOT rolcanlogin",
    )
    .await?;
    assert_eq!(roles, 3);
    Ok(())
}

#[sqlx::test(migrations = "../schema/db")]
async fn the_sync_role_writes_clinical_tables_and_the_writeback_role_cannot(
    pool: PgPool,
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL ROLE clinical_sync")
        .execute(&mut *tx)
        .await?;
    set_actor(&mut tx, ACTOR).await?;
    upsert_batch(&mut tx, &patients(), &[patient(1, "Ann", T1)]).await?;
    let forged = sqlx::query("DELETE FROM change_log")
        .execute(&mut *tx)
        .await;
    assert!(
        forged.is_err(),
        "the sync role cannot touch the audit trail"
    );
    drop(tx);

    let mut tx = pool.begin().await?;
    sqlx::query("SET LOCAL ROLE clinical_writeback")
        .execute(&mut *tx)
        .await?;
    set_actor(&mut tx, "staff@example.org").await?;
    let err = upsert_batch(&mut tx, &patients(), &[patient(1, "Ann", T1)])
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), Some("42501"), "{err}");
    Ok(())
}

#[sqlx::test(migrations = false)]
async fn create_database_if_missing_creates_the_database_once(_pool: PgPool) -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")?;
    let base = url.split('?').next().unwrap_or(&url);
    let (server, _) = base.rsplit_once('/').expect("a database URL");
    let name = format!("runner_it_{}", Uuid::new_v4().simple());
    let target = format!("{server}/{name}");
    assert!(create_database_if_missing(&target).await?);
    assert!(!create_database_if_missing(&target).await?);
    let admin = runner::store::connect(&url).await?;
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE {}",
        runner::store::Ident::new(&name)?
    )))
    .execute(&admin)
    .await?;
    Ok(())
}
