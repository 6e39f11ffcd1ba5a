//! The statistical classifier: TF-IDF over character 1–3-grams and jieba words, fed to a
//! multinomial logistic regression trained by `linfa-logistic` (L-BFGS from `argmin`).
//!
//! Why this model: for short Chinese texts, TF-IDF over character n-grams with a linear
//! model is the standard baseline (it beats naive Bayes over words by a wide margin), and
//! logistic regression gives calibrated probabilities that the router uses as confidences
//! for the "needs review" decision. `linfa-logistic` trains on dense `ndarray` matrices,
//! so the vocabulary is capped (`max_features`) to keep training memory bounded
//! (rows × features × 8 bytes); prediction uses the sparse features directly.
//!
//! The trained model is plain JSON (vocabulary, idf, weights, classes) so a business can
//! train it from its own history with its own label set and ship the file.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::path::Path;

use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

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

/// Knobs for training; defaults were chosen by cross-validation on the bundled data set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainParams {
    /// Longest character n-gram.
    pub max_n: usize,
    /// A feature must occur in at least this many training texts.
    pub min_df: usize,
    /// Keep at most this many features (most frequent first) to bound training memory.
    pub max_features: usize,
    /// L2 regularisation strength.
    pub alpha: f64,
    /// L-BFGS iteration cap.
    pub max_iterations: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            max_n: 3,
            min_df: 1,
            max_features: 30_000,
            alpha: 0.1,
            max_iterations: 200,
        }
    }
}

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
        };
        let n_features = model.idf.len();
        let mut x = Array2::<f64>::zeros((docs.len(), n_features));
        for (row, d) in docs.iter().enumerate() {
            for (col, v) in model.vectorize_features(d) {
                x[[row, col]] = f64::from(v);
            }
        }
        let y: Array1<usize> = examples
            .iter()
            .map(|(_, l)| model.classes.iter().position(|c| c == l).unwrap_or(0))
            .collect();
        let dataset = Dataset::new(x, y);
        let fitted = MultiLogisticRegression::default()
            .alpha(params.alpha)
            .max_iterations(params.max_iterations)
            .fit(&dataset)
            .map_err(|e| ModelError::Training(e.to_string()))?;
        // `fitted.classes()` are the sorted distinct targets, i.e. our indices in order.
        let fitted_classes = fitted.classes().to_vec();
        let n_classes = model.classes.len();
        let mut weights = vec![0f32; n_features * n_classes];
        let mut intercept = vec![0f32; n_classes];
        for (j, &class_idx) in fitted_classes.iter().enumerate() {
            intercept[class_idx] = fitted.intercept()[j] as f32;
            for f in 0..n_features {
                weights[f * n_classes + class_idx] = fitted.params()[[f, j]] as f32;
            }
        }
        model.weights = weights;
        model.intercept = intercept;
        Ok(model)
    }

    /// Whether `other` turns every text into the same vector as this model (same n-grams,
    /// vocabulary and idf), as models trained on the same texts do: one vector then serves both.
    pub fn vectorizes_like(&self, other: &TextModel) -> bool {
        self.max_n == other.max_n && self.idf == other.idf && self.vocabulary == other.vocabulary
    }

    /// TF-IDF vector of already extracted features: sublinear tf, idf, L2 norm.
    pub fn vectorize_features(&self, feats: &Features) -> SparseVec {
        // Known features' columns, sorted, so equal columns are neighbours to count and the norm
        // is summed in a fixed order: the same text always gets the same vector, bit for bit.
        let mut columns: Vec<usize> = feats
            .iter()
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
                *x /= norm;
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
}
