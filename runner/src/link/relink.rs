//! Foreign keys between synced tables after the fact ([`crate::config::relations`]): a child
//! that arrived before its parent (an appointment webhook for a patient not synced yet) gets
//! its foreign key when the parent arrives, and a soft-deleted parent takes its live children
//! along (a patient deleted upstream leaves no appointment or insurance row behind in Coda).
//! Both run in the caller's transaction, under its audit actor, and write only rows that really
//! change.

use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use crate::config::relations::Relation;
use crate::store::{Ident, StoreError};

/// How deep a soft delete follows children of children.
const MAX_DEPTH: usize = 3;

/// Fills the null foreign keys of every child of `parent` whose parent row now exists.
/// Returns the rows resolved. Cheap when nothing is unresolved (each relation's source column
/// has a partial index on the unresolved rows).
pub async fn resolve_children(
    conn: &mut PgConnection,
    relations: &[Relation],
    parent: &str,
) -> Result<u64, StoreError> {
    let mut n = 0;
    for r in relations.iter().filter(|r| r.parent == parent) {
        let (t, fk, src, p, by) = idents(r)?;
        let sql = format!(
            "UPDATE {t} c SET {fk} = p.\"id\", \"updated_at\" = now() FROM {p} p \
             WHERE c.{fk} IS NULL AND c.{src} IS NOT NULL AND p.{by} = c.{src}"
        );
        n += sqlx::query(AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await
            .map_err(|e| StoreError::from_sqlx(format!("resolve {} of {}", r.fk, r.table), e))?
            .rows_affected();
    }
    Ok(n)
}

/// Soft-deletes the live rows that reference the soft-deleted `ids` of `parent`, and theirs in
/// turn; returns how many.
pub async fn soft_delete_children(
    conn: &mut PgConnection,
    relations: &[Relation],
    parent: &str,
    ids: &[Uuid],
) -> Result<u64, StoreError> {
    let mut total = 0;
    let mut level = vec![(parent.to_string(), ids.to_vec())];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for (table, ids) in level.iter().filter(|(_, ids)| !ids.is_empty()) {
            for r in relations.iter().filter(|r| &r.parent == table) {
                let (t, fk, ..) = idents(r)?;
                let sql = format!(
                    "UPDATE {t} SET \"deleted_at\" = now(), \"updated_at\" = now() \
                     WHERE {fk} = ANY($1) AND \"deleted_at\" IS NULL RETURNING \"id\""
                );
                let gone: Vec<Uuid> = sqlx::query_scalar(AssertSqlSafe(sql))
                    .bind(ids)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| {
                        StoreError::from_sqlx(format!("soft-delete children in {}", r.table), e)
                    })?;
                total += gone.len() as u64;
                next.push((r.table.clone(), gone));
            }
        }
        if next.iter().all(|(_, ids)| ids.is_empty()) {
            break;
        }
        level = next;
    }
    Ok(total)
}

/// Live rows of the relation's child table whose parent is still unknown.
pub async fn unresolved(conn: &mut PgConnection, r: &Relation) -> Result<i64, StoreError> {
    let (t, fk, src, ..) = idents(r)?;
    let sql = format!(
        "SELECT count(*) FROM {t} WHERE {fk} IS NULL AND {src} IS NOT NULL AND \"deleted_at\" IS NULL"
    );
    sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(conn)
        .await
        .map_err(|e| StoreError::from_sqlx(format!("count unresolved {} of {}", r.fk, r.table), e))
}

fn idents(r: &Relation) -> Result<(Ident, Ident, Ident, Ident, Ident), StoreError> {
    Ok((
        Ident::new(&r.table)?,
        Ident::new(&r.fk)?,
        Ident::new(&r.source)?,
        Ident::new(&r.parent)?,
        Ident::new(&r.by)?,
    ))
}
