//! The GCP topology: `POST /pubsub/push` behind OIDC with `processed_messages` dedupe, the
//! outbox relay to the Pub/Sub simulator, the push role's worker, `runner retention`, and
//! `runner serve --role`.

mod push_role;
mod relay;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use runner::pubsub::ChangeEvent;
use runner::server::oidc::OidcVerifier;
use runner::server::{AppState, router};
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

use crate::common;
use crate::push::{World, sync_one, world};
use crate::schedule::jwks::{Jwks, KID, claims, jwk, keys, token};

/// The app state for `w` with a verifier trusting `jwks` (none: every push is refused).
pub(crate) fn state(pool: &PgPool, w: &World, jwks: Option<&Jwks>) -> AppState {
    let mut state = AppState::new(pool.clone(), Arc::new(w.plan.clone()));
    state.oidc = jwks.map(|j| Arc::new(OidcVerifier::new(j.config()).expect("verifier")));
    state
}

/// A wrapped push body (apis.md §4.1) carrying `event`.
pub(crate) fn push_body(message_id: &str, event: &ChangeEvent) -> Value {
    let data = base64::engine::general_purpose::STANDARD.encode(event.message().data);
    json!({
        "message": {"data": data, "messageId": message_id, "message_id": message_id,
                    "publishTime": "2026-11-25T10:00:00.000Z", "publish_time": "2026-11-25T10:00:00.000Z",
                    "attributes": {"table": event.table}},
        "subscription": "projects/clinic/subscriptions/coda-push",
    })
}

