//! Write endpoints: `upsertRows`, `updateRow`, `deleteRows` and `deleteRow`. Each validates
//! in two phases, the body against the spec's schema, then every reference against the
//! table, and only a fully resolved [`Op`] reaches the mutation queue. The answer is 202.

use std::collections::HashSet;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{QueryPairs, find_table, json_body, pairs};
use super::error::ApiError;
use super::model::Table;
use super::mutation::Op;
use super::page;
use super::schema::{self, Body};
use super::state::CodaState;
use super::store::Cells;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowsUpsert {
    rows: Vec<RowEdit>,
    #[serde(default)]
    key_columns: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RowEdit {
    cells: Vec<CellEdit>,
}

#[derive(Debug, Deserialize)]
struct CellEdit {
    column: String,
    value: Value,
}

#[derive(Debug, Deserialize)]
struct RowUpdate {
    row: RowEdit,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowsDelete {
    row_ids: Vec<String>,
}

/// Parses a body that must match one of the spec's request schemas.
fn typed<T: for<'de> Deserialize<'de>>(bytes: &Bytes, body: Body) -> Result<T, ApiError> {
    let value = json_body(bytes)?;
    schema::check(body, &value).map_err(ApiError::BadRequest)?;
    serde_json::from_value(value)
        .map_err(|_| ApiError::BadRequest("Request body does not match the schema.".into()))
}

/// Resolves each cell's column (id, URL or name) to an id: 400 for an unknown column or a
/// calculated one. Messages name the column only, never a value.
fn resolve_cells(t: &Table, cells: Vec<CellEdit>) -> Result<Cells, ApiError> {
    cells
        .into_iter()
        .map(|cell| {
            let c = t.column(&cell.column).ok_or_else(|| {
                ApiError::BadRequest(format!("Unknown column `{}`.", cell.column))
            })?;
            if c.calculated {
                return Err(ApiError::BadRequest(format!(
                    "Column `{}` is calculated and cannot be written.",
                    c.id
                )));
            }
            Ok((c.id.clone(), cell.value))
        })
        .collect()
}

fn accepted(body: Value) -> Response {
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// `POST /docs/{docId}/tables/{tableIdOrName}/rows`. With `keyColumns`, every row must carry
/// a cell for each key column (our choice; the spec is silent). Without them the new row ids
/// are assigned now and returned as `addedRowIds`.
pub(super) async fn upsert_rows(
    State(state): State<CodaState>,
    Path((doc, table)): Path<(String, String)>,
    query: QueryPairs,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    page::flag(&pairs(query)?, "disableParsing")?;
    let req: RowsUpsert = typed(&bytes, Body::RowsUpsert)?;
    let world = &mut *state.world();
    let t = find_table(&world.store, &doc, &table)?;
    let keys = req
        .key_columns
        .iter()
        .map(|k| {
            t.column(k)
                .map(|c| c.id.clone())
                .ok_or_else(|| ApiError::BadRequest(format!("Unknown key column `{k}`.")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut rows = Vec::with_capacity(req.rows.len());
    for (i, row) in req.rows.into_iter().enumerate() {
        let cells = resolve_cells(t, row.cells)?;
        if let Some(k) = keys.iter().find(|k| !cells.iter().any(|(c, _)| c == *k)) {
            return Err(ApiError::BadRequest(format!(
                "Row {i} has no cell for key column `{k}`."
            )));
        }
        rows.push(cells);
    }
    let table_id = t.id.clone();
    let mut taken: HashSet<String> = t.rows.iter().map(|r| r.id.clone()).collect();
    let ids: Vec<String> = if keys.is_empty() {
        (0..rows.len())
            .map(|_| {
                let id = world.store.new_row_id(&|i| taken.contains(i));
                taken.insert(id.clone());
                id
            })
            .collect()
    } else {
        Vec::new()
    };
    world.stats.upserts += 1;
    world.stats.upsert_rows_received += rows.len() as u64;
    let op = Op::Upsert {
        doc,
        table: table_id,
        rows,
        keys: keys.clone(),
        ids: ids.clone(),
    };
    let request_id = state.submit(world, op);
    Ok(accepted(if keys.is_empty() {
        json!({"requestId": request_id, "addedRowIds": ids})
    } else {
        json!({"requestId": request_id})
    }))
}

/// `PUT /docs/{docId}/tables/{tableIdOrName}/rows/{rowIdOrName}` → 202 `{requestId, id}`.
pub(super) async fn update_row(
    State(state): State<CodaState>,
    Path((doc, table, row)): Path<(String, String, String)>,
    query: QueryPairs,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    page::flag(&pairs(query)?, "disableParsing")?;
    let req: RowUpdate = typed(&bytes, Body::RowUpdate)?;
    let world = &mut *state.world();
    let t = find_table(&world.store, &doc, &table)?;
    let row_id = row_id(t, &row)?;
    let cells = resolve_cells(t, req.row.cells)?;
    let table = t.id.clone();
    let op = Op::Update {
        doc,
        table,
        row: row_id.clone(),
        cells,
    };
    let request_id = state.submit(world, op);
    Ok(accepted(json!({"requestId": request_id, "id": row_id})))
}

/// `DELETE /docs/{docId}/tables/{tableIdOrName}/rows` with `{"rowIds": [...]}` → 202
/// `{requestId, rowIds}`. Unknown ids are accepted and ignored ("always returns a 202").
pub(super) async fn delete_rows(
    State(state): State<CodaState>,
    Path((doc, table)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let req: RowsDelete = typed(&bytes, Body::RowsDelete)?;
    let world = &mut *state.world();
    let table = find_table(&world.store, &doc, &table)?.id.clone();
    let op = Op::Delete {
        doc,
        table,
        rows: req.row_ids.clone(),
    };
    let request_id = state.submit(world, op);
    Ok(accepted(
        json!({"requestId": request_id, "rowIds": req.row_ids}),
    ))
}

/// `DELETE /docs/{docId}/tables/{tableIdOrName}/rows/{rowIdOrName}` → 202 `{requestId, id}`;
/// 404 when no row matches now.
pub(super) async fn delete_row(
    State(state): State<CodaState>,
    Path((doc, table, row)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let world = &mut *state.world();
    let t = find_table(&world.store, &doc, &table)?;
    let row_id = row_id(t, &row)?;
    let op = Op::Delete {
        doc,
        table: t.id.clone(),
        rows: vec![row_id.clone()],
    };
    let request_id = state.submit(world, op);
    Ok(accepted(json!({"requestId": request_id, "id": row_id})))
}

/// A row's id by id or display value (the first match), or 404.
fn row_id(t: &Table, row: &str) -> Result<String, ApiError> {
    t.row_position(row)
        .and_then(|i| t.rows.get(i))
        .map(|r| r.id.clone())
        .ok_or_else(|| ApiError::NotFound(format!("Row `{row}` not found.")))
}
