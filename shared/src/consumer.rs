//! The durable pull-consumer loop every worker runs (docs/domain.md, invariants 2, 3, 6, 9).
//!
//! All replicas of a worker bind the same durable consumer, so JetStream spreads messages among them and
//! redelivers what a dead replica never acked. The loop takes what is ready (up to a batch), hands the whole
//! batch to the worker's [`BatchHandler`], which applies it in one transaction and commits, and only then
//! acks. A transient failure naks with growing delay; after the last allowed delivery, or when the handler
//! calls a message poison, the message is published to `{prefix}.dlq.{consumer}` with its error and
//! terminated, so it is kept, never dropped silently.

use std::future::Future;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, AckKind};
use async_nats::HeaderMap;
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::config::NatsSettings;
use crate::readiness::DatabaseWatch;
use crate::subjects::{Stream, Subjects};

/// Headers a dead-lettered message carries, so ops can see why and replay it where it came from.
pub mod dlq_headers {
    pub const ERROR: &str = "Loopdesk-Error";
    pub const ORIGINAL_SUBJECT: &str = "Loopdesk-Original-Subject";
    pub const STREAM_SEQUENCE: &str = "Loopdesk-Stream-Sequence";
    pub const DELIVERIES: &str = "Loopdesk-Deliveries";
    pub const CONSUMER: &str = "Loopdesk-Consumer";
}

/// A message given up on, as it goes to the dead-letter stream.
pub struct GivenUp<'a> {
    /// The durable consumer that gave up; the letter goes to `{prefix}.dlq.{consumer}`.
    pub consumer: &'a str,
    pub original_subject: &'a str,
    pub stream_sequence: u64,
    pub deliveries: i64,
    pub error: &'a str,
    pub payload: Bytes,
}

/// Stores a dead letter and waits until the stream has it. Its headers say why, where it came from and
/// how often it was tried; its message id (`{consumer}:{stream sequence}`) makes the same message
/// dead-lettered twice (by its consumer's loop and by [`crate::missed`]) stored once.
pub async fn store_dead_letter(
    js: &jetstream::Context,
    subjects: &Subjects,
    letter: GivenUp<'_>,
) -> Result<(), async_nats::Error> {
    let mut headers = HeaderMap::new();
    let error_line: String = letter
        .error
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .take(1000)
        .collect();
    headers.insert(dlq_headers::ERROR, error_line.as_str());
    headers.insert(dlq_headers::ORIGINAL_SUBJECT, letter.original_subject);
    headers.insert(
        dlq_headers::STREAM_SEQUENCE,
        letter.stream_sequence.to_string().as_str(),
    );
    headers.insert(
        dlq_headers::DELIVERIES,
        letter.deliveries.to_string().as_str(),
    );
    headers.insert(dlq_headers::CONSUMER, letter.consumer);
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        format!("{}:{}", letter.consumer, letter.stream_sequence).as_str(),
    );
    js.publish_with_headers(
        subjects.dead_letter(letter.consumer),
        headers,
        letter.payload,
    )
    .await?
    .await?;
    tracing::warn!(
        consumer = letter.consumer,
        seq = letter.stream_sequence,
        error = letter.error,
        "dead-lettered"
    );
    metrics::counter!("loopdesk_dead_letters_total", "consumer" => letter.consumer.to_owned())
        .increment(1);
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error("stream {stream} is not available: {message}")]
    Stream { stream: String, message: String },
    #[error("consumer {durable} could not be created: {message}")]
    Create { durable: String, message: String },
    #[error("a lane of consumer {durable} ended: {reason}")]
    LaneEnded { durable: String, reason: String },
}

