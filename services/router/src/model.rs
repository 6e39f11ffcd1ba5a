//! The statistical classifier: TF-IDF over character 1–4-grams and over jieba words, each block
//! L2-normalised on its own, fed to a linear SVM (one-vs-rest, squared hinge, solved in the dual by
//! [`crate::baseline`]'s coordinate descent) whose margins a softmax with a cross-validated scale
//! turns into probabilities. A multinomial logistic regression (`linfa-logistic`) is the other
//! learner ([`Learner::Logistic`]); the shipped models were trained with it.
//!
//! Why this model: for short Chinese texts TF-IDF over character n-grams with a linear model is the
//! standard baseline; jieba words add whole-word evidence, and normalising the word block apart from
//! the far more numerous n-grams (at half their weight) keeps the n-grams from drowning it. Chosen by
//! cross-validation on the training part of the team's 200 tickets and on the bundled examples.tsv
//! (docs/benchmarks.md). The SVM trains on sparse vectors, so it needs no dense matrix and is fast;
//! its margins are not probabilities, so the scale of the softmax is fitted to out-of-fold margins
//! (minimum log-loss), which keeps the confidences the router's "needs review" decision reads
//! meaningful. `linfa-logistic` trains on dense `ndarray` matrices (rows × features × 8 bytes),
//! which is why the vocabulary is capped (`max_features`); prediction uses the sparse features
//! directly either way.
//!
//! The trained model is plain JSON (vocabulary, idf, weights, classes) so a business can
//! train it from its own history with its own label set and ship the file. Both learners produce
//! the same form: linear scores per class, softmax.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::path::Path;

use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::eval::stratified_folds;
use crate::text::{features, Features, Segmenter};

/// Errors training, loading or saving a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("no training examples")]
    Empty,
    #[error("need at least two distinct labels to train, got {0:?}")]
    OneClass(Vec<String>),
    #[error("training failed: {0}")]
    Training(String),
    #[error("model file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("model file {path} is not a valid model: {source}")]
    Format {
        path: String,
        source: serde_json::Error,
    },
}

/// How the weights are learned from the TF-IDF vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Learner {
    /// Linear SVM, one-vs-rest, squared hinge (`c`), softmax over scaled margins.
    #[default]
    Svm,
    /// Multinomial logistic regression by L-BFGS (`alpha`, `max_iterations`).
    Logistic,
}

/// Knobs for training; defaults were chosen by cross-validation (docs/benchmarks.md).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainParams {
    pub learner: Learner,
    /// Longest character n-gram.
    pub max_n: usize,
    /// A feature must occur in at least this many training texts.
    pub min_df: usize,
    /// Keep at most this many features (most frequent first): bounds the model's size and, for the
    /// logistic learner, its dense training matrix.
    pub max_features: usize,
    /// Weight of the word block against the character n-gram block (both L2-normalised);
    /// `None` normalises all features together.
    pub word_weight: Option<f32>,
    /// SVM: cost of a margin violation (inverse regularisation strength).
    pub c: f64,
    /// Logistic: L2 regularisation strength.
    pub alpha: f64,
    /// Logistic: L-BFGS iteration cap.
    pub max_iterations: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            learner: Learner::Svm,
            max_n: 4,
            min_df: 1,
            max_features: 30_000,
            word_weight: Some(0.5),
            c: 10.0,
            alpha: 0.1,
            max_iterations: 200,
        }
    }
}

/// Folds the softmax scale of the SVM's margins is fitted on.
const CALIBRATION_FOLDS: usize = 3;
/// Candidate softmax scales (geometric).
const SCALES: [f64; 10] = [0.5, 1.0, 1.5, 2.0, 3.0, 4.5, 6.0, 8.0, 12.0, 18.0];

/// A trained text classifier for one label set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextModel {
    /// Longest character n-gram used at training time (prediction must use the same).
    pub max_n: usize,
    /// Label codes, index = column of `weights`.
    pub classes: Vec<String>,
    /// Feature string → column index. Looked up for every feature of every ticket by every model,
    /// with keys from our own training data: FxHash, not the DoS-resistant default (which took
    /// a visible share of the router's CPU); lookups of a ticket's text never insert.
    pub vocabulary: FxHashMap<String, usize>,
    /// Inverse document frequency per feature.
    pub idf: Vec<f32>,
    /// Weights, row-major `[feature][class]`.
    pub weights: Vec<f32>,
    /// Intercept per class.
    pub intercept: Vec<f32>,
    /// Word features (`w:` prefix) are L2-normalised apart from the character n-grams and weighted
    /// by this against them; absent (models trained before), all features are normalised together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word_weight: Option<f32>,
}

/// A model's answer for one text: classes with probabilities, best first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub label: String,
    pub confidence: f64,
    /// Every class with its probability, best first.
    pub ranking: Vec<(String, f64)>,
}

