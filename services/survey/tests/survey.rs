//! Survey worker against real Postgres and NATS (shared::testkit): scheduling, quiet hours, reminder and
//! expiry, each channel's answer format, forged/expired tokens, one answer per survey, unsatisfied →
//! reopen → second survey, escalation, redelivery idempotence and the report figures. Time is driven with
//! a manual clock, never by sleeping.

mod common;

use chrono::Duration;
use common::{sh, Harness};
use serde_json::json;
use shared::consumer::Outcome;
use shared::messages::lifecycle::{LifecycleChange, TicketLifecycleEvent};

#[tokio::test]
async fn scheduling_waits_the_delay_and_skips_quiet_hours() {
    let h = Harness::new().await;
    // Resolved 10:00 Shanghai, delay 2 h → asked at 12:00.
    let t = h.ticket("form", Some("13812345678"), None).await;
    let s = h.resolve(&t).await;
    assert_eq!(
        (s.status.as_str(), s.channel.as_str()),
        ("scheduled", "sms")
    );
    assert_eq!(s.send_at, sh(2026, 3, 2, 12, 0));
    h.set_now(sh(2026, 3, 2, 11, 59));
    assert_eq!(h.fire().await, 0, "nothing before the delay");
    h.set_now(sh(2026, 3, 2, 12, 0));
    assert_eq!(h.fire().await, 1);
    let req = h.outbox("survey.request.sms").await;
    assert_eq!(req.len(), 1);
    assert_eq!(req[0]["kind"], "initial");
    assert_eq!(req[0]["recipient"]["phone"], "13812345678");
    assert_eq!(req[0]["recipient"]["name_masked"], "张先生/女士");
    let token = req[0]["token"].as_str().unwrap();
    assert_eq!(req[0]["link"], format!("http://127.0.0.1:8083/s/{token}"));
    let s = h.surveys(t.0).await.pop().unwrap();
    assert_eq!(s.status, "sent");
    assert_eq!(
        s.expires_at,
        Some(sh(2026, 3, 5, 12, 0)),
        "72 h answer window"
    );
    assert_eq!(s.due_at, Some(sh(2026, 3, 3, 12, 0)), "reminder after 24 h");

    // Resolved 20:00 → 22:00 is quiet (21:00–09:00) → 09:00 next morning, inside 24 h.
    h.set_now(sh(2026, 3, 2, 20, 0));
    let t2 = h.ticket("app", Some("13900000000"), Some("C-7")).await;
    let s2 = h.resolve(&t2).await;
    assert_eq!(s2.channel, "app");
    assert_eq!(s2.send_at, sh(2026, 3, 3, 9, 0));
    h.set_now(sh(2026, 3, 3, 8, 59));
    assert_eq!(h.fire().await, 0);
    h.set_now(sh(2026, 3, 3, 9, 0));
    assert_eq!(h.fire().await, 1);
    assert_eq!(
        h.outbox("survey.request.app").await[0]["recipient"]["customer_id"],
        "C-7"
    );
    let kinds = h.timeline_kinds(t2.0).await;
    assert_eq!(kinds, vec!["survey_scheduled", "survey_sent"]);
}

#[tokio::test]
async fn a_resolution_learnt_about_days_later_gets_no_survey() {
    let h = Harness::new().await;
    let t = h.ticket("app", None, Some("C-1")).await;
    let e = h.resolved_event(&t, h.now() - Duration::days(5));
    assert_eq!(h.lifecycle(&[e]).await, vec![Outcome::Done]);
    assert!(h.surveys(t.0).await.is_empty());
    assert_eq!(h.timeline_kinds(t.0).await, vec!["survey_skipped"]);
}

#[tokio::test]
async fn a_timer_fired_late_into_quiet_hours_waits_for_the_morning() {
    let h = Harness::new().await;
    let t = h.ticket("ivr", Some("13812345678"), None).await;
    let s = h.resolve(&t).await;
    assert_eq!(s.channel, "ivr");
    // The worker was down until 23:00: no call at night.
    h.set_now(sh(2026, 3, 2, 23, 0));
    assert_eq!(h.fire().await, 1);
    let s = h.surveys(t.0).await.pop().unwrap();
    assert_eq!(
        (s.status.as_str(), s.due_at),
        ("scheduled", Some(sh(2026, 3, 3, 9, 0)))
    );
    assert!(h.outbox("survey.request.ivr").await.is_empty());
    h.set_now(sh(2026, 3, 3, 9, 0));
    assert_eq!(h.fire().await, 1);
    assert_eq!(h.outbox("survey.request.ivr").await.len(), 1);
}

