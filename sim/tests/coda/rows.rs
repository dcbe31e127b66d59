//! Deleting and updating rows.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{DOC, Sim, TABLE, assert_error, cells, start};

async fn three_rows(sim: &Sim) -> Vec<String> {
    let rows: Vec<Value> = ["p1", "p2", "p3"]
        .iter()
        .map(|k| json!({"cells": cells(&[("c-key", json!(k))])}))
        .collect();
    let answer = sim.upsert(json!({"rows": rows})).await;
    answer["addedRowIds"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn deleting_rows_answers_202_and_removes_them_once_applied() {
    let sim = start(|c| c.apply_delay = Duration::from_millis(100)).await;
    let ids = three_rows(&sim).await;
    sim.handle.state().flush_mutations();
    let body = json!({"rowIds": [ids[0], "i-unknown"]});
    let (status, answer) = sim
        .json(Method::DELETE, &Sim::table_path("/rows"), Some(&body))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(answer["rowIds"], json!([ids[0], "i-unknown"]));
    assert_eq!(
        sim.handle.state().table_rows(DOC, TABLE).len(),
        3,
        "applied later"
    );
    let (status, answer) = sim
        .json(
            Method::DELETE,
            &Sim::table_path(&format!("/rows/{}", ids[1])),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(answer["id"], json!(ids[1]));
    sim.handle.state().flush_mutations();
    let left: Vec<String> = sim
        .handle
        .state()
        .table_rows(DOC, TABLE)
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, [ids[2].clone()]);
    assert_eq!(sim.handle.state().stats().rows_deleted, 2);
    let (status, err) = sim
        .json(Method::DELETE, &Sim::table_path("/rows/i-unknown"), None)
        .await;
    assert_error(status, &err, StatusCode::NOT_FOUND);
    let (status, err) = sim
        .json(
            Method::DELETE,
            &Sim::table_path("/rows"),
            Some(&json!({"ids": []})),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn updating_a_row_writes_only_its_cells() {
    let sim = start(|_| {}).await;
    let ids = three_rows(&sim).await;
    let body = json!({"row": {"cells": cells(&[("Visits", json!(5))])}});
    let (status, answer) = sim
        .json(
            Method::PUT,
            &Sim::table_path(&format!("/rows/{}", ids[1])),
            Some(&body),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(answer["id"], json!(ids[1]));
    let rows = sim.handle.state().table_rows(DOC, TABLE);
    assert_eq!(rows[1].values.get("c-visits"), Some(&json!(5)));
    assert_eq!(rows[1].values.get("c-key"), Some(&json!("p2")));
    assert!(!rows[0].values.contains_key("c-visits"));
    let calc = json!({"row": {"cells": cells(&[("c-calc", json!(1))])}});
    let (status, err) = sim
        .json(
            Method::PUT,
            &Sim::table_path(&format!("/rows/{}", ids[1])),
            Some(&calc),
        )
        .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST);
}
