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
            &ExcelDateTime::from_ymd(2024, 3, 6).unwrap(),
            &date_fmt,
        )
        .unwrap();
    sheet.write_string(1, 1, "K100").unwrap();
    sheet.write_string(1, 2, "Package arrived damaged").unwrap();
    sheet.write_string(1, 3, "logistics_delay").unwrap();
    sheet.write_string(1, 4, "general").unwrap();
    sheet
        .write_datetime_with_format(1, 5, &ExcelDateTime::from_hms(9, 0, 0).unwrap(), &time_fmt)
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
