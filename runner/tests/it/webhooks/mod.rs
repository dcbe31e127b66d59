//! DrChrono webhooks: handshake, signature modes, durable inbox, idempotent redelivery, the
//! version guard, outages, ignored events, background processing over real HTTP, `/health`,
//! and logs free of patient data. [`support`] holds helpers the `deepcura` and `replay` tests
//! share.

pub(crate) mod support;

use axum::http::StatusCode;
use runner::config::systems::SignatureMode;
use runner::server::router;
use serde_json::{Value, json};
use sim::data::Resource;
use sim::webhooks::{DrChronoWebhooks, SignatureMode as SendMode, WebhookRequest};
use sqlx::PgPool;

use crate::common;
use support::{LogCapture, SECRET, call, clinic, drain, first_patient, inbox, phi_of, plan, state};

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_verification_handshake_answers_the_hmac_of_msg(pool: PgPool) {
    let app = router(state(&pool, plan()));
    let hooks = DrChronoWebhooks::new(SECRET, 1);
    let (status, body) = call(&app, &hooks.handshake("a random msg/1")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        hooks.check_handshake("a random msg/1", body.to_string().as_bytes()),
        "{body}"
    );
    let bare = WebhookRequest::new(axum::http::Method::GET, "/webhooks/drchrono");
    assert_eq!(call(&app, &bare).await.0, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn each_signature_mode_accepts_its_form_and_refuses_the_other(pool: PgPool) {
    let clinic = clinic();
    let patient = first_patient(&clinic);
    let cases = [
        (SignatureMode::SharedSecret, SendMode::SharedSecret, true),
        (SignatureMode::SharedSecret, SendMode::HmacSha256, false),
        (SignatureMode::HmacSha256, SendMode::HmacSha256, true),
        (SignatureMode::HmacSha256, SendMode::SharedSecret, false),
        (SignatureMode::Either, SendMode::SharedSecret, true),
        (SignatureMode::Either, SendMode::HmacSha256, true),
    ];
    let mut accepted = 0;
    for (i, (configured, sent, ok)) in cases.into_iter().enumerate() {
        let mut p = plan();
        p.systems.drchrono.webhooks.signature = configured;
        let app = router(state(&pool, p));
        let mut hooks = DrChronoWebhooks::new(SECRET, i as u64).with_mode(sent);
        let (status, _) = call(&app, &hooks.deliver("PATIENT_MODIFY", patient.clone())).await;
        let want = if ok {
            StatusCode::OK
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, want, "{configured:?} receiving {sent:?}");
        accepted += i64::from(ok);
        assert_eq!(
            common::count(&pool, "select count(*) from inbox").await,
            accepted
        );
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn wrong_missing_or_truncated_signatures_get_401_and_store_nothing(pool: PgPool) {
    let clinic = clinic();
    let patient = first_patient(&clinic);
    for mode in [SendMode::SharedSecret, SendMode::HmacSha256] {
        let app = router(state(&pool, plan()));
        let mut hooks = DrChronoWebhooks::new(SECRET, 3).with_mode(mode);
        let good = hooks.deliver("PATIENT_MODIFY", patient.clone());
        let sig = good.header("x-drchrono-signature").unwrap().to_string();
        let mut tampered = vec![
            good.clone()
                .with_header("x-drchrono-signature", "not-the-secret"),
            good.clone().without_header("x-drchrono-signature"),
            good.clone()
                .with_header("x-drchrono-signature", &sig[..sig.len() - 1]),
            good.clone().with_header("x-drchrono-signature", ""),
        ];
        if mode == SendMode::HmacSha256 {
            // A valid signature of another body (the shared secret does not cover the body:
            // that is what that mode means).
            tampered.push(good.clone().with_body(b"{\"object\":{}}".to_vec()));
        }
        for (i, req) in tampered.iter().enumerate() {
            let (status, body) = call(&app, req).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{mode:?} case {i}: {body}"
            );
        }
    }
    assert_eq!(common::count(&pool, "select count(*) from inbox").await, 0);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_redelivered_delivery_id_is_stored_and_upserted_once(pool: PgPool) {
    let st = state(&pool, plan());
    let app = router(st.clone());
    let clinic = clinic();
    let mut hooks = DrChronoWebhooks::new(SECRET, 4);
    let id = first_patient(&clinic)["id"].clone();
    let req = hooks
        .deliver_record(&clinic, Resource::Patients, &id, false)
        .unwrap();
    let (s1, b1) = call(&app, &req).await;
    let (s2, b2) = call(&app, &req).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(b1["status"], "received");
    assert_eq!(b2["status"], "duplicate");
    assert_eq!(drain(&st).await.processed, 1);
    let delivery = req.header("x-drchrono-delivery").unwrap();
    let (s3, _) = call(&app, &hooks.redeliver(delivery).unwrap()).await;
    assert_eq!(s3, StatusCode::OK);
    assert_eq!(drain(&st).await.processed, 0);
    assert_eq!(common::count(&pool, "select count(*) from inbox").await, 1);
    assert_eq!(
        common::count(
            &pool,
            "select count(*) from change_log where table_name = 'patients' and actor = 'drchrono_webhook'"
        )
        .await,
        1
    );
    let stored: i64 = sqlx::query_scalar("select drchrono_id from patients")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(json!(stored), id);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_stale_redelivery_does_not_overwrite_a_newer_row(pool: PgPool) {
    let st = state(&pool, plan());
    let app = router(st.clone());
    let clinic = clinic();
    let mut hooks = DrChronoWebhooks::new(SECRET, 5);
    let id = first_patient(&clinic)["id"].clone();
    // The first delivery fails on DrChrono's side and is retried hours later...
    let old = hooks
        .deliver_record(&clinic, Resource::Patients, &id, false)
        .unwrap();
    clinic
        .update_record(Resource::Patients, &id, json!({"nick_name": "Zznewer"}))
        .unwrap();
    let newer = hooks
        .deliver_record(&clinic, Resource::Patients, &id, false)
        .unwrap();
    assert_eq!(call(&app, &newer).await.0, StatusCode::OK);
    assert_eq!(drain(&st).await.processed, 1);
    // ...and arrives after the newer one.
    let old_id = old.header("x-drchrono-delivery").unwrap();
    assert_eq!(
        call(&app, &hooks.redeliver(old_id).unwrap()).await.0,
        StatusCode::OK
    );
    assert_eq!(drain(&st).await.processed, 1);
    let nick: Option<String> = sqlx::query_scalar("select nick_name from patients")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(nick.as_deref(), Some("Zznewer"));
    assert!(inbox(&pool).await.iter().all(|(_, s, _)| s == "processed"));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_database_outage_answers_503_and_a_later_redelivery_succeeds(pool: PgPool) {
    let down = common::closed_pool(&pool).await;
    let clinic = clinic();
    let mut hooks = DrChronoWebhooks::new(SECRET, 6);
    let req = hooks.deliver("PATIENT_MODIFY", first_patient(&clinic));
    let (status, body) = call(&router(state(&down, plan())), &req).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(common::count(&pool, "select count(*) from inbox").await, 0);
    let health = WebhookRequest::new(axum::http::Method::GET, "/health");
    assert_eq!(
        call(&router(state(&down, plan())), &health).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let st = state(&pool, plan());
    let delivery = req.header("x-drchrono-delivery").unwrap();
    let (status, _) = call(&router(st.clone()), &hooks.redeliver(delivery).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(drain(&st).await.processed, 1);
    assert_eq!(
        common::count(&pool, "select count(*) from patients").await,
        1
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn unknown_events_and_pings_are_stored_as_ignored(pool: PgPool) {
    let st = state(&pool, plan());
    let app = router(st.clone());
    let mut hooks = DrChronoWebhooks::new(SECRET, 7);
    let (s1, b1) = call(&app, &hooks.deliver("TASK_CREATE", json!({"id": 1}))).await;
    let (s2, b2) = call(&app, &hooks.ping()).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(
        (b1["status"].as_str(), b2["status"].as_str()),
        (Some("ignored"), Some("ignored"))
    );
    assert_eq!(drain(&st).await, runner::ingest::DrainReport::default());
    let rows = inbox(&pool).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|(_, s, e)| s == "ignored" && e.is_none()));
    assert_eq!(
        common::count(&pool, "select count(*) from patients").await,
        0
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_payload_that_fails_mapping_stays_failed_with_a_reason_and_no_values(pool: PgPool) {
    let logs = LogCapture::start();
    let st = state(&pool, plan());
    let clinic = clinic();
    let mut patient = first_patient(&clinic);
    patient["date_of_birth"] = json!("13/45/1990");
    let mut hooks = DrChronoWebhooks::new(SECRET, 8);
    let (status, _) = call(
        &router(st.clone()),
        &hooks.deliver("PATIENT_MODIFY", patient.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(drain(&st).await.failed, 1);
    let rows = inbox(&pool).await;
    let reason = rows[0].2.clone().unwrap_or_default();
    assert_eq!(rows[0].1, "failed");
    assert!(reason.contains("field date_of_birth"), "{reason}");
    assert!(!reason.contains("13/45"), "{reason}");
    assert_eq!(
        common::count(&pool, "select count(*) from patients").await,
        0
    );
    let mut phi = phi_of(&patient);
    phi.push("13/45/1990".into());
    logs.assert_free_of(&phi);
    assert!(
        logs.text().contains("kept for replay"),
        "logs were captured"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn serve_acknowledges_over_http_and_processes_in_the_background(pool: PgPool) {
    let logs = LogCapture::start();
    let _ = rustls::crypto::ring::default_provider().install_default();
    sqlx::query(
        "insert into sync_log (pipeline, trigger, status, finished_at) \
         values ('patients', 'test', 'succeeded', now())",
    )
    .execute(&pool)
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(runner::server::serve(
        state(&pool, plan()),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));
    let http = reqwest::Client::new();
    let clinic = clinic();
    let mut hooks = DrChronoWebhooks::new(SECRET, 9).with_mode(SendMode::HmacSha256);
    let mut phi = Vec::new();
    for patient in clinic.records(Resource::Patients) {
        phi.extend(phi_of(&patient));
        let res = hooks
            .deliver("PATIENT_CREATE", patient)
            .send(&http, &base)
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let handshake = hooks.handshake("verify-me");
    let res = handshake.send(&http, &base).await.unwrap();
    assert!(hooks.check_handshake("verify-me", &res.bytes().await.unwrap()));
    let mut processed = 0;
    for _ in 0..100 {
        processed = common::count(
            &pool,
            "select count(*) from inbox where status = 'processed'",
        )
        .await;
        if processed == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(processed, 3, "the worker processed every delivery");
    assert_eq!(
        common::count(&pool, "select count(*) from patients").await,
        3
    );
    let health: Value = http
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["database"], "up");
    assert!(
        health["pipelines"]["patients"]["last_success"].is_string(),
        "{health}"
    );
    assert!(health["pipelines"]["appointments"]["last_success"].is_null());
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    logs.assert_free_of(&phi);
    assert!(logs.text().contains("Webhook processed."));
}
