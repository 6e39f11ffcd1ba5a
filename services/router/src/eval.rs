//! Classification quality: accuracy, per-class precision / recall / F1 and macro-F1, and
//! stratified k-fold cross-validation so figures are always measured on texts the model
//! did not train on.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

/// Figures for one class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassReport {
    pub class: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// How many true examples of the class were evaluated.
    pub support: usize,
}

/// Figures for a whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub n: usize,
    pub classes: Vec<ClassReport>,
}

/// Score `(truth, predicted)` pairs. Macro-F1 averages over every class that occurs in the
/// truth or the predictions, so a class never predicted counts as F1 = 0.
pub fn score(pairs: &[(String, String)]) -> Report {
    let classes: BTreeSet<&str> = pairs
        .iter()
        .flat_map(|(t, p)| [t.as_str(), p.as_str()])
        .collect();
    let mut tp: BTreeMap<&str, usize> = BTreeMap::new();
    let mut fp: BTreeMap<&str, usize> = BTreeMap::new();
    let mut fneg: BTreeMap<&str, usize> = BTreeMap::new();
    let mut correct = 0;
    for (t, p) in pairs {
        if t == p {
            correct += 1;
            *tp.entry(t).or_default() += 1;
        } else {
            *fp.entry(p).or_default() += 1;
            *fneg.entry(t).or_default() += 1;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let reports: Vec<ClassReport> = classes
        .iter()
        .map(|c| {
            let tp_ = tp.get(c).copied().unwrap_or(0);
            let fp_ = fp.get(c).copied().unwrap_or(0);
            let fn_ = fneg.get(c).copied().unwrap_or(0);
            let precision = ratio(tp_, tp_ + fp_);
            let recall = ratio(tp_, tp_ + fn_);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            ClassReport {
                class: c.to_string(),
                precision,
                recall,
                f1,
                support: tp_ + fn_,
            }
        })
        .collect();
    let macro_f1 = if reports.is_empty() {
        0.0
    } else {
        reports.iter().map(|r| r.f1).sum::<f64>() / reports.len() as f64
    };
    Report {
        accuracy: ratio(correct, pairs.len()),
        macro_f1,
        n: pairs.len(),
        classes: reports,
    }
}

impl Report {
    /// `name=value` lines: accuracy, macro_f1, then one line per class.
    pub fn to_lines(&self, prefix: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{prefix}n={}", self.n);
        let _ = writeln!(s, "{prefix}accuracy={:.4}", self.accuracy);
        let _ = writeln!(s, "{prefix}macro_f1={:.4}", self.macro_f1);
        for c in &self.classes {
            let _ = writeln!(
                s,
                "{prefix}class={} precision={:.4} recall={:.4} f1={:.4} support={}",
                c.class, c.precision, c.recall, c.f1, c.support
            );
        }
        s
    }
}

/// Assign each example to one of `k` folds, stratified by label: within a label, examples
/// are ordered by a hash of their text (a fixed pseudo-shuffle, so runs are repeatable)
/// and dealt round-robin.
pub fn stratified_folds(labels: &[String], texts: &[String], k: usize) -> Vec<usize> {
    stratified_folds_seeded(labels, texts, k, 0)
}

/// [`stratified_folds`] with another fixed pseudo-shuffle per `seed` (0 is [`stratified_folds`]'s):
/// repeated cross-validation, for figures that do not hang on one partition of a small data set.
pub fn stratified_folds_seeded(
    labels: &[String],
    texts: &[String],
    k: usize,
    seed: u64,
) -> Vec<usize> {
    let k = k.max(2);
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        by_label.entry(l).or_default().push(i);
    }
    let mut fold = vec![0; labels.len()];
    let mut offset = 0;
    for idx in by_label.values_mut() {
        idx.sort_by_key(|&i| (fnv1a(seed, &texts[i]), i));
        for (pos, &i) in idx.iter().enumerate() {
            fold[i] = (pos + offset) % k;
        }
        // Rotate the start so small classes do not all pile into fold 0.
        offset += idx.len();
    }
    fold
}

/// FNV-1a: a tiny stable hash (std's hasher is randomly seeded per process). A non-zero seed is
/// hashed before the text, so every byte of the text mixes with it.
fn fnv1a(seed: u64, s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let seed_bytes = seed.to_le_bytes();
    let prefix: &[u8] = if seed == 0 { &[] } else { &seed_bytes };
    for &b in prefix.iter().chain(s.as_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn macro_f1_matches_hand_computation() {
        // a: tp=1 fn=1 fp=0 → P=1 R=.5 F1=.667; b: tp=1 fp=1 → P=.5 R=1 F1=.667
        let r = score(&[p("a", "a"), p("a", "b"), p("b", "b")]);
        assert!((r.accuracy - 2.0 / 3.0).abs() < 1e-9);
        assert!((r.macro_f1 - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn folds_are_stratified() {
        let labels: Vec<String> = (0..20)
            .map(|i| if i < 10 { "x" } else { "y" }.into())
            .collect();
        let texts: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        let f = stratified_folds(&labels, &texts, 5);
        for k in 0..5 {
            let xs = (0..10).filter(|&i| f[i] == k).count();
            assert_eq!(xs, 2);
        }
    }
}
