//! The survey figures reports show, from the kept answers (docs/domain.md "Metrics": satisfaction, CSAT, NPS):
//!
//! * satisfied share = satisfied ÷ accepted answers;
//! * CSAT = answers scoring 4 or 5 ÷ answers with a score (the usual top-two-box definition);
//! * NPS = % of NPS answers 9–10 − % of NPS answers 0–6;
//! * recovery rate = tickets with an unsatisfied answer in the period that were later answered
//!   `satisfied` ÷ tickets with an unsatisfied answer in the period.
//!
//! Periods are half-open `[from, to)` over the answer time (UTC instants; callers pick the calendar).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SurveySummary {
    pub surveys_sent: i64,
    pub answered: i64,
    pub satisfied: i64,
    pub basically_satisfied: i64,
    pub unsatisfied: i64,
    pub refused_answers: i64,
    /// answered ÷ surveys sent in the period.
    pub response_rate: Option<f64>,
    pub satisfied_share: Option<f64>,
    pub csat: Option<f64>,
    pub nps: Option<f64>,
    pub unsatisfied_tickets: i64,
    pub recovered_tickets: i64,
    pub recovery_rate: Option<f64>,
}

fn ratio(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

pub async fn summary(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<SurveySummary, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        answered: i64,
        satisfied: i64,
        basically: i64,
        unsatisfied: i64,
        refused: i64,
        scored: i64,
        top_two: i64,
        nps_n: i64,
        promoters: i64,
        detractors: i64,
    }
    let r: Row = sqlx::query_as(
        "select count(*) filter (where accepted) as answered,
                count(*) filter (where accepted and satisfaction = 'satisfied') as satisfied,
                count(*) filter (where accepted and satisfaction = 'basically_satisfied') as basically,
                count(*) filter (where accepted and satisfaction = 'unsatisfied') as unsatisfied,
                count(*) filter (where not accepted) as refused,
                count(*) filter (where accepted and score is not null) as scored,
                count(*) filter (where accepted and score >= 4) as top_two,
                count(*) filter (where accepted and nps is not null) as nps_n,
                count(*) filter (where accepted and nps >= 9) as promoters,
                count(*) filter (where accepted and nps <= 6) as detractors
         from survey_answers where received_at >= $1 and received_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    let sent: i64 =
        sqlx::query_scalar("select count(*) from surveys where sent_at >= $1 and sent_at < $2")
            .bind(from)
            .bind(to)
            .fetch_one(pool)
            .await?;
    let (unsatisfied_tickets, recovered_tickets): (i64, i64) = sqlx::query_as(
        "with unhappy as (
             select ticket_id, min(received_at) as first_unsatisfied from survey_answers
             where accepted and satisfaction = 'unsatisfied' and received_at >= $1 and received_at < $2
             group by ticket_id)
         select count(*),
                count(*) filter (where exists (
                    select 1 from survey_answers a where a.ticket_id = u.ticket_id and a.accepted
                      and a.satisfaction = 'satisfied' and a.received_at > u.first_unsatisfied))
         from unhappy u",
    )
    .bind(from)
    .bind(to)
    .fetch_one(pool)
    .await?;
    Ok(SurveySummary {
        surveys_sent: sent,
        answered: r.answered,
        satisfied: r.satisfied,
        basically_satisfied: r.basically,
        unsatisfied: r.unsatisfied,
        refused_answers: r.refused,
        response_rate: ratio(r.answered, sent),
        satisfied_share: ratio(r.satisfied, r.answered),
        csat: ratio(r.top_two, r.scored),
        nps: ratio(r.promoters - r.detractors, r.nps_n).map(|v| v * 100.0),
        unsatisfied_tickets,
        recovered_tickets,
        recovery_rate: ratio(recovered_tickets, unsatisfied_tickets),
    })
}
