//! Black-box tests of the Coda simulator over real HTTP.

#[path = "coda/auth.rs"]
mod auth;
#[path = "coda/common.rs"]
mod common;
#[path = "coda/control.rs"]
mod control;
#[path = "coda/limits.rs"]
mod limits;
#[path = "coda/lists.rs"]
mod lists;
#[path = "coda/rows.rs"]
mod rows;
#[path = "coda/upsert.rs"]
mod upsert;