/// Sparse TF-IDF vector: (feature index, value), L2-normalised.
pub type SparseVec = Vec<(usize, f32)>;

impl TextModel {
    /// Learn a model from `(text, label)` pairs; any label set works.
    pub fn train(
        segmenter: &Segmenter,
        examples: &[(String, String)],
        params: &TrainParams,
    ) -> Result<Self, ModelError> {
        if examples.is_empty() {
            return Err(ModelError::Empty);
        }
        let mut classes: Vec<String> = examples.iter().map(|(_, l)| l.clone()).collect();
        classes.sort();
        classes.dedup();
        if classes.len() < 2 {
            return Err(ModelError::OneClass(classes));
        }
        let docs: Vec<Features> = examples
            .iter()
            .map(|(t, _)| features(segmenter, t, params.max_n))
            .collect();
        // Document frequency per feature.
        let mut df: HashMap<&str, usize> = HashMap::new();
        for d in &docs {
            let mut seen: Vec<&str> = d.iter().collect();
            seen.sort_unstable();
            seen.dedup();
            for f in seen {
                *df.entry(f).or_default() += 1;
            }
        }
        let mut kept: Vec<(&str, usize)> = df
            .into_iter()
            .filter(|(_, n)| *n >= params.min_df)
            .collect();
        // Most frequent first, ties by name so training is deterministic.
        kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        kept.truncate(params.max_features);
        let n_docs = docs.len() as f32;
        let vocabulary: FxHashMap<String, usize> = kept
            .iter()
            .enumerate()
            .map(|(i, (f, _))| (f.to_string(), i))
            .collect();
        // Smoothed idf, as scikit-learn's TfidfVectorizer does.
        let idf: Vec<f32> = kept
            .iter()
            .map(|(_, n)| ((1.0 + n_docs) / (1.0 + *n as f32)).ln() + 1.0)
            .collect();
        let mut model = TextModel {
            max_n: params.max_n,
            classes,
            vocabulary,
            idf,
            weights: Vec::new(),
            intercept: Vec::new(),
            word_weight: params.word_weight,
        };
        let xs: Vec<SparseVec> = docs.iter().map(|d| model.vectorize_features(d)).collect();
        let y: Vec<usize> = examples
            .iter()
            .map(|(_, l)| model.classes.iter().position(|c| c == l).unwrap_or(0))
            .collect();
        let (weights, intercept) = match params.learner {
            Learner::Svm => {
                let texts: Vec<String> = examples.iter().map(|(t, _)| t.clone()).collect();
                let labels: Vec<String> = examples.iter().map(|(_, l)| l.clone()).collect();
                train_svm(
                    &xs,
                    &y,
                    &texts,
                    &labels,
                    model.classes.len(),
                    model.idf.len(),
                    params.c,
                )
            }
            Learner::Logistic => {
                train_logistic(&xs, &y, model.classes.len(), model.idf.len(), params)?
            }
        };
        model.weights = weights;
        model.intercept = intercept;
        Ok(model)
    }

    /// Whether `other` turns every text into the same vector as this model (same n-grams,
    /// vocabulary and idf), as models trained on the same texts do: one vector then serves both.
    pub fn vectorizes_like(&self, other: &TextModel) -> bool {
        self.max_n == other.max_n
            && self.word_weight == other.word_weight
            && self.idf == other.idf
            && self.vocabulary == other.vocabulary
    }

    /// TF-IDF vector of already extracted features: sublinear tf, idf, L2 norm (per block with a
    /// word weight).
    pub fn vectorize_features(&self, feats: &Features) -> SparseVec {
        let Some(g) = self.word_weight else {
            return self.block(feats.iter(), 1.0);
        };
        let scale = 1.0 / (1.0 + g * g).sqrt();
        let mut v = self.block(feats.iter().filter(|f| !f.starts_with("w:")), scale);
        v.extend(self.block(feats.iter().filter(|f| f.starts_with("w:")), g * scale));
        v
    }

