//! Recording answers, from the bus and from the page alike: find the survey (token, or an SMS sender's
//! open survey), check it may still be answered, store the answer — accepted, or refused with its reason
//! code — and, for an unsatisfied answer, reopen or escalate the ticket. Everything commits in the caller's
//! transaction together with its events.

use chrono::{DateTime, Utc};
use serde_json::json;
use shared::consumer::{BatchError, BatchHandler, Delivery, Outcome};
use shared::lifecycle::{Action, TicketStatus};
use shared::messages::feedback::Priority;
use shared::messages::lifecycle::{LifecycleChange, TicketLifecycleEvent};
use shared::messages::sla::SlaNotice;
use shared::messages::survey::{
    AnswerRefusal, ChannelAnswer, FollowUp, Satisfaction, SurveyAnswerRejected, SurveyAnswered,
    SurveyChannel, SurveyEscalated, SurveyResponse,
};
use shared::messages::{self, SCHEMA_VERSION};
use shared::outbox::{self, OutboxError, OutboxMessage};
use shared::timeline::{self, TimelineEntry};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::answer::{self, Answer, Refusal};
use crate::settings::OnUnsatisfied;
use crate::token::TokenError;
use crate::{phone_key, Ctx, ACTOR};

/// Idempotency-record name of the response consumer (and the worker part of its durable name).
pub const CONSUMER: &str = "survey_responses";

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

impl From<RecordError> for BatchError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Db(e) => e.into(),
            RecordError::Outbox(e) => e.into(),
        }
    }
}

/// One answer as it arrived, before any check.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// `app`, `sms`, `ivr` or `web`.
    pub via: String,
    /// The adapter's id for the answer (none for the page).
    pub response_id: Option<String>,
    pub token: Option<String>,
    /// The SMS sender, to find the survey when there is no token.
    pub sms_from: Option<String>,
    /// The answer as parsed from the channel's format, or why it could not be.
    pub parsed: Result<Answer, Refusal>,
    /// The bytes received, kept with a refusal.
    pub raw: Vec<u8>,
    pub received_at: DateTime<Utc>,
}

/// What became of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Accepted {
        answer_id: Uuid,
        survey_id: Uuid,
        ticket_id: Uuid,
        follow_up: FollowUp,
    },
    Refused {
        rejection_id: Uuid,
        survey_id: Option<Uuid>,
        reason: AnswerRefusal,
        message: String,
    },
}

/// The survey as the answer checks need it.
#[derive(Debug, sqlx::FromRow)]
struct SurveyState {
    id: Uuid,
    ticket_id: Uuid,
    ticket_no: String,
    cycle: i32,
    status: String,
    channel: String,
    department: Option<String>,
    priority: Option<String>,
    expires_at: Option<DateTime<Utc>>,
}

const SURVEY_COLUMNS: &str =
    "id, ticket_id, ticket_no, cycle, status, channel, department, priority, expires_at";

/// Records one answer inside `conn`'s transaction.
pub async fn record(
    ctx: &Ctx,
    conn: &mut PgConnection,
    incoming: Incoming,
) -> Result<Recorded, RecordError> {
    let now = ctx.clock.now();
    // An adapter's clock may run ahead; the answer counts from when it arrived, never from the future.
    let at = incoming.received_at.min(now);
    let (survey, token_expiry) = match find_survey(ctx, conn, &incoming).await? {
        Ok(found) => found,
        Err(refusal) => return refuse(ctx, conn, &incoming, None, refusal, now).await,
    };
    if let Some(expiry) = token_expiry {
        if survey.expires_at.map(|e| e.timestamp()) != Some(expiry.timestamp()) {
            let r = Refusal::new(
                AnswerRefusal::InvalidToken,
                "the token does not belong to this survey's request",
            );
            return refuse(ctx, conn, &incoming, Some(&survey), r, now).await;
        }
    }
    let closed = match survey.status.as_str() {
        "answered" => Some(Refusal::new(
            AnswerRefusal::AlreadyAnswered,
            "this survey has already been answered",
        )),
        "expired" => Some(Refusal::new(
            AnswerRefusal::Expired,
            "this survey's answer window has closed",
        )),
        "cancelled" => Some(Refusal::new(
            AnswerRefusal::SurveyClosed,
            "this survey was withdrawn: the ticket was reopened or resolved again",
        )),
        "sent" | "reminded" if survey.expires_at.is_some_and(|e| at >= e) => Some(Refusal::new(
            AnswerRefusal::Expired,
            "this survey's answer window has closed",
        )),
        "sent" | "reminded" => None,
        _ => Some(Refusal::new(
            AnswerRefusal::InvalidToken,
            "this survey has not been sent",
        )),
    };
    if let Some(r) = closed {
        return refuse(ctx, conn, &incoming, Some(&survey), r, now).await;
    }
    let answer = match incoming
        .parsed
        .clone()
        .and_then(|a| answer::check(a, ctx.settings().max_comment_chars))
    {
        Ok(a) => a,
        Err(r) => return refuse(ctx, conn, &incoming, Some(&survey), r, now).await,
    };
    accept(ctx, conn, &incoming, &survey, answer, now).await
}

