//! Unit tests across the store, the mutation queue and the in-process router.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::mutation::{Mutations, Op};
use super::stats::CodaStats;
use super::store::Store;
use super::*;

fn store() -> Store {
    let mut s = Store::new(1);
    let columns = vec![
        ColumnSpec::new("c-key", "Key"),
        ColumnSpec::new("c-val", "Value"),
        ColumnSpec::new("c-calc", "Calc").calculated(),
    ];
    s.create_table("d", "grid-1", "Tasks", columns)
        .expect("table");
    s
}

fn cells(key: &str, val: Value) -> Vec<(String, Value)> {
    vec![("c-key".into(), json!(key)), ("c-val".into(), val)]
}

fn values(s: &Store) -> Vec<(String, Value)> {
    s.table("d", "grid-1")
        .map(|t| {
            t.rows
                .iter()
                .map(|r| {
                    let key = r.values.get("c-key").cloned().unwrap_or_default();
                    let val = r.values.get("c-val").cloned().unwrap_or_default();
                    (key.as_str().unwrap_or_default().to_owned(), val)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn upserts_update_every_matching_row_and_insert_when_none_match() {
    let mut s = store();
    let keys = vec!["c-key".to_owned()];
    s.upsert(
        "d",
        "grid-1",
        &[cells("a", json!(1)), cells("a", json!(2))],
        &[],
        &[],
    );
    let (added, updated) = s.upsert(
        "d",
        "grid-1",
        &[
            cells("a", json!(9)),
            cells("b", json!(3)),
            cells("b", json!(4)),
        ],
        &keys,
        &[],
    );
    // Both "a" rows updated; "b" added by the second row, then updated by the third.
    assert_eq!((added, updated), (1, 3));
    assert_eq!(
        values(&s),
        vec![
            ("a".into(), json!(9)),
            ("a".into(), json!(9)),
            ("b".into(), json!(4))
        ]
    );
    let t = s.table("d", "Tasks").expect("by name");
    assert!(
        t.rows
            .iter()
            .all(|r| r.id.starts_with("i-") && r.id.len() == 12)
    );
    assert!(t.rows[2].updated_at > t.rows[2].created_at);
}

#[test]
fn the_queue_applies_in_order_and_reports_status() {
    let mut s = store();
    let mut m = Mutations::default();
    let mut stats = CodaStats::default();
    let now = Instant::now();
    let op = |v: i64| Op::Upsert {
        doc: "d".into(),
        table: "grid-1".into(),
        rows: vec![cells("a", json!(v))],
        keys: vec!["c-key".into()],
        ids: vec![],
    };
    m.push("r1".into(), now + Duration::from_secs(60), op(1));
    m.push("r2".into(), now, op(2));
    assert_eq!(m.status("r2"), Some(json!({"completed": false})));
    assert_eq!(m.status("nope"), None);
    // r2 is due but waits behind r1, so the order of writes holds.
    m.apply_due(Some(now), &mut s, &mut stats);
    assert_eq!(m.pending(), 2);
    m.apply_due(None, &mut s, &mut stats);
    assert_eq!(m.status("r1"), Some(json!({"completed": true})));
    assert_eq!(values(&s), vec![("a".into(), json!(2))]);
    assert_eq!(stats.mutations_applied, 2);
    // A mutation whose table went away completes with a warning.
    s.delete_table("d", "grid-1").expect("deleted");
    m.push("r3".into(), now, op(3));
    m.apply_due(None, &mut s, &mut stats);
    assert_eq!(m.status("r3").map(|v| v["warning"].is_string()), Some(true));
}

#[test]
fn column_management_keeps_ids_and_drops_values() {
    let mut s = store();
    let row = s
        .insert_row("d", "grid-1", BTreeMap::from([("Key".into(), json!("k"))]))
        .expect("row");
    assert_eq!(row.values.get("c-key"), Some(&json!("k")));
    s.rename_column("d", "grid-1", "c-key", "Renamed")
        .expect("rename");
    assert_eq!(
        s.table("d", "grid-1")
            .ok()
            .and_then(|t| t.column("Renamed"))
            .map(|c| c.id.clone()),
        Some("c-key".to_owned())
    );
    s.delete_column("d", "grid-1", "Renamed").expect("delete");
    let t = s.table("d", "grid-1").expect("table");
    assert!(t.rows.iter().all(|r| r.values.is_empty()));
    assert!(matches!(
        s.add_column("d", "grid-1", ColumnSpec::new("c-val", "Again")),
        Err(SimError::Duplicate(_))
    ));
    assert!(matches!(s.table("x", "grid-1"), Err(SimError::NoDoc(_))));
}

async fn call(state: &CodaState, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "coda.test")
        .header(header::AUTHORIZATION, format!("Bearer {DEFAULT_TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        }))
        .expect("request builds");
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("router answers");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_router_serves_in_process_with_zero_delay_writes() {
    let state = CodaState::new(&CodaConfig {
        apply_delay: Duration::ZERO,
        ..CodaConfig::default()
    });
    let columns = vec![
        ColumnSpec::new("c-key", "Key"),
        ColumnSpec::new("c-val", "Value"),
    ];
    state
        .create_table("d", "grid-1", "Tasks", columns)
        .expect("table");
    let body = json!({"rows": [{"cells": [{"column": "Key", "value": "a"}]}]});
    let (status, accepted) = call(&state, "POST", "/docs/d/tables/Tasks/rows", body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = accepted["addedRowIds"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let request = accepted["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (_, done) = call(
        &state,
        "GET",
        &format!("/mutationStatus/{request}"),
        Value::Null,
    )
    .await;
    assert_eq!(done, json!({"completed": true}));
    let (status, row) = call(
        &state,
        "GET",
        &format!("/docs/d/tables/grid-1/rows/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(row["values"], json!({"c-key": "a", "c-val": ""}));
    assert_eq!(row["name"], "a");
    assert_eq!(row["parent"]["id"], "grid-1");
    assert_eq!(
        row["href"],
        format!("http://coda.test/docs/d/tables/grid-1/rows/{id}")
    );
    let (status, err) = call(&state, "GET", "/docs/d/tables/nope/rows", Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["statusMessage"], "Not Found");
    let (status, _) = call(&state, "PATCH", "/docs/d/tables/grid-1/rows", Value::Null).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[test]
fn a_person_edits_cells_by_name_or_id_and_deletes_rows_by_hand() {
    let mut s = store();
    s.upsert(
        "d",
        "grid-1",
        &[cells("a", json!(1)), cells("b", json!(2))],
        &[],
        &[],
    );
    let (first, second) = {
        let t = s.table("d", "grid-1").expect("table");
        (t.rows[0].clone(), t.rows[1].id.clone())
    };
    let edited = s
        .edit_row(
            "d",
            "grid-1",
            &first.id,
            BTreeMap::from([("Value".to_owned(), json!("by hand"))]),
        )
        .expect("edit");
    assert_eq!(edited.values["c-val"], json!("by hand"));
    assert!(edited.updated_at > first.updated_at);
    assert!(
        s.edit_row("d", "grid-1", "i-nothere", BTreeMap::new())
            .is_err()
    );
    assert!(
        s.edit_row(
            "d",
            "grid-1",
            &first.id,
            BTreeMap::from([("c-none".to_owned(), json!(1))])
        )
        .is_err()
    );
    assert_eq!(s.delete_rows("d", "grid-1", &[second]), 1);
    assert_eq!(values(&s), vec![("a".to_owned(), json!("by hand"))]);
}
