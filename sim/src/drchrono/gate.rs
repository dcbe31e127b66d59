//! List gates, for tests that need a race to happen in a given order: while a resource is
//! gated, a listing of it computes its page (the records as they are at that moment) and then
//! waits to be released before answering. A test can then change a record upstream, deliver
//! its webhook, and only then let the stale page through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, Semaphore};

use crate::data::Resource;

/// One gate: the page it holds was computed before [`ListGate::computed`] resolved, and is
/// answered once [`ListGate::release`] is called.
#[derive(Debug)]
pub struct ListGate {
    computed: Notify,
    open: Semaphore,
}

impl ListGate {
    fn new() -> Self {
        ListGate {
            computed: Notify::new(),
            open: Semaphore::new(0),
        }
    }

    /// Resolves once a listing computed its page and is waiting.
    pub async fn computed(&self) {
        self.computed.notified().await;
    }

    /// Lets every waiting (and every later) listing answer.
    pub fn release(&self) {
        self.open.add_permits(Semaphore::MAX_PERMITS / 2);
    }

    /// Called by the list handler after computing its page.
    pub(crate) async fn hold(&self) {
        self.computed.notify_one();
        if let Ok(permit) = self.open.acquire().await {
            permit.forget();
        }
    }
}

/// The gates in force, by resource.
#[derive(Debug, Default)]
pub(crate) struct Gates(Mutex<HashMap<Resource, Arc<ListGate>>>);

impl Gates {
    pub(crate) fn close(&self, resource: Resource) -> Arc<ListGate> {
        let gate = Arc::new(ListGate::new());
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(resource, gate.clone());
        gate
    }

    pub(crate) fn get(&self, resource: Resource) -> Option<Arc<ListGate>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&resource)
            .cloned()
    }

    pub(crate) fn open(&self, resource: Resource) {
        if let Some(g) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&resource)
        {
            g.release();
        }
    }
}