/// The survey an answer is for, and the expiry its token names (none for an SMS matched by sender).
async fn find_survey(
    ctx: &Ctx,
    conn: &mut PgConnection,
    incoming: &Incoming,
) -> Result<Result<(SurveyState, Option<DateTime<Utc>>), Refusal>, sqlx::Error> {
    let (id, expiry) = match (&incoming.token, &incoming.sms_from) {
        (Some(token), _) => match ctx.signer.verify_signature(token) {
            Ok(claims) => (claims.survey_id, Some(claims.expires_at)),
            Err(TokenError::Expired) => {
                return Ok(Err(Refusal::new(
                    AnswerRefusal::Expired,
                    "the token expired",
                )))
            }
            Err(e) => {
                return Ok(Err(Refusal::new(
                    AnswerRefusal::InvalidToken,
                    e.to_string(),
                )))
            }
        },
        (None, Some(from)) => {
            let Some(key) = phone_key(from) else {
                return Ok(Err(Refusal::new(
                    AnswerRefusal::NoOpenSurvey,
                    "the sender's number is not valid",
                )));
            };
            let id: Option<Uuid> = sqlx::query_scalar(
                "select id from surveys where recipient_phone_key = $1 and status in ('sent', 'reminded')
                 order by sent_at desc limit 1",
            )
            .bind(key)
            .fetch_optional(&mut *conn)
            .await?;
            match id {
                Some(id) => (id, None),
                None => {
                    return Ok(Err(Refusal::new(
                        AnswerRefusal::NoOpenSurvey,
                        "no survey is waiting for an answer from this number",
                    )))
                }
            }
        }
        (None, None) => {
            return Ok(Err(Refusal::new(
                AnswerRefusal::InvalidToken,
                "the answer carries no token",
            )))
        }
    };
    // The row lock serialises answers to one survey across replicas and pages.
    let survey: Option<SurveyState> = sqlx::query_as(&format!(
        "select {SURVEY_COLUMNS} from surveys where id = $1 for update"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match survey {
        Some(s) => Ok((s, expiry)),
        None => Err(Refusal::new(
            AnswerRefusal::InvalidToken,
            "the token names no known survey",
        )),
    })
}

async fn refuse(
    ctx: &Ctx,
    conn: &mut PgConnection,
    incoming: &Incoming,
    survey: Option<&SurveyState>,
    refusal: Refusal,
    now: DateTime<Utc>,
) -> Result<Recorded, RecordError> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into survey_answers (id, survey_id, ticket_id, via, response_id, accepted, reason, raw, received_at)
         values ($1, $2, $3, $4, $5, false, $6, $7, $8)",
    )
    .bind(id)
    .bind(survey.map(|s| s.id))
    .bind(survey.map(|s| s.ticket_id))
    .bind(&incoming.via)
    .bind(&incoming.response_id)
    .bind(refusal.reason.as_str())
    // A bounded prefix: a refusal is evidence, not a place for a client to store what it likes.
    .bind(&incoming.raw[..incoming.raw.len().min(ctx.settings().max_stored_refusal_bytes)])
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if let Some(s) = survey {
        timeline::append(
            conn,
            &[TimelineEntry {
                ticket_id: s.ticket_id,
                kind: "survey_answer_refused".into(),
                actor: ACTOR.into(),
                at: now,
                data: json!({"survey_id": s.id, "via": incoming.via, "reason": refusal.reason.as_str()}),
            }],
        )
        .await?;
    }
    let event = SurveyAnswerRejected {
        schema_version: SCHEMA_VERSION,
        rejection_id: id,
        survey_id: survey.map(|s| s.id),
        ticket_id: survey.map(|s| s.ticket_id),
        channel: incoming.via.clone(),
        response_id: incoming.response_id.clone(),
        reason: refusal.reason,
        message: refusal.message.clone(),
        received_at: now,
    };
    let subject = ctx
        .subjects
        .subject(&format!("survey.rejected.{}", subject_token(&incoming.via)));
    outbox::enqueue(conn, &[OutboxMessage::json(subject, &event)?]).await?;
    metrics::counter!("loopdesk_survey_answers_total", "outcome" => "refused", "reason" => refusal.reason.as_str())
        .increment(1);
    Ok(Recorded::Refused {
        rejection_id: id,
        survey_id: survey.map(|s| s.id),
        reason: refusal.reason,
        message: refusal.message,
    })
}

