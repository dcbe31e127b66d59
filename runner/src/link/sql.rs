//! One [`LinkRule`] compiled to SQL text, once, from validated and quoted identifiers.
//!
//! The linking statement of a rule (shown for the shipped Deep Cura rule; `$1` is the array of
//! strategy names, `$2` the `to` table's name for review reasons):
//!
//! ```sql
//! WITH pending AS (                  -- unlinked, live rows; rows another writer holds are
//!     SELECT f."id" FROM "deepcura_notes" f      -- left to that writer's own linking pass
//!     WHERE f."clinical_note_id" IS NULL AND f."deleted_at" IS NULL
//!     ORDER BY f."id" FOR UPDATE SKIP LOCKED),
//! cand AS (                          -- per strategy k: how many live targets match
//!     SELECT f."id", 1 AS k, count(*) AS n, (array_agg(t."id"))[1] AS s0
//!     FROM pending p JOIN "deepcura_notes" f ON f."id" = p."id"
//!     JOIN "clinical_notes" t ON t."deleted_at" IS NULL
//!     WHERE f."drchrono_appt_id" = t."drchrono_appt_id" AND t."id" IS NOT NULL
//!     GROUP BY f."id"
//!     UNION ALL
//!     SELECT ..., 2 AS k, ... LEFT JOIN "appointments" j ON j."drchrono_id" = t."drchrono_appt_id"
//!         AND j."deleted_at" IS NULL
//!     WHERE f."drchrono_patient_id" = t."drchrono_patient_id"
//!       AND f."session_date" = j."scheduled_date"
//!       AND (f."drchrono_appt_id" = t."drchrono_appt_id") IS NOT FALSE  -- not ruled out by 1
//!       AND ...),
//! firsts AS (SELECT DISTINCT ON ("id") * FROM cand ORDER BY "id", k),   -- first strategy
//! decided AS (                       -- that found anything decides: 1 row links, 2+ = review
//!     SELECT p."id", x.n = 1 AS linked, <method>, <reason>, <set values> FROM pending p
//!     LEFT JOIN firsts x ON x."id" = p."id"),
//! up AS (
//!     UPDATE "deepcura_notes" f SET "clinical_note_id" = d.s0, "link_method" = ...,
//!         "linked_at" = ..., "needs_review" = NOT d.linked, "review_reason" = d.reason,
//!         "updated_at" = now()
//!     FROM decided d
//!     WHERE f."id" = d."id" AND <still unlinked>
//!       AND (d.linked OR <flag or reason really change>)     -- no write, no audit row
//!     RETURNING d.linked)
//! SELECT count(*) FILTER (WHERE linked), count(*) FILTER (WHERE NOT linked) FROM up
//! ```
//!
//! Why one statement per rule rather than one per strategy: a row that is ambiguous on a
//! strategy must not be linked by a later one, and deciding all strategies from one snapshot
//! keeps that rule a plain `DISTINCT ON` instead of re-deriving earlier counts in every later
//! statement.
//!
//! A later strategy never takes a target that an earlier strategy's keys rule out: when both
//! sides of an earlier pair are non-null and differ, the candidate is dropped. A Deep Cura note
//! that names DrChrono appointment A is therefore not linked by date to the note of appointment
//! B; it waits (in review) until A's clinical note arrives. That is the "never guess" rule
//! applied to fallbacks.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::config::links::LinkRule;
use crate::store::{Ident, StoreError};

/// A rule ready to run: its SQL texts and the values bound to them.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    /// The rule's name (the advisory lock key, the `rule` of a review item).
    pub name: String,
    /// Tables whose changes can change this rule's result: from, to and join.
    pub tables: Vec<String>,
    /// Strategy names, bound as `$1` of [`Self::link`].
    pub strategies: Vec<String>,
    /// The `to` table, bound as `$2` of [`Self::link`] (named in ambiguity reasons).
    pub to: String,
    /// `SELECT EXISTS (unlinked live row)`: the cheap check before linking.
    pub any_pending: Arc<str>,
    /// The linking statement (see the module documentation); returns (linked, review).
    pub link: Arc<str>,
    /// The review queue of this rule: `(id, reason)` of flagged live rows.
    pub review: Arc<str>,
}

