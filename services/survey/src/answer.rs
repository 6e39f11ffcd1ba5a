//! Turning what each channel delivers (app fields, an SMS reply, IVR keypresses, the page's form) into one
//! normalised answer, or a machine-readable refusal.

use shared::messages::survey::{AnswerRefusal, ChannelAnswer, Satisfaction};

/// An answer every channel agrees on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub satisfaction: Satisfaction,
    pub score: Option<i32>,
    pub nps: Option<i32>,
    pub comment: Option<String>,
}

/// A refusal with its human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: AnswerRefusal,
    pub message: String,
}

impl Refusal {
    pub fn new(reason: AnswerRefusal, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// Range and length checks shared by every channel.
pub fn check(answer: Answer, max_comment_chars: usize) -> Result<Answer, Refusal> {
    if let Some(score) = answer.score {
        if !(1..=5).contains(&score) {
            return Err(Refusal::new(
                AnswerRefusal::OutOfRange,
                format!("score {score} is outside 1–5"),
            ));
        }
    }
    if let Some(nps) = answer.nps {
        if !(0..=10).contains(&nps) {
            return Err(Refusal::new(
                AnswerRefusal::OutOfRange,
                format!("nps {nps} is outside 0–10"),
            ));
        }
    }
    let comment = answer
        .comment
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if let Some(c) = &comment {
        let n = c.chars().count();
        if n > max_comment_chars {
            return Err(Refusal::new(
                AnswerRefusal::CommentTooLong,
                format!("comment has {n} characters, at most {max_comment_chars} are kept"),
            ));
        }
    }
    Ok(Answer { comment, ..answer })
}

/// Parses one channel's answer (without the range checks of [`check`]).
pub fn parse(answer: &ChannelAnswer) -> Result<Answer, Refusal> {
    match answer {
        ChannelAnswer::App {
            satisfaction,
            score,
            nps,
            comment,
        } => Ok(Answer {
            satisfaction: *satisfaction,
            score: *score,
            nps: *nps,
            comment: comment.clone(),
        }),
        ChannelAnswer::Sms { text, .. } => parse_sms(text),
        ChannelAnswer::Ivr {
            keypresses,
            speech_text,
            ..
        } => parse_keys(keypresses, speech_text.as_deref()),
    }
}

/// Full-width digits (`１２３`, as Chinese input methods type them) read as ASCII.
fn ascii_digit(c: char) -> char {
    match c {
        '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
        _ => c,
    }
}

/// `1`/`2`/`3` or 满意/基本满意/不满意 (also `satisfied`-style English words), then an optional comment.
pub fn parse_sms(text: &str) -> Result<Answer, Refusal> {
    let text = text.trim();
    let malformed = || {
        Refusal::new(
            AnswerRefusal::MalformedAnswer,
            "reply 1 (satisfied/满意), 2 (basically satisfied/基本满意) or 3 (unsatisfied/不满意)",
        )
    };
    let words: [(&str, Satisfaction); 6] = [
        ("基本满意", Satisfaction::BasicallySatisfied),
        ("不满意", Satisfaction::Unsatisfied),
        ("满意", Satisfaction::Satisfied),
        ("basically satisfied", Satisfaction::BasicallySatisfied),
        ("unsatisfied", Satisfaction::Unsatisfied),
        ("satisfied", Satisfaction::Satisfied),
    ];
    let starts_with = |w: &str| {
        text.get(..w.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(w))
    };
    let (satisfaction, rest) = if let Some((word, s)) = words.iter().find(|(w, _)| starts_with(w)) {
        (*s, text.get(word.len()..).unwrap_or(""))
    } else {
        let mut chars = text.chars();
        let first = chars.next().map(ascii_digit).ok_or_else(malformed)?;
        let s = Satisfaction::from_key(first).ok_or_else(malformed)?;
        let rest = chars.as_str();
        // "12" or "1.5" is not a choice of 1; a comment must be set apart.
        if rest
            .chars()
            .next()
            .is_some_and(|c| ascii_digit(c).is_ascii_digit() || c == '.')
        {
            return Err(malformed());
        }
        (s, rest)
    };
    let comment = rest
        .trim_start_matches(|c: char| c.is_whitespace() || ",，.。:：;；-、".contains(c))
        .trim();
    Ok(Answer {
        satisfaction,
        score: None,
        nps: None,
        comment: (!comment.is_empty()).then(|| comment.to_string()),
    })
}

/// First digit 1/2/3 = satisfaction, optional second digit 1–5 = score; `#`/`*` ignored.
pub fn parse_keys(keypresses: &[String], speech_text: Option<&str>) -> Result<Answer, Refusal> {
    let digits: Vec<char> = keypresses
        .iter()
        .flat_map(|k| k.trim().chars())
        .filter(|c| *c != '#' && *c != '*')
        .collect();
    let malformed = |what: &str| Refusal::new(AnswerRefusal::MalformedAnswer, what.to_string());
    let satisfaction = match digits.first() {
        Some(c) => Satisfaction::from_key(*c)
            .ok_or_else(|| malformed("the first key must be 1, 2 or 3"))?,
        None => return Err(malformed("no key was pressed")),
    };
    let score = match digits.get(1) {
        None => None,
        Some(c) => match c.to_digit(10) {
            Some(d) if (1..=5).contains(&d) => Some(d as i32),
            _ => return Err(malformed("the second key (score) must be 1 to 5")),
        },
    };
    if digits.len() > 2 {
        return Err(malformed("at most two keys: satisfaction, then score"));
    }
    Ok(Answer {
        satisfaction,
        score,
        nps: None,
        comment: speech_text.map(str::to_string),
    })
}

/// The page's form fields, all strings as posted.
pub fn parse_form(
    satisfaction: Option<&str>,
    score: Option<&str>,
    nps: Option<&str>,
    comment: Option<&str>,
) -> Result<Answer, Refusal> {
    let satisfaction = satisfaction.and_then(Satisfaction::parse).ok_or_else(|| {
        Refusal::new(
            AnswerRefusal::MalformedAnswer,
            "choose how satisfied you are",
        )
    })?;
    let number = |field: &str, v: Option<&str>| -> Result<Option<i32>, Refusal> {
        match v.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse::<i32>().map(Some).map_err(|_| {
                Refusal::new(
                    AnswerRefusal::MalformedAnswer,
                    format!("{field} must be a number"),
                )
            }),
        }
    };
    Ok(Answer {
        satisfaction,
        score: number("score", score)?,
        nps: number("nps", nps)?,
        comment: comment.map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sms(t: &str) -> Result<(Satisfaction, Option<String>), AnswerRefusal> {
        parse_sms(t)
            .map(|a| (a.satisfaction, a.comment))
            .map_err(|r| r.reason)
    }

    #[test]
    fn sms_digits_words_and_comments() {
        use Satisfaction::*;
        assert_eq!(sms("1"), Ok((Satisfied, None)));
        assert_eq!(sms(" 2 "), Ok((BasicallySatisfied, None)));
        assert_eq!(sms("３"), Ok((Unsatisfied, None)));
        assert_eq!(
            sms("3 还是打不开"),
            Ok((Unsatisfied, Some("还是打不开".into())))
        );
        assert_eq!(
            sms("3，快递还没到"),
            Ok((Unsatisfied, Some("快递还没到".into())))
        );
        assert_eq!(sms("满意"), Ok((Satisfied, None)));
        assert_eq!(
            sms("基本满意 还行"),
            Ok((BasicallySatisfied, Some("还行".into())))
        );
        assert_eq!(sms("不满意"), Ok((Unsatisfied, None)));
        assert_eq!(
            sms("Unsatisfied - slow"),
            Ok((Unsatisfied, Some("slow".into())))
        );
        for bad in ["", "4", "0", "12", "1.5", "ok", "好"] {
            assert_eq!(sms(bad), Err(AnswerRefusal::MalformedAnswer), "{bad}");
        }
    }

    #[test]
    fn ivr_keys() {
        let k = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = parse_keys(&k(&["1", "5", "#"]), None).unwrap();
        assert_eq!(
            (a.satisfaction, a.score),
            (Satisfaction::Satisfied, Some(5))
        );
        let a = parse_keys(&k(&["3"]), Some("还是没修好")).unwrap();
        assert_eq!(a.satisfaction, Satisfaction::Unsatisfied);
        assert_eq!(a.comment.as_deref(), Some("还是没修好"));
        let a = parse_keys(&k(&["24"]), None).unwrap();
        assert_eq!(
            (a.satisfaction, a.score),
            (Satisfaction::BasicallySatisfied, Some(4))
        );
        for bad in [
            k(&[]),
            k(&["#"]),
            k(&["4"]),
            k(&["1", "6"]),
            k(&["1", "2", "3"]),
        ] {
            assert_eq!(
                parse_keys(&bad, None).map_err(|r| r.reason),
                Err(AnswerRefusal::MalformedAnswer)
            );
        }
    }

    #[test]
    fn ranges_and_comment_length() {
        let base = Answer {
            satisfaction: Satisfaction::Satisfied,
            score: Some(5),
            nps: Some(10),
            comment: Some("  很好  ".into()),
        };
        assert_eq!(
            check(base.clone(), 10).unwrap().comment.as_deref(),
            Some("很好")
        );
        let bad = Answer {
            score: Some(6),
            ..base.clone()
        };
        assert_eq!(
            check(bad, 10).unwrap_err().reason,
            AnswerRefusal::OutOfRange
        );
        let bad = Answer {
            nps: Some(-1),
            ..base.clone()
        };
        assert_eq!(
            check(bad, 10).unwrap_err().reason,
            AnswerRefusal::OutOfRange
        );
        let long = Answer {
            comment: Some("长".repeat(11)),
            ..base.clone()
        };
        assert_eq!(
            check(long, 10).unwrap_err().reason,
            AnswerRefusal::CommentTooLong
        );
        let blank = Answer {
            comment: Some("   ".into()),
            ..base
        };
        assert_eq!(check(blank, 10).unwrap().comment, None);
    }

    #[test]
    fn form_fields() {
        let a = parse_form(Some("unsatisfied"), Some("2"), Some(""), Some("slow")).unwrap();
        assert_eq!(
            (a.satisfaction, a.score, a.nps),
            (Satisfaction::Unsatisfied, Some(2), None)
        );
        assert_eq!(
            parse_form(None, None, None, None).unwrap_err().reason,
            AnswerRefusal::MalformedAnswer
        );
        assert_eq!(
            parse_form(Some("satisfied"), Some("five"), None, None)
                .unwrap_err()
                .reason,
            AnswerRefusal::MalformedAnswer
        );
    }
}