#[tokio::test]
async fn a_survey_sent_at_a_fractional_second_is_answerable() {
    let h = Harness::new().await;
    h.set_now(sh(2026, 3, 2, 10, 0) + Duration::nanoseconds(123_456_789));
    let t = h.ticket("app", None, Some("C-1")).await;
    let (s, token) = h.sent_survey(&t).await;
    assert_eq!(s.expires_at.unwrap().timestamp_subsec_nanos(), 0);
    h.set_now(h.now() + Duration::milliseconds(1_500));
    h.respond("app", &[app(&token, "frac-1", "satisfied")])
        .await;
    let a = h.answers().await;
    assert!(a[0].accepted, "{:?}", a[0].reason);
}

#[tokio::test]
async fn one_reminder_then_expiry() {
    let h = Harness::new().await;
    let t = h.ticket("form", Some("13812345678"), None).await;
    let (s, token) = h.sent_survey(&t).await;
    assert_eq!(s.sent_at, Some(sh(2026, 3, 2, 12, 0)));
    h.set_now(sh(2026, 3, 3, 11, 0));
    assert_eq!(h.fire().await, 0);
    h.set_now(sh(2026, 3, 3, 12, 0));
    assert_eq!(h.fire().await, 1);
    let req = h.outbox("survey.request.sms").await;
    assert_eq!(req.len(), 2);
    assert_eq!(req[1]["kind"], "reminder");
    assert_eq!(
        req[1]["token"],
        token.as_str(),
        "the reminder carries the same token"
    );
    let s = h.surveys(t.0).await.pop().unwrap();
    assert_eq!((s.status.as_str(), s.due_at), ("reminded", s.expires_at));
    // No second reminder; expiry at 72 h.
    h.set_now(sh(2026, 3, 5, 11, 59));
    assert_eq!(h.fire().await, 0);
    h.set_now(sh(2026, 3, 5, 12, 0));
    assert_eq!(h.fire().await, 1);
    assert_eq!(h.outbox("survey.request.sms").await.len(), 2);
    let expired = h.outbox("survey.expired").await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["survey_id"], json!(s.id));
    let s = h.surveys(t.0).await.pop().unwrap();
    assert_eq!((s.status.as_str(), s.due_at), ("expired", None));
    // An answer after expiry is refused and kept.
    h.respond(
        "sms",
        &[
            json!({"schema_version": 1, "response_id": "late-1", "token": token,
        "received_at": h.now(), "channel": "sms", "from": "13812345678", "text": "1"}),
        ],
    )
    .await;
    let a = h.answers().await;
    assert_eq!(
        (a[0].accepted, a[0].reason.as_deref()),
        (false, Some("expired"))
    );
    assert!(a[0].raw.is_some());
    assert_eq!(
        h.timeline_kinds(t.0).await,
        vec![
            "survey_scheduled",
            "survey_sent",
            "survey_reminded",
            "survey_expired",
            "survey_answer_refused"
        ]
    );
}

#[tokio::test]
async fn a_reminder_due_at_night_moves_to_the_morning() {
    // A 2 h reminder after a request at 20:00 would ring at 22:00, inside quiet hours.
    let h2 = Harness::with(|s| s.policy.reminder_after = Some(Duration::hours(2))).await;
    h2.set_now(sh(2026, 3, 2, 18, 0));
    let t = h2.ticket("form", Some("13812345678"), None).await;
    let (s, _) = h2.sent_survey(&t).await;
    assert_eq!(s.sent_at, Some(sh(2026, 3, 2, 20, 0)));
    // 22:00 is quiet → reminder at 09:00.
    assert_eq!(s.due_at, Some(sh(2026, 3, 3, 9, 0)));
}

fn app(token: &str, id: &str, satisfaction: &str) -> serde_json::Value {
    json!({"schema_version": 1, "response_id": id, "token": token, "received_at": chrono::Utc::now(),
           "channel": "app", "satisfaction": satisfaction, "score": 5, "nps": 9, "comment": "客服很耐心"})
}

