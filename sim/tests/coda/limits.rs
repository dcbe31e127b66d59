//! Rate limits, body size and fault injection.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sim::coda::{FaultConfig, RateLimitConfig, WindowMode};

use crate::common::{Sim, assert_error, cells, start};

fn one_row() -> Value {
    json!({"rows": [{"cells": cells(&[("c-key", json!("p"))])}]})
}

#[tokio::test]
async fn the_eleventh_write_in_a_window_gets_429_in_the_spec_shape() {
    let sim = start(|c| c.rate_limit = Some(RateLimitConfig::default())).await;
    for _ in 0..10 {
        sim.upsert(one_row()).await;
    }
    let response = sim
        .send(Method::POST, &Sim::table_path("/rows"), Some(&one_row()))
        .await;
    assert!(response.headers().get("retry-after").is_none());
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS);
    // Deletes share the write budget; reads have their own.
    let delete = json!({"rowIds": []});
    let (status, _) = sim
        .json(Method::DELETE, &Sim::table_path("/rows"), Some(&delete))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(sim.get(&Sim::table_path("/rows")).await.0, StatusCode::OK);
    let stats = sim.handle.state().stats();
    assert_eq!((stats.writes, stats.throttled, stats.reads), (10, 2, 1));
    assert_eq!(
        stats.requests("POST /docs/{docId}/tables/{tableIdOrName}/rows"),
        11
    );
    assert_eq!(
        sim.handle
            .state()
            .table_rows(crate::common::DOC, crate::common::TABLE)
            .len(),
        10
    );
}

#[tokio::test]
async fn budgets_are_per_token_and_free_up_after_the_window() {
    let mut sim = start(|c| {
        c.tokens = vec!["a".into(), "b".into()];
        c.rate_limit = Some(RateLimitConfig {
            writes: Some(2),
            window: Duration::from_millis(400),
            mode: WindowMode::Fixed,
            retry_after: true,
            ..RateLimitConfig::default()
        });
    })
    .await;
    sim.token = "a".into();
    sim.upsert(one_row()).await;
    sim.upsert(one_row()).await;
    let response = sim
        .send(Method::POST, &Sim::table_path("/rows"), Some(&one_row()))
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|v| v.as_bytes().to_vec()),
        Some(b"1".to_vec())
    );
    sim.token = "b".into();
    sim.upsert(one_row()).await;
    sim.token = "a".into();
    tokio::time::sleep(Duration::from_millis(450)).await;
    sim.upsert(one_row()).await;
    // Switched off at runtime: no more 429s.
    sim.handle.state().set_rate_limit(None);
    for _ in 0..5 {
        sim.upsert(one_row()).await;
    }
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_before_anything_else() {
    let sim = start(|c| c.max_body_bytes = 1024).await;
    let big = json!({"rows": [{"cells": cells(&[("c-name", json!("x".repeat(2000)))])}]});
    let (status, body) = sim
        .json(Method::POST, &Sim::table_path("/rows"), Some(&big))
        .await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE);
    // Also without a token: the size check comes first, like a front proxy's.
    let response = sim
        .http
        .post(sim.url(&Sim::table_path("/rows")))
        .json(&big)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(sim.handle.state().stats().too_large, 2);
    sim.handle.state().set_max_body_bytes(1 << 20);
    sim.upsert(big).await;
}

#[tokio::test]
async fn the_default_limit_is_two_megabytes() {
    let sim = start(|_| {}).await;
    let big =
        json!({"rows": [{"cells": cells(&[("c-name", json!("x".repeat(2 * 1024 * 1024)))])}]});
    let (status, body) = sim
        .json(Method::POST, &Sim::table_path("/rows"), Some(&big))
        .await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn injected_failures_follow_the_seed_and_apply_nothing() {
    let faults = FaultConfig {
        seed: 42,
        error_rate: 0.5,
        error_status: 503,
        ..FaultConfig::default()
    };
    let run = |faults: FaultConfig| async move {
        let sim = start(|c| c.faults = faults).await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            let response = sim
                .send(Method::POST, &Sim::table_path("/rows"), Some(&one_row()))
                .await;
            statuses.push(response.status().as_u16());
        }
        let rows = sim
            .handle
            .state()
            .table_rows(crate::common::DOC, crate::common::TABLE)
            .len();
        (statuses, rows, sim.handle.state().stats().injected_errors)
    };
    let (a, rows, injected) = run(faults.clone()).await;
    let (b, _, _) = run(faults).await;
    assert_eq!(a, b);
    let failed = a.iter().filter(|s| **s == 503).count();
    assert!((3..18).contains(&failed), "{a:?}");
    assert_eq!(injected, failed as u64);
    assert_eq!(rows, 20 - failed);
}
