//! Combining rules and models into one decision with confidences and reasons.
//!
//! Per dimension (category, priority, feedback type):
//! 1. a label a person already picked on the ticket (e.g. the feedback type from the
//!    form's list) is kept with confidence 1;
//! 2. otherwise, if rules fired, the rule labels compete and the winner is the one with the
//!    highest noisy-or of its rule score and the model's probability; rules win where they
//!    fire, the model only breaks ties between rules and raises confidence when it agrees;
//!    conflicting rules lower the confidence;
//! 3. otherwise the model's label and probability.
//!
//! A category or priority confidence under `review.min_confidence` marks the ticket
//! "needs review" instead of guessing silently.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::labels::{Dimension, LabelSets};
use crate::model::{Prediction, SparseVec, TextModel};
use crate::routing::{RouteDecision, RoutingTable};
use crate::rules::{RuleOutcome, RuleSet, TicketFacts, Votes};
use crate::text::{features, Analyzed, Features, Segmenter};
use crate::ConfigError;

/// The version name of the category model shipped in config/router.
pub const SHIPPED: &str = "shipped";

/// Where a label came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Picked by a person on the ticket.
    Ticket,
    Rules,
    Model,
}

/// The decision on one dimension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelDecision {
    pub code: String,
    pub name: String,
    pub confidence: f64,
    pub source: Source,
    pub reasons: Vec<String>,
}

/// A tag with the confidence of the rules that set it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagDecision {
    pub code: String,
    pub name: String,
    pub confidence: f64,
    pub rules: Vec<String>,
}

/// The full classification and routing decision for a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub category: LabelDecision,
    pub priority: LabelDecision,
    pub feedback_type: LabelDecision,
    pub tags: Vec<TagDecision>,
    pub route: RouteDecision,
    /// True when a person should check the decision before it is trusted.
    pub needs_review: bool,
    pub review_reasons: Vec<String>,
    /// Which category model made the decision: `shipped` (config/router) or an adopted `v12`.
    #[serde(default)]
    pub model_version: String,
}

/// Labels a person already set on the ticket; the router keeps them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GivenLabels {
    pub category: Option<String>,
    pub priority: Option<String>,
    pub feedback_type: Option<String>,
}

impl GivenLabels {
    fn get(&self, d: Dimension) -> Option<&str> {
        match d {
            Dimension::Category => self.category.as_deref(),
            Dimension::Priority => self.priority.as_deref(),
            Dimension::FeedbackType => self.feedback_type.as_deref(),
        }
    }
}

/// Everything needed to classify: config, rules, routing, models and segmenters.
/// Built once and replaced whole on reload, so a decision never mixes two rule versions.
pub struct Engine {
    pub labels: LabelSets,
    pub rules: RuleSet,
    pub routing: RoutingTable,
    category: TextModel,
    priority: TextModel,
    feedback_type: TextModel,
    /// For each dimension (by [`Dimension::index`]), the first dimension whose model turns a
    /// text into the same vector: models trained on the same texts share one, and a decision
    /// computes it once instead of once per model.
    vector_source: [usize; 3],
    /// Plain jieba, exactly as at training time, for model features.
    model_segmenter: Segmenter,
    /// Jieba taught the rule phrases, so phrases come out as whole words.
    rule_segmenter: Segmenter,
    /// The category model's version, recorded on every decision: `shipped` for the file in
    /// config/router, `v12` for a model an admin adopted ([`crate::training`]).
    pub model_version: String,
}

/// The config files of a config directory.
pub struct ConfigFiles {
    pub dir: PathBuf,
}

impl ConfigFiles {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
    pub fn labels(&self) -> PathBuf {
        self.dir.join("labels.toml")
    }
    pub fn rules(&self) -> PathBuf {
        self.dir.join("rules.toml")
    }
    pub fn routing(&self) -> PathBuf {
        self.dir.join("routing.toml")
    }
    /// A model path from labels.toml, relative to the config dir.
    pub fn model(&self, labels: &LabelSets, d: Dimension) -> PathBuf {
        self.dir.join(labels.model_path(d))
    }
}

pub(crate) fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

impl Engine {
    /// Load everything from a config directory; any error refuses the whole set.
    pub fn load(dir: &Path) -> Result<Self, ConfigError> {
        let files = ConfigFiles::new(dir);
        let labels = LabelSets::from_toml(&files.labels(), &read(&files.labels())?)?;
        let rules = RuleSet::from_toml(&files.rules(), &read(&files.rules())?, &labels)?;
        let routing = RoutingTable::from_toml(&files.routing(), &read(&files.routing())?, &labels)?;
        let load_model = |d: Dimension| -> Result<TextModel, ConfigError> {
            let p = files.model(&labels, d);
            let m = TextModel::load(&p).map_err(|e| ConfigError::Model(e.to_string()))?;
            for c in &m.classes {
                if !labels.has(d, c) {
                    return Err(ConfigError::invalid(
                        &p,
                        format!("model class `{c}` is not a {} label", d.key()),
                    ));
                }
            }
            Ok(m)
        };
        let category = load_model(Dimension::Category)?;
        let priority = load_model(Dimension::Priority)?;
        let feedback_type = load_model(Dimension::FeedbackType)?;
        Ok(Self::new(
            labels,
            rules,
            routing,
            category,
            priority,
            feedback_type,
        ))
    }

