//! `/sync/*` behind OIDC and the embedded scheduler, against the DrChrono simulator, a local
//! JWKS (RSA keys generated here, tokens signed with jsonwebtoken) and a fresh database per
//! test.

pub(crate) mod jwks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use runner::schedule;
use runner::server::oidc::{OidcConfig, OidcError, OidcVerifier};
use runner::server::{AppState, router};
use serde_json::{Value, json};
use sim::drchrono::{DrChronoConfig, DrChronoHandle, DrChronoSim, FaultConfig};
use sqlx::PgPool;
use tower::ServiceExt;

use self::jwks::{EMAIL, Jwks, KID, claims, jwk, keys, token};
use crate::common;

/// A simulator whose every response takes `delay`, so a run lasts long enough to overlap.
async fn slow_drchrono(delay: Duration) -> DrChronoHandle {
    DrChronoSim::start(DrChronoConfig {
        patients: 3,
        rate_limit: None,
        faults: FaultConfig {
            slow_rate: 1.0,
            slow_delay: delay,
            ..FaultConfig::default()
        },
        ..DrChronoConfig::default()
    })
    .await
    .expect("sim starts")
}

fn state(pool: &PgPool, sim: &DrChronoHandle, oidc: Option<OidcConfig>) -> AppState {
    let mut state = AppState::new(pool.clone(), Arc::new(common::plan(sim.url())));
    state.oidc = oidc.map(|c| Arc::new(OidcVerifier::new(c).expect("verifier")));
    state
}

