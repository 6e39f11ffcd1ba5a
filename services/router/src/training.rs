//! Training the category model on the business's own history, as an admin asks through the api.
//!
//! Labelled examples are the imported tickets' descriptions with the categories they were imported
//! under (the team's own labels, or the categories an importer mapped them onto) and every correction
//! an inspector made (the latest per ticket wins over the imported label). A stratified fifth is held
//! out (fold 0 of [`crate::eval::stratified_folds`], fixed by the texts, so a rerun on the same data gives the same
//! split); the candidate is trained on the rest, then the candidate, the live model and the baseline
//! ([`crate::baseline`], trained on the same rest) are scored on the held-out fifth. The admin reads
//! the three side by side and adopts the candidate or not; [`load_adopted`] is how every replica picks
//! the adopted one up.

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;

use crate::baseline::Baseline;
use crate::eval::{score, stratified_folds_seeded, Report};
use crate::labels::Dimension;
use crate::live::Live;
use crate::model::{ModelError, TextModel, TrainParams};

pub use shared::messages::classifier::{ADOPTED_SUBJECT, TRAIN_SUBJECT};
/// Consumer name of the training requests.
pub const TRAIN_CONSUMER: &str = "router_training";

/// Most recent examples a training uses (the model's features are capped by
/// [`TrainParams::max_features`]), which bounds one training's time and memory.
const MAX_EXAMPLES: i64 = 4_000;

/// Why a training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("too few labelled examples: {0} (need at least 10, two categories)")]
    TooFew(usize),
}

/// The labelled examples: `(text, category)`.
pub async fn examples(pool: &PgPool) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "with corrected as (
             select distinct on (ticket_id) ticket_id, text, category, id
             from router_corrections order by ticket_id, id desc),
         labelled as (
             select t.description as text, t.category, t.submitted_at as at
             from tickets t
             where t.imported and t.category is not null and t.description <> ''
               and not exists (select 1 from corrected c where c.ticket_id = t.id)
             union all
             select c.text, c.category, t.submitted_at
             from corrected c join tickets t on t.id = c.ticket_id)
         select text, category from labelled order by at desc limit $1",
    )
    .bind(MAX_EXAMPLES)
    .fetch_all(pool)
    .await
}

/// What one model scored on the held-out examples.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    /// `v12`, `shipped` (the model in config/router) or `baseline`.
    pub model: String,
    #[serde(flatten)]
    pub report: Report,
}

/// The comparison stored with a trained model.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub train: usize,
    pub held_out: usize,
    pub split: &'static str,
    pub candidate: Scored,
    pub live: Scored,
    pub baseline: Scored,
    /// The candidate's held-out macro-F1 is above the live model's.
    pub better_than_live: bool,
}

/// Folds of the held-out split; the admin's training holds out fold 0.
pub const FOLDS: usize = 5;

/// `(text, label)` pairs.
type Examples = Vec<(String, String)>;

/// The held-out split: stratified by label, fold 0 of 5 (ordered by a hash of the text).
fn split(examples: &[(String, String)]) -> (Examples, Examples) {
    split_at(examples, 0, 0)
}