#[tokio::test]
async fn each_channel_answer_format_is_understood() {
    let h = Harness::new().await;
    // App: structured.
    let t_app = h.ticket("app", Some("13800000001"), Some("C-1")).await;
    let (s_app, tok_app) = h.sent_survey(&t_app).await;
    assert_eq!(
        h.respond("app", &[app(&tok_app, "a-1", "satisfied")]).await,
        vec![Outcome::Done]
    );
    // SMS with the token the adapter correlated.
    let t_sms = h.ticket("form", Some("13800000002"), None).await;
    let (s_sms, tok_sms) = h.sent_survey(&t_sms).await;
    // SMS without a token: matched by the sender's number, in another format.
    let t_sms2 = h.ticket("chat", Some("138-0000-0003"), None).await;
    let (s_sms2, _) = h.sent_survey(&t_sms2).await;
    // IVR keypresses.
    let t_ivr = h.ticket("ivr", Some("13800000004"), None).await;
    let (s_ivr, tok_ivr) = h.sent_survey(&t_ivr).await;
    let now = h.now();
    h.respond(
        "sms",
        &[
            json!({"schema_version": 1, "response_id": "s-1", "token": tok_sms, "received_at": now,
               "channel": "sms", "from": "13800000002", "text": "2 还可以"}),
            json!({"schema_version": 1, "response_id": "s-2", "received_at": now,
               "channel": "sms", "from": "+86 13800000003", "text": "满意"}),
            // Malformed reply: refused, kept, the survey stays open.
            json!({"schema_version": 1, "response_id": "s-3", "received_at": now,
               "channel": "sms", "from": "13800000099", "text": "hello"}),
        ],
    )
    .await;
    h.respond(
        "ivr",
        &[
            json!({"schema_version": 1, "response_id": "call-9", "token": tok_ivr,
        "received_at": now, "channel": "ivr", "call_id": "call-9", "keypresses": ["1", "4", "#"]}),
        ],
    )
    .await;
    // Not JSON, and an app answer on the sms subject: refused with their codes, kept byte for byte.
    let subject = h.tc.subjects.subject("survey.response.sms");
    let handler = survey::respond::ResponseHandler { ctx: h.ctx.clone() };
    use shared::consumer::BatchHandler;
    let out = handler
        .handle(&[
            common::delivery(&subject, b"{not json".to_vec(), 100),
            common::delivery(
                &subject,
                serde_json::to_vec(&app(&tok_app, "a-x", "satisfied")).unwrap(),
                101,
            ),
        ])
        .await
        .unwrap();
    assert_eq!(out, vec![Outcome::Done, Outcome::Done]);

    let answers = h.answers().await;
    let by = |id: uuid::Uuid| {
        answers
            .iter()
            .find(|a| a.survey_id == Some(id) && a.accepted)
            .unwrap()
            .clone()
    };
    let a = by(s_app.id);
    assert_eq!(
        (a.via.as_str(), a.satisfaction.as_deref(), a.score, a.nps),
        ("app", Some("satisfied"), Some(5), Some(9))
    );
    assert_eq!(a.comment.as_deref(), Some("客服很耐心"));
    let a = by(s_sms.id);
    assert_eq!(
        (a.satisfaction.as_deref(), a.comment.as_deref()),
        (Some("basically_satisfied"), Some("还可以"))
    );
    assert_eq!(by(s_sms2.id).satisfaction.as_deref(), Some("satisfied"));
    let a = by(s_ivr.id);
    assert_eq!(
        (a.via.as_str(), a.satisfaction.as_deref(), a.score),
        ("ivr", Some("satisfied"), Some(4))
    );
    let refused: Vec<(String, Option<String>)> = answers
        .iter()
        .filter(|a| !a.accepted)
        .map(|a| (a.via.clone(), a.reason.clone()))
        .collect();
    assert_eq!(
        refused,
        vec![
            ("sms".into(), Some("no_open_survey".into())),
            ("sms".into(), Some("malformed_message".into())),
            ("sms".into(), Some("channel_mismatch".into())),
        ]
    );
    assert_eq!(
        answers
            .iter()
            .find(|a| a.reason.as_deref() == Some("malformed_message"))
            .unwrap()
            .raw
            .as_deref(),
        Some(&b"{not json"[..])
    );
    assert_eq!(h.outbox("survey.answered").await.len(), 4);
    assert_eq!(h.outbox("survey.rejected.sms").await.len(), 3);
}

