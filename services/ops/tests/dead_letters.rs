//! The shared consumer loop's delivery guarantees, seen from ops: a poison message ends in the
//! dead-letter subject with its error after the last allowed delivery, its batch-mates are still
//! processed, and a replay after the fix delivers it again.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::consumer::{self, BatchError, BatchHandler, ConsumerSpec, Delivery, Outcome};
use shared::readiness::DatabaseWatch;
use shared::subjects::Stream;
use shared::testkit::TestContext;
use tokio_util::sync::CancellationToken;

/// Records payloads it applied; fails on `poison` until `fixed`, on `reject` always (as poison), and
/// fails whole batches containing `db-refuses` the way a database refusal does.
#[derive(Default)]
struct Recorder {
    applied: Mutex<Vec<String>>,
    fixed: AtomicBool,
}

impl BatchHandler for Recorder {
    async fn handle(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        let texts: Vec<String> = batch
            .iter()
            .map(|d| String::from_utf8_lossy(&d.payload).into_owned())
            .collect();
        if batch.len() > 1 && texts.iter().any(|t| t == "db-refuses") {
            return Err(BatchError {
                message: "value refused".into(),
                isolate: true,
            });
        }
        let mut out = Vec::new();
        for t in texts {
            out.push(match t.as_str() {
                "poison" if !self.fixed.load(Ordering::SeqCst) => {
                    Outcome::Retry("cannot apply poison yet".into())
                }
                "reject" => Outcome::Poison("never valid".into()),
                "db-refuses" => Outcome::Poison("value refused".into()),
                _ => {
                    self.applied.lock().unwrap().push(t);
                    Outcome::Done
                }
            });
        }
        Ok(out)
    }
}