/// A subject token from something a client named (letters, digits, `-`, `_`; else `unknown`).
fn subject_token(s: &str) -> String {
    if !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        s.to_string()
    } else {
        "unknown".into()
    }
}

async fn accept(
    ctx: &Ctx,
    conn: &mut PgConnection,
    incoming: &Incoming,
    survey: &SurveyState,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<Recorded, RecordError> {
    let id = Uuid::now_v7();
    let comment = answer
        .comment
        .as_deref()
        .map(|c| shared::pii::redact_text(c).0);
    let mut events = Vec::new();
    let mut entries = vec![TimelineEntry {
        ticket_id: survey.ticket_id,
        kind: "survey_answered".into(),
        actor: "customer".into(),
        at: now,
        data: json!({
            "survey_id": survey.id,
            "cycle": survey.cycle,
            "via": incoming.via,
            "satisfaction": answer.satisfaction.as_str(),
            "score": answer.score,
            "nps": answer.nps,
            "comment": comment,
        }),
    }];
    let follow_up = if answer.satisfaction == Satisfaction::Unsatisfied {
        follow_up(
            ctx,
            conn,
            survey,
            comment.as_deref(),
            now,
            &mut events,
            &mut entries,
        )
        .await?
    } else {
        FollowUp::None
    };
    // One statement for the answer, the survey and the ticket's copy of the last answer, which the
    // api's ticket view and reports read: commits, not rows, are the cost.
    sqlx::query(
        "with a as (insert into survey_answers (id, survey_id, ticket_id, via, response_id, accepted,
                        satisfaction, score, nps, comment, follow_up, received_at)
                    values ($1, $2, $3, $4, $5, true, $6, $7, $8, $9, $10, $11)),
              s as (update surveys set status = 'answered', due_at = null, closed_at = $11 where id = $2),
              t as (update tickets set survey_satisfaction = $6, survey_nps = $8, survey_comment = $9 where id = $3)
         select 1",
    )
    .bind(id)
    .bind(survey.id)
    .bind(survey.ticket_id)
    .bind(&incoming.via)
    .bind(&incoming.response_id)
    .bind(answer.satisfaction.as_str())
    .bind(answer.score.map(|v| v as i16))
    .bind(answer.nps.map(|v| v as i16))
    .bind(&comment)
    .bind(follow_up_str(follow_up))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    events.insert(
        0,
        OutboxMessage::json(
            ctx.subjects.subject("survey.answered"),
            &SurveyAnswered {
                schema_version: SCHEMA_VERSION,
                answer_id: id,
                survey_id: survey.id,
                ticket_id: survey.ticket_id,
                ticket_no: survey.ticket_no.clone(),
                cycle: survey.cycle,
                channel: SurveyChannel::parse(&survey.channel).unwrap_or(SurveyChannel::Link),
                answered_via: incoming.via.clone(),
                satisfaction: answer.satisfaction,
                score: answer.score,
                nps: answer.nps,
                comment: comment.clone(),
                answered_at: now,
                department: survey.department.clone(),
                follow_up,
            },
        )?,
    );
    timeline::append(conn, &entries).await?;
    outbox::enqueue(conn, &events).await?;
    metrics::counter!("loopdesk_survey_answers_total", "outcome" => "accepted",
        "reason" => answer.satisfaction.as_str())
    .increment(1);
    Ok(Recorded::Accepted {
        answer_id: id,
        survey_id: survey.id,
        ticket_id: survey.ticket_id,
        follow_up,
    })
}

