//! `GET /v1/tickets/{id}/history`: the customer's earlier tickets beside the one being handled, and the
//! ticket intake flagged as its likely duplicate (for a one-click merge). Only tickets the caller may
//! see are listed; how many others exist is said, not who they are.

use axum::extract::State;
use serde::Serialize;
use sqlx::{Postgres, QueryBuilder};

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::{Json, Path};
use crate::model::{TicketRow, TicketSummary, COLUMNS};
use crate::tickets::{push_visibility, readable, summaries, UNREAD};
use crate::AppState;

/// How many earlier tickets are listed.
pub const HISTORY_LIMIT: i64 = 20;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct History {
    /// The same customer's other tickets (same customer id or phone), newest first.
    pub earlier: Vec<TicketSummary>,
    /// Earlier tickets of the customer in departments the caller may not see.
    pub hidden: i64,
    /// The ticket intake judged this one to repeat, if the caller may see it.
    pub likely_duplicate: Option<TicketSummary>,
    /// How similar intake found the two descriptions (0-1).
    pub duplicate_similarity: Option<f32>,
}

#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    row: TicketRow,
    unread: bool,
}

/// The customer's earlier tickets and the likely duplicate.
#[utoipa::path(get, path = "/v1/tickets/{id}/history", tag = "tickets",
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = History), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [])))]
pub async fn history(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<Json<History>> {
    let t = readable(&state, &principal, &key).await?;
    let (duplicate_of, similarity): (Option<uuid::Uuid>, Option<f32>) = sqlx::query_as(
        "select likely_duplicate_of, duplicate_similarity from tickets where id = $1",
    )
    .bind(t.id)
    .fetch_one(&state.pool)
    .await?;
    let same_customer = |qb: &mut QueryBuilder<'_, Postgres>| {
        qb.push(" where t.id <> ")
            .push_bind(t.id)
            .push(" and (false");
        if let Some(c) = t.customer_id.clone() {
            qb.push(" or t.customer_id = ").push_bind(c);
        }
        if let Some(p) = t.customer_phone.clone() {
            qb.push(" or t.customer_phone = ").push_bind(p);
        }
        qb.push(")");
    };
    let mut qb: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "select {COLUMNS}, {UNREAD} as unread from tickets t
         left join ticket_reads r on r.ticket_id = t.id and r.user_id = "
    ));
    qb.push_bind(principal.user_id);
    same_customer(&mut qb);
    push_visibility(&mut qb, &principal);
    qb.push(" order by t.submitted_at desc, t.id desc limit ")
        .push_bind(HISTORY_LIMIT);
    let rows: Vec<Row> = qb.build_query_as().fetch_all(&state.pool).await?;
    let mut all: QueryBuilder<Postgres> = QueryBuilder::new("select count(*) from tickets t");
    same_customer(&mut all);
    let total: i64 = all.build_query_scalar().fetch_one(&state.pool).await?;
    let visible: i64 = {
        let mut qb: QueryBuilder<Postgres> = QueryBuilder::new("select count(*) from tickets t");
        same_customer(&mut qb);
        push_visibility(&mut qb, &principal);
        qb.build_query_scalar().fetch_one(&state.pool).await?
    };
    let earlier = summaries(
        &state,
        rows.into_iter().map(|r| (r.row, r.unread)).collect(),
    )
    .await?;
    let likely_duplicate = match duplicate_of {
        Some(id) => match readable(&state, &principal, &id.to_string()).await {
            Ok(d) => summaries(&state, vec![(d, false)]).await?.pop(),
            Err(_) => None,
        },
        None => None,
    };
    Ok(Json(History {
        earlier,
        hidden: total - visible,
        likely_duplicate: likely_duplicate.clone(),
        duplicate_similarity: likely_duplicate.and(similarity),
    }))
}
