//! The whole pipeline as separate processes (intake → router → sla → survey), and what the api would do
//! to it: resolving tickets. Shared by the fault tests and the pipeline bench.

use std::collections::BTreeMap;
use std::path::PathBuf;

use shared::config::Settings;
use shared::messages::feedback::Priority;
use shared::messages::lifecycle::{LifecycleChange, Resolution, TicketLifecycleEvent};
use shared::messages::SCHEMA_VERSION;
use shared::outbox::{self, OutboxError, OutboxMessage};
use shared::subjects::Subjects;
use sqlx::PgPool;
use uuid::Uuid;

use crate::workers::WorkerProcess;

/// The workers in data-path order.
pub const WORKERS: [&str; 4] = ["intake", "router", "sla", "survey"];

/// Which SLA rules the sla worker runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaRules {
    /// `config/sla/sla.toml`: business-hours targets of hours and days (the bench).
    Production,
    /// `tests/data/sla/fast.toml`: a first-response target of seconds on a round-the-clock calendar, so
    /// warnings, breaches and escalations come due while a test runs.
    Fast,
}

impl SlaRules {
    fn path(self) -> PathBuf {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        PathBuf::from(root).join(match self {
            SlaRules::Production => "config/sla/sla.toml",
            SlaRules::Fast => "tests/data/sla/fast.toml",
        })
    }
}

/// Worker processes of every kind on one deployment (database, NATS, prefix). Dropping it kills them all.
pub struct Pipeline {
    settings: Settings,
    env: Vec<(&'static str, String)>,
    /// Each worker's NATS password by worker name, when the server has Loopdesk's users; a worker
    /// then connects as its own user.
    passwords: BTreeMap<String, String>,
    /// Live replicas, oldest first.
    pub workers: Vec<WorkerProcess>,
}

impl Pipeline {
    /// Starts `replicas` of each worker. Surveys are asked at once (no delay, no quiet hours), so a
    /// resolution turns into a survey request while the test or bench watches.
    pub fn start(settings: &Settings, replicas: usize, sla: SlaRules) -> Self {
        Self::start_as_users(settings, replicas, sla, BTreeMap::new())
    }

    /// As [`Pipeline::start`], each worker connecting to NATS as its own user with its password from
    /// `passwords` (by worker name).
    pub fn start_as_users(
        settings: &Settings,
        replicas: usize,
        sla: SlaRules,
        passwords: BTreeMap<String, String>,
    ) -> Self {
        let mut env = vec![
            (
                "LOOPDESK__SURVEY__TOKEN_SECRET",
                Uuid::new_v4().simple().to_string(),
            ),
            // The pipeline asks at once, whatever the business's setup says: the deployment's own values.
            ("LOOPDESK__SURVEY__FROM_SETUP", "false".to_string()),
            ("LOOPDESK__SURVEY__POLICY__DELAY", "0s".to_string()),
            ("LOOPDESK__SURVEY__POLICY__QUIET_START", "00:00".to_string()),
            ("LOOPDESK__SURVEY__POLICY__QUIET_END", "00:00".to_string()),
            // The SLA worker measures with the rules file the test gives, not the business's setup.
            ("LOOPDESK__SLA__FROM_SETUP", "false".to_string()),
            (
                "LOOPDESK__SLA__RULES_FILE",
                sla.path().display().to_string(),
            ),
            (
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            ),
        ];
        if sla == SlaRules::Fast {
            // Targets of seconds: a ticket the router has not classified (it is being killed) starts
            // its clocks after 1 s rather than the default 30 s, or its 6 s deadline would pass unseen.
            env.push(("LOOPDESK__SLA__START_WITHIN_MS", "1000".to_string()));
        }
        let mut p = Self {
            settings: settings.clone(),
            env,
            passwords,
            workers: Vec::new(),
        };
        for _ in 0..replicas {
            for name in WORKERS {
                p.spawn(name);
            }
        }
        p
    }

    /// Starts one more replica of `name`, as an orchestrator replaces a dead one.
    pub fn spawn(&mut self, name: &str) {
        let args: &[&str] = if name == "router" { &["run"] } else { &[] };
        let mut env = self.env.clone();
        if let Some(password) = self.passwords.get(name) {
            env.push(("LOOPDESK__NATS__USER", name.to_string()));
            env.push(("LOOPDESK__NATS__PASSWORD", password.clone()));
        }
        self.workers.push(WorkerProcess::spawn_with_args(
            name,
            args,
            &self.settings,
            &env,
        ));
    }

