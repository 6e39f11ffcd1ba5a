//! The response page: `GET /s/{token}` shows a small mobile-friendly form (Chinese or English, no
//! JavaScript), `POST /s/{token}` records the answer. Opening the link changes nothing — only the explicit
//! submit answers — so link scanners and previewers never answer for the customer.
//!
//! Refusals carry their reason code in the page (`data-reason`) and as JSON for clients that send
//! `Accept: application/json`; the HTTP status says the class (403 forged, 409 answered, 410 closed,
//! 422 incomplete). Health, readiness and metrics are served on the ops listener, not here.
//!
//! The page is public, and every refused answer is stored (and on a valid link, written to the
//! ticket's timeline), so what one client can make it store is bounded: the body it reads
//! (`survey.page_max_body_bytes`, else 413), the prefix of a refusal it keeps
//! (`survey.max_stored_refusal_bytes`), and the answers it takes per client address per minute and
//! per link per hour (`survey.page_posts_per_*`, else 429 with `Retry-After`, nothing stored). The
//! limits are per replica.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::rejection::RawFormRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRef, Path, Query, RawForm, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use serde_json::json;
use shared::http::TrustedProxies;
use shared::messages::survey::{AnswerRefusal, FollowUp, Satisfaction};
use uuid::Uuid;

use crate::answer;
use crate::respond::{self, Incoming, Recorded};
use crate::token::TokenError;
use crate::Ctx;

/// The page alone (tests drive it without a NATS connection); `trusted` are the proxies whose
/// `X-Forwarded-For` names the client address the rate limit counts.
pub fn page_router(ctx: Ctx, trusted: TrustedProxies) -> Router {
    let max_body = ctx.settings().page_max_body_bytes;
    let limits = Arc::new(PageLimits::new(&ctx, trusted));
    Router::new()
        .route("/s/{token}", get(show).post(submit))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::map_response(private))
        .with_state(PageState { ctx, limits })
}

#[derive(Clone)]
struct PageState {
    ctx: Ctx,
    limits: Arc<PageLimits>,
}

impl FromRef<PageState> for Ctx {
    fn from_ref(state: &PageState) -> Ctx {
        state.ctx.clone()
    }
}

/// How many answers the page takes, per client address and per survey link.
struct PageLimits {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_link: DefaultKeyedRateLimiter<Uuid>,
    trusted: TrustedProxies,
}

/// Past this many tracked keys, keys whose limit has fully recovered are forgotten.
const TRACKED_KEYS: usize = 10_000;

impl PageLimits {
    fn new(ctx: &Ctx, trusted: TrustedProxies) -> Self {
        let at_least_one = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        Self {
            per_address: RateLimiter::keyed(Quota::per_minute(at_least_one(
                ctx.settings().page_posts_per_minute_per_address,
            ))),
            per_link: RateLimiter::keyed(Quota::per_hour(at_least_one(
                ctx.settings().page_posts_per_hour_per_link,
            ))),
            trusted,
        }
    }

    /// Takes one answer from `address` for `link` (when the link's signature is genuine); `Err` holds
    /// how long to wait.
    fn admit(&self, address: IpAddr, link: Option<Uuid>) -> Result<(), std::time::Duration> {
        use governor::clock::{Clock as _, DefaultClock};
        let wait = |n: governor::NotUntil<_>| n.wait_time_from(DefaultClock::default().now());
        for limiter_len in [self.per_address.len(), self.per_link.len()] {
            if limiter_len > TRACKED_KEYS {
                self.per_address.retain_recent();
                self.per_link.retain_recent();
            }
        }
        self.per_address.check_key(&address).map_err(wait)?;
        if let Some(link) = link {
            self.per_link.check_key(&link).map_err(wait)?;
        }
        Ok(())
    }
}

/// The page carries a token: never cached, never sent on as a referrer, no script or foreign resource
/// allowed, and the form posts only back here.
async fn private(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ),
    );
    response
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lang {
    Zh,
    En,
}

