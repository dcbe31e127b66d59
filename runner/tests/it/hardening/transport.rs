//! What the runner accepts from the network: a pagination link to another origin is never
//! followed with the bearer token (and a resumable listing stores a path, not a URL), and an
//! authenticated webhook whose body is not the record its event announces is refused before
//! anything is stored.

use axum::http::StatusCode;
use runner::server::router;
use serde_json::json;
use sim::data::Resource;
use sim::webhooks::DrChronoWebhooks;
use sqlx::PgPool;

use super::{opts, state, sync};
use crate::common;
use crate::webhooks::support::{SECRET, call, clinic, plan};

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_next_link_to_another_origin_is_refused_and_never_followed(pool: PgPool) {
    let sim = common::drchrono(30).await;
    let mut plan = common::plan(sim.url());
    plan.systems.drchrono.page_size = 10;
    // The server's links point elsewhere (another host, plain http).
    sim.state().set_base_url("http://attacker.invalid:9");
    let r = sync(&pool, &plan, "patients", &opts()).await;
    let e = r.error.expect("the run fails");
    assert!(
        e.contains("refusing to follow a link to http://attacker.invalid:9"),
        "{e}"
    );
    assert_eq!(
        r.pages, 1,
        "the first page was written, the link not followed"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn an_interrupted_listing_stores_where_it_stopped_as_a_path(pool: PgPool) {
    let sim = common::drchrono(30).await;
    let mut plan = common::plan(sim.url());
    plan.systems.drchrono.page_size = 10;
    // The second page fails for good: the listing stops after one committed page.
    plan.systems.drchrono.retry.max_attempts = 1;
    sim.state()
        .set_rate_limit(Some(sim::drchrono::RateLimitConfig {
            hourly: Some(1),
            burst: None,
            ..Default::default()
        }));
    let r = sync(&pool, &plan, "patients", &opts()).await;
    assert!(r.error.is_some());
    let next: String = sqlx::query_scalar(
        "select resume_state->>'next' from sync_cursors where pipeline = 'patients'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(next.starts_with("/api/patients?"), "{next}");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_webhook_whose_body_is_not_its_events_record_is_refused_and_nothing_stored(pool: PgPool) {
    let clinic = clinic();
    let app = router(state(&pool, plan()));
    let appt = clinic.records(Resource::Appointments)[0].clone();
    let mut hooks = DrChronoWebhooks::new(SECRET, 5);
    let wrong_kind = hooks.deliver("PATIENT_MODIFY", appt);
    let cases = [
        ("an appointment as a patient", wrong_kind),
        (
            "an empty body",
            hooks.deliver("PATIENT_MODIFY", json!(null)).with_body(""),
        ),
        (
            "a JSON array",
            hooks
                .deliver("PATIENT_MODIFY", json!(null))
                .with_body("[1, 2]"),
        ),
        (
            "a body without object",
            hooks
                .deliver("PATIENT_MODIFY", json!(null))
                .with_body("{\"receiver\": {}}"),
        ),
    ];
    for (what, req) in cases {
        let (status, body) = call(&app, &req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert!(body["error"].as_str().is_some(), "{what}: {body}");
    }
    assert_eq!(common::count(&pool, "select count(*) from inbox").await, 0);
    assert_eq!(
        common::count(&pool, "select count(*) from patients").await,
        0
    );
}