fn follow_up_str(f: FollowUp) -> &'static str {
    match f {
        FollowUp::None => "none",
        FollowUp::Reopened => "reopened",
        FollowUp::Escalated => "escalated",
    }
}

/// An unsatisfied answer: reopen the ticket for a second follow-up by its lead department (the SLA
/// worker starts a new resolution cycle from `ticket.reopened`), or escalate to the department's
/// supervisor, per configuration.
async fn follow_up(
    ctx: &Ctx,
    conn: &mut PgConnection,
    survey: &SurveyState,
    comment: Option<&str>,
    now: DateTime<Utc>,
    events: &mut Vec<OutboxMessage>,
    entries: &mut Vec<TimelineEntry>,
) -> Result<FollowUp, RecordError> {
    let priority = survey.priority.as_deref().and_then(Priority::parse);
    match ctx.settings().policy.on_unsatisfied {
        OnUnsatisfied::Reopen => {
            // Reopened as an agent reopens it (the lifecycle's rule: from resolved only, the resolution
            // cleared); one an agent already reopened or archived meanwhile is left as it is, and the
            // timeline says so.
            let reopen = Action::Reopen.rule();
            let clear: String = reopen
                .clears
                .iter()
                .map(|c| format!(", {c} = null"))
                .collect();
            let from: Vec<&str> = reopen.from.iter().map(|s| s.as_str()).collect();
            let status: Option<TicketStatus> = sqlx::query_scalar(&format!(
                "with old as (select status from tickets where id = $1 for update)
                 update tickets t set status = $2{clear} from old
                 where t.id = $1 and old.status = any($3) returning old.status"
            ))
            .bind(survey.ticket_id)
            .bind(TicketStatus::Reopened)
            .bind(&from)
            .fetch_optional(&mut *conn)
            .await?;
            if status.is_none() {
                let current: Option<String> =
                    sqlx::query_scalar("select status from tickets where id = $1")
                        .bind(survey.ticket_id)
                        .fetch_optional(&mut *conn)
                        .await?;
                entries.push(TimelineEntry {
                    ticket_id: survey.ticket_id,
                    kind: "survey_unsatisfied_not_reopened".into(),
                    actor: ACTOR.into(),
                    at: now,
                    data: json!({"survey_id": survey.id, "ticket_status": current}),
                });
                return Ok(FollowUp::None);
            }
            let reason = format!("unsatisfied survey answer (survey cycle {})", survey.cycle);
            entries.push(TimelineEntry {
                ticket_id: survey.ticket_id,
                kind: "reopened".into(),
                actor: ACTOR.into(),
                at: now,
                data: json!({
                    "reason": reason,
                    "survey_id": survey.id,
                    "department": survey.department,
                    "follow_up": "second follow-up by the lead department",
                }),
            });
            let event = TicketLifecycleEvent {
                schema_version: SCHEMA_VERSION,
                event_id: Uuid::now_v7(),
                ticket_id: survey.ticket_id,
                ticket_no: survey.ticket_no.clone(),
                occurred_at: now,
                actor: ACTOR.into(),
                department: survey.department.clone(),
                priority,
                change: LifecycleChange::Reopened {
                    reason: Some(reason),
                },
            };
            events.push(OutboxMessage::json(
                ctx.subjects.subject(&event.subject_suffix()),
                &event,
            )?);
            metrics::counter!("loopdesk_survey_followups_total", "kind" => "reopened").increment(1);
            Ok(FollowUp::Reopened)
        }
        OnUnsatisfied::Escalate => {
            let department = survey
                .department
                .clone()
                .unwrap_or_else(|| "unassigned".into());
            entries.push(TimelineEntry {
                ticket_id: survey.ticket_id,
                kind: "survey_escalated".into(),
                actor: ACTOR.into(),
                at: now,
                data: json!({"survey_id": survey.id, "department": department}),
            });
            let event = SurveyEscalated {
                schema_version: SCHEMA_VERSION,
                event_id: Uuid::now_v7(),
                survey_id: survey.id,
                ticket_id: survey.ticket_id,
                ticket_no: survey.ticket_no.clone(),
                department: department.clone(),
                priority,
                cycle: survey.cycle,
                comment: comment.map(str::to_string),
                answered_at: now,
            };
            let subject = ctx.subjects.subject(&format!(
                "survey.escalated.{}",
                SlaNotice::department_token(&department)
            ));
            events.push(OutboxMessage::json(subject, &event)?);
            metrics::counter!("loopdesk_survey_followups_total", "kind" => "escalated")
                .increment(1);
            Ok(FollowUp::Escalated)
        }
    }
}

