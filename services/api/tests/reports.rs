//! The report numbers on a hand-computed data set (Asia/Shanghai, around a year boundary), the rollup
//! and scan paths agreeing, rollups following later changes, and every export opening in a real reader.

mod common;

use std::io::Cursor;

use common::{at, NewTicket, TestApp, ADMIN};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Six tickets; times in the comments are Shanghai local time (UTC+8).
async fn seed(app: &TestApp) {
    let pool = &app.ctx.pool;
    // A: 2024-12-30 10:00, reply +20 min, fully resolved +100 min at first contact, satisfied, NPS 10.
    let mut a = NewTicket::new("A", "2024-12-30T02:00:00Z");
    a.category = Some("after_sales");
    a.owner = Some("li");
    a.first_reply = Some(at("2024-12-30T02:20:00Z"));
    a.resolved = Some(at("2024-12-30T03:40:00Z"));
    a.resolution = Some("full");
    a.first_contact = Some(true);
    a.status = "resolved";
    a.satisfaction = Some("satisfied");
    a.nps = Some(10);
    a.insert(pool).await;
    // B: 2024-12-31 23:30, reply +40, partially resolved +200, not at first contact, unsatisfied, NPS 3.
    let mut b = NewTicket::new("B", "2024-12-31T15:30:00Z");
    b.category = Some("technical_fault");
    b.channel = "app";
    b.owner = Some("li");
    b.first_reply = Some(at("2024-12-31T16:10:00Z"));
    b.resolved = Some(at("2024-12-31T18:50:00Z"));
    b.resolution = Some("partial");
    b.first_contact = Some(false);
    b.status = "resolved";
    b.satisfaction = Some("unsatisfied");
    b.nps = Some(3);
    b.insert(pool).await;
    // C: 2025-01-01 00:30 local but 2024-12-31 in UTC; logistics; reply +10; still open.
    let mut c = NewTicket::new("C", "2024-12-31T16:30:00Z");
    c.department = Some("logistics");
    c.category = Some("logistics_delay");
    c.channel = "phone";
    c.owner = Some("wu");
    c.first_reply = Some(at("2024-12-31T16:40:00Z"));
    c.insert(pool).await;
    // D: 2025-01-05 09:00, reply +30, closed as unresolved (not resolved), basically satisfied, NPS 8.
    let mut d = NewTicket::new("D", "2025-01-05T01:00:00Z");
    d.category = Some("after_sales");
    d.owner = Some("wu");
    d.first_reply = Some(at("2025-01-05T01:30:00Z"));
    d.resolved = Some(at("2025-01-05T02:00:00Z"));
    d.resolution = Some("unresolved");
    d.status = "resolved";
    d.satisfaction = Some("basically_satisfied");
    d.nps = Some(8);
    d.insert(pool).await;
    // E: 2025-01-06 08:00 (ISO week 2025-W02), no reply, fully resolved +60 at first contact.
    let mut e = NewTicket::new("E", "2025-01-06T00:00:00Z");
    e.channel = "chat";
    e.owner = Some("li");
    e.resolved = Some(at("2025-01-06T01:00:00Z"));
    e.resolution = Some("full");
    e.first_contact = Some(true);
    e.status = "resolved";
    e.insert(pool).await;
    // F: 2024-12-29 23:59, outside the period.
    NewTicket::new("F", "2024-12-29T15:59:00Z")
        .insert(pool)
        .await;
}

fn group<'a>(v: &'a Value, key: &str) -> &'a Value {
    v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("group {key} in {v}"))
}

