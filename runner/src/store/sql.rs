//! The SQL text of the batched upsert, built once per target from validated identifiers.
//!
//! Shape (one statement per batch, one pass over the input):
//!
//! ```sql
//! WITH input AS (                       -- typed rows; lookups resolved to local uuids
//!     SELECT r."drchrono_id", (SELECT l."id" FROM "providers" l
//!                              WHERE l."drchrono_id" = r."provider_id") AS "provider_id", ...
//!     FROM jsonb_to_recordset($1) AS r("drchrono_id" bigint, "provider_id" bigint, ...)),
//! up AS (
//!     INSERT INTO "patients" AS t (...) SELECT ... FROM input i
//!         WHERE NOT EXISTS (<a stored row with the same values, not deleted>)  -- untouched
//!         ORDER BY <key>
//!     ON CONFLICT (<key>) DO UPDATE SET <col> = EXCLUDED.<col>, ..., updated_at = now(),
//!         synced_at = now(), deleted_at = NULL
//!     WHERE (<any column IS DISTINCT FROM> OR t.deleted_at IS NOT NULL)   -- a real change
//!       AND (t.<version> IS NULL OR EXCLUDED.<version> >= t.<version>)    -- not stale
//!       AND ($2 IS NULL OR t.synced_at <= $2)       -- not written after the batch was read
//!     RETURNING (t.xmax = 0) AS inserted)
//! SELECT <inserted>, <updated>, <stale: input rows whose stored row is newer> FROM up
//! ```
//!
//! `xmax = 0` tells a fresh insert from an update (an updated tuple carries the locking
//! transaction in xmax). The stale count reads the table as it was before the statement (a
//! data-modifying CTE's changes are invisible to the rest of the statement), which is exactly
//! the state the version guard compared against. Rows are inserted in key order so that two
//! concurrent batches lock shared rows in the same order instead of deadlocking.

use std::fmt::Write as _;

use super::upsert::UpsertTarget;
use super::{Ident, StoreError};

/// Columns the store maintains itself; a target may not map them.
const RESERVED: [&str; 3] = ["created_at", "updated_at", "synced_at"];

/// Checks that `name` is a plain lower-case SQL identifier (`[a-z_][a-z0-9_]*`, at most 63
/// bytes), so that it can be quoted into SQL text without escaping.
pub fn validate_identifier(name: &str) -> Result<(), StoreError> {
    let mut chars = name.chars();
    let valid = matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= 63;
    if valid {
        Ok(())
    } else {
        Err(StoreError::InvalidIdentifier(name.to_owned()))
    }
}

fn invalid(target: &UpsertTarget, reason: String) -> StoreError {
    StoreError::InvalidTarget {
        table: target.table.clone(),
        reason,
    }
}

/// The target's names as identifiers: the table, then per column its name and its lookup's
/// table and column.
type Names = (Ident, Vec<(Ident, Option<(Ident, Ident)>)>);

