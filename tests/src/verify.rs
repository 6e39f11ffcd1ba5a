//! Driving a pipeline run to its end, and the end-of-run checks: in Postgres and on the subjects, every
//! effect of every ticket happened exactly once, and the dead-letter subject holds exactly the poison.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde::de::DeserializeOwned;
use shared::consumer::dlq_headers;
use shared::messages::lifecycle::TicketLifecycleEvent;
use shared::messages::router::{TicketClassified, TicketRouted};
use shared::messages::sla::{SlaAlert, SlaClock, SlaNotice};
use shared::messages::survey::{RequestKind, SurveyRequest};
use shared::messages::ticket::TicketCreated;
use shared::subjects::Stream;
use shared::testkit::{Seen, TestContext};
use uuid::Uuid;

use crate::pipeline;
use crate::poison::Poison;

/// The timeline actor of the simulated agent who resolves tickets.
pub const RESOLVER: &str = "agent:fault-test";

/// A count from Postgres, or -1 while the database cannot answer (a test restarting it).
pub async fn count(ctx: &TestContext, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&ctx.pool)
        .await
        .unwrap_or(-1)
}

/// Waits until `sql` counts at least `want` (or `timeout` passes); returns the last count.
pub async fn wait_for(ctx: &TestContext, sql: &str, want: i64, timeout: Duration) -> i64 {
    let deadline = Instant::now() + timeout;
    loop {
        let n = count(ctx, sql).await;
        if n >= want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many messages `stream` holds on subjects matching `filter`, retried while the stream is
/// unavailable (a server restarting, a cluster electing a leader).
pub async fn stored_on(ctx: &TestContext, stream: Stream, filter: &str) -> usize {
    let name = ctx.subjects.stream_name(stream);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let attempt = async {
            let s = ctx.js.get_stream(&name).await.map_err(|e| e.to_string())?;
            let info = s
                .info_with_subjects(filter)
                .await
                .map_err(|e| e.to_string())?;
            info.try_fold(0usize, |sum, (_, n)| async move { Ok(sum + n) })
                .await
                .map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(n) => return n,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "stream {name} cannot be read for 60 s: {e}"
                );
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Every message on `filter`, read back from the start of its stream.
pub async fn everything_on(ctx: &TestContext, stream: Stream, filter: &str) -> Vec<Seen> {
    let want = stored_on(ctx, stream, filter).await;
    let seen = ctx
        .collect(stream, filter, want, Duration::from_secs(60))
        .await;
    assert_eq!(seen.len(), want, "every message on {filter} read back");
    seen
}

/// The messages on `filter` that are not poison, decoded and grouped by `key` (a ticket id).
fn by_ticket<T: DeserializeOwned>(
    seen: &[Seen],
    poison: &[Poison],
    key: impl Fn(&T) -> Uuid,
) -> HashMap<Uuid, Vec<T>> {
    let mut out: HashMap<Uuid, Vec<T>> = HashMap::new();
    for m in seen {
        if poison
            .iter()
            .any(|p| p.subject == m.subject && p.payload == m.payload)
        {
            continue;
        }
        let t: T = m.json();
        out.entry(key(&t)).or_default().push(t);
    }
    out
}

/// Rows per ticket from a `select ticket_id, count(*) ... group by ticket_id`.
async fn per_ticket(ctx: &TestContext, sql: &str) -> HashMap<Uuid, i64> {
    sqlx::query_as::<_, (Uuid, i64)>(sql)
        .fetch_all(&ctx.pool)
        .await
        .expect("per-ticket counts")
        .into_iter()
        .collect()
}

/// Where a run stands; it is over when every ticket went all the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Progress {
    pub tickets: i64,
    pub unclassified: i64,
    pub unresolved: i64,
    pub unsurveyed: i64,
    /// Survey clocks the sla worker stopped on seeing the survey request.
    pub survey_clocks_stopped: i64,
    pub due_timers: i64,
    pub outbox: i64,
}

impl Progress {
    pub async fn now(ctx: &TestContext, tag: &str) -> Option<Progress> {
        sqlx::query_as(
            "select
               (select count(*) from tickets where external_id like $1) as tickets,
               (select count(*) from tickets where classified_at is null) as unclassified,
               (select count(*) from tickets where status <> 'resolved') as unresolved,
               (select count(*) from tickets t where not exists
                   (select 1 from surveys s where s.ticket_id = t.id and s.status = 'sent'))
                 as unsurveyed,
               (select count(*) from sla_clocks where kind = 'survey' and status = 'stopped')
                 as survey_clocks_stopped,
               (select count(*) from sla_timers where fired_at is null and due_at <= now())
                 as due_timers,
               (select count(*) from outbox) as outbox",
        )
        .bind(format!("{tag}-%"))
        .fetch_one(&ctx.pool)
        .await
        .ok()
    }

    fn done(&self, n: i64) -> bool {
        self.tickets == n
            && self.unclassified == 0
            && self.unresolved == 0
            && self.unsurveyed == 0
            && self.survey_clocks_stopped == n
            && self.due_timers == 0
            && self.outbox == 0
    }
}

/// Plays the agents while the pipeline runs: resolves every ticket once its first-response deadline
/// has been breached, until all `n` tickets tagged `tag` are resolved, surveyed, their due timers fired,
/// every outbox row published and `dead_letters` messages dead-lettered. Rides out server outages.
/// Panics with the last progress after `timeout`.
pub async fn drive(ctx: &TestContext, tag: &str, n: usize, dead_letters: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        let _ = pipeline::resolve_breached(&ctx.pool, &ctx.subjects, RESOLVER).await;
        if let Some(p) = Progress::now(ctx, tag).await {
            if p.done(n as i64)
                && stored_on(ctx, Stream::DeadLetter, &ctx.subjects.dead_letters_all()).await
                    >= dead_letters
            {
                return;
            }
            last = Some(p);
        }
        assert!(
            Instant::now() < deadline,
            "the pipeline did not finish {n} tickets within {timeout:?}; last progress: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The end-of-run checks, after [`drive`] returned.
pub async fn assert_exactly_once(ctx: &TestContext, tag: &str, n: usize, poison: &[Poison]) {
    // Give any late extra copy a moment to land before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ids = assert_one_ticket_per_submission(ctx, tag, n).await;
    assert_routed_once(ctx, &ids, poison).await;
    assert_due_timers_fired_once(ctx, &ids, poison).await;
    assert_surveyed_once(ctx, &ids, poison).await;
    assert_dead_letters_are_the_poison(ctx, poison).await;
}

/// Exactly one ticket per accepted submission, with distinct numbers, each announced once.
async fn assert_one_ticket_per_submission(ctx: &TestContext, tag: &str, n: usize) -> Vec<Uuid> {
    let rows: Vec<(Uuid, String, String)> =
        sqlx::query_as("select id, ticket_no, external_id from tickets")
            .fetch_all(&ctx.pool)
            .await
            .expect("tickets");
    let tagged = rows
        .iter()
        .filter(|(_, _, e)| e.starts_with(&format!("{tag}-")))
        .count();
    assert_eq!(tagged, n, "one ticket per accepted submission");
    assert_eq!(rows.len(), n, "no other tickets");
    let numbers: HashSet<&String> = rows.iter().map(|(_, no, _)| no).collect();
    assert_eq!(numbers.len(), n, "distinct ticket numbers");
    let ids: Vec<Uuid> = rows.iter().map(|(id, _, _)| *id).collect();

    let created = everything_on(ctx, Stream::Ticket, &ctx.subjects.ticket_created()).await;
    let created = by_ticket(&created, &[], |m: &TicketCreated| m.ticket_id);
    for id in &ids {
        let k = created.get(id).map_or(0, Vec::len);
        assert_eq!(k, 1, "ticket {id} announced on ticket.created {k} times");
    }
    assert_eq!(created.len(), n, "ticket.created only for real tickets");
    ids
}

/// Every ticket classified once and routed once to each of its departments, in Postgres and on the
/// subjects.
async fn assert_routed_once(ctx: &TestContext, ids: &[Uuid], poison: &[Poison]) {
    let rows: Vec<(Uuid, bool, i32, Vec<String>)> = sqlx::query_as(
        "select id, classified_at is not null, classification_revision, departments from tickets",
    )
    .fetch_all(&ctx.pool)
    .await
    .expect("classifications");
    let timeline = per_ticket(
        ctx,
        "select ticket_id, count(*) from ticket_events
         where kind in ('classified', 'classified_needs_review') group by ticket_id",
    )
    .await;
    let classified = everything_on(
        ctx,
        Stream::Ticket,
        &ctx.subjects.subject("ticket.classified"),
    )
    .await;
    let classified = by_ticket(&classified, poison, |m: &TicketClassified| m.ticket_id);
    let routed = everything_on(
        ctx,
        Stream::Ticket,
        &ctx.subjects.subject("ticket.routed.>"),
    )
    .await;
    let routed = by_ticket(&routed, poison, |m: &TicketRouted| m.ticket_id);
    let mut routed_tickets = 0;
    for (id, is_classified, revision, departments) in rows {
        assert!(is_classified, "ticket {id} classified");
        assert_eq!(revision, 0, "ticket {id} classified by the router only");
        assert_eq!(
            timeline.get(&id),
            Some(&1),
            "one classification on ticket {id}'s timeline"
        );
        let k = classified.get(&id).map_or(0, Vec::len);
        assert_eq!(k, 1, "ticket {id} announced on ticket.classified {k} times");
        let mut got: Vec<String> = routed
            .get(&id)
            .map(|v| v.iter().map(|m| m.department.clone()).collect())
            .unwrap_or_default();
        got.sort();
        let mut want = departments;
        want.sort();
        assert_eq!(
            got, want,
            "ticket {id} routed once to each of its departments"
        );
        routed_tickets += usize::from(!want.is_empty());
    }
    assert_eq!(classified.len(), ids.len(), "classified only real tickets");
    assert_eq!(routed.len(), routed_tickets, "routed only real tickets");
    assert!(routed_tickets > 0, "some tickets were routed");
}

/// No timer is left due; each warning, breach and escalation was fired and announced once, and the
/// announcements are exactly the timeline's. Every ticket breached its first-response target once
/// (the resolver waits for that).
async fn assert_due_timers_fired_once(ctx: &TestContext, ids: &[Uuid], poison: &[Poison]) {
    let due = count(
        ctx,
        "select count(*) from sla_timers where fired_at is null and due_at <= now()",
    )
    .await;
    assert_eq!(due, 0, "every due timer fired");
    let breach_timers = per_ticket(
        ctx,
        "select ticket_id, count(*) from sla_timers
         where clock = 'first_response' and event = 'breach' and outcome = 'fired'
         group by ticket_id",
    )
    .await;
    let notices = everything_on(ctx, Stream::Sla, &ctx.subjects.subject("sla.>")).await;
    let notices = by_ticket(&notices, poison, |m: &SlaNotice| m.ticket_id);
    let mut announced: HashSet<Uuid> = HashSet::new();
    for id in ids {
        assert_eq!(
            breach_timers.get(id),
            Some(&1),
            "ticket {id}'s breach timer fired once"
        );
        let list = notices.get(id).map(Vec::as_slice).unwrap_or_default();
        let mut keys = HashSet::new();
        for m in list {
            let fraction = match &m.alert {
                SlaAlert::Warning { fraction, .. } => fraction.to_bits(),
                _ => 0,
            };
            let key = (m.clock, m.cycle, m.alert.kind(), fraction);
            assert!(
                keys.insert(key),
                "ticket {id}: notice {key:?} announced twice"
            );
            assert!(announced.insert(m.event_id), "notice {} twice", m.event_id);
        }
        for kind in ["breached", "escalated"] {
            let k = list
                .iter()
                .filter(|m| m.clock == SlaClock::FirstResponse && m.alert.kind() == kind)
                .count();
            assert_eq!(
                k, 1,
                "ticket {id}: first response {kind} announced {k} times"
            );
        }
    }
    assert_eq!(notices.len(), ids.len(), "notices only about real tickets");
    let entries: Vec<String> = sqlx::query_scalar(
        "select data->>'event_id' from ticket_events
         where kind in ('sla_warning', 'sla_breached', 'sla_escalated')",
    )
    .fetch_all(&ctx.pool)
    .await
    .expect("sla timeline");
    let on_timeline: HashSet<Uuid> = entries
        .iter()
        .map(|e| e.parse().expect("event id on the timeline"))
        .collect();
    assert_eq!(
        on_timeline.len(),
        entries.len(),
        "each notice once on the timeline"
    );
    assert_eq!(
        on_timeline, announced,
        "the timeline and the subjects tell the same"
    );
}

/// Every ticket resolved once, and asked once for its satisfaction.
async fn assert_surveyed_once(ctx: &TestContext, ids: &[Uuid], poison: &[Poison]) {
    let resolved = everything_on(
        ctx,
        Stream::Ticket,
        &ctx.subjects.subject("ticket.resolved"),
    )
    .await;
    let resolved = by_ticket(&resolved, poison, |m: &TicketLifecycleEvent| m.ticket_id);
    let requests = everything_on(
        ctx,
        Stream::Survey,
        &ctx.subjects.subject("survey.request.>"),
    )
    .await;
    let requests = by_ticket(&requests, poison, |m: &SurveyRequest| m.ticket_id);
    let surveys: HashMap<Uuid, (i64, bool)> = sqlx::query_as::<_, (Uuid, i64, bool)>(
        "select ticket_id, count(*), bool_and(status = 'sent') from surveys group by ticket_id",
    )
    .fetch_all(&ctx.pool)
    .await
    .expect("surveys")
    .into_iter()
    .map(|(id, n, sent)| (id, (n, sent)))
    .collect();
    let sent = per_ticket(
        ctx,
        "select ticket_id, count(*) from ticket_events where kind = 'survey_sent' group by ticket_id",
    )
    .await;
    for id in ids {
        let k = resolved.get(id).map_or(0, Vec::len);
        assert_eq!(k, 1, "ticket {id} resolved {k} times");
        assert_eq!(
            surveys.get(id),
            Some(&(1, true)),
            "one survey of ticket {id}, sent"
        );
        assert_eq!(
            sent.get(id),
            Some(&1),
            "one survey_sent on ticket {id}'s timeline"
        );
        let list = requests.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(list.len(), 1, "ticket {id} asked {} times", list.len());
        assert_eq!(
            list[0].kind,
            RequestKind::Initial,
            "ticket {id}: the first ask"
        );
    }
    assert_eq!(
        requests.len(),
        ids.len(),
        "survey requests only for real tickets"
    );
}

/// The dead-letter subjects hold each poison message once per consumer that must refuse it, with that
/// consumer's error, and nothing else.
async fn assert_dead_letters_are_the_poison(ctx: &TestContext, poison: &[Poison]) {
    let dead = everything_on(ctx, Stream::DeadLetter, &ctx.subjects.dead_letters_all()).await;
    let mut expected: Vec<(&str, &str, &bytes::Bytes, &str)> = poison
        .iter()
        .flat_map(|p| {
            p.expected.iter().map(move |(consumer, error)| {
                (consumer.as_str(), p.subject.as_str(), &p.payload, *error)
            })
        })
        .collect();
    let want = expected.len();
    for m in &dead {
        let header = |name: &str| {
            m.headers
                .as_ref()
                .and_then(|h| h.get(name))
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        let (consumer, original, error) = (
            header(dlq_headers::CONSUMER),
            header(dlq_headers::ORIGINAL_SUBJECT),
            header(dlq_headers::ERROR),
        );
        let Some(i) = expected
            .iter()
            .position(|(c, s, p, _)| *c == consumer && *s == original && **p == m.payload)
        else {
            panic!(
                "unexpected dead letter on {}: consumer {consumer}, subject {original}, error {error}, payload {}",
                m.subject,
                String::from_utf8_lossy(&m.payload)
            );
        };
        let (_, _, _, prefix) = expected.remove(i);
        assert!(
            error.starts_with(prefix),
            "{consumer} dead-lettered a message from {original} with error `{error}`, expected `{prefix}…`"
        );
        assert_eq!(
            m.subject,
            ctx.subjects.dead_letter(&consumer),
            "dead letter on the consumer's own subject"
        );
    }
    assert!(
        expected.is_empty(),
        "{} of {want} poison messages missing from the dead-letter subjects: {:?}",
        expected.len(),
        expected
            .iter()
            .map(|(c, s, _, e)| format!("{c} {s} {e}"))
            .collect::<Vec<_>>()
    );
}
