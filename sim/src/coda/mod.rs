//! A faithful local double of the Coda API v1 (official OpenAPI file, `info.version` 1.5.0).
//!
//! What it serves, and the choices made where the spec is silent (see also `apis.md` §2):
//!
//! - Bearer auth against configured tokens; every error body is the spec's
//!   `{"statusCode", "statusMessage", "message"}` (401, 400, 404, 405, 413, 429, 5xx).
//! - `GET /whoami`, `listTables`, `getTable`, `listColumns`, `getColumn`, `listRows`, `getRow`,
//!   `upsertRows`, `updateRow`, `deleteRows`, `deleteRow`, `getMutationStatus`. Tables, columns
//!   and rows resolve by id, API URL or name (rows: display value, first match).
//! - Lists use opaque page tokens that carry every original parameter (a request with
//!   `pageToken` ignores the rest, as the spec says) and `{items, href, nextPageToken,
//!   nextPageLink}`. Default page 25; `limit` above the maximum is clamped (columns 100 per
//!   spec; tables 100 and rows 500 are our choice); `limit < 1` is a 400.
//! - Request bodies are validated against the spec's own schemas (`schema`), then every
//!   column reference against the table: unknown, calculated or missing key columns are 400s
//!   that name the column, never a value.
//! - Mutations answer 202 and apply after a configurable delay (default 50 ms; zero applies
//!   before answering) in acceptance order (`mutation`); `mutationStatus` is
//!   `{"completed": false}` until then. Upserts with `keyColumns` update every matching row.
//! - Per-token budgets of 100 reads and 10 writes per 6 s, rolling by default (`rate`); no
//!   `Retry-After` unless configured. Bodies over 2 MiB get 413. Seeded 5xx injection.
//! - Stored values are served as written; `simple` joins arrays with `,`, `rich` wraps text in
//!   triple backticks; never-written cells are `""`. Row `index` is 0-based natural order.
//! - Not simulated: views, formulas (calculated cells stay as set by tests), value parsing
//!   (`disableParsing` is validated and ignored), `syncToken`/`nextSyncToken`,
//!   `X-Coda-Doc-Version`, docs/pages/controls endpoints.

mod api;
mod config;
mod control;
mod error;
mod faults;
mod model;
mod mutation;
mod page;
mod rate;
mod read;
mod render;
mod rows;
mod schema;
mod server;
mod state;
mod stats;
mod store;
mod write;

#[cfg(test)]
mod tests;

pub use config::{CodaConfig, DEFAULT_TOKEN, FaultConfig, RateLimitConfig, WindowMode};
pub use error::{ApiError, SimError};
pub use model::{ColumnSpec, Row, Table};
pub use page::{COLUMNS_MAX_PAGE, DEFAULT_PAGE, ROWS_MAX_PAGE, TABLES_MAX_PAGE};
pub use server::{CodaHandle, CodaSim, router};
pub use state::CodaState;
pub use stats::CodaStats;
