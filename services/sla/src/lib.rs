//! Loopdesk SLA-timer worker: business-hours deadlines per ticket, held as durable timers.
//!
//! The pure core (no I/O) is [`calendar`] (business time), [`policy`] (targets and calendars from
//! config), [`clock`] (one clock as a state machine) and [`ticket`] (how lifecycle events drive a
//! ticket's clocks). Around it: [`store`] persists clocks and timers, [`events`] consumes ticket
//! events in batches, [`firing`] fires due timers exactly once across replicas, [`view`] shows a
//! ticket's clocks.

pub mod clock;
pub mod events;
pub mod firing;
pub mod live;
pub mod startup;
pub mod store;
pub mod ticket;
pub mod view;

// The rules live in shared so the api validates a change with the code that applies it.
pub use shared::sla::{calendar, policy};

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::firing::FiringSettings;

/// The `[sla]` section of the service configuration (`LOOPDESK__SLA__*`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct SlaSettings {
    /// Policy, department calendars and holiday lists (`config/sla/sla.toml`).
    pub rules_file: PathBuf,
    /// Timers claimed per firing transaction.
    pub fire_batch: i64,
    /// Longest sleep of the firing loop without looking for due timers.
    pub poll_ms: u64,
    /// Shortest pause between firing passes, so a steady flow is committed in batches.
    pub coalesce_ms: u64,
    /// How long a new ticket's clocks may wait to start together with its next event, normally its
    /// classification a moment later, so both are written once (0: start at creation). Only the
    /// clocks' appearance waits; their deadlines count from the submission.
    pub start_within_ms: u64,
    /// Take the rules from the business's setup in Postgres (seeded from config/sla/sla.toml) and
    /// apply every change announced on `{prefix}.config.changed` without a restart (default). Off,
    /// the rules given at start (`rules_file`) stay for the life of the replica.
    pub from_setup: bool,
}

impl Default for SlaSettings {
    fn default() -> Self {
        SlaSettings {
            rules_file: PathBuf::from("config/sla/sla.toml"),
            fire_batch: 500,
            poll_ms: 1000,
            coalesce_ms: 20,
            start_within_ms: 30_000,
            from_setup: true,
        }
    }
}

impl SlaSettings {
    pub fn start_within(&self) -> Duration {
        Duration::from_millis(self.start_within_ms)
    }

    pub fn firing(&self) -> FiringSettings {
        FiringSettings {
            batch: self.fire_batch.max(1),
            poll: Duration::from_millis(self.poll_ms.max(1)),
            coalesce: Duration::from_millis(self.coalesce_ms),
        }
    }
}
