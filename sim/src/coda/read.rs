//! Read endpoints other than row listing: `listTables`, `getTable`, `listColumns`,
//! `getColumn`, `getRow` and `getMutationStatus`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use serde_json::Value;

use super::api::{QueryPairs, find_table, href, origin, pairs};
use super::error::ApiError;
use super::page::{self, COLUMNS_MAX_PAGE, TABLES_MAX_PAGE};
use super::render::{self, Links, ValueFormat};
use super::state::CodaState;

/// `GET /docs/{docId}/tables`: `limit`, `pageToken`, `sortBy=name`, `tableTypes`.
pub(super) async fn list_tables(
    State(state): State<CodaState>,
    Path(doc): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let scope = format!("tables:{doc}");
    let (pairs, start) = page::resolve(pairs(query)?, &scope)?;
    let size = page::limit(&pairs, TABLES_MAX_PAGE)?;
    let by_name = match page::get(&pairs, "sortBy") {
        None => false,
        Some("name") => true,
        Some(_) => return Err(ApiError::BadRequest("Invalid value for `sortBy`.".into())),
    };
    let mut with_tables = true;
    if let Some(types) = page::get(&pairs, "tableTypes") {
        let types: Vec<&str> = types.split(',').map(str::trim).collect();
        if types.iter().any(|t| *t != "table" && *t != "view") {
            return Err(ApiError::BadRequest(
                "Invalid value for `tableTypes`.".into(),
            ));
        }
        with_tables = types.contains(&"table");
    }
    let origin = origin(&state, &headers);
    let world = state.world();
    let d = world
        .store
        .doc(&doc)
        .ok_or_else(|| ApiError::NotFound(format!("Doc `{doc}` not found.")))?;
    let links = Links {
        base: &origin,
        doc: &doc,
    };
    let mut tables: Vec<_> = d.tables.iter().filter(|_| with_tables).collect();
    if by_name {
        tables.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let items = tables.iter().map(|t| render::table_ref(links, t)).collect();
    let (items, next) = page::by_offset(items, start, size, &scope, &pairs);
    Ok(Json(page::envelope(items, href(&origin, &uri), next)))
}

/// `GET /docs/{docId}/tables/{tableIdOrName}`.
pub(super) async fn get_table(
    State(state): State<CodaState>,
    Path((doc, table)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let origin = origin(&state, &headers);
    let world = state.world();
    let t = find_table(&world.store, &doc, &table)?;
    let links = Links {
        base: &origin,
        doc: &doc,
    };
    Ok(Json(render::table_detail(links, t)))
}

/// `GET /docs/{docId}/tables/{tableIdOrName}/columns`: `limit` (max 100), `pageToken`,
/// `visibleOnly` (every simulated column is visible).
pub(super) async fn list_columns(
    State(state): State<CodaState>,
    Path((doc, table)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let origin = origin(&state, &headers);
    let world = state.world();
    let t = find_table(&world.store, &doc, &table)?;
    let scope = format!("columns:{doc}/{}", t.id);
    let (pairs, start) = page::resolve(pairs(query)?, &scope)?;
    let size = page::limit(&pairs, COLUMNS_MAX_PAGE)?;
    page::flag(&pairs, "visibleOnly")?;
    let links = Links {
        base: &origin,
        doc: &doc,
    };
    let items = t
        .columns
        .iter()
        .map(|c| render::column(links, t, c))
        .collect();
    let (items, next) = page::by_offset(items, start, size, &scope, &pairs);
    Ok(Json(page::envelope(items, href(&origin, &uri), next)))
}

/// `GET /docs/{docId}/tables/{tableIdOrName}/columns/{columnIdOrName}` (a `ColumnDetail`:
/// a `Column` plus its `parent` table).
pub(super) async fn get_column(
    State(state): State<CodaState>,
    Path((doc, table, column)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let origin = origin(&state, &headers);
    let world = state.world();
    let t = find_table(&world.store, &doc, &table)?;
    let c = t
        .column(&column)
        .ok_or_else(|| ApiError::NotFound(format!("Column `{column}` not found.")))?;
    let links = Links {
        base: &origin,
        doc: &doc,
    };
    let mut v = render::column(links, t, c);
    v["parent"] = render::table_ref(links, t);
    Ok(Json(v))
}

/// `GET /docs/{docId}/tables/{tableIdOrName}/rows/{rowIdOrName}`: `useColumnNames`,
/// `valueFormat`. By name, the first matching row is served.
pub(super) async fn get_row(
    State(state): State<CodaState>,
    Path((doc, table, row)): Path<(String, String, String)>,
    headers: HeaderMap,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let pairs = pairs(query)?;
    let names = page::flag(&pairs, "useColumnNames")?.unwrap_or(false);
    let format = value_format(&pairs)?;
    let origin = origin(&state, &headers);
    let world = state.world();
    let t = find_table(&world.store, &doc, &table)?;
    let i = t
        .row_position(&row)
        .ok_or_else(|| ApiError::NotFound(format!("Row `{row}` not found.")))?;
    let r = t
        .rows
        .get(i)
        .ok_or_else(|| ApiError::NotFound(format!("Row `{row}` not found.")))?;
    let links = Links {
        base: &origin,
        doc: &doc,
    };
    Ok(Json(render::row_detail(links, t, i, r, format, names)))
}

/// `GET /mutationStatus/{requestId}`: `{"completed": bool}`, or 404 for an unknown id.
pub(super) async fn mutation_status(
    State(state): State<CodaState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let world = state.world();
    world
        .mutations
        .status(&id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("Mutation `{id}` not found.")))
}

/// `valueFormat`: `simple` (default), `simpleWithArrays` or `rich`; anything else is a 400.
pub(super) fn value_format(pairs: &page::Pairs) -> Result<ValueFormat, ApiError> {
    match page::get(pairs, "valueFormat") {
        None => Ok(ValueFormat::Simple),
        Some(v) => ValueFormat::parse(v)
            .ok_or_else(|| ApiError::BadRequest("Invalid value for `valueFormat`.".into())),
    }
}

/// `GET /whoami`: a fixed `User` for any accepted token (a token check).
pub(super) async fn whoami(State(state): State<CodaState>, headers: HeaderMap) -> Json<Value> {
    let origin = origin(&state, &headers);
    Json(serde_json::json!({
        "name": "Sim User",
        "loginId": "sim-user@example.com",
        "type": "user",
        "scoped": false,
        "tokenName": "sim",
        "href": format!("{origin}/whoami"),
        "workspace": {
            "id": "ws-sim",
            "type": "workspace",
            "browserLink": "https://coda.io/docs?workspaceId=ws-sim",
        },
    }))
}
