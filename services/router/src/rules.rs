//! The rule set (`rules.toml`): data, not code. Each rule names phrases (matched as whole
//! words after normalisation), optional channel / customer-type / IVR-keypress / field
//! conditions, a weight, and the labels and tags it sets. Rules win over the model where
//! they fire; several rules for the same label combine as a noisy-or of their weights.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};

use crate::labels::{Dimension, LabelSets};
use crate::text::{normalize, Analyzed};
use crate::ConfigError;

/// One rule as written in `rules.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, quoted in reasons and on the timeline.
    pub id: String,
    #[serde(default)]
    pub description: String,
    /// Fires if any of these phrases occurs (when the list is not empty).
    #[serde(default)]
    pub any: Vec<String>,
    /// Every one of these phrases must occur.
    #[serde(default)]
    pub all: Vec<String>,
    /// None of these may occur (negations such as "没有闪退").
    #[serde(default)]
    pub none: Vec<String>,
    /// Only on these channels (any channel when empty).
    #[serde(default)]
    pub channels: Vec<String>,
    /// Only for these customer types, e.g. `new` / `returning`.
    #[serde(default)]
    pub customer_types: Vec<String>,
    /// IVR keypress sequences this rule gives meaning to (exact match).
    #[serde(default)]
    pub ivr_keys: Vec<String>,
    /// Ticket fields that must be filled in (e.g. `order_number`).
    #[serde(default)]
    pub fields_present: Vec<String>,
    /// Ticket fields that must be empty.
    #[serde(default)]
    pub fields_absent: Vec<String>,
    /// How strongly the rule believes its labels, 0 < weight ≤ 1.
    pub weight: f64,
    pub category: Option<String>,
    pub priority: Option<String>,
    pub feedback_type: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    rule: Vec<Rule>,
}

/// What the router knows about a ticket besides its text; rule conditions read these.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TicketFacts {
    pub text: String,
    pub channel: Option<String>,
    pub customer_type: Option<String>,
    /// IVR keypresses, e.g. "8" or "81".
    pub ivr_keys: Option<String>,
    /// Names of ticket fields that are filled in (e.g. `order_number`).
    #[serde(default)]
    pub fields_present: BTreeSet<String>,
}

/// A rule that fired, with what made it fire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Firing {
    pub rule: String,
    pub description: String,
    pub weight: f64,
    /// Phrases and conditions that matched, for the reasons shown to people.
    pub matched: Vec<String>,
}

/// Combined rule opinion on one dimension: label → noisy-or score, and which rules said so.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Votes {
    pub scores: BTreeMap<String, f64>,
    pub rules: BTreeMap<String, Vec<String>>,
}

impl Votes {
    fn add(&mut self, label: &str, weight: f64, rule: &str) {
        let s = self.scores.entry(label.to_string()).or_insert(0.0);
        *s = 1.0 - (1.0 - *s) * (1.0 - weight);
        self.rules
            .entry(label.to_string())
            .or_default()
            .push(rule.to_string());
    }
}

/// Everything the rules said about a ticket.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleOutcome {
    pub firings: Vec<Firing>,
    pub category: Votes,
    pub priority: Votes,
    pub feedback_type: Votes,
    pub tags: Votes,
}

impl RuleOutcome {
    pub fn votes(&self, d: Dimension) -> &Votes {
        match d {
            Dimension::Category => &self.category,
            Dimension::Priority => &self.priority,
            Dimension::FeedbackType => &self.feedback_type,
        }
    }
}

/// A validated rule set with phrases normalised once.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Every distinct phrase in one automaton: a ticket's text is scanned once for all of them,
    /// where a search per phrase would build a fresh searcher for each.
    phrases: AhoCorasick,
    /// Per rule, in the same order as `rules`: its phrases as pattern ids of `phrases`.
    ids: Vec<RulePhraseIds>,
}

/// A rule's `any`, `all` and `none` phrases as pattern ids, position for position.
#[derive(Debug, Clone)]
struct RulePhraseIds {
    any: Vec<usize>,
    all: Vec<usize>,
    none: Vec<usize>,
}