#[tokio::test]
async fn malformed_sms_reply_with_token_is_refused_and_the_survey_stays_open() {
    let h = Harness::new().await;
    let t = h.ticket("form", Some("13800000002"), None).await;
    let (s, tok) = h.sent_survey(&t).await;
    let msg = |id: &str, text: &str| {
        json!({"schema_version": 1, "response_id": id, "token": tok,
        "received_at": chrono::Utc::now(), "channel": "sms", "from": "13800000002", "text": text})
    };
    h.respond("sms", &[msg("m-1", "5"), msg("m-2", "3 还是坏的")])
        .await;
    let a = h.answers().await;
    assert_eq!(
        (a[0].accepted, a[0].reason.as_deref()),
        (false, Some("malformed_answer"))
    );
    assert_eq!(
        (a[1].accepted, a[1].satisfaction.as_deref()),
        (true, Some("unsatisfied"))
    );
    assert_eq!(h.surveys(t.0).await[0].status, "answered");
    let _ = s;
}

#[tokio::test]
async fn forged_altered_and_foreign_tokens_are_refused_and_kept() {
    let h = Harness::new().await;
    let t = h.ticket("app", None, Some("C-1")).await;
    let (s, token) = h.sent_survey(&t).await;
    let forged = survey::TokenSigner::new("another-secret-0123456789abcdef-xyz".to_string().into())
        .sign(s.id, s.expires_at.unwrap());
    let parts: Vec<&str> = token.split('.').collect();
    let extended = format!(
        "v1.{}.{}.{}",
        parts[1],
        s.expires_at.unwrap().timestamp() + 86400,
        parts[3]
    );
    // Correctly signed, but not the expiry this survey was sent with.
    let stale = h
        .ctx
        .signer
        .sign(s.id, s.expires_at.unwrap() + Duration::hours(1));
    h.respond(
        "app",
        &[
            app(&forged, "f-1", "unsatisfied"),
            app(&extended, "f-2", "unsatisfied"),
            app("garbage", "f-3", "unsatisfied"),
            app(&stale, "f-4", "unsatisfied"),
        ],
    )
    .await;
    let a = h.answers().await;
    assert_eq!(a.len(), 4);
    assert!(a
        .iter()
        .all(|a| !a.accepted && a.reason.as_deref() == Some("invalid_token") && a.raw.is_some()));
    assert_eq!(
        h.surveys(t.0).await[0].status,
        "sent",
        "forgeries change nothing"
    );
    assert_eq!(h.ticket_status(t.0).await, "resolved");
    // The real token still works once.
    h.respond("app", &[app(&token, "ok-1", "satisfied")]).await;
    h.respond("app", &[app(&token, "ok-2", "unsatisfied")])
        .await;
    let a = h.answers().await;
    assert!(a[4].accepted);
    assert_eq!(
        (a[5].accepted, a[5].reason.as_deref()),
        (false, Some("already_answered"))
    );
    assert_eq!(
        h.ticket_status(t.0).await,
        "resolved",
        "the refused second answer reopens nothing"
    );
    let rejected = h.outbox("survey.rejected.app").await;
    assert_eq!(rejected.len(), 5);
    assert_eq!(rejected[4]["reason"], "already_answered");
}

