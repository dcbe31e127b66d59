//! Stopping the background work: a [`Shutdown`] per task, triggered by its [`ShutdownSignal`]
//! when the server stops, and [`shutdown_signal`], which resolves on SIGTERM or Ctrl-C.

use tokio::sync::watch;

/// Tells background tasks to stop; cheap to clone, one per task.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// The sending side of [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownSignal(watch::Sender<bool>);

impl Shutdown {
    /// A new signal and its receiver.
    pub fn channel() -> (ShutdownSignal, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownSignal(tx), Shutdown(rx))
    }

    /// Whether shutdown was asked for (or the signal was dropped).
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Resolves once shutdown is asked for (or the signal is dropped).
    pub async fn wait(&mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

impl ShutdownSignal {
    /// Asks every [`Shutdown`] holder to stop.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

/// Resolves on SIGTERM (Cloud Run stopping the instance) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("Shutdown requested; draining.");
}
