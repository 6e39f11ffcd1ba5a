//! The demo feed: one example submission per channel (from `shared/examples/`), with fresh ids so every
//! run makes new tickets; the web form's example goes through `POST /v1/feedback` when a URL is given.

use std::path::Path;

use async_nats::jetstream;
use serde_json::Value;
use shared::messages::feedback::Channel;
use shared::subjects::Subjects;

use crate::OpsError;

/// Reads the example of each channel and gives it a unique external id and a current submit time.
pub fn examples(dir: &Path) -> Result<Vec<(Channel, Value)>, OpsError> {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let now = chrono::Utc::now().to_rfc3339();
    Channel::ALL
        .into_iter()
        .map(|channel| {
            let path = dir.join(format!("{}.json", channel.as_str()));
            let text = std::fs::read_to_string(&path)
                .map_err(|e| OpsError::Input(format!("{}: {e}", path.display())))?;
            let mut body: Value = serde_json::from_str(&text)
                .map_err(|e| OpsError::Input(format!("{}: {e}", path.display())))?;
            body["external_id"] = Value::String(format!("demo-{run}-{}", channel.as_str()));
            body["submitted_at"] = Value::String(now.clone());
            Ok((channel, body))
        })
        .collect()
}

/// Publishes every example to its channel's subject and waits until JetStream stored each.
pub async fn publish(
    js: &jetstream::Context,
    subjects: &Subjects,
    examples: &[(Channel, Value)],
) -> Result<(), OpsError> {
    for (channel, body) in examples {
        js.publish(subjects.feedback_in(*channel), body.to_string().into())
            .await
            .map_err(OpsError::nats)?
            .await
            .map_err(OpsError::nats)?;
    }
    Ok(())
}
