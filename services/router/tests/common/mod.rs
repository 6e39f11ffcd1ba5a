//! Helpers for the router's integration tests: a private copy of the config, tickets written the way
//! intake writes them, and a running router replica on the test's own database and subject prefix.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use loopdesk_router::settings::RouterSettings;
use loopdesk_router::startup::Application;
use shared::messages::feedback::Channel;
use shared::messages::ticket::{CustomerHistory, MaskedCustomer, TicketCreated};
use shared::messages::SCHEMA_VERSION;
use shared::testkit::TestContext;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The repository's `config/router`.
pub fn repo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/router")
}

/// A private copy of the router config this test may change.
pub fn config_copy() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("router-cfg-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("models")).expect("temp config dir");
    for f in ["labels.toml", "rules.toml", "routing.toml"] {
        std::fs::copy(repo_config().join(f), dir.join(f)).expect("copy config file");
    }
    for m in ["category.json", "priority.json", "feedback_type.json"] {
        std::fs::copy(
            repo_config().join("models").join(m),
            dir.join("models").join(m),
        )
        .expect("copy model");
    }
    dir
}

/// Start a router replica on the test context.
pub async fn start(ctx: &TestContext, config_dir: &Path) -> (Application, CancellationToken) {
    let shutdown = CancellationToken::new();
    let app = Application::build(
        ctx.settings.clone(),
        RouterSettings {
            config_dir: config_dir.to_path_buf(),
            reload_ms: 100,
            examples: repo_config().join("../../tests/data/router/labelled.tsv"),
            adopted_poll_secs: 1,
        },
        shutdown.clone(),
    )
    .await
    .expect("router starts");
    (app, shutdown)
}

/// Insert a ticket as intake would and return its id and number.
pub async fn insert_ticket(ctx: &TestContext, text: &str, channel: &str) -> (Uuid, String) {
    let id = Uuid::new_v4();
    let no = format!("2026112{}", &id.simple().to_string()[..8]);
    sqlx::query(
        "insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at,
                              customer_name, customer_phone, description)
         values ($1, $2, $3, $4, now(), now(), '张三', '13812345678', $5)",
    )
    .bind(id)
    .bind(&no)
    .bind(channel)
    .bind(id.to_string())
    .bind(text)
    .execute(&ctx.pool)
    .await
    .expect("ticket inserted");
    (id, no)
}

/// The `ticket.created` intake would publish for it.
pub fn created(id: Uuid, no: &str, text: &str) -> Vec<u8> {
    let m = TicketCreated {
        schema_version: SCHEMA_VERSION,
        ticket_id: id,
        ticket_no: no.to_string(),
        channel: Channel::App,
        submitted_at: Utc::now(),
        received_at: Utc::now(),
        customer: MaskedCustomer {
            id: None,
            name: Some("张先生/女士".into()),
            phone: Some("*******5678".into()),
            customer_type: None,
        },
        order_number: None,
        description: text.to_string(),
        feedback_type: None,
        tags: vec![],
        priority: None,
        expected_resolution_at: None,
        attachments: vec![],
        info_source: None,
        ivr: None,
        history: CustomerHistory {
            previous_tickets: 0,
            likely_duplicate_of: None,
            duplicate_similarity: None,
        },
    };
    serde_json::to_vec(&m).expect("serialisable")
}

/// Insert a ticket and publish its `ticket.created`.
pub async fn submit(ctx: &TestContext, text: &str) -> Uuid {
    let (id, no) = insert_ticket(ctx, text, "app").await;
    ctx.publish(ctx.subjects.ticket_created(), created(id, &no, text))
        .await;
    id
}

/// Wait until `sql` (taking the ticket id) returns true, or panic after 15 s.
pub async fn wait_for(ctx: &TestContext, sql: &str, id: Uuid) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let ok: Option<bool> = sqlx::query_scalar(sql)
            .bind(id)
            .fetch_optional(&ctx.pool)
            .await
            .expect("poll query");
        if ok == Some(true) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {sql}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until the ticket has been classified (revision `rev` or later).
pub async fn classified(ctx: &TestContext, id: Uuid) {
    wait_for(
        ctx,
        "select classified_at is not null from tickets where id = $1",
        id,
    )
    .await;
}

/// (lead, departments, status, owner) of a ticket.
pub async fn routing_of(
    ctx: &TestContext,
    id: Uuid,
) -> (Option<String>, Vec<String>, String, Option<String>) {
    sqlx::query_as("select lead_department, departments, status, owner from tickets where id = $1")
        .bind(id)
        .fetch_one(&ctx.pool)
        .await
        .expect("ticket row")
}
