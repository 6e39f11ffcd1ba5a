//! Text normalisation, word segmentation and n-gram features.
//!
//! Customer feedback arrives in Chinese (simplified and traditional), English, or a mix,
//! typed on phones with full-width punctuation and digits. Everything the router decides
//! starts from one normalised form so that rules, the model and the training data agree:
//! NFKC (full-width → half-width), lower case, traditional → simplified, collapsed spaces.
//! Words come from jieba (Chinese) which also keeps ASCII words whole, so "app" is a word
//! and never matches inside "apple".

use std::collections::BTreeSet;

use aho_corasick::AhoCorasick;
use jieba_rs::Jieba;
use unicode_normalization::UnicodeNormalization;

/// Normalise a text: NFKC folds full-width letters/digits/punctuation to their
/// half-width forms, `fast2s` maps traditional to simplified characters (a cheap
/// character table, good enough for feedback text), ASCII is lower-cased and runs of
/// white space collapse to one space.
pub fn normalize(input: &str) -> String {
    let nfkc: String = input.nfkc().collect();
    let simplified = fast2s::convert(&nfkc);
    let mut out = String::with_capacity(simplified.len());
    let mut last_space = true;
    for c in simplified.chars() {
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
            continue;
        }
        last_space = false;
        for l in c.to_lowercase() {
            out.push(l);
        }
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// True for characters that carry meaning (letters, CJK ideographs, digits); punctuation,
/// symbols and spaces only separate words.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// A word segmenter: jieba with its default dictionary plus domain words.
///
/// Held once per process (loading the dictionary costs ~100 ms) and shared by reference.
pub struct Segmenter {
    jieba: Jieba,
}

impl Default for Segmenter {
    fn default() -> Self {
        Self::new()
    }
}

impl Segmenter {
    /// A segmenter with jieba's default dictionary.
    pub fn new() -> Self {
        Self {
            jieba: Jieba::new(),
        }
    }

    /// Teach the segmenter domain words (rule phrases, product names) so they come out as
    /// one token instead of being split by the general dictionary.
    pub fn add_words<'a>(&mut self, words: impl IntoIterator<Item = &'a str>) {
        for w in words {
            let w = normalize(w);
            // Only single-token candidates: a phrase with spaces is several English words.
            if !w.is_empty() && !w.contains(' ') && w.chars().count() > 1 {
                let freq = self.jieba.suggest_freq(&w).max(1000);
                self.jieba.add_word(&w, Some(freq), None);
            }
        }
    }

    /// Words of an already normalised text, with byte offsets into it; separators dropped.
    pub fn words<'a>(&self, normalized: &'a str) -> Vec<Word<'a>> {
        self.jieba
            .tokenize(normalized, jieba_rs::TokenizeMode::Default, true)
            .into_iter()
            .filter(|t| t.word.chars().any(is_word_char))
            .map(|t| Word {
                text: t.word,
                start: t.byte_start,
                end: t.byte_end,
            })
            .collect()
    }
}

/// One word of a normalised text and where it sits (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Word<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

/// A normalised text with its word boundaries, the unit rules match against.
pub struct Analyzed {
    pub normalized: String,
    /// Byte offsets where a word starts.
    starts: BTreeSet<usize>,
    /// Byte offsets where a word ends.
    ends: BTreeSet<usize>,
    /// The words themselves, in order.
    pub words: Vec<String>,
}

impl Analyzed {
    /// Normalise and segment `text`.
    pub fn new(segmenter: &Segmenter, text: &str) -> Self {
        let normalized = normalize(text);
        let words = segmenter.words(&normalized);
        let starts = words.iter().map(|w| w.start).collect();
        let ends = words.iter().map(|w| w.end).collect();
        let words = words.iter().map(|w| w.text.to_string()).collect();
        Self {
            normalized,
            starts,
            ends,
            words,
        }
    }

    /// One phrase searched on its own: the plain reference the one-pass [`Analyzed::phrase_hits`]
    /// is tested against (the router itself only uses the one pass).
    #[cfg(test)]
    pub fn contains_phrase(&self, phrase: &str) -> bool {
        if phrase.is_empty() {
            return false;
        }
        self.normalized
            .match_indices(phrase)
            .any(|(i, m)| self.is_words(i, i + m.len()))
    }

