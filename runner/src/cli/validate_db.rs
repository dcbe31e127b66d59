//! `runner validate --db`: every mapped column exists in the live database with a type the
//! declared one can be written to.

use std::collections::{HashMap, HashSet};

use anyhow::Context;

use crate::config::field_type::FieldType;
use crate::config::locate::escape;
use crate::config::{Config, Diagnostics, Plan};

type Columns = HashMap<String, HashMap<String, String>>;

/// Adds a located error for every mapped column missing from the database or of an
/// incompatible type.
pub(super) async fn check(
    plan: &Plan,
    config: &Config,
    url: &str,
    diags: &mut Diagnostics,
) -> anyhow::Result<()> {
    let pool = crate::store::connect(url)
        .await
        .context("--db: cannot connect to PostgreSQL")?;
    let rows: Vec<(String, String, String, bool)> = sqlx::query_as(
        "select table_name::text, column_name::text, udt_name::text, is_generated = 'ALWAYS' from information_schema.columns where table_schema = current_schema()",
    )
    .fetch_all(&pool)
    .await
    .context("--db: cannot read information_schema")?;
    let mut cols: Columns = HashMap::new();
    let mut generated: HashSet<(String, String)> = HashSet::new();
    for (t, c, u, g) in rows {
        if g {
            generated.insert((t.clone(), c.clone()));
        }
        cols.entry(t).or_default().insert(c, u);
    }
    for p in &plan.pipelines {
        let Some(doc) = config.pipelines.get(&p.mapping.name) else {
            continue;
        };
        let src = &doc.source;
        let Some(table) = cols.get(&p.mapping.table) else {
            diags.push(src.error(
                "/target/table",
                format!(
                    "table `{}` does not exist in the database (run `runner migrate`?)",
                    p.mapping.table
                ),
            ));
            continue;
        };
        for f in &p.mapping.fields {
            let want = if f.lookup.is_some() {
                FieldType::Uuid
            } else {
                f.ty
            };
            let at = format!("/fields/{}", escape(&f.name));
            match table.get(&f.name) {
                None => diags.push(src.key_error(
                    &at,
                    format!(
                        "column `{}.{}` does not exist in the database",
                        p.mapping.table, f.name
                    ),
                )),
                Some(udt) if !compatible(want, udt) => diags.push(src.error(
                    &at,
                    format!(
                        "column `{}.{}` is `{udt}` in the database; a `{}` cannot be written to it",
                        p.mapping.table,
                        f.name,
                        want.name()
                    ),
                )),
                Some(_) => {}
            }
        }
        for (i, g) in doc.value.target.generated.iter().enumerate() {
            if !generated.contains(&(p.mapping.table.clone(), g.clone())) {
                diags.push(src.error(
                    &format!("/target/generated/{i}"),
                    format!(
                        "column `{}.{g}` is not a generated column in the database",
                        p.mapping.table
                    ),
                ));
            }
        }
        if let Some(raw) = &p.mapping.raw
            && table.get(raw).map(String::as_str) != Some("jsonb")
        {
            diags.push(src.error(
                "/target/raw",
                format!("column `{}.{raw}` must exist and be jsonb", p.mapping.table),
            ));
        }
    }
    for (name, doc) in &config.mappings {
        let m = &doc.value;
        let Some(table) = cols.get(&m.source) else {
            diags.push(doc.source.error(
                "/source",
                format!("table `{}` does not exist in the database", m.source),
            ));
            continue;
        };
        for (i, c) in m.columns.iter().enumerate() {
            if let Some(f) = &c.from
                && !table.contains_key(f)
            {
                diags.push(doc.source.error(
                    &format!("/columns/{i}/from"),
                    format!(
                        "mappings/{name}.yaml: column `{}.{f}` does not exist in the database",
                        m.source
                    ),
                ));
            }
        }
    }
    if let Some(doc) = &config.writeback {
        for (i, ep) in doc.value.endpoints.iter().enumerate() {
            let Some(table) = cols.get(&ep.table) else {
                diags.push(doc.source.error(
                    &format!("/endpoints/{i}/table"),
                    format!("table `{}` does not exist in the database", ep.table),
                ));
                continue;
            };
            for (f, w) in ep.fields.iter().chain(std::iter::empty()) {
                let at = format!("/endpoints/{i}/fields/{}", escape(f));
                match table.get(f) {
                    None => diags.push(doc.source.key_error(
                        &at,
                        format!("column `{}.{f}` does not exist in the database", ep.table),
                    )),
                    Some(udt) if !compatible(w.ty, udt) => diags.push(doc.source.error(
                        &at,
                        format!(
                            "column `{}.{f}` is `{udt}`; a `{}` cannot be written to it",
                            ep.table,
                            w.ty.name()
                        ),
                    )),
                    Some(_) => {}
                }
            }
        }
    }
    Ok(())
}

/// Whether a value of declared type `ty` can be stored in a column of PostgreSQL type `udt`.
fn compatible(ty: FieldType, udt: &str) -> bool {
    match ty {
        FieldType::Text => matches!(udt, "text" | "varchar" | "bpchar" | "citext"),
        FieldType::Int => matches!(udt, "int8" | "int4" | "int2" | "numeric"),
        FieldType::Numeric => matches!(udt, "numeric" | "float8" | "float4"),
        FieldType::Bool => udt == "bool",
        FieldType::Date => udt == "date",
        FieldType::Timestamp => matches!(udt, "timestamptz" | "timestamp"),
        FieldType::Jsonb => matches!(udt, "jsonb" | "json"),
        FieldType::TextArray => matches!(udt, "_text" | "_varchar"),
        FieldType::Uuid => udt == "uuid",
    }
}