/// Consumes `{prefix}.survey.response.>`: every channel adapter's answers.
pub struct ResponseHandler {
    pub ctx: Ctx,
}

/// A response message decoded as far as it goes.
fn decode(ctx: &Ctx, d: &Delivery) -> (Incoming, String) {
    let subject_channel = d
        .subject
        .rsplit('.')
        .next()
        .unwrap_or("unknown")
        .to_string();
    let now = ctx.clock.now();
    let mut incoming = Incoming {
        via: subject_token(&subject_channel),
        response_id: None,
        token: None,
        sms_from: None,
        parsed: Err(Refusal::new(
            AnswerRefusal::MalformedMessage,
            "not a survey response",
        )),
        raw: d.payload.to_vec(),
        received_at: now,
    };
    let fallback_key = format!(
        "{}:{}",
        incoming.via,
        d.message_id().unwrap_or_else(|| d.sequence_key())
    );
    let response = match messages::parse::<SurveyResponse>(&d.payload) {
        Ok(r) => r,
        Err(e) => {
            incoming.parsed = Err(Refusal::new(e.reason.into(), e.detail));
            return (incoming, fallback_key);
        }
    };
    let key = format!("{}:{}", incoming.via, response.response_id);
    incoming.response_id = Some(response.response_id.clone());
    incoming.token = response.token.clone().filter(|t| !t.is_empty());
    incoming.received_at = response.received_at;
    if let ChannelAnswer::Sms { from, .. } = &response.answer {
        incoming.sms_from = Some(from.clone());
    }
    incoming.parsed = if let Err(e) = messages::check_version(response.schema_version) {
        Err(Refusal::new(e.reason.into(), e.detail))
    } else if response.answer.channel().as_str() != subject_channel {
        Err(Refusal::new(
            AnswerRefusal::ChannelMismatch,
            format!(
                "a `{}` answer on the `{subject_channel}` subject",
                response.answer.channel()
            ),
        ))
    } else {
        answer::parse(&response.answer)
    };
    // A message that is not even a readable answer is refused before any survey is touched.
    if matches!(
        &incoming.parsed,
        Err(Refusal {
            reason: AnswerRefusal::UnsupportedSchemaVersion | AnswerRefusal::ChannelMismatch,
            ..
        })
    ) {
        incoming.token = None;
        incoming.sms_from = None;
    }
    (incoming, key)
}

impl BatchHandler for ResponseHandler {
    async fn handle(&self, batch: &[Delivery]) -> Result<Vec<Outcome>, BatchError> {
        let decoded: Vec<(Incoming, String)> = batch.iter().map(|d| decode(&self.ctx, d)).collect();
        let keys: Vec<String> = decoded.iter().map(|(_, k)| k.clone()).collect();
        let mut tx = self.ctx.pool.begin().await?;
        let fresh = shared::idempotency::claim(&mut tx, CONSUMER, &keys).await?;
        let mut seen = std::collections::HashSet::new();
        for (incoming, key) in decoded {
            // A key repeated inside the batch is applied once.
            if !fresh.contains(&key) || !seen.insert(key) {
                continue;
            }
            let unreadable = matches!(
                &incoming.parsed,
                Err(Refusal {
                    reason: AnswerRefusal::MalformedMessage
                        | AnswerRefusal::UnsupportedSchemaVersion
                        | AnswerRefusal::ChannelMismatch,
                    ..
                })
            );
            if unreadable {
                let refusal = match &incoming.parsed {
                    Err(r) => r.clone(),
                    Ok(_) => Refusal::new(AnswerRefusal::MalformedMessage, "unreadable"),
                };
                let now = self.ctx.clock.now();
                refuse(&self.ctx, &mut tx, &incoming, None, refusal, now).await?;
            } else {
                record(&self.ctx, &mut tx, incoming).await?;
            }
        }
        tx.commit().await?;
        Ok(vec![Outcome::Done; batch.len()])
    }
}