/// Fold `fold` of [`FOLDS`] (partition `seed`, 0 the admin's) held out, the rest to train on.
fn split_at(examples: &[(String, String)], fold: usize, seed: u64) -> (Examples, Examples) {
    let texts: Vec<String> = examples.iter().map(|(t, _)| t.clone()).collect();
    let labels: Vec<String> = examples.iter().map(|(_, l)| l.clone()).collect();
    let folds = stratified_folds_seeded(&labels, &texts, FOLDS, seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (e, f) in examples.iter().zip(&folds) {
        if *f == fold {
            test.push(e.clone());
        } else {
            train.push(e.clone());
        }
    }
    (train, test)
}

/// The product's model and the baseline trained on the same training part and scored on the same
/// held-out part, fold 0 (`router compare`, the figure in docs/benchmarks.md).
pub fn compare_on_split(
    seg: &crate::text::Segmenter,
    examples: &[(String, String)],
) -> Result<(Report, Report), ModelError> {
    compare_on_fold(seg, examples, 0, 0)
}

/// [`compare_on_split`] with fold `fold` of partition `seed` held out instead.
pub fn compare_on_fold(
    seg: &crate::text::Segmenter,
    examples: &[(String, String)],
    fold: usize,
    seed: u64,
) -> Result<(Report, Report), ModelError> {
    let (train, test) = split_at(examples, fold, seed);
    let product = TextModel::train(seg, &train, &TrainParams::default())?;
    let baseline = Baseline::train(&train)?;
    let p = score(
        &test
            .iter()
            .map(|(t, l)| (l.clone(), product.predict(seg, t).label))
            .collect::<Vec<_>>(),
    );
    let b = score(
        &test
            .iter()
            .map(|(t, l)| (l.clone(), baseline.predict(t)))
            .collect::<Vec<_>>(),
    );
    Ok((p, b))
}

/// Mean held-out macro-F1 of the product's model and of the baseline over every fold of `repeats`
/// partitions (repeated stratified 5-fold cross-validation). With a few hundred texts one held-out
/// text moves a fold's macro-F1 by a few hundredths, so one split alone can rank the two either way;
/// the mean over many is the comparison that holds.
pub fn compare_repeated(
    seg: &crate::text::Segmenter,
    examples: &[(String, String)],
    repeats: u64,
) -> Result<(f64, f64), ModelError> {
    let (mut p, mut b) = (0.0, 0.0);
    for seed in 0..repeats {
        for fold in 0..FOLDS {
            let (pr, br) = compare_on_fold(seg, examples, fold, seed)?;
            p += pr.macro_f1;
            b += br.macro_f1;
        }
    }
    let n = (repeats as usize * FOLDS).max(1) as f64;
    Ok((p / n, b / n))
}

/// Split, train the candidate and the baseline, score all three. CPU-bound: call off the runtime.
pub fn train_and_compare(
    live: &Live,
    version: i64,
    examples: &[(String, String)],
) -> Result<(TextModel, Evaluation), TrainingError> {
    let mut classes: Vec<&str> = examples.iter().map(|(_, l)| l.as_str()).collect();
    classes.sort_unstable();
    classes.dedup();
    if examples.len() < 10 || classes.len() < 2 {
        return Err(TrainingError::TooFew(examples.len()));
    }
    let (train, test) = split(examples);
    let engine = live.current();
    let seg = engine.model_segmenter();
    let params = TrainParams::default();
    let candidate = TextModel::train(seg, &train, &params)?;
    let baseline = Baseline::train(&train)?;
    let live_model = engine.model(Dimension::Category);
    let pairs = |predict: &dyn Fn(&str) -> String| -> Vec<(String, String)> {
        test.iter().map(|(t, l)| (l.clone(), predict(t))).collect()
    };
    let cand = score(&pairs(&|t| candidate.predict(seg, t).label));
    let live_r = score(&pairs(&|t| live_model.predict(seg, t).label));
    let base = score(&pairs(&|t| baseline.predict(t)));
    let evaluation = Evaluation {
        train: train.len(),
        held_out: test.len(),
        split: "stratified by category, fold 0 of 5 held out (ordered by a hash of the text)",
        better_than_live: cand.macro_f1 > live_r.macro_f1,
        candidate: Scored {
            model: format!("v{version}"),
            report: cand,
        },
        live: Scored {
            model: engine.model_version.clone(),
            report: live_r,
        },
        baseline: Scored {
            model: "baseline".into(),
            report: base,
        },
    };
    Ok((candidate, evaluation))
}

/// Runs one training request: claims it (a redelivered request that is already claimed does
/// nothing), trains off the runtime, stores the model and its evaluation or the failure.
pub async fn run(pool: &PgPool, live: &Arc<Live>, version: i64) -> Result<(), sqlx::Error> {
    let claimed = sqlx::query(
        "update classifier_models set status = 'training' where version = $1 and status = 'requested'",
    )
    .bind(version)
    .execute(pool)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(());
    }
    let result = match examples(pool).await {
        Err(e) => Err(TrainingError::Database(e)),
        Ok(ex) => {
            let live = live.clone();
            let n = ex.len();
            tokio::task::spawn_blocking(move || train_and_compare(&live, version, &ex))
                .await
                .unwrap_or_else(|e| {
                    Err(TrainingError::Model(ModelError::Training(format!(
                        "training task failed: {e}"
                    ))))
                })
                .map(|(m, e)| (m, e, n))
        }
    };
    match result {
        Ok((model, evaluation, n)) => {
            sqlx::query(
                "update classifier_models set status = 'trained', trained_at = now(), examples = $2,
                        model = $3, evaluation = $4
                 where version = $1",
            )
            .bind(version)
            .bind(n as i32)
            .bind(json!(model))
            .bind(json!(evaluation))
            .execute(pool)
            .await?;
            tracing::info!(
                version,
                macro_f1 = evaluation.candidate.report.macro_f1,
                "classifier trained"
            );
        }
        Err(e) => {
            tracing::warn!(version, error = %e, "classifier training failed");
            sqlx::query(
                "update classifier_models set status = 'failed', trained_at = now(), error = $2 where version = $1",
            )
            .bind(version)
            .bind(e.to_string())
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

/// The adopted category model, if an admin adopted one: `(version, model)`.
pub async fn load_adopted(pool: &PgPool) -> Result<Option<(i64, TextModel)>, sqlx::Error> {
    let row: Option<(i64, serde_json::Value)> = sqlx::query_as(
        "select version, model from classifier_models
         where dimension = 'category' and status = 'adopted' and model is not null",
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.and_then(|(v, m)| match serde_json::from_value::<TextModel>(m) {
        Ok(model) => Some((v, model)),
        Err(e) => {
            tracing::error!(version = v, error = %e, "adopted model unreadable; the current one stays");
            None
        }
    }))
}

/// Makes the adopted model (if any, and if not already in force) the live category model.
pub async fn sync_adopted(pool: &PgPool, live: &Live) -> Result<(), sqlx::Error> {
    if let Some((version, model)) = load_adopted(pool).await? {
        let tag = format!("v{version}");
        if live.current().model_version != tag {
            live.adopt(model, tag);
        }
    }
    Ok(())
}

/// Consumes training requests: one replica trains each (the durable consumer is shared).
pub struct TrainHandler {
    pub pool: PgPool,
    pub live: Arc<Live>,
}

impl shared::consumer::BatchHandler for TrainHandler {
    async fn handle(
        &self,
        batch: &[shared::consumer::Delivery],
    ) -> Result<Vec<shared::consumer::Outcome>, shared::consumer::BatchError> {
        use shared::consumer::Outcome;
        let mut outcomes = Vec::with_capacity(batch.len());
        for d in batch {
            // A training request carries no schema version: it is only parsed (same reason codes as
            // `shared::messages::decode`).
            match shared::messages::parse::<shared::messages::classifier::TrainRequested>(
                &d.payload,
            ) {
                Err(e) => outcomes.push(Outcome::Poison(e.to_string())),
                Ok(r) => {
                    run(&self.pool, &self.live, r.version).await?;
                    outcomes.push(Outcome::Done);
                }
            }
        }
        Ok(outcomes)
    }
}

/// Keeps this replica on the adopted model: at start, on every adoption announced on the bus (a core
/// subscription, so every replica hears it, not one of a shared consumer), and every `every` in case
/// an announcement was missed while the bus was away.
pub async fn watch_adopted(
    pool: PgPool,
    live: Arc<Live>,
    mut announcements: async_nats::Subscriber,
    every: std::time::Duration,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use futures::StreamExt;
    loop {
        if let Err(e) = sync_adopted(&pool, &live).await {
            tracing::warn!(error = %e, "could not read the adopted model; the current one stays");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            m = announcements.next() => {
                // A closed subscription (the client is shutting down) leaves the poll alone.
                if m.is_none() {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(every) => {}
                    }
                }
            }
            _ = tokio::time::sleep(every) => {}
        }
    }
}