fn invalid(rule: &LinkRule, reason: String) -> StoreError {
    StoreError::InvalidTarget {
        table: rule.from.clone(),
        reason: format!("link rule {}: {reason}", rule.name),
    }
}

/// Resolves a reference to a column of `to` (`col`, alias `t`) or of the join table
/// (`<join table>.<col>`, alias `j`). Returns the SQL and whether it needs the join.
pub(crate) fn target_ref(rule: &LinkRule, reference: &str) -> Result<(String, bool), StoreError> {
    match reference.split_once('.') {
        None => Ok((format!("t.{}", Ident::new(reference)?), false)),
        Some((table, col)) => {
            if rule.join.as_ref().is_none_or(|j| j.table != table) {
                return Err(invalid(
                    rule,
                    format!("`{reference}` names a table that is not the rule's join"),
                ));
            }
            Ok((format!("j.{}", Ident::new(col)?), true))
        }
    }
}

/// The rule's join as ` LEFT JOIN "<table>" j ON j."<col>" = t."<col>" ... AND j."deleted_at" IS
/// NULL` (empty without a join), for statements whose `to` table is aliased `t`.
pub(crate) fn join_clause(rule: &LinkRule) -> Result<String, StoreError> {
    let Some(j) = &rule.join else {
        return Ok(String::new());
    };
    let table = Ident::new(&j.table)?;
    if j.on.is_empty() {
        return Err(invalid(rule, "the join has no `on` columns".into()));
    }
    let mut on = Vec::new();
    for (to_col, join_col) in &j.on {
        let (to_col, join_col) = (Ident::new(to_col)?, Ident::new(join_col)?);
        on.push(format!("j.{join_col} = t.{to_col}"));
    }
    Ok(format!(
        " LEFT JOIN {table} j ON {} AND j.\"deleted_at\" IS NULL",
        on.join(" AND ")
    ))
}

