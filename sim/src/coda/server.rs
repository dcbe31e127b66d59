//! Building the axum app and running it on a socket.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::get;

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
        let (listener, addr) = crate::handle::bind(config.listen, "Coda").await?;
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

/// A running Coda simulator.
pub type CodaHandle = crate::handle::SimHandle<CodaState>;
