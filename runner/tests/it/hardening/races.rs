//! Lost and reordered updates on a resource without a version field (medications): a listing
//! page read before a webhook's change must not undo it, and two deliveries of one record
//! applied out of order must not leave the older. Both races are forced in order with the
//! simulator's list gate.

use axum::http::StatusCode;
use runner::server::router;
use serde_json::json;
use sim::data::Resource;
use sim::webhooks::DrChronoWebhooks;
use sqlx::PgPool;

use super::{opts, state, sync};
use crate::common;
use crate::webhooks::support::{SECRET, call};

async fn notes_of(pool: &PgPool, id: i64) -> Option<String> {
    sqlx::query_scalar("select notes from medications where drchrono_id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// DrChrono with its webhook secret set to the tests' one, and the plan pointing at it.
async fn world(pool: &PgPool) -> (sim::drchrono::DrChronoHandle, runner::config::Plan) {
    let sim = common::drchrono(4).await;
    let plan = common::plan(sim.url());
    assert_eq!(plan.systems.drchrono.webhooks.secret.expose(), SECRET);
    for p in ["providers", "patients", "medications"] {
        assert!(sync(pool, &plan, p, &opts()).await.error.is_none());
    }
    (sim, plan)
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_listing_read_before_a_webhook_change_does_not_undo_it(pool: PgPool) {
    let (sim, plan) = world(&pool).await;
    let med = sim.state().records(Resource::Medications)[0].clone();
    let id = med["id"].as_i64().unwrap();
    let gate = sim.state().gate_lists(Resource::Medications);
    let listing = {
        let (pool, plan) = (pool.clone(), plan.clone());
        tokio::spawn(async move { sync(&pool, &plan, "medications", &opts()).await })
    };
    gate.computed().await; // the page holds the old notes
    sim.state()
        .update_record(Resource::Medications, id, json!({"notes": "Dose lowered"}))
        .unwrap();
    let st = state(&pool, plan.clone());
    let changed = sim.state().record(Resource::Medications, id).unwrap();
    let mut hooks = DrChronoWebhooks::new(SECRET, 1);
    let (status, _) = call(
        &router(st.clone()),
        &hooks.deliver("PATIENT_MEDICATION_MODIFY", changed),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let client = runner::source::RestClient::drchrono(&plan.systems.drchrono, pool.clone());
    runner::ingest::refetch_pending(&pool, &plan, &client)
        .await
        .unwrap();
    runner::ingest::process_pending(&pool, &plan, None)
        .await
        .unwrap();
    assert_eq!(notes_of(&pool, id).await.as_deref(), Some("Dose lowered"));
    sim.state().ungate_lists(Resource::Medications);
    let r = listing.await.unwrap();
    assert!(r.error.is_none(), "{:?}", r.error);
    assert!(r.counts.stale >= 1, "{:?}", r.counts);
    assert_eq!(
        notes_of(&pool, id).await.as_deref(),
        Some("Dose lowered"),
        "the older page did not overwrite the webhook's change"
    );
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn two_deliveries_applied_out_of_order_leave_the_current_record(pool: PgPool) {
    let (sim, plan) = world(&pool).await;
    let id = sim.state().records(Resource::Medications)[0]["id"]
        .as_i64()
        .unwrap();
    sim.state()
        .update_record(Resource::Medications, id, json!({"notes": "first change"}))
        .unwrap();
    let first = sim.state().record(Resource::Medications, id).unwrap();
    sim.state()
        .update_record(Resource::Medications, id, json!({"notes": "second change"}))
        .unwrap();
    let second = sim.state().record(Resource::Medications, id).unwrap();
    let st = state(&pool, plan.clone());
    let app = router(st.clone());
    let mut hooks = DrChronoWebhooks::new(SECRET, 2);
    // The newer delivery is applied first; DrChrono's redelivery of the older one comes later.
    for object in [second, first] {
        let (status, _) = call(&app, &hooks.deliver("PATIENT_MEDICATION_MODIFY", object)).await;
        assert_eq!(status, StatusCode::OK);
        let client = runner::source::RestClient::drchrono(&plan.systems.drchrono, pool.clone());
        runner::ingest::refetch_pending(&pool, &plan, &client)
            .await
            .unwrap();
        runner::ingest::process_pending(&pool, &plan, None)
            .await
            .unwrap();
    }
    assert_eq!(notes_of(&pool, id).await.as_deref(), Some("second change"));
    let refetched = common::count(
        &pool,
        "select count(*) from inbox where refetched is not null and status = 'processed'",
    )
    .await;
    assert_eq!(
        refetched, 2,
        "both deliveries were applied as the API shows the record"
    );
}