    /// Assemble an engine from parts.
    pub fn new(
        labels: LabelSets,
        rules: RuleSet,
        routing: RoutingTable,
        category: TextModel,
        priority: TextModel,
        feedback_type: TextModel,
    ) -> Self {
        let mut rule_segmenter = Segmenter::new();
        rule_segmenter.add_words(rules.phrases());
        let models = [&category, &priority, &feedback_type];
        let vector_source = std::array::from_fn(|d| {
            (0..d)
                .find(|&s| models[s].vectorizes_like(models[d]))
                .unwrap_or(d)
        });
        Self {
            labels,
            rules,
            routing,
            category,
            priority,
            feedback_type,
            vector_source,
            model_segmenter: Segmenter::new(),
            rule_segmenter,
            model_version: SHIPPED.to_string(),
        }
    }

    /// This engine with another category model (an adopted one). Its classes are the business's
    /// own categories, which the taxonomy holds, so they are not checked against labels.toml.
    pub fn with_category_model(&self, category: TextModel, version: String) -> Self {
        let mut engine = Self::new(
            self.labels.clone(),
            self.rules.clone(),
            self.routing.clone(),
            category,
            self.priority.clone(),
            self.feedback_type.clone(),
        );
        engine.model_version = version;
        engine
    }

    /// Re-read `rules.toml` and `routing.toml`; the models and labels stay. On error
    /// nothing changes and the caller keeps the engine it has.
    pub fn with_reloaded_rules(&self, dir: &Path) -> Result<Self, ConfigError> {
        let files = ConfigFiles::new(dir);
        let rules = RuleSet::from_toml(&files.rules(), &read(&files.rules())?, &self.labels)?;
        let routing =
            RoutingTable::from_toml(&files.routing(), &read(&files.routing())?, &self.labels)?;
        let mut engine = Self::new(
            self.labels.clone(),
            rules,
            routing,
            self.category.clone(),
            self.priority.clone(),
            self.feedback_type.clone(),
        );
        engine.model_version = self.model_version.clone();
        Ok(engine)
    }

    /// The same rules and models with the business's lists and routing table from its setup (what
    /// admins edit in the console, `shared::setup`); the files' lists and routes were only its
    /// first-start defaults. A label the models or rules know and the taxonomy no longer has is still
    /// decided, and routed to the default department.
    pub fn with_setup(&self, setup: &shared::setup::Setup) -> Self {
        use crate::labels::Label;
        let named = |list: &[shared::setup::Named]| -> Vec<Label> {
            list.iter()
                .map(|n| Label {
                    code: n.code.clone(),
                    name: n.name_zh.clone(),
                    name_en: (!n.name_en.is_empty()).then(|| n.name_en.clone()),
                })
                .collect()
        };
        let mut labels = self.labels.clone();
        labels.category = named(&setup.taxonomy.categories);
        labels.priority = named(&setup.taxonomy.priorities);
        labels.feedback_type = named(&setup.taxonomy.feedback_types);
        labels.tag = named(&setup.taxonomy.tags);
        let routing = RoutingTable::from_setup(setup);
        let mut engine = Self::new(
            labels,
            self.rules.clone(),
            routing,
            self.category.clone(),
            self.priority.clone(),
            self.feedback_type.clone(),
        );
        // The models are this engine's (an adopted one included), so is their version.
        engine.model_version = self.model_version.clone();
        engine
    }

    /// The model of a dimension.
    pub fn model(&self, d: Dimension) -> &TextModel {
        match d {
            Dimension::Category => &self.category,
            Dimension::Priority => &self.priority,
            Dimension::FeedbackType => &self.feedback_type,
        }
    }

    /// The segmenter used for model features.
    pub fn model_segmenter(&self) -> &Segmenter {
        &self.model_segmenter
    }

    /// Run the rules only.
    pub fn rule_outcome(&self, facts: &TicketFacts) -> RuleOutcome {
        let analyzed = Analyzed::new(&self.rule_segmenter, &facts.text);
        self.rules.evaluate(facts, &analyzed)
    }

    /// Decide one dimension from what the rules and the model say.
    pub fn decide_dimension(
        &self,
        d: Dimension,
        given: Option<&str>,
        votes: &Votes,
        model: &TextModel,
        text: &str,
    ) -> LabelDecision {
        if let Some(code) = given.filter(|c| self.labels.has(d, c)) {
            return LabelDecision {
                code: code.to_string(),
                name: self.labels.name(d, code),
                confidence: 1.0,
                source: Source::Ticket,
                reasons: vec![format!("{} set on the ticket", d.key())],
            };
        }
        self.combine(d, votes, model.predict(&self.model_segmenter, text))
    }

