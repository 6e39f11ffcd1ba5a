//! The whole pipeline (intake → router → sla → survey, each a separate process) under faults, bounded in
//! time and on loopback only. Tests that restart or cluster a server use private instances (own port,
//! own data directory); the others use the machine's servers with their own database and subject prefix.
//!
//! Every run publishes a few thousand submissions and some poison messages while a fault strikes; a
//! simulated agent resolves each ticket once the SLA worker has reported its first-response breach. After
//! recovery ([`verify::drive`]) the checks ([`verify::assert_exactly_once`]) hold in Postgres and on the
//! subjects: one ticket per accepted submission, each classified and routed once, every due timer fired
//! once, one survey request per resolved ticket, and exactly the poison in the dead-letter subjects, each
//! with its consumer's error.

use std::time::Duration;

use shared::testkit::TestContext;
use system::feed;
use system::pipeline::{Pipeline, SlaRules};
use system::poison::{self, Poison};
use system::servers::{NatsCluster, PrivateNats, PrivatePostgres};
use system::verify::{self, wait_for};
use system::workers::WorkerProcess;

const N: usize = 2000;
/// Upper bound for a run to finish after its fault (it takes well under a minute when nothing is wrong).
const RUN: Duration = Duration::from_secs(150);
/// Upper bound for waiting on a stage to reach the point where a fault strikes.
const STAGE: Duration = Duration::from_secs(60);

const TICKETS: &str = "select count(*) from tickets";
const CLASSIFIED: &str = "select count(*) from tickets where classified_at is not null";
const BREACHED: &str = "select count(*) from sla_clocks
     where kind = 'first_response' and breached_at is not null";
const SURVEYED: &str = "select count(*) from surveys where status = 'sent'";

/// Fault tests want patience: short ack wait so redelivery is quick, many deliveries so an outage does
/// not exhaust them. Eight workers and the tests running beside them share one server's connections
/// (100 on a default Postgres), so each worker keeps a small pool.
fn patient(ctx: &mut TestContext) {
    ctx.settings.nats.ack_wait_secs = 3;
    ctx.settings.nats.max_deliver = 20;
    ctx.settings.database.max_connections = 4;
}

/// Waits until every worker of `pipeline` answers `/ready` with 200; `when` ends the failure message
/// ("ready before the crash").
async fn every_worker_ready(pipeline: &Pipeline, when: &str) {
    for w in &pipeline.workers {
        assert_eq!(
            w.wait_ready(200, STAGE).await,
            Some(200),
            "{} ready {when}",
            w.name
        );
    }
}

