//! The simulator's shared state and its Rust control API, used by tests in-process (the
//! `/_sim/` HTTP endpoints call the same methods).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::config::{CodaConfig, FaultConfig, RateLimitConfig};
use super::error::{ApiError, SimError};
use super::faults::FaultInjector;
use super::model::{ColumnSpec, Row, Table};
use super::mutation::{Mutations, Op};
use super::rate::{Kind, RateLimiter};
use super::stats::CodaStats;
use super::store::Store;

/// Handle to the simulator's state; cheap to clone, shared with the server.
#[derive(Debug, Clone)]
pub struct CodaState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    world: Mutex<World>,
    base_url: crate::handle::BaseUrl,
}

/// Everything that changes while serving, behind one lock (never held across an await).
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) store: Store,
    pub(crate) mutations: Mutations,
    pub(crate) tokens: BTreeSet<String>,
    pub(crate) rate: Option<RateLimiter>,
    pub(crate) faults: FaultInjector,
    pub(crate) stats: CodaStats,
    pub(crate) apply_delay: Duration,
    pub(crate) max_body_bytes: usize,
}

impl CodaState {
    /// Empty state (no docs) for a configuration.
    pub fn new(config: &CodaConfig) -> Self {
        let world = World {
            store: Store::new(config.seed),
            mutations: Mutations::default(),
            tokens: config.tokens.iter().cloned().collect(),
            rate: config.rate_limit.clone().map(RateLimiter::new),
            faults: FaultInjector::new(config.faults.clone()),
            stats: CodaStats::default(),
            apply_delay: config.apply_delay,
            max_body_bytes: config.max_body_bytes,
        };
        Self {
            inner: Arc::new(Inner {
                world: Mutex::new(world),
                base_url: crate::handle::BaseUrl::new(config.public_url.clone()),
            }),
        }
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.inner
            .world
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the base of absolute links, e.g. `http://127.0.0.1:8080`.
    pub fn set_base_url(&self, url: impl Into<String>) {
        self.inner.base_url.set(url);
    }

    /// The base of absolute links, if set.
    pub fn base_url(&self) -> Option<String> {
        self.inner.base_url.get()
    }

    /// Creates a table (and its doc, if new) with the given columns and no rows.
    pub fn create_table(
        &self,
        doc: &str,
        table_id: &str,
        name: &str,
        columns: Vec<ColumnSpec>,
    ) -> Result<(), SimError> {
        self.world()
            .store
            .create_table(doc, table_id, name, columns)
    }

    /// Deletes a table (by id or name) and returns its last state.
    pub fn delete_table(&self, doc: &str, table: &str) -> Result<Table, SimError> {
        self.world().store.delete_table(doc, table)
    }

    /// A table's full state: columns and rows as stored (by id or name).
    pub fn table(&self, doc: &str, table: &str) -> Result<Table, SimError> {
        self.world().store.table(doc, table).cloned()
    }

    /// The ids of a doc's tables, in creation order (empty for an unknown doc).
    pub fn table_ids(&self, doc: &str) -> Vec<String> {
        let world = self.world();
        world.store.doc(doc).map_or_else(Vec::new, |d| {
            d.tables.iter().map(|t| t.id.clone()).collect()
        })
    }

    /// A table's rows in natural order, for cell-by-cell comparisons (empty when missing).
    pub fn table_rows(&self, doc: &str, table: &str) -> Vec<Row> {
        self.world()
            .store
            .table(doc, table)
            .map(|t| t.rows.clone())
            .unwrap_or_default()
    }

    /// Appends a column to a table.
    pub fn add_column(&self, doc: &str, table: &str, column: ColumnSpec) -> Result<(), SimError> {
        self.world().store.add_column(doc, table, column)
    }

    /// Renames a column (by id or name); its id and values stay.
    pub fn rename_column(
        &self,
        doc: &str,
        table: &str,
        column: &str,
        name: &str,
    ) -> Result<(), SimError> {
        self.world().store.rename_column(doc, table, column, name)
    }

    /// Deletes a column (by id or name) and its values.
    pub fn delete_column(&self, doc: &str, table: &str, column: &str) -> Result<(), SimError> {
        self.world().store.delete_column(doc, table, column)
    }

    /// Adds a row at once, bypassing the API and its queue; `values` are keyed by column id
    /// or name. Calculated columns may be set this way (to stand in for formula results).
    pub fn insert_row(
        &self,
        doc: &str,
        table: &str,
        values: BTreeMap<String, Value>,
    ) -> Result<Row, SimError> {
        self.world().store.insert_row(doc, table, values)
    }

    /// Edits cells of a row at once (by row id; columns by id or name), bypassing the API, as
    /// a person editing the doc would.
    pub fn edit_row(
        &self,
        doc: &str,
        table: &str,
        row: &str,
        values: BTreeMap<String, Value>,
    ) -> Result<Row, SimError> {
        self.world().store.edit_row(doc, table, row, values)
    }

    /// Deletes a row at once (by row id), bypassing the API, as a person would; returns
    /// whether it existed.
    pub fn delete_row(&self, doc: &str, table: &str, row: &str) -> Result<bool, SimError> {
        let mut world = self.world();
        let table_id = world.store.table(doc, table)?.id.clone();
        Ok(world.store.delete_rows(doc, &table_id, &[row.to_owned()]) > 0)
    }

    /// Accepts another API token.
    pub fn add_token(&self, token: impl Into<String>) {
        self.world().tokens.insert(token.into());
    }

    /// Stops accepting an API token; returns whether it was accepted.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.world().tokens.remove(token)
    }