    /// SIGKILLs the oldest live replica of `name`; false when none runs.
    pub fn sigkill_one(&mut self, name: &str) -> bool {
        match self.workers.iter().position(|w| w.name == name) {
            Some(i) => {
                self.workers.remove(i).sigkill();
                true
            }
            None => false,
        }
    }

    /// CPU seconds (summed over replicas) and peak resident MiB (largest replica) per worker kind.
    pub fn usage(&self) -> BTreeMap<String, (f64, f64)> {
        let mut per_worker: BTreeMap<String, (f64, f64)> = BTreeMap::new();
        for w in &self.workers {
            if let Some((cpu, mem)) = w.usage() {
                let e = per_worker.entry(w.name.clone()).or_default();
                e.0 += cpu;
                e.1 = e.1.max(mem);
            }
        }
        per_worker
    }
}

/// The `ticket.resolved` event the api publishes when an agent resolves a ticket.
pub fn resolved_event(
    ticket_id: Uuid,
    ticket_no: &str,
    department: Option<String>,
    actor: &str,
) -> TicketLifecycleEvent {
    TicketLifecycleEvent {
        schema_version: SCHEMA_VERSION,
        event_id: Uuid::now_v7(),
        ticket_id,
        ticket_no: ticket_no.to_string(),
        occurred_at: chrono::Utc::now(),
        actor: actor.to_string(),
        department,
        priority: Some(Priority::General),
        change: LifecycleChange::Resolved {
            resolution: Resolution::Full,
            reason: None,
            first_contact: true,
        },
    }
}

/// Resolves `ids` as the api does: the status change and a `ticket.resolved` event through the outbox,
/// in one transaction. A ticket already resolved is left alone, so retrying after an error whose commit
/// may have gone through never resolves a ticket twice. Returns how many were resolved now.
pub async fn resolve(
    pool: &PgPool,
    subjects: &Subjects,
    ids: &[Uuid],
    actor: &str,
) -> Result<usize, OutboxError> {
    let mut tx = pool.begin().await?;
    let rows: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
        "update tickets set status = 'resolved' where id = any($1) and status <> 'resolved'
         returning id, ticket_no, lead_department",
    )
    .bind(ids)
    .fetch_all(&mut *tx)
    .await?;
    let events = rows
        .iter()
        .map(|(id, no, dept)| {
            let e = resolved_event(*id, no, dept.clone(), actor);
            OutboxMessage::json(subjects.subject(&e.subject_suffix()), &e)
        })
        .collect::<Result<Vec<_>, _>>()?;
    outbox::enqueue(&mut tx, &events).await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// Resolves every ticket not resolved yet, 500 per transaction; returns how many.
pub async fn resolve_all(pool: &PgPool, subjects: &Subjects, actor: &str) -> usize {
    let ids: Vec<Uuid> = sqlx::query_scalar("select id from tickets where status <> 'resolved'")
        .fetch_all(pool)
        .await
        .expect("tickets");
    let mut resolved = 0;
    for chunk in ids.chunks(500) {
        resolved += resolve(pool, subjects, chunk, actor)
            .await
            .expect("tickets resolved");
    }
    resolved
}

/// Resolves, 500 per transaction, the tickets that are routed (or waiting for review) and whose
/// first-response deadline has been breached: an agent who closes tickets only once the SLA worker has
/// shouted, so every ticket goes through warning, breach, escalation, resolution and survey. Returns how
/// many it resolved; errors (a server down) are the caller's to retry.
pub async fn resolve_breached(
    pool: &PgPool,
    subjects: &Subjects,
    actor: &str,
) -> Result<usize, OutboxError> {
    let mut resolved = 0;
    loop {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "select t.id from tickets t
             join sla_clocks c on c.ticket_id = t.id and c.kind = 'first_response'
             where t.status <> 'resolved' and t.classified_at is not null
               and c.breached_at is not null
             limit 500",
        )
        .fetch_all(pool)
        .await?;
        if ids.is_empty() {
            return Ok(resolved);
        }
        resolved += resolve(pool, subjects, &ids, actor).await?;
    }
}
