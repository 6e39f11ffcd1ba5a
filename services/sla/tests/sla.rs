//! The SLA worker against a real Postgres and a real NATS server, each test in its own database and
//! subject prefix (shared::testkit).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, Duration as ChronoDuration, Utc};
use loopdesk_sla::events::TicketEventHandler;
use loopdesk_sla::firing::{Firer, FiringSettings};
use loopdesk_sla::policy::SlaRules;
use loopdesk_sla::startup::{Application, SlaConfig};
use loopdesk_sla::SlaSettings;
use shared::consumer::{Delivery, Outcome};
use shared::messages::feedback::{Channel, Priority};
use shared::messages::lifecycle::{LifecycleChange, TicketLifecycleEvent};
use shared::messages::router::{DecidedLabel, TicketClassified};
use shared::messages::sla::{SlaAlert, SlaNotice};
use shared::messages::ticket::{CustomerHistory, MaskedCustomer, TicketCreated};
use shared::messages::SCHEMA_VERSION;
use shared::subjects::Stream;
use shared::testkit::TestContext;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Round-the-clock calendars and short targets so deadlines come due inside a test.
const FAST: &str = r#"
default_calendar = "always"
[policy.clocks.registration]
target = "30m"
[policy.clocks.first_response]
urgent = "2s"
general = "1h"
suggestion = "3h"
[policy.clocks.proactive_contact]
target = "1h"
[policy.clocks.resolution]
target = "10h"
[departments.customer_service]
calendar = "always"
supervisor = "supervisor:cs"
[calendars.always]
always_open = true
"#;

fn rules(text: &str) -> Arc<SlaRules> {
    Arc::new(SlaRules::from_toml(text).expect("test rules are valid"))
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count query")
}