    /// Replaces the rate limits (`None` disables them) and resets every budget.
    pub fn set_rate_limit(&self, config: Option<RateLimitConfig>) {
        self.world().rate = config.map(RateLimiter::new);
    }

    /// The active rate limits.
    pub fn rate_limit(&self) -> Option<RateLimitConfig> {
        self.world().rate.as_ref().map(|r| r.config().clone())
    }

    /// Replaces the fault configuration and restarts the fault stream from its seed.
    pub fn set_faults(&self, config: FaultConfig) {
        self.world().faults = FaultInjector::new(config);
    }

    /// The active fault configuration.
    pub fn faults(&self) -> FaultConfig {
        self.world().faults.config().clone()
    }

    /// Sets the delay before mutations accepted from now on are applied.
    pub fn set_apply_delay(&self, delay: Duration) {
        self.world().apply_delay = delay;
    }

    /// The delay before accepted mutations are applied.
    pub fn apply_delay(&self) -> Duration {
        self.world().apply_delay
    }

    /// Sets the largest accepted request body, in bytes.
    pub fn set_max_body_bytes(&self, bytes: usize) {
        self.world().max_body_bytes = bytes;
    }

    /// The largest accepted request body, in bytes.
    pub fn max_body_bytes(&self) -> usize {
        self.world().max_body_bytes
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> CodaStats {
        self.world().stats.clone()
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        self.world().stats = CodaStats::default();
    }

    /// Applies every queued mutation now, in order, whatever its due time.
    pub fn flush_mutations(&self) {
        let world = &mut *self.world();
        world
            .mutations
            .apply_due(None, &mut world.store, &mut world.stats);
    }

    /// Mutations accepted but not applied yet.
    pub fn pending_mutations(&self) -> usize {
        self.world().mutations.pending()
    }

    /// Whether a mutation has been applied; `None` for an unknown request id.
    pub fn mutation_completed(&self, request_id: &str) -> Option<bool> {
        let status = self.world().mutations.status(request_id)?;
        Some(status["completed"] == Value::Bool(true))
    }

    /// Applies the queued mutations that are due.
    fn apply_due(&self) {
        let world = &mut *self.world();
        world
            .mutations
            .apply_due(Some(Instant::now()), &mut world.store, &mut world.stats);
    }

    /// Queues an accepted mutation and returns its request id. With a zero delay and an empty
    /// queue it is applied before returning; otherwise a timer applies it when due (outside a
    /// tokio runtime it waits for [`CodaState::flush_mutations`]).
    pub(crate) fn submit(&self, world: &mut World, op: Op) -> String {
        let id = world.store.new_request_id();
        let delay = world.apply_delay;
        let now = Instant::now();
        world.stats.mutations_accepted += 1;
        world.mutations.push(id.clone(), now + delay, op);
        if delay.is_zero() && world.mutations.pending() == 1 {
            world
                .mutations
                .apply_due(Some(now), &mut world.store, &mut world.stats);
        } else if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let state = self.clone();
            runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                state.apply_due();
            });
        }
        id
    }

    /// Gatekeeping for one API request, in order: authenticate, throttle, then the fault draw.
    pub(crate) fn admit(
        &self,
        route: &str,
        table: Option<&str>,
        kind: Kind,
        bearer: Option<&str>,
    ) -> Result<(), ApiError> {
        let world = &mut *self.world();
        world.stats.hit(route);
        let Some(token) = bearer.filter(|t| world.tokens.contains(*t)) else {
            world.stats.unauthorized += 1;
            return Err(ApiError::Unauthorized);
        };
        if let Some(rate) = &mut world.rate
            && let Err(t) = rate.check(token, kind)
        {
            world.stats.throttled += 1;
            return Err(ApiError::TooManyRequests {
                retry_after: rate.config().retry_after.then_some(t.wait_secs),
            });
        }
        match kind {
            Kind::Read => world.stats.reads += 1,
            Kind::Write => world.stats.writes += 1,
        }
        if let Some(status) = world.faults.next_for(table) {
            world.stats.injected_errors += 1;
            return Err(ApiError::Injected { status });
        }
        Ok(())
    }
}
