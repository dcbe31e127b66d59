//! Rebuilds the runner when a migration is added to `schema/db/`, so `sqlx::migrate!` embeds it.

fn main() {
    println!("cargo:rerun-if-changed=../schema/db");
}
