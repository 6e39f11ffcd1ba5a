//! Rebuilds this crate when a migration is added or changed. `sqlx::migrate!` embeds the files it
//! found at compile time, and Cargo does not notice a new file in `migrations/` by itself: without
//! this, a worker built before the new file refuses to start against a database that has it applied
//! ("previously applied but is missing").
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