fn machine_postgres() -> String {
    std::env::var("LOOPDESK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn machine_nats() -> String {
    std::env::var("LOOPDESK_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// Says where the run stood when a fault struck (in the test's output when it fails).
async fn note(ctx: &TestContext, tag: &str, fault: &str) {
    eprintln!(
        "{tag}: {fault} at {:?}",
        verify::Progress::now(ctx, tag).await
    );
}

/// Publishes the flow and the poison while `fault` runs, drives the run to its end and checks it.
async fn run_through(
    ctx: &TestContext,
    tag: &str,
    n: usize,
    poison: &[Poison],
    fault: impl std::future::Future<Output = ()>,
) {
    run_through_within(ctx, tag, n, poison, fault, RUN).await;
}

/// As [`run_through`], for a fault that itself lasts a while: the run must end within `run`.
async fn run_through_within(
    ctx: &TestContext,
    tag: &str,
    n: usize,
    poison: &[Poison],
    fault: impl std::future::Future<Output = ()>,
    run: Duration,
) {
    let dead_letters = poison.iter().map(|p| p.expected.len()).sum();
    let flow = async {
        let submissions = feed::publish(ctx, tag, n);
        let poisoning = async {
            // Into the middle of the flow.
            wait_for(ctx, TICKETS, (n / 8) as i64, STAGE).await;
            poison::publish(ctx, poison).await;
        };
        tokio::join!(submissions, poisoning);
    };
    tokio::join!(flow, fault, verify::drive(ctx, tag, n, dead_letters, run));
    verify::assert_exactly_once(ctx, tag, n, poison).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_one_replica_of_each_worker_in_turn_loses_and_repeats_nothing() {
    let mut ctx = TestContext::new().await;
    patient(&mut ctx);
    let tag = "kill";
    let mut pipeline = Pipeline::start(&ctx.settings, 2, SlaRules::Fast);
    let poison = poison::refused_at_once(&ctx.subjects, tag, 2);
    let killing = async {
        // Each worker while it is busy; a replacement comes up as an orchestrator would start one.
        for (worker, stage, at) in [
            ("intake", TICKETS, N / 4),
            ("router", CLASSIFIED, N / 2),
            ("sla", BREACHED, N / 4),
            ("survey", SURVEYED, N / 4),
        ] {
            wait_for(&ctx, stage, at as i64, STAGE).await;
            note(&ctx, tag, &format!("SIGKILL {worker}")).await;
            assert!(pipeline.sigkill_one(worker), "a {worker} replica to kill");
            pipeline.spawn(worker);
        }
    };
    run_through(&ctx, tag, N, &poison, killing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_work_and_exits_cleanly() {
    let mut ctx = TestContext::new().await;
    patient(&mut ctx);
    let mut a = WorkerProcess::spawn("intake", &ctx.settings, &[]);
    feed::publish(&ctx, "term", 500).await;
    feed::wait_for_tickets(&ctx, "term", 100, STAGE).await;
    assert!(
        a.sigterm(Duration::from_secs(20)),
        "intake exits 0 on SIGTERM"
    );
    let _b = WorkerProcess::spawn("intake", &ctx.settings, &[]);
    feed::assert_exactly_once(&ctx, "term", 500, STAGE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_server_restart_mid_flow_loses_and_repeats_nothing() {
    let mut nats = PrivateNats::start();
    let mut ctx = TestContext::on_servers(&machine_postgres(), &nats.url(), 1).await;
    patient(&mut ctx);
    let tag = "natsrestart";
    let _pipeline = Pipeline::start(&ctx.settings, 1, SlaRules::Fast);
    let poison = poison::refused_at_once(&ctx.subjects, tag, 2);
    let restarting = async {
        wait_for(&ctx, TICKETS, (N / 2) as i64, STAGE).await;
        note(&ctx, tag, "nats-server restart").await;
        nats.restart();
    };
    run_through(&ctx, tag, N, &poison, restarting).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crash_mid_flow_loses_and_repeats_nothing() {
    let pg = PrivatePostgres::start();
    let mut ctx = TestContext::on_servers(&pg.url(), &machine_nats(), 1).await;
    patient(&mut ctx);
    let tag = "pgcrash";
    let pipeline = Pipeline::start(&ctx.settings, 1, SlaRules::Fast);
    let poison = poison::refused_at_once(&ctx.subjects, tag, 2);
    let crashing = async {
        // Mid-flow means every worker is at work: a worker still starting when its database dies
        // ends with an error for its orchestrator to restart (a process fault test's business), and
        // intake can register half the tickets before the router has loaded its model.
        every_worker_ready(&pipeline, "before the crash").await;
        wait_for(&ctx, TICKETS, (N / 2) as i64, STAGE).await;
        note(&ctx, tag, "Postgres crash").await;
        pg.crash();
        tokio::time::sleep(Duration::from_secs(2)).await;
        pg.restart_after_crash();
    };
    run_through(&ctx, tag, N, &poison, crashing).await;
}

/// How long the database stays away in the outage test: far past what the deliveries of a message
/// would ride out by naks alone (5 deliveries with naks of 0.5–4 s, or 3 s ack waits).
const OUTAGE: Duration = Duration::from_secs(60);

/// A lasting Postgres outage is nobody's message's fault: every worker stops pulling and reports
/// not-ready while the database is away, holds what it had in hand without using up deliveries, and
/// resumes by itself when it returns. Nothing is dead-lettered (no poison is sent, so the dead-letter
/// subjects must stay empty) and every submission becomes exactly one ticket, routed, surveyed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_of_a_minute_holds_the_flow_and_dead_letters_nothing() {
    let pg = PrivatePostgres::start();
    let mut ctx = TestContext::on_servers(&pg.url(), &machine_nats(), 1).await;
    patient(&mut ctx);
    // The shipped delivery limit and ack wait: an outage must not count against them. (With the
    // other tests' 3 s ack wait, the backlog after the outage, applied in batches that can take
    // longer than 3 s on a loaded machine, is redelivered while in hand and can use up 5 deliveries
    // by itself: a fault of the setting, not of the outage.)
    ctx.settings.nats.max_deliver = 5;
    ctx.settings.nats.ack_wait_secs = 30;
    let tag = "pgoutage";
    let pipeline = Pipeline::start(&ctx.settings, 1, SlaRules::Fast);
    every_worker_ready(&pipeline, "before the outage").await;
    let outage = async {
        wait_for(&ctx, TICKETS, (N / 4) as i64, STAGE).await;
        note(&ctx, tag, "Postgres stopped").await;
        let stopped = std::time::Instant::now();
        pg.stop();
        for w in &pipeline.workers {
            assert_eq!(
                w.wait_ready(503, Duration::from_secs(20)).await,
                Some(503),
                "{} reports not-ready while the database is away",
                w.name
            );
        }
        tokio::time::sleep(OUTAGE.saturating_sub(stopped.elapsed())).await;
        pg.start_again();
        eprintln!(
            "{tag}: Postgres started again after {:?}",
            stopped.elapsed()
        );
        every_worker_ready(&pipeline, "again once the database answers").await;
    };
    run_through_within(&ctx, tag, N, &[], outage, RUN + OUTAGE).await;
    assert_eq!(
        verify::stored_on(
            &ctx,
            shared::subjects::Stream::DeadLetter,
            &ctx.subjects.dead_letters_all()
        )
        .await,
        0,
        "nothing dead-lettered for an outage"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_end_in_the_dead_letter_subjects_with_their_error_and_nothing_else() {
    let mut ctx = TestContext::new().await;
    // Few deliveries, so messages that fail every time are dead-lettered within seconds.
    patient(&mut ctx);
    ctx.settings.nats.max_deliver = 4;
    let tag = "poison";
    let _pipeline = Pipeline::start(&ctx.settings, 1, SlaRules::Fast);
    let mut poison = poison::refused_at_once(&ctx.subjects, tag, 3);
    poison.extend(poison::failing_every_time(&ctx.subjects, tag, 3));
    run_through(&ctx, tag, N / 2, &poison, async {}).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_one_node_of_a_three_node_jetstream_cluster_loses_and_repeats_nothing() {
    let mut cluster = NatsCluster::start();
    // The cluster needs a moment to elect a meta leader before streams can be created.
    let urls = cluster.urls();
    let mut ctx = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let attempt = tokio::spawn({
                let (base, urls) = (machine_postgres(), urls.clone());
                async move { TestContext::on_servers(&base, &urls, 3).await }
            });
            match attempt.await {
                Ok(ctx) => break ctx,
                Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    })
    .await
    .expect("the cluster accepts R3 streams within 60 s");
    patient(&mut ctx);
    let tag = "cluster";
    let _pipeline = Pipeline::start(&ctx.settings, 1, SlaRules::Fast);
    let poison = poison::refused_at_once(&ctx.subjects, tag, 2);
    let stopping = async {
        wait_for(&ctx, TICKETS, (N / 2) as i64, STAGE).await;
        note(&ctx, tag, "stop node n2").await;
        cluster.nodes[2].kill();
    };
    run_through(&ctx, tag, N, &poison, stopping).await;
}
