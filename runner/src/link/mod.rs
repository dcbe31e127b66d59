//! Linking rules (`pipelines/links.yaml`) compiled to SQL, and the review queue.
//!
//! A rule links rows of its `from` table (Deep Cura notes) to one row of its `to` table
//! (DrChrono clinical notes), trying its strategies in order. Each rule is compiled once into a
//! single set-based statement (see `sql.rs`) that, for every unlinked live `from` row:
//!
//! * takes the first strategy that finds any live target row: exactly one links the row (the
//!   `set` columns, the method, the time; the review flag and reason are cleared), two or more
//!   send it to review as `ambiguous: <strategy> matched <n> <to table>`, and later strategies
//!   are not tried, because a link is never guessed; nor does a later strategy take a row that
//!   an earlier strategy's keys rule out (a note naming appointment A is never linked by date
//!   to the note of appointment B);
//! * flags a row that no strategy matches for review with reason `no match`.
//!
//! Rows already linked are never touched, and a row is only written when a value really
//! changes, so a second pass writes nothing: no audit row, no change event.
//!
//! Linking runs inside the caller's transaction, under the caller's audit actor, after every
//! upsert into a table a rule involves ([`after_upsert`]): a note that arrives before its
//! clinical note (or before that note's appointment) is linked when the later row arrives.
//! Passes of the same rule are serialised with a transaction-scoped advisory lock, so that two
//! concurrent transactions (a Deep Cura webhook and a DrChrono sync page) cannot each miss the
//! other's uncommitted row: whichever links second sees what the first committed. Writers take
//! these locks before their first row write and in rule-name order ([`lock_for`]), so lock
//! waits never form a cycle.

pub mod relink;
mod sql;

use std::sync::Arc;

use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use crate::config::links::LinksFile;
use crate::store::StoreError;
use sql::CompiledRule;
pub(crate) use sql::{join_clause, target_ref};

/// What a linking pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkCounts {
    /// Rows newly linked.
    pub linked: u64,
    /// Rows flagged for manual review (newly, or with a changed reason).
    pub review: u64,
}

impl std::ops::AddAssign for LinkCounts {
    fn add_assign(&mut self, other: Self) {
        self.linked += other.linked;
        self.review += other.review;
    }
}

/// A row waiting for manual review. Ids and reasons only: never names, dates or note text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewItem {
    /// The `id` of the waiting row of the rule's `from` table.
    pub id: Uuid,
    /// The rule that could not link it.
    pub rule: String,
    /// Why: `no match`, or `ambiguous: <strategy> matched <n> <table>`.
    pub reason: Option<String>,
}

/// Every rule of a links file, compiled once (by [`Plan::load`](crate::config::Plan::load),
/// which keeps them in the plan).
#[derive(Debug)]
pub struct CompiledLinks {
    rules: Vec<CompiledRule>,
}

impl CompiledLinks {
    /// Compiles every rule; a name that is not a plain SQL identifier, a column reference to
    /// a table other than the rule's join, or a rule without strategies or `set` columns is an
    /// error.
    pub fn compile(links: &LinksFile) -> Result<Self, StoreError> {
        Self::compile_each(links).map_err(|mut errors| errors.swap_remove(0).1)
    }

    /// [`CompiledLinks::compile`], reporting every rule that does not compile (by its index
    /// in the file), so that validation can point at each.
    pub fn compile_each(links: &LinksFile) -> Result<Self, Vec<(usize, StoreError)>> {
        let mut rules = Vec::with_capacity(links.links.len());
        let mut errors = Vec::new();
        for (i, rule) in links.links.iter().enumerate() {
            match sql::compile(rule) {
                Ok(r) => rules.push(r),
                Err(e) => errors.push((i, e)),
            }
        }
        if errors.is_empty() {
            Ok(Self { rules })
        } else {
            Err(errors)
        }
    }

    /// Runs the rules that involve `table` (every rule when `table` is `None`), in file order.
    pub async fn run(
        &self,
        conn: &mut PgConnection,
        table: Option<&str>,
    ) -> Result<LinkCounts, StoreError> {
        let mut total = LinkCounts::default();
        for rule in &self.rules {
            if table.is_none_or(|t| rule.tables.iter().any(|r| r == t)) {
                total += run_rule(conn, rule).await?;
            }
        }
        Ok(total)
    }

