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
//!     RETURNING (t.xmax = 0) AS inserted),
//! pre AS (SELECT <stale: input rows whose stored row is newer>, <digest only> FROM input JOIN ...)
//! SELECT <inserted>, <written>, <stale>, <digest only> FROM up
//! ```
//!
//! With a source digest ([`UpsertTarget::digest`]), a stored row is untouched only when its
//! digest is the same too; a row whose values are the same but whose digest differs gets the
//! digest alone (`updated_at` and `synced_at` kept, so the audit sees only bookkeeping and
//! writes nothing) and is counted as unchanged.
//!
//! `xmax = 0` tells a fresh insert from an update (an updated tuple carries the locking
//! transaction in xmax). The stale count reads the table as it was before the statement (a
//! data-modifying CTE's changes are invisible to the rest of the statement), which is exactly
//! the state the version guard compared against. Rows are inserted in key order so that two
//! concurrent batches lock shared rows in the same order instead of deadlocking.

use std::fmt::Write as _;

use super::upsert::{SOURCE_DIGEST, UpsertTarget};
use super::{Ident, StoreError};

/// Columns the store maintains itself; a target may not map them.
const RESERVED: [&str; 4] = ["created_at", "updated_at", "synced_at", SOURCE_DIGEST];

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
    let digest = Ident::new(SOURCE_DIGEST)?;
    let col_list = if target.digest {
        format!("{}, {digest}", join(&names))
    } else {
        join(&names)
    };
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
    if target.digest {
        write!(s, ", decode(r.{digest}, 'hex') AS {digest}")
            .expect("writing to a String cannot fail");
    }
    s.push_str(" FROM jsonb_to_recordset($1) AS r(");
    let mut defs: Vec<String> = target
        .columns
        .iter()
        .zip(&names)
        .map(|(c, n)| format!("{n} {}", c.ty.sql_type()))
        .collect();
    if target.digest {
        defs.push(format!("{digest} text"));
    }
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
    // With digests, a row identical but for its digest is written too (the digest only).
    let same_digest = format!("e.{digest} IS NOT DISTINCT FROM i.{digest}");
    let untouched = if target.digest {
        format!("{} AND {same_digest}", same.join(" AND "))
    } else {
        same.join(" AND ")
    };
    write!(
        s,
        "INSERT INTO {table} AS t ({col_list}) SELECT {col_list} FROM input i \
         WHERE NOT EXISTS (SELECT FROM {table} e WHERE {untouched}) ORDER BY {key_list} \
         ON CONFLICT ({key_list}) DO UPDATE SET "
    )
    .expect("writing to a String cannot fail");
    for n in &non_key {
        write!(s, "{n} = EXCLUDED.{n}, ").expect("writing to a String cannot fail");
    }
    let mut differs: Vec<String> = non_key
        .iter()
        .map(|n| format!("t.{n} IS DISTINCT FROM EXCLUDED.{n}"))
        .collect();
    if !maps_deleted_at {
        differs.push("t.\"deleted_at\" IS NOT NULL".into());
    }
    let changed = format!("({})", differs.join(" OR "));
    if target.digest {
        write!(
            s,
            "{digest} = EXCLUDED.{digest}, \
             \"updated_at\" = CASE WHEN {changed} THEN now() ELSE t.\"updated_at\" END, \
             \"synced_at\" = CASE WHEN {changed} THEN now() ELSE t.\"synced_at\" END"
        )
        .expect("writing to a String cannot fail");
    } else {
        s.push_str("\"updated_at\" = now(), \"synced_at\" = now()");
    }
    if !maps_deleted_at {
        s.push_str(", \"deleted_at\" = NULL");
    }
    if target.digest {
        write!(
            s,
            " WHERE ({changed} OR t.{digest} IS DISTINCT FROM EXCLUDED.{digest})"
        )
    } else {
        write!(s, " WHERE {changed}")
    }
    .expect("writing to a String cannot fail");
    let version = target.version.as_deref().map(Ident::new).transpose()?;
    if let Some(v) = &version {
        write!(s, " AND (t.{v} IS NULL OR EXCLUDED.{v} >= t.{v})")
            .expect("writing to a String cannot fail");
    }
    // $2, when given, is when the batch was read from the source: a row written after that
    // (by a webhook) is newer than the batch and is kept.
    s.push_str(" AND ($2::timestamptz IS NULL OR t.\"synced_at\" <= $2::timestamptz)");
    s.push_str(" RETURNING (t.xmax = 0) AS inserted), ");

    // The stored rows as they were before the statement: the stale ones, and those whose
    // only change is their digest (written, but counted as unchanged).
    let newer_version = match &version {
        Some(v) => {
            format!("(e.{v} IS NOT NULL AND (i.{v} IS NULL OR i.{v} < e.{v}))")
        }
        None => "false".to_string(),
    };
    let written_after = "($2::timestamptz IS NOT NULL AND e.\"synced_at\" > $2::timestamptz)";
    let digest_only = if target.digest {
        format!(
            "{} AND NOT ({same_digest}) AND NOT {written_after}",
            same.join(" AND ")
        )
    } else {
        "false".to_string()
    };
    write!(
        s,
        "pre AS (SELECT count(*) FILTER (WHERE {newer_version} OR {written_after}) AS stale, \
         count(*) FILTER (WHERE {digest_only}) AS digest_only \
         FROM input i JOIN {table} e ON {}) \
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), \
         (SELECT stale FROM pre), (SELECT digest_only FROM pre) FROM up",
        on.join(" AND ")
    )
    .expect("writing to a String cannot fail");
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
            digest: false,
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
    fn with_digests_a_digest_alone_is_written_without_touching_the_bookkeeping() {
        let plain = build_upsert(&target()).unwrap();
        assert!(!plain.contains("source_digest"));
        let sql = build_upsert(&UpsertTarget {
            digest: true,
            ..target()
        })
        .unwrap();
        assert!(sql.contains("decode(r.\"source_digest\", 'hex') AS \"source_digest\""));
        assert!(sql.contains("\"source_digest\" text)"));
        assert!(sql.contains(
            "AND e.\"source_digest\" IS NOT DISTINCT FROM i.\"source_digest\") ORDER BY"
        ));
        assert!(sql.contains("\"updated_at\" = CASE WHEN (t.\"first_name\" IS DISTINCT FROM"));
        assert!(
            sql.contains("OR t.\"source_digest\" IS DISTINCT FROM EXCLUDED.\"source_digest\")")
        );
        let mut t = target();
        t.columns.push(col("source_digest", FieldType::Text));
        assert!(matches!(
            build_upsert(&t),
            Err(StoreError::InvalidTarget { .. })
        ));
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