#[tokio::test]
async fn unsatisfied_reopens_then_the_next_resolution_gets_a_second_survey() {
    let h = Harness::new().await;
    let t = h.ticket("app", Some("13800000001"), Some("C-1")).await;
    let (s1, tok) = h.sent_survey(&t).await;
    h.respond("app", &[app(&tok, "u-1", "unsatisfied")]).await;
    assert_eq!(h.ticket_status(t.0).await, "reopened");
    // The ticket carries the last answer and its resolution is cleared.
    let (s, n): (Option<String>, Option<i16>) =
        sqlx::query_as("select survey_satisfaction, survey_nps from tickets where id = $1")
            .bind(t.0)
            .fetch_one(&h.tc.pool)
            .await
            .unwrap();
    assert_eq!((s.as_deref(), n), (Some("unsatisfied"), Some(9)));
    let resolved_at: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select resolved_at from tickets where id = $1")
            .bind(t.0)
            .fetch_one(&h.tc.pool)
            .await
            .unwrap();
    assert_eq!(resolved_at, None);
    let reopened: Vec<TicketLifecycleEvent> = h
        .outbox("ticket.reopened")
        .await
        .into_iter()
        .map(|v| serde_json::from_value(v).unwrap())
        .collect();
    assert_eq!(reopened.len(), 1);
    assert_eq!(reopened[0].actor, "worker:survey");
    assert_eq!(reopened[0].department.as_deref(), Some("customer_service"));
    assert!(matches!(
        reopened[0].change,
        LifecycleChange::Reopened { .. }
    ));
    let answered = h.outbox("survey.answered").await;
    assert_eq!(answered[0]["follow_up"], "reopened");
    // Our own ticket.reopened coming back through the bus cancels nothing and is harmless.
    assert_eq!(h.lifecycle(&reopened).await, vec![Outcome::Done]);

    // The lead department handles it again and resolves it: a new survey, cycle 2.
    h.set_now(h.now() + Duration::hours(3));
    sqlx::query("update tickets set status = 'resolved' where id = $1")
        .bind(t.0)
        .execute(&h.tc.pool)
        .await
        .unwrap();
    let (s2, tok2) = h.sent_survey(&t).await;
    assert_eq!((s1.cycle, s2.cycle), (1, 2));
    assert_ne!(s1.id, s2.id);
    h.respond("app", &[app(&tok2, "u-2", "satisfied")]).await;
    assert_eq!(h.ticket_status(t.0).await, "resolved");
    assert_eq!(
        h.timeline_kinds(t.0).await,
        vec![
            "survey_scheduled",
            "survey_sent",
            "survey_answered",
            "reopened",
            "survey_scheduled",
            "survey_sent",
            "survey_answered",
        ]
    );
    // Recovery: one unsatisfied ticket, later satisfied.
    let r = survey::report::summary(
        &h.tc.pool,
        h.now() - Duration::days(2),
        h.now() + Duration::days(1),
    )
    .await
    .unwrap();
    assert_eq!(
        (r.unsatisfied_tickets, r.recovered_tickets, r.recovery_rate),
        (1, 1, Some(1.0))
    );
    assert_eq!(
        (r.answered, r.satisfied, r.unsatisfied, r.surveys_sent),
        (2, 1, 1, 2)
    );
}

#[tokio::test]
async fn unsatisfied_escalates_when_so_configured() {
    let h = Harness::with(Harness::escalating).await;
    let t = h.ticket("app", None, Some("C-1")).await;
    let (_, tok) = h.sent_survey(&t).await;
    h.respond("app", &[app(&tok, "e-1", "unsatisfied")]).await;
    assert_eq!(h.ticket_status(t.0).await, "resolved");
    assert!(h.outbox("ticket.reopened").await.is_empty());
    let esc = h.outbox("survey.escalated.customer_service").await;
    assert_eq!(esc.len(), 1);
    assert_eq!(esc[0]["comment"], "客服很耐心");
    assert!(h
        .timeline_kinds(t.0)
        .await
        .contains(&"survey_escalated".to_string()));

    // A resolution event without a department: the router's lead department.
    let t2 = h.ticket("app", None, Some("C-2")).await;
    sqlx::query("update tickets set lead_department = 'logistics' where id = $1")
        .bind(t2.0)
        .execute(&h.tc.pool)
        .await
        .unwrap();
    let mut e = h.resolved_event(&t2, h.now());
    e.department = None;
    h.lifecycle(&[e]).await;
    let (_, tok2) = h.send_scheduled(&t2).await;
    h.respond("app", &[app(&tok2, "e-2", "unsatisfied")]).await;
    assert_eq!(h.outbox("survey.escalated.logistics").await.len(), 1);
}

