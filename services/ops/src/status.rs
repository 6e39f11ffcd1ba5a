//! Streams, their consumers and what is pending: where a backlog or a stuck worker shows first.

use async_nats::jetstream;
use futures::TryStreamExt;
use serde::Serialize;
use shared::subjects::{Stream, Subjects};

use crate::OpsError;

#[derive(Debug, Serialize)]
pub struct StreamStatus {
    pub stream: String,
    pub messages: u64,
    pub consumers: Vec<ConsumerStatus>,
}

#[derive(Debug, Serialize)]
pub struct ConsumerStatus {
    pub name: String,
    pub filter: String,
    /// Not yet delivered to any replica.
    pub pending: u64,
    /// Delivered, not yet acked (in flight or waiting for redelivery).
    pub ack_pending: usize,
    pub redelivered: usize,
}

pub async fn streams(
    js: &jetstream::Context,
    subjects: &Subjects,
) -> Result<Vec<StreamStatus>, OpsError> {
    let mut out = Vec::new();
    for stream in Stream::ALL {
        let name = subjects.stream_name(stream);
        let mut handle = match js.get_stream(&name).await {
            Ok(s) => s,
            Err(_) => continue,
        };
        let info = handle.info().await.map_err(OpsError::nats)?;
        let messages = info.state.messages;
        let mut consumers = Vec::new();
        let mut list = handle.consumers();
        while let Some(c) = list.try_next().await.map_err(OpsError::nats)? {
            consumers.push(ConsumerStatus {
                name: c.name.clone(),
                filter: c.config.filter_subject.clone(),
                pending: c.num_pending,
                ack_pending: c.num_ack_pending,
                redelivered: c.num_redelivered,
            });
        }
        consumers.sort_by(|a, b| a.name.cmp(&b.name));
        out.push(StreamStatus {
            stream: name,
            messages,
            consumers,
        });
    }
    Ok(out)
}
