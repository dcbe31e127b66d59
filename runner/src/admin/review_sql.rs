//! The review queue's statements for one linking rule, compiled from `links.yaml` with
//! validated, quoted identifiers (nothing of a request is ever spliced in: values are bound).
//!
//! - items: the flagged live rows (`<flag> AND deleted_at IS NULL`), oldest first, with the
//!   columns the strategies match on, as text;
//! - candidates: for a page of items at once, up to [`CANDIDATES`] live target rows each that
//!   share at least one key with the item (a pair whose target column is on the `to` table
//!   itself, such as the DrChrono appointment or patient id), scored by how many pairs of all
//!   strategies match, with the names of the strategies that match in full;
//! - the manual link: the `set` columns from the chosen target, the method `manual`, the link
//!   time; the review flag and reason cleared, exactly what a strategy would write;
//! - the dismissal, when the rule has a `dismissed_at_column`.

use std::fmt::Write as _;

use crate::config::links::LinkRule;
use crate::link::{join_clause, target_ref};
use crate::store::{Ident, StoreError};

/// Candidates shown per item.
pub(super) const CANDIDATES: i64 = 10;

/// The statements of one rule.
#[derive(Debug, Clone)]
pub(super) struct ReviewSql {
    /// The rule's name (in routes and on the page).
    pub rule: String,
    /// The `from` table.
    pub from: String,
    /// The `to` table.
    pub to: String,
    /// Headers of the item columns (after id, reason and created_at).
    pub item_columns: Vec<String>,
    /// Headers of the candidate columns (after id, score and strategies).
    pub candidate_columns: Vec<String>,
    /// `$1` limit: `id, reason, created_at, cols...`.
    pub items: String,
    /// The number of flagged rows.
    pub count: String,
    /// `$1` item ids: `item, id, score, strategies, cols...` (none without key pairs).
    pub candidates: Option<String>,
    /// `$1` item id: whether it is still open (unlinked, live, not dismissed), row-locked.
    pub open: String,
    /// `$1` target id: whether it is a live row of `to`.
    pub target_exists: String,
    /// `$1` item, `$2` target: the manual link.
    pub link: String,
    /// `$1` item, `$2` reason: the dismissal.
    pub dismiss: Option<String>,
}