#[tokio::test]
async fn someone_elses_reopening_or_a_second_resolution_cancels_the_open_survey() {
    let h = Harness::new().await;
    let t = h.ticket("app", None, Some("C-1")).await;
    let (s, tok) = h.sent_survey(&t).await;
    let mut e = h.resolved_event(&t, h.now());
    e.change = LifecycleChange::Reopened {
        reason: Some("customer called back".into()),
    };
    e.actor = "agent:li.wei".into();
    h.lifecycle(&[e]).await;
    assert_eq!(h.surveys(t.0).await[0].status, "cancelled");
    h.respond("app", &[app(&tok, "c-1", "satisfied")]).await;
    assert_eq!(
        h.answers().await[0].reason.as_deref(),
        Some("survey_closed")
    );
    let _ = s;
}

#[tokio::test]
async fn one_batch_schedules_for_many_tickets_and_keeps_each_tickets_order() {
    let h = Harness::new().await;
    // Three tickets resolved in one batch; the first is then reopened by an agent and resolved again
    // in the same batch: its events apply in order, so its first survey is cancelled and a second one
    // (cycle 2) is the open one.
    let a = h.ticket("app", None, Some("C-1")).await;
    let b = h.ticket("app", Some("13812345678"), Some("C-2")).await;
    let c = h.ticket("app", None, Some("C-3")).await;
    let first = h.resolved_event(&a, h.now());
    let mut reopened = h.resolved_event(&a, h.now());
    reopened.change = LifecycleChange::Reopened {
        reason: Some("customer called back".into()),
    };
    let again = h.resolved_event(&a, h.now());
    let mut unnamed = h.resolved_event(&c, h.now());
    unnamed.department = None;
    let out = h
        .lifecycle(&[
            first,
            h.resolved_event(&b, h.now()),
            reopened,
            unnamed,
            again,
        ])
        .await;
    assert_eq!(out, vec![Outcome::Done; 5]);
    let surveys = h.surveys(a.0).await;
    let states: Vec<(i32, &str)> = surveys
        .iter()
        .map(|s| (s.cycle, s.status.as_str()))
        .collect();
    assert_eq!(states, vec![(1, "cancelled"), (2, "scheduled")]);
    assert_eq!(
        h.timeline_kinds(a.0).await,
        vec!["survey_scheduled", "survey_cancelled", "survey_scheduled"]
    );
    for t in [&b, &c] {
        let s = h.surveys(t.0).await;
        assert_eq!(
            (s.len(), s[0].cycle, s[0].status.as_str()),
            (1, 1, "scheduled")
        );
        assert_eq!(h.timeline_kinds(t.0).await, vec!["survey_scheduled"]);
    }
}

#[tokio::test]
async fn redelivered_messages_change_nothing() {
    let h = Harness::new().await;
    let t = h.ticket("app", None, Some("C-1")).await;
    let e = h.resolved_event(&t, h.now());
    h.lifecycle(&[e.clone(), e.clone()]).await;
    h.lifecycle(std::slice::from_ref(&e)).await;
    assert_eq!(h.surveys(t.0).await.len(), 1);
    assert_eq!(h.timeline_kinds(t.0).await, vec!["survey_scheduled"]);
    h.set_now(sh(2026, 3, 2, 12, 0));
    h.fire().await;
    assert_eq!(h.fire().await, 0, "a fired timer does not fire again");
    let tok = h.outbox("survey.request.app").await[0]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = app(&tok, "r-1", "unsatisfied");
    h.respond("app", &[answer.clone(), answer.clone()]).await;
    h.respond("app", &[answer]).await;
    assert_eq!(
        h.answers().await.len(),
        1,
        "the same response id is one answer"
    );
    assert_eq!(h.outbox("ticket.reopened").await.len(), 1);
    assert_eq!(h.outbox("survey.answered").await.len(), 1);
    // A malformed event about an unknown ticket is dead-lettered (kept), not applied.
    let mut ghost = h.resolved_event(&(uuid::Uuid::now_v7(), "x".into()), h.now());
    ghost.ticket_no = "none".into();
    assert!(matches!(h.lifecycle(&[ghost]).await[0], Outcome::Poison(_)));
}

