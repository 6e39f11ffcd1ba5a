//! Command line: train / evaluate / crossval a model for any label set, train the
//! configured models, classify a text. `main.rs` only parses and calls [`run`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::decision::{Engine, GivenLabels};
use crate::eval::{score, stratified_folds};
use crate::examples;
use crate::labels::{Dimension, LabelSets};
use crate::model::{Learner, TextModel, TrainParams};
use crate::rules::{TicketFacts, Votes};
use crate::text::Segmenter;

#[derive(Debug, Parser)]
#[command(name = "router", about = "Loopdesk classification and routing")]
pub struct Cli {
    /// Directory with labels.toml, rules.toml, routing.toml and models/. For `run` and `retrain` it
    /// overrides `router.config_dir` of the deployment configuration; the offline tools default to
    /// `config/router`.
    #[arg(long, global = true, env = "LOOPDESK_ROUTER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The router configuration the offline tools read: `--config`, else `config/router`.
    pub fn config_dir(&self) -> PathBuf {
        self.config
            .clone()
            .unwrap_or_else(|| PathBuf::from("config/router"))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model from a CSV/TSV of `text,label` rows (any label set).
    Train {
        #[command(flatten)]
        data: DataArgs,
        /// Where to write the model (JSON).
        #[arg(long)]
        model: PathBuf,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Score a model on rows it did not train on: accuracy, macro_f1, per-class figures.
    /// With --with-rules, score the full decision (rules of --config + its model) instead.
    Evaluate {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, required_unless_present = "with_rules")]
        model: Option<PathBuf>,
        #[arg(long)]
        with_rules: bool,
    },
    /// Stratified k-fold cross-validation; with --with-rules the rules of --config vote too.
    Crossval {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Score the full decision (rules + model) for the dimension named by --label-column.
        #[arg(long)]
        with_rules: bool,
        /// Also print every misclassified row (truth, predicted, text).
        #[arg(long)]
        show_errors: bool,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Hold out a stratified fifth, train the product's model and the baseline (character n-gram
    /// TF-IDF + linear SVM) on the rest, and score both on the held-out fifth (the admin's split);
    /// then both models' mean macro-F1 over ten repeated stratified 5-fold cross-validations.
    Compare {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Train every model named in labels.toml from one file with a column per dimension.
    TrainAll {
        #[arg(long)]
        examples: PathBuf,
        #[command(flatten)]
        params: ParamArgs,
    },
    /// Run the worker (consumes ticket.created and ticket.reclassify).
    Run,
    /// Retrain the configured models from the base examples plus stored corrections (needs the database).
    Retrain,
    /// Print the full decision for a text as JSON.
    Classify {
        text: String,
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        customer_type: Option<String>,
        #[arg(long)]
        ivr_keys: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct DataArgs {
    /// CSV or TSV file.
    #[arg(long)]
    pub examples: PathBuf,
    /// Label column by header name (default: the second column).
    #[arg(long)]
    pub label_column: Option<String>,
}

#[derive(Debug, Args)]
pub struct ParamArgs {
    #[arg(long, value_enum)]
    pub learner: Option<Learner>,
    /// SVM: cost of a margin violation.
    #[arg(long)]
    pub c: Option<f64>,
    /// Weight of the word features against the character n-grams; 0 normalises all together.
    #[arg(long)]
    pub word_weight: Option<f32>,
    /// Logistic: L2 regularisation strength.
    #[arg(long)]
    pub alpha: Option<f64>,
    #[arg(long)]
    pub min_df: Option<usize>,
    #[arg(long)]
    pub max_n: Option<usize>,
    #[arg(long)]
    pub max_iterations: Option<u64>,
}

impl ParamArgs {
    fn params(&self) -> TrainParams {
        let mut p = TrainParams::default();
        if let Some(l) = self.learner {
            p.learner = l;
        }
        if let Some(c) = self.c {
            p.c = c;
        }
        if let Some(w) = self.word_weight {
            p.word_weight = (w > 0.0).then_some(w);
        }
        if let Some(a) = self.alpha {
            p.alpha = a;
        }
        if let Some(m) = self.min_df {
            p.min_df = m;
        }
        if let Some(n) = self.max_n {
            p.max_n = n;
        }
        if let Some(i) = self.max_iterations {
            p.max_iterations = i;
        }
        p
    }
}

/// Partitions `router compare` averages over (each a stratified 5-fold cross-validation).
const REPEATS: u64 = 10;

/// Errors of the command line; printed by main.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Examples(#[from] examples::ExamplesError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    #[error("{0}")]
    Usage(String),
}

/// Run a command, writing its output to `out`.
pub fn run(cli: Cli, out: &mut dyn std::io::Write) -> Result<(), CliError> {
    let w = |out: &mut dyn std::io::Write, s: &str| {
        let _ = out.write_all(s.as_bytes());
    };
    let config_dir = cli.config_dir();
    match cli.command {
        Command::Train {
            data,
            model,
            params,
        } => {
            let ex = examples::load(&data.examples, data.label_column.as_deref())?;
            let seg = Segmenter::new();
            let m = TextModel::train(&seg, &ex, &params.params())?;
            m.save(&model)?;
            w(
                out,
                &format!(
                    "trained examples={} classes={} features={} model={}\n",
                    ex.len(),
                    m.classes.len(),
                    m.idf.len(),
                    model.display()
                ),
            );
        }
        Command::Evaluate {
            data,
            model,
            with_rules,
        } => {
            let ex = examples::load(&data.examples, data.label_column.as_deref())?;
            let pairs: Vec<(String, String)> = match model {
                Some(model) if !with_rules => {
                    let m = TextModel::load(&model)?;
                    let seg = Segmenter::new();
                    ex.iter()
                        .map(|(t, l)| (l.clone(), m.predict(&seg, t).label))
                        .collect()
                }
                _ => {
                    let d = dimension_of(data.label_column.as_deref())?;
                    let engine = Engine::load(&config_dir)?;
                    let model = match model {
                        Some(p) => TextModel::load(&p)?,
                        None => engine.model(d).clone(),
                    };
                    ex.iter()
                        .map(|(t, l)| {
                            let facts = TicketFacts {
                                text: t.clone(),
                                ..Default::default()
                            };
                            let outcome = engine.rule_outcome(&facts);
                            let code = engine
                                .decide_dimension(d, None, outcome.votes(d), &model, t)
                                .code;
                            (l.clone(), code)
                        })
                        .collect()
                }
            };
            w(out, &score(&pairs).to_lines(""));
        }
        Command::Crossval {
            data,
            folds,
            with_rules,
            show_errors,
            params,
        } => {
            let ex = examples::load(&data.examples, data.label_column.as_deref())?;
            let engine = if with_rules {
                let dim = dimension_of(data.label_column.as_deref())?;
                Some((Engine::load(&config_dir)?, dim))
            } else {
                None
            };
            let pairs = crossval(&ex, folds, &params.params(), engine.as_ref())?;
            w(out, &score(&pairs).to_lines(""));
            if show_errors {
                for ((t, p), (text, _)) in pairs.iter().zip(&ex) {
                    if t != p {
                        w(out, &format!("error truth={t} predicted={p} text={text}\n"));
                    }
                }
            }
        }
        Command::Compare { data } => {
            let ex = examples::load(&data.examples, data.label_column.as_deref())?;
            let seg = Segmenter::new();
            let (product, baseline) = crate::training::compare_on_split(&seg, &ex)?;
            w(out, &product.to_lines("product_"));
            w(out, &baseline.to_lines("baseline_"));
            // One held-out fifth is small enough for chance to rank the two: the mean over every
            // fold of ten partitions as well.
            let (p, b) = crate::training::compare_repeated(&seg, &ex, REPEATS)?;
            w(
                out,
                &format!("repeated_product_macro_f1={p:.4}\nrepeated_baseline_macro_f1={b:.4}\n"),
            );
        }
        Command::TrainAll { examples, params } => {
            let report = train_all_with(&config_dir, &examples, &[], &params.params())?;
            w(out, &report);
        }
        Command::Run | Command::Retrain => {
            return Err(CliError::Usage(
                "run and retrain need the async runtime; main dispatches them".into(),
            ));
        }
        Command::Classify {
            text,
            channel,
            customer_type,
            ivr_keys,
        } => {
            let engine = Engine::load(&config_dir)?;
            let facts = TicketFacts {
                text,
                channel,
                customer_type,
                ivr_keys,
                ..Default::default()
            };
            let d = engine.decide(&facts, &GivenLabels::default());
            let json = serde_json::to_string_pretty(&d).unwrap_or_default();
            w(out, &json);
            w(out, "\n");
        }
    }
    Ok(())
}

/// Train every configured model from `examples` (a file with a column per dimension) plus extra
/// `(text, category, priority, feedback_type)` rows (stored corrections); returns a report.
pub fn train_all_with(
    config: &std::path::Path,
    examples: &std::path::Path,
    extra: &[(String, String, String, String)],
    params: &TrainParams,
) -> Result<String, CliError> {
    let files = crate::decision::ConfigFiles::new(config);
    let labels = LabelSets::from_toml(&files.labels(), &crate::decision::read(&files.labels())?)?;
    let seg = Segmenter::new();
    let mut report = String::new();
    for d in Dimension::ALL {
        let mut ex = examples::load(examples, Some(d.key()))?;
        for (t, c, p, f) in extra {
            let l = match d {
                Dimension::Category => c,
                Dimension::Priority => p,
                Dimension::FeedbackType => f,
            };
            ex.push((t.clone(), l.clone()));
        }
        check_labels(&labels, d, &ex)?;
        let m = TextModel::train(&seg, &ex, params)?;
        let path = files.model(&labels, d);
        m.save(&path)?;
        report.push_str(&format!(
            "trained {} examples={} corrections={} features={} model={}\n",
            d.key(),
            ex.len(),
            extra.len(),
            m.idf.len(),
            path.display()
        ));
    }
    Ok(report)
}

/// The dimension a `--label-column` names (needed to score the full decision).
fn dimension_of(column: Option<&str>) -> Result<Dimension, CliError> {
    column
        .and_then(|c| Dimension::ALL.into_iter().find(|d| d.key() == c))
        .ok_or_else(|| {
            CliError::Usage(
                "--with-rules needs --label-column category|priority|feedback_type".into(),
            )
        })
}

/// Refuse training rows whose label is not in the configured label set.
pub fn check_labels(
    labels: &LabelSets,
    d: Dimension,
    ex: &[(String, String)],
) -> Result<(), CliError> {
    if let Some((t, l)) = ex.iter().find(|(_, l)| !labels.has(d, l)) {
        return Err(CliError::Usage(format!(
            "label `{l}` (text `{t}`) is not a {} label in labels.toml",
            d.key()
        )));
    }
    Ok(())
}

/// Cross-validated `(truth, predicted)` pairs: each fold is predicted by a model trained on
/// the other folds, in the order of `ex`. With an engine, the engine's rules vote as in production.
pub fn crossval(
    ex: &[(String, String)],
    folds: usize,
    params: &TrainParams,
    engine: Option<&(Engine, Dimension)>,
) -> Result<Vec<(String, String)>, CliError> {
    let texts: Vec<String> = ex.iter().map(|(t, _)| t.clone()).collect();
    let labels: Vec<String> = ex.iter().map(|(_, l)| l.clone()).collect();
    let fold_of = stratified_folds(&labels, &texts, folds);
    let seg = Segmenter::new();
    let mut pairs = vec![(String::new(), String::new()); ex.len()];
    for k in 0..folds.max(2) {
        let train: Vec<(String, String)> = ex
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f != k)
            .map(|(e, _)| e.clone())
            .collect();
        let m = TextModel::train(&seg, &train, params)?;
        for (i, ((t, l), f)) in ex.iter().zip(&fold_of).enumerate() {
            if *f != k {
                continue;
            }
            let predicted = match engine {
                Some((e, d)) => {
                    let facts = TicketFacts {
                        text: t.clone(),
                        ..Default::default()
                    };
                    let outcome = e.rule_outcome(&facts);
                    let votes: &Votes = outcome.votes(*d);
                    e.decide_dimension(*d, None, votes, &m, t).code
                }
                None => m.predict(&seg, t).label,
            };
            pairs[i] = (l.clone(), predicted);
        }
    }
    Ok(pairs)
}
