//! The pipeline under faults, bounded in time and on loopback only. Tests that restart or cluster a server
//! use private instances (own port, own data directory); the others use the machine's servers with their
//! own database and subject prefix. After recovery every test checks: exactly one ticket per accepted
//! submission, each announced exactly once, nothing dead-lettered.

use std::time::Duration;

use shared::testkit::TestContext;
use system::feed;
use system::servers::{NatsCluster, PrivateNats, PrivatePostgres};
use system::workers::WorkerProcess;

const N: usize = 3000;
const SETTLE: Duration = Duration::from_secs(90);

/// Fault tests want patience: short ack wait so redelivery is quick, many deliveries so an outage does
/// not exhaust them.
fn patient(ctx: &mut TestContext) {
    ctx.settings.nats.ack_wait_secs = 3;
    ctx.settings.nats.max_deliver = 20;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_an_intake_replica_mid_flow_loses_nothing() {
    let mut ctx = TestContext::new().await;
    patient(&mut ctx);
    let mut a = WorkerProcess::spawn("intake", &ctx.settings, &[]);
    let _b = WorkerProcess::spawn("intake", &ctx.settings, &[]);
    let publishing = feed::publish(&ctx, "kill", N);
    let killing = async {
        feed::wait_for_tickets(&ctx, "kill", (N / 4) as i64, SETTLE).await;
        a.sigkill();
        // A replacement replica comes up, as an orchestrator would start one.
        WorkerProcess::spawn("intake", &ctx.settings, &[])
    };
    let ((), _c) = tokio::join!(publishing, killing);
    feed::assert_exactly_once(&ctx, "kill", N, SETTLE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_work_and_exits_cleanly() {
    let mut ctx = TestContext::new().await;
    patient(&mut ctx);
    let mut a = WorkerProcess::spawn("intake", &ctx.settings, &[]);
    feed::publish(&ctx, "term", 500).await;
    feed::wait_for_tickets(&ctx, "term", 100, SETTLE).await;
    assert!(
        a.sigterm(Duration::from_secs(20)),
        "intake exits 0 on SIGTERM"
    );
    let _b = WorkerProcess::spawn("intake", &ctx.settings, &[]);
    feed::assert_exactly_once(&ctx, "term", 500, SETTLE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_server_restart_mid_flow_loses_nothing() {
    let mut nats = PrivateNats::start();
    let base = std::env::var("LOOPDESK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut ctx = TestContext::on_servers(&base, &nats.url(), 1).await;
    patient(&mut ctx);
    let _a = WorkerProcess::spawn("intake", &ctx.settings, &[]);
    let publishing = feed::publish(&ctx, "natsrestart", N);
    let restarting = async {
        feed::wait_for_tickets(&ctx, "natsrestart", (N / 4) as i64, SETTLE).await;
        nats.restart();
    };
    tokio::join!(publishing, restarting);
    feed::assert_exactly_once(&ctx, "natsrestart", N, SETTLE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_flow_loses_nothing() {
    let pg = PrivatePostgres::start();
    let nats =
        std::env::var("LOOPDESK_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let mut ctx = TestContext::on_servers(&pg.url(), &nats, 1).await;
    patient(&mut ctx);
    let _a = WorkerProcess::spawn("intake", &ctx.settings, &[]);
    let publishing = feed::publish(&ctx, "pgrestart", N);
    let restarting = async {
        feed::wait_for_tickets(&ctx, "pgrestart", (N / 4) as i64, SETTLE).await;
        pg.crash();
        tokio::time::sleep(Duration::from_secs(2)).await;
        pg.restart_after_crash();
    };
    tokio::join!(publishing, restarting);
    feed::assert_exactly_once(&ctx, "pgrestart", N, SETTLE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_one_node_of_a_three_node_jetstream_cluster_loses_nothing() {
    let mut cluster = NatsCluster::start();
    let base = std::env::var("LOOPDESK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    // The cluster needs a moment to elect a meta leader before streams can be created.
    let urls = cluster.urls();
    let mut ctx = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let attempt = tokio::spawn({
                let (base, urls) = (base.clone(), urls.clone());
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
    let _a = WorkerProcess::spawn("intake", &ctx.settings, &[]);
    let publishing = feed::publish(&ctx, "cluster", N);
    let stopping = async {
        feed::wait_for_tickets(&ctx, "cluster", (N / 4) as i64, SETTLE).await;
        cluster.nodes[2].kill();
    };
    tokio::join!(publishing, stopping);
    feed::assert_exactly_once(&ctx, "cluster", N, SETTLE).await;
}