/// Which messages a worker consumes and how patiently.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub stream: Stream,
    /// Durable name shared by every replica of the worker.
    pub durable: String,
    pub filter_subject: String,
    pub max_deliver: i64,
    pub ack_wait: Duration,
    pub max_batch: usize,
    /// Bound on unacked messages across all replicas, so a slow worker is not flooded.
    pub max_ack_pending: i64,
    /// Concurrent batches inside one replica (each its own transaction).
    pub concurrency: usize,
    /// First nak delay; doubles per delivery up to [`MAX_NAK_DELAY`].
    pub nak_delay: Duration,
    /// How long a lane may wait for more messages after the first of a batch, so a worker whose work
    /// is not urgent applies fewer, larger batches (each costs a transaction and its fixed
    /// statements). The deployment's `nats.linger_ms` unless the worker sets its own; zero takes
    /// whatever is ready at once.
    pub linger: Duration,
}

const MAX_NAK_DELAY: Duration = Duration::from_secs(60);

impl ConsumerSpec {
    /// A spec for `worker` reading `filter_subject` from `stream`, with the deployment's delivery settings.
    pub fn new(
        subjects: &Subjects,
        settings: &NatsSettings,
        stream: Stream,
        worker: &str,
        filter_subject: String,
    ) -> Self {
        Self {
            stream,
            durable: subjects.durable(worker),
            filter_subject,
            max_deliver: settings.max_deliver,
            ack_wait: settings.ack_wait(),
            max_batch: settings.batch_size.max(1),
            max_ack_pending: (settings.batch_size as i64 * 20).max(1000),
            concurrency: 2,
            nak_delay: Duration::from_millis(500),
            linger: settings.linger(),
        }
    }
}

/// One message as the handler sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub subject: String,
    pub payload: Bytes,
    pub headers: Option<HeaderMap>,
    /// 1 on first delivery.
    pub delivered: i64,
    pub stream_sequence: u64,
}

impl Delivery {
    /// A key unique to this message in its stream, for consumers without a better domain key.
    pub fn sequence_key(&self) -> String {
        format!("seq:{}", self.stream_sequence)
    }

    /// The `Nats-Msg-Id` the publisher set (outbox rows set their id), if any.
    pub fn message_id(&self) -> Option<String> {
        self.headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|v| v.to_string())
    }
}

/// What became of one message of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Its effect is committed (or it was already applied before): ack.
    Done,
    /// A transient fault: try again later (nak with backoff), dead-letter after the last delivery.
    Retry(String),
    /// It can never succeed: dead-letter it now with this error.
    Poison(String),
}

/// A failure of the whole batch. When the fault may lie in one message's data (the database refused a
/// value), `isolate` asks the loop to retry the messages one by one, so one poison message cannot drag its
/// batch-mates to the dead-letter subject; otherwise (the database is down) every message is retried later.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BatchError {
    pub message: String,
    pub isolate: bool,
}

impl BatchError {
    /// A fault of the surroundings: retry everything later.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            isolate: false,
        }
    }
}

impl From<sqlx::Error> for BatchError {
    fn from(e: sqlx::Error) -> Self {
        BatchError {
            isolate: matches!(e, sqlx::Error::Database(_)),
            message: format!("database: {e}"),
        }
    }
}

impl From<crate::outbox::OutboxError> for BatchError {
    fn from(e: crate::outbox::OutboxError) -> Self {
        match e {
            crate::outbox::OutboxError::Db(e) => e.into(),
            other => BatchError::transient(other.to_string()),
        }
    }
}

/// A worker's logic: apply a batch in one transaction, commit, and say what became of each message.
pub trait BatchHandler: Send + Sync + 'static {
    /// Returns exactly one outcome per delivery, in the same order.
    fn handle(
        &self,
        batch: &[Delivery],
    ) -> impl Future<Output = Result<Vec<Outcome>, BatchError>> + Send;
}

/// A handler that wakes the worker's outbox relay after a committed batch that enqueued events (they
/// are waiting to be published). An in-process wake costs nothing, where a Postgres NOTIFY in the
/// batch's transaction would take the server's one notification-queue lock through the commit and so
/// serialise every committing batch of every worker. Batches that enqueued nothing (most of the SLA worker's) do not wake it: a relay
/// woken for nothing runs an empty claim transaction.
pub struct Waking<H> {
    pub inner: std::sync::Arc<H>,
    pub wake: std::sync::Arc<tokio::sync::Notify>,
}

