//! The push role (`runner serve --role push`, through the library) behind Pub/Sub: deliveries
//! are acknowledged once their event is durable and the role's own outbox worker pushes the
//! relayed events in batches per table; and the whole role works under `clinical_push`.

use std::time::Duration;

use futures_util::StreamExt as _;
use runner::cli::{Role, Workers};
use runner::pubsub::{Auth, Publisher, relay_once};
use runner::server::{AppState, serve_with};
use sim::pubsub::{DeliveryReport, PubsubHandle, PubsubSim, PushSubscription};
use sqlx::PgPool;
use tokio::sync::oneshot;

use super::state;
use crate::common::{self, LogCapture};
use crate::push::{World, assert_equal_only, live_rows, sync_one, world};
use crate::schedule::jwks::{Jwks, KID, claims, jwk, keys, token};

/// Relays every pending event to a fresh Pub/Sub simulator; returns it.
async fn relay_all(pool: &PgPool) -> PubsubHandle {
    let sim = PubsubSim::start().await.expect("pubsub sim");
    let p = Publisher::new(sim.url(), "clinic", "changes", Auth::None, None);
    while relay_once(pool, &p, 100, "test")
        .await
        .expect("relay")
        .published
        > 0
    {}
    sim
}

/// A running push role: the server with that role's workers on an ephemeral port.
pub(super) struct PushRole {
    pub endpoint: String,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl PushRole {
    pub(super) async fn start(state: AppState) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}/pubsub/push", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let workers = Workers {
            role: Role::Push,
            scheduler: false,
            relay: None,
        };
        let server = tokio::spawn(serve_with(
            state,
            listener,
            async move {
                let _ = stopped.await;
            },
            move |state, stop| workers.spawn(state, stop),
        ));
        PushRole {
            endpoint,
            stop,
            server,
        }
    }

    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

/// Delivers every message of `sim` to `endpoint`, `concurrency` at a time, signed.
async fn deliver(sim: &PubsubHandle, endpoint: &str, concurrency: usize) -> Vec<DeliveryReport> {
    let sub = PushSubscription::new(endpoint).with_signer(|| token(KID, &keys().0, &claims()));
    futures_util::stream::iter(sim.messages())
        .map(|m| {
            let sub = sub.clone();
            async move { sim.push(&sub, &m).await }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// Waits until no event is pending or relayed (the worker settled them all).
pub(super) async fn settled(pool: &PgPool) {
    for _ in 0..1200 {
        let waiting = common::count(
            pool,
            "select count(*) from outbox where status in ('pending', 'relayed')",
        )
        .await;
        if waiting == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the push role did not settle the relayed events");
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn a_hundred_deliveries_sixteen_at_a_time_get_no_5xx_and_one_batched_write_per_table(
    pool: PgPool,
) {
    let w = world(100, false).await;
    sync_one(&pool, &w.plan, "patients").await;
    let sim = relay_all(&pool).await;
    assert_eq!(sim.messages().len(), 100);
    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let role = PushRole::start(state(&pool, &w, Some(&jwks))).await;

    let reports = deliver(&sim, &role.endpoint, 16).await;
    settled(&pool).await;
    role.stop().await;

    let five_xx = reports
        .iter()
        .flat_map(|r| &r.statuses)
        .filter(|s| **s >= 500)
        .count();
    let stats = w.coda.state().stats();
    let rows = live_rows(&pool, &w.plan).await["patients"];
    let duplicates = stats.upsert_rows_received as i64 - rows as i64;
    let limit = rows.div_ceil(500) + 1;
    eprintln!(
        "100 deliveries, 16 concurrent: {five_xx} x 5xx, {duplicates} duplicate row writes, {} write calls (limit {limit}) for {rows} rows",
        stats.writes
    );
    assert!(reports.iter().all(|r| r.acked), "{reports:?}");
    assert_eq!(five_xx, 0);
    assert_eq!(duplicates, 0, "{stats:?}");
    assert!(stats.writes <= limit, "{stats:?}");
    assert_equal_only(&pool, &w.coda, &w.plan, Some(&["patients"])).await;
    // A redelivery of an event already done is acknowledged without a write.
    let again = deliver(&sim, &role_less_endpoint(&pool, &w, &jwks).await, 1).await;
    assert!(again.iter().all(|r| r.acked && r.statuses == [200]));
    assert_eq!(w.coda.state().stats().writes, stats.writes);
}

/// A receiver without workers (a second instance of the role), for redeliveries.
async fn role_less_endpoint(pool: &PgPool, w: &World, jwks: &Jwks) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/pubsub/push", listener.local_addr().unwrap());
    let app = runner::server::router(state(pool, w, Some(jwks)));
    tokio::spawn(async move { axum::serve(listener, app).await });
    endpoint
}

#[sqlx::test(migrator = "runner::store::MIGRATOR")]
async fn the_push_role_receives_and_drains_to_coda_as_a_member_of_clinical_push(pool: PgPool) {
    let w = world(4, false).await;
    sync_one(&pool, &w.plan, "patients").await;
    sync_one(&pool, &w.plan, "medications").await;
    // A hard delete: the push reads the row's last values from its audit row.
    let mut tx = pool.begin().await.unwrap();
    runner::store::set_actor(&mut tx, "test").await.unwrap();
    sqlx::query(
        "delete from medications where id = (select id from medications order by id limit 1)",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let db = common::database_name(&pool).await;
    let login = common::login_name(&db, "push");
    let role_sql = |sql: String| sqlx::query(sqlx::AssertSqlSafe(sql));
    let _ = role_sql(format!("drop role if exists {login}"))
        .execute(&pool)
        .await;
    role_sql(format!("create role {login} login in role clinical_push"))
        .execute(&pool)
        .await
        .unwrap();
    let as_push = PgPool::connect(&format!(
        "postgres://{}@127.0.0.1:5432/{db}",
        login.as_str()
    ))
    .await
    .unwrap();

    let sim = relay_all(&pool).await;
    let jwks = Jwks::start(vec![jwk(KID, &keys().0)]).await;
    let logs = LogCapture::start();
    let role = PushRole::start(state(&as_push, &w, Some(&jwks))).await;
    let reports = deliver(&sim, &role.endpoint, 4).await;
    settled(&pool).await;
    role.stop().await;
    as_push.close().await;
    role_sql(format!("drop role {login}"))
        .execute(&pool)
        .await
        .unwrap();

    assert!(reports.iter().all(|r| r.acked), "{reports:?}");
    let text = logs.text();
    assert!(!text.contains("permission denied"), "{text}");
    let errors = common::count(
        &pool,
        "select count(*) from outbox where status <> 'done' or last_error is not null",
    )
    .await;
    assert_eq!(errors, 0, "{text}");
    assert_equal_only(&pool, &w.coda, &w.plan, Some(&["patients", "medications"])).await;
}
