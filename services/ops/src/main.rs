//! `loopdesk-ops`: look at and repair a running Loopdesk. Reads the same configuration as the workers.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use shared::subjects::Subjects;

#[derive(Parser)]
#[command(
    name = "loopdesk-ops",
    about = "Streams, consumers, dead letters and the demo feed"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Streams with their consumers, pending and in-flight counts, and the outbox lag.
    Status,
    /// Dead letters with their errors.
    DeadLetters {
        #[arg(long)]
        consumer: Option<String>,
    },
    /// Republish dead letters to where they came from (after the fix is deployed).
    Replay {
        #[arg(long)]
        consumer: Option<String>,
    },
    /// Delete dead letters that will not be replayed (they are kept until replayed or deleted). Name
    /// one by its `--sequence` (from `dead-letters`), a `--consumer`'s, or `--all`.
    DeleteDeadLetter {
        #[arg(long, conflicts_with_all = ["consumer", "all"])]
        sequence: Option<u64>,
        #[arg(long, conflicts_with = "all")]
        consumer: Option<String>,
        #[arg(long)]
        all: bool,
    },
    /// Write the NATS server's users and permissions, generated from the bus permission table
    /// (shared/src/bus_access.rs), for the configured prefix. Needs no server.
    NatsAccounts {
        #[arg(long, default_value = "deploy/nats/accounts.conf")]
        out: PathBuf,
    },
    /// Push one example per channel through the pipeline and print the tickets made.
    DemoFeed {
        #[arg(long, default_value = "shared/examples")]
        examples: PathBuf,
        /// Seconds to wait for the tickets.
        #[arg(long, default_value_t = 30)]
        wait: u64,
    },
    /// Demo users (one per role, passwords generated and printed once) and demo tickets in every
    /// channel and status, worked through the api at `--api` with LOOPDESK_ADMIN_TOKEN.
    DemoSeed {
        #[arg(long, default_value = "http://127.0.0.1:8084")]
        api: String,
        #[arg(long, default_value = "shared/examples")]
        examples: PathBuf,
        /// Seconds to wait for the pipeline to route the tickets.
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// The newest tickets, masked as a department would see them.
    Tickets {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init("loopdesk_ops");
    let cli = Cli::parse();
    let (settings, _) = shared::config::load()?;
    let subjects = Subjects::new(settings.prefix.clone());
    if let Command::NatsAccounts { out } = &cli.command {
        std::fs::write(out, shared::bus_access::server_config(&subjects))?;
        println!("wrote {} for prefix {}", out.display(), subjects.prefix());
        return Ok(());
    }
    let (_client, js) = shared::bus::connect(&settings.nats).await?;
    match cli.command {
        Command::Status => {
            for s in ops::status::streams(&js, &subjects).await? {
                println!("stream {} messages={}", s.stream, s.messages);
                for c in s.consumers {
                    println!(
                        "  consumer {} filter={} pending={} ack_pending={} redelivered={}",
                        c.name, c.filter, c.pending, c.ack_pending, c.redelivered
                    );
                }
            }
            let pool = shared::db::connect(&settings.database).await?;
            println!("outbox_lag={}", shared::outbox::pending(&pool).await?);
        }
        Command::DeadLetters { consumer } => {
            let letters = ops::dead_letters::list(&js, &subjects, consumer.as_deref()).await?;
            for l in &letters {
                println!("{}", serde_json::to_string(l)?);
            }
            println!("dead_letters={}", letters.len());
        }
        Command::Replay { consumer } => {
            let n = ops::dead_letters::replay(&js, &subjects, consumer.as_deref()).await?;
            println!("replayed={n}");
        }
        Command::DeleteDeadLetter {
            sequence,
            consumer,
            all,
        } => {
            use ops::dead_letters::Deletion;
            let which = match (sequence, consumer.as_deref(), all) {
                (Some(s), None, false) => Deletion::Sequence(s),
                (None, Some(c), false) => Deletion::Consumer(c),
                (None, None, true) => Deletion::All,
                _ => anyhow::bail!("name what to delete: --sequence N, --consumer NAME or --all"),
            };
            let n = ops::dead_letters::delete(&js, &subjects, which).await?;
            println!("deleted={n}");
        }
        Command::DemoFeed { examples, wait } => {
            let feed = ops::demo::examples(&examples)?;
            ops::demo::publish(&js, &subjects, &feed).await?;
            println!("published {} submissions, one per channel", feed.len());
            let pool = shared::db::connect(&settings.database).await?;
            let ids: Vec<String> = feed
                .iter()
                .map(|(_, b)| b["external_id"].as_str().unwrap_or_default().to_string())
                .collect();
            let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
            loop {
                let n: i64 =
                    sqlx::query_scalar("select count(*) from tickets where external_id = any($1)")
                        .bind(&ids)
                        .fetch_one(&pool)
                        .await?;
                if n as usize >= ids.len() || tokio::time::Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            print_tickets(&pool, Some(&ids), ids.len() as i64).await?;
        }
        Command::DemoSeed {
            api,
            examples,
            wait,
        } => {
            let token = std::env::var("LOOPDESK_ADMIN_TOKEN").map_err(|_| {
                anyhow::anyhow!("LOOPDESK_ADMIN_TOKEN must hold the bootstrap admin token")
            })?;
            let client = ops::seed::Api::new(&api, &token);
            let logins = ops::seed::users(&client).await?;
            let pool = shared::db::connect(&settings.database).await?;
            let counts = ops::seed::tickets(
                &js,
                &subjects,
                &pool,
                &client,
                &examples,
                Duration::from_secs(wait),
            )
            .await?;
            for (status, n) in &counts {
                println!("tickets status={status} count={n}");
            }
            // Printed once: these passwords are for this local demo only.
            for l in &logins {
                println!(
                    "login name={} role={} department={} password={}",
                    l.name,
                    l.role,
                    l.department.as_deref().unwrap_or("-"),
                    l.password
                );
            }
        }
        Command::NatsAccounts { .. } => unreachable!("handled before connecting"),
        Command::Tickets { limit } => {
            let pool = shared::db::connect(&settings.database).await?;
            print_tickets(&pool, None, limit).await?;
        }
    }
    Ok(())
}

async fn print_tickets(
    pool: &sqlx::PgPool,
    ids: Option<&[String]>,
    limit: i64,
) -> anyhow::Result<()> {
    type TicketLine = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
    );
    let rows: Vec<TicketLine> = sqlx::query_as(
        "select ticket_no, channel, status, customer_name, customer_phone, description from tickets
         where $1::text[] is null or external_id = any($1)
         order by received_at desc, ticket_no desc limit $2",
    )
    .bind(ids)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    for (no, channel, status, name, phone, description) in rows {
        let name = name
            .as_deref()
            .map(shared::pii::mask_name)
            .unwrap_or_default();
        let phone = phone
            .as_deref()
            .map(shared::pii::mask_phone)
            .unwrap_or_default();
        let text: String = description.chars().take(40).collect();
        println!("{no}  {channel:<6} {status:<12} {name} {phone}  {text}");
    }
    Ok(())
}
