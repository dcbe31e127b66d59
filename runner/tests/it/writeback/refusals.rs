//! Every bad input of a write-back gets its status and a reason that names fields, never a
//! value, and nothing is written.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{FRONT_DESK, appointment, patch, send, state};
use crate::common;

async fn nothing_written(pool: &PgPool) {
    for sql in [
        "select count(*) from intake_checklists",
        "select count(*) from post_appointment_tasks",
        "select count(*) from change_log where table_name not in ('appointments', 'staff_roles')",
        "select count(*) from outbox where table_name <> 'appointments'",
    ] {
        assert_eq!(common::count(pool, sql).await, 0, "{sql}");
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn bad_input_is_refused_with_its_status_and_writes_nothing(pool: PgPool) {
    let st = state(&pool).await;
    let appt = appointment(&pool).await;
    let intake = format!("/api/intake/{appt}");
    let ok = json!({"status": "pending"});
    let with = |mut r: Request<Body>, k: &'static str, v: &str| {
        r.headers_mut().insert(k, v.parse().unwrap());
        r
    };
    let without = |mut r: Request<Body>, k: &'static str| {
        r.headers_mut().remove(k);
        r
    };
    let cases: Vec<(&str, Request<Body>, StatusCode)> = vec![
        (
            "a wrong secret",
            with(
                patch(&intake, FRONT_DESK, &ok),
                "x-coda-webhook-secret",
                "nope",
            ),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no secret",
            without(patch(&intake, FRONT_DESK, &ok), "x-coda-webhook-secret"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "an unknown staff member",
            patch(&intake, "stranger@clinic.test", &ok),
            StatusCode::FORBIDDEN,
        ),
        (
            "an inactive staff member",
            patch(&intake, "gone@clinic.test", &ok),
            StatusCode::FORBIDDEN,
        ),
        (
            "a role without rights",
            patch(&intake, "bill@clinic.test", &ok),
            StatusCode::FORBIDDEN,
        ),
        (
            "no staff header",
            without(patch(&intake, FRONT_DESK, &ok), "x-coda-user-email"),
            StatusCode::FORBIDDEN,
        ),
        (
            "an unknown endpoint",
            patch(&format!("/api/nothing/{appt}"), FRONT_DESK, &ok),
            StatusCode::NOT_FOUND,
        ),
        (
            "a wrong content type",
            with(
                patch(&intake, FRONT_DESK, &ok),
                "content-type",
                "text/plain",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "an unknown field",
            patch(&intake, FRONT_DESK, &json!({"diagnosis": "X-PRIVATE"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a wrong type",
            patch(&intake, FRONT_DESK, &json!({"forms_received": "X-PRIVATE"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a value not allowed",
            patch(&intake, FRONT_DESK, &json!({"status": "X-PRIVATE"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "null where not nullable",
            patch(&intake, FRONT_DESK, &json!({"status": null})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a key of the wrong type",
            patch("/api/intake/X-PRIVATE", FRONT_DESK, &ok),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a dangling foreign key",
            patch(&format!("/api/intake/{}", Uuid::new_v4()), FRONT_DESK, &ok),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a missing required field",
            patch(
                &format!("/api/tasks/{}", Uuid::new_v4()),
                FRONT_DESK,
                &json!({"appointment_id": appt}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "not a JSON object",
            patch(&intake, FRONT_DESK, &json!(["X-PRIVATE"])),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "a body over the limit",
            patch(&intake, FRONT_DESK, &json!({"notes": "x".repeat(70_000)})),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    for (what, req, want) in cases {
        let (status, body) = send(&st, req).await;
        assert_eq!(status, want, "{what}: {body}");
        assert!(
            !body.to_string().contains("X-PRIVATE"),
            "{what} echoed a value: {body}"
        );
        if want == StatusCode::UNPROCESSABLE_ENTITY {
            let fields = body["fields"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: {body}"));
            assert!(
                !fields.is_empty() && fields.iter().all(|f| f["reason"].is_string()),
                "{what}: {body}"
            );
        }
    }
    nothing_written(&pool).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_422_lists_every_bad_field_with_its_reason(pool: PgPool) {
    let st = state(&pool).await;
    let appt = appointment(&pool).await;
    let (status, body) = send(
        &st,
        patch(
            &format!("/api/intake/{appt}"),
            FRONT_DESK,
            &json!({"status": "done", "consent_signed": 1, "color": "red"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, ["color", "consent_signed", "status"]);
    nothing_written(&pool).await;
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn without_a_secret_write_back_is_not_served_and_a_dead_database_is_a_503(pool: PgPool) {
    let appt = appointment(&pool).await;
    let mut plan = common::plan("http://127.0.0.1:9");
    plan.writeback.secret = runner::config::secret::Secret::default();
    let off = runner::server::AppState::new(pool.clone(), std::sync::Arc::new(plan));
    let (status, _) = send(
        &off,
        patch(&format!("/api/intake/{appt}"), FRONT_DESK, &json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "disabled, not open");

    let st = state(&pool).await;
    let down = common::closed_pool(&pool).await;
    let dead = runner::server::AppState::new(down, st.plan.clone());
    let (status, _) = send(
        &dead,
        patch(
            &format!("/api/intake/{appt}"),
            FRONT_DESK,
            &json!({"status": "pending"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    nothing_written(&pool).await;
}
