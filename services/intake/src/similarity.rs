//! "Similar text" for duplicate detection: the Dice coefficient of character bigrams over letters and
//! digits, case- and width-folded (Dice rather than Jaccard: a customer repeating a complaint in other
//! words shares about half the bigrams, which Jaccard scores too low to tell from chance). Works for Chinese (no spaces between words) and English alike, and needs no model.

use std::collections::HashSet;

/// Character bigrams of the text's letters and digits, lower-cased, full-width folded to half-width.
pub fn shingles(text: &str) -> HashSet<(char, char)> {
    let chars: Vec<char> = text
        .chars()
        .map(fold_width)
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if chars.len() == 1 {
        return HashSet::from([(chars[0], '\0')]);
    }
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Dice similarity of two shingle sets in [0, 1], 0 when both are empty.
pub fn similarity(a: &HashSet<(char, char)>, b: &HashSet<(char, char)>) -> f32 {
    let total = a.len() + b.len();
    if total == 0 {
        return 0.0;
    }
    2.0 * a.intersection(b).count() as f32 / total as f32
}

/// Full-width ASCII (`ＡＢＣ１２３`) to half-width.
fn fold_width(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_repeats_score_high_and_other_texts_low() {
        let a = shingles("APP一直闪退，登录不了");
        let b = shingles("app 一直闪退 登录不了！！");
        let c = shingles("快递三天了还没到");
        assert!(similarity(&a, &b) > 0.9);
        assert!(similarity(&a, &c) < 0.1);
        assert_eq!(similarity(&shingles("ＡＰＰ"), &shingles("app")), 1.0);
    }
}
