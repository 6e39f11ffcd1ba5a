//! Personal data: what never leaves intake in clear text, and how people are shown outside their ticket.
//!
//! National ID numbers (18 digits with an ISO 7064 MOD 11-2 check digit) and bank-card numbers (13–19
//! digits passing the Luhn check, optionally grouped by spaces or hyphens) are redacted from free text
//! before it is stored or published, so they can never reach a report. Chinese input methods type
//! full-width digits (`１１０１…`), spaces (U+3000) and hyphens (`－`) as readily as ASCII ones; both
//! widths, mixed, are found. Names, phones and e-mails are stored
//! in the ticket and shown masked everywhere else.

use std::sync::LazyLock;

use regex::Regex;

pub const NATIONAL_ID_MARK: &str = "[REDACTED:national_id]";
pub const BANK_CARD_MARK: &str = "[REDACTED:bank_card]";

/// A run of digits (either width) possibly grouped by single spaces or hyphens (either width), ending
/// in a digit or an ID's `X`.
static DIGIT_RUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9０-９](?:[0-9０-９]|[ \-\x{3000}－][0-9０-９])*[0-9０-９XxＸｘ]?")
        .expect("static regex is valid")
});

/// The spaces that may group digits.
fn is_space(c: char) -> bool {
    c == ' ' || c == '\u{3000}'
}

/// What [`redact_text`] removed, for the timeline and for tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Redactions {
    pub national_ids: usize,
    pub bank_cards: usize,
}

impl Redactions {
    pub fn any(&self) -> bool {
        self.national_ids + self.bank_cards > 0
    }
}

/// Returns `text` with national ID and bank-card numbers replaced by marks.
pub fn redact_text(text: &str) -> (String, Redactions) {
    let mut found = Redactions::default();
    let mut mark = |part: &str| match classify(part) {
        Some(Sensitive::NationalId) => {
            found.national_ids += 1;
            NATIONAL_ID_MARK.to_string()
        }
        Some(Sensitive::BankCard) => {
            found.bank_cards += 1;
            BANK_CARD_MARK.to_string()
        }
        None => part.to_string(),
    };
    let out = DIGIT_RUN.replace_all(text, |caps: &regex::Captures<'_>| {
        let run = &caps[0];
        if classify(run).is_some() || !run.contains(is_space) {
            return mark(run);
        }
        // The whole run is not one number; its space-separated parts may still be.
        let mut out = String::with_capacity(run.len());
        let mut start = 0;
        for (i, c) in run.char_indices().filter(|(_, c)| is_space(*c)) {
            out.push_str(&mark(&run[start..i]));
            out.push(c);
            start = i + c.len_utf8();
        }
        out.push_str(&mark(&run[start..]));
        out
    });
    (out.into_owned(), found)
}

enum Sensitive {
    NationalId,
    BankCard,
}

fn classify(run: &str) -> Option<Sensitive> {
    let compact: String = run
        .chars()
        .filter_map(|c| match c {
            ' ' | '-' | '\u{3000}' | '－' => None,
            '０'..='９' => char::from_digit(c as u32 - '０' as u32, 10),
            'Ｘ' | 'ｘ' => Some('X'),
            c => Some(c),
        })
        .collect();
    if compact.len() == 18 && is_national_id(&compact) {
        return Some(Sensitive::NationalId);
    }
    if (13..=19).contains(&compact.len())
        && compact.bytes().all(|b| b.is_ascii_digit())
        && luhn_valid(&compact)
    {
        return Some(Sensitive::BankCard);
    }
    None
}

/// GB 11643-1999: 17 digits and a check character from ISO 7064 MOD 11-2.
pub fn is_national_id(s: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [u8; 11] = *b"10X98765432";
    let bytes = s.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] == bytes[17].to_ascii_uppercase()
}

pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// `13812345678` → `*******5678`: only the last four digits stay visible.
pub fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let keep = digits.len().min(4);
    let hidden = digits.len() - keep;
    let mut out = "*".repeat(hidden.max(1));
    out.extend(&digits[hidden..]);
    out
}

/// Two-character surnames common enough to matter; everything else is the first character.
const COMPOUND_SURNAMES: [&str; 12] = [
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "夏侯",
];

/// `张三` → `张先生/女士`; `John Smith` → `J***`: enough to greet, not enough to identify.
pub fn mask_name(name: &str) -> String {
    let name = name.trim();
    let Some(first) = name.chars().next() else {
        return String::new();
    };
    if is_cjk(first) {
        let surname = COMPOUND_SURNAMES
            .iter()
            .find(|s| name.starts_with(*s) && name.chars().count() > 2)
            .map(|s| s.to_string())
            .unwrap_or_else(|| first.to_string());
        format!("{surname}先生/女士")
    } else {
        format!("{first}***")
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_id_with_valid_check_digit_is_redacted() {
        // 11010519491231002X is the standard's published example.
        let (out, r) = redact_text("我的身份证号是11010519491231002X，请核实");
        assert_eq!(out, format!("我的身份证号是{NATIONAL_ID_MARK}，请核实"));
        assert_eq!(r.national_ids, 1);
    }

    #[test]
    fn eighteen_digits_with_wrong_check_digit_stay() {
        let (out, r) = redact_text("编号110105194912310021");
        assert_eq!(out, "编号110105194912310021");
        assert!(!r.any());
    }

    #[test]
    fn bank_cards_plain_and_grouped_are_redacted() {
        let (out, r) = redact_text("card 4111 1111 1111 1111 and 6222021234567890128 ok");
        assert_eq!(
            out,
            format!("card {BANK_CARD_MARK} and {BANK_CARD_MARK} ok")
        );
        assert_eq!(r.bank_cards, 2);
        let (out, _) = redact_text("卡号4111-1111-1111-1111。");
        assert_eq!(out, format!("卡号{BANK_CARD_MARK}。"));
    }

    #[test]
    fn full_width_and_mixed_width_numbers_are_redacted() {
        let (out, r) = redact_text("身份证１１０１０５１９４９１２３１００２Ｘ，卡号６２２２　０２１２　３４５６　７８９０　１２８");
        assert_eq!(
            out,
            format!("身份证{NATIONAL_ID_MARK}，卡号{BANK_CARD_MARK}")
        );
        assert_eq!((r.national_ids, r.bank_cards), (1, 1));
        let (out, _) = redact_text("卡4111－1111-1111－１１１１。");
        assert_eq!(out, format!("卡{BANK_CARD_MARK}。"));
        // Full-width ordinary numbers stay as typed.
        let text = "订单号２０２３１０２７００１，电话１３８１２３４５６７８";
        assert_eq!(redact_text(text).0, text);
        // Parts of a longer grouped run keep their own separators.
        let (out, _) = redact_text("号 12　4111111111111111 34");
        assert_eq!(out, format!("号 12　{BANK_CARD_MARK} 34"));
    }

    #[test]
    fn ordinary_numbers_stay() {
        let text = "订单20231027001，电话13812345678，金额 1999 元，2023 10 27";
        assert_eq!(redact_text(text).0, text);
        // Luhn-invalid 16 digits.
        assert_eq!(redact_text("4111111111111112").0, "4111111111111112");
    }

    #[test]
    fn masking() {
        assert_eq!(mask_phone("+86 138-1234-5678"), "*********5678");
        assert_eq!(mask_phone("13812345678"), "*******5678");
        assert_eq!(mask_name("张三"), "张先生/女士");
        assert_eq!(mask_name("欧阳娜娜"), "欧阳先生/女士");
        assert_eq!(mask_name("John Smith"), "J***");
    }
}
