//! The survey worker takes its policy from the business's setup (the `survey` kind) and applies a change
//! without a restart on every replica: a shorter delay schedules the next survey sooner; a policy that
//! would break the 24 h promise is refused before it is stored; a rollback brings the old delay back.

mod common;

use std::time::Duration as StdDuration;

use chrono::Duration;
use common::{sh, Harness};
use serde_json::json;
use shared::setup::{self, Changed, Kind, SetupError};

async fn replica(h: &Harness) -> survey::startup::Application {
    let mut settings = (*h.ctx.settings()).clone();
    // Whatever the deployment's section says, the setup's policy is put in force.
    settings.policy.delay = Duration::minutes(1);
    h.replica(settings).await
}

async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(15);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(StdDuration::from_millis(50)).await;
    }
}

async fn save_and_announce(h: &Harness, body: &serde_json::Value) -> Result<i32, SetupError> {
    let saved = setup::save(&h.tc.pool, Kind::Survey, body, "admin:test", "sooner").await?;
    setup::announce(
        &h.tc.nats,
        &h.tc.subjects,
        &Changed {
            kind: Kind::Survey,
            version: saved.version,
            author: "admin:test".into(),
        },
    )
    .await
    .unwrap();
    Ok(saved.version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_apply_a_survey_policy_change_without_a_restart() {
    let h = Harness::new().await;
    let a = replica(&h).await;
    let b = replica(&h).await;
    assert_eq!(
        a.handle.settings().policy.delay,
        Duration::hours(2),
        "config/survey/survey.toml's delay, not the section's"
    );

    let doc = setup::version(&h.tc.pool, Kind::Survey, None)
        .await
        .unwrap()
        .unwrap();
    let mut body = doc.body.clone();
    body["delay"] = json!("30m");
    body["on_unsatisfied"] = json!("escalate");
    save_and_announce(&h, &body).await.unwrap();
    until("both replicas ask after 30 minutes", || {
        a.handle.settings().policy.delay == Duration::minutes(30)
            && b.handle.settings().policy.delay == Duration::minutes(30)
    })
    .await;
    assert_eq!(
        b.handle.settings().policy.on_unsatisfied,
        survey::settings::OnUnsatisfied::Escalate
    );

    // A ticket resolved now is asked about 30 minutes later.
    let t = h.ticket("app", Some("13800000001"), Some("C-1")).await;
    let e = h.resolved_event(&t, h.now());
    h.tc.publish(
        h.tc.subjects.subject("ticket.resolved"),
        serde_json::to_vec(&e).unwrap(),
    )
    .await;
    let surveys = h.surveys_scheduled(t.0).await;
    assert_eq!(surveys.len(), 1, "ticket.resolved was consumed once");
    assert_eq!(surveys[0].send_at, sh(2026, 3, 2, 10, 30));

    // Thirteen hours' delay plus twelve quiet hours could ask after more than a day: refused, named.
    let mut late = body.clone();
    late["delay"] = json!("13h");
    match save_and_announce(&h, &late).await {
        Err(SetupError::Refused(problems)) => {
            assert_eq!(problems[0].kind, Kind::Survey);
            assert_eq!(problems[0].code, "late_survey");
            assert_eq!(problems[0].path, "delay");
        }
        other => panic!("a late survey is refused, got {other:?}"),
    }
    let mut unreadable = body.clone();
    unreadable["expire_after"] = json!("soon");
    match save_and_announce(&h, &unreadable).await {
        Err(SetupError::Refused(problems)) => assert_eq!(problems[0].code, "bad_duration"),
        other => panic!("an unreadable duration is refused, got {other:?}"),
    }

    // One step back: the 2 h delay is in force again.
    let back = setup::rollback(&h.tc.pool, Kind::Survey, "admin:test")
        .await
        .unwrap();
    setup::announce(
        &h.tc.nats,
        &h.tc.subjects,
        &Changed {
            kind: Kind::Survey,
            version: back.version,
            author: "admin:test".into(),
        },
    )
    .await
    .unwrap();
    until("both replicas are back at 2 hours", || {
        a.handle.settings().policy.delay == Duration::hours(2)
            && b.handle.settings().policy.delay == Duration::hours(2)
    })
    .await;
}
