//! `upsertRows`: schema validation, column checks, key matching and asynchronous apply.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{DOC, Sim, TABLE, assert_error, cells, start};

#[tokio::test]
async fn key_columns_insert_then_update_every_matching_row() {
    let sim = start(|_| {}).await;
    // Two rows with the same key, inserted without keys.
    let body = json!({"rows": [
        {"cells": cells(&[("c-key", json!("p1")), ("c-name", json!("Ann"))])},
        {"cells": cells(&[("c-key", json!("p1")), ("c-name", json!("Ann B"))])},
    ]});
    let answer = sim.upsert(body).await;
    let added: Vec<Value> = answer["addedRowIds"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(added.len(), 2);
    let rows = sim.handle.state().table_rows(DOC, TABLE);
    let ids: Vec<Value> = rows.iter().map(|r| json!(r.id)).collect();
    assert_eq!(ids, added, "addedRowIds are the ids the rows get");

    // Upsert by key: both p1 rows are updated, p2 is inserted.
    let body = json!({"keyColumns": ["c-key"], "rows": [
        {"cells": cells(&[("c-key", json!("p1")), ("c-visits", json!(3))])},
        {"cells": cells(&[("Patient id", json!("p2")), ("Name", json!("Bo"))])},
    ]});
    let answer = sim.upsert(body).await;
    assert!(answer.get("addedRowIds").is_none(), "{answer}");
    assert!(answer["requestId"].is_string());
    let rows = sim.handle.state().table_rows(DOC, TABLE);
    assert_eq!(rows.len(), 3);
    let names = ["Ann", "Ann B"];
    for (row, name) in rows.iter().take(2).zip(names) {
        assert_eq!(row.values.get("c-visits"), Some(&json!(3)));
        assert_eq!(
            row.values.get("c-name"),
            Some(&json!(name)),
            "other cells stay"
        );
        assert!(row.updated_at > row.created_at);
    }
    assert_eq!(rows[2].values.get("c-name"), Some(&json!("Bo")));
    let stats = sim.handle.state().stats();
    assert_eq!((stats.rows_added, stats.rows_updated), (3, 2));
    assert_eq!(stats.upsert_rows_received, 4);
}

#[tokio::test]
async fn unknown_and_calculated_columns_are_400s_naming_only_the_column() {
    let sim = start(|_| {}).await;
    let cases = [
        (
            json!({"rows": [{"cells": cells(&[("c-nope", json!("secret-1"))])}]}),
            "c-nope",
        ),
        (
            json!({"rows": [{"cells": cells(&[("Double", json!("secret-2"))])}]}),
            "c-calc",
        ),
        (
            json!({"keyColumns": ["c-missing"], "rows": [{"cells": cells(&[("c-key", json!("secret-3"))])}]}),
            "c-missing",
        ),
        (
            json!({"keyColumns": ["c-key"], "rows": [{"cells": cells(&[("c-name", json!("secret-4"))])}]}),
            "c-key",
        ),
    ];
    for (body, column) in cases {
        let (status, err) = sim
            .json(Method::POST, &Sim::table_path("/rows"), Some(&body))
            .await;
        let message = assert_error(status, &err, StatusCode::BAD_REQUEST);
        assert!(message.contains(column), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
    assert!(sim.handle.state().table_rows(DOC, TABLE).is_empty());
    assert_eq!(sim.handle.state().stats().mutations_accepted, 0);
}

#[tokio::test]
async fn bodies_that_break_the_spec_schema_are_400s() {
    let sim = start(|_| {}).await;
    let bodies = [
        json!({"rows": [], "extra": true}),
        json!({"rows": [{"cells": [], "extra": 1}]}),
        json!({"rows": [{"cells": [{"column": "c-key", "value": "x", "extra": 1}]}]}),
        json!({"keyColumns": ["c-key"]}),
        json!({"rows": [{}]}),
        json!({"rows": [{"cells": [{"column": "c-key"}]}]}),
        json!({"rows": [{"cells": [{"value": "x"}]}]}),
        json!({"rows": [{"cells": [{"column": "c-key", "value": null}]}]}),
        json!({"rows": [{"cells": [{"column": "c-key", "value": [["a", ["too deep"]]]}]}]}),
        json!({"rows": [{"cells": [{"column": "c-key", "value": {"a": 1}}]}]}),
        json!({"rows": [], "keyColumns": [1]}),
        json!([]),
    ];
    for body in bodies {
        let (status, err) = sim
            .json(Method::POST, &Sim::table_path("/rows"), Some(&body))
            .await;
        assert_error(status, &err, StatusCode::BAD_REQUEST);
    }
    let raw = sim
        .http
        .post(sim.url(&Sim::table_path("/rows")))
        .bearer_auth(&sim.token)
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    // Arrays one level deep are fine.
    let ok = json!({"rows": [{"cells": cells(&[("c-name", json!(["a", ["b", 1, true]]))])}]});
    sim.upsert(ok).await;
}

#[tokio::test]
async fn mutation_status_turns_true_once_the_delay_has_passed() {
    let sim = start(|c| c.apply_delay = Duration::from_millis(300)).await;
    let body = json!({"rows": [{"cells": cells(&[("c-key", json!("p1"))])}]});
    let answer = sim.upsert(body).await;
    let request = answer["requestId"].as_str().unwrap_or_default().to_owned();
    let status_path = format!("/mutationStatus/{request}");
    assert_eq!(
        sim.get(&status_path).await,
        (StatusCode::OK, json!({"completed": false}))
    );
    assert!(
        sim.handle.state().table_rows(DOC, TABLE).is_empty(),
        "not applied yet"
    );
    let (_, rows) = sim.get(&Sim::table_path("/rows")).await;
    assert_eq!(rows["items"], json!([]));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        sim.get(&status_path).await,
        (StatusCode::OK, json!({"completed": true}))
    );
    assert_eq!(sim.handle.state().table_rows(DOC, TABLE).len(), 1);
    let (status, err) = sim.get("/mutationStatus/mutate:unknown").await;
    assert_error(status, &err, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn later_mutations_wait_for_earlier_ones_and_flush_applies_all() {
    let sim = start(|c| c.apply_delay = Duration::from_secs(30)).await;
    let keyed = |v: i64| json!({"keyColumns": ["c-key"], "rows": [{"cells": cells(&[("c-key", json!("p")), ("c-visits", json!(v))])}]});
    sim.upsert(keyed(1)).await;
    sim.handle.state().set_apply_delay(Duration::ZERO);
    let second = sim.upsert(keyed(2)).await;
    let request = second["requestId"].as_str().unwrap_or_default();
    assert_eq!(sim.handle.state().mutation_completed(request), Some(false));
    assert_eq!(sim.handle.state().pending_mutations(), 2);
    sim.handle.state().flush_mutations();
    let rows = sim.handle.state().table_rows(DOC, TABLE);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].values.get("c-visits"), Some(&json!(2)));
}