    /// Takes, in name order, the transaction-scoped locks of every rule that involves one of
    /// `tables`. A transaction that writes such a table calls it before its first row write,
    /// so that every transaction takes rule locks before row locks and in the same order: two
    /// of them can then never wait for each other in a cycle (a deadlock).
    pub async fn lock_for(
        &self,
        conn: &mut PgConnection,
        tables: &[&str],
    ) -> Result<(), StoreError> {
        let mut names: Vec<&str> = self
            .rules
            .iter()
            .filter(|r| r.tables.iter().any(|t| tables.contains(&t.as_str())))
            .map(|r| r.name.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext('runner.link'), hashtext($1))")
                .bind(name)
                .execute(&mut *conn)
                .await
                .map_err(|e| StoreError::from_sqlx(format!("lock link rule ({name})"), e))?;
        }
        Ok(())
    }

    /// Every row waiting for review, rule by rule, oldest first.
    pub async fn review_queue(
        &self,
        conn: &mut PgConnection,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        let mut out = Vec::new();
        for rule in &self.rules {
            let rows: Vec<(Uuid, Option<String>)> =
                sqlx::query_as(AssertSqlSafe(Arc::clone(&rule.review)))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| {
                        StoreError::from_sqlx(format!("review queue of {}", rule.name), e)
                    })?;
            out.extend(rows.into_iter().map(|(id, reason)| ReviewItem {
                id,
                rule: rule.name.clone(),
                reason,
            }));
        }
        Ok(out)
    }
}

/// One pass of one rule: lock, check cheaply for unlinked rows, then link and flag.
async fn run_rule(conn: &mut PgConnection, rule: &CompiledRule) -> Result<LinkCounts, StoreError> {
    let op = |what: &str| format!("{what} ({})", rule.name);
    // The lock comes before the check: a concurrent pass that committed a row we must see
    // has then released it, and our statements' snapshots include its row.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('runner.link'), hashtext($1))")
        .bind(&rule.name)
        .execute(&mut *conn)
        .await
        .map_err(|e| StoreError::from_sqlx(op("lock link rule"), e))?;
    let pending: bool = sqlx::query_scalar(AssertSqlSafe(Arc::clone(&rule.any_pending)))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| StoreError::from_sqlx(op("find unlinked rows"), e))?;
    if !pending {
        return Ok(LinkCounts::default());
    }
    let (linked, review): (i64, i64) = sqlx::query_as(AssertSqlSafe(Arc::clone(&rule.link)))
        .bind(&rule.strategies)
        .bind(&rule.to)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| StoreError::from_sqlx(op("link rule"), e))?;
    let counts = LinkCounts {
        linked: linked.unsigned_abs(),
        review: review.unsigned_abs(),
    };
    if counts != LinkCounts::default() {
        tracing::debug!(
            rule = %rule.name,
            linked = counts.linked,
            review = counts.review,
            "Link rule ran."
        );
    }
    Ok(counts)
}

/// Runs every rule that involves `table` (as its `from`, `to` or join table), inside the
/// caller's transaction (whose actor is set). Cheap when nothing is unlinked: one advisory
/// lock and one `EXISTS` per rule.
pub async fn after_upsert(
    conn: &mut PgConnection,
    links: &CompiledLinks,
    table: &str,
) -> Result<LinkCounts, StoreError> {
    links.run(conn, Some(table)).await
}

/// Takes the locks of the rules involving `tables`, or the tables whose foreign keys a new row
/// of them fills ([`relink`]), before the caller writes them (see
/// [`CompiledLinks::lock_for`]).
pub async fn lock_for(
    conn: &mut PgConnection,
    plan: &crate::config::Plan,
    tables: &[&str],
) -> Result<(), StoreError> {
    let mut all: Vec<&str> = tables.to_vec();
    all.extend(
        plan.relations
            .iter()
            .filter(|r| tables.contains(&r.parent.as_str()))
            .map(|r| r.table.as_str()),
    );
    plan.link_rules.lock_for(conn, &all).await
}

/// Runs every rule (`runner link`), inside the caller's transaction (whose actor is set).
pub async fn run_all(
    conn: &mut PgConnection,
    links: &CompiledLinks,
) -> Result<LinkCounts, StoreError> {
    links.run(conn, None).await
}

/// Every row waiting for manual review: `(id, rule, reason)`, ids and reasons only.
pub async fn review_queue(
    conn: &mut PgConnection,
    links: &CompiledLinks,
) -> Result<Vec<ReviewItem>, StoreError> {
    links.review_queue(conn).await
}
