//! Tables, columns and rows listings: envelopes, pagination, filters and formats.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sim::coda::ColumnSpec;

use crate::common::{DOC, Sim, TABLE, assert_error, cells, start};

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn columns_page_by_limit_and_carry_calculated() {
    let sim = start(|_| {}).await;
    for i in 0..3 {
        let c = ColumnSpec::new(format!("c-extra{i}"), format!("Extra {i}"));
        sim.handle
            .state()
            .add_column(DOC, TABLE, c)
            .expect("column");
    }
    let (first, _) = (sim.get(&Sim::table_path("/columns?limit=2")).await, ());
    let (status, page) = first;
    assert_eq!(status, StatusCode::OK);
    let keys: Vec<&str> = page
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(keys, ["items", "href", "nextPageLink", "nextPageToken"]);
    assert!(
        page["href"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/columns?limit=2")
    );
    let (items, pages) = sim.walk(&Sim::table_path("/columns?limit=2")).await;
    assert_eq!(pages, 4);
    assert_eq!(
        ids(&items),
        [
            "c-key", "c-name", "c-visits", "c-calc", "c-extra0", "c-extra1", "c-extra2"
        ]
    );
    assert_eq!(items[0]["display"], true);
    assert_eq!(items[0]["type"], "column");
    assert_eq!(
        items[0]["format"],
        json!({"type": "text", "isArray": false})
    );
    assert!(items[1].get("calculated").is_none());
    assert_eq!(items[3]["calculated"], true);
    assert_eq!(items[3]["formula"], "thisRow.Visits * 2");
    // The token implies every parameter: a different limit alongside it is ignored.
    let token = page["nextPageToken"].as_str().unwrap_or_default();
    let (_, second) = sim
        .get(&Sim::table_path(&format!(
            "/columns?pageToken={token}&limit=100"
        )))
        .await;
    assert_eq!(second["items"].as_array().map(Vec::len), Some(2));
    let (status, err) = sim.get(&Sim::table_path("/columns?pageToken=bogus")).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST);
    let (status, err) = sim.get(&Sim::table_path("/columns?limit=0")).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST);
    // By name, and the column detail.
    let (status, by_name) = sim
        .get(&format!("/docs/{DOC}/tables/Patients/columns/Visits"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_name["id"], "c-visits");
    assert_eq!(by_name["parent"]["id"], TABLE);
}

#[tokio::test]
async fn tables_list_and_resolve_by_name() {
    let sim = start(|_| {}).await;
    let state = sim.handle.state();
    state
        .create_table(DOC, "grid-2", "Appointments", vec![])
        .expect("table");
    state
        .create_table(DOC, "grid-3", "Billing", vec![])
        .expect("table");
    let (items, pages) = sim
        .walk(&format!("/docs/{DOC}/tables?limit=2&sortBy=name"))
        .await;
    assert_eq!(pages, 2);
    assert_eq!(ids(&items), ["grid-2", "grid-3", TABLE]);
    assert_eq!(items[0]["tableType"], "table");
    let (_, views) = sim
        .get(&format!("/docs/{DOC}/tables?tableTypes=view"))
        .await;
    assert_eq!(views["items"], json!([]));
    let (status, table) = sim.get(&format!("/docs/{DOC}/tables/Patients")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (table["id"].clone(), table["rowCount"].clone()),
        (json!(TABLE), json!(0))
    );
    assert_eq!(table["displayColumn"]["id"], "c-key");
    let (status, err) = sim.get("/docs/nope/tables").await;
    assert_error(status, &err, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn rows_page_filter_sort_and_format() {
    let sim = start(|_| {}).await;
    let rows: Vec<Value> = (0..7)
        .map(|i| {
            json!({"cells": cells(&[
                ("c-key", json!(format!("p{i}"))),
                ("c-visits", json!(i % 2)),
                ("c-name", json!(["a", "b"])),
            ])})
        })
        .collect();
    sim.upsert(json!({"rows": rows})).await;
    let (items, pages) = sim.walk(&Sim::table_path("/rows?limit=3")).await;
    assert_eq!(pages, 3);
    let keys: Vec<Value> = items.iter().map(|r| r["values"]["c-key"].clone()).collect();
    assert_eq!(
        keys,
        (0..7).map(|i| json!(format!("p{i}"))).collect::<Vec<_>>()
    );
    assert_eq!(items[0]["values"]["c-name"], "a,b");
    assert_eq!(items[0]["values"]["c-calc"], "");
    assert_eq!(
        (items[6]["index"].clone(), items[6]["name"].clone()),
        (json!(6), json!("p6"))
    );

    let (items, _) = sim
        .walk(&Sim::table_path("/rows?query=c-visits:1&limit=2"))
        .await;
    assert_eq!(items.len(), 3);
    let (_, page) = sim.get(&Sim::table_path("/rows?query=%22Patient%20id%22:%22p4%22&useColumnNames=true&valueFormat=simpleWithArrays")).await;
    assert_eq!(page["items"][0]["values"]["Name"], json!(["a", "b"]));
    assert_eq!(page["items"][0]["values"]["Patient id"], "p4");
    let (_, rich) = sim
        .get(&Sim::table_path("/rows?limit=1&valueFormat=rich"))
        .await;
    assert_eq!(rich["items"][0]["values"]["c-key"], "```p0```");

    // sortBy=updatedAt puts the last written row last.
    sim.upsert(json!({"keyColumns": ["c-key"], "rows": [{"cells": cells(&[("c-key", json!("p2")), ("c-visits", json!(9))])}]})).await;
    let (items, _) = sim
        .walk(&Sim::table_path("/rows?sortBy=updatedAt&limit=4"))
        .await;
    assert_eq!(
        items.last().map(|r| r["values"]["c-key"].clone()),
        Some(json!("p2"))
    );
    for bad in [
        "sortBy=name",
        "valueFormat=html",
        "query=c-visits:bare",
        "query=c-nope:1",
        "sortBy=natural&visibleOnly=false",
    ] {
        let (status, err) = sim.get(&Sim::table_path(&format!("/rows?{bad}"))).await;
        assert_error(status, &err, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn a_row_can_be_fetched_by_id_or_display_value() {
    let sim = start(|_| {}).await;
    let answer = sim
        .upsert(
            json!({"rows": [{"cells": cells(&[("c-key", json!("p1")), ("c-visits", json!(2))])}]}),
        )
        .await;
    let id = answer["addedRowIds"][0].as_str().unwrap_or_default();
    let (status, row) = sim.get(&Sim::table_path(&format!("/rows/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(row["values"]["c-visits"], 2);
    assert_eq!(row["parent"]["id"], TABLE);
    let (_, by_name) = sim.get(&Sim::table_path("/rows/p1")).await;
    assert_eq!(by_name["id"], id);
    let (status, err) = sim.get(&Sim::table_path("/rows/i-missing")).await;
    assert_error(status, &err, StatusCode::NOT_FOUND);
}
