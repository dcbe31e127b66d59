//! Integration tests of the runner. Database tests need `DATABASE_URL` pointing at a
//! PostgreSQL server (e.g. `postgres://postgres@127.0.0.1:5432/postgres`); each test gets a
//! fresh database from `#[sqlx::test]`. With no server there, `tests/with-postgres` (cargo's
//! test runner for this workspace) starts a throwaway one for the run. The black-box tests of
//! the config verbs live in the top-level `tests/cli/`.

mod admin;
mod coda_check;
mod common;
mod deepcura;
mod hardening;
mod inbound;
mod infra;
mod link;
mod ops;
mod phi;
mod pubsub;
mod push;
mod push_claims;
mod push_cli;
mod push_outbox;
mod push_refusals;
mod reconcile;
mod reconcile_cli;
mod replay;
mod requests;
mod retention;
mod roles;
mod schedule;
mod store;
mod sync;
mod sync_auth;
mod sync_digest;
mod sync_process;
mod webhooks;
mod writeback;
