//! Black-box tests of the Cloud Storage simulator over real HTTP.

#[path = "gcs/auth.rs"]
mod auth;
#[path = "gcs/common.rs"]
mod common;
#[path = "gcs/faults.rs"]
mod faults;
#[path = "gcs/preconditions.rs"]
mod preconditions;
#[path = "gcs/reads.rs"]
mod reads;
#[path = "gcs/upload.rs"]
mod upload;
