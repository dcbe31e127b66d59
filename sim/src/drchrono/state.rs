//! The simulator's shared state and its Rust control API, used by tests in-process (the
//! `/_sim/` HTTP endpoints call the same methods).

use std::fmt::Display;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::NaiveDateTime;
use serde_json::Value;

use super::auth::TokenStore;
use super::clock::SimClock;
use super::config::{DrChronoConfig, FaultConfig, RateLimitConfig};
use super::error::{ApiError, SimError};
use super::faults::FaultInjector;
use super::mutate;
use super::query::served;
use super::rate::RateLimiter;
use super::stats::SimStats;
use super::store::Store;
use crate::data::{Clinic, Resource};

/// Handle to the simulator's state; cheap to clone, shared with the server.
#[derive(Debug, Clone)]
pub struct DrChronoState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    world: Mutex<World>,
    base_url: crate::handle::BaseUrl,
    salt: u64,
    default_page_size: usize,
    gates: super::gate::Gates,
}

/// Everything that changes while serving, behind one lock (never held across an await).
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) store: Store,
    pub(crate) clock: SimClock,
    pub(crate) tokens: TokenStore,
    pub(crate) rate: Option<RateLimiter>,
    pub(crate) faults: FaultInjector,
    pub(crate) stats: SimStats,
}

impl DrChronoState {
    /// State with a clinic generated from `config.seed`, `config.patients` and `config.anchor`.
    pub fn new(config: &DrChronoConfig) -> Self {
        let clinic = match config.anchor {
            Some(anchor) => Clinic::generate_at(config.seed, config.patients, anchor),
            None => Clinic::generate(config.seed, config.patients),
        };
        Self::with_clinic(config, clinic)
    }

