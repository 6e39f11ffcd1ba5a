//! The standard baseline every trained model is measured against on the same split: TF-IDF over
//! character 1–3-grams (sublinear tf, smoothed idf, L2 norm) with a linear SVM, one-vs-rest, L2
//! regularisation, squared hinge loss, C = 1 and a bias feature — what scikit-learn's
//! `TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)` followed by `LinearSVC()`
//! computes. The SVM is solved in the dual by coordinate descent (Hsieh et al., "A Dual Coordinate
//! Descent Method for Large-scale Linear SVM", ICML 2008), the LIBLINEAR solver LinearSVC calls.
//!
//! Why written here and not taken from a crate: `linfa-svm` (the linfa family's SVM, which fits the
//! `linfa` 0.8 the model already uses) is a binary SMO solver over a dense sample matrix and a dense
//! n×n kernel matrix: text vectors here have tens of thousands of sparse character n-gram columns,
//! multi-class still needs a hand-written one-vs-rest around it, and SMO is the LIBSVM algorithm, not
//! the LIBLINEAR one the standard baseline names. The solver below is the paper's Algorithm 1 on
//! sparse vectors, about forty lines, with its stopping rule.

use std::collections::HashMap;

use crate::model::ModelError;
use crate::text::normalize;

/// Longest character n-gram of the baseline.
const MAX_N: usize = 3;
/// The SVM's C (LinearSVC's default).
const C: f64 = 1.0;
/// Stopping tolerance on the projected gradient's spread (LIBLINEAR's default for the dual solver).
const EPS: f64 = 0.1;
/// Outer iteration cap (LinearSVC's `max_iter`).
const MAX_ITER: usize = 1000;

type Sparse = Vec<(usize, f64)>;

/// A trained baseline.
pub struct Baseline {
    vocabulary: HashMap<String, usize>,
    idf: Vec<f64>,
    classes: Vec<String>,
    /// One weight vector per class; the last entry is the bias feature's weight.
    weights: Vec<Vec<f64>>,
}

/// Character 1–3-grams of the normalised text, inside runs of letters and digits.
fn grams(text: &str) -> Vec<String> {
    let normalized = normalize(text);
    let mut out = Vec::new();
    let mut run: Vec<char> = Vec::new();
    let mut flush = |run: &mut Vec<char>| {
        for n in 1..=MAX_N {
            for w in run.windows(n) {
                out.push(w.iter().collect());
            }
        }
        run.clear();
    };
    for c in normalized.chars() {
        if c.is_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run);
        }
    }
    flush(&mut run);
    out
}

