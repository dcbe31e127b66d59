//! The stable names of the operational events: the `event` field of a log line, which the
//! log-based metrics, alert policies and dashboards of `terraform/modules/monitoring` filter on
//! (`jsonPayload.event="sync_failed"`). Renaming one breaks an alert, so the names live here
//! once, a contract test compares them with the Terraform, and `docs/OPERATIONS.md` lists each
//! with its fields.

/// A pipeline run succeeded. Fields: `pipeline`, `trigger`, `records`, `inserted`,
/// `updated`, `duration_ms`.
pub const SYNC_FINISHED: &str = "sync_finished";
/// A pipeline run failed. Fields: `pipeline`, `trigger`, `reason`, `duration_ms`.
pub const SYNC_FAILED: &str = "sync_failed";
/// DrChrono refused a token refresh, or refused the token a refresh just returned:
/// re-authorisation is needed. A routine 401 that a refresh cures is not this event. Fields:
/// `system`, `status`, `stage` (`refresh` or `fresh_token_refused`).
pub const OAUTH_REFRESH_FAILED: &str = "oauth_refresh_failed";
/// DrChrono rotated the refresh token but it could not be stored (every attempt failed): the
/// old one no longer works, so re-authorisation will be needed. Fields: `system`.
pub const OAUTH_TOKEN_NOT_PERSISTED: &str = "oauth_token_not_persisted";
/// An outbox event was given up and moved to the dead letters. Fields: `table`, `outbox_id`,
/// `reason`.
pub const OUTBOX_DEAD_LETTER: &str = "outbox_dead_letter";
/// A stored webhook could not be written; it waits in the inbox for `runner replay`. Fields:
/// `source`, `inbox_id`, `reason`.
pub const INBOX_FAILED: &str = "inbox_failed";
/// An inbound delivery was refused before anything was stored. Fields: `source`, `reason`.
pub const WEBHOOK_REJECTED: &str = "webhook_rejected";
/// Coda answered 429. Fields: `operation` (`GET`, `POST`, `DELETE`).
pub const CODA_RATE_LIMITED: &str = "coda_rate_limited";
/// Coda refused a whole table (a mapped column deleted or calculated, the table gone): its
/// rows are not pushed, and its outbox events are dead letters, until the mapping or the doc
/// is fixed. Fields: `table` (the Coda table id), `mapping`, `status`, `reason` (column ids).
pub const CODA_TABLE_REFUSED: &str = "coda_table_refused";
/// `runner coda reconcile` (or its daily run) finished a Coda table. Fields: `mapping`,
/// `table`, `trigger`, `coda_owned`, `rows`, `missing`, `changed`, `extra`, `duplicates`,
/// `upserted`, `deleted`, `write_calls`, `read_calls`, `dry_run` (counts only).
pub const CODA_RECONCILED: &str = "coda_reconciled";
/// A Coda table could not be reconciled (Coda unreachable or refusing the token, the table
/// missing, a repair that kept failing). Fields: `mapping`, `table`, `trigger`, `reason`.
pub const CODA_RECONCILE_FAILED: &str = "coda_reconcile_failed";
/// DrChrono answered 429. Fields: `system`, `pipeline`.
pub const DRCHRONO_RATE_LIMITED: &str = "drchrono_rate_limited";
/// A call waits at least 10 s for a rate budget that all processes share (for example
/// DrChrono's 500 per hour). Fields: `system`, `used`, `limit`, `window_secs`, `wait_secs`.
pub const RATE_BUDGET_WAIT: &str = "rate_budget_wait";
/// A source record could not be written (PostgreSQL refused a value, or it fails mapping):
/// it waits in the quarantine for `runner replay --quarantine` while the rest of its page was
/// written. Fields: `pipeline`, `record_key`, `reason`.
pub const RECORD_QUARANTINED: &str = "record_quarantined";
/// An audit partition was archived to Cloud Storage and detached. Fields: `table`,
/// `partition`, `rows`, `bytes`.
pub const RETENTION_ARCHIVED: &str = "retention_archived";
/// A retention step failed; nothing was detached or dropped. Fields: `table`, `reason`.
pub const RETENTION_FAILED: &str = "retention_failed";
/// A staff member acted from the admin dashboard (replay, retry, run, link, dismiss). Fields:
/// `action`, `actor` (the staff email), `count`.
pub const ADMIN_ACTION: &str = "admin_action";
/// An `/admin` request was refused: no valid IAP assertion (a request that bypassed IAP), or a
/// signed-in user who is not active staff. Fields: `reason`, `status`, `path`.
pub const ADMIN_REFUSED: &str = "admin_refused";

/// Every event name, for the contract test and the docs.
pub const ALL: &[&str] = &[
    SYNC_FINISHED,
    SYNC_FAILED,
    OAUTH_REFRESH_FAILED,
    OAUTH_TOKEN_NOT_PERSISTED,
    OUTBOX_DEAD_LETTER,
    INBOX_FAILED,
    WEBHOOK_REJECTED,
    CODA_RATE_LIMITED,
    CODA_TABLE_REFUSED,
    CODA_RECONCILED,
    CODA_RECONCILE_FAILED,
    DRCHRONO_RATE_LIMITED,
    RATE_BUDGET_WAIT,
    RECORD_QUARANTINED,
    RETENTION_ARCHIVED,
    RETENTION_FAILED,
    ADMIN_ACTION,
    ADMIN_REFUSED,
];
