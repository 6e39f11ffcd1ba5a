//! Group commit for the web form: concurrent `POST /v1/feedback` requests are registered together, in
//! one transaction per batch, as the bus path registers a consumer batch (docs/domain.md, invariant 9). One commit
//! per request would cap the form at the machine's commit rate whatever the number of customers; a
//! batch pays one commit for all of them, so throughput grows with concurrency.
//!
//! Each request hands its submission to the collector and waits for its own answer. The collector
//! starts a batch with the first submission waiting, takes every other one already queued, and waits
//! up to the linger for more only while other requests are still being read and checked (a lone
//! customer is never kept waiting for company). At most `lanes` batches commit at once; while they do,
//! new submissions queue up and form the next batch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::store::{Received, Registered, StoreError, TicketStore};

/// How the form's submissions are grouped (`[intake]` keys `form_linger_ms`, `form_max_batch`,
/// `form_commit_lanes`).
#[derive(Debug, Clone, Copy)]
pub struct GroupCommitSettings {
    /// Longest wait after a batch's first submission for others being received at the same time.
    pub linger: Duration,
    /// Largest batch committed in one transaction.
    pub max_batch: usize,
    /// Batches committing at once (each holds one pooled connection while it commits).
    pub lanes: usize,
}

/// Why a submission got no answer from the database.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("intake is shutting down")]
    Closed,
}

struct Pending {
    item: Received,
    answer: oneshot::Sender<Result<Registered, String>>,
}

/// The form's handle on the collector; cloned into every request.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Pending>,
    /// Requests received but not yet queued (body being read and checked): the collector lingers for
    /// them only.
    arriving: Arc<AtomicUsize>,
}

/// Counts a request as arriving until it is queued or dropped.
pub struct Arriving(Arc<AtomicUsize>);

impl Drop for Arriving {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl GroupCommit {
    /// The handle and the collector task to run (it ends once every handle is dropped and the last
    /// batch has committed). `wake` is the outbox relay's, woken after each commit.
    pub fn start(
        store: TicketStore,
        settings: GroupCommitSettings,
        wake: Arc<Notify>,
    ) -> (Self, impl std::future::Future<Output = ()> + Send + 'static) {
        let max_batch = settings.max_batch.max(1);
        let lanes = settings.lanes.max(1);
        let (queue, rx) = mpsc::channel(max_batch * (lanes + 1));
        let arriving = Arc::new(AtomicUsize::new(0));
        let collector = Collector {
            rx,
            store,
            wake,
            arriving: arriving.clone(),
            linger: settings.linger,
            max_batch,
            lanes: Arc::new(Semaphore::new(lanes)),
        };
        (Self { queue, arriving }, collector.run())
    }

    /// Marks a request as arriving; hold the guard until [`GroupCommit::register`] is called.
    pub fn arriving(&self) -> Arriving {
        self.arriving.fetch_add(1, Ordering::AcqRel);
        Arriving(self.arriving.clone())
    }

    /// Registers one submission with whatever else is committing at the same moment.
    pub async fn register(
        &self,
        item: Received,
        arriving: Arriving,
    ) -> Result<Registered, CommitError> {
        let (answer, answered) = oneshot::channel();
        let sent = self.queue.send(Pending { item, answer }).await;
        drop(arriving);
        sent.map_err(|_| CommitError::Closed)?;
        match answered.await {
            Ok(Ok(registered)) => Ok(registered),
            Ok(Err(message)) => Err(CommitError::Store(StoreError::Failed(message))),
            Err(_) => Err(CommitError::Closed),
        }
    }
}

struct Collector {
    rx: mpsc::Receiver<Pending>,
    store: TicketStore,
    wake: Arc<Notify>,
    arriving: Arc<AtomicUsize>,
    linger: Duration,
    max_batch: usize,
    lanes: Arc<Semaphore>,
}

impl Collector {
    async fn run(mut self) {
        let mut commits = JoinSet::new();
        loop {
            let Ok(lane) = self.lanes.clone().acquire_owned().await else {
                break;
            };
            let Some(first) = self.rx.recv().await else {
                break;
            };
            let batch = self.gather(first).await;
            commits.spawn(commit(self.store.clone(), batch, lane, self.wake.clone()));
            while commits.try_join_next().is_some() {}
        }
        while commits.join_next().await.is_some() {}
    }

    /// The batch that starts with `first`: everything queued, and what arrives within the linger while
    /// other requests are still on their way.
    async fn gather(&mut self, first: Pending) -> Vec<Pending> {
        let mut batch = vec![first];
        let deadline = Instant::now() + self.linger;
        while batch.len() < self.max_batch {
            match self.rx.try_recv() {
                Ok(p) => {
                    batch.push(p);
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
                Err(mpsc::error::TryRecvError::Empty) => {}
            }
            if self.arriving.load(Ordering::Acquire) == 0 || Instant::now() >= deadline {
                break;
            }
            // Another request is being read: wait for it (or anything else) a little.
            let step = (deadline - Instant::now()).min(Duration::from_micros(250));
            match tokio::time::timeout(step, self.rx.recv()).await {
                Ok(Some(p)) => batch.push(p),
                Ok(None) => break,
                Err(_) => {}
            }
        }
        batch
    }
}

/// Commits one batch and answers each request. If the database refuses the batch for a value it
/// cannot store, each submission is tried alone, so one bad submission cannot fail its batch-mates.
async fn commit(
    store: TicketStore,
    batch: Vec<Pending>,
    _lane: OwnedSemaphorePermit,
    wake: Arc<Notify>,
) {
    let (items, answers): (Vec<Received>, Vec<_>) =
        batch.into_iter().map(|p| (p.item, p.answer)).unzip();
    metrics::histogram!("loopdesk_intake_form_batch_size").record(items.len() as f64);
    match store.register(&items).await {
        Ok(results) => {
            wake.notify_one();
            for (answer, result) in answers.into_iter().zip(results) {
                let _ = answer.send(Ok(result));
            }
        }
        Err(e) if items.len() > 1 && e.is_data_error() => {
            tracing::warn!(error = %e, size = items.len(), "form batch refused; registering one by one");
            for (item, answer) in items.into_iter().zip(answers) {
                let result = store.register(std::slice::from_ref(&item)).await;
                let result = result
                    .map(|mut r| r.pop().expect("one result per submission"))
                    .map_err(|e| e.to_string());
                if result.is_ok() {
                    wake.notify_one();
                }
                let _ = answer.send(result);
            }
        }
        Err(e) => {
            let message = e.to_string();
            for answer in answers {
                let _ = answer.send(Err(message.clone()));
            }
        }
    }
}