async fn wait_count(pool: &PgPool, sql: &str, want: i64, timeout: Duration) -> i64 {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = count(pool, sql).await;
        if n >= want || tokio::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A ticket row as intake writes it (the timeline refers to it).
async fn insert_ticket(pool: &PgPool, id: Uuid, no: &str, submitted: DateTime<Utc>) {
    sqlx::query(
        "insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at, description)
         values ($1, $2, 'form', $3, $4, $4, 'test')",
    )
    .bind(id)
    .bind(no)
    .bind(id.to_string())
    .bind(submitted)
    .execute(pool)
    .await
    .expect("ticket inserted");
}

fn created(
    id: Uuid,
    no: &str,
    submitted: DateTime<Utc>,
    priority: Option<Priority>,
) -> TicketCreated {
    TicketCreated {
        schema_version: SCHEMA_VERSION,
        ticket_id: id,
        ticket_no: no.to_owned(),
        channel: Channel::Form,
        submitted_at: submitted,
        received_at: submitted,
        customer: MaskedCustomer {
            id: Some("c1".into()),
            name: None,
            phone: None,
            customer_type: None,
        },
        order_number: None,
        description: "登录不了".into(),
        feedback_type: None,
        tags: vec![],
        priority,
        expected_resolution_at: None,
        attachments: vec![],
        info_source: None,
        ivr: None,
        history: CustomerHistory {
            previous_tickets: 0,
            likely_duplicate_of: None,
            duplicate_similarity: None,
        },
    }
}

fn label(code: &str) -> DecidedLabel {
    DecidedLabel {
        code: code.into(),
        name: code.into(),
        confidence: 0.9,
        source: "rules".into(),
        reasons: vec![],
    }
}

fn classified(
    id: Uuid,
    no: &str,
    at: DateTime<Utc>,
    priority: Priority,
    dept: &str,
) -> TicketClassified {
    TicketClassified {
        schema_version: SCHEMA_VERSION,
        event_id: Uuid::now_v7(),
        ticket_id: id,
        ticket_no: no.into(),
        occurred_at: at,
        revision: 0,
        actor: "worker:router".into(),
        category: label("technical_fault"),
        priority,
        priority_decision: label(priority.as_str()),
        feedback_type: label("product_quality"),
        tags: vec![],
        lead_department: Some(dept.into()),
        departments: vec![dept.into()],
        needs_review: false,
        review_reasons: vec![],
        routing_reasons: vec![],
    }
}

fn lifecycle(
    id: Uuid,
    no: &str,
    at: DateTime<Utc>,
    change: LifecycleChange,
) -> TicketLifecycleEvent {
    TicketLifecycleEvent {
        schema_version: SCHEMA_VERSION,
        event_id: Uuid::now_v7(),
        ticket_id: id,
        ticket_no: no.into(),
        occurred_at: at,
        actor: "agent:li".into(),
        department: None,
        priority: None,
        change,
    }
}

fn delivery<T: serde::Serialize>(ctx: &TestContext, rest: &str, m: &T, seq: u64) -> Delivery {
    Delivery {
        subject: ctx.subjects.subject(rest),
        payload: serde_json::to_vec(m).expect("serialises").into(),
        headers: None,
        delivered: 1,
        stream_sequence: seq,
    }
}

/// `n` tickets submitted 3 hours ago with general priority: registration (30 min) and first response
/// (1 h) are overdue, resolution (10 h) is not. Returns their ids.
async fn seed_overdue(ctx: &TestContext, rules: &Arc<SlaRules>, n: usize) -> Vec<Uuid> {
    let handler = TicketEventHandler {
        pool: ctx.pool.clone(),
        rules: rules.clone().into(),
        subjects: ctx.subjects.clone(),
        firing: None,
        start_within: Duration::ZERO,
    };
    let submitted = Utc::now() - ChronoDuration::hours(3);
    let mut ids = Vec::new();
    let mut batch = Vec::new();
    for i in 0..n {
        let id = Uuid::now_v7();
        let no = format!("20261123{i:05}");
        insert_ticket(&ctx.pool, id, &no, submitted).await;
        batch.push(delivery(
            ctx,
            "ticket.created",
            &created(id, &no, submitted, Some(Priority::General)),
            i as u64 + 1,
        ));
        ids.push(id);
    }
    for chunk in batch.chunks(200) {
        let outcomes = handler.apply(chunk).await.expect("batch applies");
        assert!(outcomes.iter().all(|o| *o == Outcome::Done), "{outcomes:?}");
    }
    ids
}

fn firer(ctx: &TestContext, rules: &Arc<SlaRules>, batch: i64) -> Firer {
    Firer {
        pool: ctx.pool.clone(),
        rules: rules.clone().into(),
        subjects: ctx.subjects.clone(),
        settings: FiringSettings {
            batch,
            ..Default::default()
        },
        observer: None,
        planned: Default::default(),
    }
}

/// Fires until nothing more is due; returns the number of timers this firer claimed.
async fn drain(f: Firer) -> usize {
    let mut total = 0;
    loop {
        let pass = f.fire_once().await.expect("firing pass");
        if pass.claimed == 0 {
            return total;
        }
        total += pass.claimed;
    }
}

/// Every (ticket, clock) breached at most once, and exactly `want` breaches overall. `outbox`: no
/// relay runs, so the notices are still in the outbox to count.
async fn assert_exactly_once(pool: &PgPool, want: i64, outbox: bool) {
    let dup = count(
        pool,
        "select count(*) from (select ticket_id, data->>'clock' from ticket_events
          where kind = 'sla_breached' group by 1, 2 having count(*) > 1) d",
    )
    .await;
    assert_eq!(dup, 0, "a clock breached twice");
    assert_eq!(
        count(
            pool,
            "select count(*) from ticket_events where kind = 'sla_breached'"
        )
        .await,
        want
    );
    if outbox {
        assert_eq!(
            count(
                pool,
                "select count(*) from outbox where subject like '%.sla.breached.%'"
            )
            .await,
            want,
            "one breach notice per breach"
        );
        assert_eq!(
            count(
                pool,
                "select count(*) from outbox where subject like '%.sla.escalated.%'"
            )
            .await,
            want,
            "a breach in notify hours is escalated at once"
        );
        assert_eq!(
            count(
                pool,
                "select count(*) from outbox where subject like '%.sla.warning.%'"
            )
            .await,
            0,
            "warnings overtaken by their breach are not sent"
        );
    }
    assert_eq!(
        count(
            pool,
            "select count(*) from sla_timers where fired_at is null and due_at <= now()"
        )
        .await,
        0,
        "nothing due is left"
    );
}

