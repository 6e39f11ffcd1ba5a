//! The bus with Loopdesk's users and permissions (`shared::bus_access`): the server's authorization is
//! generated from the one table in `shared`, every worker does its whole job as its own user, a user
//! is refused another's subjects, and a client without a user is refused altogether.

use std::collections::BTreeMap;
use std::time::Duration;

use shared::bus_access::{self, USERS};
use shared::config::NatsSettings;
use shared::outbox::OutboxRelay;
use shared::subjects::{Stream, Subjects};
use shared::testkit::TestContext;
use system::pipeline::{Pipeline, SlaRules};
use system::servers::PrivateNats;
use system::{feed, verify};
use tokio_util::sync::CancellationToken;

const N: usize = 300;

fn machine_postgres() -> String {
    std::env::var("LOOPDESK_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A random password per user, and the server environment that carries them.
fn passwords() -> (BTreeMap<String, String>, Vec<(String, String)>) {
    let by_user: BTreeMap<String, String> = USERS
        .iter()
        // Starting with a letter: nats-server reads an environment value like a configuration
        // value, and one starting with digits may be taken for a number.
        .map(|u| {
            (
                u.name.to_string(),
                format!("pw{}", uuid::Uuid::new_v4().simple()),
            )
        })
        .collect();
    let env = by_user
        .iter()
        .map(|(u, p)| (bus_access::password_variable(u), p.clone()))
        .collect();
    (by_user, env)
}

/// Connects to `url` as `user`.
async fn connect_as(
    url: &str,
    user: &str,
    password: &str,
) -> (async_nats::Client, async_nats::jetstream::Context) {
    let settings = NatsSettings {
        url: url.to_string(),
        stream_replicas: 1,
        max_deliver: 5,
        ack_wait_secs: 5,
        batch_size: 100,
        linger_ms: 0,
        user: Some(user.to_string()),
        password: Some(password.to_string().into()),
        tls_ca_file: None,
    };
    shared::bus::connect(&settings)
        .await
        .expect("connects as its user")
}

#[test]
fn the_committed_server_config_is_the_one_the_table_generates() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/nats/accounts.conf");
    let committed = std::fs::read_to_string(path).expect("deploy/nats/accounts.conf exists");
    assert!(
        committed == bus_access::server_config(&Subjects::new("loopdesk")),
        "deploy/nats/accounts.conf differs from the table in shared/src/bus_access.rs: \
         regenerate it with `loopdesk-ops nats-accounts`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_worker_does_its_job_as_its_own_user_and_no_user_may_publish_anothers_subjects() {
    let (by_user, env) = passwords();
    let placeholder = bus_access::server_config(&Subjects::new("placeholder"));
    let mut nats = PrivateNats::start_with_authorization(&placeholder, env);
    let url = nats.url();

    // Nobody gets in without a user.
    let anonymous = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .connect(url.as_str())
        .await;
    assert!(anonymous.is_err(), "a client without a user is refused");

    let mut ctx = TestContext::on_servers_as(
        &machine_postgres(),
        &url,
        1,
        Some(("ops", by_user["ops"].as_str())),
    )
    .await;
    nats.reauthorize(&bus_access::server_config(&ctx.subjects));
    ctx.settings.nats.ack_wait_secs = 3;
    ctx.settings.nats.max_deliver = 20;
    ctx.settings.database.max_connections = 4;

    // The api's part, as the api's user: its relay publishes the resolutions the simulated agent
    // writes to the outbox (and only what the api may publish).
    let (_api_client, api_js) = connect_as(&url, "api", &by_user["api"]).await;
    let api_relay = OutboxRelay::new(ctx.pool.clone(), api_js, Default::default()).only_subjects(
        &bus_access::user("api")
            .unwrap()
            .event_subjects(&ctx.subjects),
    );
    let stop_relay = CancellationToken::new();
    let relay = tokio::spawn(api_relay.run(stop_relay.clone()));

    let pipeline = Pipeline::start_as_users(&ctx.settings, 1, SlaRules::Fast, by_user.clone());
    let tag = "authed";
    tokio::join!(
        feed::publish(&ctx, tag, N),
        verify::drive(&ctx, tag, N, 0, Duration::from_secs(180))
    );
    verify::assert_exactly_once(&ctx, tag, N, &[]).await;

    // A worker's user may not publish another's subject: intake forging a resolution, an adapter
    // announcing a ticket, the survey worker announcing an SLA breach.
    for (user, subject) in [
        ("intake", "ticket.resolved"),
        ("adapter", "ticket.created"),
        ("survey", "sla.breached.billing"),
        ("sla", "survey.request.sms"),
    ] {
        let (_client, js) = connect_as(&url, user, &by_user[user]).await;
        let subject = ctx.subjects.subject(subject);
        let stored = async {
            js.publish(subject.clone(), "forged".into())
                .await
                .map_err(|e| e.to_string())?
                .await
                .map_err(|e| e.to_string())
        };
        let stored = tokio::time::timeout(Duration::from_secs(10), stored).await;
        assert!(
            !matches!(stored, Ok(Ok(_))),
            "{user} may not publish {subject}"
        );
    }
    // Nor read another's stream or delete it.
    let (_client, intake_js) = connect_as(&url, "intake", &by_user["intake"]).await;
    let deleted = tokio::time::timeout(
        Duration::from_secs(10),
        intake_js.delete_stream(ctx.subjects.stream_name(Stream::Ticket)),
    )
    .await;
    assert!(
        !matches!(deleted, Ok(Ok(_))),
        "a worker's user may not delete a stream"
    );
    for stream in [Stream::Ticket, Stream::Sla, Stream::DeadLetter] {
        let forged = verify::everything_on(&ctx, stream, &format!("{}.>", ctx.subjects.prefix()))
            .await
            .into_iter()
            .filter(|m| m.payload.as_ref() == b"forged")
            .count();
        assert_eq!(forged, 0, "nothing forged reached {stream:?}");
    }

    stop_relay.cancel();
    relay.await.unwrap();
    drop(pipeline);
}