    /// State serving a given clinic (the `seed`/`patients`/`anchor` of `config` are unused).
    pub fn with_clinic(config: &DrChronoConfig, clinic: Clinic) -> Self {
        let clock = SimClock::after(clinic.latest_updated_at());
        let mut tokens = TokenStore::new(
            config.client_id.clone(),
            config.client_secret.clone(),
            config.refresh_token.clone(),
            config.authorization_code.clone(),
        )
        .with(config.access_token_ttl, config.scope.clone(), config.seed);
        if let Some(t) = &config.access_token {
            tokens.add_access_token(t.clone());
        }
        let world = World {
            store: Store::from_clinic(clinic),
            clock,
            tokens,
            rate: config.rate_limit.clone().map(RateLimiter::new),
            faults: FaultInjector::new(config.faults.clone()),
            stats: SimStats::default(),
        };
        Self {
            inner: Arc::new(Inner {
                world: Mutex::new(world),
                base_url: crate::handle::BaseUrl::new(config.public_url.clone()),
                salt: config.seed,
                default_page_size: config.default_page_size.max(1),
                gates: super::gate::Gates::default(),
            }),
        }
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.inner
            .world
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Gates the listings of `resource`: each computes its page, then waits for the gate's
    /// release before answering (see `super::gate`).
    pub fn gate_lists(&self, resource: Resource) -> std::sync::Arc<super::gate::ListGate> {
        self.inner.gates.close(resource)
    }

    /// Removes the gate of `resource`, releasing what waits on it.
    pub fn ungate_lists(&self, resource: Resource) {
        self.inner.gates.open(resource);
    }

    pub(crate) fn list_gate(
        &self,
        resource: Resource,
    ) -> Option<std::sync::Arc<super::gate::ListGate>> {
        self.inner.gates.get(resource)
    }

    /// Sets the base of absolute links, e.g. `http://127.0.0.1:8080`.
    pub fn set_base_url(&self, url: impl Into<String>) {
        self.inner.base_url.set(url);
    }

    /// The base of absolute links, if set.
    pub fn base_url(&self) -> Option<String> {
        self.inner.base_url.get()
    }

    pub(crate) fn salt(&self) -> u64 {
        self.inner.salt
    }

    pub(crate) fn default_page_size(&self) -> usize {
        self.inner.default_page_size
    }

    /// Every record of a resource in full form (verbose fields, soft-deleted appointments).
    pub fn records(&self, resource: Resource) -> Vec<Value> {
        self.world()
            .store
            .table(resource)
            .values()
            .cloned()
            .collect()
    }

    /// Exactly what a complete walk of the list endpoint without filters returns: soft-deleted
    /// appointments left out, verbose-only fields stripped unless `verbose`.
    pub fn records_as_served(&self, resource: Resource, verbose: bool) -> Vec<Value> {
        let world = self.world();
        world
            .store
            .table(resource)
            .values()
            .filter(|v| {
                resource != Resource::Appointments
                    || v.get("deleted_flag") != Some(&Value::Bool(true))
            })
            .map(|v| served(resource, v, verbose && super::params::has_verbose(resource)))
            .collect()
    }

    /// One record in full form.
    pub fn record(&self, resource: Resource, id: impl Display) -> Option<Value> {
        self.world().store.get(resource, &id.to_string()).cloned()
    }

    /// Creates a record (see `mutate::create` for defaults) and returns it.
    pub fn create_record(&self, resource: Resource, fields: Value) -> Result<Value, SimError> {
        let world = &mut *self.world();
        mutate::create(&mut world.store, &mut world.clock, resource, fields)
    }

    /// Merges `patch` (a JSON object) into a record, bumps its `updated_at` to the sim clock
    /// (unless the patch sets it), and returns the new record.
    pub fn update_record(
        &self,
        resource: Resource,
        id: impl Display,
        patch: Value,
    ) -> Result<Value, SimError> {
        let Value::Object(patch) = patch else {
            return Err(SimError::Invalid("a patch must be a JSON object".into()));
        };
        let world = &mut *self.world();
        mutate::update(
            &mut world.store,
            &mut world.clock,
            resource,
            &id.to_string(),
            patch,
        )
    }

    /// Deletes a record outright (gone from lists; detail answers 404) and returns it.
    pub fn delete_record(&self, resource: Resource, id: impl Display) -> Result<Value, SimError> {
        self.world().store.remove(resource, &id.to_string())
    }

    /// The latest timestamp the sim clock has handed out (or the data's newest before any).
    pub fn clock(&self) -> NaiveDateTime {
        self.world().clock.last()
    }

    /// Makes every access token invalid now (refresh tokens keep working).
    pub fn expire_access_tokens(&self) {
        self.world().tokens.expire_access_tokens();
    }

    /// The refresh token that is valid now (rotates on each refresh).
    pub fn current_refresh_token(&self) -> Option<String> {
        self.world().tokens.current_refresh_token()
    }

    /// Issues an access token directly, bypassing OAuth; refresh tokens are unaffected.
    pub fn issue_access_token(&self) -> String {
        self.world().tokens.mint_access_token()
    }

    /// Replaces the rate limits (`None` disables them) and resets their budgets.
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

    /// A snapshot of the counters.
    pub fn stats(&self) -> SimStats {
        self.world().stats.clone()
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        self.world().stats = SimStats::default();
    }

    /// Gatekeeping for one `/api/*` request, in DRF's order: authenticate, throttle, then the
    /// fault draw. Returns the delay to apply before serving.
    pub(crate) fn admit(
        &self,
        route: &str,
        bearer: Option<&str>,
    ) -> Result<Option<Duration>, ApiError> {
        let world = &mut *self.world();
        world.stats.hit(route);
        if !bearer.is_some_and(|t| world.tokens.access_ok(t)) {
            world.stats.unauthorized += 1;
            return Err(ApiError::Unauthorized);
        }
        if let Some(rate) = &mut world.rate
            && let Err(t) = rate.check()
        {
            world.stats.throttled += 1;
            return Err(ApiError::Throttled {
                retry_after: rate.config().retry_after.then_some(t.wait_secs),
            });
        }
        let fault = world.faults.next();
        if fault.error {
            world.stats.injected_errors += 1;
            return Err(ApiError::Injected);
        }
        if fault.delay.is_some() {
            world.stats.slow_responses += 1;
        }
        Ok(fault.delay)
    }
}