    /// Sublinear tf × idf of the known features among `feats`, L2-normalised to `norm_to`.
    fn block<'a>(&self, feats: impl Iterator<Item = &'a str>, norm_to: f32) -> SparseVec {
        // Known features' columns, sorted, so equal columns are neighbours to count and the norm
        // is summed in a fixed order: the same text always gets the same vector, bit for bit.
        let mut columns: Vec<usize> = feats
            .filter_map(|f| self.vocabulary.get(f).copied())
            .collect();
        columns.sort_unstable();
        let mut v: SparseVec = columns
            .chunk_by(|a, b| a == b)
            .map(|same| {
                let i = same[0];
                (i, (1.0 + (same.len() as f32).ln()) * self.idf[i])
            })
            .collect();
        let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, x) in &mut v {
                *x *= norm_to / norm;
            }
        }
        v
    }

    /// Classify one text.
    pub fn predict(&self, segmenter: &Segmenter, text: &str) -> Prediction {
        self.predict_features(&features(segmenter, text, self.max_n))
    }

    /// Classify a text from features already extracted with this model's `max_n`, so one extraction
    /// (normalising and segmenting the text, the costly part) serves every model of a decision.
    pub fn predict_features(&self, feats: &Features) -> Prediction {
        self.predict_vector(&self.vectorize_features(feats))
    }

    /// Classify a text from its vector ([`Self::vectorize_features`] of this model or of one that
    /// [vectorizes like](Self::vectorizes_like) it).
    pub fn predict_vector(&self, v: &[(usize, f32)]) -> Prediction {
        let k = self.classes.len();
        let mut scores: Vec<f64> = self.intercept.iter().map(|&b| f64::from(b)).collect();
        for &(i, x) in v {
            let row = &self.weights[i * k..(i + 1) * k];
            for (s, w) in scores.iter_mut().zip(row) {
                *s += f64::from(*w) * f64::from(x);
            }
        }
        // Softmax, shifted by the max for numerical stability.
        let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        let mut ranking: Vec<(String, f64)> = self
            .classes
            .iter()
            .cloned()
            .zip(exps.iter().map(|e| e / sum))
            .collect();
        ranking.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (label, confidence) = ranking[0].clone();
        Prediction {
            label,
            confidence,
            ranking,
        }
    }

    /// Write the model as JSON.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let io = |source| ModelError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
        }
        let json = serde_json::to_vec(self).map_err(|source| ModelError::Format {
            path: path.display().to_string(),
            source,
        })?;
        std::fs::write(path, json).map_err(io)
    }

    /// Read a model written by [`TextModel::save`].
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| ModelError::Format {
            path: path.display().to_string(),
            source,
        })
    }
}

/// One-vs-rest linear SVMs over `xs` (labels `y` in `0..k`), their margins scaled so that a softmax
/// over them fits out-of-fold labels best: `(weights [feature][class], intercept)`.
fn train_svm(
    xs: &[SparseVec],
    y: &[usize],
    texts: &[String],
    labels: &[String],
    k: usize,
    n_features: usize,
    c: f64,
) -> (Vec<f32>, Vec<f32>) {
    // The bias is a constant feature in the last column, as in LIBLINEAR.
    let with_bias: Vec<Vec<(usize, f64)>> = xs
        .iter()
        .map(|x| {
            let mut v: Vec<(usize, f64)> = x.iter().map(|&(i, v)| (i, f64::from(v))).collect();
            v.push((n_features, 1.0));
            v
        })
        .collect();
    let fit = |rows: &[usize]| -> Vec<Vec<f64>> {
        let sub: Vec<Vec<(usize, f64)>> = rows.iter().map(|&r| with_bias[r].clone()).collect();
        (0..k)
            .map(|class| {
                let signs: Vec<f64> = rows
                    .iter()
                    .map(|&r| if y[r] == class { 1.0 } else { -1.0 })
                    .collect();
                crate::baseline::dual_cd(&sub, &signs, n_features + 1, c)
            })
            .collect()
    };
    let margins = |w: &[Vec<f64>], x: &[(usize, f64)]| -> Vec<f64> {
        w.iter()
            .map(|w| x.iter().map(|&(i, v)| w[i] * v).sum())
            .collect()
    };
    // Out-of-fold margins of every training text, from models that did not see it.
    let fold = stratified_folds(labels, texts, CALIBRATION_FOLDS);
    let mut held: Vec<(Vec<f64>, usize)> = Vec::with_capacity(xs.len());
    for f in 0..CALIBRATION_FOLDS {
        let rows: Vec<usize> = (0..xs.len()).filter(|&r| fold[r] != f).collect();
        let w = fit(&rows);
        for r in (0..xs.len()).filter(|&r| fold[r] == f) {
            held.push((margins(&w, &with_bias[r]), y[r]));
        }
    }
    let log_loss = |s: f64| -> f64 {
        held.iter()
            .map(|(m, truth)| {
                let max = m.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = m.iter().map(|v| ((v - max) * s).exp()).sum();
                z.ln() - (m[*truth] - max) * s
            })
            .sum()
    };
    let scale = SCALES
        .iter()
        .copied()
        .min_by(|a, b| log_loss(*a).total_cmp(&log_loss(*b)))
        .unwrap_or(1.0);
    let w = fit(&(0..xs.len()).collect::<Vec<_>>());
    let mut weights = vec![0f32; n_features * k];
    for (class, w) in w.iter().enumerate() {
        for f in 0..n_features {
            weights[f * k + class] = (w[f] * scale) as f32;
        }
    }
    let intercept = w.iter().map(|w| (w[n_features] * scale) as f32).collect();
    (weights, intercept)
}