#[tokio::test]
async fn report_figures() {
    let h = Harness::new().await;
    let mut tokens = Vec::new();
    for i in 0..4 {
        let t = h.ticket("app", None, Some(&format!("C-{i}"))).await;
        tokens.push(h.sent_survey(&t).await.1);
    }
    let a = |tok: &str, id: &str, s: &str, score: i32, nps: i32| {
        json!({"schema_version": 1, "response_id": id,
        "token": tok, "received_at": h.now(), "channel": "app", "satisfaction": s, "score": score, "nps": nps})
    };
    h.respond(
        "app",
        &[
            a(&tokens[0], "1", "satisfied", 5, 10),
            a(&tokens[1], "2", "satisfied", 4, 9),
            a(&tokens[2], "3", "basically_satisfied", 3, 7),
            a(&tokens[3], "4", "unsatisfied", 1, 2),
        ],
    )
    .await;
    let r = survey::report::summary(
        &h.tc.pool,
        h.now() - Duration::days(1),
        h.now() + Duration::days(1),
    )
    .await
    .unwrap();
    assert_eq!(r.answered, 4);
    assert_eq!(r.satisfied_share, Some(0.5));
    assert_eq!(r.csat, Some(0.5));
    assert_eq!(r.nps, Some(25.0));
    assert_eq!(r.response_rate, Some(1.0));
    assert_eq!((r.unsatisfied_tickets, r.recovery_rate), (1, Some(0.0)));
}

mod page {
    use super::*;
    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use tower::ServiceExt;