impl Baseline {
    /// Learn from `(text, label)` pairs.
    pub fn train(examples: &[(String, String)]) -> Result<Self, ModelError> {
        if examples.is_empty() {
            return Err(ModelError::Empty);
        }
        let mut classes: Vec<String> = examples.iter().map(|(_, l)| l.clone()).collect();
        classes.sort();
        classes.dedup();
        if classes.len() < 2 {
            return Err(ModelError::OneClass(classes));
        }
        let docs: Vec<Vec<String>> = examples.iter().map(|(t, _)| grams(t)).collect();
        let mut vocabulary: HashMap<String, usize> = HashMap::new();
        let mut df: Vec<usize> = Vec::new();
        for d in &docs {
            let mut seen: Vec<&String> = d.iter().collect();
            seen.sort_unstable();
            seen.dedup();
            for g in seen {
                let next = vocabulary.len();
                let i = *vocabulary.entry(g.clone()).or_insert(next);
                if i == df.len() {
                    df.push(0);
                }
                df[i] += 1;
            }
        }
        let n = docs.len() as f64;
        let idf = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f64)).ln() + 1.0)
            .collect();
        let mut model = Baseline {
            vocabulary,
            idf,
            classes,
            weights: Vec::new(),
        };
        let xs: Vec<Sparse> = docs.iter().map(|d| model.vectorize(d)).collect();
        let dim = model.idf.len() + 1;
        model.weights = model
            .classes
            .iter()
            .map(|c| {
                let y: Vec<f64> = examples
                    .iter()
                    .map(|(_, l)| if l == c { 1.0 } else { -1.0 })
                    .collect();
                dual_cd(&xs, &y, dim, C)
            })
            .collect();
        Ok(model)
    }

    /// Sublinear tf × idf, L2-normalised, plus the bias feature (value 1, last column).
    fn vectorize(&self, grams: &[String]) -> Sparse {
        let mut counts: HashMap<usize, f64> = HashMap::new();
        for g in grams {
            if let Some(&i) = self.vocabulary.get(g) {
                *counts.entry(i).or_default() += 1.0;
            }
        }
        let mut v: Sparse = counts
            .into_iter()
            .map(|(i, c)| (i, (1.0 + c.ln()) * self.idf[i]))
            .collect();
        v.sort_by_key(|(i, _)| *i);
        let norm = v.iter().map(|(_, x)| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            for (_, x) in &mut v {
                *x /= norm;
            }
        }
        v.push((self.idf.len(), 1.0));
        v
    }

    /// The label with the highest decision value.
    pub fn predict(&self, text: &str) -> String {
        let x = self.vectorize(&grams(text));
        let mut best = (f64::NEG_INFINITY, 0);
        for (k, w) in self.weights.iter().enumerate() {
            let s: f64 = x.iter().map(|(i, v)| w[*i] * v).sum();
            if s > best.0 {
                best = (s, k);
            }
        }
        self.classes[best.1].clone()
    }
}

/// Dual coordinate descent for the L2-loss linear SVM (Hsieh et al. 2008, Algorithm 1, with
/// U = ∞ and D_ii = 1/(2C)); returns w = Σ α_i y_i x_i. Coordinates are visited in a fixed
/// pseudo-random order per pass (an LCG), so training is repeatable. The product's model
/// ([`crate::model`]) trains with the same solver.
pub(crate) fn dual_cd(xs: &[Sparse], y: &[f64], dim: usize, c: f64) -> Vec<f64> {
    let l = xs.len();
    let diag = 0.5 / c;
    let qd: Vec<f64> = xs
        .iter()
        .map(|x| x.iter().map(|(_, v)| v * v).sum::<f64>() + diag)
        .collect();
    let mut alpha = vec![0.0; l];
    let mut w = vec![0.0; dim];
    let mut order: Vec<usize> = (0..l).collect();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..MAX_ITER {
        for i in (1..l).rev() {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            order.swap(i, (seed >> 33) as usize % (i + 1));
        }
        let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
        for &i in &order {
            let x = &xs[i];
            let g = y[i] * x.iter().map(|(j, v)| w[*j] * v).sum::<f64>() - 1.0 + diag * alpha[i];
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            pg_max = pg_max.max(pg);
            pg_min = pg_min.min(pg);
            if pg.abs() > 1e-12 {
                let old = alpha[i];
                alpha[i] = (alpha[i] - g / qd[i]).max(0.0);
                let d = (alpha[i] - old) * y[i];
                for (j, v) in x {
                    w[*j] += d * v;
                }
            }
        }
        if pg_max - pg_min <= EPS {
            break;
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_a_tiny_label_set() {
        let ex: Vec<(String, String)> = [
            ("快递三天了还没到", "logistics"),
            ("物流一直不更新", "logistics"),
            ("包裹还在路上没送到", "logistics"),
            ("app闪退打不开", "tech"),
            ("登录不了一直报错", "tech"),
            ("页面打不开报错", "tech"),
            ("客服态度太差了", "service"),
            ("客服不理人态度差", "service"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let m = Baseline::train(&ex).expect("train");
        for (t, l) in &ex {
            assert_eq!(&m.predict(t), l, "{t}");
        }
        assert_eq!(m.predict("快递还没到"), "logistics");
        assert_eq!(m.predict("打不开报错"), "tech");
    }
}
