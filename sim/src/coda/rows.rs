//! `listRows`: filtering by `query`, ordering by `sortBy`, and keyset pages. A page token
//! holds the sort key (creation or last-write order) of the last row served, so rows added or
//! deleted between pages never shift the walk.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use serde_json::Value;

use super::api::{QueryPairs, find_table, href, origin, pairs};
use super::error::ApiError;
use super::model::{Row, Table, cell_eq};
use super::page::{self, Pairs, ROWS_MAX_PAGE};
use super::read::value_format;
use super::render::{self, Links};
use super::state::CodaState;

/// The row order of `sortBy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortBy {
    /// `createdAt` (the default) and `natural`: insertion order.
    Created,
    /// `updatedAt`: order of the last write.
    Updated,
}

impl SortBy {
    fn key(self, r: &Row) -> u64 {
        match self {
            SortBy::Created => r.seq,
            SortBy::Updated => r.version,
        }
    }
}

/// `GET /docs/{docId}/tables/{tableIdOrName}/rows`: `query`, `sortBy`, `useColumnNames`,
/// `valueFormat`, `visibleOnly`, `limit` (max 500), `pageToken`. `syncToken` is ignored and
/// no `nextSyncToken` is served.
pub(super) async fn list_rows(
    State(state): State<CodaState>,
    Path((doc, table)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    query: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let origin = origin(&state, &headers);
    let world = state.world();
    let t = find_table(&world.store, &doc, &table)?;
    let scope = format!("rows:{doc}/{}", t.id);
    let (pairs, after) = page::resolve(pairs(query)?, &scope)?;
    let size = page::limit(&pairs, ROWS_MAX_PAGE)?;
    let names = page::flag(&pairs, "useColumnNames")?.unwrap_or(false);
    let format = value_format(&pairs)?;
    let sort = sort_by(&pairs)?;
    let filter = match page::get(&pairs, "query") {
        Some(q) => Some(parse_query(q, t)?),
        None => None,
    };
    let mut rows: Vec<(usize, &Row)> = t
        .rows
        .iter()
        .enumerate()
        .filter(|(_, r)| filter.as_ref().is_none_or(|(c, v)| matches(r, c, v)))
        .filter(|(_, r)| after.is_none_or(|a| sort.key(r) > a))
        .collect();
    rows.sort_by_key(|(_, r)| sort.key(r));
    let next = (rows.len() > size)
        .then(|| rows.get(size.saturating_sub(1)))
        .flatten()
        .map(|(_, r)| page::token(&scope, &pairs, sort.key(r)));
    let links = Links {
        base: &origin,
        doc: &doc,
    };
    let items = rows
        .iter()
        .take(size)
        .map(|(i, r)| render::row(links, t, *i, r, format, names))
        .collect();
    Ok(Json(page::envelope(items, href(&origin, &uri), next)))
}

/// `sortBy`; `natural` with an explicit `visibleOnly=false` is a 400, as the spec says.
fn sort_by(pairs: &Pairs) -> Result<SortBy, ApiError> {
    let visible_only = page::flag(pairs, "visibleOnly")?;
    match page::get(pairs, "sortBy") {
        None | Some("createdAt") => Ok(SortBy::Created),
        Some("updatedAt") => Ok(SortBy::Updated),
        Some("natural") if visible_only == Some(false) => Err(ApiError::BadRequest(
            "sortBy=natural cannot be combined with visibleOnly=false.".into(),
        )),
        Some("natural") => Ok(SortBy::Created),
        Some(_) => Err(ApiError::BadRequest("Invalid value for `sortBy`.".into())),
    }
}

/// Parses `<column id>:<json>` or `"<column name>":<json>` into a column id and a value.
fn parse_query(q: &str, t: &Table) -> Result<(String, Value), ApiError> {
    let invalid = || {
        ApiError::BadRequest(
            "Invalid `query`: expected <columnIdOrName>:<JSON value>, quoting column names.".into(),
        )
    };
    let (column, rest) = if q.starts_with('"') {
        let mut stream = serde_json::Deserializer::from_str(q).into_iter::<String>();
        let name = stream.next().and_then(Result::ok).ok_or_else(invalid)?;
        let rest = q.get(stream.byte_offset()..).ok_or_else(invalid)?;
        (name, rest.strip_prefix(':').ok_or_else(invalid)?)
    } else {
        let (c, rest) = q.split_once(':').ok_or_else(invalid)?;
        (c.to_owned(), rest)
    };
    let value: Value = serde_json::from_str(rest).map_err(|_| invalid())?;
    let c = t.column(&column).ok_or_else(|| {
        ApiError::BadRequest(format!("Invalid `query`: unknown column `{column}`."))
    })?;
    Ok((c.id.clone(), value))
}

/// Whether a row's cell equals the queried value (a blank cell is `""`; an array cell
/// matches when it equals the value or contains it).
fn matches(r: &Row, column: &str, want: &Value) -> bool {
    let blank = Value::String(String::new());
    let have = r.values.get(column).unwrap_or(&blank);
    cell_eq(have, want)
        || matches!(have, Value::Array(items) if items.iter().any(|i| cell_eq(i, want)))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::coda::model::ColumnSpec;

    fn table() -> Table {
        Table {
            id: "grid-1".into(),
            name: "T".into(),
            columns: vec![
                ColumnSpec::new("c-a", "Name"),
                ColumnSpec::new("c-b", "My Column"),
            ],
            rows: Vec::new(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn queries_take_ids_or_quoted_names_and_json_values() {
        let t = table();
        assert_eq!(
            parse_query(r#"c-a:"Apple""#, &t),
            Ok(("c-a".into(), json!("Apple")))
        );
        assert_eq!(
            parse_query(r#""My Column":123"#, &t),
            Ok(("c-b".into(), json!(123)))
        );
        assert_eq!(
            parse_query("Name:true", &t),
            Ok(("c-a".into(), json!(true)))
        );
        assert!(parse_query("c-a:Apple", &t).is_err());
        assert!(parse_query("c-z:1", &t).is_err());
        assert!(parse_query("nothing", &t).is_err());
    }

    #[test]
    fn natural_order_cannot_include_hidden_rows() {
        let p = |s: &str, v: &str| {
            vec![
                ("sortBy".to_owned(), s.to_owned()),
                ("visibleOnly".to_owned(), v.to_owned()),
            ]
        };
        assert!(sort_by(&p("natural", "false")).is_err());
        assert_eq!(sort_by(&p("natural", "true")), Ok(SortBy::Created));
        assert_eq!(sort_by(&p("updatedAt", "true")), Ok(SortBy::Updated));
        assert!(sort_by(&p("name", "true")).is_err());
    }
}
