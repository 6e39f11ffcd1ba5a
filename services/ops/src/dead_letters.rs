//! Dead letters: messages a consumer gave up on, kept with their error in `{prefix}.dlq.{consumer}`.
//! Listing shows why each failed; replay (after the fix is deployed) republishes each to the subject it
//! came from and removes it from the dead-letter stream once the republish is stored.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use serde::Serialize;
use shared::consumer::dlq_headers;
use shared::subjects::{Stream, Subjects};

use crate::OpsError;

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    /// Sequence in the dead-letter stream.
    pub sequence: u64,
    pub consumer: String,
    pub original_subject: String,
    pub error: String,
    pub deliveries: String,
    pub payload: String,
}

fn header(m: &async_nats::Message, name: &str) -> String {
    m.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// Every dead letter now in the stream, oldest first (optionally of one consumer).
pub async fn list(
    js: &jetstream::Context,
    subjects: &Subjects,
    consumer_name: Option<&str>,
) -> Result<Vec<DeadLetter>, OpsError> {
    let stream = js
        .get_stream(subjects.stream_name(Stream::DeadLetter))
        .await
        .map_err(OpsError::nats)?;
    let filter = match consumer_name {
        Some(c) => subjects.dead_letter(c),
        None => subjects.dead_letters_all(),
    };
    let reader = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: filter,
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(OpsError::nats)?;
    let pending = reader.cached_info().num_pending;
    let mut messages = reader.messages().await.map_err(OpsError::nats)?;
    let mut out = Vec::new();
    while (out.len() as u64) < pending {
        match tokio::time::timeout(Duration::from_secs(5), messages.next()).await {
            Ok(Some(Ok(m))) => {
                let sequence = m.info().map(|i| i.stream_sequence).unwrap_or(0);
                out.push(DeadLetter {
                    sequence,
                    consumer: header(&m.message, dlq_headers::CONSUMER),
                    original_subject: header(&m.message, dlq_headers::ORIGINAL_SUBJECT),
                    error: header(&m.message, dlq_headers::ERROR),
                    deliveries: header(&m.message, dlq_headers::DELIVERIES),
                    payload: String::from_utf8_lossy(&m.payload).into_owned(),
                });
            }
            Ok(Some(Err(e))) => return Err(OpsError::nats(e)),
            Ok(None) | Err(_) => break,
        }
    }
    Ok(out)
}

/// Republishes dead letters to their original subjects and deletes each once its republish is stored.
/// Returns how many were replayed.
pub async fn replay(
    js: &jetstream::Context,
    subjects: &Subjects,
    consumer_name: Option<&str>,
) -> Result<usize, OpsError> {
    let letters = list(js, subjects, consumer_name).await?;
    let stream = js
        .get_stream(subjects.stream_name(Stream::DeadLetter))
        .await
        .map_err(OpsError::nats)?;
    let mut replayed = 0;
    for letter in letters {
        if letter.original_subject.is_empty() {
            return Err(OpsError::Input(format!(
                "dead letter {} has no original subject",
                letter.sequence
            )));
        }
        let raw = stream
            .get_raw_message(letter.sequence)
            .await
            .map_err(OpsError::nats)?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(
            async_nats::header::NATS_MESSAGE_ID,
            format!("replay:{}:{}", subjects.prefix(), letter.sequence).as_str(),
        );
        js.publish_with_headers(letter.original_subject.clone(), headers, raw.payload)
            .await
            .map_err(OpsError::nats)?
            .await
            .map_err(OpsError::nats)?;
        stream
            .delete_message(letter.sequence)
            .await
            .map_err(OpsError::nats)?;
        replayed += 1;
    }
    Ok(replayed)
}

/// Which dead letters [`delete`] removes: never "everything" by accident.
#[derive(Debug, Clone)]
pub enum Deletion<'a> {
    /// The one letter at this dead-letter stream sequence (as `dead-letters` lists it).
    Sequence(u64),
    /// Every letter of this consumer.
    Consumer(&'a str),
    /// Every letter of every consumer.
    All,
}

/// Deletes dead letters a person has decided are not worth replaying (the dead-letter stream keeps
/// them otherwise: it has no age limit). Returns how many were deleted; a sequence that holds no dead
/// letter is an input error.
pub async fn delete(
    js: &jetstream::Context,
    subjects: &Subjects,
    which: Deletion<'_>,
) -> Result<usize, OpsError> {
    let stream = js
        .get_stream(subjects.stream_name(Stream::DeadLetter))
        .await
        .map_err(OpsError::nats)?;
    let sequences: Vec<u64> = match which {
        Deletion::Sequence(sequence) => {
            stream.get_raw_message(sequence).await.map_err(|e| {
                OpsError::Input(format!("no dead letter at sequence {sequence}: {e}"))
            })?;
            vec![sequence]
        }
        Deletion::Consumer(c) => list(js, subjects, Some(c))
            .await?
            .iter()
            .map(|l| l.sequence)
            .collect(),
        Deletion::All => list(js, subjects, None)
            .await?
            .iter()
            .map(|l| l.sequence)
            .collect(),
    };
    for sequence in &sequences {
        stream
            .delete_message(*sequence)
            .await
            .map_err(OpsError::nats)?;
    }
    Ok(sequences.len())
}
