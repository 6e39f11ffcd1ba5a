//! The api's half of the classifier: an admin asks for a training (a row and a request on the bus for
//! the router), reads the figures, adopts a trained model (the adoption announced to every router
//! replica); anyone else is refused. The router's half is `services/router/tests/training.rs`.

mod common;

use std::time::Duration;

use common::{TestApp, ADMIN};
use reqwest::StatusCode;
use serde_json::{json, Value};
use shared::messages::classifier::{ModelAdopted, TrainRequested};
use shared::subjects::Stream;

#[tokio::test]
async fn an_admin_requests_a_training_reads_the_figures_and_adopts() {
    let app = TestApp::spawn().await;
    let boss = app.user("zhao", "supervisor", Some("logistics")).await;
    let (s, _) = app.post("/v1/classifier/trainings", &boss, json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let (s, m) = app.post("/v1/classifier/trainings", ADMIN, json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{m}");
    assert_eq!(m["status"], "requested");
    let v1 = m["version"].as_i64().unwrap();
    let seen = app
        .ctx
        .collect(
            Stream::Ticket,
            &app.ctx.subjects.subject("ticket.classifier.train"),
            1,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(seen.len(), 1, "the request reaches the bus");
    assert_eq!(seen[0].json::<TrainRequested>().version, v1);

    // Not trained yet: cannot be adopted.
    let (s, e) = app
        .post(
            &format!("/v1/classifier/models/{v1}/adopt"),
            ADMIN,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_trained"))
    );

    // The router's answer, as it writes it.
    let evaluation = json!({"train": 160, "held_out": 40, "better_than_live": true,
        "candidate": {"model": format!("v{v1}"), "macro_f1": 0.9, "classes": []},
        "live": {"model": "shipped", "macro_f1": 0.1, "classes": []},
        "baseline": {"model": "baseline", "macro_f1": 0.8, "classes": []}});
    sqlx::query("update classifier_models set status = 'trained', model = '{}'::jsonb, evaluation = $2, examples = 200 where version = $1")
        .bind(v1)
        .bind(&evaluation)
        .execute(&app.state.pool)
        .await
        .unwrap();
    let (s, list) = app.get("/v1/classifier/models", ADMIN).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["adopted"], Value::Null);
    assert_eq!(
        list["models"][0]["evaluation"]["candidate"]["macro_f1"],
        0.9
    );
    assert!(
        list["models"][0].get("model").is_none(),
        "the weights stay out of answers"
    );

    let (s, m) = app
        .post(
            &format!("/v1/classifier/models/{v1}/adopt"),
            ADMIN,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert_eq!(m["status"], "adopted");
    assert_eq!(m["adopted_by"], "admin:bootstrap");

    // A second model adopted retires the first; the first can be adopted again (a rollback).
    let (_, m) = app.post("/v1/classifier/trainings", ADMIN, json!({})).await;
    let v2 = m["version"].as_i64().unwrap();
    sqlx::query(
        "update classifier_models set status = 'trained', model = '{}'::jsonb where version = $1",
    )
    .bind(v2)
    .execute(&app.state.pool)
    .await
    .unwrap();
    let (s, _) = app
        .post(
            &format!("/v1/classifier/models/{v2}/adopt"),
            ADMIN,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, m) = app.get(&format!("/v1/classifier/models/{v1}"), ADMIN).await;
    assert_eq!(m["status"], "retired");
    let (_, list) = app.get("/v1/classifier/models", ADMIN).await;
    assert_eq!(list["adopted"], v2);
    let (s, _) = app
        .post(
            &format!("/v1/classifier/models/{v1}/adopt"),
            ADMIN,
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let seen = app
        .ctx
        .collect(
            Stream::Ticket,
            &app.ctx.subjects.subject("ticket.classifier.adopted"),
            3,
            Duration::from_secs(10),
        )
        .await;
    let versions: Vec<i64> = seen
        .iter()
        .map(|m| m.json::<ModelAdopted>().version)
        .collect();
    assert_eq!(versions, vec![v1, v2, v1], "every adoption is announced");
    let (s, _) = app.get("/v1/classifier/models/999999", ADMIN).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