/// Compiles `rule` (see the module documentation for the statement's shape).
pub(crate) fn compile(rule: &LinkRule) -> Result<CompiledRule, StoreError> {
    let (from, to) = (Ident::new(&rule.from)?, Ident::new(&rule.to)?);
    if rule.strategies.is_empty() {
        return Err(invalid(rule, "no strategies".into()));
    }
    if rule.set.is_empty() {
        return Err(invalid(rule, "no `set` columns".into()));
    }
    let flag = &rule.unmatched.review_flag_column;
    let reason = &rule.unmatched.review_reason_column;
    let mut owned: Vec<&String> = rule.set.keys().collect();
    owned.extend(rule.method_column.iter());
    owned.extend(rule.linked_at_column.iter());
    owned.extend([flag, reason]);
    owned.extend(rule.unmatched.dismissed_at_column.iter());
    for (i, col) in owned.iter().enumerate() {
        Ident::new(col)?;
        if owned[..i].contains(col) {
            return Err(invalid(rule, format!("column {col} is written twice")));
        }
    }

    // Set values: the target columns the matched row hands over; a candidate must have them.
    let mut set_refs = Vec::new();
    let mut set_uses_join = false;
    for (col, reference) in &rule.set {
        let (sql, joined) = target_ref(rule, reference)?;
        set_uses_join |= joined;
        set_refs.push((Ident::new(col)?, sql));
    }
    let join_sql = join_clause(rule)?;

    // Each strategy's match pairs as SQL: (from column, target reference, needs join).
    let mut pairs: Vec<Vec<(String, String, bool)>> = Vec::new();
    for s in &rule.strategies {
        if s.matches.is_empty() {
            return Err(invalid(
                rule,
                format!("strategy {} matches nothing", s.name),
            ));
        }
        let mut ps = Vec::new();
        for (f, t) in &s.matches {
            let f = Ident::new(f)?;
            let (sql, joined) = target_ref(rule, t)?;
            ps.push((format!("f.{f}"), sql, joined));
        }
        pairs.push(ps);
    }

    let dismissed_at = rule
        .unmatched
        .dismissed_at_column
        .as_deref()
        .map(Ident::new)
        .transpose()?;
    let unlinked = |alias: &str| {
        let mut s: Vec<String> = set_refs
            .iter()
            .map(|(c, _)| format!("{alias}.{c} IS NULL"))
            .collect();
        s.push(format!("{alias}.\"deleted_at\" IS NULL"));
        if let Some(d) = &dismissed_at {
            s.push(format!("{alias}.{d} IS NULL"));
        }
        s.join(" AND ")
    };

    let mut cand = Vec::new();
    for (k, ps) in pairs.iter().enumerate() {
        let mut conds: Vec<String> = ps.iter().map(|(f, t, _)| format!("{f} = {t}")).collect();
        for (f, t, _) in pairs[..k].iter().flatten() {
            conds.push(format!("({f} = {t}) IS NOT FALSE"));
        }
        conds.extend(set_refs.iter().map(|(_, r)| format!("{r} IS NOT NULL")));
        let needs_join = set_uses_join || pairs[..=k].iter().flatten().any(|p| p.2);
        let aggs: String = set_refs
            .iter()
            .enumerate()
            .map(|(i, (_, r))| format!(", (array_agg({r}))[1] AS s{i}"))
            .collect();
        cand.push(format!(
            "SELECT f.\"id\", {} AS k, count(*) AS n{aggs} FROM pending p \
             JOIN {from} f ON f.\"id\" = p.\"id\" JOIN {to} t ON t.\"deleted_at\" IS NULL{} \
             WHERE {} GROUP BY f.\"id\"",
            k + 1,
            if needs_join { join_sql.as_str() } else { "" },
            conds.join(" AND ")
        ));
    }

    let mut s = String::with_capacity(4096);
    write!(
        s,
        "WITH pending AS (SELECT f.\"id\" FROM {from} f WHERE {} ORDER BY f.\"id\" \
         FOR UPDATE SKIP LOCKED), cand AS ({}), \
         firsts AS (SELECT DISTINCT ON (\"id\") * FROM cand ORDER BY \"id\", k), \
         decided AS (SELECT p.\"id\", coalesce(x.n = 1, false) AS linked, \
         CASE WHEN x.n = 1 THEN ($1::text[])[x.k] END AS method, \
         CASE WHEN x.n IS NULL THEN 'no match' WHEN x.n > 1 THEN 'ambiguous: ' || \
         ($1::text[])[x.k] || ' matched ' || x.n || ' ' || $2::text END AS reason",
        unlinked("f"),
        cand.join(" UNION ALL ")
    )
    .expect("writing to a String cannot fail");
    for i in 0..set_refs.len() {
        write!(s, ", CASE WHEN x.n = 1 THEN x.s{i} END AS s{i}")
            .expect("writing to a String cannot fail");
    }
    s.push_str(" FROM pending p LEFT JOIN firsts x ON x.\"id\" = p.\"id\"), up AS (UPDATE ");
    write!(s, "{from} f SET ").expect("writing to a String cannot fail");
    for (i, (col, _)) in set_refs.iter().enumerate() {
        write!(s, "{col} = d.s{i}, ").expect("writing to a String cannot fail");
    }
    if let Some(m) = &rule.method_column {
        let m = Ident::new(m)?;
        write!(s, "{m} = CASE WHEN d.linked THEN d.method ELSE f.{m} END, ")
            .expect("writing to a String cannot fail");
    }
    if let Some(at) = &rule.linked_at_column {
        let at = Ident::new(at)?;
        write!(s, "{at} = CASE WHEN d.linked THEN now() ELSE f.{at} END, ")
            .expect("writing to a String cannot fail");
    }
    let (flag, reason) = (Ident::new(flag)?, Ident::new(reason)?);
    write!(
        s,
        "{flag} = NOT d.linked, {reason} = d.reason, \"updated_at\" = now() \
         FROM decided d WHERE f.\"id\" = d.\"id\" AND {} AND (d.linked \
         OR f.{flag} IS DISTINCT FROM true OR f.{reason} IS DISTINCT FROM d.reason) \
         RETURNING d.linked) \
         SELECT count(*) FILTER (WHERE linked), count(*) FILTER (WHERE NOT linked) FROM up",
        unlinked("f")
    )
    .expect("writing to a String cannot fail");

    let any_pending = format!(
        "SELECT EXISTS (SELECT 1 FROM {from} f WHERE {})",
        unlinked("f")
    );
    let review = format!(
        "SELECT f.\"id\", f.{reason} FROM {from} f WHERE f.{flag} AND f.\"deleted_at\" IS NULL \
         ORDER BY f.\"created_at\", f.\"id\""
    );
    let mut tables = vec![rule.from.clone(), rule.to.clone()];
    tables.extend(rule.join.iter().map(|j| j.table.clone()));
    Ok(CompiledRule {
        name: rule.name.clone(),
        tables,
        strategies: rule.strategies.iter().map(|s| s.name.clone()).collect(),
        to: rule.to.clone(),
        any_pending: any_pending.into(),
        link: s.into(),
        review: review.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::links::LinksFile;

    fn shipped() -> LinkRule {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../pipelines/links.yaml");
        let text = std::fs::read_to_string(path).expect("links.yaml");
        let file: LinksFile = serde_saphyr::from_str(&text).expect("links.yaml parses");
        file.links.into_iter().next().expect("one rule")
    }

    #[test]
    fn the_shipped_rule_compiles_to_one_guarded_statement() {
        let c = compile(&shipped()).unwrap();
        assert_eq!(c.strategies, ["appointment", "patient_date"]);
        assert_eq!(
            c.tables,
            ["deepcura_notes", "clinical_notes", "appointments"]
        );
        let sql = &*c.link;
        assert!(sql.contains("f.\"clinical_note_id\" IS NULL AND f.\"deleted_at\" IS NULL"));
        assert!(sql.contains("FOR UPDATE SKIP LOCKED"));
        assert!(sql.contains("f.\"drchrono_appt_id\" = t.\"drchrono_appt_id\" AND t.\"id\""));
        assert!(sql.contains("f.\"session_date\" = j.\"scheduled_date\""));
        assert!(sql.contains("(f.\"drchrono_appt_id\" = t.\"drchrono_appt_id\") IS NOT FALSE"));
        assert!(sql.contains("j.\"drchrono_id\" = t.\"drchrono_appt_id\""));
        assert!(sql.contains("\"needs_review\" IS DISTINCT FROM true"));
        // The first strategy does not need the join, so it does not pay for it.
        let first = sql.split("UNION ALL").next().unwrap();
        assert!(!first.contains("\"appointments\""));
    }

    #[test]
    fn unsafe_or_inconsistent_rules_are_rejected() {
        let mut r = shipped();
        r.from = "deepcura_notes; drop table x".into();
        assert!(matches!(compile(&r), Err(StoreError::InvalidIdentifier(_))));
        let mut r = shipped();
        r.strategies[1]
            .matches
            .insert("session_date".into(), "providers.x".into());
        assert!(matches!(compile(&r), Err(StoreError::InvalidTarget { .. })));
        let mut r = shipped();
        r.set.clear();
        assert!(matches!(compile(&r), Err(StoreError::InvalidTarget { .. })));
        let mut r = shipped();
        r.method_column = Some("needs_review".into());
        assert!(matches!(compile(&r), Err(StoreError::InvalidTarget { .. })));
        let mut r = shipped();
        r.strategies.clear();
        assert!(matches!(compile(&r), Err(StoreError::InvalidTarget { .. })));
    }
}
