//! `runner migrate`: create the database if it is missing, then apply `schema/db/`.

/// Arguments of `runner migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// PostgreSQL URL. Default: `$DATABASE_URL`, else `postgres://postgres@127.0.0.1:5432/clinical`.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Runs the command.
pub async fn run(args: Args) -> anyhow::Result<i32> {
    let url = args
        .database_url
        .unwrap_or_else(super::default_database_url);
    let (pool, created) = super::context::database_at(&url).await?;
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations where success")
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
    println!(
        "Database {}: {applied} migrations applied.",
        if created { "created" } else { "ready" }
    );
    Ok(0)
}