impl Lang {
    /// `?lang=` first, then the browser's `Accept-Language`; Chinese by default.
    fn pick(query: Option<&str>, headers: &HeaderMap) -> Lang {
        match query {
            Some("en") => return Lang::En,
            Some("zh") => return Lang::Zh,
            _ => {}
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept.trim_start().to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    fn t(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    fn satisfaction(self, s: Satisfaction) -> &'static str {
        match s {
            Satisfaction::Satisfied => self.t("满意", "Satisfied"),
            Satisfaction::BasicallySatisfied => self.t("基本满意", "Basically satisfied"),
            Satisfaction::Unsatisfied => self.t("不满意", "Unsatisfied"),
        }
    }

    fn refusal(self, r: AnswerRefusal) -> &'static str {
        use AnswerRefusal::*;
        match r {
            InvalidToken
            | MalformedMessage
            | UnsupportedSchemaVersion
            | ChannelMismatch
            | NoOpenSurvey => self.t("此链接无效。", "This link is not valid."),
            Expired => self.t(
                "此调查已过期，感谢您的关注。",
                "This survey has expired. Thank you all the same.",
            ),
            AlreadyAnswered => self.t(
                "此调查已经提交过答复，每份调查只接受一次答复。",
                "This survey has already been answered; each survey takes one answer.",
            ),
            SurveyClosed => self.t(
                "此调查已撤回：您的工单仍在处理中。",
                "This survey was withdrawn: your ticket is being handled again.",
            ),
            MalformedAnswer => self.t(
                "请选择您的满意程度后再提交。",
                "Please choose how satisfied you are, then submit.",
            ),
            OutOfRange => self.t("评分超出范围。", "A score is out of range."),
            CommentTooLong => self.t(
                "意见太长，请精简后再提交。",
                "The comment is too long; please shorten it.",
            ),
        }
    }
}

#[derive(Debug, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

fn status_for(r: AnswerRefusal) -> StatusCode {
    use AnswerRefusal::*;
    match r {
        InvalidToken | MalformedMessage | UnsupportedSchemaVersion | ChannelMismatch => {
            StatusCode::FORBIDDEN
        }
        NoOpenSurvey => StatusCode::NOT_FOUND,
        Expired | SurveyClosed => StatusCode::GONE,
        AlreadyAnswered => StatusCode::CONFLICT,
        MalformedAnswer | OutOfRange | CommentTooLong => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// Internal details go to the log, never to the customer.
fn internal(e: impl std::fmt::Display, lang: Lang) -> Response {
    tracing::error!(error = %e, "survey page failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Html(
            layout(
                lang,
                html! { p data-reason="unavailable" { (lang.t("服务暂时不可用，请稍后再试。", "The service is unavailable; please try again later.")) } },
            )
            .into_string(),
        ),
    )
        .into_response()
}

fn layout(lang: Lang, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.t("zh-CN", "en")) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (lang.t("服务满意度调查", "Satisfaction survey")) }
                style { (maud::PreEscaped(CSS)) }
            }
            body { main { h1 { (lang.t("服务满意度调查", "Satisfaction survey")) } (body) } }
        }
    }
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;\
background:#f5f6f8;color:#222}main{max-width:32rem;margin:0 auto;padding:1rem}h1{font-size:1.3rem}\
fieldset{border:1px solid #ddd;border-radius:.5rem;margin:0 0 1rem;padding:.75rem;background:#fff}\
legend{font-weight:600}label.opt{display:block;padding:.55rem .25rem;font-size:1.05rem}\
.row{display:flex;flex-wrap:wrap;gap:.25rem}.row label{padding:.45rem .6rem;border:1px solid #ccc;\
border-radius:.4rem;background:#fafafa}textarea{width:100%;box-sizing:border-box;min-height:6rem;font:inherit}\
button{width:100%;padding:.8rem;font-size:1.1rem;border:0;border-radius:.5rem;background:#1d6fe0;color:#fff}\
.note{color:#555;font-size:.9rem}.error{color:#b00020}nav{margin-top:1rem;font-size:.9rem}";

fn form(
    ctx: &Ctx,
    lang: Lang,
    token: &str,
    ticket_no: &str,
    error: Option<AnswerRefusal>,
) -> Markup {
    let other = match lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    html! {
        p.note { (lang.t("工单号", "Ticket")) " " (ticket_no) }
        @if let Some(r) = error { p.error data-reason=(r.as_str()) { (lang.refusal(r)) } }
        form method="post" action={ "/s/" (token) } {
            input type="hidden" name="lang" value=(lang.code());
            fieldset {
                legend { (lang.t("您对本次服务满意吗？", "How satisfied are you with how we handled your request?")) }
                @for s in Satisfaction::ALL {
                    label.opt { input type="radio" name="satisfaction" value=(s.as_str()) required; " " (lang.satisfaction(s)) }
                }
            }
            fieldset {
                legend { (lang.t("评分（1–5，可选）", "Score (1–5, optional)")) }
                div.row { @for v in 1..=5 { label { input type="radio" name="score" value=(v); " " (v) } } }
            }
            fieldset {
                legend { (lang.t("您向亲友推荐我们的可能性（0–10，可选）", "How likely are you to recommend us (0–10, optional)?")) }
                div.row { @for v in 0..=10 { label { input type="radio" name="nps" value=(v); " " (v) } } }
            }
            fieldset {
                legend { (lang.t("意见或建议（可选）", "Comment (optional)")) }
                textarea name="comment" maxlength=(ctx.settings().max_comment_chars) {}
            }
            button type="submit" { (lang.t("提交", "Submit")) }
        }
        nav { a href={ "/s/" (token) "?lang=" (other.0) } { (other.1) } }
    }
}

fn refusal_page(lang: Lang, reason: AnswerRefusal, json: bool, message: &str) -> Response {
    let status = status_for(reason);
    if json {
        return (
            status,
            Json(json!({"status": "refused", "reason": reason.as_str(), "message": message})),
        )
            .into_response();
    }
    let body = html! { p.error data-reason=(reason.as_str()) { (lang.refusal(reason)) } };
    (status, Html(layout(lang, body).into_string())).into_response()
}

#[derive(Debug, sqlx::FromRow)]
struct PageSurvey {
    ticket_no: String,
    status: String,
    expires_at: Option<DateTime<Utc>>,
}

/// GET: shows the form when the survey can still be answered; stores nothing.
async fn show(
    State(ctx): State<Ctx>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::pick(q.lang.as_deref(), &headers);
    let json = wants_json(&headers);
    let now = ctx.clock.now();
    let claims = match ctx.signer.verify(&token, now) {
        Ok(c) => c,
        Err(TokenError::Expired) => {
            return refusal_page(lang, AnswerRefusal::Expired, json, "the token expired")
        }
        Err(e) => return refusal_page(lang, AnswerRefusal::InvalidToken, json, &e.to_string()),
    };
    let survey: Option<PageSurvey> =
        match sqlx::query_as("select ticket_no, status, expires_at from surveys where id = $1")
            .bind(claims.survey_id)
            .fetch_optional(&ctx.pool)
            .await
        {
            Ok(s) => s,
            Err(e) => return internal(e, lang),
        };
    let Some(survey) = survey
        .filter(|s| s.expires_at.map(|e| e.timestamp()) == Some(claims.expires_at.timestamp()))
    else {
        return refusal_page(
            lang,
            AnswerRefusal::InvalidToken,
            json,
            "the token names no known survey",
        );
    };
    let refusal = match survey.status.as_str() {
        "sent" | "reminded" => None,
        "answered" => Some(AnswerRefusal::AlreadyAnswered),
        "expired" => Some(AnswerRefusal::Expired),
        "cancelled" => Some(AnswerRefusal::SurveyClosed),
        _ => Some(AnswerRefusal::InvalidToken),
    };
    if let Some(r) = refusal {
        return refusal_page(lang, r, json, r.as_str());
    }
    if json {
        return Json(json!({"status": "open", "ticket_no": survey.ticket_no, "expires_at": survey.expires_at}))
            .into_response();
    }
    Html(layout(lang, form(&ctx, lang, &token, &survey.ticket_no, None)).into_string())
        .into_response()
}

/// Too many answers from one address or for one link: nothing is stored.
fn rate_limited(lang: Lang, json: bool, wait: std::time::Duration) -> Response {
    let retry_after = wait.as_secs().max(1).to_string();
    let mut response = if json {
        (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"status": "refused", "reason": "rate_limited", "message": "too many answers; retry later"})),
        )
            .into_response()
    } else {
        let body = html! { p.error data-reason="rate_limited" { (lang.t("提交过于频繁，请稍后再试。", "Too many attempts; please try again later.")) } };
        (
            StatusCode::TOO_MANY_REQUESTS,
            Html(layout(lang, body).into_string()),
        )
            .into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&retry_after) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// POST: records the answer (or the refusal) and says which.
async fn submit(
    State(PageState { ctx, limits }): State<PageState>,
    Path(token): Path<String>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<RawForm, RawFormRejection>,
) -> Response {
    let json = wants_json(&headers);
    let RawForm(body) = match body {
        Ok(form) => form,
        Err(rejection) => {
            let lang = Lang::pick(None, &headers);
            let status = rejection.status();
            if json {
                return (status, Json(json!({"status": "refused", "reason": "malformed_answer", "message": rejection.body_text()}))).into_response();
            }
            let body = html! { p.error data-reason="malformed_answer" { (lang.refusal(AnswerRefusal::CommentTooLong)) } };
            return (status, Html(layout(lang, body).into_string())).into_response();
        }
    };
    let address = peer
        .map(|Extension(ConnectInfo(addr))| {
            shared::http::client_ip(&headers, addr.ip(), &limits.trusted)
        })
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let link = ctx
        .signer
        .verify_signature(&token)
        .ok()
        .map(|c| c.survey_id);
    if let Err(wait) = limits.admit(address, link) {
        metrics::counter!("loopdesk_survey_page_rate_limited_total").increment(1);
        return rate_limited(Lang::pick(None, &headers), json, wait);
    }
    let fields: Vec<(Cow<'_, str>, Cow<'_, str>)> = form_urlencoded::parse(&body).collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    };
    let lang = Lang::pick(field("lang"), &headers);
    let parsed = answer::parse_form(
        field("satisfaction"),
        field("score"),
        field("nps"),
        field("comment"),
    );
    let incoming = Incoming {
        via: "web".into(),
        response_id: None,
        token: Some(token.clone()),
        sms_from: None,
        parsed,
        raw: body.to_vec(),
        received_at: ctx.clock.now(),
    };
    let recorded = async {
        let mut tx = ctx.pool.begin().await?;
        let r = respond::record(&ctx, &mut tx, incoming).await?;
        tx.commit().await?;
        Ok::<_, respond::RecordError>(r)
    }
    .await;
    match recorded {
        Err(e) => internal(e, lang),
        Ok(Recorded::Accepted {
            answer_id,
            follow_up,
            ..
        }) => accepted_page(lang, json, answer_id, follow_up),
        Ok(Recorded::Refused {
            reason, message, ..
        }) => {
            // An incomplete form is shown again so the customer can finish it.
            if matches!(
                reason,
                AnswerRefusal::MalformedAnswer
                    | AnswerRefusal::OutOfRange
                    | AnswerRefusal::CommentTooLong
            ) && !json
            {
                let ticket_no: Option<String> = match ctx.signer.verify_signature(&token) {
                    Ok(c) => sqlx::query_scalar("select ticket_no from surveys where id = $1")
                        .bind(c.survey_id)
                        .fetch_optional(&ctx.pool)
                        .await
                        .ok()
                        .flatten(),
                    Err(_) => None,
                };
                let body = form(
                    &ctx,
                    lang,
                    &token,
                    ticket_no.as_deref().unwrap_or(""),
                    Some(reason),
                );
                return (status_for(reason), Html(layout(lang, body).into_string()))
                    .into_response();
            }
            refusal_page(lang, reason, json, &message)
        }
    }
}

fn accepted_page(lang: Lang, json: bool, answer_id: Uuid, follow_up: FollowUp) -> Response {
    if json {
        return Json(json!({"status": "accepted", "answer_id": answer_id, "follow_up": follow_up}))
            .into_response();
    }
    let body = html! {
        p data-status="accepted" { (lang.t("感谢您的反馈！", "Thank you for your feedback!")) }
        @if follow_up != FollowUp::None {
            p { (lang.t("很抱歉没能让您满意，我们会再次跟进您的问题。", "We are sorry we did not meet your expectations; we will follow up on your request again.")) }
        }
    };
    Html(layout(lang, body).into_string()).into_response()
}
