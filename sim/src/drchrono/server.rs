//! Building the axum app and running it on a socket.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::api::{detail, guard, list};
use super::config::DrChronoConfig;
use super::control;
use super::error::ApiError;
use super::state::DrChronoState;
use super::token::token;
use crate::data::Clinic;

/// The whole simulator as a router, for mounting in-process (e.g. with `oneshot`).
/// Without a base URL set on `state`, absolute links use the request's `Host` header.
pub fn router(state: DrChronoState) -> Router {
    let api = Router::new()
        .route("/api/{resource}", get(list))
        .route("/api/{resource}/", get(list))
        .route("/api/{resource}/{id}", get(detail))
        .route("/api/{resource}/{id}/", get(detail))
        .route_layer(from_fn_with_state(state.clone(), guard));
    Router::new()
        .merge(api)
        .route("/o/token/", post(token))
        .route("/o/token", post(token))
        .nest("/_sim", control::routes())
        .fallback(|| async { ApiError::NotFound })
        .with_state(state)
}

/// Entry point of the DrChrono simulator.
#[derive(Debug)]
pub struct DrChronoSim;

impl DrChronoSim {
    /// Generates the clinic described by `config`, binds `config.listen` and serves.
    pub async fn start(config: DrChronoConfig) -> anyhow::Result<DrChronoHandle> {
        let state = DrChronoState::new(&config);
        Self::serve(config.listen, state).await
    }

    /// Serves a given clinic instead of generating one.
    pub async fn start_with_clinic(
        config: DrChronoConfig,
        clinic: Clinic,
    ) -> anyhow::Result<DrChronoHandle> {
        let state = DrChronoState::with_clinic(&config, clinic);
        Self::serve(config.listen, state).await
    }

    async fn serve(listen: SocketAddr, state: DrChronoState) -> anyhow::Result<DrChronoHandle> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding DrChrono simulator to {listen}"))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        if state.base_url().is_none() {
            state.set_base_url(format!("http://{addr}"));
        }
        let url = state.base_url().unwrap_or_else(|| format!("http://{addr}"));
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        tracing::debug!(%addr, "DrChrono simulator listening.");
        Ok(DrChronoHandle {
            addr,
            url,
            state,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A running simulator. Dropping it asks the server to stop; [`DrChronoHandle::stop`] also
/// waits for it.
#[derive(Debug)]
pub struct DrChronoHandle {
    addr: SocketAddr,
    url: String,
    state: DrChronoState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl DrChronoHandle {
    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state, for inspecting and changing the simulator from tests.
    pub fn state(&self) -> &DrChronoState {
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

impl Drop for DrChronoHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
