//! The SLA rules in force. A setup change (new targets, a new holiday, a department's calendar) swaps
//! them whole; each batch and each firing pass takes one snapshot, so no decision mixes two versions.

use crate::policy::SlaRules;

/// Shared by the consumers and the firing loop of a replica; cheap to clone.
pub type LiveRules = shared::live::Live<SlaRules>;