#[tokio::test]
async fn two_replicas_never_double_fire() {
    let ctx = TestContext::new().await;
    let rules = rules(FAST);
    let ids = seed_overdue(&ctx, &rules, 150).await;
    // Two firers with small batches race over the same 300 due timers.
    let (a, b) = tokio::join!(
        tokio::spawn(drain(firer(&ctx, &rules, 7))),
        tokio::spawn(drain(firer(&ctx, &rules, 7)))
    );
    let (a, b) = (a.expect("replica a"), b.expect("replica b"));
    // Per ticket: registration and first response each have two warnings and a breach due.
    assert_eq!(
        a + b,
        6 * ids.len(),
        "every due timer claimed once ({a} + {b})"
    );
    assert_exactly_once(&ctx.pool, 2 * ids.len() as i64, true).await;
    // The clocks remember the breach, so a replanned clock cannot breach again in this cycle.
    assert_eq!(
        count(
            &ctx.pool,
            "select count(*) from sla_clocks where breached_at is not null"
        )
        .await,
        2 * ids.len() as i64
    );
}

#[tokio::test]
async fn a_replica_killed_mid_batch_loses_nothing() {
    let ctx = TestContext::new().await;
    let rules = rules(FAST);
    let ids = seed_overdue(&ctx, &rules, 40).await;

    // Hold one ticket's lock so the victim blocks after claiming its batch, before committing.
    let mut holder = ctx.pool.begin().await.expect("holder tx");
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(loopdesk_sla::store::lock_key(ids[0]))
        .execute(&mut *holder)
        .await
        .expect("lock held");
    let victim = tokio::spawn(drain(firer(&ctx, &rules, 1000)));
    let waiting = wait_count(
        &ctx.pool,
        "select count(*) from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'
            and query like '%pg_advisory_xact_lock%'",
        1,
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(
        waiting, 1,
        "the victim claimed its batch and is blocked before commit"
    );
    // The replica dies mid-batch: its task ends and its database session goes with it (what a
    // SIGKILL does to a process).
    victim.abort();
    let _ = victim.await;
    let victim_pids: Vec<i32> = sqlx::query_scalar(
        "select pid from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock'
            and query like '%pg_advisory_xact_lock%'",
    )
    .fetch_all(&ctx.pool)
    .await
    .expect("victim session");
    sqlx::query("select pg_terminate_backend(pid) from unnest($1::int[]) as pid")
        .bind(&victim_pids)
        .execute(&ctx.pool)
        .await
        .expect("victim session ended");
    // Terminating only signals the backend: its claimed rows stay locked until it has exited, and a
    // survivor starting earlier would skip them and find nothing due.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left: i64 = sqlx::query_scalar(
            "select (select count(*) from pg_stat_activity where pid = any($1))
                  + (select count(*) from pg_locks where pid = any($1))",
        )
        .bind(&victim_pids)
        .fetch_one(&ctx.pool)
        .await
        .expect("victim gone");
        if left == 0 || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    holder.rollback().await.expect("lock released");

    // Nothing of the dead replica's batch was committed; a survivor fires every timer once.
    let fired = drain(firer(&ctx, &rules, 25)).await;
    assert_eq!(fired, 6 * ids.len());
    assert_exactly_once(&ctx.pool, 2 * ids.len() as i64, true).await;
}

