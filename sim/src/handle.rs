//! The running-server handle every simulator returns: its URL, its state, and a graceful stop.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Binds `listen` for the simulator called `name`.
pub async fn bind(listen: SocketAddr, name: &str) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {name} simulator to {listen}"))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    Ok((listener, addr))
}

/// A running simulator. Dropping it asks the server to stop; [`SimHandle::stop`] also waits
/// for it.
#[derive(Debug)]
pub struct SimHandle<S> {
    addr: SocketAddr,
    url: String,
    state: S,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl<S> SimHandle<S> {
    /// Serves `app` on `listener` in the background; `url` is the simulator's base URL.
    pub fn spawn(
        listener: TcpListener,
        addr: SocketAddr,
        url: String,
        state: S,
        app: Router,
    ) -> Self {
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        SimHandle {
            addr,
            url: url.trim_end_matches('/').to_owned(),
            state,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state, for inspecting and changing the simulator from tests.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Stops accepting connections and waits (up to 5 s) for in-flight requests to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
                Ok(joined) => joined
                    .context("simulator task panicked")?
                    .context("simulator server failed")?,
                Err(_) => task.abort(),
            }
        }
        Ok(())
    }
}

impl<S> Drop for SimHandle<S> {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The base of the absolute links a simulator serves (`next` URLs, `href`s): the configured
/// public URL, or the bound address once the server listens.
#[derive(Debug, Default)]
pub struct BaseUrl(std::sync::RwLock<Option<String>>);

impl BaseUrl {
    /// A base that starts as `url` (none: set when the server binds).
    pub fn new(url: Option<String>) -> Self {
        BaseUrl(std::sync::RwLock::new(url))
    }

    /// Replaces the base.
    pub fn set(&self, url: impl Into<String>) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(url.into());
    }

    /// The base, if set.
    pub fn get(&self) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
