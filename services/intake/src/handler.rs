//! The bus side of intake: a batch of `{prefix}.feedback.in.{channel}` messages becomes tickets and stored
//! rejections in one transaction. Every message, valid or not, ends as committed data, so every outcome is
//! an ack; only a failed transaction leaves messages to be redelivered.

use chrono::Utc;
use shared::consumer::{BatchError, BatchHandler, Delivery, Outcome};
use shared::subjects::Subjects;

use crate::settings::IntakeSettings;
use crate::store::{Received, TicketStore};
use crate::validate::{parse_submission, Origin};

pub struct IntakeHandler {
    pub store: TicketStore,
    pub subjects: Subjects,
    pub settings: IntakeSettings,
}

impl IntakeHandler {
    /// The channel named by a subject `{prefix}.feedback.in.{channel}` (or whatever stands there).
    fn subject_channel<'a>(&self, subject: &'a str) -> &'a str {
        let head = self.subjects.subject("feedback.in.");
        subject.strip_prefix(head.as_str()).unwrap_or(subject)
    }
}

impl BatchHandler for IntakeHandler {
    async fn handle(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        let now = Utc::now();
        let received: Vec<Received> = batch
            .iter()
            .map(|d| Received {
                raw: d.payload.to_vec(),
                source: format!("bus:{}", d.subject),
                received_at: now,
                parsed: parse_submission(
                    &d.payload,
                    self.subject_channel(&d.subject),
                    now,
                    &self.settings,
                    Origin::Adapter,
                ),
            })
            .collect();
        self.store.register(&received).await?;
        Ok(vec![Outcome::Done; batch.len()])
    }
}
