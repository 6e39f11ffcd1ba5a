//! Every message that crosses the bus. Each carries `schema_version` so a consumer can refuse a shape it
//! does not know with a clear reason instead of misreading it.
//!
//! One file per area; JSON Schemas for all of them are exported by `cargo run -p loopdesk-shared --bin
//! export-schemas` into `shared/schemas/` for channel adapters written in other languages.

pub mod classifier;
pub mod feedback;
pub mod lifecycle;
pub mod router;
pub mod sla;
pub mod survey;
pub mod ticket;

/// The schema version this build writes and accepts.
pub const SCHEMA_VERSION: u32 = 1;