#[tokio::test]
async fn timers_due_while_every_replica_was_down_fire_once_on_recovery() {
    let ctx = TestContext::new().await;
    let rules = rules(FAST);
    // Planned and come due while no firing loop ran.
    let ids = seed_overdue(&ctx, &rules, 20).await;
    let app = Application::build(
        ctx.settings.clone(),
        SlaConfig::new(rules_file_only(), rules.clone()),
        CancellationToken::new(),
    )
    .await
    .expect("sla starts");
    let seen = ctx
        .collect(
            Stream::Sla,
            &ctx.subjects.subject("sla.breached.>"),
            2 * ids.len(),
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(seen.len(), 2 * ids.len());
    let notice: SlaNotice = seen[0].json();
    assert_eq!(notice.alert, SlaAlert::Breached);
    assert_eq!(notice.department, "unassigned");
    // A second replica after recovery finds nothing more to fire.
    let second = Application::build(
        ctx.settings.clone(),
        SlaConfig::new(rules_file_only(), rules.clone()),
        CancellationToken::new(),
    )
    .await
    .expect("second replica starts");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_exactly_once(&ctx.pool, 2 * ids.len() as i64, false).await;
    assert_eq!(
        ctx.count(
            Stream::Sla,
            &ctx.subjects.subject("sla.breached.>"),
            Duration::from_millis(300)
        )
        .await,
        2 * ids.len()
    );
    app.stop().await;
    second.stop().await;
}

fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).expect("in range")
}

async fn clock(pool: &PgPool, id: Uuid, kind: &str) -> (String, i32, i64, Option<DateTime<Utc>>) {
    sqlx::query_as(
        "select status, cycle, target_us, due_at from sla_clocks where ticket_id = $1 and kind = $2",
    )
    .bind(id)
    .bind(kind)
    .fetch_one(pool)
    .await
    .expect("clock exists")
}

