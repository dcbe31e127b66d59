//! The `/_sim/` control endpoints over HTTP.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{DOC, Sim, TABLE, cells, start};

async fn control(
    sim: &Sim,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = sim.http.request(method, sim.url(&format!("/_sim{path}")));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let response = req.send().await.expect("sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn tables_and_columns_are_managed_over_http() {
    let sim = start(|_| {}).await;
    let new = json!({"id": "grid-new", "name": "New", "columns": [
        {"id": "c-1", "name": "One"}, {"id": "c-2", "name": "Two", "calculated": true},
    ]});
    let (status, created) = control(
        &sim,
        Method::POST,
        &format!("/docs/{DOC}/tables"),
        Some(new.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["columns"][1]["calculated"], true);
    let (status, _) = control(
        &sim,
        Method::POST,
        &format!("/docs/{DOC}/tables"),
        Some(new),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let path = format!("/docs/{DOC}/tables/grid-new");
    let (status, _) = control(
        &sim,
        Method::POST,
        &format!("{path}/columns"),
        Some(json!({"id": "c-3", "name": "Three"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = control(
        &sim,
        Method::PATCH,
        &format!("{path}/columns/c-1"),
        Some(json!({"name": "Uno"})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = control(&sim, Method::DELETE, &format!("{path}/columns/Two"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, row) = control(
        &sim,
        Method::POST,
        &format!("{path}/rows"),
        Some(json!({"values": {"Uno": "x"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(row["values"], json!({"c-1": "x"}));
    let (_, state) = control(&sim, Method::GET, &path, None).await;
    let names: Vec<Value> = state["columns"]
        .as_array()
        .map(|c| c.iter().map(|c| c["name"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(names, [json!("Uno"), json!("Three")]);
    assert_eq!(state["rows"].as_array().map(Vec::len), Some(1));
    let (_, tables) = control(&sim, Method::GET, &format!("/docs/{DOC}/tables"), None).await;
    assert_eq!(tables, json!([TABLE, "grid-new"]));
    let (status, _) = control(&sim, Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        sim.get(&format!("/docs/{DOC}/tables/grid-new")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = control(&sim, Method::GET, "/docs/nope/tables/x", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn runtime_settings_and_stats_are_exposed_over_http() {
    let sim = start(|_| {}).await;
    let limits = json!({"writes": 1, "window_ms": 60000});
    let (status, _) = control(&sim, Method::PUT, "/config/rate_limit", Some(limits)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, active) = control(&sim, Method::GET, "/config/rate_limit", None).await;
    assert_eq!(
        (active["writes"].clone(), active["reads"].clone()),
        (json!(1), json!(100))
    );
    let (status, _) = control(
        &sim,
        Method::PUT,
        "/config/apply_delay",
        Some(json!({"apply_delay_ms": 60000})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let one = json!({"rows": [{"cells": cells(&[("c-key", json!("p"))])}]});
    sim.upsert(one.clone()).await;
    let (status, _) = sim
        .json(Method::POST, &Sim::table_path("/rows"), Some(&one))
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        control(&sim, Method::GET, "/mutations", None).await.1,
        json!({"pending": 1})
    );
    control(&sim, Method::POST, "/mutations/flush", None).await;
    assert_eq!(sim.handle.state().table_rows(DOC, TABLE).len(), 1);
    let (_, stats) = control(&sim, Method::GET, "/stats", None).await;
    assert_eq!(stats["throttled"], 1);
    assert_eq!(stats["mutations_applied"], 1);
    assert_eq!(stats["upsert_rows_received"], 1);
    let (status, _) = control(
        &sim,
        Method::PUT,
        "/config/rate_limit",
        Some(json!({"writez": 1})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = control(
        &sim,
        Method::PUT,
        "/config/max_body_bytes",
        Some(json!({"max_body_bytes": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = sim
        .json(Method::POST, &Sim::table_path("/rows"), Some(&one))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let (status, _) = control(
        &sim,
        Method::PUT,
        "/config/faults",
        Some(json!({"error_rate": 1.0})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        sim.get("/whoami").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}