async fn post(state: &AppState, body: &Value, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut req = Request::post("/pubsub/push").header("content-type", "application/json");
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = router(state.clone())
        .oneshot(req.body(Body::from(body.to_string())).expect("request"))
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

/// The change event of one synced patient (its outbox row).
async fn patient_event(pool: &PgPool) -> ChangeEvent {
    let (outbox_id, record_id): (i64, Uuid) = sqlx::query_as(
        "select id, record_id from outbox where table_name = 'patients' order by id limit 1",
    )
    .fetch_one(pool)
    .await
    .expect("a patient event");
    ChangeEvent {
        outbox_id,
        table: "patients".into(),
        record_id,
        operation: "INSERT".into(),
    }
}

async fn processed(pool: &PgPool) -> i64 {
    common::count(pool, "select count(*) from processed_messages").await
}

fn coda_patients(w: &World) -> usize {
    let doc = &w.plan.systems.coda.doc_id;
    w.coda
        .state()
        .table_rows(doc, &w.plan.mappings["patients"].table)
        .len()
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_push_with_a_missing_or_bad_token_is_refused_and_writes_nothing(pool: PgPool) {
    let w = world(2, false).await;
    sync_one(&pool, &w.plan, "patients").await;
    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let body = push_body("m-1", &patient_event(&pool).await);
    let good = token(KID, &keys().0, &claims());
    let forged = token(KID, &keys().1, &claims());
    let mut wrong_audience = claims();
    wrong_audience["aud"] = json!("https://elsewhere.test");

    let with_oidc = state(&pool, &w, Some(&jwks));
    for bearer in [
        None,
        Some(forged.as_str()),
        Some(&token(KID, &keys().0, &wrong_audience)),
        Some("not-a-jwt"),
    ] {
        let (status, _) = post(&with_oidc, &body, bearer).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // No verifier configured: even a good token is refused.
    let (status, _) = post(&state(&pool, &w, None), &body, Some(&good)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    assert_eq!(processed(&pool).await, 0);
    assert_eq!(w.coda.state().stats().writes, 0);
    assert_eq!(coda_patients(&w), 0);
}

/// Marks every pending event relayed (as the sync role's relay does once published).
async fn relayed(pool: &PgPool) {
    sqlx::query("update outbox set status = 'relayed' where status = 'pending'")
        .execute(pool)
        .await
        .expect("relayed");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_delivery_is_acknowledged_once_recorded_without_a_coda_call_and_a_duplicate_id_as_such(
    pool: PgPool,
) {
    let w = world(3, false).await;
    sync_one(&pool, &w.plan, "patients").await;
    relayed(&pool).await;
    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let state = state(&pool, &w, Some(&jwks));
    let t = token(KID, &keys().0, &claims());
    let event = patient_event(&pool).await;
    let body = push_body("m-1", &event);

    let (status, answer) = post(&state, &body, Some(&t)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::OK, Some("queued"))
    );
    assert_eq!(processed(&pool).await, 1);
    assert_eq!(
        w.coda.state().stats().requests_total,
        0,
        "the worker writes Coda, not the receiver"
    );
    // The delivery woke the push role's outbox worker.
    let woken = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        state.outbox_notify.notified(),
    )
    .await;
    assert!(woken.is_ok());

    let (status, answer) = post(&state, &body, Some(&t)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::OK, Some("duplicate"))
    );
    assert_eq!(processed(&pool).await, 1);

    // Another delivery of an event already pushed: acknowledged as done.
    sqlx::query("update outbox set status = 'done' where id = $1")
        .bind(event.outbox_id)
        .execute(&pool)
        .await
        .expect("done");
    let (status, answer) = post(&state, &push_body("m-2", &event), Some(&t)).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (StatusCode::OK, Some("done"))
    );

    // A malformed delivery is refused (Pub/Sub redelivers, then dead-letters it).
    let (status, _) = post(&state, &json!({"message": {"messageId": "m-3"}}), Some(&t)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(processed(&pool).await, 2);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_delivery_while_the_database_is_down_is_a_503_and_coda_down_only_delays_the_push(
    pool: PgPool,
) {
    let w = world(2, false).await;
    sync_one(&pool, &w.plan, "patients").await;
    relayed(&pool).await;
    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let t = token(KID, &keys().0, &claims());
    let body = push_body("m-9", &patient_event(&pool).await);

    let down = common::closed_pool(&pool).await;
    let (status, _) = post(&state(&down, &w, Some(&jwks)), &body, Some(&t)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        processed(&pool).await,
        0,
        "nothing recorded: Pub/Sub redelivers"
    );

    // Coda refusing the token does not concern the delivery: the event is durable.
    assert!(w.coda.state().revoke_token(common::CODA_TOKEN));
    let state = state(&pool, &w, Some(&jwks));
    let (status, _) = post(&state, &body, Some(&t)).await;
    assert_eq!(status, StatusCode::OK);
    let opts = runner::push::OutboxOptions {
        claim: runner::push::Claim::Relayed,
        ..runner::push::OutboxOptions::default()
    };
    let coda = runner::push::CodaClient::new(&w.plan.systems.coda, pool.clone());
    runner::push::outbox::drain(&pool, &w.plan, &coda, &opts, None)
        .await
        .expect("drain");
    let waiting = common::count(
        &pool,
        "select count(*) from outbox where status = 'relayed' and last_error like '%401%'",
    )
    .await;
    assert_eq!(waiting, 2, "postponed, not lost");
    assert_eq!(coda_patients(&w), 0);

    w.coda.state().add_token(common::CODA_TOKEN);
    sqlx::query("update outbox set available_at = now()")
        .execute(&pool)
        .await
        .expect("due");
    runner::push::outbox::drain(&pool, &w.plan, &coda, &opts, None)
        .await
        .expect("drain");
    assert_eq!(coda_patients(&w), 2);
    assert_eq!(
        common::count(&pool, "select count(*) from outbox where status <> 'done'").await,
        0
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn runner_retention_purges_only_message_ids_older_than_seven_days(pool: PgPool) {
    sqlx::query(
        "insert into processed_messages (message_id, processed_at) values
           ('old', now() - interval '8 days'), ('recent', now() - interval '6 days'), ('new', now())",
    )
    .execute(&pool)
    .await
    .expect("seed");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_runner"))
        .current_dir(common::repo())
        .env("DATABASE_URL", common::database_url(&pool).await)
        .arg("retention")
        .output()
        .await
        .expect("runner runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Purged 1 "), "{stdout}");
    let left: Vec<String> =
        sqlx::query_scalar("select message_id from processed_messages order by message_id")
            .fetch_all(&pool)
            .await
            .expect("rows");
    assert_eq!(left, ["new", "recent"]);
    assert_eq!(
        runner::retention::purge_processed(&pool)
            .await
            .expect("purge"),
        0
    );
}
