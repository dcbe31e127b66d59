//! Black-box tests of the DrChrono simulator over real HTTP.

#[path = "drchrono/auth.rs"]
mod auth;
#[path = "drchrono/common.rs"]
mod common;
#[path = "drchrono/control.rs"]
mod control;
#[path = "drchrono/filters.rs"]
mod filters;
#[path = "drchrono/limits.rs"]
mod limits;
#[path = "drchrono/pagination.rs"]
mod pagination;
#[path = "drchrono/router.rs"]
mod router;
