//! Write-back from Coda: the `PATCH` endpoints of `pipelines/writeback.yaml`, generated from
//! the file (no Rust per endpoint). A request is authenticated by the shared secret (constant
//! time), authorised by the staff member it names (an active `staff_roles` row whose role the
//! endpoint allows), validated field by field, and applied in one transaction under the actor
//! `coda:<email>`: the audit trigger records it and emits the change event that takes the row
//! back to Coda. An unchanged PATCH writes nothing. The answer is the row as stored, with its
//! `version` for optimistic concurrency (`version` in the body or `If-Unmodified-Since`: 409
//! when the row moved on).
//!
//! Nothing is written on any refusal; no value of a body reaches a log line or an answer.

pub mod body;
mod echo;
mod error;
pub mod store;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::patch;
use serde_json::json;
use subtle::ConstantTimeEq as _;

use crate::app::AppState;
use crate::config::Plan;
use crate::config::writeback::Endpoint;
use crate::store::{StoreError, set_actor};
use echo::Echo;
pub use error::{FieldError, WritebackError};
use store::{EndpointSql, StoredRow};

/// Largest write-back body, in bytes (a form's worth of fields).
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// One endpoint, ready to serve.
#[derive(Debug)]
struct Compiled {
    ep: Endpoint,
    sql: EndpointSql,
    secret: Vec<u8>,
    secret_header: String,
    user_header: String,
    echo: Echo,
}

/// The routes of every endpoint of the plan's write-back file, or none when its secret is
/// empty (write-back disabled; `runner serve` says so). An endpoint whose names are not
/// identifiers is skipped (`runner validate` refuses such a file, so a running server never
/// has one).
pub fn routes(plan: &Plan) -> Router<AppState> {
    let file = &plan.writeback;
    let mut router = Router::new();
    if file.secret.is_empty() {
        return router;
    }
    for ep in &file.endpoints {
        let Ok(sql) = EndpointSql::new(ep) else {
            continue;
        };
        let compiled = Arc::new(Compiled {
            ep: ep.clone(),
            sql,
            secret: file.secret.expose().as_bytes().to_vec(),
            secret_header: file.secret_header.clone(),
            user_header: file.user_header.clone(),
            echo: Echo::new(plan.coda_mappings.clone(), &ep.table),
        });
        router = router.route(
            &ep.path,
            patch(
                move |State(state): State<AppState>,
                      Path(key): Path<String>,
                      headers: HeaderMap,
                      body: Bytes| {
                    let c = compiled.clone();
                    async move {
                        match apply(&state, &c, &key, &headers, &body).await {
                            Ok(r) => r,
                            Err(e) => {
                                tracing::info!(path = %c.ep.path, table = %c.ep.table, refused = %e, "Write-back refused.");
                                e.into_response()
                            }
                        }
                    }
                },
            ),
        );
    }
    router.layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
}

/// Authenticates, authorises, validates and applies one request.
async fn apply(
    state: &AppState,
    c: &Compiled,
    raw_key: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, WritebackError> {
    let given = headers
        .get(c.secret_header.as_str())
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(&c.secret)) {
        return Err(WritebackError::Unauthorized);
    }
    if !crate::server::is_json(headers) {
        return Err(WritebackError::UnsupportedMediaType);
    }
    let email = headers
        .get(c.user_header.as_str())
        .and_then(|v| v.to_str().ok())
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 254)
        .ok_or(WritebackError::Forbidden("no staff member named"))?;
    authorise(state, &c.ep, &email).await?;
    let key = body::key(&c.ep, raw_key).map_err(|e| WritebackError::Invalid(vec![e]))?;
    let change = body::validate(&c.ep, body).map_err(WritebackError::Invalid)?;
    let since = if_unmodified_since(headers)?;
    let store = |e: StoreError| WritebackError::from_store(&e);
    let mut tx = state
        .pool
        .begin()
        .await
        .map_err(|e| store(StoreError::from_sqlx("begin", e)))?;
    set_actor(&mut tx, &format!("coda:{email}"))
        .await
        .map_err(store)?;
    let (row, changed, created) = match c.sql.lock(&mut tx, &key).await.map_err(store)? {
        None if !c.ep.create_missing => return Err(WritebackError::NotFound),
        None => {
            let missing = body::missing_for_create(&c.ep, &change);
            if !missing.is_empty() {
                return Err(WritebackError::Invalid(missing));
            }
            let row = c
                .sql
                .insert(&mut tx, &key, &change.values)
                .await
                .map_err(store)?;
            (row, true, true)
        }
        Some(current) => {
            check_version(&current, change.version.as_deref(), since)?;
            match c
                .sql
                .update(&mut tx, &key, &change.values)
                .await
                .map_err(store)?
            {
                Some(row) => {
                    c.echo
                        .record_shown(&mut tx, &current.row, &change.sent)
                        .await
                        .map_err(store)?;
                    (row, true, false)
                }
                None => (current, false, false),
            }
        }
    };
    tx.commit()
        .await
        .map_err(|e| store(StoreError::from_sqlx("commit", e)))?;
    tracing::info!(path = %c.ep.path, table = %c.ep.table, changed, created, "Write-back applied.");
    let body = json!({
        "changed": changed,
        "created": created,
        "version": row.version,
        "row": row.row,
    });
    Ok(axum::Json(body).into_response())
}

/// The caller must be an active staff member with a role the endpoint allows.
async fn authorise(state: &AppState, ep: &Endpoint, email: &str) -> Result<(), WritebackError> {
    let role: Option<String> =
        sqlx::query_scalar("select role from staff_roles where email = $1 and active")
            .bind(email)
            .fetch_optional(&state.pool)
            .await
            .map_err(|e| WritebackError::from_store(&StoreError::from_sqlx("staff_roles", e)))?;
    match role {
        None => Err(WritebackError::Forbidden("not an active staff member")),
        Some(r) if !ep.roles.contains(&r) => Err(WritebackError::Forbidden(
            "this role may not use this endpoint",
        )),
        Some(_) => Ok(()),
    }
}

/// `If-Unmodified-Since` as seconds since the epoch.
fn if_unmodified_since(headers: &HeaderMap) -> Result<Option<i64>, WritebackError> {
    let Some(v) = headers.get(header::IF_UNMODIFIED_SINCE) else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|s| chrono::DateTime::parse_from_rfc2822(s.trim()).ok())
        .map(|t| Some(t.timestamp()))
        .ok_or_else(|| {
            WritebackError::Invalid(vec![FieldError::new(
                "If-Unmodified-Since",
                "must be an HTTP date",
            )])
        })
}

/// 409 when the row changed after the version (or the time) the caller read.
fn check_version(
    current: &StoredRow,
    version: Option<&str>,
    since: Option<i64>,
) -> Result<(), WritebackError> {
    if version.is_some_and(|v| v != current.version)
        || since.is_some_and(|s| current.updated_epoch > s)
    {
        return Err(WritebackError::Conflict);
    }
    Ok(())
}
