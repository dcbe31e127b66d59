//! Deep Cura gridhooks: decrypted, validated and written with their actor in one transaction;
//! every refusal (wrong secret, tampered ciphertext, bad IV, bad note) writes nothing and logs
//! no note text.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use runner::config::systems::{Encoding, IvLocation};
use runner::server::router;
use serde_json::{Value, json};
use sim::data::Resource;
use sim::webhooks::{DeepCuraGridhooks, Envelope, IvPlacement, TextEncoding, note_for_appointment};
use sqlx::PgPool;

use crate::common;
use crate::webhooks::support::{LogCapture, call, clinic, plan, state};

const SECRET: &str = "test-deepcura-secret";

fn note() -> Value {
    let appt = clinic()
        .records(Resource::Appointments)
        .into_iter()
        .next()
        .expect("an appointment");
    note_for_appointment(&appt, 21)
}

/// Values of the note that are patient data.
fn note_text(note: &Value) -> Vec<String> {
    note["soap"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

async fn nothing_written(pool: &PgPool) {
    assert_eq!(common::count(pool, "select count(*) from inbox").await, 0);
    assert_eq!(
        common::count(pool, "select count(*) from deepcura_notes").await,
        0
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_gridhook_is_decrypted_stored_and_upserted_with_its_actor(pool: PgPool) {
    let logs = LogCapture::start();
    let app = router(state(&pool, plan()));
    let note = note();
    let req = DeepCuraGridhooks::new(SECRET, 1).send(&note);
    let (status, body) = call(&app, &req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "processed");
    let (id, plan_text): (uuid::Uuid, Option<String>) =
        sqlx::query_as("select id, plan from deepcura_notes")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(id.to_string(), note["note_id"].as_str().unwrap());
    assert_eq!(plan_text.as_deref(), note["soap"]["plan"].as_str());
    // The insert, and any link-rule update of the same transaction, carry the webhook's actor.
    let audit: Vec<(String, String)> = sqlx::query_as(
        "select operation, actor from change_log where table_name = 'deepcura_notes' order by id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        audit[0],
        ("INSERT".to_string(), "deepcura_webhook".to_string())
    );
    assert!(
        audit.iter().all(|(_, a)| a == "deepcura_webhook"),
        "{audit:?}"
    );
    let (status, raw, payload): (String, Vec<u8>, Value) =
        sqlx::query_as("select status, body, payload from inbox")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "processed");
    assert_eq!(raw, req.body, "the inbox keeps the encrypted body");
    assert_eq!(payload, note);
    // The same gridhook again is a no-op.
    assert_eq!(call(&app, &req).await.1["status"], "duplicate");
    assert_eq!(common::count(&pool, "select count(*) from inbox").await, 1);
    logs.assert_free_of(&note_text(&note));
    assert!(logs.text().contains("Delivery stored and written."));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_wrong_or_missing_secret_gets_401_and_writes_nothing(pool: PgPool) {
    let app = router(state(&pool, plan()));
    let note = note();
    let wrong = DeepCuraGridhooks::new("not-the-secret", 2).send(&note);
    assert_eq!(call(&app, &wrong).await.0, StatusCode::UNAUTHORIZED);
    let good = DeepCuraGridhooks::new(SECRET, 2).send(&note);
    let missing = good.clone().without_header("x-deepcura-secret");
    assert_eq!(call(&app, &missing).await.0, StatusCode::UNAUTHORIZED);
    let prefix = good.with_header("x-deepcura-secret", &SECRET[..SECRET.len() - 1]);
    assert_eq!(call(&app, &prefix).await.0, StatusCode::UNAUTHORIZED);
    nothing_written(&pool).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn tampered_ciphertexts_and_bad_ivs_get_400_and_write_nothing(pool: PgPool) {
    let logs = LogCapture::start();
    let app = router(state(&pool, plan()));
    let note = note();
    let mut sender = DeepCuraGridhooks::new(SECRET, 3);
    let envelope = |iv: &[u8], data: &[u8]| {
        json!({"iv": STANDARD.encode(iv), "data": STANDARD.encode(data)})
            .to_string()
            .into_bytes()
    };
    let good = sender.send(&note);
    let parsed: Value = serde_json::from_slice(&good.body).unwrap();
    let iv = STANDARD.decode(parsed["iv"].as_str().unwrap()).unwrap();
    let ct = STANDARD.decode(parsed["data"].as_str().unwrap()).unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    for at in [0, ct.len() / 2, ct.len() - 1] {
        let mut flipped = ct.clone();
        flipped[at] ^= 0x01;
        cases.push(("flipped ciphertext byte", envelope(&iv, &flipped)));
    }
    cases.push(("short IV", envelope(&iv[..8], &ct)));
    cases.push(("long IV", envelope(&[iv.clone(), vec![0]].concat(), &ct)));
    cases.push(("truncated ciphertext", envelope(&iv, &ct[..ct.len() - 3])));
    cases.push((
        "bad base64",
        json!({"iv": "!!", "data": parsed["data"]})
            .to_string()
            .into_bytes(),
    ));
    cases.push(("not a JSON envelope", b"iv=1&data=2".to_vec()));
    let (iv2, not_json) = sender.encrypt(b"this is not json");
    cases.push(("plaintext not JSON", envelope(&iv2, &not_json)));
    for (what, body) in cases {
        let (status, reply) = call(&app, &good.clone().with_body(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {reply}");
    }
    nothing_written(&pool).await;
    logs.assert_free_of(&note_text(&note));
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_note_missing_what_the_pipeline_needs_gets_400(pool: PgPool) {
    let app = router(state(&pool, plan()));
    let mut sender = DeepCuraGridhooks::new(SECRET, 4);
    let mut no_id = note();
    no_id.as_object_mut().unwrap().remove("note_id");
    let mut bad_date = note();
    bad_date["session_date"] = json!("March 12, 2024");
    for (what, n) in [("no note id", no_id), ("bad session date", bad_date)] {
        let (status, reply) = call(&app, &sender.send(&n)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {reply}");
        let reason = reply["error"].as_str().unwrap_or_default();
        assert!(reason.contains("deepcura_notes.yaml"), "{reason}");
        assert!(!reason.contains("March"), "no values in errors: {reason}");
    }
    let (status, _) = call(&app, &sender.send(&json!([1, 2]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    nothing_written(&pool).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn other_configured_envelopes_are_opened(pool: PgPool) {
    let layouts = [
        (
            IvLocation::Header,
            "X-DeepCura-IV",
            "data",
            Encoding::Base64,
            Envelope {
                iv: IvPlacement::Header("X-DeepCura-IV".into()),
                data_field: Some("data".into()),
                encoding: TextEncoding::Base64,
            },
        ),
        (
            IvLocation::Prefix,
            "",
            "",
            Encoding::Hex,
            Envelope {
                iv: IvPlacement::Prefix,
                data_field: None,
                encoding: TextEncoding::Hex,
            },
        ),
    ];
    for (i, (loc, iv_name, data, encoding, sim_envelope)) in layouts.into_iter().enumerate() {
        let mut p = plan();
        let e = &mut p.systems.deepcura.envelope;
        e.iv_location = loc;
        e.iv_name = iv_name.into();
        e.data_field = data.into();
        e.encoding = encoding;
        let app = router(state(&pool, p));
        let mut n = note();
        n["note_id"] = json!(format!("00000000-0000-4000-8000-00000000000{i}"));
        let req = DeepCuraGridhooks::new(SECRET, 5)
            .with_envelope(sim_envelope)
            .send(&n);
        let (status, reply) = call(&app, &req).await;
        assert_eq!(status, StatusCode::OK, "{loc:?}: {reply}");
    }
    assert_eq!(
        common::count(&pool, "select count(*) from deepcura_notes").await,
        2
    );
}
