//! The dashboard's own trail in `access_log` (system `dashboard`): one row per page view that
//! shows patient data, and one per action, with who (`actor`), which page (`page`: the page
//! group; `path_template`: the route, never a value) and which records (`record_ids`). The disclosure report of a patient
//! reads these rows. A view whose row cannot be written is not shown (503): no disclosure
//! without its record.

use std::time::Instant;

use sqlx::PgPool;
use uuid::Uuid;

use super::view::HtmlError;
use super::{Page, Staff};
use crate::store::StoreError;

/// `access_log.system` of the dashboard's rows.
pub const SYSTEM: &str = "dashboard";

/// Records that `staff` viewed `records` on `page` through `route` (a route template such as
/// `/admin/audit/{table}/{id}`); `started` is when the request began (the row's latency).
pub(super) async fn viewed(
    pool: &PgPool,
    staff: &Staff,
    page: Page,
    route: &'static str,
    records: &[Uuid],
    started: Instant,
) -> Result<(), HtmlError> {
    insert(pool, staff, "GET", page, route, records, started)
        .await
        .map_err(HtmlError::from)
}

/// Records an action of `staff` on `page` through `route` touching `records`, and logs the
/// `admin_action` event (action name and count only).
#[allow(clippy::too_many_arguments)]
pub(super) async fn acted(
    pool: &PgPool,
    staff: &Staff,
    page: Page,
    route: &'static str,
    action: &'static str,
    records: &[Uuid],
    count: u64,
    started: Instant,
) -> Result<(), HtmlError> {
    tracing::info!(
        event = crate::telemetry::events::ADMIN_ACTION,
        action,
        actor = %staff.email,
        count,
        "Admin action."
    );
    insert(pool, staff, "POST", page, route, records, started)
        .await
        .map_err(HtmlError::from)
}

async fn insert(
    pool: &PgPool,
    staff: &Staff,
    method: &str,
    page: Page,
    route: &str,
    records: &[Uuid],
    started: Instant,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into access_log (system, method, path_template, status_code, latency_ms, actor, page, record_ids) \
         values ($1, $2, $3, 200, $4, $5, $6, $7)",
    )
    .bind(SYSTEM)
    .bind(method)
    .bind(route)
    .bind(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX))
    .bind(&staff.email)
    .bind(page.name())
    .bind(records)
    .execute(pool)
    .await
    .map_err(|e| StoreError::from_sqlx("record a dashboard view", e))?;
    Ok(())
}
