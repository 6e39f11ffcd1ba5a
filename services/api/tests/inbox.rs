//! The inbox's data: per-user unread marks, each row's SLA clocks, the deadline order with its cursor
//! pages, and personal saved views.

mod common;

use common::{NewTicket, TestApp, ADMIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// A clock row as the SLA worker writes it; `due_in_secs` for running clocks.
async fn clock(
    app: &TestApp,
    ticket: Uuid,
    kind: &str,
    status: &str,
    due_in_secs: Option<i64>,
    breached: bool,
) {
    sqlx::query("insert into sla_tickets (ticket_id, department) values ($1, 'customer_service') on conflict do nothing")
        .bind(ticket)
        .execute(&app.ctx.pool)
        .await
        .expect("sla ticket row");
    sqlx::query(
        "insert into sla_clocks (ticket_id, kind, cycle, version, status, basis, target_us, warning_fractions,
             started_at, elapsed_us, running_since, due_at, breached_at)
         values ($1, $2, 1, 1, $3, 'wall', 7200000000, '[0.75]', now() - interval '1 hour', 3600000000,
             case when $3 = 'running' then now() end,
             case when $4::bigint is null then null else now() + make_interval(secs => $4::bigint) end,
             case when $5 then now() end)",
    )
    .bind(ticket)
    .bind(kind)
    .bind(status)
    .bind(due_in_secs)
    .bind(breached)
    .execute(&app.ctx.pool)
    .await
    .expect("clock row");
}

fn numbers(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["ticket_no"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn unread_marks_are_per_user_and_follow_changes() {
    let app = TestApp::spawn().await;
    let li = app.user("li", "agent", Some("customer_service")).await;
    let wu = app.user("wu", "agent", Some("customer_service")).await;
    for (no, at) in [
        ("20250101001", "2025-01-01T02:00:00Z"),
        ("20250101002", "2025-01-01T03:00:00Z"),
    ] {
        NewTicket::new(no, at).insert(&app.ctx.pool).await;
    }
    let unread = |v: &Value, no: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["ticket_no"] == no)
            .unwrap()["unread"]
            .as_bool()
            .unwrap()
    };
    let (_, v) = app.get("/v1/tickets", &li).await;
    assert!(unread(&v, "20250101001") && unread(&v, "20250101002"));
    // Opening the detail reads it, for li only.
    assert_eq!(
        app.get("/v1/tickets/20250101001", &li).await.0,
        StatusCode::OK
    );
    let (_, v) = app.get("/v1/tickets", &li).await;
    assert!(!unread(&v, "20250101001") && unread(&v, "20250101002"));
    let (_, v) = app.get("/v1/tickets", &wu).await;
    assert!(unread(&v, "20250101001"));
    let (_, v) = app.get("/v1/tickets?unread=true", &li).await;
    assert_eq!(numbers(&v), ["20250101002"]);
    // Someone else's change makes it unread again; the caller's own change does not.
    let (s, _) = app
        .post(
            "/v1/tickets/20250101001/notes",
            &wu,
            json!({"text": "called"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = app.get("/v1/tickets", &li).await;
    assert!(unread(&v, "20250101001"));
    let (s, _) = app
        .post("/v1/tickets/20250101001/read", &li, json!({}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = app.get("/v1/tickets", &li).await;
    assert!(!unread(&v, "20250101001"));
    let (s, _) = app
        .call(
            Method::DELETE,
            "/v1/tickets/20250101001/read",
            Some(&li),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v) = app.get("/v1/tickets", &li).await;
    assert!(unread(&v, "20250101001"));
    // The list carries an excerpt of the description, the detail the whole of it.
    let long = "很长的描述".repeat(60);
    let mut t = NewTicket::new("20250101003", "2025-01-01T04:00:00Z");
    t.description = long.clone();
    t.insert(&app.ctx.pool).await;
    let (_, v) = app.get("/v1/tickets?limit=1", &li).await;
    let excerpt = v["items"][0]["description"].as_str().unwrap();
    assert!(
        excerpt.chars().count() <= 141 && excerpt.ends_with('…'),
        "{excerpt}"
    );
    let (_, v) = app.get("/v1/tickets/20250101003", &li).await;
    assert_eq!(v["ticket"]["description"], long);
    // The bootstrap token is no person: it has no marks.
    let (s, v) = app
        .post("/v1/tickets/20250101003/read", ADMIN, json!({}))
        .await;
    assert_eq!(
        (s, v["error"]["details"]["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("no_user"))
    );
}

#[tokio::test]
async fn rows_carry_their_clocks_and_sort_by_the_nearest_deadline() {
    let app = TestApp::spawn().await;
    let li = app.user("li", "agent", Some("customer_service")).await;
    let mut ids = Vec::new();
    for (i, at) in [
        "2025-01-01T01:00:00Z",
        "2025-01-01T02:00:00Z",
        "2025-01-01T03:00:00Z",
        "2025-01-01T04:00:00Z",
        "2025-01-01T05:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let no = format!("2025010100{}", i + 1);
        ids.push(NewTicket::new(&no, at).insert(&app.ctx.pool).await);
    }
    // 001: resolution due in 2 h, first response in 10 min (its nearest).
    clock(&app, ids[0], "resolution", "running", Some(7200), false).await;
    clock(&app, ids[0], "first_response", "running", Some(600), false).await;
    // 002: breached 5 min ago, still running.
    clock(&app, ids[1], "first_response", "running", Some(-300), true).await;
    // 003: waiting on the customer: paused.
    clock(&app, ids[2], "resolution", "paused", None, false).await;
    // 004: first response met; resolution due in 1 h.
    clock(&app, ids[3], "first_response", "stopped", None, false).await;
    clock(&app, ids[3], "resolution", "running", Some(3600), false).await;
    // 005: no clocks at all.

    let (s, v) = app.get("/v1/tickets?sort=deadline", &li).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        numbers(&v),
        [
            "20250101002",
            "20250101001",
            "20250101004",
            "20250101005",
            "20250101003"
        ],
        "overdue first, then by deadline; tickets without a running clock newest first"
    );
    let row = |no: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["ticket_no"] == no)
            .unwrap()
            .clone()
    };
    let first = row("20250101001");
    let kinds: Vec<&str> = first["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["first_response", "resolution"]);
    let fr = &first["clocks"][0];
    assert_eq!(fr["state"], "running");
    assert!(
        (590..=600).contains(&fr["remaining_secs"].as_i64().unwrap()),
        "{fr}"
    );
    assert!(fr["deadline"].is_string());
    assert_eq!(row("20250101002")["clocks"][0]["state"], "breached");
    let paused = &row("20250101003")["clocks"][0];
    assert_eq!(
        (paused["state"].as_str(), paused["remaining_secs"].as_i64()),
        (Some("paused"), Some(3600))
    );
    assert!(paused["deadline"].is_null());
    assert_eq!(row("20250101004")["clocks"][0]["state"], "met");
    assert_eq!(row("20250101005")["clocks"], json!([]));

    // Cursor pages of two walk the same order across both phases, each ticket once.
    let mut seen = Vec::new();
    let mut path = "/v1/tickets?sort=deadline&limit=2".to_string();
    loop {
        let (s, v) = app.get(&path, &li).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        seen.extend(numbers(&v));
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/tickets?sort=deadline&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "20250101002",
            "20250101001",
            "20250101004",
            "20250101005",
            "20250101003"
        ]
    );
    // Filters still apply in the deadline order, and a cursor of one order is refused by the other.
    let (_, v) = app.get("/v1/tickets?sort=deadline&sla=overdue", &li).await;
    assert_eq!(numbers(&v), ["20250101002"]);
    let (_, v) = app.get("/v1/tickets?sort=deadline&limit=1", &li).await;
    let c = v["next_cursor"].as_str().unwrap();
    let (s, v) = app.get(&format!("/v1/tickets?cursor={c}"), &li).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor"))
    );
    // Filters the document refuses are refused (they were a 500 or silently accepted).
    let (s, v) = app.get("/v1/tickets?priority=%00urgent", &li).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("priority"))
    );
    let long = "a".repeat(201);
    let (s, v) = app
        .get(&format!("/v1/tickets?department={long}"), &li)
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("field_too_long"))
    );
}

