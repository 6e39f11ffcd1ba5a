//! The two ticket-page actions the lifecycle table names for the desk: supplementing missing fields
//! with where the information came from (信息来源：电话补充), and revealing the customer's name and
//! phone, which stay masked everywhere else. Both go through the one action path (lock, table check,
//! timeline entry, commit); a reveal leaves a `revealed` entry naming who saw what.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use shared::lifecycle::Action;

use crate::actions::{opt_prose, prose, ActedTicket, Acting, Effect};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerType {
    New,
    Returning,
}

impl CustomerType {
    fn as_str(self) -> &'static str {
        match self {
            CustomerType::New => "new",
            CustomerType::Returning => "returning",
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplementBody {
    #[schema(max_length = 100)]
    pub order_number: Option<String>,
    pub expected_resolution_at: Option<DateTime<Utc>>,
    pub customer_type: Option<CustomerType>,
    /// Where the information came from, e.g. `电话补充` (supplemented by phone).
    #[schema(min_length = 1, max_length = 200)]
    pub info_source: String,
}

/// Supplements missing ticket fields and records where they came from.
#[utoipa::path(post, path = "/v1/tickets/{id}/supplement", tag = "actions", request_body = SupplementBody,
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = ActedTicket), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn supplement(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
    Json(body): Json<SupplementBody>,
) -> ApiResult<Json<ActedTicket>> {
    let source = prose("info_source", &body.info_source, 200)?;
    let order = opt_prose("order_number", body.order_number.as_deref(), 100)?;
    if order.is_none() && body.expected_resolution_at.is_none() && body.customer_type.is_none() {
        return Err(ApiError::bad(
            "missing_field",
            "name at least one of order_number, expected_resolution_at, customer_type",
        ));
    }
    let acting = Acting::begin(&state, &principal, &key, Action::Supplement).await?;
    let t = &acting.ticket;
    if let Some(at) = body.expected_resolution_at {
        if at < t.submitted_at {
            return Err(ApiError::field(
                "invalid_value",
                "expected_resolution_at",
                "expected_resolution_at is before the ticket was submitted",
            ));
        }
    }
    let mut fields = serde_json::Map::new();
    let mut previous = serde_json::Map::new();
    let mut effect_sets: Vec<(&'static str, crate::actions::Value)> = Vec::new();
    if let Some(o) = order {
        previous.insert("order_number".into(), json!(t.order_number));
        fields.insert("order_number".into(), json!(o));
        effect_sets.push(("order_number", o.into()));
    }
    if let Some(at) = body.expected_resolution_at {
        previous.insert(
            "expected_resolution_at".into(),
            json!(t.expected_resolution_at),
        );
        fields.insert("expected_resolution_at".into(), json!(at));
        effect_sets.push(("expected_resolution_at", at.into()));
    }
    if let Some(c) = body.customer_type {
        previous.insert("customer_type".into(), json!(t.customer_type));
        fields.insert("customer_type".into(), json!(c.as_str()));
        effect_sets.push(("customer_type", c.as_str().into()));
    }
    let mut effect = Effect::entry(json!({
        "fields": fields, "previous": previous, "info_source": source,
    }))
    .set("info_source", source.clone());
    for (column, value) in effect_sets {
        effect = effect.set(column, value);
    }
    acting.commit(&state, &principal, effect).await
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revealed {
    pub customer_name: Option<String>,
    pub customer_phone: Option<String>,
}

/// Shows the customer's name and phone unmasked to a role allowed to see them (agent, supervisor,
/// admin); the reveal is written to the ticket's timeline.
#[utoipa::path(post, path = "/v1/tickets/{id}/reveal", tag = "actions",
    params(("id" = String, Path, description = "ticket id or number")),
    responses((status = 200, body = Revealed), (status = 401), (status = 403), (status = 404)),
    security(("bearer" = []), ("session" = [], "csrf" = [])))]
pub async fn reveal(
    State(state): State<AppState>,
    principal: Principal,
    Path(key): Path<String>,
) -> ApiResult<Json<Revealed>> {
    let acting = Acting::begin(&state, &principal, &key, Action::Reveal).await?;
    let revealed = Revealed {
        customer_name: acting.ticket.customer_name.clone(),
        customer_phone: acting.ticket.customer_phone.clone(),
    };
    let shown: Vec<&str> = [
        revealed.customer_name.as_ref().map(|_| "customer_name"),
        revealed.customer_phone.as_ref().map(|_| "customer_phone"),
    ]
    .into_iter()
    .flatten()
    .collect();
    acting
        .commit(
            &state,
            &principal,
            Effect::entry(json!({ "fields": shown })),
        )
        .await?;
    Ok(Json(revealed))
}
