//! References between tables: a child that arrives before its parent gets its foreign key when
//! the parent arrives (and `verify` counts what is still unresolved), and a patient removed
//! upstream is soft-deleted by a full listing together with the rows that reference it, so
//! nothing of it stays in Coda.

use axum::http::StatusCode;
use runner::server::router;
use sim::data::Resource;
use sim::webhooks::DrChronoWebhooks;
use sqlx::PgPool;
use uuid::Uuid;

use super::{opts, state, sync};
use crate::common;
use crate::webhooks::support::{SECRET, call, clinic, drain, plan};

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_child_that_arrives_before_its_parent_is_linked_when_the_parent_arrives(pool: PgPool) {
    let clinic = clinic();
    let st = state(&pool, plan());
    let app = router(st.clone());
    let appt = clinic.records(Resource::Appointments)[0].clone();
    let patient_id = appt["patient"].as_i64().unwrap();
    let patient = clinic.record(Resource::Patients, patient_id).unwrap();
    let mut hooks = DrChronoWebhooks::new(SECRET, 4);
    let (status, _) = call(&app, &hooks.deliver("APPOINTMENT_MODIFY", appt.clone())).await;
    assert_eq!(status, StatusCode::OK);
    drain(&st).await;
    let unresolved = "select count(*) from appointments where patient_id is null and drchrono_patient_id is not null";
    assert_eq!(common::count(&pool, unresolved).await, 1);
    let mut conn = pool.acquire().await.unwrap();
    let rel = st
        .plan
        .relations
        .iter()
        .find(|r| r.table == "appointments" && r.fk == "patient_id")
        .expect("appointments reference patients");
    assert_eq!(
        runner::link::relink::unresolved(&mut conn, rel)
            .await
            .unwrap(),
        1
    );
    drop(conn);

    let (status, _) = call(&app, &hooks.deliver("PATIENT_MODIFY", patient)).await;
    assert_eq!(status, StatusCode::OK);
    drain(&st).await;
    assert_eq!(common::count(&pool, unresolved).await, 0);
    let (linked, actor): (Option<Uuid>, String) = sqlx::query_as(
        "select a.patient_id, c.actor from appointments a, change_log c \
         where c.table_name = 'appointments' and 'patient_id' = any(c.changed_fields) \
           and c.operation = 'UPDATE'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(linked.is_some());
    assert_eq!(actor, "drchrono_webhook", "the fill is audited");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_full_listing_soft_deletes_a_removed_patient_and_the_rows_that_reference_it(
    pool: PgPool,
) {
    let sim = common::drchrono(12).await;
    let plan = common::plan(sim.url());
    for p in runner::schedule::runnable(&plan) {
        let r = sync(&pool, &plan, &p.mapping.name, &opts()).await;
        assert!(r.error.is_none(), "{}: {:?}", p.mapping.name, r.error);
    }
    let gone = sim
        .state()
        .records(Resource::Patients)
        .into_iter()
        .find(|p| {
            !p["primary_insurance"].is_null()
                || sim
                    .state()
                    .records(Resource::Appointments)
                    .iter()
                    .any(|a| a["patient"] == p["id"])
        })
        .unwrap();
    let gone_id = gone["id"].as_i64().unwrap();
    sim.state()
        .delete_record(Resource::Patients, gone_id)
        .unwrap();
    let full = runner::sync::SyncOptions {
        full: true,
        ..opts()
    };
    let r = sync(&pool, &plan, "patients", &full).await;
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.soft_deleted, 1);
    let live_children = common::count(
        &pool,
        "select (select count(*) from appointments a join patients p on p.id = a.patient_id \
                 where p.deleted_at is not null and a.deleted_at is null) \
              + (select count(*) from insurance_records i join patients p on p.id = i.patient_id \
                 where p.deleted_at is not null and i.deleted_at is null)",
    )
    .await;
    assert_eq!(
        live_children, 0,
        "no live row references the deleted patient"
    );
    let events = common::count(
        &pool,
        "select count(*) from outbox where operation = 'SOFT_DELETE' and table_name <> 'patients'",
    )
    .await;
    assert!(events > 0, "the children's removal goes to Coda");
}
