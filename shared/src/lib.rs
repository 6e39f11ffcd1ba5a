//! The pieces every Loopdesk worker shares.
//!
//! Message schemas live here so that every producer and consumer agrees on one definition, and so that
//! channel adapters written in other languages can use the exported JSON Schemas (`shared/schemas/`).
//! The machinery — configuration, telemetry, the JetStream consumer loop, the transactional outbox relay,
//! the start-up and shutdown runtime, the idempotency record and the ticket timeline — exists exactly once, here, so every worker keeps the
//! same delivery guarantees (docs/domain.md, invariants 1–3, 6, 9).

pub mod bus;
pub mod bus_access;
pub mod config;
pub mod consumer;
pub mod db;
pub mod http;
pub mod idempotency;
pub mod lifecycle;
pub mod live;
pub mod messages;
pub mod missed;
pub mod ops_http;
pub mod outbox;
pub mod pii;
pub mod readiness;
pub mod retention;
pub mod runtime;
pub mod schema_export;
pub mod serials;
pub mod setup;
pub mod shutdown;
pub mod sla;
pub mod subjects;
pub mod telemetry;
pub mod timeline;
pub mod upkeep;

#[cfg(feature = "testkit")]
pub mod testkit;
