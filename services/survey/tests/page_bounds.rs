//! What one client can make the public survey page store is bounded: the body it reads, the prefix of
//! a refused answer it keeps, and the answers it takes per address and per link. And the worker does
//! not start without the secret every replica shares.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::Harness;
use tower::ServiceExt;

fn post(token: &str, form: String) -> Request<Body> {
    Request::post(format!("/s/{token}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap()
}

async fn call(page: &axum::Router, req: Request<Body>) -> StatusCode {
    page.clone().oneshot(req).await.unwrap().status()
}

async fn refused_rows(h: &Harness) -> (i64, i64) {
    sqlx::query_as("select count(*), coalesce(max(length(raw)), 0)::int8 from survey_answers where not accepted")
        .fetch_one(&h.tc.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn oversized_bodies_are_refused_and_refusals_are_stored_as_a_bounded_prefix() {
    let h = Harness::new().await;
    let page = survey::web::page_router(h.ctx.clone(), Default::default());
    // Far beyond the page's body limit: refused before anything is stored.
    let huge = format!("satisfaction=satisfied&comment={}", "x".repeat(200_000));
    assert_eq!(
        call(&page, post("v1.forged", huge)).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(refused_rows(&h).await.0, 0);
    // Within the limit but refused (a forged token): stored, truncated.
    let big = format!("satisfaction=satisfied&comment={}", "y".repeat(20_000));
    assert_eq!(
        call(&page, post("v1.forged", big)).await,
        StatusCode::FORBIDDEN
    );
    let (rows, longest) = refused_rows(&h).await;
    assert_eq!(rows, 1);
    assert_eq!(longest, h.ctx.settings().max_stored_refusal_bytes as i64);
}

#[tokio::test]
async fn refused_answers_are_rate_limited_per_link_and_per_address() {
    let h = Harness::with(|s| {
        s.page_posts_per_hour_per_link = 3;
        s.page_posts_per_minute_per_address = 8;
    })
    .await;
    let page = survey::web::page_router(h.ctx.clone(), Default::default());
    let t = h.ticket("email", None, None).await;
    let (_, token) = h.sent_survey(&t).await;
    // An incomplete answer on a genuine link, over and over: each refusal is stored and written to
    // the ticket's timeline until the link's limit, then 429 and nothing more.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(call(&page, post(&token, "score=9".into())).await);
    }
    assert_eq!(&statuses[..3], &[StatusCode::UNPROCESSABLE_ENTITY; 3]);
    assert_eq!(&statuses[3..], &[StatusCode::TOO_MANY_REQUESTS; 3]);
    let refused_on_timeline = h
        .timeline_kinds(t.0)
        .await
        .iter()
        .filter(|k| *k == "survey_answer_refused")
        .count();
    assert_eq!(refused_on_timeline, 3);
    // Forged links from one address: the address's limit (8 per minute, 6 used above) holds.
    let mut forged = Vec::new();
    for i in 0..5 {
        forged.push(
            call(
                &page,
                post(&format!("v1.forged{i}"), "satisfaction=satisfied".into()),
            )
            .await,
        );
    }
    assert_eq!(&forged[..2], &[StatusCode::FORBIDDEN; 2]);
    assert_eq!(&forged[2..], &[StatusCode::TOO_MANY_REQUESTS; 3]);
    assert_eq!(
        refused_rows(&h).await.0,
        5,
        "3 on the link, 2 forged; nothing past the limits"
    );
}

#[test]
fn the_worker_refuses_to_start_without_a_token_secret() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_survey"))
        .env("LOOPDESK_CONFIG_DIR", "/nonexistent-loopdesk-config")
        .env_remove("LOOPDESK__SURVEY__TOKEN_SECRET")
        .env_remove("LOOPDESK__SURVEY__ALLOW_EPHEMERAL_SECRET")
        .output()
        .expect("the survey binary runs");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("token_secret"), "{said}");
}
