//! The SLA worker takes its rules from the business's setup and applies a change without a restart on
//! every replica: a new first-response target and a new holiday; a deadline of zero and a calendar with
//! no working hours are refused before they are stored; a rollback brings the old target back.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, TimeZone};
use loopdesk_sla::policy::{ClockKind, Priority, SlaRules, TicketAttrs};
use loopdesk_sla::startup::{Application, SlaConfig};
use loopdesk_sla::SlaSettings;
use serde_json::json;
use shared::setup::{self, Changed, Kind};
use shared::testkit::TestContext;
use tokio_util::sync::CancellationToken;

fn urgent_first_response(rules: &SlaRules) -> chrono::Duration {
    let attrs = TicketAttrs {
        priority: Some(Priority::Urgent),
        department: Some("customer_service".into()),
        ..Default::default()
    };
    rules.policy.target(ClockKind::FirstResponse, &attrs).target
}

async fn until(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn replica(ctx: &TestContext) -> Application {
    Application::build(
        ctx.settings.clone(),
        SlaConfig::new(
            SlaSettings {
                from_setup: true,
                ..SlaSettings::default()
            },
            // Whatever the caller passes, the setup's rules are put in force.
            Arc::new(SlaRules::default()),
        ),
        CancellationToken::new(),
    )
    .await
    .expect("sla starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_apply_sla_and_calendar_changes_without_a_restart() {
    let ctx = TestContext::new().await;
    let a = replica(&ctx).await;
    let b = replica(&ctx).await;
    assert_eq!(
        urgent_first_response(&a.handle.current()),
        chrono::Duration::hours(2),
        "config/sla/sla.toml's target"
    );

    // An admin halves the urgent first-response target.
    let doc = setup::version(&ctx.pool, Kind::Sla, None)
        .await
        .unwrap()
        .unwrap();
    let mut body = doc.body.clone();
    body["policy"]["clocks"]["first_response"]["urgent"] = json!("1h");
    let saved = setup::save(&ctx.pool, Kind::Sla, &body, "admin:test", "faster")
        .await
        .unwrap();
    setup::announce(
        &ctx.nats,
        &ctx.subjects,
        &Changed {
            kind: Kind::Sla,
            version: saved.version,
            author: "admin:test".into(),
        },
    )
    .await
    .unwrap();
    for app in [&a, &b] {
        until("the new target is in force", || {
            urgent_first_response(&app.handle.current()) == chrono::Duration::hours(1)
        })
        .await;
    }

    // A deadline of zero is refused and changes nothing.
    body["policy"]["clocks"]["first_response"]["urgent"] = json!("0m");
    let err = setup::save(&ctx.pool, Kind::Sla, &body, "admin:test", "")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, setup::SetupError::Refused(p) if p[0].code == "zero_deadline"),
        "{err}"
    );

    // A new company holiday on a Wednesday: the office calendar is closed that day (picked up by the poll).
    let cal = setup::version(&ctx.pool, Kind::Calendars, None)
        .await
        .unwrap()
        .unwrap();
    let mut cbody = cal.body.clone();
    cbody["calendars"]["cn-office"]["holidays"] = json!(["2026-12-09"]);
    setup::save(
        &ctx.pool,
        Kind::Calendars,
        &cbody,
        "admin:test",
        "company day",
    )
    .await
    .unwrap();
    let noon = chrono_tz::Asia::Shanghai
        .from_local_datetime(
            &NaiveDate::from_ymd_opt(2026, 12, 9)
                .unwrap()
                .and_hms_opt(10, 0, 0)
                .unwrap(),
        )
        .unwrap()
        .with_timezone(&chrono::Utc);
    for app in [&a, &b] {
        until("the holiday is in force", || {
            let rules = app.handle.current();
            !rules.department(Some("sales")).calendar.is_open(noon)
        })
        .await;
    }

    // A calendar with no working hours is refused.
    cbody["calendars"]["cn-office"]["weekly"] = json!({});
    let err = setup::save(&ctx.pool, Kind::Calendars, &cbody, "admin:test", "")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, setup::SetupError::Refused(p) if p[0].code == "no_working_hours"),
        "{err}"
    );

    // One step back on the SLA policy.
    setup::rollback(&ctx.pool, Kind::Sla, "admin:test")
        .await
        .unwrap();
    for app in [&a, &b] {
        until("the old target is back", || {
            urgent_first_response(&app.handle.current()) == chrono::Duration::hours(2)
        })
        .await;
    }
    a.stop().await;
    b.stop().await;
}
