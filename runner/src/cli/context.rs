//! What the long-running verbs share: the validated plan (fail closed: any config error stops
//! the command) and a migrated database pool.

use std::path::Path;

use anyhow::Context;
use sqlx::PgPool;

use crate::config::{Env, EnvMode, Needs, Plan};
use crate::store;

/// Loads the plan with the `${VAR}`s of the systems the command uses (`needs`) required, or
/// prints every config error.
pub(super) fn plan(dir: &Path, needs: Needs) -> anyhow::Result<Plan> {
    match Plan::load(dir, &Env::Process, EnvMode::Needs(needs)) {
        Ok((plan, _)) => Ok(plan),
        Err(diags) => {
            eprint!("{diags}");
            anyhow::bail!(
                "config invalid: {} error(s); nothing was run",
                diags.error_count()
            )
        }
    }
}

/// Connects to `DATABASE_URL` without migrating (for roles that may not change the schema) and
/// refuses a database whose schema is behind this binary.
pub(super) async fn database_current() -> anyhow::Result<PgPool> {
    let pool = store::connect(&super::default_database_url())
        .await
        .context("cannot connect to PostgreSQL")?;
    let pending = store::pending_migrations(&pool)
        .await
        .context("cannot read the applied migrations")?;
    if !pending.is_empty() {
        anyhow::bail!(
            "the database schema is behind this binary ({} migration(s) pending): run `runner migrate` (the migration job) first",
            pending.len()
        );
    }
    Ok(pool)
}

/// Connects to `DATABASE_URL` (creating the database if needed) and applies migrations.
pub(super) async fn database() -> anyhow::Result<PgPool> {
    Ok(database_at(&super::default_database_url()).await?.0)
}

/// Connects to `url`, creating the database if needed, and applies migrations. Also says
/// whether the database was created.
pub(super) async fn database_at(url: &str) -> anyhow::Result<(PgPool, bool)> {
    let created = store::create_database_if_missing(url)
        .await
        .context("cannot create the database")?;
    let pool = store::connect(url)
        .await
        .context("cannot connect to PostgreSQL")?;
    store::run_migrations(&pool)
        .await
        .context("migrations failed")?;
    Ok((pool, created))
}

/// What `runner push` and `runner coda reconcile` start from: the plan (Coda settings
/// required), the mappings chosen by `tables` or `all`, a migrated pool and a Coda client.
pub(super) async fn coda_work(
    dir: &Path,
    tables: &[String],
    all: bool,
) -> anyhow::Result<(Plan, Vec<String>, PgPool, crate::push::CodaClient)> {
    if all != tables.is_empty() {
        anyhow::bail!("name tables or pass --all (not both)");
    }
    let plan = plan(dir, Needs::CODA)?;
    let selected = crate::push::select_mappings(&plan, tables, all)?;
    let pool = database().await?;
    let coda = crate::push::CodaClient::new(&plan.systems.coda, pool.clone());
    Ok((plan, selected, pool, coda))
}

/// The pipelines named, in dependency order, or all that have a list endpoint.
pub(super) fn select<'a>(
    plan: &'a Plan,
    names: &[String],
    all: bool,
) -> anyhow::Result<Vec<&'a crate::config::PlannedPipeline>> {
    if all != names.is_empty() {
        anyhow::bail!("name pipelines or pass --all (not both)");
    }
    for n in names {
        match plan.pipeline(n) {
            None => anyhow::bail!(
                "unknown pipeline `{n}`; known: {}",
                plan.pipelines
                    .iter()
                    .map(|p| p.mapping.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(p) if p.file.source.endpoint.is_none() => {
                anyhow::bail!(
                    "pipeline `{n}` has no list endpoint: it is fed by posts (webhooks, an inbound route) only"
                )
            }
            Some(_) => {}
        }
    }
    Ok(plan
        .pipelines
        .iter()
        .filter(|p| p.file.source.endpoint.is_some() && (all || names.contains(&p.mapping.name)))
        .collect())
}