    async fn call(h: &Harness, req: Request<Body>) -> (StatusCode, String) {
        let resp = survey::web::page_router(h.ctx.clone(), Default::default())
            .oneshot(req)
            .await
            .unwrap();
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
        assert_eq!(resp.headers()[header::REFERRER_POLICY], "no-referrer");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn get(token: &str, lang: Option<&str>) -> Request<Body> {
        let uri = match lang {
            Some(l) => format!("/s/{token}?lang={l}"),
            None => format!("/s/{token}"),
        };
        Request::get(uri).body(Body::empty()).unwrap()
    }

    fn post(token: &str, form: &str) -> Request<Body> {
        Request::post(format!("/s/{token}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .unwrap()
    }

    #[tokio::test]
    async fn get_shows_post_records_a_second_post_is_refused() {
        let h = Harness::new().await;
        let t = h.ticket("email", None, None).await;
        let (s, token) = h.sent_survey(&t).await;
        assert_eq!(s.channel, "link");
        let req = h.outbox("survey.request.link").await;
        assert_eq!(req[0]["recipient"]["email"], "zhang.san@example.com");
        // GET (what a link scanner does) shows the form and records nothing.
        let (status, html) = call(&h, get(&token, None)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("不满意") && html.contains("基本满意") && html.contains("提交"));
        assert!(html.contains(r#"method="post""#) && !html.contains("<script"));
        assert!(html.contains(&t.1), "shows the ticket number");
        let (_, en) = call(&h, get(&token, Some("en"))).await;
        assert!(en.contains("Basically satisfied") && en.contains("Submit"));
        call(&h, get(&token, None)).await;
        assert!(h.answers().await.is_empty());
        assert_eq!(h.surveys(t.0).await[0].status, "sent");

        // POST records.
        let (status, html) = call(
            &h,
            post(
                &token,
                "lang=zh&satisfaction=basically_satisfied&score=4&nps=8&comment=%E8%BF%98%E8%A1%8C",
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("感谢"));
        let a = h.answers().await;
        assert_eq!(
            (
                a[0].via.as_str(),
                a[0].satisfaction.as_deref(),
                a[0].score,
                a[0].nps
            ),
            ("web", Some("basically_satisfied"), Some(4), Some(8))
        );
        assert_eq!(a[0].comment.as_deref(), Some("还行"));
        assert_eq!(h.outbox("survey.answered").await[0]["answered_via"], "web");

        // A second POST is refused with its reason and kept.
        let (status, html) = call(&h, post(&token, "lang=en&satisfaction=unsatisfied")).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(html.contains(r#"data-reason="already_answered""#));
        assert!(html.contains("already been answered"));
        let a = h.answers().await;
        assert_eq!(
            (a.len(), a[1].accepted, a[1].reason.as_deref()),
            (2, false, Some("already_answered"))
        );
        assert_eq!(
            a[1].raw.as_deref(),
            Some(&b"lang=en&satisfaction=unsatisfied"[..])
        );
        // And the GET now says so instead of showing the form.
        let (status, html) = call(&h, get(&token, None)).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert!(!html.contains("<form"));
        assert_eq!(h.ticket_status(t.0).await, "resolved");
    }

    #[tokio::test]
    async fn forged_expired_and_incomplete_submissions() {
        let h = Harness::new().await;
        let t = h.ticket("email", None, None).await;
        let (s, token) = h.sent_survey(&t).await;
        let forged =
            survey::TokenSigner::new("another-secret-0123456789abcdef-xyz".to_string().into())
                .sign(s.id, s.expires_at.unwrap());
        let (status, html) = call(&h, get(&forged, None)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(html.contains(r#"data-reason="invalid_token""#));
        let (status, _) = call(&h, post(&forged, "satisfaction=satisfied")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // JSON for machines.
        let req = Request::post(format!("/s/{forged}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(Body::from("satisfaction=satisfied"))
            .unwrap();
        let (status, body) = call(&h, req).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["reason"], "invalid_token");
        // Submitting without a choice shows the form again with the reason.
        let (status, html) = call(&h, post(&token, "satisfaction=&comment=")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains(r#"data-reason="malformed_answer""#) && html.contains("<form"));
        let (status, _) = call(&h, post(&token, "satisfaction=satisfied&score=9")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        // After the window: GET and POST say expired.
        h.set_now(s.expires_at.unwrap());
        let (status, html) = call(&h, get(&token, None)).await;
        assert_eq!(status, StatusCode::GONE);
        assert!(html.contains(r#"data-reason="expired""#));
        let (status, _) = call(&h, post(&token, "satisfaction=satisfied")).await;
        assert_eq!(status, StatusCode::GONE);
        let reasons: Vec<Option<String>> =
            h.answers().await.into_iter().map(|a| a.reason).collect();
        assert_eq!(
            reasons,
            vec![
                Some("invalid_token".into()),
                Some("invalid_token".into()),
                Some("malformed_answer".into()),
                Some("out_of_range".into()),
                Some("expired".into()),
            ]
        );
        assert_eq!(h.surveys(t.0).await[0].status, "sent");
    }
}

/// The whole loop over the bus: a replica built as `main` builds it, fed by JetStream.
#[tokio::test]
async fn end_to_end_over_the_bus() {
    use shared::subjects::Stream;
    use std::time::Duration as StdDuration;
    let h = Harness::new().await;
    let replica = h.replica((*h.ctx.settings()).clone()).await;
    let t = h.ticket("app", Some("13800000001"), Some("C-1")).await;
    let e = h.resolved_event(&t, h.now());
    h.tc.publish(
        h.tc.subjects.subject("ticket.resolved"),
        serde_json::to_vec(&e).unwrap(),
    )
    .await;
    h.surveys_scheduled(t.0).await;
    h.set_now(sh(2026, 3, 2, 12, 0));
    assert_eq!(
        survey::timers::fire_due(&replica.handle, 10).await.unwrap(),
        1
    );
    let req =
        h.tc.collect(
            Stream::Survey,
            &h.tc.subjects.subject("survey.request.app"),
            1,
            StdDuration::from_secs(20),
        )
        .await;
    assert_eq!(req.len(), 1);
    let request: shared::messages::survey::SurveyRequest = req[0].json();
    let answer = app(&request.token, "e2e-1", "unsatisfied");
    h.tc.publish(
        h.tc.subjects.subject("survey.response.app"),
        serde_json::to_vec(&answer).unwrap(),
    )
    .await;
    let answered =
        h.tc.collect(
            Stream::Survey,
            &h.tc.subjects.subject("survey.answered"),
            1,
            StdDuration::from_secs(20),
        )
        .await;
    assert_eq!(answered.len(), 1);
    let reopened =
        h.tc.collect(
            Stream::Ticket,
            &h.tc.subjects.subject("ticket.reopened"),
            1,
            StdDuration::from_secs(20),
        )
        .await;
    assert_eq!(reopened.len(), 1);
    let ev: TicketLifecycleEvent = reopened[0].json();
    assert_eq!(ev.actor, "worker:survey");
    // Health is served on the replica's ops port, not beside the public page.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    for (addr, status) in [(replica.ops_addr, "200"), (replica.addr, "404")] {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = String::new();
        stream.read_to_string(&mut buf).await.unwrap();
        assert!(
            buf.starts_with(&format!("HTTP/1.1 {status}")),
            "{addr}: {buf}"
        );
    }
    replica.stop().await;
}
