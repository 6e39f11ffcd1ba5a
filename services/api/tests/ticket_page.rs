//! The ticket page's data: the customer's earlier tickets and the likely duplicate, supplements with
//! their info source on the timeline, and name and phone masked unless revealed (each reveal on the
//! timeline).

mod common;

use common::{NewTicket, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn kinds(v: &Value) -> Vec<String> {
    v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn history_lists_the_customers_earlier_tickets_and_the_likely_duplicate() {
    let app = TestApp::spawn().await;
    let li = app.user("li", "agent", Some("customer_service")).await;
    let earlier = NewTicket::new("20250101001", "2025-01-01T01:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    NewTicket::new("20250101002", "2025-01-01T02:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    let mut elsewhere = NewTicket::new("20250101003", "2025-01-01T03:00:00Z");
    elsewhere.department = Some("logistics");
    elsewhere.insert(&app.ctx.pool).await;
    let current = NewTicket::new("20250102001", "2025-01-02T01:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    sqlx::query(
        "update tickets set likely_duplicate_of = $2, duplicate_similarity = 0.8 where id = $1",
    )
    .bind(current)
    .bind(earlier)
    .execute(&app.ctx.pool)
    .await
    .unwrap();
    // Another customer's ticket is not history.
    sqlx::query("insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at, customer_phone, description, status, lead_department, departments)
                 values (gen_random_uuid(), 'X1', 'form', 'x1', now(), now(), '13900000000', 'other', 'open', 'customer_service', '{customer_service}')")
        .execute(&app.ctx.pool)
        .await
        .unwrap();

    let (s, v) = app.get("/v1/tickets/20250102001/history", &li).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let nos: Vec<&str> = v["earlier"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["ticket_no"].as_str().unwrap())
        .collect();
    assert_eq!(
        nos,
        ["20250101002", "20250101001"],
        "the same customer, newest first, own department"
    );
    assert_eq!(v["hidden"], 1, "one in a department li may not see");
    assert_eq!(v["likely_duplicate"]["ticket_no"], "20250101001");
    assert!((v["duplicate_similarity"].as_f64().unwrap() - 0.8).abs() < 1e-6);
    assert_eq!(v["earlier"][0]["customer_phone"], "*******5678", "masked");
    // Another department's ticket has no history to show: it does not exist for li.
    assert_eq!(
        app.get("/v1/tickets/20250101003/history", &li).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn supplements_record_their_source_and_reveals_are_on_the_timeline() {
    let app = TestApp::spawn().await;
    let li = app.user("li", "agent", Some("customer_service")).await;
    let wang = app.user("wang", "inspector", None).await;
    NewTicket::new("20250101001", "2025-01-01T02:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    let p = |a: &str| format!("/v1/tickets/20250101001/{a}");

    // Masked by default, on the detail as everywhere.
    let (_, v) = app.get(p("").trim_end_matches('/'), &li).await;
    let text = v.to_string();
    assert!(
        !text.contains("13812345678") && !text.contains("张三"),
        "{text}"
    );
    assert_eq!(v["ticket"]["customer_name"], "张先生/女士");
    assert!(v["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "supplement"));

    let (s, v) = app
        .post(
            &p("supplement"),
            &li,
            json!({"order_number": "SO20250101888", "customer_type": "returning",
                   "expected_resolution_at": "2025-01-03T10:00:00Z", "info_source": "电话补充"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["order_number"], "SO20250101888");
    assert_eq!(v["customer_type"], "returning");
    assert_eq!(v["info_source"], "电话补充");
    let (s, v) = app
        .post(&p("supplement"), &li, json!({"info_source": "电话补充"}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("missing_field"))
    );
    let (s, v) = app
        .post(
            &p("supplement"),
            &li,
            json!({"customer_type": "vip", "info_source": "电话补充"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("customer_type"))
    );

    // The inspector may not reveal; the agent may, and the timeline says so.
    let (s, v) = app.post(&p("reveal"), &wang, json!({})).await;
    assert_eq!(
        (s, v["error"]["details"]["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("role"))
    );
    let (s, v) = app.post(&p("reveal"), &li, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"customer_name": "张三", "customer_phone": "13812345678"})
    );
    let (_, detail) = app.get("/v1/tickets/20250101001", &li).await;
    assert_eq!(kinds(&detail), ["supplemented", "revealed"]);
    let timeline = detail["timeline"].as_array().unwrap();
    assert_eq!(timeline[0]["data"]["info_source"], "电话补充");
    assert_eq!(
        timeline[0]["data"]["fields"]["order_number"],
        "SO20250101888"
    );
    assert_eq!(timeline[0]["data"]["previous"]["order_number"], Value::Null);
    assert_eq!(timeline[1]["actor"], "agent:li");
    assert_eq!(
        timeline[1]["data"]["fields"],
        json!(["customer_name", "customer_phone"])
    );
    assert!(
        !detail.to_string().contains("13812345678"),
        "still masked on the detail"
    );
}