/// Validates every name of the target, in the order they appear.
fn idents(target: &UpsertTarget) -> Result<Names, StoreError> {
    let table = Ident::new(&target.table)?;
    let columns = target
        .columns
        .iter()
        .map(|col| {
            let lookup = match &col.lookup {
                Some(l) => Some((Ident::new(&l.table)?, Ident::new(&l.by)?)),
                None => None,
            };
            Ok((Ident::new(&col.name)?, lookup))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((table, columns))
}

/// Checks the target: non-empty key made of mapped columns, no duplicate or reserved
/// columns, version among the mapped columns (names are checked by [`idents`]).
fn validate(target: &UpsertTarget) -> Result<(), StoreError> {
    if target.columns.is_empty() {
        return Err(invalid(target, "no columns".into()));
    }
    for (i, col) in target.columns.iter().enumerate() {
        if RESERVED.contains(&col.name.as_str()) {
            return Err(invalid(
                target,
                format!("column {} is maintained by the store", col.name),
            ));
        }
        if target.columns[..i].iter().any(|c| c.name == col.name) {
            return Err(invalid(
                target,
                format!("column {} is mapped twice", col.name),
            ));
        }
    }
    if target.key.is_empty() {
        return Err(invalid(target, "empty natural key".into()));
    }
    let mapped = |name: &String| target.columns.iter().any(|c| &c.name == name);
    for key in &target.key {
        if !mapped(key) {
            return Err(invalid(target, format!("key column {key} is not mapped")));
        }
    }
    if let Some(version) = &target.version {
        if !mapped(version) {
            return Err(invalid(
                target,
                format!("version column {version} is not mapped"),
            ));
        }
        if target.key.contains(version) {
            return Err(invalid(
                target,
                format!("version column {version} is part of the key"),
            ));
        }
    }
    Ok(())
}

/// Builds the upsert statement of `target` (see the module documentation).
pub(crate) fn build_upsert(target: &UpsertTarget) -> Result<String, StoreError> {
    let (table, columns) = idents(target)?;
    validate(target)?;
    let names: Vec<&Ident> = columns.iter().map(|(n, _)| n).collect();
    let col_list = join(&names);
    let keys = target
        .key
        .iter()
        .map(|k| Ident::new(k))
        .collect::<Result<Vec<_>, _>>()?;
    let key_list = join(&keys);
    let maps_deleted_at = target.columns.iter().any(|c| c.name == "deleted_at");

    let mut s = String::with_capacity(2048);
    s.push_str("WITH input AS (SELECT ");
    for (i, (name, lookup)) in columns.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        match lookup {
            Some((table, by)) => write!(
                s,
                "(SELECT l.\"id\" FROM {table} l WHERE l.{by} = r.{name}) AS {name}"
            ),
            None => write!(s, "r.{name}"),
        }
        .expect("writing to a String cannot fail");
    }
    s.push_str(" FROM jsonb_to_recordset($1) AS r(");
    let defs: Vec<String> = target
        .columns
        .iter()
        .zip(&names)
        .map(|(c, n)| format!("{n} {}", c.ty.sql_type()))
        .collect();
    s.push_str(&defs.join(", "));
    s.push_str(")), up AS (");

    let non_key: Vec<&&Ident> = target
        .columns
        .iter()
        .zip(&names)
        .filter(|(c, _)| !target.key.contains(&c.name))
        .map(|(_, n)| n)
        .collect();
    // A row already stored with these very values is left out before ON CONFLICT, which
    // would lock (and so write) it even when its WHERE then refuses the update.
    // The stored row `e` of an input row `i`: also the join of the stale count below.
    let on: Vec<String> = keys.iter().map(|k| format!("e.{k} = i.{k}")).collect();
    let mut same = on.clone();
    same.extend(
        non_key
            .iter()
            .map(|n| format!("e.{n} IS NOT DISTINCT FROM i.{n}")),
    );
    if !maps_deleted_at {
        same.push("e.\"deleted_at\" IS NULL".into());
    }
    write!(
        s,
        "INSERT INTO {table} AS t ({col_list}) SELECT {col_list} FROM input i \
         WHERE NOT EXISTS (SELECT FROM {table} e WHERE {}) ORDER BY {key_list} \
         ON CONFLICT ({key_list}) DO UPDATE SET ",
        same.join(" AND ")
    )
    .expect("writing to a String cannot fail");
    for n in &non_key {
        write!(s, "{n} = EXCLUDED.{n}, ").expect("writing to a String cannot fail");
    }
    s.push_str("\"updated_at\" = now(), \"synced_at\" = now()");
    if !maps_deleted_at {
        s.push_str(", \"deleted_at\" = NULL");
    }
    let mut differs: Vec<String> = non_key
        .iter()
        .map(|n| format!("t.{n} IS DISTINCT FROM EXCLUDED.{n}"))
        .collect();
    if !maps_deleted_at {
        differs.push("t.\"deleted_at\" IS NOT NULL".into());
    }
    write!(s, " WHERE ({})", differs.join(" OR ")).expect("writing to a String cannot fail");
    let version = target.version.as_deref().map(Ident::new).transpose()?;
    if let Some(v) = &version {
        write!(s, " AND (t.{v} IS NULL OR EXCLUDED.{v} >= t.{v})")
            .expect("writing to a String cannot fail");
    }
    // $2, when given, is when the batch was read from the source: a row written after that
    // (by a webhook) is newer than the batch and is kept.
    s.push_str(" AND ($2::timestamptz IS NULL OR t.\"synced_at\" <= $2::timestamptz)");
    s.push_str(" RETURNING (t.xmax = 0) AS inserted) ");

    s.push_str("SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), ");
    let newer_version = match &version {
        Some(v) => {
            format!("(e.{v} IS NOT NULL AND (i.{v} IS NULL OR i.{v} < e.{v}))")
        }
        None => "false".to_string(),
    };
    write!(
        s,
        "(SELECT count(*) FROM input i JOIN {table} e ON {} \
         WHERE {newer_version} OR ($2::timestamptz IS NOT NULL AND e.\"synced_at\" > $2::timestamptz))",
        on.join(" AND ")
    )
    .expect("writing to a String cannot fail");
    s.push_str(" FROM up");
    Ok(s)
}

/// `a, b, c`.
fn join(idents: impl IntoIterator<Item = impl std::fmt::Display>) -> String {
    idents
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::field_type::FieldType;
    use crate::store::{Lookup, UpsertColumn};

    fn col(name: &str, ty: FieldType) -> UpsertColumn {
        UpsertColumn {
            name: name.into(),
            ty,
            lookup: None,
        }
    }

    fn target() -> UpsertTarget {
        UpsertTarget {
            table: "patients".into(),
            key: vec!["drchrono_id".into()],
            version: Some("source_updated_at".into()),
            columns: vec![
                col("drchrono_id", FieldType::Int),
                col("first_name", FieldType::Text),
                UpsertColumn {
                    name: "provider_id".into(),
                    ty: FieldType::Int,
                    lookup: Some(Lookup {
                        table: "providers".into(),
                        by: "drchrono_id".into(),
                    }),
                },
                col("source_updated_at", FieldType::Timestamp),
            ],
        }
    }

    #[test]
    fn identifiers_must_be_plain_lower_case_names() {
        for ok in ["patients", "_x", "a1_b2"] {
            assert!(validate_identifier(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1a", "Patients", "a-b", "a\"b", "a b", &"x".repeat(64)] {
            assert!(validate_identifier(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_statement_resolves_lookups_guards_versions_and_counts_stale_rows() {
        let sql = build_upsert(&target()).unwrap();
        assert!(sql.contains(
            "(SELECT l.\"id\" FROM \"providers\" l WHERE l.\"drchrono_id\" = r.\"provider_id\") \
             AS \"provider_id\""
        ));
        assert!(sql.contains("AS r(\"drchrono_id\" bigint, \"first_name\" text,"));
        assert!(sql.contains("ON CONFLICT (\"drchrono_id\") DO UPDATE SET \"first_name\" ="));
        assert!(!sql.contains("\"drchrono_id\" = EXCLUDED"));
        assert!(sql.contains("OR t.\"deleted_at\" IS NOT NULL)"));
        assert!(sql.contains(
            "AND (t.\"source_updated_at\" IS NULL OR EXCLUDED.\"source_updated_at\" >= \
             t.\"source_updated_at\")"
        ));
        assert!(sql.contains("i.\"source_updated_at\" < e.\"source_updated_at\""));
    }

    #[test]
    fn inconsistent_targets_are_rejected() {
        let mut t = target();
        t.key = vec!["chart_id".into()];
        assert!(matches!(
            build_upsert(&t),
            Err(StoreError::InvalidTarget { .. })
        ));
        let mut t = target();
        t.columns.push(col("updated_at", FieldType::Timestamp));
        assert!(matches!(
            build_upsert(&t),
            Err(StoreError::InvalidTarget { .. })
        ));
        let mut t = target();
        t.columns.push(col("first_name", FieldType::Text));
        assert!(matches!(
            build_upsert(&t),
            Err(StoreError::InvalidTarget { .. })
        ));
        let mut t = target();
        t.table = "patients; drop table x".into();
        assert!(matches!(
            build_upsert(&t),
            Err(StoreError::InvalidIdentifier(_))
        ));
    }
}
