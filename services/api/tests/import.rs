//! Importing the team's tracking spreadsheet: good rows are created with their real times, bad rows are
//! answered with a reason, repeats are duplicates, and the numbers follow.

mod common;

use common::{at, TestApp, ADMIN};
use reqwest::StatusCode;
use serde_json::Value;

const SHEET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/api/tracking_sheet.csv"
);

async fn upload(
    app: &TestApp,
    token: &str,
    query: &str,
    body: Vec<u8>,
    content_type: &str,
) -> (StatusCode, Value) {
    let resp = app
        .http
        .post(format!("{}/v1/import{query}", app.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload is sent");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn outcome(v: &Value, line: u64) -> (String, Option<String>, Option<String>) {
    let row = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["line"] == line)
        .unwrap_or_else(|| panic!("line {line}"));
    (
        row["result"].as_str().unwrap().to_string(),
        row["error"]["code"].as_str().map(str::to_string),
        row["error"]["field"].as_str().map(str::to_string),
    )
}

#[tokio::test]
async fn csv_with_good_and_bad_rows() {
    let app = TestApp::spawn().await;
    let sheet = std::fs::read(SHEET).expect("test sheet");
    let (s, v) = upload(
        &app,
        ADMIN,
        "?department=customer_service",
        sheet.clone(),
        "text/csv",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (
            v["created"].as_u64(),
            v["duplicates"].as_u64(),
            v["errors"].as_u64()
        ),
        (Some(4), Some(1), Some(5)),
        "{v:#}"
    );
    let created = |_line: u64| (String::from("created"), None::<String>, None::<String>);
    assert_eq!(outcome(&v, 2), created(2));
    assert_eq!(outcome(&v, 3), created(3));
    assert_eq!(outcome(&v, 4), created(4));
    assert_eq!(
        outcome(&v, 5),
        (
            "error".into(),
            Some("invalid_time".into()),
            Some("submit_time".into())
        )
    );
    assert_eq!(
        outcome(&v, 6),
        (
            "error".into(),
            Some("missing_field".into()),
            Some("description".into())
        )
    );
    assert_eq!(
        outcome(&v, 7),
        (
            "error".into(),
            Some("invalid_value".into()),
            Some("priority".into())
        )
    );
    assert_eq!(
        outcome(&v, 8),
        (
            "error".into(),
            Some("inconsistent".into()),
            Some("first_response_minutes".into())
        )
    );
    assert_eq!(
        outcome(&v, 9),
        (
            "error".into(),
            Some("missing_field".into()),
            Some("resolved_time".into())
        )
    );
    assert_eq!(outcome(&v, 10).0, "duplicate");
    assert_eq!(outcome(&v, 11), created(11));
    assert_eq!(v["rows"][0]["ticket_no"], "20240301001");

    // The tickets carry their real times (Asia/Shanghai) and fields.
    let (s, d) = app.get("/v1/tickets/20240301001", ADMIN).await;
    assert_eq!(s, StatusCode::OK);
    let t = &d["ticket"];
    assert_eq!(
        t["submitted_at"].as_str().map(at),
        Some(at("2024-03-01T01:10:00Z"))
    );
    assert_eq!(
        t["first_reply_at"].as_str().map(at),
        Some(at("2024-03-01T01:25:00Z"))
    );
    assert_eq!(
        t["resolved_at"].as_str().map(at),
        Some(at("2024-03-01T02:40:00Z"))
    );
    assert_eq!(t["status"], "resolved");
    assert_eq!(t["resolution"], "full");
    assert_eq!(t["first_contact_resolved"], true);
    assert_eq!(t["category"], "technical_fault");
    assert_eq!(t["priority"], "urgent");
    assert_eq!(t["owner"], "李伟");
    assert_eq!(t["lead_department"], "customer_service");
    assert_eq!(t["channel"], "import");
    assert_eq!(t["imported"], true);
    assert_eq!(d["timeline"][0]["kind"], "imported");
    // A reply after midnight belongs to the next day.
    let (_, d) = app.get("/v1/tickets/20240301002", ADMIN).await;
    assert_eq!(
        d["ticket"]["first_reply_at"].as_str().map(at),
        Some(at("2024-03-01T16:10:00Z"))
    );
    assert_eq!(d["ticket"]["status"], "open");
    let (_, d) = app.get("/v1/tickets/20240302001", ADMIN).await;
    assert_eq!(d["ticket"]["resolution"], "unresolved");
    assert_eq!(d["ticket"]["unresolved_reason"], "等待技术部排期");
    let (_, d) = app.get("/v1/tickets/20240305001", ADMIN).await;
    let text = d["ticket"]["description"].as_str().unwrap();
    assert!(
        text.contains("[REDACTED:national_id]") && !text.contains("11010519491231002X"),
        "{text}"
    );
    assert_eq!(d["ticket"]["resolution"], "partial");

    // The numbers count them on their submit dates.
    let (_, r) = app
        .get(
            "/v1/reports/summary?from=2024-03-01&to=2024-03-05&group_by=day",
            ADMIN,
        )
        .await;
    let day1 = &r["groups"][0];
    assert_eq!(day1["key"], "2024-03-01");
    assert_eq!(day1["tickets"], 2);
    assert_eq!(day1["resolved"], 1);
    assert_eq!(day1["avg_first_response_minutes"], 27.5);
    assert_eq!(day1["avg_resolution_minutes"], 90.0);
    assert_eq!(day1["first_contact_resolution_rate"], 50.0);
    assert_eq!(r["total"]["tickets"], 4);
    assert_eq!(
        r["total"]["resolved"], 2,
        "full and partial count, unresolved does not"
    );

    // Importing the same sheet again creates nothing.
    let (s, v) = upload(
        &app,
        ADMIN,
        "?department=customer_service",
        sheet,
        "text/csv",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            v["created"].as_u64(),
            v["duplicates"].as_u64(),
            v["errors"].as_u64()
        ),
        (Some(0), Some(5), Some(5))
    );

    // A sheet without the required columns is refused as a whole.
    let (s, v) = upload(
        &app,
        ADMIN,
        "",
        "foo,bar\n1,2\n".as_bytes().to_vec(),
        "text/csv",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "missing_column");
    let (s, v) = upload(&app, ADMIN, "", vec![0xff, 0xfe, 0x00], "text/csv").await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_utf8"))
    );
    let (s, v) = upload(
        &app,
        ADMIN,
        "?format=xlsx",
        b"not a zip".to_vec(),
        "application/octet-stream",
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_xlsx"))
    );
}

