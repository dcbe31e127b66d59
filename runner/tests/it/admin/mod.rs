//! The admin dashboard through the real router and PostgreSQL: IAP verification, each page for
//! each role, each action with its form token, each bad input, the disclosure report, the
//! api role's database privileges, and the query plans with a million audit rows.
//!
//! Helpers: a clinic seeded with one patient (whose name must never leave a page body), a
//! Deep Cura note waiting for review with two candidate notes, a failed run, and staff of every
//! role; in-process GET and POST with the dev user standing in for IAP.

mod actions;
mod db_role;
mod disclosures;
mod iap;
mod pages;
mod plans;
pub(crate) mod support;

pub(crate) use support::*;
