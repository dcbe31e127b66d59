//! JSON renderings of tables, columns and rows, shaped by the spec's `TableReference`,
//! `Table`, `Column`, `Row` and `RowDetail` schemas, and the three `valueFormat`s.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::model::{ColumnSpec, Row, Table};

/// How cell values are served (`valueFormat`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum ValueFormat {
    /// Scalars as-is; arrays as comma-joined strings (the default).
    #[default]
    Simple,
    /// Scalars as-is; arrays as JSON arrays.
    SimpleWithArrays,
    /// Text as Markdown (plain text wrapped in triple backticks); arrays as JSON arrays.
    Rich,
}

impl ValueFormat {
    /// Parses the query parameter value.
    pub(super) fn parse(s: &str) -> Option<Self> {
        match s {
            "simple" => Some(Self::Simple),
            "simpleWithArrays" => Some(Self::SimpleWithArrays),
            "rich" => Some(Self::Rich),
            _ => None,
        }
    }
}

/// Where links point: the API origin (`http://host:port`) and the doc.
#[derive(Debug, Clone, Copy)]
pub(super) struct Links<'a> {
    /// The API base URL, without a trailing slash.
    pub base: &'a str,
    /// The doc id.
    pub doc: &'a str,
}

impl Links<'_> {
    /// `<base>/docs/<doc>/tables/<table>`.
    pub(super) fn table(&self, table: &str) -> String {
        format!("{}/docs/{}/tables/{table}", self.base, self.doc)
    }

    fn browser(&self, table: &str) -> String {
        format!("https://coda.io/d/_d{}/#_t{table}", self.doc)
    }
}

/// RFC 3339 with milliseconds and `Z`, as in the spec's examples.
pub(super) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A `TableReference` (the items of `listTables`, and row `parent`).
pub(super) fn table_ref(l: Links<'_>, t: &Table) -> Value {
    json!({
        "id": t.id,
        "type": "table",
        "tableType": "table",
        "href": l.table(&t.id),
        "browserLink": l.browser(&t.id),
        "name": t.name,
    })
}

/// A `Table` (`getTable`). The parent page is synthetic: the simulator has no pages.
pub(super) fn table_detail(l: Links<'_>, t: &Table) -> Value {
    let mut v = table_ref(l, t);
    let page = format!("canvas-{}", t.id.trim_start_matches("grid-"));
    v["parent"] = json!({
        "id": page,
        "type": "page",
        "href": format!("{}/docs/{}/pages/{page}", l.base, l.doc),
        "browserLink": format!("https://coda.io/d/_d{}/_su{page}", l.doc),
        "name": t.name,
    });
    if let Some(c) = t.display_column() {
        v["displayColumn"] = json!({
            "id": c.id, "type": "column", "href": format!("{}/columns/{}", l.table(&t.id), c.id),
        });
    }
    v["rowCount"] = json!(t.rows.len());
    v["sorts"] = json!([]);
    v["layout"] = json!("default");
    v["createdAt"] = json!(timestamp(t.created_at));
    v["updatedAt"] = json!(timestamp(t.updated_at));
    v
}

/// A `Column`: `display` and `calculated` appear only when true, `formula` only when set.
pub(super) fn column(l: Links<'_>, t: &Table, c: &ColumnSpec) -> Value {
    let mut v = json!({
        "id": c.id,
        "type": "column",
        "href": format!("{}/columns/{}", l.table(&t.id), c.id),
        "name": c.name,
        "format": {"type": c.format, "isArray": false},
    });
    if t.display_column().is_some_and(|d| d.id == c.id) {
        v["display"] = json!(true);
    }
    if c.calculated {
        v["calculated"] = json!(true);
    }
    if let Some(f) = &c.formula {
        v["formula"] = json!(f);
    }
    v
}

/// A `Row`. `values` has every column, keyed by id (or name with `use_names`); cells never
/// written are `""`, as Coda serves blanks.
pub(super) fn row(
    l: Links<'_>,
    t: &Table,
    index: usize,
    r: &Row,
    f: ValueFormat,
    names: bool,
) -> Value {
    let mut values = Map::new();
    for c in &t.columns {
        let key = if names { &c.name } else { &c.id };
        let cell = r.values.get(&c.id).map_or(json!(""), |v| cell(v, f));
        values.insert(key.clone(), cell);
    }
    let name = t
        .display_column()
        .and_then(|c| r.values.get(&c.id))
        .map(plain)
        .unwrap_or_default();
    json!({
        "id": r.id,
        "type": "row",
        "href": format!("{}/rows/{}", l.table(&t.id), r.id),
        "name": name,
        "index": index,
        "browserLink": format!("{}/_ru{}", l.browser(&t.id), r.id),
        "createdAt": timestamp(r.created_at),
        "updatedAt": timestamp(r.updated_at),
        "values": values,
    })
}

/// A `RowDetail`: a `Row` plus its `parent` table.
pub(super) fn row_detail(
    l: Links<'_>,
    t: &Table,
    i: usize,
    r: &Row,
    f: ValueFormat,
    n: bool,
) -> Value {
    let mut v = row(l, t, i, r, f, n);
    v["parent"] = table_ref(l, t);
    v
}

/// One cell in a value format.
pub(super) fn cell(v: &Value, f: ValueFormat) -> Value {
    match (v, f) {
        (Value::Array(_), ValueFormat::Simple) => Value::String(plain(v)),
        (Value::Array(items), _) => Value::Array(items.iter().map(|i| cell(i, f)).collect()),
        (Value::String(s), ValueFormat::Rich) if !s.is_empty() => json!(format!("```{s}```")),
        _ => v.clone(),
    }
}

/// The plain-text form of a value: arrays comma-joined (no space), scalars as text.
pub(super) fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_formats_follow_the_spec() {
        let v = json!(["a", 2, ["b", true]]);
        assert_eq!(cell(&v, ValueFormat::Simple), json!("a,2,b,true"));
        assert_eq!(cell(&v, ValueFormat::SimpleWithArrays), v);
        assert_eq!(
            cell(&v, ValueFormat::Rich),
            json!(["```a```", 2, ["```b```", true]])
        );
        assert_eq!(cell(&json!(1.5), ValueFormat::Rich), json!(1.5));
    }
}
