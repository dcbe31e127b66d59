//! Building the axum app and running it on a socket.

use std::net::SocketAddr;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

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
        let (listener, addr) = crate::handle::bind(listen, "DrChrono").await?;
        if state.base_url().is_none() {
            state.set_base_url(format!("http://{addr}"));
        }
        let url = state.base_url().unwrap_or_else(|| format!("http://{addr}"));
        let app = router(state.clone());
        Ok(crate::handle::SimHandle::spawn(
            listener, addr, url, state, app,
        ))
    }
}

/// A running DrChrono simulator.
pub type DrChronoHandle = crate::handle::SimHandle<DrChronoState>;
