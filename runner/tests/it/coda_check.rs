//! `runner coda check` against the Coda simulator holding the tables of `mappings/*.yaml`:
//! renamed columns are notices (exit 0); deleted, calculated or missing key columns and
//! missing tables are located errors (exit 1).

use std::process::Output;

use runner::coda_check::{CodaReader, check};
use runner::config::{Config, EnvMode, Plan, Severity};
use sim::coda::{CodaConfig, CodaHandle, CodaSim, ColumnSpec};
use sqlx::PgPool;
use tokio::process::Command;

use crate::common;

/// The doc id of `common::env`.
const DOC: &str = "doc-test";

/// A Coda simulator (no rate limit, mutations applied at once) accepting `common::env`'s token.
async fn coda_sim() -> CodaHandle {
    CodaSim::start(CodaConfig {
        tokens: vec![common::CODA_TOKEN.into()],
        rate_limit: None,
        apply_delay: std::time::Duration::ZERO,
        ..CodaConfig::default()
    })
    .await
    .expect("coda sim starts")
}

/// The shipped config with Coda at `coda_url`.
fn load(coda_url: &str) -> (Plan, Config) {
    Plan::load(
        &common::repo(),
        &common::env("http://127.0.0.1:9", coda_url),
        EnvMode::Strict,
    )
    .unwrap_or_else(|d| panic!("shipped config invalid:\n{d}"))
}

/// Runs the library check; returns the findings as `file:line:col: message` lines.
async fn findings(sim: &CodaHandle, pool: Option<PgPool>) -> (Vec<String>, usize) {
    let (plan, config) = load(sim.url());
    let reader = CodaReader::new(&plan.systems.coda, pool);
    let diags = check(&plan, &config, &reader).await.expect("coda readable");
    let errors = diags
        .0
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    (diags.0.iter().map(ToString::to_string).collect(), errors)
}

/// The real binary, `runner coda check`, against `sim` (async: the simulator runs in this
/// test's runtime).
async fn run_cli(sim: &CodaHandle, pool: &PgPool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.current_dir(common::repo())
        .env("DATABASE_URL", common::database_url(pool).await)
        .env("CI", "1")
        .args(["coda", "check"]);
    if let runner::config::Env::Map(vars) = common::env("http://127.0.0.1:9", sim.url()) {
        cmd.envs(vars);
    }
    cmd.output().await.expect("runner runs")
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_doc_that_matches_the_mappings_has_no_findings_across_pages(pool: PgPool) {
    let sim = coda_sim().await;
    let (plan, _) = load(sim.url());
    runner::demo::create_tables(sim.state(), &plan);
    // 120 unmapped columns first: the mapped ones are only on later pages of `listColumns`.
    let patients = plan.mappings.get("patients").expect("patients mapping");
    let mut columns: Vec<ColumnSpec> = (0..120)
        .map(|i| ColumnSpec::new(format!("c-extra{i:03}"), format!("Extra {i}")))
        .collect();
    columns.extend(
        patients
            .columns
            .iter()
            .map(|c| ColumnSpec::new(&c.id, c.label.as_deref().unwrap_or(&c.id))),
    );
    sim.state()
        .delete_table(DOC, &patients.table)
        .expect("drop");
    sim.state()
        .create_table(DOC, &patients.table, "Patients", columns)
        .expect("table");

    let (found, errors) = findings(&sim, Some(pool.clone())).await;
    assert_eq!(found, Vec::<String>::new());
    assert_eq!(errors, 0);
    let calls = common::count(
        &pool,
        "select count(*) from access_log where system = 'coda' and status_code = 200",
    )
    .await;
    assert!(
        calls > 2 * plan.mappings.len() as i64,
        "getTable and every columns page are logged: {calls}"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_renamed_column_is_a_notice_and_exits_zero(pool: PgPool) {
    let sim = coda_sim().await;
    let (plan, _) = load(sim.url());
    runner::demo::create_tables(sim.state(), &plan);
    sim.state()
        .rename_column(DOC, "grid-patients00", "c-patChartId", "Chart #")
        .expect("rename");

    let out = run_cli(&sim, &pool).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "mappings/patients.yaml:19:12: notice: Coda names column `c-patChartId` `Chart #`"
        ),
        "{stderr}"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_deleted_column_is_an_error_and_exits_one(pool: PgPool) {
    let sim = coda_sim().await;
    let (plan, _) = load(sim.url());
    runner::demo::create_tables(sim.state(), &plan);
    sim.state()
        .delete_column(DOC, "grid-patients00", "c-patChartId")
        .expect("delete");

    let out = run_cli(&sim, &pool).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "mappings/patients.yaml:18:9: column `c-patChartId` no longer exists in Coda table `grid-patients00`"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("1 error(s), 0 notice(s)."), "{stderr}");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_calculated_mapped_column_is_an_error(_pool: PgPool) {
    let sim = coda_sim().await;
    let (plan, _) = load(sim.url());
    runner::demo::create_tables(sim.state(), &plan);
    let state = sim.state();
    state
        .delete_column(DOC, "grid-patients00", "c-patFullNam")
        .expect("delete");
    state
        .add_column(
            DOC,
            "grid-patients00",
            ColumnSpec::new("c-patFullNam", "Name").calculated(),
        )
        .expect("add");

    let (found, errors) = findings(&sim, None).await;
    assert_eq!(errors, 1, "{found:#?}");
    assert!(
        found[0].contains("mappings/patients.yaml:21:9: column `c-patFullNam` (`Name`) of Coda table `grid-patients00` is calculated"),
        "{found:#?}"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_missing_key_column_or_table_is_an_error(_pool: PgPool) {
    let sim = coda_sim().await;
    let (plan, _) = load(sim.url());
    runner::demo::create_tables(sim.state(), &plan);
    sim.state()
        .delete_column(DOC, "grid-patients00", "c-patDrchrId")
        .expect("delete");
    sim.state()
        .delete_table(DOC, &plan.mappings["providers"].table)
        .expect("drop providers");

    let (found, errors) = findings(&sim, None).await;
    assert_eq!(errors, 2, "{found:#?}");
    assert!(
        found.iter().any(|f| f.contains(
            "mappings/patients.yaml:15:9: key column `c-patDrchrId` (from `drchrono_id`) no longer exists"
        )),
        "{found:#?}"
    );
    let providers = format!(
        "mappings/providers.yaml:6:8: Coda table `{}` does not exist in doc `{DOC}`",
        plan.mappings["providers"].table
    );
    assert!(found.iter().any(|f| f.contains(&providers)), "{found:#?}");
}
