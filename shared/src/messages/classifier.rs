//! Classifier training and adoption: the api asks, the router trains and switches.
//!
//! Both live in the ticket stream (where classification events are): `ticket.classifier.train` is
//! consumed by one router replica (a shared durable consumer), `ticket.classifier.adopted` is heard by
//! every replica (each holds its own core subscription), so all of them switch without a restart.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Subject (after the prefix) of a training request.
pub const TRAIN_SUBJECT: &str = "ticket.classifier.train";
/// Subject (after the prefix) of an adoption.
pub const ADOPTED_SUBJECT: &str = "ticket.classifier.adopted";

/// Train a new category model; `version` is its row in `classifier_models`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TrainRequested {
    pub version: i64,
}

/// Model `version` is now the adopted category model.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ModelAdopted {
    pub version: i64,
}