impl RuleSet {
    /// Parse and check `rules.toml` against the label sets. Any error refuses the whole
    /// file, so a half-valid rule set never goes live.
    pub fn from_toml(path: &Path, text: &str, labels: &LabelSets) -> Result<Self, ConfigError> {
        let file: RuleFile = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        // An empty file is valid TOML, and is what a watcher sees mid-way through a non-atomic
        // write: refuse it rather than silently dropping every rule.
        if file.rule.is_empty() {
            return Err(ConfigError::invalid(
                path,
                "has no rules (empty or half-written file?)".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut rules = Vec::with_capacity(file.rule.len());
        for mut r in file.rule {
            let bad = |m: String| ConfigError::invalid(path, format!("rule `{}`: {m}", r.id));
            if r.id.trim().is_empty() {
                return Err(ConfigError::invalid(path, "a rule has an empty id".into()));
            }
            if !seen.insert(r.id.clone()) {
                return Err(bad("duplicate rule id".into()));
            }
            if !(r.weight > 0.0 && r.weight <= 1.0) {
                return Err(bad(format!("weight {} is not in (0, 1]", r.weight)));
            }
            let has_condition = !r.any.is_empty()
                || !r.all.is_empty()
                || !r.ivr_keys.is_empty()
                || !r.channels.is_empty()
                || !r.customer_types.is_empty()
                || !r.fields_present.is_empty();
            if !has_condition {
                return Err(bad("has no condition and would fire on every ticket".into()));
            }
            if r.category.is_none()
                && r.priority.is_none()
                && r.feedback_type.is_none()
                && r.tags.is_empty()
            {
                return Err(bad("sets no label and no tag".into()));
            }
            for (d, v) in [
                (Dimension::Category, &r.category),
                (Dimension::Priority, &r.priority),
                (Dimension::FeedbackType, &r.feedback_type),
            ] {
                if let Some(code) = v {
                    if !labels.has(d, code) {
                        return Err(bad(format!("unknown {} `{code}`", d.key())));
                    }
                }
            }
            for t in &r.tags {
                if !labels.has_tag(t) {
                    return Err(bad(format!("unknown tag `{t}`")));
                }
            }
            for list in [&mut r.any, &mut r.all, &mut r.none] {
                for p in list.iter_mut() {
                    *p = normalize(p);
                    if p.is_empty() {
                        return Err(ConfigError::invalid(
                            path,
                            format!("rule `{}`: empty phrase", r.id),
                        ));
                    }
                }
            }
            rules.push(r);
        }
        let mut distinct: Vec<String> = Vec::new();
        let mut id_of: HashMap<String, usize> = HashMap::new();
        let mut ids = Vec::with_capacity(rules.len());
        for r in &rules {
            let mut lookup = |list: &[String]| -> Vec<usize> {
                list.iter()
                    .map(|p| {
                        *id_of.entry(p.clone()).or_insert_with(|| {
                            distinct.push(p.clone());
                            distinct.len() - 1
                        })
                    })
                    .collect()
            };
            ids.push(RulePhraseIds {
                any: lookup(&r.any),
                all: lookup(&r.all),
                none: lookup(&r.none),
            });
        }
        let phrases = AhoCorasick::new(&distinct)
            .map_err(|e| ConfigError::invalid(path, format!("phrases cannot be indexed: {e}")))?;
        Ok(Self {
            rules,
            phrases,
            ids,
        })
    }

    /// Every phrase the rules use, to teach the segmenter these words.
    pub fn phrases(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .flat_map(|r| r.any.iter().chain(&r.all).chain(&r.none))
            .map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Run every rule on a ticket.
    pub fn evaluate(&self, facts: &TicketFacts, text: &Analyzed) -> RuleOutcome {
        let mut out = RuleOutcome::default();
        let hits = text.phrase_hits(&self.phrases);
        for (r, ids) in self.rules.iter().zip(&self.ids) {
            let Some(matched) = fires(r, ids, facts, &hits) else {
                continue;
            };
            if let Some(c) = &r.category {
                out.category.add(c, r.weight, &r.id);
            }
            if let Some(p) = &r.priority {
                out.priority.add(p, r.weight, &r.id);
            }
            if let Some(f) = &r.feedback_type {
                out.feedback_type.add(f, r.weight, &r.id);
            }
            for t in &r.tags {
                out.tags.add(t, r.weight, &r.id);
            }
            out.firings.push(Firing {
                rule: r.id.clone(),
                description: r.description.clone(),
                weight: r.weight,
                matched,
            });
        }
        out
    }
}

/// Does rule `r` fire? `hits` says which phrases (by pattern id) the text contains as whole words.
/// Returns what matched.
fn fires(r: &Rule, ids: &RulePhraseIds, facts: &TicketFacts, hits: &[bool]) -> Option<Vec<String>> {
    let mut matched = Vec::new();
    if !r.channels.is_empty() {
        let ch = facts.channel.as_deref()?;
        if !r.channels.iter().any(|c| c == ch) {
            return None;
        }
        matched.push(format!("channel={ch}"));
    }
    if !r.customer_types.is_empty() {
        let ct = facts.customer_type.as_deref()?;
        if !r.customer_types.iter().any(|c| c == ct) {
            return None;
        }
        matched.push(format!("customer_type={ct}"));
    }
    if !r.ivr_keys.is_empty() {
        let keys = facts.ivr_keys.as_deref()?.trim();
        if !r.ivr_keys.iter().any(|k| k == keys) {
            return None;
        }
        matched.push(format!("ivr_keys={keys}"));
    }
    for f in &r.fields_present {
        if !facts.fields_present.contains(f) {
            return None;
        }
        matched.push(format!("{f} present"));
    }
    for f in &r.fields_absent {
        if facts.fields_present.contains(f) {
            return None;
        }
    }
    if ids.none.iter().any(|&id| hits[id]) {
        return None;
    }
    for (p, &id) in r.all.iter().zip(&ids.all) {
        if !hits[id] {
            return None;
        }
        matched.push(format!("\"{p}\""));
    }
    if !r.any.is_empty() {
        let found: Vec<&String> = r
            .any
            .iter()
            .zip(&ids.any)
            .filter(|(_, &id)| hits[id])
            .map(|(p, _)| p)
            .collect();
        if found.is_empty() {
            return None;
        }
        matched.extend(found.into_iter().map(|p| format!("\"{p}\"")));
    }
    Some(matched)
}