#[tokio::test]
async fn lifecycle_events_drive_the_clocks_and_redelivery_changes_nothing() {
    let ctx = TestContext::new().await;
    let rules = rules(FAST);
    let handler = TicketEventHandler {
        pool: ctx.pool.clone(),
        rules: rules.clone().into(),
        subjects: ctx.subjects.clone(),
        firing: None,
        start_within: Duration::ZERO,
    };
    let id = Uuid::now_v7();
    let no = "20261123900";
    // Postgres keeps microseconds.
    let t0 = micros(Utc::now() - ChronoDuration::minutes(10));
    insert_ticket(&ctx.pool, id, no, t0).await;
    let at = |m: i64| t0 + ChronoDuration::minutes(m);

    // A reply that arrives before ticket.created: the ticket is started from the tickets table.
    let early = lifecycle(id, no, at(1), LifecycleChange::Contacted);
    let out = handler
        .apply(&[delivery(&ctx, "ticket.contacted", &early, 1)])
        .await
        .expect("applies");
    assert_eq!(out, vec![Outcome::Done]);
    assert_eq!(clock(&ctx.pool, id, "first_response").await.0, "stopped");
    // ticket.created afterwards changes nothing.
    let c = delivery(&ctx, "ticket.created", &created(id, no, t0, None), 2);
    handler
        .apply(std::slice::from_ref(&c))
        .await
        .expect("applies");
    assert_eq!(clock(&ctx.pool, id, "resolution").await.1, 1);

    // Routed to customer service, general.
    let cl = delivery(
        &ctx,
        "ticket.classified",
        &classified(id, no, at(2), Priority::General, "customer_service"),
        3,
    );
    handler.apply(&[cl]).await.expect("applies");
    assert_eq!(clock(&ctx.pool, id, "registration").await.0, "stopped");

    // Waiting on the customer pauses; the same message redelivered changes nothing.
    let wait = delivery(
        &ctx,
        "ticket.waiting",
        &lifecycle(
            id,
            no,
            at(3),
            LifecycleChange::WaitingOnCustomer { reason: None },
        ),
        4,
    );
    handler
        .apply(std::slice::from_ref(&wait))
        .await
        .expect("applies");
    let paused = clock(&ctx.pool, id, "resolution").await;
    assert_eq!((paused.0.as_str(), paused.3), ("paused", None));
    let events_before = count(&ctx.pool, "select count(*) from ticket_events").await;
    let version = |pool: PgPool| async move {
        count(&pool, "select sum(version)::bigint from sla_clocks").await
    };
    let v_before = version(ctx.pool.clone()).await;
    handler.apply(&[wait.clone(), wait]).await.expect("applies");
    assert_eq!(
        count(&ctx.pool, "select count(*) from ticket_events").await,
        events_before
    );
    assert_eq!(version(ctx.pool.clone()).await, v_before);

    // Back after 4 minutes: resolution (10 h) is due 10 h minus the 3 minutes used.
    let back = delivery(
        &ctx,
        "ticket.resumed",
        &lifecycle(id, no, at(7), LifecycleChange::Resumed),
        5,
    );
    let changed_at = |pool: PgPool| async move {
        sqlx::query_scalar::<_, DateTime<Utc>>(
            "select updated_at from sla_clocks where ticket_id = $1 and kind = 'resolution'",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("updated_at")
    };
    let paused_at = changed_at(ctx.pool.clone()).await;
    handler.apply(&[back]).await.expect("applies");
    assert!(
        changed_at(ctx.pool.clone()).await > paused_at,
        "a changed clock says when it changed"
    );
    let running = clock(&ctx.pool, id, "resolution").await;
    assert_eq!(running.0, "running");
    assert_eq!(
        running.3,
        Some(at(7) + ChronoDuration::hours(10) - ChronoDuration::minutes(3))
    );

    // Raised to urgent: targets recomputed, time used kept.
    let raise = lifecycle(
        id,
        no,
        at(8),
        LifecycleChange::PriorityChanged {
            from: Priority::General,
            to: Priority::Urgent,
        },
    );
    handler
        .apply(&[delivery(&ctx, "ticket.priority_changed", &raise, 6)])
        .await
        .expect("applies");
    let pending_for = |kind: &'static str| {
        let pool = ctx.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from sla_timers where ticket_id = $1 and clock = $2 and fired_at is null",
            )
            .bind(id)
            .bind(kind)
            .fetch_one(&pool)
            .await
            .expect("count")
        }
    };
    assert!(pending_for("resolution").await > 0);

    // Resolved: everything stops, the survey clock (24 h wall) starts; old timers are superseded.
    let resolved = lifecycle(
        id,
        no,
        at(9),
        LifecycleChange::Resolved {
            resolution: shared::messages::lifecycle::Resolution::Full,
            reason: None,
            first_contact: false,
        },
    );
    handler
        .apply(&[delivery(&ctx, "ticket.resolved", &resolved, 7)])
        .await
        .expect("applies");
    assert_eq!(clock(&ctx.pool, id, "resolution").await.0, "stopped");
    assert_eq!(pending_for("resolution").await, 0);
    let survey = clock(&ctx.pool, id, "survey").await;
    assert_eq!(survey.0, "running");
    assert_eq!(survey.3, Some(at(9) + ChronoDuration::hours(24)));

    // Reopened: a new resolution cycle, the survey clock stops.
    let reopened = lifecycle(id, no, at(10), LifecycleChange::Reopened { reason: None });
    handler
        .apply(&[delivery(&ctx, "ticket.reopened", &reopened, 8)])
        .await
        .expect("applies");
    let res = clock(&ctx.pool, id, "resolution").await;
    assert_eq!((res.0.as_str(), res.1), ("running", 2));
    assert_eq!(clock(&ctx.pool, id, "survey").await.0, "stopped");

    // All clocks at once, from the library and from the view.
    let views = loopdesk_sla::view::ticket_clocks(&ctx.pool, &rules, id, Utc::now())
        .await
        .expect("views");
    let kinds: Vec<&str> = views.iter().map(|v| v.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec![
            "registration",
            "first_response",
            "proactive_contact",
            "resolution",
            "survey"
        ]
    );
    assert_eq!(
        count(
            &ctx.pool,
            &format!("select count(*) from sla_ticket_clocks where ticket_id = '{id}'")
        )
        .await,
        5
    );
    // Every change is on the timeline: one entry per event that moved a clock, listing each clock it
    // moved. Seven here: the start from the tickets table, contacted, classified, waiting, resumed,
    // resolved, reopened. The late ticket.created and the redelivery moved nothing, nor did the raise to
    // urgent: in these rules only first response (stopped by then) depends on priority.
    let entries: Vec<String> = sqlx::query_scalar(
        "select (select string_agg((c->>'clock') || ' ' || (c->>'change'), ', ')
                 from jsonb_array_elements(data->'clocks') c)
         from ticket_events where kind = 'sla_clocks' order by id",
    )
    .fetch_all(&ctx.pool)
    .await
    .expect("timeline");
    assert_eq!(entries.len(), 7, "{entries:#?}");
    assert!(
        count(
            &ctx.pool,
            "select coalesce(sum(jsonb_array_length(data->'clocks')), 0) from ticket_events
             where kind = 'sla_clocks'"
        )
        .await
            >= 10
    );
    assert_eq!(
        count(
            &ctx.pool,
            "select count(*) from ticket_events, jsonb_array_elements(data->'clocks') c
             where kind = 'sla_clocks' and (c->>'clock' is null or c->>'change' is null)"
        )
        .await,
        0,
        "each listed clock says which clock and what it did"
    );

    // Garbage is dead-lettered, not applied; an unknown ticket waits.
    let bad = Delivery {
        payload: bytes::Bytes::from_static(b"{not json"),
        ..delivery(&ctx, "ticket.resolved", &resolved, 9)
    };
    let stranger = lifecycle(Uuid::now_v7(), "x", at(11), LifecycleChange::Resumed);
    let out = handler
        .apply(&[bad, delivery(&ctx, "ticket.resumed", &stranger, 10)])
        .await
        .expect("applies");
    assert!(matches!(out[0], Outcome::Poison(_)));
    assert!(matches!(out[1], Outcome::Retry(_)));
}