#[tokio::test]
async fn xlsx_with_english_headers_and_typed_cells() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let app = TestApp::spawn().await;
    let boss = app.user("zhao", "supervisor", Some("logistics")).await;
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let headers = [
        "Date",
        "Customer ID",
        "Description",
        "Type",
        "Priority",
        "Submit time",
        "First reply time",
        "First response minutes",
        "Resolved time",
        "Resolution minutes",
        "First-contact resolved",
        "Status",
        "Unresolved reason",
        "Owner",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let date_fmt = Format::new().set_num_format("yyyy-mm-dd");
    let time_fmt = Format::new().set_num_format("hh:mm");
    // A typed date cell and a typed time cell, as Excel users keep them.
    sheet
        .write_datetime_with_format(
            1,
            0,
            ExcelDateTime::from_ymd(2024, 3, 6).unwrap(),
            &date_fmt,
        )
        .unwrap();
    sheet.write_string(1, 1, "K100").unwrap();
    sheet.write_string(1, 2, "Package arrived damaged").unwrap();
    sheet.write_string(1, 3, "logistics_delay").unwrap();
    sheet.write_string(1, 4, "general").unwrap();
    sheet
        .write_datetime_with_format(1, 5, ExcelDateTime::from_hms(9, 0, 0).unwrap(), &time_fmt)
        .unwrap();
    sheet.write_string(1, 6, "09:30").unwrap();
    sheet.write_number(1, 7, 30).unwrap();
    sheet.write_string(1, 8, "11:00").unwrap();
    sheet.write_number(1, 9, 120).unwrap();
    sheet.write_string(1, 10, "no").unwrap();
    sheet.write_string(1, 11, "resolved").unwrap();
    sheet.write_string(1, 13, "amy").unwrap();
    // A bad row: an unknown status.
    sheet.write_string(2, 0, "2024-03-06").unwrap();
    sheet.write_string(2, 2, "Refund late").unwrap();
    sheet.write_string(2, 5, "10:00").unwrap();
    sheet.write_string(2, 11, "done").unwrap();
    let bytes = book.save_to_buffer().unwrap();

    let (s, v) = upload(
        &app,
        &boss,
        "",
        bytes,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["created"].as_u64(), v["errors"].as_u64()),
        (Some(1), Some(1)),
        "{v:#}"
    );
    assert_eq!(
        outcome(&v, 3),
        (
            "error".into(),
            Some("invalid_value".into()),
            Some("status".into())
        )
    );
    let (_, d) = app.get("/v1/tickets/20240306001", &boss).await;
    let t = &d["ticket"];
    assert_eq!(
        t["submitted_at"].as_str().map(at),
        Some(at("2024-03-06T01:00:00Z"))
    );
    assert_eq!(
        t["resolved_at"].as_str().map(at),
        Some(at("2024-03-06T03:00:00Z"))
    );
    assert_eq!(
        t["lead_department"], "logistics",
        "a supervisor imports into their own department"
    );
    // ... and not into another one.
    let (s, _) = upload(
        &app,
        &boss,
        "?department=customer_service",
        b"x".to_vec(),
        "text/csv",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

const TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/data/api/tracking_template.csv"
);

