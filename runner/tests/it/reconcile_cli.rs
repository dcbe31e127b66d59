//! `runner coda reconcile` as a black box: the report names columns by label and rows by id,
//! never a value; `--repair --dry-run` writes nothing; `--repair` puts Coda right and the next
//! run says Coda equals PostgreSQL; Coda unreachable or refusing the token exits 2 with the
//! reason and writes nothing; a table missing in Coda gives the error of `runner coda check`;
//! and a repair killed with SIGKILL is finished by the next run.

use std::time::Duration;

use sqlx::PgPool;

use crate::push::{assert_equal, live_rows};
use crate::push_cli::{fast_coda_retries, run, runner};
use crate::reconcile::{DOC, PATIENTS, patient_data, pushed_world, record, rows, staff_work};

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_report_names_labels_and_ids_never_values_then_repair_puts_coda_right(pool: PgPool) {
    let w = pushed_world(&pool, 6).await;
    let (before, extra, duplicate) = staff_work(&w);
    // The extra row would stay (the mapping keeps extra rows): remove it for a clean finish.
    w.coda.state().delete_row(DOC, PATIENTS, &extra).unwrap();
    let writes = w.coda.state().stats().writes;

    let mut report = runner(&pool, &w).await;
    report.args(["coda", "reconcile", "patients"]);
    let (code, text) = run(report).await;
    assert_eq!(code, Some(1), "{text}");
    let edited = record(&before[1], "c-patLocalId");
    assert!(
        text.contains("1 missing, 1 changed, 0 extra, 1 duplicate"),
        "{text}"
    );
    assert!(
        text.contains(&format!("changed in Coda: Last Name (1): {edited}")),
        "{text}"
    );
    assert!(text.contains(&duplicate), "{text}");
    for secret in patient_data(&w) {
        assert!(
            !text.contains(&secret),
            "the report leaks {secret:?}:\n{text}"
        );
    }

    let mut dry = runner(&pool, &w).await;
    dry.args(["coda", "reconcile", "--all", "--repair", "--dry-run"]);
    let (code, text) = run(dry).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("would write: 2 upserted, 1 deleted (2 write calls)"),
        "{text}"
    );
    assert_eq!(
        w.coda.state().stats().writes,
        writes,
        "a dry run writes nothing"
    );

    let mut repair = runner(&pool, &w).await;
    repair.args(["coda", "reconcile", "--all", "--repair"]);
    let (code, text) = run(repair).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("repaired: 2 upserted, 1 deleted"), "{text}");

    let mut again = runner(&pool, &w).await;
    again.args(["coda", "reconcile", "--all"]);
    let (code, text) = run(again).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("Coda equals PostgreSQL for 12 table(s)."),
        "{text}"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn coda_refusing_the_token_or_unreachable_exits_2_with_the_reason_and_writes_nothing(
    pool: PgPool,
) {
    let w = pushed_world(&pool, 3).await;
    staff_work(&w);
    let writes = w.coda.state().stats().writes;
    w.coda.state().revoke_token(crate::common::CODA_TOKEN);
    let mut refused = runner(&pool, &w).await;
    refused.args(["coda", "reconcile", "--all", "--repair"]);
    let (code, text) = run(refused).await;
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("answered 401"), "{text}");
    assert!(text.contains("nothing more was written"), "{text}");

    let config = fast_coda_retries();
    let mut away = runner(&pool, &w).await;
    away.env("CODA_BASE_URL", "http://127.0.0.1:9")
        .arg("--config-dir")
        .arg(config.path())
        .args(["coda", "reconcile", "--all", "--repair"]);
    let (code, text) = run(away).await;
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("connection refused"), "{text}");
    assert_eq!(w.coda.state().stats().writes, writes);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_table_missing_in_coda_gives_the_error_of_coda_check(pool: PgPool) {
    let w = pushed_world(&pool, 2).await;
    w.coda.state().delete_table(DOC, PATIENTS).unwrap();
    let mut cmd = runner(&pool, &w).await;
    cmd.args(["coda", "reconcile", "patients", "providers", "--repair"]);
    let (code, text) = run(cmd).await;
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains(
            "mappings/patients.yaml: Coda table `grid-patients00` does not exist in doc `doc-test` (or the API token cannot see it)"
        ),
        "{text}"
    );
    assert!(
        text.contains("1 of 2 table(s) not reconciled: patients"),
        "{text}"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_repair_killed_with_sigkill_is_finished_by_the_next_run(pool: PgPool) {
    let w = pushed_world(&pool, 30).await;
    let all = rows(&w, PATIENTS);
    for r in all.iter().take(20) {
        w.coda.state().delete_row(DOC, PATIENTS, &r.id).unwrap();
    }
    w.coda
        .state()
        .insert_row(DOC, PATIENTS, all[25].values.clone())
        .unwrap();
    // Coda accepts the first write but applies it late: the repair waits for confirmation.
    w.coda.state().set_apply_delay(Duration::from_secs(3600));
    let before = w.coda.state().stats().writes;
    let mut cmd = runner(&pool, &w).await;
    let mut child = cmd
        .args(["coda", "reconcile", "patients", "--repair"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..3000 {
        if w.coda.state().stats().writes > before || child.try_wait().unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // SIGKILL: no destructor, no unlock.
    let _ = child.start_kill();
    let _ = child.wait().await;
    assert_eq!(
        w.coda.state().stats().writes,
        before + 1,
        "killed after one write"
    );
    w.coda.state().flush_mutations();
    w.coda.state().set_apply_delay(Duration::ZERO);

    let mut again = runner(&pool, &w).await;
    again.args(["coda", "reconcile", "patients", "--repair"]);
    let (code, text) = run(again).await;
    assert_eq!(code, Some(0), "{text}");
    let mut check = runner(&pool, &w).await;
    check.args(["coda", "reconcile", "--all"]);
    let (code, text) = run(check).await;
    assert_eq!(code, Some(0), "{text}");
    assert_equal(&pool, &w.coda, &w.plan).await;
    assert_eq!(
        rows(&w, PATIENTS).len() as u64,
        live_rows(&pool, &w.plan).await["patients"]
    );
}