#[tokio::test]
async fn saved_views_are_personal() {
    let app = TestApp::spawn().await;
    let li = app.user("li", "agent", Some("customer_service")).await;
    let wu = app.user("wu", "agent", Some("customer_service")).await;
    let view = json!({"name": "我的紧急", "query": {"status": "open,reopened", "priority": "urgent", "sort": "deadline", "sla": "overdue"}});
    // Text holding NUL is refused before it reaches Postgres (which would answer a 500).
    let (s, v) = app
        .post("/v1/views", &li, json!({"name": "a\u{0}b", "query": {}}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_value")),
        "{v}"
    );
    let (s, v) = app.post("/v1/views", &li, view.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    // Saving the name again replaces it.
    let (s, v) = app
        .post(
            "/v1/views",
            &li,
            json!({"name": "我的紧急", "query": {"priority": "urgent"}}),
        )
        .await;
    assert_eq!(
        (s, v["id"].as_str()),
        (StatusCode::CREATED, Some(id.as_str()))
    );
    let (_, mine) = app.get("/v1/views", &li).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(
        mine[0]["query"],
        json!({"priority": "urgent", "status": null, "department": null, "sla": null,
        "owner": null, "channel": null, "category": null, "from": null, "to": null, "q": null, "unread": null, "sort": null})
    );
    let (_, theirs) = app.get("/v1/views", &wu).await;
    assert_eq!(theirs, json!([]));
    // A view the list would refuse is refused when saved.
    let (s, v) = app
        .post(
            "/v1/views",
            &li,
            json!({"name": "other dept", "query": {"department": "logistics"}}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["details"]["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("department"))
    );
    let (s, v) = app
        .post(
            "/v1/views",
            &li,
            json!({"name": "typo", "query": {"stauts": "open"}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // Only the owner deletes it.
    assert_eq!(
        app.call(Method::DELETE, &format!("/v1/views/{id}"), Some(&wu), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(Method::DELETE, &format!("/v1/views/{id}"), Some(&li), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}
