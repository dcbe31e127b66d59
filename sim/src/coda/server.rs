//! Building the axum app and running it on a socket.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::api::guard;
use super::config::CodaConfig;
use super::control;
use super::error::ApiError;
use super::read::{
    get_column, get_row, get_table, list_columns, list_tables, mutation_status, whoami,
};
use super::rows::list_rows;
use super::state::CodaState;
use super::write::{delete_row, delete_rows, update_row, upsert_rows};

/// The whole simulator as a router, for mounting in-process (e.g. with `oneshot`). The API is
/// served at the root: point clients' base URL (`https://coda.io/apis/v1`) at the sim's URL.
/// Without a base URL set on `state`, absolute links use the request's `Host` header.
pub fn router(state: CodaState) -> Router {
    let table = "/docs/{docId}/tables/{tableIdOrName}";
    let api = Router::new()
        .route("/whoami", get(whoami))
        .route("/docs/{docId}/tables", get(list_tables))
        .route(table, get(get_table))
        .route(&format!("{table}/columns"), get(list_columns))
        .route(
            &format!("{table}/columns/{{columnIdOrName}}"),
            get(get_column),
        )
        .route(
            &format!("{table}/rows"),
            get(list_rows).post(upsert_rows).delete(delete_rows),
        )
        .route(
            &format!("{table}/rows/{{rowIdOrName}}"),
            get(get_row).put(update_row).delete(delete_row),
        )
        .route("/mutationStatus/{requestId}", get(mutation_status))
        .route_layer(from_fn_with_state(state.clone(), guard));
    Router::new()
        .merge(api)
        .nest("/_sim", control::routes())
        .fallback(|| async { ApiError::NotFound("Not Found".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        // The guard enforces the configurable body limit itself.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Entry point of the Coda simulator.
#[derive(Debug)]
pub struct CodaSim;

impl CodaSim {
    /// Binds `config.listen` and serves an empty workspace (add tables through the state).
    pub async fn start(config: CodaConfig) -> anyhow::Result<CodaHandle> {
        let state = CodaState::new(&config);
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding Coda simulator to {}", config.listen))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        if state.base_url().is_none() {
            state.set_base_url(format!("http://{addr}"));
        }
        let url = state.base_url().unwrap_or_else(|| format!("http://{addr}"));
        let url = url.trim_end_matches('/').to_owned();
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        tracing::debug!(%addr, "Coda simulator listening.");
        Ok(CodaHandle {
            addr,
            url,
            state,
            shutdown: Some(tx),
            task: Some(task),
        })
    }
}

/// A running simulator. Dropping it asks the server to stop; [`CodaHandle::stop`] also
/// waits for it.
#[derive(Debug)]
pub struct CodaHandle {
    addr: SocketAddr,
    url: String,
    state: CodaState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl CodaHandle {
    /// The base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state, for inspecting and changing the simulator from tests.
    pub fn state(&self) -> &CodaState {
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

impl Drop for CodaHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