    /// The decision of a dimension from the rules' votes and the model's prediction: rules win where
    /// they fire, the model breaks ties and speaks alone where no rule fired.
    fn combine(&self, d: Dimension, votes: &Votes, pred: Prediction) -> LabelDecision {
        let p = |label: &str| {
            pred.ranking
                .iter()
                .find(|(l, _)| l == label)
                .map_or(0.0, |(_, p)| *p)
        };
        if votes.scores.is_empty() {
            return LabelDecision {
                name: self.labels.name(d, &pred.label),
                reasons: vec![format!("model: {} p={:.2}", pred.label, pred.confidence)],
                code: pred.label,
                confidence: pred.confidence,
                source: Source::Model,
            };
        }
        let mut combined: Vec<(String, f64)> = votes
            .scores
            .iter()
            .map(|(l, r)| (l.clone(), 1.0 - (1.0 - r) * (1.0 - p(l))))
            .collect();
        combined.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let (code, best) = combined[0].clone();
        let runner_up = combined.get(1).map_or(0.0, |(_, s)| *s);
        let confidence = (best - 0.5 * runner_up).clamp(0.0, 1.0);
        let mut reasons: Vec<String> = votes
            .rules
            .get(&code)
            .into_iter()
            .flatten()
            .map(|r| format!("rule {r}"))
            .collect();
        reasons.push(format!("model: {} p={:.2}", code, p(&code)));
        if combined.len() > 1 {
            reasons.push(format!(
                "rules disagree: {}",
                combined
                    .iter()
                    .map(|(l, s)| format!("{l}={s:.2}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        LabelDecision {
            name: self.labels.name(d, &code),
            code,
            confidence,
            source: Source::Rules,
            reasons,
        }
    }

    /// Classify and route a ticket.
    pub fn decide(&self, facts: &TicketFacts, given: &GivenLabels) -> Decision {
        let outcome = self.rule_outcome(facts);
        // Features are extracted once per n-gram length, vectors once per group of models that
        // vectorize alike, not once per model.
        let mut extracted: Vec<(usize, Features)> = Vec::new();
        let mut vectors: [Option<SparseVec>; 3] = Default::default();
        let mut dim = |d: Dimension| {
            if let Some(code) = given.get(d).filter(|c| self.labels.has(d, c)) {
                return self.decide_dimension(d, Some(code), outcome.votes(d), self.model(d), "");
            }
            let model = self.model(d);
            let source = self.vector_source[d.index()];
            let vector = vectors[source].get_or_insert_with(|| {
                let at = match extracted.iter().position(|(n, _)| *n == model.max_n) {
                    Some(at) => at,
                    None => {
                        let feats = features(&self.model_segmenter, &facts.text, model.max_n);
                        extracted.push((model.max_n, feats));
                        extracted.len() - 1
                    }
                };
                model.vectorize_features(&extracted[at].1)
            });
            self.combine(d, outcome.votes(d), model.predict_vector(vector))
        };
        let category = dim(Dimension::Category);
        let priority = dim(Dimension::Priority);
        let feedback_type = dim(Dimension::FeedbackType);
        let tags: Vec<TagDecision> = outcome
            .tags
            .scores
            .iter()
            .map(|(code, conf)| TagDecision {
                name: self
                    .labels
                    .tag
                    .iter()
                    .find(|l| &l.code == code)
                    .map_or_else(|| code.clone(), |l| l.name.clone()),
                code: code.clone(),
                confidence: *conf,
                rules: outcome.tags.rules.get(code).cloned().unwrap_or_default(),
            })
            .collect();
        let tag_codes: Vec<String> = tags.iter().map(|t| t.code.clone()).collect();
        let route = self
            .routing
            .route(&category.code, &feedback_type.code, &tag_codes);
        let min = self.labels.review.min_confidence;
        let mut review_reasons = Vec::new();
        for (d, ld) in [("category", &category), ("priority", &priority)] {
            if ld.confidence < min {
                review_reasons.push(format!(
                    "{d} confidence {:.2} below {:.2}",
                    ld.confidence, min
                ));
            }
        }
        Decision {
            category,
            priority,
            feedback_type,
            tags,
            route,
            needs_review: !review_reasons.is_empty(),
            review_reasons,
            model_version: self.model_version.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped models were trained on the same texts, so one vector serves all three, and the
    /// decisions are exactly those of an engine that vectorizes once per model.
    #[test]
    fn models_that_vectorize_alike_share_one_vector() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/router");
        let shared = Engine::load(&dir).expect("shipped config loads");
        assert_eq!(shared.vector_source, [0, 0, 0]);
        let mut apart = Engine::load(&dir).expect("shipped config loads");
        apart.vector_source = [0, 1, 2];
        for text in [
            "APP一直闪退，登录不了",
            "快递已经五天了还没送到，物流信息一直不更新",
            "安装师傅迟到了一个小时，也没有提前打电话说明。",
            "The refund has not arrived after two weeks",
        ] {
            let facts = TicketFacts {
                text: text.to_owned(),
                channel: Some("app".to_owned()),
                customer_type: None,
                ivr_keys: None,
                fields_present: Default::default(),
            };
            let given = GivenLabels::default();
            assert_eq!(
                shared.decide(&facts, &given),
                apart.decide(&facts, &given),
                "{text}"
            );
        }
    }
}
