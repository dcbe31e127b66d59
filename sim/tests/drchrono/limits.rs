//! Throttling, fault injection and counters.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sim::drchrono::{FaultConfig, RateLimitConfig};

use crate::common::start;

fn limits(hourly: Option<u32>, burst: Option<u32>, retry_after: bool) -> Option<RateLimitConfig> {
    Some(RateLimitConfig {
        hourly,
        burst,
        retry_after,
        ..RateLimitConfig::default()
    })
}

#[tokio::test]
async fn bursts_over_the_limit_get_429_without_retry_after() {
    let sim = start(5, |c| c.rate_limit = limits(None, Some(10), false)).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let r = sim.get("/api/doctors").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().get("retry-after").is_none());
            assert_eq!(
                r.json::<Value>().await.unwrap_or_default(),
                json!({"detail": "Request was throttled."})
            );
            statuses.push(429);
        } else {
            statuses.push(r.status().as_u16());
        }
    }
    assert_eq!(&statuses[..10], &[200; 10]);
    assert_eq!(&statuses[10..], &[429, 429]);
    assert_eq!(sim.handle.state().stats().throttled, 2);
    // After the window slides, requests pass again.
    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(sim.get("/api/doctors").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_hourly_budget_resets_with_the_next_window_and_can_send_retry_after() {
    let sim = start(5, |c| {
        c.rate_limit = Some(RateLimitConfig {
            hour: Duration::from_millis(800),
            ..limits(Some(2), None, true).unwrap_or_default()
        });
    })
    .await;
    // Start at the beginning of a window so the budget is not reset mid-test.
    let hour_ms = 800u128;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(hour_ms - now_ms % hour_ms).unwrap_or(0) + 5,
    ))
    .await;
    assert_eq!(sim.get("/api/doctors").await.status(), StatusCode::OK);
    assert_eq!(sim.get("/api/doctors").await.status(), StatusCode::OK);
    let refused = sim.get("/api/doctors").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    tokio::time::sleep(Duration::from_millis(850)).await;
    assert_eq!(sim.get("/api/doctors").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn rate_limits_can_be_changed_and_disabled_at_runtime() {
    let sim = start(5, |c| c.rate_limit = limits(None, Some(1), false)).await;
    assert_eq!(sim.get("/api/doctors").await.status(), StatusCode::OK);
    assert_eq!(
        sim.get("/api/doctors").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let put = sim
        .http
        .put(sim.url("/_sim/config/rate_limit"))
        .json(&Value::Null)
        .send()
        .await
        .expect("sent");
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    for _ in 0..20 {
        assert_eq!(sim.get("/api/doctors").await.status(), StatusCode::OK);
    }
}

async fn fault_statuses(seed: u64) -> Vec<u16> {
    let faults = FaultConfig {
        seed,
        error_rate: 0.4,
        slow_rate: 0.1,
        slow_delay: Duration::from_millis(5),
    };
    let sim = start(5, |c| c.faults = faults).await;
    let mut out = Vec::new();
    for _ in 0..30 {
        out.push(sim.get("/api/doctors").await.status().as_u16());
    }
    let stats = sim.handle.state().stats();
    assert_eq!(
        stats.injected_errors,
        out.iter().filter(|s| **s == 500).count() as u64
    );
    out
}

#[tokio::test]
async fn injected_faults_are_reproducible_from_the_seed() {
    let a = fault_statuses(77).await;
    assert_eq!(a, fault_statuses(77).await);
    assert!(a.contains(&500) && a.contains(&200));
    assert_ne!(a, fault_statuses(78).await);
}

#[tokio::test]
async fn stats_count_requests_per_route() {
    let sim = start(5, |_| {}).await;
    sim.get("/api/patients").await;
    sim.get("/api/patients/1000001").await;
    sim.get("/api/patients/1000002").await;
    let stats: Value = sim
        .http
        .get(sim.url("/_sim/stats"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(stats["requests_by_path"]["/api/patients"], 1);
    assert_eq!(stats["requests_by_path"]["/api/patients/{id}"], 2);
    assert_eq!(stats["requests_total"], 3);
}
