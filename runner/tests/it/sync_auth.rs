//! OAuth2 against the DrChrono simulator: refresh-token rotation across runs, a 401 answered
//! by one refresh, a revoked token as a clear error, and a manual re-authorisation through the
//! environment.

use runner::source::RestClient;
use runner::sync::{NoProgress, SyncOptions, run_pipeline};
use serde_json::Value;
use sim::drchrono::DrChronoHandle;
use sqlx::PgPool;

use crate::common;

fn opts() -> SyncOptions {
    SyncOptions {
        trigger: "test".into(),
        ..SyncOptions::default()
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_refresh_token_rotates_across_runs_and_an_expired_access_token_is_refreshed(
    pool: PgPool,
) {
    let sim = common::drchrono(5).await;
    let plan = common::plan(sim.url());
    let p = plan.pipeline("providers").unwrap();
    let run = || async {
        // A new client per run, as a new process would have: only the database remembers.
        let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
        run_pipeline(&pool, &client, &plan, p, &opts(), &NoProgress).await
    };
    assert!(run().await.error.is_none());
    let stored = common::stored_refresh_token(&pool, "drchrono").await;
    assert_ne!(stored, "sim-refresh-token", "the rotated token is stored");
    assert_eq!(Some(stored.clone()), sim.state().current_refresh_token());
    // The seed in the environment is now revoked upstream; the stored token must win.
    sim.state().expire_access_tokens();
    let before = sim.state().stats().token_refreshes;
    assert!(run().await.error.is_none());
    assert_eq!(sim.state().stats().token_refreshes, before + 1);
    // Same process, access token expired mid-life: one 401, one refresh, then success.
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    assert!(
        run_pipeline(&pool, &client, &plan, p, &opts(), &NoProgress)
            .await
            .error
            .is_none()
    );
    sim.state().expire_access_tokens();
    let r = run_pipeline(&pool, &client, &plan, p, &opts(), &NoProgress).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    let statuses: Vec<Option<i32>> = sqlx::query_scalar(
        "select status_code from access_log where path_template = '/api/doctors' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(statuses.contains(&Some(401)), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&Some(200)));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_revoked_refresh_token_is_a_clear_error_not_a_loop(pool: PgPool) {
    let sim = common::drchrono(3).await;
    let mut plan = common::plan(sim.url());
    plan.systems.drchrono.oauth.refresh_token =
        runner::config::secret::Secret::new("not-the-token");
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let r = run_pipeline(
        &pool,
        &client,
        &plan,
        plan.pipeline("providers").unwrap(),
        &opts(),
        &NoProgress,
    )
    .await;
    let e = r.error.expect("fails");
    assert!(e.contains("re-authorise"), "{e}");
    assert_eq!(sim.state().stats().token_refreshes, 0);
    let failed = common::count(
        &pool,
        "select count(*) from sync_log where status = 'failed' and pipeline = 'providers'",
    )
    .await;
    assert_eq!(failed, 1);
}

/// A token request to the simulator's OAuth endpoint; returns (status, body).
async fn token_request(sim: &DrChronoHandle, form: &[(&str, &str)]) -> (u16, Value) {
    let http = runner::source::http_client(std::time::Duration::from_secs(5));
    let resp = http
        .post(format!("{}/o/token/", sim.url()))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_changed_refresh_token_in_the_environment_replaces_the_stored_one(pool: PgPool) {
    let sim = common::drchrono(3).await;
    let mut plan = common::plan(sim.url());
    let p = plan.pipeline("providers").unwrap().clone();
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    assert!(
        run_pipeline(&pool, &client, &plan, &p, &opts(), &NoProgress)
            .await
            .error
            .is_none()
    );
    // A person re-authorises the application: a new refresh token from the code grant.
    let (status, body) = token_request(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", "sim-auth-code"),
            ("client_id", "sim-client-id"),
            ("client_secret", "sim-client-secret"),
            ("redirect_uri", "http://localhost/"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let manual = body["refresh_token"].as_str().unwrap().to_string();
    plan.systems.drchrono.oauth.refresh_token = runner::config::secret::Secret::new(manual.clone());
    sim.state().expire_access_tokens();
    let client = RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    let r = run_pipeline(&pool, &client, &plan, &p, &opts(), &NoProgress).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    // The new environment value was the one spent (it rotated away), and the stored row now
    // remembers the new seed.
    let (status, _) = token_request(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &manual),
            ("client_id", "sim-client-id"),
            ("client_secret", "sim-client-secret"),
        ],
    )
    .await;
    assert_eq!(
        status, 400,
        "the re-authorised token was used by the runner"
    );
    let fingerprint: String = sqlx::query_scalar(
        "select seed_fingerprint from oauth_credentials where system = 'drchrono'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let stored = common::stored_refresh_token(&pool, "drchrono").await;
    assert_eq!(Some(stored), sim.state().current_refresh_token());
    use sha2::Digest;
    assert_eq!(
        fingerprint,
        hex::encode(sha2::Sha256::digest(manual.as_bytes()))
    );
}