/// Compiles the review statements of `rule`.
pub(super) fn compile(rule: &LinkRule) -> Result<ReviewSql, StoreError> {
    let from = Ident::new(&rule.from)?;
    let to = Ident::new(&rule.to)?;
    let flag = Ident::new(&rule.unmatched.review_flag_column)?;
    let reason = Ident::new(&rule.unmatched.review_reason_column)?;
    let dismissed = rule
        .unmatched
        .dismissed_at_column
        .as_deref()
        .map(Ident::new)
        .transpose()?;
    let join = join_clause(rule)?;

    let mut item_columns = Vec::new();
    let mut candidate_columns: Vec<(String, String)> = Vec::new();
    let mut score = Vec::new();
    let mut keys = Vec::new();
    let mut full = Vec::new();
    for s in &rule.strategies {
        let mut all = Vec::new();
        for (f, t) in &s.matches {
            let f_sql = format!("f.{}", Ident::new(f)?);
            let (t_sql, joined) = target_ref(rule, t)?;
            if !item_columns.contains(f) {
                item_columns.push(f.clone());
            }
            if !candidate_columns.iter().any(|(name, _)| name == t) {
                candidate_columns.push((t.clone(), t_sql.clone()));
            }
            let eq = format!("coalesce({f_sql} = {t_sql}, false)");
            score.push(format!("{eq}::int"));
            if !joined {
                keys.push(format!("{f_sql} = {t_sql}"));
            }
            all.push(eq);
        }
        full.push(format!(
            "case when {} then '{}' end",
            all.join(" and "),
            s.name.replace('\'', "''")
        ));
    }
    let item_cols: Vec<String> = item_columns
        .iter()
        .map(|c| Ident::new(c).map(|i| format!(", (f.{i})::text")))
        .collect::<Result<_, _>>()?;
    let live = format!(
        "f.{flag} AND f.\"deleted_at\" IS NULL{}",
        dismissed
            .as_ref()
            .map(|d| format!(" AND f.{d} IS NULL"))
            .unwrap_or_default()
    );
    let items = format!(
        "SELECT f.\"id\", f.{reason}, f.\"created_at\"{} FROM {from} f WHERE {live} \
         ORDER BY f.\"created_at\", f.\"id\" LIMIT $1",
        item_cols.concat()
    );
    let count = format!("SELECT count(*) FROM {from} f WHERE {live}");
    let candidates = (!keys.is_empty()).then(|| {
        let cols: String = candidate_columns
            .iter()
            .map(|(_, sql)| format!(", ({sql})::text"))
            .collect();
        format!(
            "SELECT x.id, c.* FROM unnest($1::uuid[]) AS x(id) JOIN {from} f ON f.\"id\" = x.id \
             CROSS JOIN LATERAL (SELECT t.\"id\", {} AS score, \
             array_remove(ARRAY[{}]::text[], NULL) AS strategies{cols} \
             FROM {to} t{join} WHERE t.\"deleted_at\" IS NULL AND ({}) \
             ORDER BY 2 DESC, t.\"id\" LIMIT {CANDIDATES}) c ORDER BY x.id, c.score DESC, c.id",
            score.join(" + "),
            full.join(", "),
            keys.join(" OR ")
        )
    });

    let mut unlinked: Vec<String> = Vec::new();
    let mut sets = Vec::new();
    for (col, reference) in &rule.set {
        let col = Ident::new(col)?;
        unlinked.push(format!("f.{col} IS NULL"));
        sets.push(format!("{col} = {}", target_ref(rule, reference)?.0));
    }
    unlinked.push("f.\"deleted_at\" IS NULL".into());
    if let Some(d) = &dismissed {
        unlinked.push(format!("f.{d} IS NULL"));
    }
    let unlinked = unlinked.join(" AND ");
    if let Some(m) = &rule.method_column {
        sets.push(format!("{} = 'manual'", Ident::new(m)?));
    }
    if let Some(at) = &rule.linked_at_column {
        sets.push(format!("{} = now()", Ident::new(at)?));
    }
    let mut link = format!("UPDATE {from} f SET ");
    let _ = write!(
        link,
        "{}, {flag} = false, {reason} = NULL, \"updated_at\" = now() FROM {to} t{join} \
         WHERE f.\"id\" = $1 AND t.\"id\" = $2 AND t.\"deleted_at\" IS NULL AND {unlinked}",
        sets.join(", ")
    );
    let dismiss = dismissed.as_ref().map(|d| {
        format!(
            "UPDATE {from} f SET {flag} = false, {reason} = $2, {d} = now(), \"updated_at\" = now() \
             WHERE f.\"id\" = $1 AND {unlinked}"
        )
    });
    Ok(ReviewSql {
        rule: rule.name.clone(),
        from: rule.from.clone(),
        to: rule.to.clone(),
        item_columns,
        candidate_columns: candidate_columns.into_iter().map(|(n, _)| n).collect(),
        items,
        count,
        candidates,
        open: format!("SELECT {unlinked} FROM {from} f WHERE f.\"id\" = $1 FOR UPDATE"),
        target_exists: format!(
            "SELECT EXISTS (SELECT 1 FROM {to} t WHERE t.\"id\" = $1 AND t.\"deleted_at\" IS NULL)"
        ),
        link,
        dismiss,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::links::LinksFile;

    #[test]
    fn the_shipped_rule_compiles_to_bounded_statements_on_quoted_identifiers() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../pipelines/links.yaml");
        let file: LinksFile =
            serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let r = compile(&file.links[0]).unwrap();
        assert_eq!(
            r.item_columns,
            ["drchrono_appt_id", "drchrono_patient_id", "session_date"]
        );
        assert!(
            r.candidate_columns
                .contains(&"appointments.scheduled_date".to_string())
        );
        let c = r.candidates.as_deref().unwrap();
        assert!(c.contains("LIMIT 10") && c.contains("'patient_date'"));
        assert!(c.contains("f.\"drchrono_appt_id\" = t.\"drchrono_appt_id\" OR"));
        assert!(!c.contains("f.\"session_date\" = j.\"scheduled_date\" OR"));
        assert!(r.items.ends_with("LIMIT $1"));
        assert!(r.link.contains("\"link_method\" = 'manual'"));
        assert!(r.link.contains("\"clinical_note_id\" = t.\"id\""));
        assert!(
            r.dismiss
                .unwrap()
                .contains("\"review_dismissed_at\" = now()")
        );
    }
}
