//! `runner push` and `runner outbox` as a black box, where several runs and hostile conditions
//! meet: two pushes at once, a lock held by another run, one Coda table failing every call, a
//! body Coda finds too large, and a reader that closes the pipe. Helpers here are shared with
//! `push_refusals` and `push_claims`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sim::data::Resource;
use sqlx::{Connection, PgPool};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common;
use crate::push::{World, actual, assert_equal_only, expected, live_rows, sync_all, world};

/// The `runner` binary with the test environment (DrChrono and Coda at `w`'s simulators) on
/// `pool`'s database, in CI mode (plain progress lines).
pub(crate) async fn runner(pool: &PgPool, w: &World) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.current_dir(common::repo())
        .env("DATABASE_URL", common::database_url(pool).await)
        .env("CI", "1")
        .kill_on_drop(true);
    if let runner::config::Env::Map(vars) = common::env(w.drchrono.url(), w.coda.url()) {
        cmd.envs(vars);
    }
    cmd
}

/// Exit code and stdout + stderr of a finished command.
pub(crate) async fn run(mut cmd: Command) -> (Option<i32>, String) {
    let out = cmd.output().await.expect("runner runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// A copy of the shipped `pipelines/` and `mappings/` whose `systems.yaml` went through
/// `edit`, for `--config-dir`; removed when dropped.
pub(crate) struct ConfigCopy(PathBuf);

impl ConfigCopy {
    pub(crate) fn new(edit: impl Fn(String) -> String) -> Self {
        let dir = std::env::temp_dir().join(format!("runner-config-{}", uuid::Uuid::new_v4()));
        for sub in ["pipelines", "mappings"] {
            copy_dir(&common::repo().join(sub), &dir.join(sub));
        }
        let systems = dir.join("pipelines/systems.yaml");
        let text = std::fs::read_to_string(&systems).expect("systems.yaml");
        std::fs::write(&systems, edit(text)).expect("write systems.yaml");
        ConfigCopy(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ConfigCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The shipped config with Coda retries that give up quickly (8 attempts, as shipped, but
/// milliseconds apart).
pub(crate) fn fast_coda_retries() -> ConfigCopy {
    ConfigCopy::new(|text| {
        text.replace(
            "  read_rate:\n    - requests: 100\n      per_secs: 6\n",
            "  read_rate:\n    - requests: 100\n      per_secs: 6\n  retry:\n    max_attempts: 8\n    base_delay_ms: 5\n    max_delay_ms: 20\n    floor_ms: 5\n",
        )
    })
}

/// Every mapping but `failed` equals PostgreSQL, and `failed` holds nothing in Coda: the
/// failure of one table did not stop the others.
pub(crate) async fn assert_others_equal(pool: &PgPool, w: &World, failed: &str) {
    let others: Vec<&str> = w
        .plan
        .mappings
        .keys()
        .map(String::as_str)
        .filter(|m| *m != failed)
        .collect();
    assert_equal_only(pool, &w.coda, &w.plan, Some(&others)).await;
    assert!(actual(&w.coda, &w.plan)[failed].is_empty(), "{failed}");
}

/// A session holding the lock `runner push` takes for Coda table `table` of the test doc.
async fn hold_table_lock(pool: &PgPool, table: &str) -> sqlx::PgConnection {
    let mut conn = sqlx::PgConnection::connect_with(&pool.connect_options())
        .await
        .expect("connect");
    sqlx::query("select pg_advisory_lock(hashtext('runner.push'), hashtext($1))")
        .bind(format!("doc-test/{table}"))
        .execute(&mut conn)
        .await
        .expect("lock");
    conn
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn runner_outbox_status_into_a_closed_pipe_stops_quietly(pool: PgPool) {
    let w = world(1, false).await;
    // More dead letters than a pipe buffer holds, so the writer meets the closed pipe.
    sqlx::query(
        "insert into outbox (table_name, record_id, natural_key, operation, change_log_id, actor,
                             status, attempts, last_error)
         select 'patients', gen_random_uuid(), '{}', 'UPDATE', 0, 'test', 'dead', 5,
                'grid-patients00: upsertRows answered 400'
           from generate_series(1, 3000)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let mut cmd = runner(&pool, &w).await;
    let mut child = cmd
        .args(["outbox", "status"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // `| head -1`: one line read, then the pipe is closed.
    assert_eq!(lines.next_line().await.unwrap().unwrap(), "pending: 0");
    drop(lines);
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn two_pushes_at_once_send_each_row_once(pool: PgPool) {
    let w = world(20, false).await;
    sync_all(&pool, &w.plan).await;
    // Each mutation takes a while to apply, so the two runs overlap on every table.
    w.coda
        .state()
        .set_apply_delay(std::time::Duration::from_millis(1500));
    let live = live_rows(&pool, &w.plan).await;
    let tables = ["patients", "appointments"];
    let mut a = runner(&pool, &w).await;
    a.args(["push", "patients", "appointments"]);
    let mut b = runner(&pool, &w).await;
    b.args(["push", "patients", "appointments"]);
    let ((ca, ta), (cb, tb)) = tokio::join!(run(a), run(b));
    assert_eq!((ca, cb), (Some(0), Some(0)), "{ta}\n---\n{tb}");
    let want: u64 = tables.iter().map(|t| live[*t]).sum();
    let stats = w.coda.state().stats();
    assert_eq!(
        stats.upsert_rows_received, want,
        "every row sent once: {stats:?}\n{ta}\n---\n{tb}"
    );
    assert!(
        format!("{ta}{tb}").contains("another push holds Coda table"),
        "the second run says it waits:\n{ta}\n---\n{tb}"
    );
    w.coda.state().flush_mutations();
    assert_equal_only(&pool, &w.coda, &w.plan, Some(&tables)).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_push_skips_a_table_another_push_holds_or_waits_for_it(pool: PgPool) {
    let w = world(5, false).await;
    sync_all(&pool, &w.plan).await;
    let held = hold_table_lock(&pool, "grid-patients00").await;

    let mut skip = runner(&pool, &w).await;
    skip.args(["push", "patients", "providers", "--if-locked", "skip"]);
    let (code, text) = run(skip).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("patients")
            && text.contains("skipped: another push holds Coda table grid-patients00"),
        "{text}"
    );
    let have = actual(&w.coda, &w.plan);
    assert!(have["patients"].is_empty(), "nothing sent to a held table");
    assert_eq!(
        have["providers"].len() as u64,
        live_rows(&pool, &w.plan).await["providers"],
        "the other table was pushed"
    );

    // By default the push waits for the table, says so, and pushes once it is free.
    let mut wait = runner(&pool, &w).await;
    let mut child = wait
        .args(["push", "patients"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = err
            .next_line()
            .await
            .unwrap()
            .expect("the push says it waits");
        if line.contains("another push holds Coda table grid-patients00; waiting") {
            break;
        }
    }
    assert!(actual(&w.coda, &w.plan)["patients"].is_empty());
    held.close().await.unwrap();
    while err.next_line().await.unwrap().is_some() {}
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_equal_only(&pool, &w.coda, &w.plan, Some(&["patients", "providers"])).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn one_table_failing_every_call_does_not_stop_push_all(pool: PgPool) {
    let w = world(5, false).await;
    sync_all(&pool, &w.plan).await;
    w.coda.state().set_faults(sim::coda::FaultConfig {
        error_rate: 1.0,
        error_status: 503,
        tables: vec!["grid-patients00".into()],
        ..sim::coda::FaultConfig::default()
    });
    let config = fast_coda_retries();
    let mut cmd = runner(&pool, &w).await;
    cmd.arg("--config-dir")
        .arg(config.path())
        .args(["push", "--all"]);
    let (code, text) = run(cmd).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("patients") && text.contains("FAILED") && text.contains("8 attempts"),
        "{text}"
    );
    assert!(text.contains("1 of 12 table(s) failed: patients"), "{text}");
    assert_others_equal(&pool, &w, "patients").await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_413_is_answered_by_splitting_never_by_sending_the_same_body_again(pool: PgPool) {
    let w = world(6, false).await;
    sync_all(&pool, &w.plan).await;
    let mut first = runner(&pool, &w).await;
    first.args(["push", "appointments"]);
    assert_eq!(run(first).await.0, Some(0));

    // Two appointments change; one of them no longer fits in a request.
    w.coda.state().set_max_body_bytes(64 * 1024);
    let appts = w.drchrono.state().records(Resource::Appointments);
    for (a, notes) in appts
        .iter()
        .zip(["PRIVATE-NOTE ".repeat(8000), "short".to_string()])
    {
        w.drchrono
            .state()
            .update_record(
                Resource::Appointments,
                a["id"].as_str().unwrap(),
                serde_json::json!({ "notes": notes }),
            )
            .unwrap();
    }
    crate::push::sync_one(&pool, &w.plan, "appointments").await;
    w.coda.state().reset_stats();
    let mut again = runner(&pool, &w).await;
    again.args(["push", "appointments"]);
    let (code, text) = run(again).await;
    assert_eq!(code, Some(1), "a refused row is reported: {text}");
    assert!(
        text.contains("sent 1") && text.contains("refused 1"),
        "{text}"
    );
    assert!(!text.contains("PRIVATE"), "{text}");
    let stats = w.coda.state().stats();
    // The batch of two (413), then each half: the small row lands, the large one is refused
    // once (413) and not sent again.
    assert_eq!((stats.too_large, stats.upserts), (2, 1), "{stats:?}");
    let want = expected(&pool, &w.plan).await["appointments"].len();
    assert_eq!(actual(&w.coda, &w.plan)["appointments"].len(), want);
}