    /// Which of the automaton's (already normalised) phrases occur as whole words, indexed by
    /// pattern id, in one pass over the text. Whole words: starting where a word starts and ending
    /// where a word ends, so "退款" matches "我要退款" but "app" does not match "apple", and "单"
    /// does not match inside "订单".
    pub fn phrase_hits(&self, phrases: &AhoCorasick) -> Vec<bool> {
        let mut hits = vec![false; phrases.patterns_len()];
        for m in phrases.find_overlapping_iter(&self.normalized) {
            if self.is_words(m.start(), m.end()) {
                hits[m.pattern().as_usize()] = true;
            }
        }
        hits
    }

    /// Does the byte span start where a word starts and end where a word ends?
    fn is_words(&self, start: usize, end: usize) -> bool {
        self.starts.contains(&start) && self.ends.contains(&end)
    }
}

/// A text's features for the statistical model: character 1..=`max_n`-grams inside each run
/// of word characters (the standard baseline for short Chinese texts) plus jieba words
/// prefixed with `w:` so that whole words weigh in as well.
///
/// Kept as spans of one buffer (the normalised text, then the prefixed words) rather than a
/// string per feature: a ticket has a hundred or more, and allocating each one was a visible
/// part of the router's CPU.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Features {
    buffer: String,
    spans: Vec<(usize, usize)>,
}

impl Features {
    /// The features in order: each run's n-grams (shortest first), then the words.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        self.spans.iter().map(|&(a, b)| &self.buffer[a..b])
    }
}

/// Extracts a text's [`Features`] for a model trained with `max_n`.
pub fn features(segmenter: &Segmenter, text: &str, max_n: usize) -> Features {
    let normalized = normalize(text);
    let mut spans = Vec::new();
    // Byte bounds of each character of the current run of word characters.
    let mut run: Vec<(usize, usize)> = Vec::new();
    let flush = |run: &mut Vec<(usize, usize)>, spans: &mut Vec<(usize, usize)>| {
        for n in 1..=max_n {
            if run.len() < n {
                break;
            }
            spans.extend(run.windows(n).map(|w| (w[0].0, w[n - 1].1)));
        }
        run.clear();
    };
    for (at, c) in normalized.char_indices() {
        if is_word_char(c) {
            run.push((at, at + c.len_utf8()));
        } else {
            flush(&mut run, &mut spans);
        }
    }
    flush(&mut run, &mut spans);
    // The n-gram spans index the normalised text, which the buffer starts with.
    let mut buffer = String::with_capacity(normalized.len() * 2);
    buffer.push_str(&normalized);
    for w in segmenter.words(&normalized) {
        let start = buffer.len();
        buffer.push_str("w:");
        buffer.push_str(w.text);
        spans.push((start, buffer.len()));
    }
    Features { buffer, spans }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_traditional_fold() {
        assert_eq!(normalize("ＡＰＰ閃退！　登錄不了"), "app闪退! 登录不了");
        assert_eq!(normalize("  Can't   LOG in "), "can't log in");
    }

    #[test]
    fn phrases_match_whole_words_only() {
        let seg = Segmenter::new();
        let a = Analyzed::new(&seg, "I bought an Apple watch");
        assert!(!a.contains_phrase("app"));
        assert!(a.contains_phrase("apple"));
        let b = Analyzed::new(&seg, "APP一直闪退，登录不了");
        assert!(b.contains_phrase("app"));
        assert!(b.contains_phrase("闪退"));
    }

    #[test]
    fn one_pass_finds_the_phrases_contains_phrase_finds() {
        let seg = Segmenter::new();
        let phrases = ["app", "apple", "闪退", "登录不了", "单", "watch"];
        let automaton = AhoCorasick::new(phrases).expect("automaton");
        for text in [
            "I bought an Apple watch",
            "APP一直闪退，登录不了",
            "订单 app",
        ] {
            let a = Analyzed::new(&seg, text);
            let hits = a.phrase_hits(&automaton);
            for (i, p) in phrases.iter().enumerate() {
                assert_eq!(hits[i], a.contains_phrase(p), "{p:?} in {text:?}");
            }
        }
    }

    #[test]
    fn features_have_char_ngrams_and_words() {
        let seg = Segmenter::new();
        let f = features(&seg, "退款慢 app", 3);
        let f: Vec<&str> = f.iter().collect();
        assert_eq!(
            f,
            [
                "退",
                "款",
                "慢",
                "退款",
                "款慢",
                "退款慢",
                "a",
                "p",
                "p",
                "ap",
                "pp",
                "app",
                "w:退款",
                "w:慢",
                "w:app"
            ]
        );
    }
}
