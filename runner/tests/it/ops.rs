//! Operating signals as on-call and Cloud Logging see them: the JSON log lines of real runs
//! (Cloud Logging's structured shape, with the stable `event` names the alert policies filter
//! on), `/metrics` scraped and parsed by an independent Prometheus text parser, and `/ready`.

use std::sync::Arc;

use axum::http::StatusCode;
use runner::push::{CodaClient, OutboxOptions, outbox};
use runner::server::{AppState, router};
use runner::source::RestClient;
use runner::store::set_actor;
use runner::sync::{NoProgress, SyncOptions, run_pipeline};
use runner::telemetry::events;
use serde_json::{Value, json};
use sim::webhooks::DrChronoWebhooks;
use sqlx::PgPool;

use crate::common::{self, LogCapture, get};

fn opts() -> SyncOptions {
    SyncOptions {
        trigger: "test".into(),
        ..SyncOptions::default()
    }
}

/// Every JSON line has Cloud Logging's special fields.
fn assert_cloud_logging_shape(line: &Value) {
    for key in ["severity", "message", "time"] {
        assert!(line.get(key).is_some(), "{key} missing: {line}");
    }
    let sev = line["severity"].as_str().unwrap();
    assert!(
        ["DEBUG", "INFO", "WARNING", "ERROR"].contains(&sev),
        "{line}"
    );
    assert!(chrono::DateTime::parse_from_rfc3339(line["time"].as_str().unwrap()).is_ok());
    assert!(
        line.get("fields").is_none(),
        "fields are not nested: {line}"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_sync_run_writes_cloud_logging_json_with_its_sync_finished_event(pool: PgPool) {
    let sim = common::drchrono(3).await;
    let plan = common::plan(sim.url());
    let logs = LogCapture::json();
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let p = plan.pipeline("patients").unwrap();
    let r = run_pipeline(&pool, &client, &plan, p, &opts(), &NoProgress).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    let lines = logs.lines();
    lines.iter().for_each(assert_cloud_logging_shape);
    let done = logs.events(events::SYNC_FINISHED);
    assert_eq!(done.len(), 1, "{lines:?}");
    let l = &done[0];
    assert_eq!(l["severity"], "INFO");
    assert_eq!(l["message"], "Sync finished.");
    assert_eq!(l["pipeline"], "patients");
    assert_eq!(l["trigger"], "test");
    assert_eq!(l["records"], 3);
    assert!(l["duration_ms"].is_u64());
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_refused_refresh_logs_oauth_refresh_failed_and_sync_failed_at_error(pool: PgPool) {
    let sim = common::drchrono(2).await;
    let mut plan = common::plan(sim.url());
    plan.systems.drchrono.oauth.refresh_token =
        runner::config::secret::Secret::new("revoked-token");
    let logs = LogCapture::json();
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let p = plan.pipeline("providers").unwrap();
    let r = run_pipeline(&pool, &client, &plan, p, &opts(), &NoProgress).await;
    assert!(r.error.is_some());
    let auth = logs.events(events::OAUTH_REFRESH_FAILED);
    assert_eq!(auth.len(), 1, "{:?}", logs.lines());
    assert_eq!(
        (auth[0]["severity"].as_str(), auth[0]["system"].as_str()),
        (Some("ERROR"), Some("drchrono"))
    );
    assert_eq!(auth[0]["stage"], "refresh");
    let failed = logs.events(events::SYNC_FAILED);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["severity"], "ERROR");
    assert_eq!(failed[0]["pipeline"], "providers");
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("re-authorise")
    );
    assert!(
        !logs.text().contains("revoked-token"),
        "the token is never logged"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_drchrono_429_logs_drchrono_rate_limited_with_its_pipeline(pool: PgPool) {
    let sim = common::drchrono(30).await;
    sim.state()
        .set_rate_limit(Some(sim::drchrono::RateLimitConfig {
            hourly: None,
            burst: Some(1),
            ..Default::default()
        }));
    let mut plan = common::plan(sim.url());
    // Our budget allows more than the simulator: 429s must come.
    plan.systems.drchrono.rate.clear();
    plan.systems.drchrono.page_size = 5;
    let logs = LogCapture::json();
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let p = plan.pipeline("patients").unwrap();
    // With fast test retries the run may give up; the 429s are what this test watches.
    run_pipeline(&pool, &client, &plan, p, &opts(), &NoProgress).await;
    let limited = logs.events(events::DRCHRONO_RATE_LIMITED);
    assert!(!limited.is_empty(), "the simulator throttled");
    assert_eq!(limited[0]["pipeline"], "patients");
    assert_eq!(limited[0]["severity"], "WARNING");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_bad_signature_logs_webhook_rejected_and_a_failing_entry_logs_inbox_failed(pool: PgPool) {
    let plan = common::plan("http://127.0.0.1:9");
    let secret = plan.systems.drchrono.webhooks.secret.expose().to_string();
    let st = AppState::new(pool.clone(), Arc::new(plan));
    let logs = LogCapture::json();
    let mut forged = DrChronoWebhooks::new("not-the-secret", 1);
    let req = forged.deliver("PATIENT_MODIFY", json!({"id": 1}));
    let (status, _) = crate::webhooks::support::call(&router(st.clone()), &req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let rejected = logs.events(events::WEBHOOK_REJECTED);
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        (
            rejected[0]["source"].as_str(),
            rejected[0]["reason"].as_str()
        ),
        (Some("drchrono"), Some("bad signature"))
    );

    let mut hooks = DrChronoWebhooks::new(&secret, 2);
    let bad = json!({"id": 77, "chart_id": "ZZ77", "date_of_birth": "13/45/1990", "doctor": 1});
    let (status, _) =
        crate::webhooks::support::call(&router(st.clone()), &hooks.deliver("PATIENT_MODIFY", bad))
            .await;
    assert_eq!(status, StatusCode::OK);
    crate::webhooks::support::drain(&st).await;
    let failed = logs.events(events::INBOX_FAILED);
    assert_eq!(failed.len(), 1, "{:?}", logs.lines());
    assert_eq!(failed[0]["source"], "drchrono");
    assert!(failed[0]["inbox_id"].is_i64());
    assert!(!logs.text().contains("13/45/1990"));
}

/// A provider row with its outbox event, written as the sync would.
async fn one_change(pool: &PgPool) {
    let mut tx = pool.begin().await.unwrap();
    set_actor(&mut tx, "drchrono_sync").await.unwrap();
    sqlx::query(
        "insert into providers (drchrono_id, first_name, drchrono_raw) values (1, 'Ada', '{}')",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_refused_event_logs_outbox_dead_letter_and_a_coda_429_logs_coda_rate_limited(
    pool: PgPool,
) {
    let w = crate::push::world(1, true).await;
    one_change(&pool).await;
    w.coda.state().set_max_body_bytes(16);
    let coda = CodaClient::new(&w.plan.systems.coda, pool.clone());
    let logs = LogCapture::json();
    let o = OutboxOptions {
        max_attempts: 1,
        worker: "ops-test".into(),
        ..OutboxOptions::default()
    };
    let out = outbox::drain(&pool, &w.plan, &coda, &o, None)
        .await
        .unwrap();
    assert_eq!(out.dead, 1, "{out:?}");
    let dead = logs.events(events::OUTBOX_DEAD_LETTER);
    assert_eq!(dead.len(), 1, "{:?}", logs.lines());
    assert_eq!(dead[0]["table"], "providers");
    assert!(dead[0]["outbox_id"].is_i64());

    // Coda now allows no write at all for a while: the first call gets 429.
    w.coda.state().set_max_body_bytes(8 * 1024 * 1024);
    w.coda
        .state()
        .set_rate_limit(Some(sim::coda::RateLimitConfig {
            writes: Some(0),
            reads: Some(100),
            window: std::time::Duration::from_millis(300),
            ..Default::default()
        }));
    let mut plan = w.plan.clone();
    plan.systems.coda.write_rate.clear();
    plan.systems.coda.retry.max_attempts = 2;
    let coda = CodaClient::new(&plan.systems.coda, pool.clone());
    sqlx::query("update outbox set status = 'pending', attempts = 0, available_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    let _ = outbox::drain(&pool, &plan, &coda, &o, None).await;
    let limited = logs.events(events::CODA_RATE_LIMITED);
    assert!(!limited.is_empty(), "{:?}", logs.lines());
    assert_eq!(limited[0]["operation"], "POST");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn metrics_are_served_in_the_prometheus_text_format_and_parse(pool: PgPool) {
    let sim = common::drchrono(2).await;
    let plan = common::plan(sim.url());
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let p = plan.pipeline("providers").unwrap();
    run_pipeline(&pool, &client, &plan, p, &opts(), &NoProgress).await;
    let st = AppState::new(pool.clone(), Arc::new(plan));
    let (status, ctype, text) = get(router(st), "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .expect("an independent parser reads it");
    let sample = |name: &str, label: (&str, &str)| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && s.labels.get(label.0) == Some(label.1))
            .unwrap_or_else(|| panic!("{name}{{{}={}}} missing in:\n{text}", label.0, label.1))
    };
    let runs = sample("runner_sync_runs_total", ("pipeline", "providers"));
    assert!(matches!(runs.value, prometheus_parse::Value::Counter(v) if v >= 1.0));
    sample("runner_api_requests_total", ("system", "drchrono"));
    let inbox = sample("runner_inbox_entries", ("status", "failed"));
    assert!(matches!(inbox.value, prometheus_parse::Value::Gauge(v) if v == 0.0));
    sample("runner_outbox_events", ("status", "pending"));
    assert!(scrape.docs.contains_key("runner_sync_duration_seconds"));
    // Labels carry names and statuses only.
    for s in &scrape.samples {
        for (k, _) in s.labels.iter() {
            assert!(
                ["pipeline", "status", "system", "source", "table", "le"].contains(&k.as_str()),
                "unexpected label {k}"
            );
        }
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn ready_reports_current_migrations_and_pipeline_ages_and_503_when_behind(pool: PgPool) {
    let plan = Arc::new(common::plan("http://127.0.0.1:9"));
    let st = AppState::new(pool.clone(), plan.clone());
    sqlx::query("insert into sync_log (pipeline, trigger, status, finished_at) values ('patients', 'test', 'succeeded', now() - interval '90 seconds')")
        .execute(&pool)
        .await
        .unwrap();
    let (status, _, body) = get(router(st.clone()), "/ready").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["migrations"], "current");
    let age = v["pipelines"]["patients"]["age_secs"].as_i64().unwrap();
    assert!((89..3600).contains(&age), "{v}");
    assert!(v["pipelines"]["appointments"]["age_secs"].is_null());

    // A schema behind the binary is not ready, and says what to do.
    sqlx::query(
        "delete from _sqlx_migrations where version = (select max(version) from _sqlx_migrations)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (status, _, body) = get(router(st), "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("runner migrate"), "{body}");

    // A database that is down: 503, and /health (liveness of the process) says so too.
    let down = common::closed_pool(&pool).await;
    let (status, _, body) = get(router(AppState::new(down, plan)), "/ready").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("database"), "{body}");
}
