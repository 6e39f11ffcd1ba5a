//! Test harness: a fresh database and subject prefix per test (shared::testkit), a survey context with a
//! manual clock, and helpers to make tickets, feed lifecycle events and read what the worker wrote.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use shared::consumer::{BatchHandler, Delivery, Outcome};
use shared::messages::feedback::Priority;
use shared::messages::lifecycle::{LifecycleChange, Resolution, TicketLifecycleEvent};
use shared::messages::SCHEMA_VERSION;
use shared::testkit::TestContext;
use survey::resolved::LifecycleHandler;
use survey::respond::ResponseHandler;
use survey::settings::{OnUnsatisfied, SurveySettings};
use survey::{Clock, Ctx, TokenSigner};
use uuid::Uuid;

pub const SECRET: &str = "test-only-secret-0123456789abcdef0123";

pub struct Harness {
    pub tc: TestContext,
    pub ctx: Ctx,
}

/// `y-m-d h:m` in Asia/Shanghai (the default zone for quiet hours).
pub fn sh(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .unwrap()
        .with_timezone(&Utc)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SurveyRow {
    pub id: Uuid,
    pub cycle: i32,
    pub status: String,
    pub channel: String,
    pub send_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub reminded_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AnswerRow {
    pub survey_id: Option<Uuid>,
    pub via: String,
    pub accepted: bool,
    pub reason: Option<String>,
    pub satisfaction: Option<String>,
    pub score: Option<i16>,
    pub nps: Option<i16>,
    pub comment: Option<String>,
    pub raw: Option<Vec<u8>>,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(tweak: impl FnOnce(&mut SurveySettings)) -> Self {
        let tc = TestContext::new().await;
        let mut settings = SurveySettings::for_tests(SECRET, chrono_tz::Asia::Shanghai);
        tweak(&mut settings);
        let ctx = Ctx::new(
            tc.pool.clone(),
            tc.subjects.clone(),
            Arc::new(settings),
            TokenSigner::new(SECRET.to_string().into()),
            Clock::manual(sh(2026, 3, 2, 10, 0)),
        );
        Self { tc, ctx }
    }

    pub fn escalating(s: &mut SurveySettings) {
        s.policy.on_unsatisfied = OnUnsatisfied::Escalate;
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.ctx.clock.now()
    }

    pub fn set_now(&self, at: DateTime<Utc>) {
        self.ctx.clock.set(at);
    }

    /// A resolved ticket of `channel` with the given contact details.
    pub async fn ticket(
        &self,
        channel: &str,
        phone: Option<&str>,
        customer_id: Option<&str>,
    ) -> (Uuid, String) {
        let id = Uuid::now_v7();
        let no = format!("20260302{:03}", rand_serial());
        sqlx::query(
            "insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at, customer_id,
                 customer_name, customer_phone, customer_email, description, status)
             values ($1, $2, $3, $4, $5, $5, $6, '张三', $7, 'zhang.san@example.com', '订单一直没发货', 'resolved')",
        )
        .bind(id)
        .bind(&no)
        .bind(channel)
        .bind(id.to_string())
        .bind(self.now())
        .bind(customer_id)
        .bind(phone)
        .execute(&self.tc.pool)
        .await
        .unwrap();
        (id, no)
    }

    pub fn resolved_event(
        &self,
        ticket: &(Uuid, String),
        at: DateTime<Utc>,
    ) -> TicketLifecycleEvent {
        TicketLifecycleEvent {
            schema_version: SCHEMA_VERSION,
            event_id: Uuid::now_v7(),
            ticket_id: ticket.0,
            ticket_no: ticket.1.clone(),
            occurred_at: at,
            actor: "agent:li.wei".into(),
            department: Some("customer_service".into()),
            priority: Some(Priority::General),
            change: LifecycleChange::Resolved {
                resolution: Resolution::Full,
                reason: None,
                first_contact: true,
            },
        }
    }

    /// Feeds lifecycle events to the handler as the consumer would.
    pub async fn lifecycle(&self, events: &[TicketLifecycleEvent]) -> Vec<Outcome> {
        let batch: Vec<Delivery> = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                delivery(
                    &self.tc.subjects.subject(&e.subject_suffix()),
                    serde_json::to_vec(e).unwrap(),
                    i,
                )
            })
            .collect();
        LifecycleHandler {
            ctx: self.ctx.clone(),
        }
        .handle(&batch)
        .await
        .unwrap()
    }

    /// Resolves `ticket` now and returns its (new) survey.
    pub async fn resolve(&self, ticket: &(Uuid, String)) -> SurveyRow {
        let e = self.resolved_event(ticket, self.now());
        assert_eq!(self.lifecycle(&[e]).await, vec![Outcome::Done]);
        self.surveys(ticket.0).await.pop().unwrap()
    }

    /// Feeds raw response payloads on `survey.response.{channel}`.
    pub async fn respond(&self, channel: &str, payloads: &[serde_json::Value]) -> Vec<Outcome> {
        let subject = self
            .tc
            .subjects
            .subject(&format!("survey.response.{channel}"));
        let batch: Vec<Delivery> = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| delivery(&subject, serde_json::to_vec(p).unwrap(), i))
            .collect();
        ResponseHandler {
            ctx: self.ctx.clone(),
        }
        .handle(&batch)
        .await
        .unwrap()
    }

    pub async fn fire(&self) -> usize {
        survey::timers::fire_due(&self.ctx, 100).await.unwrap()
    }

    /// A replica built as `main` builds it, on this harness's database, prefix, secret and manual
    /// clock (the test fires the timers itself), running `settings`.
    pub async fn replica(&self, settings: SurveySettings) -> survey::startup::Application {
        survey::startup::Application::build(
            self.tc.settings.clone(),
            survey::startup::SurveyConfig {
                settings,
                signer: self.ctx.signer.clone(),
                clock: self.ctx.clock.clone(),
            },
            tokio_util::sync::CancellationToken::new(),
        )
        .await
        .expect("survey starts")
    }

    /// The ticket's surveys once a consumer over the bus has scheduled one (waits up to 20 s).
    pub async fn surveys_scheduled(&self, ticket_id: Uuid) -> Vec<SurveyRow> {
        for _ in 0..400 {
            let surveys = self.surveys(ticket_id).await;
            if !surveys.is_empty() {
                return surveys;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no survey was scheduled for ticket {ticket_id} within 20 s");
    }

    pub async fn surveys(&self, ticket_id: Uuid) -> Vec<SurveyRow> {
        sqlx::query_as(
            "select id, cycle, status, channel, send_at, sent_at, reminded_at, expires_at, due_at
             from surveys where ticket_id = $1 order by cycle, created_at",
        )
        .bind(ticket_id)
        .fetch_all(&self.tc.pool)
        .await
        .unwrap()
    }

    pub async fn answers(&self) -> Vec<AnswerRow> {
        sqlx::query_as(
            "select survey_id, via, accepted, reason, satisfaction, score, nps, comment, raw
             from survey_answers order by id",
        )
        .fetch_all(&self.tc.pool)
        .await
        .unwrap()
    }

    /// Events waiting in the outbox on `{prefix}.{suffix}` (no relay runs in these tests), in order.
    pub async fn outbox(&self, suffix: &str) -> Vec<serde_json::Value> {
        let rows: Vec<Vec<u8>> =
            sqlx::query_scalar("select payload from outbox where subject = $1 order by seq")
                .bind(self.tc.subjects.subject(suffix))
                .fetch_all(&self.tc.pool)
                .await
                .unwrap();
        rows.into_iter()
            .map(|p| serde_json::from_slice(&p).unwrap())
            .collect()
    }

    pub async fn timeline_kinds(&self, ticket_id: Uuid) -> Vec<String> {
        shared::timeline::for_ticket(&self.tc.pool, ticket_id)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }

    pub async fn ticket_status(&self, ticket_id: Uuid) -> String {
        sqlx::query_scalar("select status from tickets where id = $1")
            .bind(ticket_id)
            .fetch_one(&self.tc.pool)
            .await
            .unwrap()
    }

    /// Sends the survey of `ticket` (resolve, move to its send time, fire) and returns the request's token.
    pub async fn sent_survey(&self, ticket: &(Uuid, String)) -> (SurveyRow, String) {
        self.resolve(ticket).await;
        self.send_scheduled(ticket).await
    }

    /// Sends the ticket's scheduled survey (moving the clock to its send time) and returns its token.
    pub async fn send_scheduled(&self, ticket: &(Uuid, String)) -> (SurveyRow, String) {
        let s = self.surveys(ticket.0).await.pop().unwrap();
        if s.send_at > self.now() {
            self.set_now(s.send_at);
        }
        assert!(self.fire().await >= 1);
        let requests = self.outbox(&format!("survey.request.{}", s.channel)).await;
        let req = requests
            .iter()
            .rev()
            .find(|r| r["survey_id"] == serde_json::json!(s.id))
            .expect("the request is in the outbox");
        let token = req["token"].as_str().unwrap().to_string();
        let s = self.surveys(ticket.0).await.pop().unwrap();
        (s, token)
    }
}

fn rand_serial() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

pub fn delivery(subject: &str, payload: Vec<u8>, seq: usize) -> Delivery {
    Delivery {
        subject: subject.to_string(),
        payload: payload.into(),
        headers: None,
        delivered: 1,
        stream_sequence: seq as u64 + 1,
    }
}