fn counts(v: &Value, key: &str) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {v:#}"))
        .iter()
        .map(|l| {
            (
                l["label"].as_str().unwrap().to_string(),
                l["count"].as_u64().unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = list.iter().map(|(l, n)| (l.to_string(), *n)).collect();
    out.sort();
    out
}

/// The tracking template's example rows, as the team keeps them (their own problem types, '-', '/',
/// '无', 'N/A', '—' for nothing), import whole, and the weekly report shows the template's own figures.
#[tokio::test]
async fn template_rows_import_as_they_are_and_the_week_shows_the_template_figures() {
    let app = TestApp::spawn().await;
    let sheet = std::fs::read(TEMPLATE).expect("template");

    // Preview: rows, columns found, unknown labels with counts; nothing written.
    let (s, p) = upload(
        &app,
        ADMIN,
        "/preview?department=customer_service",
        sheet.clone(),
        "text/csv",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        (p["rows"].as_u64(), p["readable"].as_u64()),
        (Some(8), Some(8)),
        "{p:#}"
    );
    assert_eq!(p["columns"].as_array().unwrap().len(), 14);
    assert_eq!(p["columns"][3]["header"], "问题类型");
    assert_eq!(p["columns"][3]["column"], "category");
    let team = pairs(&[
        ("技术咨询", 2),
        ("售后投诉", 2),
        ("咨询反馈", 2),
        ("售后咨询", 2),
    ]);
    assert_eq!(counts(&p, "unknown_labels"), team);
    assert!(p["categories"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["code"] == "technical_fault"));
    let (_, r) = app
        .get(
            "/v1/reports/summary?from=2024-04-01&to=2024-04-07&group_by=week",
            ADMIN,
        )
        .await;
    assert_eq!(r["total"]["tickets"], 0, "a preview writes nothing");

    // Import: every row created, the team's labels added with their counts.
    let (s, v) = upload(
        &app,
        ADMIN,
        "?department=customer_service",
        sheet,
        "text/csv",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["created"].as_u64(), v["errors"].as_u64()),
        (Some(8), Some(0)),
        "{v:#}"
    );
    assert_eq!(counts(&v, "added_categories"), team);
    let code = v["added_categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["label"] == "技术咨询")
        .and_then(|l| l["category"].as_str())
        .expect("the added label has a category code")
        .to_string();
    let (_, d) = app.get("/v1/tickets/20240401001", ADMIN).await;
    assert_eq!(d["ticket"]["category"], code.as_str());
    assert_eq!(
        d["ticket"]["unresolved_reason"],
        Value::Null,
        "'-' is empty"
    );
    let (_, d) = app.get("/v1/tickets/20240403001", ADMIN).await;
    assert_eq!(d["ticket"]["status"], "open");
    assert_eq!(
        d["ticket"]["resolved_at"],
        Value::Null,
        "'-' minutes are empty"
    );

    // The team's own categories are categories like any other: a correction may name one by its
    // label (its code is in the team's language), and a category nobody defined is refused.
    let (s, v) = app
        .post(
            "/v1/tickets/20240403001/reclassify",
            ADMIN,
            serde_json::json!({"category": "售后投诉"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(
            "/v1/tickets/20240403001/reclassify",
            ADMIN,
            serde_json::json!({"category": "没有这个类型"}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (Some("invalid_value"), Some("category"))
    );

    // The template's definitions over its example rows (8 tickets in ISO week 2024-W14):
    // first response (20+30+10+50+15+60+5+30)/8 = 27.5 min; resolution over the 6 resolved
    // (90+120+40+120+25+75)/6 = 78.33 min; resolution rate 6/8 = 75 %; first contact 4/8 = 50 %.
    let (s, r) = app
        .get(
            "/v1/reports/summary?from=2024-04-01&to=2024-04-07&group_by=week",
            ADMIN,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let week = &r["groups"][0];
    assert_eq!(week["key"], "2024-W14", "{r:#}");
    assert_eq!(week["tickets"], 8);
    assert_eq!(week["resolved"], 6);
    assert_eq!(week["avg_first_response_minutes"], 27.5);
    let resolution = week["avg_resolution_minutes"].as_f64().unwrap();
    assert!((resolution - 470.0 / 6.0).abs() < 0.01, "{resolution}");
    assert_eq!(week["resolution_rate"], 75.0);
    assert_eq!(week["first_contact_resolution_rate"], 50.0);
}

/// A mapping puts an unknown label onto an existing category; the rest are added; a mapping onto a
/// category that does not exist is refused as a whole.
#[tokio::test]
async fn mapping_puts_unknown_labels_on_existing_categories() {
    let app = TestApp::spawn().await;
    let sheet = std::fs::read(TEMPLATE).expect("template");
    let mapping = urlencode(r#"{"技术咨询":"technical_fault","售后投诉":"服务投诉"}"#);
    let (s, p) = upload(
        &app,
        ADMIN,
        &format!("/preview?department=customer_service&mapping={mapping}"),
        sheet.clone(),
        "text/csv",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        counts(&p, "unknown_labels"),
        pairs(&[("咨询反馈", 2), ("售后咨询", 2)])
    );
    assert_eq!(
        counts(&p, "mapped_labels"),
        pairs(&[("技术咨询", 2), ("售后投诉", 2)])
    );
    let (s, v) = upload(
        &app,
        ADMIN,
        &format!("?department=customer_service&mapping={mapping}"),
        sheet.clone(),
        "text/csv",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["created"], 8, "{v:#}");
    assert_eq!(
        counts(&v, "added_categories"),
        pairs(&[("咨询反馈", 2), ("售后咨询", 2)])
    );
    let (_, d) = app.get("/v1/tickets/20240401001", ADMIN).await;
    assert_eq!(d["ticket"]["category"], "technical_fault");
    let (_, d) = app.get("/v1/tickets/20240401002", ADMIN).await;
    assert_eq!(d["ticket"]["category"], "service_complaint");

    let bad = urlencode(r#"{"技术咨询":"no_such_category"}"#);
    let (s, v) = upload(&app, ADMIN, &format!("?mapping={bad}"), sheet, "text/csv").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_mapping");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Issue 19.1: a row whose department column names another department than the importer's own is
/// refused; rows of the importer's department (by code or name) and rows without one are created.
#[tokio::test]
async fn a_department_column_cannot_place_tickets_outside_the_importers_department() {
    let app = TestApp::spawn().await;
    let boss = app.user("zhao", "supervisor", Some("logistics")).await;
    let sheet = "日期,问题描述,提交时间,部门\n\
        2024-03-10,包裹破损,09:00,物流部\n\
        2024-03-10,投诉客服态度,09:10,customer_service\n\
        2024-03-10,快递丢件,09:20,-\n\
        2024-03-10,发货太慢,09:30,logistics\n";
    let (s, v) = upload(&app, &boss, "", sheet.as_bytes().to_vec(), "text/csv").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["created"].as_u64(), v["errors"].as_u64()),
        (Some(3), Some(1)),
        "{v:#}"
    );
    assert_eq!(
        outcome(&v, 3),
        (
            "error".into(),
            Some("forbidden_department".into()),
            Some("department".into())
        )
    );
    for line in [2, 4, 5] {
        let no = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["line"] == line)
            .and_then(|r| r["ticket_no"].as_str())
            .unwrap()
            .to_string();
        let (_, d) = app.get(&format!("/v1/tickets/{no}"), ADMIN).await;
        assert_eq!(d["ticket"]["lead_department"], "logistics", "line {line}");
    }
    // The customer-service department holds no imported ticket.
    let n: i64 = sqlx::query_scalar(
        "select count(*) from tickets where imported and (lead_department = 'customer_service' or 'customer_service' = any(departments))",
    )
    .fetch_one(&app.state.pool)
    .await
    .unwrap();
    assert_eq!(n, 0);
    // An admin may name any known department, not an unknown one.
    let sheet = "日期,问题描述,提交时间,部门\n2024-03-11,投诉客服态度,09:10,客服部\n2024-03-11,别的,09:20,火星部\n";
    let (_, v) = upload(&app, ADMIN, "", sheet.as_bytes().to_vec(), "text/csv").await;
    assert_eq!(outcome(&v, 2).0, "created", "{v:#}");
    assert_eq!(outcome(&v, 3).1.as_deref(), Some("invalid_value"));
}

/// Issue 19.2: national-ID and bank-card numbers in any cell are redacted before anything is stored:
/// the ticket, its detail and the `imported` timeline entry keep no raw number.
#[tokio::test]
async fn imported_cells_keep_no_national_id_or_bank_card_number() {
    let app = TestApp::spawn().await;
    let id = "11010519491231002X";
    let card = "6222021234567890128";
    let sheet = format!(
        "日期,客户编号,问题描述,提交时间,解决时间,解决状态,未解决原因,责任人,备注\n\
         2024-03-12,{card},身份证{id}无法实名,09:00,10:00,未解决,用户卡号{card}冻结,王芳,证件 {id}\n"
    );
    let (s, v) = upload(
        &app,
        ADMIN,
        "?department=customer_service",
        sheet.into_bytes(),
        "text/csv",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["created"], 1, "{v:#}");
    let no = v["rows"][0]["ticket_no"].as_str().unwrap().to_string();
    let (_, d) = app.get(&format!("/v1/tickets/{no}"), ADMIN).await;
    let text = d.to_string();
    assert!(
        !text.contains(id) && !text.contains(card) && !text.contains("1234567890128"),
        "{d:#}"
    );
    assert!(text.contains("[REDACTED:national_id]") && text.contains("[REDACTED:bank_card]"));
    assert_eq!(d["timeline"][0]["kind"], "imported");
    // Nothing stored anywhere keeps them: the ticket row and every timeline entry.
    let stored: Vec<String> = sqlx::query_scalar(
        "select t::text from tickets t where imported
         union all select e::text from ticket_events e",
    )
    .fetch_all(&app.state.pool)
    .await
    .unwrap();
    assert!(!stored.is_empty());
    for row in stored {
        assert!(!row.contains(id) && !row.contains(card), "{row}");
    }
}

/// Issue 19 item 10: a few-kilobyte workbook whose used range spans the whole grid (A1 and
/// XFD1048576) is refused by its cells' positions before any grid is allocated, and the api stays up.
#[tokio::test]
async fn a_sheet_spanning_the_whole_grid_is_refused_and_the_api_stays_up() {
    use rust_xlsxwriter::Workbook;
    let app = TestApp::spawn().await;
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "日期").unwrap();
    sheet.write_string(1_048_575, 16_383, "x").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    assert!(
        bytes.len() < 16 * 1024,
        "the bomb is small: {} bytes",
        bytes.len()
    );
    for path in ["", "/preview"] {
        let resp = app
            .http
            .post(format!(
                "{}/v1/import{path}?department=customer_service&format=xlsx",
                app.base
            ))
            .bearer_auth(ADMIN)
            .body(bytes.clone())
            .send()
            .await
            .expect("upload is sent");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("sheet_too_large")),
            "{path}: {v}"
        );
    }
    // Still answering, and a normal sheet still imports.
    let sheet = std::fs::read(SHEET).expect("test sheet");
    let (s, _) = upload(
        &app,
        ADMIN,
        "?department=customer_service",
        sheet,
        "text/csv",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}