#[tokio::test]
async fn a_missed_urgent_first_response_is_announced_and_escalated_over_the_bus() {
    let ctx = TestContext::new().await;
    let rules = rules(FAST);
    let app = Application::build(
        ctx.settings.clone(),
        SlaConfig::new(rules_file_only(), rules.clone()),
        CancellationToken::new(),
    )
    .await
    .expect("sla starts");
    let now = Utc::now();
    let (late, quick) = (Uuid::now_v7(), Uuid::now_v7());
    for (id, no) in [(late, "20261123801"), (quick, "20261123802")] {
        insert_ticket(&ctx.pool, id, no, now).await;
        ctx.publish(
            ctx.subjects.subject("ticket.created"),
            serde_json::to_vec(&created(id, no, now, None)).expect("json"),
        )
        .await;
        ctx.publish(
            ctx.subjects.subject("ticket.classified"),
            serde_json::to_vec(&classified(
                id,
                no,
                now,
                Priority::Urgent,
                "customer_service",
            ))
            .expect("json"),
        )
        .await;
    }
    // The quick ticket gets its reply in time.
    ctx.publish(
        ctx.subjects.subject("ticket.replied"),
        serde_json::to_vec(&lifecycle(
            quick,
            "20261123802",
            now,
            LifecycleChange::Replied { first: true },
        ))
        .expect("json"),
    )
    .await;

    // 2 s urgent first response: warnings at 1.5 s and 1.8 s, breach at 2 s, escalation at once.
    let breached = ctx
        .collect(
            Stream::Sla,
            &ctx.subjects.subject("sla.breached.customer_service"),
            1,
            Duration::from_secs(15),
        )
        .await;
    assert_eq!(breached.len(), 1);
    let n: SlaNotice = breached[0].json();
    assert_eq!(n.ticket_id, late);
    assert_eq!(n.clock, shared::messages::sla::SlaClock::FirstResponse);
    let escalated = ctx
        .collect(
            Stream::Sla,
            &ctx.subjects.subject("sla.escalated.>"),
            1,
            Duration::from_secs(5),
        )
        .await;
    let e: SlaNotice = escalated[0].json();
    assert!(
        matches!(e.alert, SlaAlert::Escalated { supervisor: Some(ref s), .. } if s == "supervisor:cs")
    );
    let warnings = ctx
        .collect(
            Stream::Sla,
            &ctx.subjects.subject("sla.warning.customer_service"),
            2,
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(warnings.len(), 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        ctx.count(
            Stream::Sla,
            &ctx.subjects.subject("sla.breached.>"),
            Duration::from_millis(200)
        )
        .await,
        1,
        "the ticket answered in time never breaches"
    );
    assert_eq!(
        count(&ctx.pool, &format!("select count(*) from ticket_events where ticket_id = '{late}' and kind in ('sla_warning', 'sla_breached', 'sla_escalated')")).await,
        4
    );
    app.stop().await;
}

#[tokio::test]
async fn escalations_wait_for_the_departments_hours() {
    let ctx = TestContext::new().await;
    // The notify calendar opens one hour a week, on a day that is not today: a breach now must
    // not reach the supervisor now.
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let today = Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .weekday()
        .num_days_from_monday() as usize;
    let other = day[(today + 3) % 7];
    let text = format!(
        "{FAST}\n[departments.quiet]\ncalendar = \"always\"\nnotify_calendar = \"office\"\nsupervisor = \"boss\"\n\
         [calendars.office]\ntime_zone = \"Asia/Shanghai\"\n[calendars.office.weekly]\n{other} = [\"09:00-10:00\"]\n"
    );
    let rules = rules(&text);
    let handler = TicketEventHandler {
        pool: ctx.pool.clone(),
        rules: rules.clone().into(),
        subjects: ctx.subjects.clone(),
        firing: None,
        start_within: Duration::ZERO,
    };
    let id = Uuid::now_v7();
    let t0 = Utc::now() - ChronoDuration::hours(3);
    insert_ticket(&ctx.pool, id, "20261123700", t0).await;
    let out = handler
        .apply(&[
            delivery(
                &ctx,
                "ticket.created",
                &created(id, "20261123700", t0, None),
                1,
            ),
            delivery(
                &ctx,
                "ticket.classified",
                &classified(id, "20261123700", t0, Priority::General, "quiet"),
                2,
            ),
        ])
        .await
        .expect("applies");
    assert_eq!(out, vec![Outcome::Done, Outcome::Done]);
    drain(firer(&ctx, &rules, 100)).await;
    let subjects: Vec<String> = sqlx::query_scalar("select subject from outbox")
        .fetch_all(&ctx.pool)
        .await
        .expect("subjects");
    // First response breached (machine event, on time), escalation held as a timer.
    assert_eq!(
        count(
            &ctx.pool,
            "select count(*) from outbox where subject like '%.sla.breached.quiet'"
        )
        .await,
        1,
        "{subjects:?}"
    );
    assert_eq!(
        count(
            &ctx.pool,
            "select count(*) from outbox where subject like '%.sla.escalated.%'"
        )
        .await,
        0
    );
    let held: DateTime<Utc> = sqlx::query_scalar(
        "select due_at from sla_timers where event = 'escalation' and fired_at is null",
    )
    .fetch_one(&ctx.pool)
    .await
    .expect("escalation timer");
    let local = held.with_timezone(&chrono_tz::Asia::Shanghai);
    assert_eq!(local.format("%H:%M").to_string(), "09:00");
    assert_eq!(
        local.weekday().num_days_from_monday() as usize,
        (today + 3) % 7
    );
}

/// Everything the SLA stored about one ticket that does not depend on when it was written: its
/// clocks, its pending timers and its timeline.
async fn sla_state(pool: &PgPool, id: Uuid) -> (Vec<String>, Vec<String>, Vec<String>) {
    let rows = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(sql)
                .bind(id)
                .fetch_all(&pool)
                .await
                .expect("sla state")
        }
    };
    (
        rows(
            "select concat_ws(' ', kind, cycle, version, status, basis, target_us, started_at,
                              elapsed_us, running_since, stopped_at, due_at)
             from sla_clocks where ticket_id = $1 order by kind",
        )
        .await,
        rows(
            "select concat_ws(' ', clock, version, event, fraction, due_at) from sla_timers
             where ticket_id = $1 and fired_at is null order by clock, due_at",
        )
        .await,
        rows(
            "select concat_ws(' ', kind, actor, at, data) from ticket_events
             where ticket_id = $1 order by id",
        )
        .await,
    )
}

