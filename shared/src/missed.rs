//! Messages JetStream gave up on without an outcome, dead-lettered so none is lost silently.
//!
//! The consumer loop dead-letters a message itself when its last allowed delivery fails. But when the
//! replica holding that last delivery dies (or the batch outlives the ack wait), nobody is left to do
//! it: JetStream stops redelivering and only publishes a max-deliveries advisory, a core NATS message
//! that is gone if nobody listens at that instant. The [`Stream::MissedDeliveries`] stream captures
//! those advisories durably, and every worker runs one shared durable consumer on it
//! ([`crate::runtime::Runtime::start`]) whose handler fetches the message the advisory names and
//! stores it in `{prefix}.dlq.{consumer}` with its error, like any dead letter, for ops to replay.
//! The letter's message id is the one the loop would give it, so a message dead-lettered by both is
//! kept once.

use async_nats::jetstream::{self, stream::RawMessageErrorKind};
use serde::Deserialize;

use crate::consumer::{self, BatchError, BatchHandler, Delivery, Outcome};
use crate::subjects::{Stream, Subjects};

/// The durable consumer every worker binds on [`Stream::MissedDeliveries`].
pub const WORKER: &str = "missed_deliveries";

/// The error a missed message is dead-lettered with.
pub const ERROR: &str = "max_deliveries_without_outcome: the last allowed delivery ended with no \
    ack and no error (its replica stopped, or it outlived the ack wait); it may or may not have been \
    applied, and replaying it is safe because every consumer is idempotent";

/// The fields of `io.nats.jetstream.advisory.v1.max_deliver` this handler needs.
#[derive(Debug, Deserialize)]
struct MaxDeliveries {
    stream: String,
    consumer: String,
    stream_seq: u64,
    deliveries: i64,
}

/// Dead-letters the message each advisory names.
pub struct MissedDeliveryHandler {
    pub js: jetstream::Context,
    pub subjects: Subjects,
}

impl MissedDeliveryHandler {
    async fn dead_letter(&self, d: &Delivery) -> Outcome {
        let advisory: MaxDeliveries = match serde_json::from_slice(&d.payload) {
            Ok(a) => a,
            Err(e) => return Outcome::Poison(format!("bad_advisory: {e}")),
        };
        // Only the streams of this deployment's prefix are captured, but say so if one is not.
        if !Stream::CONSUMED
            .iter()
            .any(|s| self.subjects.stream_name(*s) == advisory.stream)
        {
            return Outcome::Poison(format!("foreign_stream: {}", advisory.stream));
        }
        let stream = match self.js.get_stream(&advisory.stream).await {
            Ok(s) => s,
            Err(e) => return Outcome::Retry(format!("stream {}: {e}", advisory.stream)),
        };
        let original = match stream.get_raw_message(advisory.stream_seq).await {
            Ok(m) => m,
            Err(e) => {
                let gone = match e.kind() {
                    RawMessageErrorKind::NoMessageFound => true,
                    RawMessageErrorKind::JetStream(j) => {
                        j.error_code() == jetstream::ErrorCode::NO_MESSAGE_FOUND
                    }
                    _ => false,
                };
                return if gone {
                    // Aged out of the stream (retention) before this ran: the advisory is kept as
                    // the record of what was lost.
                    Outcome::Poison(format!(
                        "message_gone: {} sequence {} is no longer in the stream",
                        advisory.stream, advisory.stream_seq
                    ))
                } else {
                    Outcome::Retry(format!("fetch {}: {e}", advisory.stream_seq))
                };
            }
        };
        let letter = consumer::GivenUp {
            consumer: &advisory.consumer,
            original_subject: original.subject.as_str(),
            stream_sequence: advisory.stream_seq,
            deliveries: advisory.deliveries,
            error: ERROR,
            payload: original.payload,
        };
        match consumer::store_dead_letter(&self.js, &self.subjects, letter).await {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Retry(format!("dead-letter publish: {e}")),
        }
    }
}

impl BatchHandler for MissedDeliveryHandler {
    async fn handle(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for d in batch {
            outcomes.push(self.dead_letter(d).await);
        }
        Ok(outcomes)
    }
}
