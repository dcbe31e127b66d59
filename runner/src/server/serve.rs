//! Running the router on a socket: graceful shutdown (stop accepting, drain in-flight
//! requests, then let background work finish its current item) and the background tasks that
//! live as long as the server (the inbox worker, and whatever the caller adds).

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::router;
use crate::app::{AppState, Shutdown};

/// How long background tasks get to finish their current item after the server stopped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves [`router`] on `listener` with the inbox worker running, until `shutdown` resolves;
/// then drains in-flight requests and waits for the worker to finish its current entry.
/// Tests bind `127.0.0.1:0` and pass a oneshot receiver as `shutdown`.
pub async fn serve<F>(state: AppState, listener: TcpListener, shutdown: F) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with(state, listener, shutdown, |state, stop| {
        vec![crate::ingest::spawn_worker(state.clone(), stop)]
    })
    .await
}

/// Serves [`router`] with the background tasks started by `background` (the workers of a
/// role); they get a [`Shutdown`] and are awaited after the server has drained.
pub async fn serve_with<F, B>(
    state: AppState,
    listener: TcpListener,
    shutdown: F,
    background: B,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
    B: FnOnce(&AppState, Shutdown) -> Vec<JoinHandle<()>>,
{
    let (signal, stop) = Shutdown::channel();
    let tasks = background(&state, stop);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "Listening.");
    }
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    signal.trigger();
    let all = futures_join(tasks);
    if tokio::time::timeout(DRAIN_TIMEOUT, all).await.is_err() {
        tracing::warn!("Background work did not finish in time; stopping anyway.");
    }
    tracing::info!("Server stopped.");
    served
}

async fn futures_join(tasks: Vec<JoinHandle<()>>) {
    for t in tasks {
        if let Err(e) = t.await
            && e.is_panic()
        {
            tracing::error!("A background task panicked.");
        }
    }
}
