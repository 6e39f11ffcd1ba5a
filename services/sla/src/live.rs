//! The SLA rules in force. A setup change (new targets, a new holiday, a department's calendar) swaps
//! them whole; each batch and each firing pass takes one snapshot, so no decision mixes two versions.

use std::sync::{Arc, RwLock};

use crate::policy::SlaRules;

/// Shared by the consumers and the firing loop of a replica; cheap to clone.
#[derive(Debug, Clone)]
pub struct LiveRules(Arc<RwLock<Arc<SlaRules>>>);

impl LiveRules {
    pub fn new(rules: Arc<SlaRules>) -> Self {
        Self(Arc::new(RwLock::new(rules)))
    }

    /// The rules in force now.
    pub fn current(&self) -> Arc<SlaRules> {
        match self.0.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Put new rules in force; work already under way finishes with the snapshot it took.
    pub fn set(&self, rules: Arc<SlaRules>) {
        match self.0.write() {
            Ok(mut g) => *g = rules,
            Err(poisoned) => *poisoned.into_inner() = rules,
        }
    }
}

impl From<Arc<SlaRules>> for LiveRules {
    fn from(rules: Arc<SlaRules>) -> Self {
        Self::new(rules)
    }
}
