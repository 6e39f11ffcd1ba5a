//! The lifecycle table as the api answers it: the allowed actions of a ticket per caller, refusals with
//! machine-readable details, what a secondary department may do, and the redaction of everything a
//! person types before it is stored or published.

mod common;

use std::time::Duration;

use common::{NewTicket, TestApp, ADMIN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::pii::{BANK_CARD_MARK, NATIONAL_ID_MARK};
use shared::subjects::Stream;

fn actions(v: &Value) -> Vec<&str> {
    v["allowed_actions"]
        .as_array()
        .unwrap_or_else(|| panic!("allowed_actions in {v}"))
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_allowed_actions_follow_role_department_and_status() {
    let app = TestApp::spawn().await;
    let agent = app.user("li", "agent", Some("customer_service")).await;
    let boss = app
        .user("zhao", "supervisor", Some("customer_service"))
        .await;
    let inspector = app.user("wang", "inspector", None).await;
    let no = "20250301001";
    NewTicket::new(no, "2025-03-01T02:00:00Z")
        .insert(&app.ctx.pool)
        .await;

    let (s, v) = app.get(&format!("/v1/tickets/{no}/actions"), &agent).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["ticket_no"], no);
    assert_eq!(v["status"], "open");
    assert_eq!(
        actions(&v),
        [
            "reply",
            "note",
            "step",
            "contact",
            "wait",
            "priority",
            "merge",
            "resolve",
            "supplement",
            "reveal"
        ]
    );
    // The detail carries the same list for the same caller.
    let (_, d) = app.get(&format!("/v1/tickets/{no}"), &agent).await;
    assert_eq!(actions(&d), actions(&v));
    let (_, v) = app.get(&format!("/v1/tickets/{no}/actions"), &boss).await;
    assert!(actions(&v).contains(&"assign"));
    assert!(
        !actions(&v).contains(&"approve"),
        "nothing to approve yet: {v}"
    );
    let (_, v) = app
        .get(&format!("/v1/tickets/{no}/actions"), &inspector)
        .await;
    assert_eq!(actions(&v), ["priority", "reclassify"]);

    // Every action answers with the ticket and what may follow.
    let (s, v) = app
        .post(
            &format!("/v1/tickets/{no}/steps"),
            &agent,
            json!({"step": 4, "solution": "换货"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = app.get(&format!("/v1/tickets/{no}/actions"), &boss).await;
    assert!(actions(&v).contains(&"approve"), "{v}");
    let (s, v) = app
        .post(
            &format!("/v1/tickets/{no}/resolve"),
            &agent,
            json!({"resolution": "full"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "resolved");
    assert_eq!(
        actions(&v),
        ["note", "step", "reopen", "archive", "reveal"],
        "an agent on a resolved ticket"
    );

    // A refused transition says which action and which status, for the console to translate.
    let (s, v) = app
        .post(
            &format!("/v1/tickets/{no}/reply"),
            &agent,
            json!({"message": "hi"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        v["error"],
        json!({"code": "invalid_transition",
            "message": "cannot reply to a ticket whose status is resolved",
            "details": {"action": "reply", "status": "resolved"}})
    );
    // A role refusal says so.
    let (s, v) = app
        .post(&format!("/v1/tickets/{no}/review"), &agent, json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v["error"]["details"]["reason"], "role");
    let (s, v) = app.get("/v1/tickets/20990101001/actions", ADMIN).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("not_found"))
    );
}

#[tokio::test]
async fn a_secondary_department_works_on_its_part_and_the_lead_decides() {
    let app = TestApp::spawn().await;
    let lead_agent = app.user("li", "agent", Some("customer_service")).await;
    let agent = app.user("chen", "agent", Some("logistics")).await;
    let boss = app.user("sun", "supervisor", Some("logistics")).await;
    let stranger = app.user("zhou", "supervisor", Some("sales")).await;
    // Logistics damage: customer service leads, logistics takes part.
    let no = "20250302001";
    NewTicket::new(no, "2025-03-02T02:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    sqlx::query(
        "update tickets set departments = array['customer_service', 'logistics'],
            solution = 'refund' where ticket_no = $1",
    )
    .bind(no)
    .execute(&app.ctx.pool)
    .await
    .unwrap();
    let p = |a: &str| format!("/v1/tickets/{no}/{a}");

    for token in [&agent, &boss] {
        let (s, v) = app.get(&format!("/v1/tickets/{no}"), token).await;
        assert_eq!(
            s,
            StatusCode::OK,
            "a secondary department reads the ticket: {v}"
        );
        assert_eq!(actions(&v), ["note", "step", "contact", "reveal"]);
    }
    let (s, v) = app
        .post(&p("notes"), &agent, json!({"text": "truck left"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(
            &p("steps"),
            &agent,
            json!({"step": 3, "result": "box crushed in transit"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(&p("contact"), &boss, json!({"note": "called"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Decisions about the whole ticket are the lead department's.
    let refused = [
        (&agent, "reply", json!({"message": "hi"})),
        (&agent, "wait", json!({})),
        (&agent, "priority", json!({"priority": "urgent"})),
        (&agent, "resolve", json!({"resolution": "full"})),
        (&agent, "merge", json!({"into": no})),
        (&boss, "assign", json!({"owner": "chen"})),
        (&boss, "approve", json!({})),
        (&boss, "reclassify", json!({"category": "logistics_delay"})),
        (&boss, "resolve", json!({"resolution": "full"})),
    ];
    for (token, action, body) in refused {
        let (s, v) = app.post(&p(action), token, body).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{action}: {v}");
        assert_eq!(
            v["error"]["details"],
            json!({"reason": "department", "action": action}),
            "{action}"
        );
    }
    // The lead department does.
    let (s, v) = app
        .post(&p("resolve"), &lead_agent, json!({"resolution": "full"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = app.post(&p("reopen"), &agent, json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only the lead reopens");
    let (s, _) = app.post(&p("archive"), &boss, json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only the lead archives");
    let (s, _) = app.post(&p("review"), &boss, json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only the lead reviews");

    // A department with no part: exactly as a ticket that does not exist, on every endpoint.
    for path in [
        format!("/v1/tickets/{no}"),
        format!("/v1/tickets/{no}/report"),
        format!("/v1/tickets/{no}/actions"),
    ] {
        let (s, v) = app.get(&path, &stranger).await;
        let (s2, v2) = app.get(&path.replace(no, "20990101001"), &stranger).await;
        assert_eq!((s, &v), (StatusCode::NOT_FOUND, &v2), "{path}");
        assert_eq!(s2, StatusCode::NOT_FOUND);
    }
    let (s, v) = app.post(&p("notes"), &stranger, json!({"text": "x"})).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("not_found"))
    );
}

#[tokio::test]
async fn everything_typed_is_redacted_before_it_is_stored_or_published() {
    let app = TestApp::spawn().await;
    let agent = app.user("li", "agent", Some("customer_service")).await;
    let boss = app
        .user("zhao", "supervisor", Some("customer_service"))
        .await;
    let no = "20250303001";
    NewTicket::new(no, "2025-03-03T02:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    let p = |a: &str| format!("/v1/tickets/{no}/{a}");
    // 11010519491231002X is GB 11643's published example; 6222021234567890128 passes Luhn.
    let id = "身份证11010519491231002X";
    let card = "卡号6222 0212 3456 7890 128";
    let said = |what: &str| format!("{what}: {id}, {card}");
    let calls = [
        (&agent, "reply", json!({"message": said("reply")})),
        (&agent, "notes", json!({"text": said("note")})),
        (
            &agent,
            "steps",
            json!({"step": 2, "result": said("result"), "remark": said("remark")}),
        ),
        (
            &agent,
            "steps",
            json!({"step": 4, "solution": said("solution")}),
        ),
        (&boss, "approve", json!({"remark": said("approval")})),
        (&agent, "contact", json!({"note": said("contact")})),
        (&agent, "wait", json!({"reason": said("wait")})),
        (&agent, "resume", json!({})),
        (
            &agent,
            "priority",
            json!({"priority": "urgent", "reason": said("priority")}),
        ),
        (
            &agent,
            "resolve",
            json!({"resolution": "partial", "reason": said("reason"),
                "follow_up_plan": said("plan"), "solution": said("solution2")}),
        ),
        (
            &boss,
            "review",
            json!({"remark": said("review"), "follow_up_plan": said("plan2")}),
        ),
        (&agent, "reopen", json!({"reason": said("reopen")})),
    ];
    for (token, action, body) in calls {
        let (s, v) = app.post(&p(action), token, body).await;
        assert_eq!(s, StatusCode::OK, "{action}: {v}");
    }
    let (_, detail) = app.get(&format!("/v1/tickets/{no}"), &agent).await;
    let (_, _, report) = app.raw(&format!("/v1/tickets/{no}/report"), &agent).await;
    let report = String::from_utf8(report).unwrap();
    let prefix = app.ctx.subjects.prefix().to_string();
    let events = app
        .ctx
        .collect(
            Stream::Ticket,
            &format!("{prefix}.ticket.>"),
            7,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(events.len(), 7, "every lifecycle event was published");
    let published: Vec<String> = events
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    let stored: Vec<String> =
        sqlx::query_scalar("select data::text from ticket_events where ticket_id = $1::uuid")
            .bind(detail["ticket"]["id"].as_str().unwrap())
            .fetch_all(&app.ctx.pool)
            .await
            .unwrap();
    let everything = [
        vec![detail.to_string(), report.clone()],
        published,
        stored.clone(),
    ]
    .concat();
    for text in &everything {
        assert!(
            !text.contains("11010519491231002X") && !text.contains("6222 0212"),
            "a number leaked: {text}"
        );
    }
    let timeline = stored.concat();
    for what in [
        "reply", "note", "result", "remark", "solution", "approval", "contact", "wait", "priority",
        "reason", "plan", "review", "plan2", "reopen",
    ] {
        assert!(
            timeline.contains(&format!(
                "{what}: 身份证{NATIONAL_ID_MARK}, 卡号{BANK_CARD_MARK}"
            )),
            "{what} is kept, redacted"
        );
    }
    assert!(report.contains(NATIONAL_ID_MARK));
}