/// Multinomial logistic regression over `xs` (dense: rows × features): `(weights, intercept)`.
fn train_logistic(
    xs: &[SparseVec],
    y: &[usize],
    k: usize,
    n_features: usize,
    params: &TrainParams,
) -> Result<(Vec<f32>, Vec<f32>), ModelError> {
    let mut x = Array2::<f64>::zeros((xs.len(), n_features));
    for (row, v) in xs.iter().enumerate() {
        for &(col, v) in v {
            x[[row, col]] = f64::from(v);
        }
    }
    let dataset = Dataset::new(x, y.iter().copied().collect::<Array1<usize>>());
    let fitted = MultiLogisticRegression::default()
        .alpha(params.alpha)
        .max_iterations(params.max_iterations)
        .fit(&dataset)
        .map_err(|e| ModelError::Training(e.to_string()))?;
    // `fitted.classes()` are the sorted distinct targets, i.e. our indices in order.
    let mut weights = vec![0f32; n_features * k];
    let mut intercept = vec![0f32; k];
    for (j, &class_idx) in fitted.classes().iter().enumerate() {
        intercept[class_idx] = fitted.intercept()[j] as f32;
        for f in 0..n_features {
            weights[f * k + class_idx] = fitted.params()[[f, j]] as f32;
        }
    }
    Ok((weights, intercept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_tiny_label_set() {
        let seg = Segmenter::new();
        let ex: Vec<(String, String)> = [
            ("快递三天了还没到", "logistics"),
            ("物流一直不更新", "logistics"),
            ("包裹还在路上没送到", "logistics"),
            ("app闪退打不开", "tech"),
            ("登录不了一直报错", "tech"),
            ("页面打不开报错", "tech"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let m = TextModel::train(&seg, &ex, &TrainParams::default()).expect("train");
        assert_eq!(m.predict(&seg, "快递还没到").label, "logistics");
        assert_eq!(m.predict(&seg, "app打不开报错").label, "tech");
        let dir = std::env::temp_dir().join(format!("router-model-{}", std::process::id()));
        let p = dir.join("m.json");
        m.save(&p).expect("save");
        let back = TextModel::load(&p).expect("load");
        assert_eq!(
            back.predict(&seg, "快递还没到"),
            m.predict(&seg, "快递还没到")
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tiny() -> Vec<(String, String)> {
        [
            ("快递三天了还没到", "logistics"),
            ("物流一直不更新", "logistics"),
            ("包裹还在路上没送到", "logistics"),
            ("app闪退打不开", "tech"),
            ("登录不了一直报错", "tech"),
            ("页面打不开报错", "tech"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }

    #[test]
    fn the_logistic_learner_still_trains() {
        let seg = Segmenter::new();
        let params = TrainParams {
            learner: Learner::Logistic,
            max_n: 3,
            word_weight: None,
            ..TrainParams::default()
        };
        let m = TextModel::train(&seg, &tiny(), &params).expect("train");
        assert_eq!(m.predict(&seg, "快递还没到").label, "logistics");
        assert!(!serde_json::to_string(&m).unwrap().contains("word_weight"));
    }

    #[test]
    fn confidences_are_probabilities() {
        let seg = Segmenter::new();
        let m = TextModel::train(&seg, &tiny(), &TrainParams::default()).expect("train");
        let p = m.predict(&seg, "快递还没到");
        let sum: f64 = p.ranking.iter().map(|(_, q)| q).sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert!(p.confidence > 0.5 && p.confidence < 1.0, "{p:?}");
    }

    /// Models written before the word block had its own norm (the shipped ones) have no
    /// `word_weight`: they load and normalise all features together, as they were trained.
    #[test]
    fn a_model_without_word_weight_normalises_all_features_together() {
        let seg = Segmenter::new();
        let m = TextModel::train(&seg, &tiny(), &TrainParams::default()).expect("train");
        let mut json = serde_json::to_value(&m).unwrap();
        json.as_object_mut().unwrap().remove("word_weight");
        let old: TextModel = serde_json::from_value(json).expect("old format loads");
        assert_eq!(old.word_weight, None);
        assert!(!old.vectorizes_like(&m));
        let v = old.vectorize_features(&features(&seg, "快递还没到", old.max_n));
        let norm: f32 = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        let v = m.vectorize_features(&features(&seg, "快递还没到", m.max_n));
        let words: f32 = v
            .iter()
            .filter(|(i, _)| {
                m.vocabulary
                    .iter()
                    .any(|(f, j)| j == i && f.starts_with("w:"))
            })
            .map(|(_, x)| x * x)
            .sum::<f32>()
            .sqrt();
        assert!((words - 0.5 / 1.25f32.sqrt()).abs() < 1e-5, "{words}");
    }
}