async fn post(app: Router, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::post(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = app
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// [`post`] with owned arguments, for `tokio::spawn`.
async fn post_owned(app: Router, path: &'static str, token: Option<String>) -> (StatusCode, Value) {
    post(app, path, token.as_deref()).await
}

/// Polls until `sql` (a count) returns at least 1.
async fn wait_until(pool: &PgPool, sql: &'static str) {
    for _ in 0..500 {
        if common::count(pool, sql).await > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {sql}");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_valid_scheduler_token_runs_the_sync_and_answers_its_report(pool: PgPool) {
    common::logs();
    let sim = common::drchrono(5).await;
    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let state = state(&pool, &sim, Some(jwks.config()));
    let expected: Vec<String> = schedule::runnable(&state.plan)
        .map(|p| p.mapping.name.clone())
        .collect();
    let app = router(state);
    let t = token(KID, &keys().0, &claims());

    let (status, body) = post(app.clone(), "/sync/all", Some(&t)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "succeeded");
    let runs = body["pipelines"].as_array().expect("pipelines");
    let names: Vec<&str> = runs.iter().filter_map(|r| r["pipeline"].as_str()).collect();
    assert_eq!(names, expected, "every pipeline, in dependency order");
    let patients = runs
        .iter()
        .find(|r| r["pipeline"] == "patients")
        .expect("patients");
    assert_eq!(patients["status"], "succeeded");
    assert_eq!(patients["inserted"], 5);
    assert!(patients["error"].is_null());

    let (status, body) = post(app.clone(), "/sync/clinical-notes", Some(&t)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pipelines"][0]["pipeline"], "clinical_notes");
    assert_eq!(body["pipelines"][0]["inserted"], 0, "already synced");

    let (status, _) = post(app, "/sync/no-such-table", Some(&t)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let api_runs = common::count(
        &pool,
        "select count(*) from sync_log where trigger = 'api' and status = 'succeeded'",
    )
    .await;
    assert_eq!(api_runs, expected.len() as i64 + 1);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn requests_without_a_valid_token_are_refused_with_401_and_run_nothing(pool: PgPool) {
    common::logs();
    let sim = common::drchrono(2).await;
    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let app = router(state(&pool, &sim, Some(jwks.config())));
    let (good, other) = keys();
    let with = |patch: Value| {
        let mut c = claims();
        for (k, v) in patch.as_object().expect("object") {
            c[k] = v.clone();
        }
        token(KID, good, &c)
    };
    let now = chrono::Utc::now().timestamp();
    let cases = [
        ("no token", None, "missing bearer token"),
        (
            "expired",
            Some(with(json!({"iat": now - 7200, "exp": now - 3600}))),
            "token expired",
        ),
        (
            "wrong audience",
            Some(with(json!({"aud": "https://elsewhere.test"}))),
            "wrong audience",
        ),
        (
            "wrong issuer",
            Some(with(json!({"iss": "https://issuer.evil.test"}))),
            "wrong issuer",
        ),
        (
            "another key, known kid",
            Some(token(KID, other, &claims())),
            "bad signature",
        ),
        (
            "another key, unknown kid",
            Some(token("key-9", other, &claims())),
            "unknown signing key",
        ),
        (
            "email not allowed",
            Some(with(
                json!({"email": "intruder@other.iam.gserviceaccount.com"}),
            )),
            "email not allowed",
        ),
        (
            "email not verified",
            Some(with(json!({"email_verified": false}))),
            "email not verified",
        ),
        (
            "not a JWT",
            Some("not.a.jwt".to_string()),
            "malformed token",
        ),
    ];
    for (case, token, reason) in cases {
        for path in ["/sync/patients", "/sync/all"] {
            let (status, body) = post(app.clone(), path, token.as_deref()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{case} on {path}: {body}");
            assert_eq!(body["reason"], reason, "{case} on {path}");
        }
    }

    // Without an OIDC config the routes are closed, even to a valid token.
    let closed = router(state(&pool, &sim, None));
    let (status, body) = post(closed, "/sync/patients", Some(&with(json!({})))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["reason"], "authentication not configured");
    assert_eq!(
        common::count(&pool, "select count(*) from sync_log").await,
        0
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_second_trigger_while_a_run_holds_the_lock_is_answered_already_running_and_queues_nothing(
    pool: PgPool,
) {
    common::logs();
    let sim = slow_drchrono(Duration::from_millis(400)).await;
    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let app = router(state(&pool, &sim, Some(jwks.config())));
    let t = token(KID, &keys().0, &claims());

    let first = tokio::spawn(post_owned(app.clone(), "/sync/providers", Some(t.clone())));
    wait_until(
        &pool,
        "select count(*) from sync_log where pipeline = 'providers' and status = 'running'",
    )
    .await;
    let (status, body) = post(app.clone(), "/sync/providers", Some(&t)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["status"], "already_running");
    assert_eq!(body["pipelines"][0]["status"], "already_running");

    let (status, body) = first.await.expect("first request");
    assert_eq!(status, StatusCode::OK, "{body}");
    let runs = "select count(*) from sync_log where pipeline = 'providers'";
    assert_eq!(
        common::count(&pool, runs).await,
        1,
        "the second trigger queued nothing"
    );

    // The lock is free again once the run has ended.
    let (status, _) = post(app, "/sync/providers", Some(&t)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(common::count(&pool, runs).await, 2);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_run_longer_than_the_wait_is_answered_202_and_finishes_in_the_background(pool: PgPool) {
    common::logs();
    let sim = slow_drchrono(Duration::from_millis(300)).await;
    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let app = schedule::routes_with_wait(Duration::from_millis(50)).with_state(state(
        &pool,
        &sim,
        Some(jwks.config()),
    ));
    let t = token(KID, &keys().0, &claims());
    let (status, body) = post(app, "/sync/providers", Some(&t)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["pipelines"][0]["status"], "running");
    wait_until(
        &pool,
        "select count(*) from sync_log where pipeline = 'providers' and status = 'succeeded'",
    )
    .await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn two_schedulers_on_one_database_never_run_a_pipeline_at_the_same_time(pool: PgPool) {
    common::logs();
    let sim = slow_drchrono(Duration::from_millis(400)).await;
    let mut plan = common::plan(sim.url());
    plan.pipelines.retain(|p| p.mapping.name == "providers");
    plan.pipelines[0].file.schedule = "* * * * * *".into(); // every second
    let plan = Arc::new(plan);
    let other_pool = PgPool::connect_with((*pool.connect_options()).clone())
        .await
        .expect("second pool");
    let mut stops = Vec::new();
    let mut handles = Vec::new();
    for p in [pool.clone(), other_pool] {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        stops.push(tx);
        handles.push(schedule::spawn_scheduler(
            AppState::new(p, plan.clone()),
            rx,
        ));
    }
    tokio::time::sleep(Duration::from_millis(3500)).await;
    for tx in stops {
        let _ = tx.send(());
    }
    for h in handles {
        tokio::time::timeout(Duration::from_secs(10), h)
            .await
            .expect("schedulers stop after their current run")
            .expect("scheduler task");
    }

    let runs: Vec<(chrono::DateTime<chrono::Utc>, Option<chrono::DateTime<chrono::Utc>>, String)> =
        sqlx::query_as("select started_at, finished_at, status from sync_log where pipeline = 'providers' and trigger = 'schedule' order by started_at")
            .fetch_all(&pool)
            .await
            .expect("sync_log");
    assert!(!runs.is_empty(), "the schedule fired");
    assert!(
        runs.len() <= 5,
        "at most one run per fire, not one per instance: {runs:?}"
    );
    for (started, finished, status) in &runs {
        assert_eq!(status, "succeeded");
        assert!(finished.is_some_and(|f| f >= *started));
    }
    for pair in runs.windows(2) {
        let (prev_end, next_start) = (pair[0].1.expect("finished"), pair[1].0);
        assert!(prev_end <= next_start, "overlapping runs: {pair:?}");
    }
}

#[tokio::test]
async fn an_unknown_key_id_refetches_the_jwks_once_and_finds_a_rotated_key() {
    let (k1, k2) = keys();
    let jwks = Jwks::start(vec![jwk("k1", k1)]).await;
    let eager = OidcVerifier::new(OidcConfig {
        min_refetch_secs: 0,
        ..jwks.config()
    })
    .expect("verifier");
    eager.verify(&token("k1", k1, &claims())).await.expect("k1");
    eager
        .verify(&token("k1", k1, &claims()))
        .await
        .expect("k1 again");
    assert_eq!(jwks.fetches(), 1, "the key set is cached");

    *jwks.keys.lock().expect("keys") = vec![jwk("k1", k1), jwk("k2", k2)];
    let claims2 = eager
        .verify(&token("k2", k2, &claims()))
        .await
        .expect("rotated key");
    assert_eq!(claims2.email.as_deref(), Some(EMAIL));
    assert_eq!(jwks.fetches(), 2);
    let unknown = eager.verify(&token("k3", k2, &claims())).await;
    assert!(matches!(unknown, Err(OidcError::UnknownKey)), "{unknown:?}");
    assert_eq!(jwks.fetches(), 3, "one refetch per unknown kid");

    // With the default minimum interval, unknown kids right after a fetch cost no request.
    let guarded = OidcVerifier::new(jwks.config()).expect("verifier");
    guarded
        .verify(&token("k1", k1, &claims()))
        .await
        .expect("k1");
    for _ in 0..5 {
        let r = guarded.verify(&token("k9", k2, &claims())).await;
        assert!(matches!(r, Err(OidcError::UnknownKey)));
    }
    assert_eq!(jwks.fetches(), 4);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_run_that_failed_because_drchrono_was_away_is_a_503_the_scheduler_retries(pool: PgPool) {
    let sim = common::drchrono(3).await;
    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let mut state = state(&pool, &sim, Some(jwks.config()));
    // DrChrono answers 500 to everything for a while: the run gives up after its retries.
    sim.state().set_faults(FaultConfig {
        error_rate: 1.0,
        ..FaultConfig::default()
    });
    let mut plan = (*state.plan).clone();
    plan.systems.drchrono.retry.max_attempts = 2;
    state = AppState::new(pool.clone(), Arc::new(plan));
    state.oidc = Some(Arc::new(
        OidcVerifier::new(jwks.config()).expect("verifier"),
    ));
    let t = token(KID, &keys().0, &claims());
    let (status, body) = post(router(state), "/sync/patients", Some(&t)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["pipelines"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("still failing")),
        "{body}"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_run_that_failed_because_the_database_was_down_is_a_503_the_scheduler_retries(
    pool: PgPool,
) {
    let sim = common::drchrono(3).await;
    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let mut state = state(&pool, &sim, Some(jwks.config()));
    state = AppState {
        pool: common::closed_pool(&pool).await,
        ..state
    };
    let t = token(KID, &keys().0, &claims());
    for path in ["/sync/patients", "/sync/all"] {
        let (status, body) = post(router(state.clone()), path, Some(&t)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(body["status"], "unavailable", "{path}");
        let run = &body["pipelines"][0];
        assert_eq!(run["status"], "unavailable", "{path}: {body}");
        assert!(
            run["error"]
                .as_str()
                .is_some_and(|e| e.contains("database")),
            "{path}: {body}"
        );
    }
}