/// Runs the consumer loop for `spec` until `shutdown`.
fn spawn_consumer<H: BatchHandler>(
    ctx: &TestContext,
    spec: ConsumerSpec,
    handler: Arc<H>,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<Result<(), consumer::ConsumerError>> {
    tokio::spawn(consumer::run(
        ctx.js.clone(),
        ctx.subjects.clone(),
        spec,
        handler,
        DatabaseWatch::new(ctx.pool.clone()),
        shutdown.clone(),
    ))
}

/// A consumer of the ticket stream for test worker `worker`, on `{prefix}.ticket.{kind}`.
fn ticket_consumer(ctx: &TestContext, worker: &str, kind: &str) -> ConsumerSpec {
    ConsumerSpec::new(
        &ctx.subjects,
        &ctx.settings.nats,
        Stream::Ticket,
        worker,
        ctx.subjects.subject(&format!("ticket.{kind}")),
    )
}

/// Waits until `n` dead letters are stored, then lists them as ops sees them.
async fn dead_letters(
    ctx: &TestContext,
    n: usize,
    timeout: Duration,
) -> Vec<ops::dead_letters::DeadLetter> {
    let stored = ctx
        .collect(
            Stream::DeadLetter,
            &ctx.subjects.dead_letters_all(),
            n,
            timeout,
        )
        .await;
    assert_eq!(stored.len(), n, "dead letters stored");
    let letters = ops::dead_letters::list(&ctx.js, &ctx.subjects, None)
        .await
        .unwrap();
    assert_eq!(letters.len(), n, "dead letters listed");
    letters
}

/// Waits (10 s at most) until `handler` has applied the message `text`.
async fn wait_until_applied(handler: &Recorder, text: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !handler.applied.lock().unwrap().iter().any(|t| t == text) {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn poison_goes_to_the_dead_letter_subject_with_its_error_and_replays_after_the_fix() {
    let ctx = TestContext::new().await;
    let handler = Arc::new(Recorder::default());
    let mut spec = ticket_consumer(&ctx, "recorder", "test");
    spec.nak_delay = Duration::from_millis(100);
    let shutdown = CancellationToken::new();
    let task = spawn_consumer(&ctx, spec, handler.clone(), &shutdown);
    for text in ["a", "poison", "b", "reject", "db-refuses", "c"] {
        ctx.publish(ctx.subjects.subject("ticket.test"), text.to_string())
            .await;
    }
    let letters = dead_letters(&ctx, 3, Duration::from_secs(20)).await;
    let by_payload = |p: &str| letters.iter().find(|l| l.payload == p).unwrap().clone();
    let poison = by_payload("poison");
    assert_eq!(poison.error, "cannot apply poison yet");
    assert_eq!(
        poison.deliveries, "3",
        "dead-lettered after the last allowed delivery"
    );
    assert_eq!(poison.original_subject, ctx.subjects.subject("ticket.test"));
    assert_eq!(by_payload("reject").error, "never valid");
    assert_eq!(
        by_payload("reject").deliveries,
        "1",
        "poison is not retried"
    );
    assert_eq!(by_payload("db-refuses").error, "value refused");
    let applied: HashSet<String> = handler.applied.lock().unwrap().iter().cloned().collect();
    assert_eq!(
        applied,
        HashSet::from(["a".into(), "b".into(), "c".into()]),
        "batch-mates still applied"
    );

    handler.fixed.store(true, Ordering::SeqCst);
    let replayed = ops::dead_letters::replay(
        &ctx.js,
        &ctx.subjects,
        Some(&ctx.subjects.durable("recorder")),
    )
    .await
    .unwrap();
    assert_eq!(replayed, 3);
    wait_until_applied(
        &handler,
        "poison",
        "replayed poison is applied after the fix",
    )
    .await;
    // `reject` and `db-refuses` fail again and are dead-lettered again; `poison` is gone from the DLQ.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let remaining = ops::dead_letters::list(&ctx.js, &ctx.subjects, None)
        .await
        .unwrap();
    assert!(remaining.iter().all(|l| l.payload != "poison"));
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

/// Never finishes a message whose payload is `hang`: the replica holding its last delivery is gone.
struct Hangs;

impl BatchHandler for Hangs {
    async fn handle(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        if batch.iter().any(|d| d.payload.as_ref() == b"hang") {
            std::future::pending::<()>().await;
        }
        Ok(vec![Outcome::Done; batch.len()])
    }
}

/// The last allowed delivery of a message ends with no outcome (its replica is stuck or killed, so
/// the loop never dead-letters it). JetStream only announces that; the missed-deliveries listener
/// turns the announcement into a dead letter with the message and its error, so it can be replayed.
#[tokio::test]
async fn a_message_whose_last_delivery_ends_without_an_outcome_is_dead_lettered() {
    let ctx = TestContext::new().await;
    let mut spec = ticket_consumer(&ctx, "stuck", "stuck");
    spec.max_deliver = 1;
    spec.ack_wait = Duration::from_secs(1);
    spec.concurrency = 1;
    let shutdown = CancellationToken::new();
    let stuck = spawn_consumer(&ctx, spec, Arc::new(Hangs), &shutdown);
    let missed = ConsumerSpec::new(
        &ctx.subjects,
        &ctx.settings.nats,
        Stream::MissedDeliveries,
        shared::missed::WORKER,
        String::new(),
    );
    let missed_handler = Arc::new(shared::missed::MissedDeliveryHandler {
        js: ctx.js.clone(),
        subjects: ctx.subjects.clone(),
    });
    let listener = spawn_consumer(&ctx, missed, missed_handler, &shutdown);
    ctx.publish(ctx.subjects.subject("ticket.stuck"), "hang")
        .await;

    let letters = dead_letters(&ctx, 1, Duration::from_secs(30)).await;
    let letter = &letters[0];
    assert_eq!(letter.payload, "hang");
    assert_eq!(letter.consumer, ctx.subjects.durable("stuck"));
    assert_eq!(
        letter.original_subject,
        ctx.subjects.subject("ticket.stuck")
    );
    assert_eq!(letter.error, shared::missed::ERROR);
    assert_eq!(letter.deliveries, "1");

    // The stuck replica dies; the listener stops cleanly.
    stuck.abort();
    shutdown.cancel();
    listener.await.unwrap().unwrap();
}

/// Records the size of every batch it is handed.
#[derive(Default)]
struct BatchSizes(Mutex<Vec<usize>>);

impl BatchHandler for BatchSizes {
    async fn handle(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        self.0.lock().unwrap().push(batch.len());
        Ok(vec![Outcome::Done; batch.len()])
    }
}

#[tokio::test]
async fn a_lingering_lane_gathers_what_arrives_soon_after_into_one_batch_of_at_most_max_batch() {
    let ctx = TestContext::new().await;
    let mut spec = ticket_consumer(&ctx, "lingering", "linger");
    spec.linger = Duration::from_secs(2);
    spec.max_batch = 5;
    spec.concurrency = 1;
    let shutdown = CancellationToken::new();
    let sizes = Arc::new(BatchSizes::default());
    let task = spawn_consumer(&ctx, spec, sizes.clone(), &shutdown);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // One message, then six more a moment later: without the linger the first would be a batch of
    // its own. With it the lane waits, fills a batch of five and applies the other two next.
    ctx.publish(ctx.subjects.subject("ticket.linger"), "0")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 1..7 {
        ctx.publish(ctx.subjects.subject("ticket.linger"), i.to_string())
            .await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sizes.0.lock().unwrap().iter().sum::<usize>() < 7 {
        assert!(std::time::Instant::now() < deadline, "all seven applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(*sizes.0.lock().unwrap(), vec![5, 2]);
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

/// A durable consumer an older release made with a wider filter: binding it with a narrower one
/// narrows it in place where the server allows (NATS 2.10+), and otherwise keeps it working as it was.
/// Either way nothing the worker needs is missed.
#[tokio::test]
async fn a_consumer_made_with_a_wider_filter_keeps_delivering_when_its_filter_narrows() {
    let ctx = TestContext::new().await;
    let durable = ctx.subjects.durable("narrowed");
    let stream = ctx
        .js
        .get_stream(ctx.subjects.stream_name(Stream::Ticket))
        .await
        .unwrap();
    let _old: async_nats::jetstream::consumer::Consumer<
        async_nats::jetstream::consumer::pull::Config,
    > = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some(durable.clone()),
            filter_subject: ctx.subjects.subject("ticket.>"),
            ..Default::default()
        })
        .await
        .unwrap();

    let handler = Arc::new(Recorder::default());
    let spec = ticket_consumer(&ctx, "narrowed", "*");
    let shutdown = CancellationToken::new();
    let task = spawn_consumer(&ctx, spec, handler.clone(), &shutdown);
    ctx.publish(ctx.subjects.subject("ticket.routed.billing"), "routed")
        .await;
    ctx.publish(ctx.subjects.subject("ticket.created"), "created")
        .await;
    wait_until_applied(
        &handler,
        "created",
        "the narrowed consumer still delivers what its new filter takes",
    )
    .await;
    let filter = stream
        .consumer_info(&durable)
        .await
        .unwrap()
        .config
        .filter_subject;
    let applied = handler.applied.lock().unwrap().clone();
    if filter == ctx.subjects.subject("ticket.*") {
        assert_eq!(applied, vec!["created".to_string()], "narrowed in place");
    } else {
        assert_eq!(filter, ctx.subjects.subject("ticket.>"), "kept as it was");
        assert!(applied.contains(&"routed".to_string()));
    }
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn status_lists_streams_consumers_and_the_demo_feed_makes_no_errors() {
    let ctx = TestContext::new().await;
    let examples_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/examples");
    let feed = ops::demo::examples(&examples_dir).unwrap();
    assert_eq!(feed.len(), 7);
    ops::demo::publish(&ctx.js, &ctx.subjects, &feed)
        .await
        .unwrap();
    let status = ops::status::streams(&ctx.js, &ctx.subjects).await.unwrap();
    let feedback = status
        .iter()
        .find(|s| s.stream == ctx.subjects.stream_name(Stream::Feedback))
        .unwrap();
    assert_eq!(feedback.messages, 7);
    assert_eq!(status.len(), Stream::ALL.len());
}

/// Dead letters are kept until a person acts: the stream has no age limit, and `delete-dead-letter`
/// removes exactly what it names (one letter, or one consumer's).
#[tokio::test]
async fn dead_letters_are_kept_until_replayed_or_deleted_by_a_person() {
    let ctx = TestContext::new().await;
    let info = ctx
        .js
        .get_stream(ctx.subjects.stream_name(Stream::DeadLetter))
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(
        info.config.max_age,
        Duration::ZERO,
        "the dead-letter stream never expires its letters"
    );
    assert!(
        info.config.max_bytes < 0 && info.config.max_messages < 0,
        "nor drops them for room"
    );

    let shutdown = CancellationToken::new();
    let handler = Arc::new(Recorder::default());
    let a = spawn_consumer(
        &ctx,
        ticket_consumer(&ctx, "deleter_a", "a"),
        handler.clone(),
        &shutdown,
    );
    let b = spawn_consumer(
        &ctx,
        ticket_consumer(&ctx, "deleter_b", "b"),
        handler,
        &shutdown,
    );
    for subject in ["ticket.a", "ticket.a", "ticket.b", "ticket.b"] {
        ctx.publish(ctx.subjects.subject(subject), "reject").await;
    }
    let letters = dead_letters(&ctx, 4, Duration::from_secs(20)).await;
    let of_a: Vec<u64> = letters
        .iter()
        .filter(|l| l.consumer == ctx.subjects.durable("deleter_a"))
        .map(|l| l.sequence)
        .collect();
    assert_eq!(of_a.len(), 2);

    use ops::dead_letters::{delete, list, Deletion};
    assert_eq!(
        delete(&ctx.js, &ctx.subjects, Deletion::Sequence(of_a[0]))
            .await
            .unwrap(),
        1
    );
    assert!(
        matches!(
            delete(&ctx.js, &ctx.subjects, Deletion::Sequence(of_a[0])).await,
            Err(ops::OpsError::Input(_))
        ),
        "a sequence holding no letter is refused"
    );
    let b_durable = ctx.subjects.durable("deleter_b");
    assert_eq!(
        delete(&ctx.js, &ctx.subjects, Deletion::Consumer(&b_durable))
            .await
            .unwrap(),
        2
    );
    let left = list(&ctx.js, &ctx.subjects, None).await.unwrap();
    assert_eq!(
        left.iter().map(|l| l.sequence).collect::<Vec<_>>(),
        vec![of_a[1]],
        "only what was named is gone"
    );
    assert_eq!(
        delete(&ctx.js, &ctx.subjects, Deletion::All).await.unwrap(),
        1
    );
    assert!(list(&ctx.js, &ctx.subjects, None).await.unwrap().is_empty());
    shutdown.cancel();
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
}
