//! Each action, its timeline entry and its event; invalid transitions refused with a clear error.

mod common;

use std::time::Duration;

use common::{NewTicket, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::messages::lifecycle::TicketLifecycleEvent;
use shared::subjects::Stream;

async fn kinds(app: &TestApp, token: &str, no: &str) -> Vec<String> {
    let (s, v) = app.get(&format!("/v1/tickets/{no}"), token).await;
    assert_eq!(s, StatusCode::OK);
    v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_whole_handling_of_a_ticket() {
    let app = TestApp::spawn().await;
    let agent = app.user("li", "agent", Some("customer_service")).await;
    let boss = app
        .user("zhao", "supervisor", Some("customer_service"))
        .await;
    let inspector = app.user("wang", "inspector", None).await;
    let no = "20250101001";
    NewTicket::new(no, "2025-01-01T02:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    let p = |a: &str| format!("/v1/tickets/{no}/{a}");

    // Reply: the first one sets the first reply, the second does not.
    let (s, v) = app
        .post(
            &p("reply"),
            &agent,
            json!({"message": "您好，我们正在处理"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let first_reply = v["first_reply_at"].as_str().unwrap().to_string();
    let (s, v) = app
        .post(&p("reply"), &agent, json!({"message": "second"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["first_reply_at"].as_str().unwrap(), first_reply);
    assert_eq!(v["contacts"], 2);
    let (s, v) = app
        .post(&p("reply"), &agent, json!({"message": "  "}))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "missing_field"));

    let (s, _) = app
        .post(&p("notes"), &agent, json!({"text": "customer is VIP"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    for step in [1, 2, 3, 5] {
        let (s, v) = app
            .post(
                &p("steps"),
                &agent,
                json!({"step": step, "result": format!("step {step} done"), "remark": "ok",
                "started_at": "2025-01-01T02:10:00Z", "ended_at": "2025-01-01T02:20:00Z"}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "step {step}: {v}");
    }
    let (s, v) = app.post(&p("steps"), &agent, json!({"step": 4})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "missing_field"),
        "step 4 needs a solution"
    );
    // The refusal names the field, so the console can say which one to fill in.
    assert_eq!(v["error"]["field"], "solution");
    let (s, v) = app.post(&p("steps"), &agent, json!({"step": 6})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "use_resolve"));
    let (s, v) = app.post(&p("steps"), &agent, json!({"step": 9})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_value"));
    let (s, v) = app.post(&p("steps"), &agent, json!({"step": 7})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "invalid_transition"),
        "revisit needs a resolved ticket"
    );
    let (s, v) = app.post(&p("approve"), &boss, json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "no_solution"));
    let (s, _) = app
        .post(
            &p("steps"),
            &agent,
            json!({"step": 4, "solution": "换货 replace the item"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .post(&p("approve"), &boss, json!({"remark": "ok"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["solution_approved_by"], "zhao");
    let (s, v) = app.post(&p("approve"), &boss, json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "already_approved"));

    let (s, _) = app
        .post(&p("contact"), &agent, json!({"note": "called"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .post(
            &p("wait"),
            &agent,
            json!({"reason": "needs the order photo"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "waiting_on_customer");
    let (s, v) = app.post(&p("wait"), &agent, json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "invalid_transition"));
    let (s, v) = app.post(&p("resume"), &agent, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "open");
    let (s, v) = app.post(&p("resume"), &agent, json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "invalid_transition"));

    let (s, v) = app
        .post(&p("priority"), &agent, json!({"priority": "urgent"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["priority"], "urgent");
    let (s, v) = app
        .post(&p("priority"), &agent, json!({"priority": "urgent"}))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "unchanged"));
    let (s, v) = app
        .post(&p("priority"), &agent, json!({"priority": "whenever"}))
        .await;
    assert!(s.is_client_error(), "unknown priority refused: {v}");
    let (s, v) = app.post(&p("assign"), &boss, json!({"owner": "li"})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["owner"], "li");
    let (s, _) = app
        .post(
            &p("reclassify"),
            &inspector,
            json!({"category": "technical_fault", "reason": "APP闪退"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app.post(&p("reclassify"), &inspector, json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "missing_field"));

    let (s, v) = app
        .post(&p("resolve"), &agent, json!({"resolution": "unresolved"}))
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "missing_field"),
        "unresolved needs a reason"
    );
    assert_eq!(v["error"]["field"], "reason");
    let (s, v) = app.post(&p("review"), &boss, json!({})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "invalid_transition"),
        "review needs a resolved ticket"
    );
    let (s, v) = app
        .post(
            &p("resolve"),
            &agent,
            json!({"resolution": "full", "first_contact": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "resolved");
    assert_eq!(v["resolution"], "full");
    let (s, v) = app
        .post(&p("resolve"), &agent, json!({"resolution": "full"}))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "invalid_transition"));
    assert!(v["error"]["message"].as_str().unwrap().contains("resolved"));
    let (s, v) = app.post(&p("reply"), &agent, json!({"message": "x"})).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "invalid_transition"));
    let (s, _) = app
        .post(&p("steps"), &agent, json!({"step": 7, "result": "满意"}))
        .await;
    assert_eq!(s, StatusCode::OK, "revisit on a resolved ticket");

    let (s, v) = app
        .post(
            &p("reopen"),
            &agent,
            json!({"reason": "customer unsatisfied"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "reopened");
    assert!(v["resolved_at"].is_null());
    let (s, v) = app.post(&p("archive"), &agent, json!({})).await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::CONFLICT, "invalid_transition"),
        "only resolved tickets are archived"
    );
    let (s, _) = app
        .post(
            &p("resolve"),
            &agent,
            json!({"resolution": "partial", "reason": "refund pending", "first_contact": false}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .post(
            &p("review"),
            &boss,
            json!({"follow_up_plan": "call back in a week"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["report_reviewed_by"], "zhao");
    let (s, v) = app.post(&p("archive"), &agent, json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "archived");
    assert_eq!(v["archived_by"], "li");
    let (s, v) = app.post(&p("reopen"), &agent, json!({})).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "invalid_transition"));
    let (s, v) = app.post(&p("notes"), &agent, json!({"text": "late"})).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "invalid_transition"));

    let timeline = kinds(&app, &agent, no).await;
    let expected = [
        "replied",
        "replied",
        "note",
        "step",
        "step",
        "step",
        "step",
        "step",
        "solution_approved",
        "contacted",
        "waiting_on_customer",
        "resumed",
        "priority_changed",
        "assigned",
        "reclassify_requested",
        "resolved",
        "step",
        "reopened",
        "resolved",
        "report_reviewed",
        "archived",
    ];
    assert_eq!(timeline, expected);

    // The events, published through the outbox on {prefix}.ticket.{kind}.
    let prefix = app.ctx.subjects.prefix().to_string();
    let seen = app
        .ctx
        .collect(
            Stream::Ticket,
            &format!("{prefix}.ticket.>"),
            12,
            Duration::from_secs(10),
        )
        .await;
    let subjects: Vec<String> = seen
        .iter()
        .map(|m| {
            m.subject
                .trim_start_matches(&format!("{prefix}."))
                .to_string()
        })
        .collect();
    assert_eq!(
        subjects,
        [
            "ticket.replied",
            "ticket.replied",
            "ticket.contacted",
            "ticket.waiting",
            "ticket.resumed",
            "ticket.priority_changed",
            "ticket.assigned",
            "ticket.reclassify",
            "ticket.resolved",
            "ticket.reopened",
            "ticket.resolved",
            "ticket.archived",
        ]
    );
    let first: TicketLifecycleEvent = seen[0].json();
    assert_eq!(first.ticket_no, no);
    assert_eq!(first.actor, "agent:li");
    assert_eq!(first.department.as_deref(), Some("customer_service"));
    assert!(matches!(
        first.change,
        shared::messages::lifecycle::LifecycleChange::Replied { first: true }
    ));
    let second: TicketLifecycleEvent = seen[1].json();
    assert!(matches!(
        second.change,
        shared::messages::lifecycle::LifecycleChange::Replied { first: false }
    ));
    let reclassify: shared::messages::router::TicketReclassify = seen[7].json();
    assert_eq!(reclassify.category, "technical_fault");
    assert_eq!(reclassify.inspector, "wang");
    assert_eq!(reclassify.comment.as_deref(), Some("APP闪退"));
    assert!(seen.iter().all(|m| m
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Msg-Id"))
        .is_some()));
}

#[tokio::test]
async fn merging_duplicates_and_listing() {
    let app = TestApp::spawn().await;
    let agent = app.user("li", "agent", Some("customer_service")).await;
    let other = app.user("chen", "agent", Some("logistics")).await;
    let mut dup = NewTicket::new("20250102001", "2025-01-02T03:00:00Z");
    dup.description = "APP闪退，无法登录 app crashes".into();
    dup.insert(&app.ctx.pool).await;
    NewTicket::new("20250102002", "2025-01-02T04:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    let mut lg = NewTicket::new("20250102003", "2025-01-02T05:00:00Z");
    lg.department = Some("logistics");
    lg.insert(&app.ctx.pool).await;

    let (s, v) = app
        .post(
            "/v1/tickets/20250102001/merge",
            &agent,
            json!({"into": "20250102001"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_value"));
    let (s, v) = app
        .post(
            "/v1/tickets/20250102001/merge",
            &agent,
            json!({"into": "20250102003"}),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::NOT_FOUND, "not_found"),
        "the target belongs to another department: as if it did not exist: {v}"
    );
    let (s, v) = app
        .post(
            "/v1/tickets/20250102001/merge",
            &agent,
            json!({"into": "20250102002"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "archived");
    assert!(v["merged_into"].is_string());
    let (s, v) = app
        .post(
            "/v1/tickets/20250102001/merge",
            &agent,
            json!({"into": "20250102002"}),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "invalid_transition"));
    assert_eq!(
        kinds(&app, &agent, "20250102002").await,
        ["duplicate_merged"]
    );

    // Lists: department-bound callers see only their own department; filters and text search work.
    let (_, v) = app.get("/v1/tickets", &agent).await;
    let nos: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["ticket_no"].as_str().unwrap())
        .collect();
    assert_eq!(nos, ["20250102002", "20250102001"]);
    assert_eq!(
        v["items"][0]["customer_name"], "张先生/女士",
        "names are masked in lists"
    );
    assert_eq!(v["items"][0]["customer_phone"], "*******5678");
    let (_, v) = app.get("/v1/tickets", &other).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let (s, _) = app.get("/v1/tickets?department=logistics", &agent).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, v) = app.get("/v1/tickets?q=%E9%97%AA%E9%80%80", &agent).await; // 闪退
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let (_, v) = app.get("/v1/tickets?q=CRASHES", &agent).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let (_, v) = app.get("/v1/tickets?status=archived", &agent).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    let (_, v) = app
        .get(
            "/v1/tickets?from=2025-01-02&to=2025-01-02&tz=UTC&sla=on_time",
            common::ADMIN,
        )
        .await;
    assert_eq!(v["items"].as_array().unwrap().len(), 3);
    // Cursor pagination walks every ticket once.
    let mut seen = Vec::new();
    let mut path = "/v1/tickets?limit=1".to_string();
    loop {
        let (s, v) = app.get(&path, common::ADMIN).await;
        assert_eq!(s, StatusCode::OK);
        for t in v["items"].as_array().unwrap() {
            seen.push(t["ticket_no"].as_str().unwrap().to_string());
        }
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/tickets?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["20250102003", "20250102002", "20250102001"]);
    let (s, v) = app.get("/v1/tickets?cursor=garbage", &agent).await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_cursor"));
    // The detail keeps the customer masked (issue 18: unmasked only by a reveal, which the timeline
    // records), with its timeline and SLA clocks.
    let (s, v) = app.get("/v1/tickets/20250102002", &agent).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["ticket"]["customer_phone"], "*******5678");
    let (s, v2) = app
        .post("/v1/tickets/20250102002/reveal", &agent, json!({}))
        .await;
    assert_eq!(
        (s, v2["customer_phone"].as_str()),
        (StatusCode::OK, Some("13812345678"))
    );
    assert!(v["sla_clocks"].is_array());
    let (s, _) = app.get("/v1/tickets/20990101001", &agent).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