async fn summary(app: &TestApp, query: &str) -> Value {
    let (s, v) = app
        .get(
            &format!("/v1/reports/summary?from=2024-12-30&to=2025-01-06&{query}"),
            ADMIN,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn hand_computed_numbers() {
    let app = TestApp::spawn().await;
    seed(&app).await;

    let v = summary(&app, "group_by=day").await;
    assert_eq!(v["tz"], "Asia/Shanghai");
    let days: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        days,
        [
            "2024-12-30",
            "2024-12-31",
            "2025-01-01",
            "2025-01-02",
            "2025-01-03",
            "2025-01-04",
            "2025-01-05",
            "2025-01-06"
        ]
    );
    let a = group(&v, "2024-12-30");
    assert_eq!(a["tickets"], 1);
    assert_eq!(a["resolved"], 1);
    assert_eq!(a["avg_first_response_minutes"], 20.0);
    assert_eq!(a["avg_resolution_minutes"], 100.0);
    assert_eq!(a["resolution_rate"], 100.0);
    assert_eq!(a["first_contact_resolution_rate"], 100.0);
    assert_eq!(a["csat"], 100.0);
    assert_eq!(a["nps"], 100.0);
    assert_eq!(a["targets"]["first_response"]["met"], true);
    assert_eq!(a["targets"]["resolution"]["met"], true);
    let b = group(&v, "2024-12-31");
    assert_eq!(
        (b["tickets"].as_i64(), b["resolved"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(b["avg_resolution_minutes"], 200.0);
    assert_eq!(b["first_contact_resolution_rate"], 0.0);
    assert_eq!(b["csat"], 0.0);
    assert_eq!(b["nps"], -100.0);
    assert_eq!(b["targets"]["resolution"]["met"], false);
    let c = group(&v, "2025-01-01");
    assert_eq!(
        (c["tickets"].as_i64(), c["resolved"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(c["avg_first_response_minutes"], 10.0);
    assert!(c["avg_resolution_minutes"].is_null());
    assert_eq!(c["resolution_rate"], 0.0);
    assert!(c["csat"].is_null());
    let empty = group(&v, "2025-01-03");
    assert_eq!(empty["tickets"], 0);
    assert!(empty["resolution_rate"].is_null());
    assert!(empty["targets"]["resolution_rate"]["met"].is_null());
    let d = group(&v, "2025-01-05");
    assert_eq!(
        (d["tickets"].as_i64(), d["resolved"].as_i64()),
        (Some(1), Some(0)),
        "an unresolved outcome is not resolved"
    );
    assert_eq!(d["csat"], 0.0, "basically satisfied is not satisfied");
    assert_eq!(d["nps"], 0.0, "8 is a passive");
    assert_eq!(v["total"]["tickets"], 5, "F lies before the period");
    assert_eq!(v["source"], "rollup");

    // Weeks across the year boundary: Mon 2024-12-30 .. Sun 2025-01-05 is ISO week 2025-W01.
    let v = summary(&app, "group_by=week").await;
    let weeks: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(weeks, ["2025-W01", "2025-W02"]);
    let w1 = group(&v, "2025-W01");
    assert_eq!(w1["tickets"], 4);
    assert_eq!(w1["resolved"], 2);
    assert_eq!(w1["avg_first_response_minutes"], 25.0);
    assert_eq!(w1["avg_resolution_minutes"], 150.0);
    assert_eq!(w1["resolution_rate"], 50.0);
    assert_eq!(w1["first_contact_resolution_rate"], 25.0);
    assert_eq!(w1["csat"], 33.33);
    assert_eq!(w1["nps"], 0.0);
    assert_eq!(
        w1["targets"]["first_response"],
        json!({"target": 30.0, "value": 25.0, "met": true})
    );
    assert_eq!(w1["targets"]["resolution"]["met"], false);
    assert_eq!(
        w1["targets"]["resolution_rate"],
        json!({"target": 95.0, "value": 50.0, "met": false})
    );
    assert_eq!(w1["targets"]["first_contact_resolution"]["met"], false);
    let w2 = group(&v, "2025-W02");
    assert_eq!(
        (w2["tickets"].as_i64(), w2["resolved"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(w2["avg_first_response_minutes"].is_null());
    assert_eq!(w2["targets"]["resolution_rate"]["met"], true);

    let v = summary(&app, "group_by=month").await;
    let dec = group(&v, "2024-12");
    assert_eq!(
        (dec["tickets"].as_i64(), dec["resolved"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(dec["avg_first_response_minutes"], 30.0);
    assert_eq!(dec["avg_resolution_minutes"], 150.0);
    assert_eq!(dec["first_contact_resolution_rate"], 50.0);
    let jan = group(&v, "2025-01");
    assert_eq!(
        (jan["tickets"].as_i64(), jan["resolved"].as_i64()),
        (Some(3), Some(1))
    );
    assert_eq!(jan["avg_first_response_minutes"], 20.0);
    assert_eq!(jan["resolution_rate"], 33.33);

    // In UTC, C was submitted on 2024-12-31.
    let v = summary(&app, "group_by=day&tz=UTC").await;
    assert_eq!(group(&v, "2024-12-31")["tickets"], 2);
    assert_eq!(group(&v, "2025-01-01")["tickets"], 0);

    let v = summary(&app, "group_by=agent").await;
    let li = group(&v, "li");
    assert_eq!(
        (li["tickets"].as_i64(), li["resolved"].as_i64()),
        (Some(3), Some(3))
    );
    assert_eq!(li["avg_first_response_minutes"], 30.0);
    assert_eq!(li["avg_resolution_minutes"], 120.0);
    assert_eq!(li["targets"]["resolution"]["met"], true, "120 ≤ 120");
    assert_eq!(li["first_contact_resolution_rate"], 66.67);
    let wu = group(&v, "wu");
    assert_eq!(
        (wu["tickets"].as_i64(), wu["resolved"].as_i64()),
        (Some(2), Some(0))
    );
    let v = summary(&app, "group_by=channel").await;
    assert_eq!(group(&v, "form")["tickets"], 2);
    assert_eq!(group(&v, "chat")["tickets"], 1);
    let v = summary(&app, "group_by=category").await;
    assert_eq!(group(&v, "after_sales")["tickets"], 2);
    let v = summary(&app, "group_by=department").await;
    assert_eq!(group(&v, "customer_service")["tickets"], 4);
    assert_eq!(group(&v, "logistics")["tickets"], 1);

    // A department with another dimension is answered by a scan, with the same definitions.
    let v = summary(&app, "group_by=agent&department=customer_service").await;
    assert_eq!(v["source"], "scan");
    assert_eq!(group(&v, "li")["tickets"], 3);
    assert_eq!(group(&v, "li")["avg_resolution_minutes"], 120.0);
    assert_eq!(group(&v, "wu")["tickets"], 1);
    let v = summary(&app, "group_by=day&department=logistics").await;
    assert_eq!(v["source"], "rollup");
    assert_eq!(group(&v, "2025-01-01")["tickets"], 1);
    assert_eq!(v["total"]["tickets"], 1);
    // A supervisor sees only their department.
    let boss = app.user("zhao", "supervisor", Some("logistics")).await;
    let (_, v) = app
        .get(
            "/v1/reports/summary?from=2024-12-30&to=2025-01-06&group_by=week",
            &boss,
        )
        .await;
    assert_eq!(v["total"]["tickets"], 1);
    // Half-hour offsets cannot use hourly buckets: scan, same totals.
    let (_, v) = app
        .get(
            "/v1/reports/summary?from=2024-12-25&to=2025-01-10&tz=Asia/Kolkata",
            ADMIN,
        )
        .await;
    assert_eq!(v["source"], "scan");
    assert_eq!(v["total"]["tickets"], 6);

    // Rollups follow later changes: resolving C moves 2025-01-01 to resolved at once.
    let (s, _) = app
        .post(
            "/v1/tickets/C/resolve",
            ADMIN,
            json!({"resolution": "full", "first_contact": true}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let v = summary(&app, "group_by=day").await;
    assert_eq!(group(&v, "2025-01-01")["resolved"], 1);
    // After folding, the rollup alone holds the same numbers as a rebuild from the tickets.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let before = summary(&app, "group_by=week").await;
    sqlx::query("select report_rebuild()")
        .execute(&app.ctx.pool)
        .await
        .unwrap();
    let after = summary(&app, "group_by=week").await;
    assert_eq!(before["groups"], after["groups"]);

    // Bad input is refused clearly.
    let (s, v) = app
        .get("/v1/reports/summary?from=2025-13-01&to=2025-01-06", ADMIN)
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_value"))
    );
    let (s, _) = app
        .get("/v1/reports/summary?from=2025-01-06&to=2025-01-01", ADMIN)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app
        .get(
            "/v1/reports/summary?from=2025-01-01&to=2025-01-06&tz=Mars/Base",
            ADMIN,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = app
        .get(
            "/v1/reports/summary?from=2025-01-01&to=2025-01-06&group_by=year",
            ADMIN,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unresolved_lists_and_exports() {
    let app = TestApp::spawn().await;
    seed(&app).await;

    let (s, v) = app
        .get(
            "/v1/reports/unresolved-categories?from=2024-12-30&to=2025-01-06",
            ADMIN,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // after_sales: A resolved, D unresolved; logistics_delay: C open. Ties sort by code.
    assert_eq!(
        v,
        json!([
            {"category": "after_sales", "tickets": 2, "unresolved": 1, "unresolved_rate": 50.0},
            {"category": "logistics_delay", "tickets": 1, "unresolved": 1, "unresolved_rate": 100.0},
        ])
    );
    let (s, v) = app.get("/v1/reports/overdue", ADMIN).await;
    assert_eq!(s, StatusCode::OK);
    let nos: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["ticket_no"].as_str().unwrap())
        .collect();
    assert_eq!(
        nos,
        ["F", "C", "D"],
        "open tickets and those closed unresolved, oldest first"
    );
    assert_eq!(v[1]["owner"], "wu");

    // CSV.
    let (s, ct, body) = app
        .raw(
            "/v1/reports/summary?from=2024-12-30&to=2025-01-06&group_by=week&format=csv",
            ADMIN,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/csv"));
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "group");
    assert_eq!(&headers[5], "resolution_rate");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3, "two weeks and the total");
    assert_eq!(&rows[0][0], "2025-W01");
    assert_eq!(&rows[0][1], "4");
    assert_eq!(&rows[0][5], "50");
    assert_eq!(&rows[0][10], "missed");
    assert_eq!(&rows[2][0], "total");

    // XLSX, read back with calamine.
    let (s, ct, body) = app
        .raw(
            "/v1/reports/summary?from=2024-12-30&to=2025-01-06&group_by=month&format=xlsx",
            ADMIN,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.contains("spreadsheetml"));
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(body)).expect("xlsx opens");
    let range = book
        .worksheet_range("summary")
        .expect("sheet named summary");
    let cell = |r: u32, c: u32| {
        range
            .get_value((r, c))
            .map(|d| d.to_string())
            .unwrap_or_default()
    };
    assert_eq!(cell(0, 0), "group");
    assert_eq!(cell(1, 0), "2024-12");
    assert_eq!(cell(1, 1), "2");
    assert_eq!(cell(2, 0), "2025-01");
    assert_eq!(cell(2, 5), "33.33");
    let (s, _, body) = app.raw("/v1/reports/overdue?format=xlsx", ADMIN).await;
    assert_eq!(s, StatusCode::OK);
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(body)).expect("xlsx opens");
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    assert_eq!(range.height(), 4);
    let (s, _, _) = app
        .raw(
            "/v1/reports/summary?from=2024-12-30&to=2025-01-06&format=doc",
            ADMIN,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The per-ticket report: HTML (customer masked) and a PDF a reader opens.
    let (s, _) = app
        .post(
            "/v1/tickets/C/notes",
            ADMIN,
            json!({"text": "<b>escaped</b>"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, ct, body) = app.raw("/v1/tickets/C/report", ADMIN).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/html"));
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("问题解决与反馈报告"));
    assert!(html.contains("张先生/女士"));
    assert!(!html.contains("13812345678"), "the phone is masked");
    assert!(html.contains("&lt;b&gt;escaped&lt;/b&gt;"));
    let (s, ct, body) = app.raw("/v1/tickets/C/report?format=pdf", ADMIN).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "application/pdf");
    let doc = lopdf::Document::load_mem(&body).expect("the PDF parses");
    assert_eq!(doc.get_pages().len(), 1);
    // The page draws text: its content stream holds text operators with the embedded (or built-in) font.
    let page = *doc.get_pages().get(&1).expect("page 1");
    let content = doc.get_page_content(page).expect("page content");
    let ops = lopdf::content::Content::decode(&content)
        .expect("content decodes")
        .operations;
    let shown = ops
        .iter()
        .filter(|o| o.operator == "Tj" || o.operator == "TJ")
        .count();
    assert!(
        shown >= 12,
        "every report line is drawn, got {shown} text operations"
    );
}

/// Issue 19 item 4: a cell a person typed never runs as a formula in the supervisor's spreadsheet.
#[tokio::test]
async fn csv_exports_escape_formula_cells() {
    let app = TestApp::spawn().await;
    let agent = app.user("li", "agent", Some("customer_service")).await;
    NewTicket::new("20250101001", "2025-01-01T02:00:00Z")
        .insert(&app.ctx.pool)
        .await;
    let reason = "=HYPERLINK(\"http://evil.example/x\",\"查看\")";
    let (s, v) = app
        .post(
            "/v1/tickets/20250101001/resolve",
            &agent,
            json!({"resolution": "unresolved", "reason": reason}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _, body) = app.raw("/v1/reports/overdue?format=csv", ADMIN).await;
    assert_eq!(s, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(body.as_slice());
    let headers = reader.headers().unwrap().clone();
    let col = headers
        .iter()
        .position(|h| h == "unresolved_reason")
        .unwrap();
    let row = reader.records().next().unwrap().unwrap();
    assert_eq!(&row[col], format!("'{reason}"));
    for (typed, written) in [
        ("+1-555", "'+1-555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\r=1", "'\r=1"),
        ("等待技术部门", "等待技术部门"),
        ("a=b", "a=b"),
    ] {
        assert_eq!(api::reports::spreadsheet_safe(typed), written);
    }
}

/// The per-ticket report as the template has it: labels in the reader's language, people's actions
/// in order with the workers' bookkeeping folded, solution, feedback, plan, handler and reviewer; the
/// PDF a table with a subset CJK font, well under 300 KB.
#[tokio::test]
async fn the_ticket_report_reads_like_the_template() {
    let app = TestApp::spawn().await;
    let agent = app.user("li", "agent", Some("customer_service")).await;
    let boss = app
        .user("zhao", "supervisor", Some("customer_service"))
        .await;
    let mut t = NewTicket::new("20250101001", "2025-01-01T02:00:00Z");
    t.category = Some("service_complaint");
    t.description = "客服态度很差，电话里不耐烦。".into();
    let id = t.insert(&app.ctx.pool).await;
    sqlx::query("update tickets set feedback_type = 'service_attitude' where id = $1")
        .bind(id)
        .execute(&app.ctx.pool)
        .await
        .unwrap();
    for _ in 0..5 {
        sqlx::query("insert into ticket_events (ticket_id, kind, actor, data) values ($1, 'sla_clocks', 'worker:sla', '{}')")
            .bind(id)
            .execute(&app.ctx.pool)
            .await
            .unwrap();
    }
    let p = |a: &str| format!("/v1/tickets/20250101001/{a}");
    for (path, body) in [
        (p("reply"), json!({"message": "非常抱歉给您带来不好的体验"})),
        (p("contact"), json!({"note": "电话回访客户"})),
        (
            p("steps"),
            json!({"step": 3, "result": "坐席话术不规范", "remark": "已复听录音"}),
        ),
        (
            p("resolve"),
            json!({"resolution": "full", "first_contact": false, "solution": "向客户致歉并赠送优惠券"}),
        ),
    ] {
        let (s, v) = app.post(&path, &agent, body).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
    }
    sqlx::query("insert into ticket_events (ticket_id, kind, actor, data) values ($1, 'survey_scheduled', 'worker:survey', '{}')")
        .bind(id)
        .execute(&app.ctx.pool)
        .await
        .unwrap();
    let (s, v) = app
        .post(
            &p("review"),
            &boss,
            json!({"remark": "处理得当", "follow_up_plan": "一周后回访"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, _, body) = app.raw(&p("report"), &agent).await;
    assert_eq!(s, StatusCode::OK);
    let zh = String::from_utf8(body).unwrap();
    for expected in [
        "服务投诉 / 服务态度",
        "一般",
        "已解决（完全解决）",
        "向客户致歉并赠送优惠券",
        "一周后回访",
        "li（客服专员）",
        "zhao",
        "回复客户",
        "主动联系",
        "问题分析 · 坐席话术不规范",
        "SLA 计时",
        "×5",
        "安排回访调查",
        "尚无评价",
    ] {
        assert!(zh.contains(expected), "the zh report has {expected}: {zh}");
    }
    for code in [
        "service_complaint",
        "service_attitude",
        "resolved full",
        "sla_clocks",
    ] {
        assert!(!zh.contains(code), "no code {code} in the report");
    }
    assert_eq!(
        zh.matches("SLA 计时").count(),
        1,
        "the SLA bookkeeping is one line"
    );
    let (_, _, body) = app.raw(&format!("{}?lang=en", p("report")), &agent).await;
    let en = String::from_utf8(body).unwrap();
    for expected in [
        "Problem resolution and feedback report",
        "Service complaint / Service attitude",
        "Resolved (fully resolved)",
        "Handler",
        "li (agent)",
        "Replied",
    ] {
        assert!(en.contains(expected), "the en report has {expected}");
    }

    let (s, ct, pdf) = app
        .raw(&format!("{}?format=pdf", p("report")), &agent)
        .await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/pdf"));
    assert!(
        pdf.len() < 300 * 1024,
        "a one-page report is small: {} bytes",
        pdf.len()
    );
    let doc = lopdf::Document::load_mem(&pdf).expect("the PDF parses");
    assert_eq!(doc.get_pages().len(), 1);
    let page = *doc.get_pages().get(&1).unwrap();
    let ops = lopdf::content::Content::decode(&doc.get_page_content(page).unwrap())
        .unwrap()
        .operations;
    let cells = ops.iter().filter(|o| o.operator == "re").count();
    assert!(
        cells >= 2 * 12 + 4,
        "the fields and the log are drawn as a table: {cells} cells"
    );
    // The font is embedded (a subset) and maps its glyphs back to Unicode, so the Chinese is text.
    let mut embedded = 0;
    let mut to_unicode = String::new();
    for object in doc.objects.values() {
        if let Ok(stream) = object.as_stream() {
            let dict = &stream.dict;
            if dict.get(b"Subtype").ok().and_then(|s| s.as_name().ok())
                == Some(b"OpenType".as_slice())
                || dict.get(b"Length1").is_ok()
                || stream.content.starts_with(b"\x00\x01\x00\x00")
                || stream.content.starts_with(b"OTTO")
            {
                embedded = stream.content.len();
            }
            let text = String::from_utf8_lossy(&stream.content).to_string();
            if text.contains("beginbfchar") || text.contains("beginbfrange") {
                to_unicode = text;
            }
        }
    }
    assert!(
        embedded > 0 && embedded < 250 * 1024,
        "a font subset is embedded: {embedded} bytes"
    );
    for c in ['报', '告', '服', '务'] {
        let hex = format!("{:04X}", c as u32);
        assert!(to_unicode.contains(&hex), "{c} maps back to Unicode");
    }
}

/// The targets are the business's: an admin's change shows on the next report, a target of zero
/// minutes or a rate above 100 % is refused with the field named.
#[tokio::test]
async fn targets_follow_the_setup() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let (s, doc) = app.get("/v1/setup/targets", ADMIN).await;
    assert_eq!(s, StatusCode::OK, "{doc}");
    assert_eq!(doc["body"]["first_response_minutes"], 30.0);
    let put = |body: Value| {
        app.call(
            reqwest::Method::PUT,
            "/v1/setup/targets",
            Some(ADMIN),
            Some(json!({"body": body, "note": "stricter"})),
        )
    };
    let mut body = doc["body"].clone();
    body["first_response_minutes"] = json!(20);
    body["resolution_rate"] = json!(40);
    let (s, saved) = put(body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    let v = summary(&app, "group_by=week").await;
    let w1 = group(&v, "2025-W01");
    assert_eq!(
        w1["targets"]["first_response"],
        json!({"target": 20.0, "value": 25.0, "met": false})
    );
    assert_eq!(
        w1["targets"]["resolution_rate"],
        json!({"target": 40.0, "value": 50.0, "met": true})
    );

    let mut zero = body.clone();
    zero["resolution_minutes"] = json!(0);
    zero["first_contact_resolution_rate"] = json!(120);
    let (s, e) = put(zero).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let paths: Vec<&str> = e["error"]["details"]["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("problems in {e}"))
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["resolution_minutes", "first_contact_resolution_rate"]
    );
    let v = summary(&app, "group_by=week").await;
    assert_eq!(
        group(&v, "2025-W01")["targets"]["first_response"]["target"],
        20.0,
        "nothing of the refused change is in force"
    );
}
