//! Claiming and settling outbox events.
//!
//! A claim picks the oldest claimable events with `FOR UPDATE SKIP LOCKED`, together with
//! every other claimable event of the same records, and leases them to the claiming worker
//! (`claimed_by` = its [`WorkerLock`] holder, `available_at = now() + lease`). An event is
//! claimable when it is due (`available_at <= now()`) or when its claim belongs to a worker
//! whose lock nobody holds any more (`pg_locks`): that worker died, and its claims are taken
//! over at once instead of after the lease. A transaction-level advisory lock per record during
//! the claim keeps two concurrent claims from splitting one record's events between them
//! (which would send the row twice).

use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

use super::OutboxOptions;
use crate::push::error::PushError;
use crate::push::locks::{HOLDER_PREFIX, WORKER_LOCK_CLASS, WorkerLock};

/// Which events a worker claims.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Claim {
    /// `pending` events: the embedded worker of `runner serve` (no Pub/Sub).
    #[default]
    Pending,
    /// `relayed` events: the push role, after the sync role's relay published them.
    Relayed,
    /// Both (`runner outbox drain`).
    Any,
}

impl Claim {
    /// The status condition on alias `o` (a literal, so the partial indexes apply).
    fn predicate(self) -> &'static str {
        match self {
            Claim::Pending => "o.status = 'pending'",
            Claim::Relayed => "o.status = 'relayed'",
            Claim::Any => "o.status in ('pending', 'relayed')",
        }
    }
}

/// A claimed event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Event {
    pub(super) id: i64,
    pub(super) table_name: String,
    pub(super) record_id: Uuid,
    pub(super) attempts: i32,
}

/// Claims due events and the events of dead workers (see the module docs).
pub(super) async fn claim(
    pool: &PgPool,
    opts: &OutboxOptions,
    lock: &WorkerLock,
) -> Result<Vec<Event>, PushError> {
    let status = opts.claim.predicate();
    // The holders whose worker lock is held right now, in this database.
    let claimable = format!(
        "{status} and (o.available_at <= now()
             or (o.claimed_by like '{HOLDER_PREFIX}%' and o.claimed_by not in (select holder from live)))"
    );
    let sql = format!(
        "with live as (
             select '{HOLDER_PREFIX}' || objid::text as holder from pg_locks
              where locktype = 'advisory' and classid::bigint = $4 and objsubid = 2 and granted
                and database = (select oid from pg_database where datname = current_database())),
         picked as (
             select o.id, o.table_name, o.record_id from outbox o
              where {claimable}
                -- CASE fixes the evaluation order: only claimable events take a lock.
                and case when {claimable}
                         then pg_try_advisory_xact_lock(hashtextextended(o.table_name || ':' || o.record_id::text, 7))
                         else false end
              order by o.id limit $1 for update of o skip locked),
         same as (
             select o.id from outbox o
               join (select distinct table_name, record_id from picked) p using (table_name, record_id)
              where {claimable}
              for update of o skip locked)
         update outbox o
            set claimed_at = now(), claimed_by = $2, available_at = now() + make_interval(secs => $3)
          where o.id in (select id from picked union select id from same)
         returning o.id, o.table_name, o.record_id, o.attempts"
    );
    sqlx::query_as(AssertSqlSafe(sql))
        .bind(opts.batch)
        .bind(lock.holder())
        .bind(opts.lease.as_secs_f64())
        .bind(i64::from(WORKER_LOCK_CLASS))
        .fetch_all(pool)
        .await
        .map_err(PushError::store("claim outbox events"))
}

/// Marks events done.
pub(super) async fn mark_done(pool: &PgPool, ids: &[i64]) -> Result<(), PushError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "update outbox set status = 'done', done_at = now(), last_error = null
          where id = any($1) and status in ('pending', 'relayed')",
    )
    .bind(ids)
    .execute(pool)
    .await
    .map_err(PushError::store("settle outbox events"))?;
    Ok(())
}

/// How a failure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The whole push failed (Coda unreachable, 429/5xx after the retries): not the row's
    /// fault, so the events are only postponed.
    Postpone,
    /// Coda refused the row: one attempt; dead after `max_attempts`.
    Refused,
    /// Coda refused the table (a mapped column is gone): no retry can help until someone
    /// fixes the mapping or the doc, so the events are dead at once.
    TableRefused,
}

/// Settles failed events in one statement: attempts + 1, `last_error`, dead or due again
/// after a delay that doubles per attempt (at most 10 minutes). The claim is released
/// (`claimed_by` cleared), so the delay holds even after this worker dies. Returns how many
/// became dead letters.
pub(super) async fn mark_failed(
    pool: &PgPool,
    events: &[&Event],
    reason: &str,
    failure: Failure,
    opts: &OutboxOptions,
) -> Result<u64, PushError> {
    let mut ids = Vec::with_capacity(events.len());
    let mut attempts = Vec::with_capacity(events.len());
    let mut dead = Vec::with_capacity(events.len());
    let mut delays = Vec::with_capacity(events.len());
    for e in events {
        let n = e.attempts + 1;
        ids.push(e.id);
        attempts.push(n);
        dead.push(match failure {
            Failure::Postpone => false,
            Failure::Refused => n >= opts.max_attempts,
            Failure::TableRefused => true,
        });
        delays.push((opts.retry_delay.as_secs_f64() * 2f64.powi((n - 1).clamp(0, 16))).min(600.0));
    }
    let settled: Vec<(i64, String)> = sqlx::query_as(
        "update outbox o
            set attempts = u.attempts, last_error = $5, claimed_by = null,
                status = case when u.dead then 'dead' else o.status end,
                available_at = now() + make_interval(secs => u.delay)
           from unnest($1::bigint[], $2::int[], $3::bool[], $4::float8[]) as u(id, attempts, dead, delay)
          where o.id = u.id and o.status in ('pending', 'relayed')
         returning o.id, o.status",
    )
    .bind(&ids)
    .bind(&attempts)
    .bind(&dead)
    .bind(&delays)
    .bind(reason)
    .fetch_all(pool)
    .await
    .map_err(PushError::store("settle outbox events"))?;
    let mut n = 0;
    for (id, _) in settled.iter().filter(|(_, s)| s == "dead") {
        let table = events
            .iter()
            .find(|e| e.id == *id)
            .map_or("", |e| e.table_name.as_str());
        crate::telemetry::metrics::metrics().dead_letter(table);
        tracing::warn!(event = crate::telemetry::events::OUTBOX_DEAD_LETTER, outbox_id = id, table = %table, reason = %reason, "Outbox event moved to the dead letters.");
        n += 1;
    }
    Ok(n)
}