impl<H: BatchHandler> BatchHandler for Waking<H> {
    async fn handle(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        let enqueued_before = crate::outbox::enqueued_so_far();
        let outcomes = self.inner.handle(batch).await?;
        // Another batch's events may move the counter too: that wakes the relay once more, which that
        // batch would do anyway. A batch that enqueued always moves it, so none is missed.
        if crate::outbox::enqueued_so_far() != enqueued_before {
            self.wake.notify_one();
        }
        Ok(outcomes)
    }
}

/// Binds the durable consumer (creating it if needed) and runs the loop until `shutdown`.
/// On shutdown the batch in hand is finished and acked; nothing new is pulled.
///
/// Binding is retried (with a delay growing to 5 s) until it succeeds or `shutdown`: a JetStream
/// cluster that is electing a leader, or is too busy to answer in time, refuses it for a while, and a
/// replica that gave up then would stay up doing nothing.
///
/// While `database` is unreachable the lanes stop pulling and hold the messages they have (see
/// [`Lane::hold`]): an outage delays work, it never uses up deliveries or dead-letters anything.
///
/// A lane that ends before shutdown (its pull subscription closed, say because the consumer was
/// deleted) or panics would leave the replica up and consuming nothing. Instead the whole replica is
/// told to stop (`shutdown` is cancelled, so the other tasks finish and ack what they hold), and the
/// error is returned so the process exits non-zero and its orchestrator starts a fresh one, which
/// binds the consumer again.
pub async fn run<H: BatchHandler>(
    js: jetstream::Context,
    subjects: Subjects,
    spec: ConsumerSpec,
    handler: std::sync::Arc<H>,
    database: DatabaseWatch,
    shutdown: CancellationToken,
) -> Result<(), ConsumerError> {
    let mut delay = Duration::from_millis(200);
    let consumer = loop {
        match bind(&js, &subjects, &spec).await {
            Ok(bound) => break bound,
            Err(e) => {
                tracing::warn!(consumer = %spec.durable, error = %e, "consumer not bound yet; retrying");
                tokio::select! {
                    _ = shutdown.cancelled() => return Err(e),
                    _ = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    };

    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(report_pending(
        consumer.clone(),
        spec.durable.clone(),
        shutdown.clone(),
    ));
    for _ in 0..spec.concurrency.max(1) {
        let lane = Lane {
            js: js.clone(),
            subjects: subjects.clone(),
            spec: spec.clone(),
            handler: handler.clone(),
            database: database.clone(),
        };
        tasks.spawn(lane.run(consumer.clone(), shutdown.clone()));
    }
    let mut failure = None;
    while let Some(ended) = tasks.join_next().await {
        let reason = match ended {
            Ok(Ok(())) if shutdown.is_cancelled() => continue,
            Ok(Ok(())) => "it returned before shutdown".to_string(),
            Ok(Err(reason)) => reason,
            Err(e) if e.is_panic() => {
                format!(
                    "it panicked: {}",
                    crate::runtime::panic_message(&*e.into_panic())
                )
            }
            Err(e) => format!("it was cancelled: {e}"),
        };
        if failure.is_none() {
            tracing::error!(consumer = %spec.durable, %reason, "a consumer lane ended; stopping this replica");
            shutdown.cancel();
            failure = Some(reason);
        }
    }
    match failure {
        Some(reason) => Err(ConsumerError::LaneEnded {
            durable: spec.durable,
            reason,
        }),
        None => Ok(()),
    }
}

/// Gets or creates the durable consumer.
async fn bind(
    js: &jetstream::Context,
    subjects: &Subjects,
    spec: &ConsumerSpec,
) -> Result<jetstream::consumer::Consumer<pull::Config>, ConsumerError> {
    let stream_name = subjects.stream_name(spec.stream);
    let stream = js
        .get_stream(&stream_name)
        .await
        .map_err(|e| ConsumerError::Stream {
            stream: stream_name.clone(),
            message: e.to_string(),
        })?;
    let config = pull::Config {
        durable_name: Some(spec.durable.clone()),
        filter_subject: spec.filter_subject.clone(),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: spec.ack_wait,
        max_deliver: spec.max_deliver,
        max_ack_pending: spec.max_ack_pending,
        ..Default::default()
    };
    let mut consumer: jetstream::consumer::Consumer<pull::Config> = stream
        .get_or_create_consumer(&spec.durable, config.clone())
        .await
        .map_err(|e| ConsumerError::Create {
            durable: spec.durable.clone(),
            message: e.to_string(),
        })?;
    // A consumer made by an older release may filter more widely than this one needs. Narrowing it in
    // place keeps its position; where the server cannot (NATS before 2.10 refuses filter changes), the
    // wider filter still works, since handlers ignore subjects they do not use.
    let bound_filter = consumer.cached_info().config.filter_subject.clone();
    if bound_filter != spec.filter_subject {
        match stream.create_consumer(config).await {
            Ok(updated) => {
                tracing::info!(consumer = %spec.durable, from = %bound_filter, to = %spec.filter_subject,
                    "consumer filter updated");
                consumer = updated;
            }
            Err(e) => tracing::warn!(consumer = %spec.durable, filter = %bound_filter,
                wanted = %spec.filter_subject, error = %e,
                "consumer keeps its older, wider filter; it works, at the cost of messages it ignores"),
        }
    }
    Ok(consumer)
}

/// Publishes the consumer's backlog (not yet delivered, and delivered but unacked) as gauges every few
/// seconds, so ops see a worker falling behind before anyone waits.
async fn report_pending(
    mut consumer: jetstream::consumer::Consumer<pull::Config>,
    durable: String,
    shutdown: CancellationToken,
) -> Result<(), String> {
    loop {
        if let Ok(info) = consumer.info().await {
            metrics::gauge!("loopdesk_consumer_pending", "consumer" => durable.clone())
                .set(info.num_pending as f64);
            metrics::gauge!("loopdesk_consumer_ack_pending", "consumer" => durable.clone())
                .set(info.num_ack_pending as f64);
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Why a lane stopped pulling.
enum Stopped {
    Shutdown,
    /// The database became unreachable: the subscription is dropped until it answers again (and
    /// after a batch was held through an outage, its buffer is stale).
    Outage,
    /// The subscription ended by itself (the consumer was deleted, the server refused the pull, or
    /// the client dropped it).
    Ended,
}

/// One pull subscription processing one batch at a time.
struct Lane<H> {
    js: jetstream::Context,
    subjects: Subjects,
    spec: ConsumerSpec,
    handler: std::sync::Arc<H>,
    database: DatabaseWatch,
}

impl<H: BatchHandler> Lane<H> {
    /// Pulls and applies batches until shutdown; an `Err` says why the lane ended before it.
    async fn run(
        self,
        consumer: jetstream::consumer::Consumer<pull::Config>,
        shutdown: CancellationToken,
    ) -> Result<(), String> {
        loop {
            // Not a message is pulled while the database is unreachable: it could not be applied, and
            // every delivery it got would bring it nearer the dead-letter subject.
            if !self.database.until_up(&shutdown).await {
                return Ok(());
            }
            let Some(messages) = self.subscribe(&consumer, &shutdown).await else {
                return Ok(());
            };
            match self.pull(messages, &shutdown).await {
                Stopped::Shutdown => return Ok(()),
                // The subscription is dropped here: messages the server sent it meanwhile come back
                // after the ack wait, once the lane pulls again.
                Stopped::Outage => continue,
                // A subscription can end while its consumer lives on (the client dropped it, the
                // server refused one pull): pull again. Only a consumer that is gone ends the lane.
                Stopped::Ended => match consumer.get_info().await {
                    Ok(_) => {
                        tracing::warn!(consumer = %self.spec.durable,
                            "pull subscription ended with the consumer still there; pulling again");
                        tokio::select! {
                            _ = shutdown.cancelled() => return Ok(()),
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                    Err(e) => {
                        return Err(format!(
                            "its pull subscription ended and the consumer is gone: {e}"
                        ))
                    }
                },
            }
        }
    }

    /// Opens a pull subscription, retrying (a server restarting refuses it for a while); `None` on
    /// shutdown.
    async fn subscribe(
        &self,
        consumer: &jetstream::consumer::Consumer<pull::Config>,
        shutdown: &CancellationToken,
    ) -> Option<pull::Stream> {
        let mut delay = Duration::from_millis(200);
        loop {
            let opened = consumer
                .stream()
                .max_messages_per_batch(self.spec.max_batch)
                .heartbeat(Duration::from_secs(5))
                .expires(Duration::from_secs(30))
                .messages()
                .await;
            match opened {
                Ok(messages) => return Some(messages),
                Err(e) => {
                    tracing::warn!(consumer = %self.spec.durable, error = %e, "cannot pull yet; retrying")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// Takes batches from one subscription and applies them, until shutdown, an outage, or the end of
    /// the subscription.
    async fn pull(&self, messages: pull::Stream, shutdown: &CancellationToken) -> Stopped {
        let mut chunks = messages.ready_chunks(self.spec.max_batch);
        loop {
            let chunk = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return Stopped::Shutdown,
                _ = self.database.until_down() => return Stopped::Outage,
                chunk = chunks.next() => chunk,
            };
            let Some(chunk) = chunk else {
                return Stopped::Ended;
            };
            let mut batch = Vec::with_capacity(chunk.len());
            self.take(chunk, &mut batch);
            if !batch.is_empty() && !self.spec.linger.is_zero() {
                let until = tokio::time::Instant::now() + self.spec.linger;
                while batch.len() < self.spec.max_batch {
                    // A shutdown during the wait applies what was taken: it is in hand, unacked.
                    let more = tokio::select! {
                        biased;
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep_until(until) => break,
                        more = chunks.next() => more,
                    };
                    let Some(more) = more else { break };
                    let room = self.spec.max_batch - batch.len();
                    if more.len() > room {
                        // A batch never exceeds max_batch: what does not fit is applied next.
                        let mut more = more;
                        let rest = more.split_off(room);
                        self.take(more, &mut batch);
                        if self.process(std::mem::take(&mut batch), shutdown).await {
                            // The rest was delivered before the outage: JetStream sends it again.
                            return Stopped::Outage;
                        }
                        self.take(rest, &mut batch);
                        break;
                    }
                    self.take(more, &mut batch);
                }
            }
            if !batch.is_empty() && self.process(batch, shutdown).await {
                return Stopped::Outage;
            }
        }
    }

    /// Moves a pulled chunk's messages into `batch`; pull errors are logged and skipped.
    fn take(
        &self,
        chunk: Vec<Result<jetstream::Message, pull::MessagesError>>,
        batch: &mut Vec<jetstream::Message>,
    ) {
        for item in chunk {
            match item {
                Ok(message) => batch.push(message),
                Err(e) => tracing::warn!(consumer = %self.spec.durable, error = %e, "pull error"),
            }
        }
    }

    /// Applies a batch and settles every message. Messages that failed because the database is
    /// unreachable are held and applied again once it answers, as often as outages come. Returns
    /// whether it held any: the subscription's buffer is then stale (JetStream has redelivered what
    /// sat in it past its ack wait), so the lane subscribes afresh.
    async fn process(&self, batch: Vec<jetstream::Message>, shutdown: &CancellationToken) -> bool {
        let mut messages = batch;
        let mut deliveries: Vec<Delivery> = messages.iter().map(delivery).collect();
        let mut held_any = false;
        loop {
            let (outcomes, database_down) = self.outcomes(&deliveries).await;
            let held = self
                .settle(&messages, &deliveries, outcomes, database_down)
                .await;
            if held.is_empty() {
                return held_any;
            }
            held_any = true;
            let keep = |i: usize| held.contains(&i);
            messages = messages
                .into_iter()
                .enumerate()
                .filter_map(|(i, m)| keep(i).then_some(m))
                .collect();
            deliveries = deliveries
                .into_iter()
                .enumerate()
                .filter_map(|(i, d)| keep(i).then_some(d))
                .collect();
            if !self.hold(&messages, shutdown).await {
                // Stopping during the outage: hand them back for whichever replica runs next.
                for (message, delivery) in messages.iter().zip(&deliveries) {
                    let delay = self.nak_delay(delivery.delivered);
                    if let Err(e) = message.ack_with(AckKind::Nak(Some(delay))).await {
                        tracing::warn!(consumer = %self.spec.durable, error = %e, "nak failed");
                    }
                }
                return true;
            }
        }
    }

    /// Runs the handler on a batch: one outcome per message, and whether the database was found
    /// unreachable (known only when something failed and it was asked).
    async fn outcomes(&self, deliveries: &[Delivery]) -> (Vec<Outcome>, bool) {
        let started = Instant::now();
        let (outcomes, database_down) = match self.apply(deliveries).await {
            Ok(outcomes) => {
                let failed = outcomes.iter().any(|o| matches!(o, Outcome::Retry(_)));
                let down = failed && !self.database.probe().await;
                (outcomes, down)
            }
            Err(e) if !self.database.probe().await => {
                tracing::warn!(consumer = %self.spec.durable, error = %e, size = deliveries.len(),
                    "batch failed with the database unreachable; holding it");
                (vec![Outcome::Retry(e.message); deliveries.len()], true)
            }
            Err(e) if e.isolate && deliveries.len() > 1 => {
                tracing::warn!(consumer = %self.spec.durable, error = %e, size = deliveries.len(),
                    "batch refused by the database; applying its messages one by one");
                self.one_by_one(deliveries).await
            }
            Err(e) => {
                tracing::warn!(consumer = %self.spec.durable, error = %e, size = deliveries.len(), "batch failed");
                (vec![Outcome::Retry(e.message); deliveries.len()], false)
            }
        };
        metrics::histogram!("loopdesk_batch_seconds", "consumer" => self.spec.durable.clone())
            .record(started.elapsed().as_secs_f64());
        (outcomes, database_down)
    }

    /// Applies each message on its own, so one the database refuses cannot drag its batch-mates
    /// down. If the database stops answering meanwhile, the rest are not tried.
    async fn one_by_one(&self, deliveries: &[Delivery]) -> (Vec<Outcome>, bool) {
        let mut outcomes = Vec::with_capacity(deliveries.len());
        for one in deliveries.chunks(1) {
            match self.apply(one).await {
                Ok(outcome) => outcomes.extend(outcome),
                Err(e) if !self.database.probe().await => {
                    outcomes.resize(deliveries.len(), Outcome::Retry(e.message));
                    return (outcomes, true);
                }
                Err(e) => outcomes.push(Outcome::Retry(e.message)),
            }
        }
        (outcomes, false)
    }

    /// Acks, naks or dead-letters each message by its outcome; returns the indices of the messages to
    /// hold, those that failed while the database was unreachable.
    async fn settle(
        &self,
        messages: &[jetstream::Message],
        deliveries: &[Delivery],
        outcomes: Vec<Outcome>,
        database_down: bool,
    ) -> Vec<usize> {
        let consumer = &self.spec.durable;
        let mut held = Vec::new();
        for (i, ((message, delivery), outcome)) in
            messages.iter().zip(deliveries).zip(outcomes).enumerate()
        {
            let label = match &outcome {
                Outcome::Done => "done",
                Outcome::Retry(_) if database_down => "held",
                Outcome::Retry(_) => "retry",
                Outcome::Poison(_) => "poison",
            };
            metrics::counter!("loopdesk_messages_total", "consumer" => consumer.clone(), "outcome" => label)
                .increment(1);
            let result = match outcome {
                Outcome::Done => message.ack().await,
                // The outage's fault, not the message's: kept in hand, no delivery used up.
                Outcome::Retry(_) if database_down => {
                    held.push(i);
                    Ok(())
                }
                Outcome::Retry(error) if delivery.delivered >= self.spec.max_deliver => {
                    self.dead_letter(message, delivery, &error).await
                }
                Outcome::Retry(_) => {
                    let delay = self.nak_delay(delivery.delivered);
                    message.ack_with(AckKind::Nak(Some(delay))).await
                }
                Outcome::Poison(error) => self.dead_letter(message, delivery, &error).await,
            };
            if let Err(e) = result {
                // The message stays unacked and comes back after ack_wait: nothing is lost.
                tracing::warn!(consumer = %consumer, error = %e, "ack failed");
            }
        }
        held
    }

    /// Keeps `messages` in hand until the database answers again (true) or shutdown (false). An
    /// in-progress ack, sent well within every ack wait, stops JetStream from redelivering them, and
    /// unlike a nak or a redelivery it does not count as a delivery.
    async fn hold(&self, messages: &[jetstream::Message], shutdown: &CancellationToken) -> bool {
        let every =
            (self.spec.ack_wait / 3).clamp(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            for message in messages {
                if let Err(e) = message.ack_with(AckKind::Progress).await {
                    tracing::warn!(consumer = %self.spec.durable, error = %e, "in-progress ack failed");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = self.database.until_up(shutdown) => {}
                _ = tokio::time::sleep(every) => {}
            }
            if self.database.is_up() || self.database.probe().await {
                return true;
            }
        }
    }

    /// Runs the handler and holds it to its contract of one outcome per message. A handler that
    /// panics fails its batch like a refused value would: the messages are then applied one by one,
    /// and the one that panics is dead-lettered with the panic's message after its last delivery,
    /// while the lane goes on.
    async fn apply(&self, deliveries: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        let handled = std::panic::AssertUnwindSafe(self.handler.handle(deliveries))
            .catch_unwind()
            .await;
        let outcomes = match handled {
            Ok(result) => result?,
            Err(panic) => {
                let error = format!(
                    "handler_panicked: {}",
                    crate::runtime::panic_message(&*panic)
                );
                tracing::error!(consumer = %self.spec.durable, %error, size = deliveries.len());
                metrics::counter!("loopdesk_handler_panics_total", "consumer" => self.spec.durable.clone())
                    .increment(1);
                return Err(BatchError {
                    message: error,
                    isolate: true,
                });
            }
        };
        if outcomes.len() != deliveries.len() {
            let error = format!(
                "handler returned {} outcomes for {} messages",
                outcomes.len(),
                deliveries.len()
            );
            tracing::error!(consumer = %self.spec.durable, %error);
            return Err(BatchError::transient(error));
        }
        Ok(outcomes)
    }

    fn nak_delay(&self, delivered: i64) -> Duration {
        let exp = u32::try_from(delivered.saturating_sub(1))
            .unwrap_or(0)
            .min(16);
        (self.spec.nak_delay * 2u32.pow(exp)).min(MAX_NAK_DELAY)
    }

    /// Publishes the message with its error to the dead-letter subject, and only once that is stored,
    /// terminates it. If the publish fails it is nak'ed and tried again.
    async fn dead_letter(
        &self,
        message: &jetstream::Message,
        delivery: &Delivery,
        error: &str,
    ) -> Result<(), async_nats::Error> {
        let letter = GivenUp {
            consumer: &self.spec.durable,
            original_subject: &delivery.subject,
            stream_sequence: delivery.stream_sequence,
            deliveries: delivery.delivered,
            error,
            payload: delivery.payload.clone(),
        };
        match store_dead_letter(&self.js, &self.subjects, letter).await {
            Ok(()) => message.ack_with(AckKind::Term).await,
            Err(e) => {
                tracing::error!(consumer = %self.spec.durable, error = %e, "dead-letter publish failed");
                message
                    .ack_with(AckKind::Nak(Some(self.nak_delay(delivery.delivered))))
                    .await
            }
        }
    }
}

/// What the handler sees of a pulled message.
fn delivery(m: &jetstream::Message) -> Delivery {
    let (delivered, stream_sequence) = m
        .info()
        .map(|i| (i.delivered, i.stream_sequence))
        .unwrap_or((1, 0));
    Delivery {
        subject: m.subject.to_string(),
        payload: m.payload.clone(),
        headers: m.headers.clone(),
        delivered,
        stream_sequence,
    }
}