#[tokio::test]
async fn a_creation_waits_to_start_the_clocks_with_the_next_event_or_on_its_own() {
    let ctx = TestContext::new().await;
    let rules = rules(FAST);
    let handler = |start_within: Duration| TicketEventHandler {
        pool: ctx.pool.clone(),
        rules: rules.clone().into(),
        subjects: ctx.subjects.clone(),
        firing: None,
        start_within,
    };
    let deferring = handler(Duration::from_secs(2));
    let at_once = handler(Duration::ZERO);
    let t0 = micros(Utc::now() - ChronoDuration::minutes(10));
    let classify_at = t0 + ChronoDuration::seconds(1);
    let [waits, reference, alone] = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    for (id, no) in [
        (waits, "20261124001"),
        (reference, "20261124002"),
        (alone, "20261124003"),
    ] {
        insert_ticket(&ctx.pool, id, no, t0).await;
    }
    let events = |id: Uuid, no: &str, seq: u64| {
        (
            delivery(&ctx, "ticket.created", &created(id, no, t0, None), seq),
            delivery(
                &ctx,
                "ticket.classified",
                &classified(id, no, classify_at, Priority::Urgent, "customer_service"),
                seq + 1,
            ),
        )
    };
    let (waits_created, waits_classified) = events(waits, "20261124001", 1);
    let (alone_created, _) = events(alone, "20261124003", 3);
    let (reference_created, reference_classified) = events(reference, "20261124002", 5);

    // The creations alone start nothing yet: one waiting row each, no clock, no timer, no entry.
    deferring
        .apply(&[waits_created.clone(), alone_created])
        .await
        .expect("applies");
    let pending = "select count(*) from sla_tickets where start_pending_since is not null";
    assert_eq!(count(&ctx.pool, pending).await, 2);
    assert_eq!(count(&ctx.pool, "select count(*) from sla_clocks").await, 0);
    assert_eq!(count(&ctx.pool, "select count(*) from sla_timers").await, 0);
    assert_eq!(
        count(&ctx.pool, "select count(*) from ticket_events").await,
        0
    );

    // The classification starts the clocks and retargets them in one go; the redelivered creation
    // changes nothing. The result is exactly what starting at creation gives.
    deferring
        .apply(&[waits_classified, waits_created])
        .await
        .expect("applies");
    at_once.apply(&[reference_created]).await.expect("applies");
    at_once
        .apply(&[reference_classified])
        .await
        .expect("applies");
    let (clocks, timers, timeline) = sla_state(&ctx.pool, waits).await;
    let expected = sla_state(&ctx.pool, reference).await;
    assert_eq!(clocks, expected.0, "clocks");
    assert_eq!(timers, expected.1, "pending timers");
    assert_eq!(
        timeline.len(),
        2,
        "the start and the classification: {timeline:?}"
    );
    assert_eq!(timeline, expected.2, "timeline");
    assert_eq!(count(&ctx.pool, pending).await, 1);

    // A creation nothing follows starts on its own once it has waited `start_within`, from the
    // submission: first response (urgent, 2 s) is long overdue.
    assert_eq!(deferring.start_overdue(100).await.expect("looks"), 0);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(deferring.start_overdue(100).await.expect("starts"), 1);
    assert_eq!(count(&ctx.pool, pending).await, 0);
    let first_response = clock(&ctx.pool, alone, "first_response").await;
    assert_eq!(first_response.0, "running");
    let (clocks, _, timeline) = sla_state(&ctx.pool, alone).await;
    assert_eq!(clocks.len(), 3, "{clocks:?}");
    assert_eq!(timeline.len(), 1, "{timeline:?}");
    let started: DateTime<Utc> =
        sqlx::query_scalar("select min(started_at) from sla_clocks where ticket_id = $1")
            .bind(alone)
            .fetch_one(&ctx.pool)
            .await
            .expect("started");
    assert_eq!(started, t0);
    assert_eq!(deferring.start_overdue(100).await.expect("looks"), 0);
}

/// These replicas measure with the rules the test gives them, not the business's setup.
fn rules_file_only() -> SlaSettings {
    SlaSettings {
        from_setup: false,
        ..SlaSettings::default()
    }
}
