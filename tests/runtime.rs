//! Faults of a replica's own making, which would otherwise leave it up and green while it does
//! nothing, or holding a connection and its locks: a task or consumer lane that ends early, a handler
//! that panics, a statement that runs too long.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use shared::consumer::{
    self, dlq_headers, BatchError, BatchHandler, ConsumerSpec, Delivery, Outcome,
};
use shared::readiness::DatabaseWatch;
use shared::runtime::Runtime;
use shared::subjects::Stream;
use shared::testkit::TestContext;
use system::workers::WorkerProcess;
use tokio_util::sync::CancellationToken;

/// A replica with its HTTP side and one task that returns when `end` fires (or panics, if asked).
async fn replica_with_a_task_that_ends(
    ctx: &TestContext,
    panics: bool,
) -> (
    tokio::sync::oneshot::Sender<()>,
    std::net::SocketAddr,
    shared::runtime::Tasks,
) {
    let mut rt = Runtime::connect("test", &ctx.settings, CancellationToken::new())
        .await
        .expect("runtime connects");
    let (end, ended) = tokio::sync::oneshot::channel::<()>();
    rt.spawn("short-lived", async move {
        let _ = ended.await;
        if panics {
            panic!("the task's invariant broke");
        }
    });
    let listener = rt.bind().await.expect("listener");
    let addr = listener.ops_addr();
    rt.serve(listener, Router::new());
    (end, addr, rt.start())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_returns_before_shutdown_makes_the_replica_unready_and_stop_with_an_error() {
    let ctx = TestContext::new().await;
    let (end, addr, tasks) = replica_with_a_task_that_ends(&ctx, false).await;
    let readiness = tasks.readiness();
    let stopped = tokio::spawn(tasks.run_until_stopped());
    assert_eq!(
        system::http_status(addr, "/ready").await,
        Some(200),
        "ready while every task runs"
    );

    end.send(()).expect("the task waits");
    let result = tokio::time::timeout(Duration::from_secs(30), stopped)
        .await
        .expect("the replica stops by itself")
        .expect("run_until_stopped does not panic");
    let failure = result.expect_err("the early end is returned, so main exits non-zero");
    assert_eq!(failure.task, "short-lived");
    assert!(failure.reason.contains("before shutdown"), "{failure}");
    let why = readiness.failed_task().expect("the replica is unready");
    assert!(why.contains("short-lived"), "{why}");
    assert_eq!(
        system::http_status(addr, "/ready").await,
        None,
        "the HTTP side has stopped with the rest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_panics_stops_the_replica_with_the_panic_message() {
    let ctx = TestContext::new().await;
    let (end, _addr, tasks) = replica_with_a_task_that_ends(&ctx, true).await;
    let stopped = tokio::spawn(tasks.run_until_stopped());
    end.send(()).expect("the task waits");
    let failure = tokio::time::timeout(Duration::from_secs(30), stopped)
        .await
        .expect("the replica stops by itself")
        .expect("run_until_stopped does not panic")
        .expect_err("the panic is returned");
    assert_eq!(failure.task, "short-lived");
    assert!(
        failure.reason.contains("the task's invariant broke"),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_whose_consumer_lanes_end_exits_non_zero_and_its_replacement_consumes() {
    let ctx = TestContext::new().await;
    let mut intake = WorkerProcess::spawn("intake", &ctx.settings, &[]);
    assert_eq!(
        intake.wait_ready(200, Duration::from_secs(60)).await,
        Some(200),
        "intake starts"
    );
    let stream = ctx
        .js
        .get_stream(ctx.subjects.stream_name(Stream::Feedback))
        .await
        .expect("feedback stream");
    let durable = ctx.subjects.durable("intake");
    // Deleting the durable consumer ends every pull subscription on it: the lanes can never
    // consume again, whatever the replica does.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while stream.consumer_info(&durable).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "intake binds its consumer"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stream
        .delete_consumer(&durable)
        .await
        .expect("consumer deleted");
    let status = intake
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("intake exits by itself instead of running on without consuming");
    assert!(
        !status.success(),
        "a non-zero exit tells the orchestrator to replace it: {status}"
    );
    // The replacement binds the consumer again and works.
    let replacement = WorkerProcess::spawn("intake", &ctx.settings, &[]);
    assert_eq!(
        replacement.wait_ready(200, Duration::from_secs(60)).await,
        Some(200)
    );
    system::feed::publish(&ctx, "after", 10).await;
    system::feed::assert_exactly_once(&ctx, "after", 10, Duration::from_secs(60)).await;
}

/// Applies every message except `panic`, on which it panics.
#[derive(Default)]
struct PanicsOnOne {
    applied: Mutex<Vec<String>>,
}

impl BatchHandler for PanicsOnOne {
    async fn handle(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        let texts: Vec<String> = batch
            .iter()
            .map(|d| String::from_utf8_lossy(&d.payload).into_owned())
            .collect();
        assert!(
            !texts.iter().any(|t| t == "panic"),
            "a bug met an unexpected message"
        );
        self.applied.lock().unwrap().extend(texts);
        Ok(vec![Outcome::Done; batch.len()])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_panics_dead_letters_its_message_and_the_lane_goes_on() {
    let mut ctx = TestContext::new().await;
    ctx.settings.nats.max_deliver = 2;
    ctx.settings.nats.ack_wait_secs = 2;
    let mut spec = ConsumerSpec::new(
        &ctx.subjects,
        &ctx.settings.nats,
        Stream::Ticket,
        "panicky",
        ctx.subjects.subject("ticket.panicky"),
    );
    spec.nak_delay = Duration::from_millis(50);
    spec.concurrency = 1;
    let handler = Arc::new(PanicsOnOne::default());
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(consumer::run(
        ctx.js.clone(),
        ctx.subjects.clone(),
        spec,
        handler.clone(),
        DatabaseWatch::new(ctx.pool.clone()),
        shutdown.clone(),
    ));
    let subject = ctx.subjects.subject("ticket.panicky");
    for text in ["a", "b", "panic", "c"] {
        ctx.publish(subject.clone(), text.as_bytes().to_vec()).await;
    }
    let dead = ctx
        .collect(
            Stream::DeadLetter,
            &ctx.subjects.dead_letters_all(),
            1,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(dead.len(), 1, "the panicking message is dead-lettered");
    assert_eq!(&dead[0].payload[..], b"panic");
    let error = dead[0]
        .headers
        .as_ref()
        .and_then(|h| h.get(dlq_headers::ERROR))
        .map(|v| v.to_string())
        .unwrap_or_default();
    assert!(
        error.starts_with("handler_panicked: a bug met an unexpected message"),
        "{error}"
    );

    // Its batch-mates were applied, and the lane still consumes.
    ctx.publish(subject, b"d".to_vec()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut applied = handler.applied.lock().unwrap().clone();
        applied.sort();
        applied.dedup();
        if applied == ["a", "b", "c", "d"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "applied {applied:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!running.is_finished(), "the consumer runs on");
    shutdown.cancel();
    running
        .await
        .expect("no panic escapes")
        .expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_worker_session_bounds_its_statements_and_idle_transactions() {
    let mut ctx = TestContext::new().await;
    ctx.settings.database.statement_timeout_ms = 400;
    ctx.settings.database.idle_in_transaction_timeout_ms = 700;
    // Every worker (the api too) gets its pool from the runtime.
    let rt = Runtime::connect("test", &ctx.settings, CancellationToken::new())
        .await
        .expect("runtime connects");
    let shown: (String, String) = sqlx::query_as(
        "select current_setting('statement_timeout'),
                current_setting('idle_in_transaction_session_timeout')",
    )
    .fetch_one(&rt.pool)
    .await
    .expect("settings");
    assert_eq!(shown, ("400ms".to_string(), "700ms".to_string()));

    let refused = sqlx::query("select pg_sleep(3)")
        .execute(&rt.pool)
        .await
        .expect_err("a statement over the bound is cancelled");
    let code = refused
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    assert_eq!(code.as_deref(), Some("57014"), "query_canceled: {refused}");

    // A transaction left idle loses its session, and with it its locks.
    let mut tx = rt.pool.begin().await.expect("begin");
    sqlx::query("select 1")
        .execute(&mut *tx)
        .await
        .expect("in the transaction");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        sqlx::query("select 1").execute(&mut *tx).await.is_err(),
        "the idle transaction's session was ended"
    );
    drop(tx);

    // The defaults, for every deployment that sets nothing.
    let defaults: String = sqlx::query_scalar("show statement_timeout")
        .fetch_one(&ctx.pool)
        .await
        .expect("default");
    assert_eq!(defaults, "30s");
}
