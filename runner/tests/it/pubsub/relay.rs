//! The outbox relay against the Pub/Sub simulator, the simulator pushing to a served runner,
//! and `runner serve --role sync|push` as a black box.

use std::process::Stdio;
use std::time::Duration;

use runner::pubsub::{Auth, ChangeEvent, Publisher, relay_once};
use sim::pubsub::{PubsubHandle, PubsubSim, PushSubscription};
use sqlx::PgPool;
use tokio::process::Command;

use super::state;
use crate::common;
use crate::push::{sync_one, world};
use crate::schedule::jwks::{Jwks, KID, claims, jwk, keys, token};

fn publisher(sim: &PubsubHandle, pool: &PgPool) -> Publisher {
    Publisher::new(
        sim.url(),
        "clinic",
        "changes",
        Auth::None,
        Some(pool.clone()),
    )
}

async fn pending(pool: &PgPool) -> i64 {
    common::count(pool, "select count(*) from outbox where status = 'pending'").await
}

/// Runs relay passes until nothing is left to publish.
async fn drain(pool: &PgPool, p: &Publisher) -> u64 {
    let mut published = 0;
    loop {
        let pass = relay_once(pool, p, 100, "test").await.expect("relay pass");
        assert_eq!(pass.failed, 0);
        if pass.published == 0 {
            return published;
        }
        published += pass.published;
    }
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_relay_publishes_pending_outbox_events_and_marks_them_relayed(pool: PgPool) {
    let w = world(3, false).await;
    sync_one(&pool, &w.plan, "patients").await;
    let events = pending(&pool).await;
    assert!(events >= 3, "the sync left change events");
    let sim = PubsubSim::start().await.expect("pubsub sim");
    let p = publisher(&sim, &pool);

    // An outage: nothing is marked done, the events wait with the reason and a backoff.
    sim.state().fail_publish(Some(503));
    let pass = relay_once(&pool, &p, 100, "test").await.expect("pass");
    assert_eq!((pass.published, pass.failed), (0, events as u64));
    let waiting = common::count(
        &pool,
        "select count(*) from outbox where status = 'pending' and attempts = 1
            and last_error = 'Pub/Sub publish answered 503' and available_at > now()",
    )
    .await;
    assert_eq!(waiting, events);
    sqlx::query("update outbox set available_at = now()")
        .execute(&pool)
        .await
        .expect("due");

    sim.state().fail_publish(None);
    assert_eq!(drain(&pool, &p).await, events as u64);
    assert_eq!(pending(&pool).await, 0);
    let relayed = common::count(&pool, "select count(*) from outbox where status = 'relayed' and attempts = 0 and last_error is null").await;
    assert_eq!(
        relayed, events,
        "relayed: the push role's worker settles them"
    );
    let messages = sim.messages();
    assert_eq!(messages.len() as i64, events);
    let ids: Vec<i64> = sqlx::query_scalar("select id from outbox order by id")
        .fetch_all(&pool)
        .await
        .expect("ids");
    let published: Vec<i64> = messages
        .iter()
        .map(|m| {
            serde_json::from_slice::<ChangeEvent>(&m.data)
                .expect("event")
                .outbox_id
        })
        .collect();
    assert_eq!(published, ids, "each event once, in outbox order");
    assert!(
        messages
            .iter()
            .all(|m| m.topic == "projects/clinic/topics/changes")
    );
    assert!(messages.iter().all(|m| m.attributes["table"] == "patients"));
    let logged = common::count(
        &pool,
        "select count(*) from access_log where system = 'pubsub'",
    )
    .await;
    assert!(logged >= 2);
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn relayed_events_pushed_by_pubsub_with_oidc_reach_coda(pool: PgPool) {
    let w = world(3, false).await;
    sync_one(&pool, &w.plan, "patients").await;
    let sim = PubsubSim::start().await.expect("pubsub sim");
    let events = drain(&pool, &publisher(&sim, &pool)).await;

    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let role = super::push_role::PushRole::start(state(&pool, &w, Some(&jwks))).await;
    let endpoint = role.endpoint.clone();

    // Without a token every attempt is refused and nothing is acknowledged.
    let mut unsigned = PushSubscription::new(&endpoint);
    unsigned.max_attempts = 2;
    let reports = sim.deliver(&unsigned).await;
    assert!(reports.iter().all(|r| !r.acked && r.statuses == [401, 401]));

    let signed = PushSubscription::new(&endpoint).with_signer(|| token(KID, &keys().0, &claims()));
    let reports = sim.deliver(&signed).await;
    assert_eq!(reports.len() as u64, events);
    assert!(reports.iter().all(|r| r.acked), "{reports:?}");
    super::push_role::settled(&pool).await;
    let doc = &w.plan.systems.coda.doc_id;
    let rows = w
        .coda
        .state()
        .table_rows(doc, &w.plan.mappings["patients"].table);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        common::count(&pool, "select count(*) from processed_messages").await as u64,
        events
    );
    assert!(
        sim.deliver(&signed).await.is_empty(),
        "everything acknowledged"
    );
    // Pub/Sub's at-least-once redelivery of an acknowledged message: acknowledged, no write.
    let writes = w.coda.state().stats().writes;
    let again = sim.push(&signed, &sim.messages()[0]).await;
    assert!(again.acked);
    assert_eq!(w.coda.state().stats().writes, writes);
    role.stop().await;
}

/// `runner serve` on an ephemeral port with the test environment.
async fn serve(
    pool: &PgPool,
    coda_url: &str,
    role: &str,
    pubsub: Option<&PubsubHandle>,
) -> tokio::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_runner"));
    cmd.current_dir(common::repo())
        .env("DATABASE_URL", common::database_url(pool).await)
        .env_remove("PORT")
        .env_remove("PUBSUB_EMULATOR_HOST")
        .env_remove("PUBSUB_TOPIC")
        .env_remove("PUBSUB_PROJECT_ID")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-scheduler",
            "--role",
            role,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let runner::config::Env::Map(vars) = common::env("http://127.0.0.1:9", coda_url) {
        cmd.envs(vars);
    }
    if let Some(sim) = pubsub {
        cmd.env("PUBSUB_EMULATOR_HOST", sim.host())
            .env("PUBSUB_PROJECT_ID", "clinic")
            .env("PUBSUB_TOPIC", "changes");
    }
    cmd.spawn().expect("runner serve starts")
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn serve_role_sync_relays_to_pubsub_and_role_push_pushes_only_relayed_events(pool: PgPool) {
    let w = world(2, false).await;
    sync_one(&pool, &w.plan, "patients").await;
    let events = pending(&pool).await;
    let sim = PubsubSim::start().await.expect("pubsub sim");

    // Role push: its worker takes relayed events only, so pending ones wait for the relay.
    let mut push = serve(&pool, w.coda.url(), "push", Some(&sim)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(pending(&pool).await, events);
    assert_eq!(w.coda.state().stats().writes, 0);
    assert!(sim.messages().is_empty());
    assert!(
        push.try_wait().expect("status").is_none(),
        "serve --role push is up"
    );
    push.kill().await.expect("kill");

    // Role sync: the relay (not the Coda worker) publishes them.
    let mut sync = serve(&pool, w.coda.url(), "sync", Some(&sim)).await;
    for _ in 0..300 {
        if pending(&pool).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sync.kill().await.expect("kill");
    assert_eq!(pending(&pool).await, 0);
    assert_eq!(sim.messages().len() as i64, events);
    assert_eq!(
        w.coda.state().stats().writes,
        0,
        "the relay replaces the in-process worker"
    );

    // Role push again: its worker pushes the relayed events (deliveries only wake it sooner).
    let mut push = serve(&pool, w.coda.url(), "push", None).await;
    super::push_role::settled(&pool).await;
    push.kill().await.expect("kill");
    let doc = &w.plan.systems.coda.doc_id;
    let rows = w
        .coda
        .state()
        .table_rows(doc, &w.plan.mappings["patients"].table);
    assert_eq!(rows.len(), 2);

    // Role sync without a topic refuses to start.
    let out = serve(&pool, w.coda.url(), "sync", None)
        .await
        .wait_with_output()
        .await
        .expect("exits");
    assert_eq!(out.status.code(), Some(2));
}
