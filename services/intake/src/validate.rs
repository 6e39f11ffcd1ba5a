//! Turning raw bytes from any channel into a valid [`FeedbackSubmission`], or a [`Rejection`] with a
//! machine-readable reason. Every check lives here so the bus and the web form refuse exactly alike.

use std::net::IpAddr;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde_json::Value;
use shared::messages::feedback::{Channel, FeedbackSubmission, RejectReason};
use shared::messages::SCHEMA_VERSION;

use crate::settings::IntakeSettings;

/// Why a submission was refused, ready to be stored and announced.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub reason: RejectReason,
    /// JSON path of the offending field.
    pub field: Option<String>,
    pub message: String,
    /// The channel as far as it could be told: `unknown` when neither subject nor body name a valid one.
    pub channel: String,
    pub external_id: Option<String>,
}

const MAX_DESCRIPTION_CHARS: usize = 4000;
const MAX_SHORT_CHARS: usize = 128;
const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 32;
const MAX_ATTACHMENTS: usize = 10;
const MAX_URL_CHARS: usize = 2048;
const MAX_KEYPRESSES: usize = 32;

/// Mainland mobiles, landlines with area code (and extension), 400/800 numbers, or international E.164.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:",
        r"(?:\+?86|0086)?1[3-9][0-9]{9}", // mobile
        r"|(?:(?:\+?86|0086)0?|0)[1-9][0-9]{1,2}[0-9]{7,8}(?:-[0-9]{1,6})?", // landline
        r"|[48]00[0-9]{7}",               // service numbers
        r"|\+(?:[1-79][0-9]{6,14}|8[0-57-9][0-9]{5,13})", // elsewhere (+86 must match the rules above)
        r")$"
    ))
    .expect("static regex is valid")
});

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
        .expect("static regex is valid")
});

/// Checks a phone number and returns it in one canonical form (digits, `+` for international, `-` before
/// an extension), so history matching finds the same customer however the number was typed.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '(' | ')' | '.'))
        .collect();
    // Hyphens group digits; only one after a complete landline marks an extension. Try both readings.
    let without_hyphens: String = compact.chars().filter(|c| *c != '-').collect();
    if PHONE.is_match(&without_hyphens) {
        return Some(canonical(&without_hyphens));
    }
    if let Some((number, ext)) = compact.rsplit_once('-') {
        let number: String = number.chars().filter(|c| *c != '-').collect();
        let candidate = format!("{number}-{ext}");
        if PHONE.is_match(&candidate) {
            return Some(canonical(&candidate));
        }
    }
    None
}

/// `+8613812345678`, `008613812345678`, `8613812345678` → `13812345678`; mainland landlines keep their 0.
fn canonical(number: &str) -> String {
    let national = number
        .strip_prefix("+86")
        .or_else(|| number.strip_prefix("0086"))
        .or_else(|| {
            number
                .strip_prefix("86")
                .filter(|rest| rest.starts_with('1') && rest.len() == 11)
        });
    match national {
        Some(rest) if rest.starts_with('1') && rest.len() == 11 => rest.to_string(),
        Some(rest) if rest.starts_with('0') => rest.to_string(),
        Some(rest) => format!("0{rest}"),
        None => number.to_string(),
    }
}

/// Who sent a submission, which decides what of it is believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A channel adapter on the bus: the deployment's own integration. Its submit time is kept (an
    /// e-mail or a call is registered after it happened), within `intake.max_backdate_hours`, and its
    /// priority is a hint the router may use.
    Adapter,
    /// The public web form: anyone on the internet. The submit time is the server's receive time and
    /// the priority is the router's to decide, so a script can neither date tickets into closed report
    /// periods (or past their deadlines) nor make itself urgent; what the body says of either is
    /// ignored.
    PublicForm,
}

/// Validates `raw` received on `subject_channel` (the subject's last token, or the web form).
pub fn parse_submission(
    raw: &[u8],
    subject_channel: &str,
    now: DateTime<Utc>,
    limits: &IntakeSettings,
    origin: Origin,
) -> Result<FeedbackSubmission, Rejection> {
    let subject_known = Channel::parse(subject_channel);
    let mut reject = Rejector {
        channel: subject_known
            .map(|c| c.as_str().to_string())
            .unwrap_or_else(|| "unknown".into()),
        external_id: None,
    };
    if raw.len() > limits.max_payload_bytes {
        return Err(reject.at(
            RejectReason::PayloadTooLarge,
            None,
            format!(
                "submission is {} bytes; the limit is {}",
                raw.len(),
                limits.max_payload_bytes
            ),
        ));
    }
    let text = std::str::from_utf8(raw).map_err(|e| {
        reject.at(
            RejectReason::InvalidUtf8,
            None,
            format!(
                "body is not valid UTF-8 (first bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    let mut value: Value = serde_json::from_str(text).map_err(|e| {
        reject.at(
            RejectReason::MalformedJson,
            None,
            format!("body is not JSON: {e}"),
        )
    })?;
    if origin == Origin::PublicForm {
        if let Some(object) = value.as_object_mut() {
            object.insert("submitted_at".into(), Value::String(now.to_rfc3339()));
            object.remove("priority");
            object.remove("client_ip");
        }
    }
    let Some(object) = value.as_object() else {
        return Err(reject.at(
            RejectReason::MalformedJson,
            None,
            "body must be a JSON object".into(),
        ));
    };
    reject.external_id = object
        .get("external_id")
        .and_then(Value::as_str)
        .map(|s| s.chars().take(MAX_SHORT_CHARS).collect());

    match object.get("schema_version") {
        None => {
            return Err(reject.at(
                RejectReason::MissingField,
                Some("schema_version"),
                "schema_version is required".into(),
            ))
        }
        Some(v) if v.as_u64() != Some(u64::from(SCHEMA_VERSION)) => {
            return Err(reject.at(
                RejectReason::UnsupportedSchemaVersion,
                Some("schema_version"),
                format!(
                    "schema_version {v} is not supported; this intake accepts {SCHEMA_VERSION}"
                ),
            ))
        }
        Some(_) => {}
    }
    let body_channel = match object.get("channel") {
        None => {
            return Err(reject.at(
                RejectReason::MissingField,
                Some("channel"),
                "channel is required".into(),
            ))
        }
        Some(v) => match v.as_str().and_then(Channel::parse) {
            Some(c) => c,
            None => {
                return Err(reject.at(
                    RejectReason::UnknownChannel,
                    Some("channel"),
                    format!("channel {v} is not one of form, app, ivr, chat, email, phone, social"),
                ))
            }
        },
    };
    let Some(subject_channel) = subject_known else {
        return Err(reject.at(
            RejectReason::UnknownChannel,
            None,
            format!("`{subject_channel}` is not a channel"),
        ));
    };
    if body_channel != subject_channel {
        return Err(reject.at(
            RejectReason::ChannelMismatch,
            Some("channel"),
            format!("body says channel {body_channel} but it arrived on {subject_channel}"),
        ));
    }

    if let Some((field, message)) = hidden_characters(&value) {
        return Err(reject.at(RejectReason::InvalidValue, Some(&field), message));
    }
    let submission: FeedbackSubmission = serde_path_to_error::deserialize(&value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        let reason = if inner.starts_with("missing field") {
            RejectReason::MissingField
        } else if path.ends_with("_at") && inner.contains("input") {
            RejectReason::InvalidTimestamp
        } else {
            RejectReason::InvalidValue
        };
        let field = if path == "." {
            None
        } else {
            Some(path.as_str())
        };
        reject.at(reason, field, inner.clone())
    })?;
    check_fields(&submission, now, limits)
        .map_err(|(reason, field, message)| reject.at(reason, Some(field), message))?;
    Ok(submission)
}

/// Fields that hold several lines of a person's words; every other string is one line.
const MULTI_LINE: [&str; 2] = ["description", "ivr.speech_text"];

/// The first string anywhere in the body (keys included) holding a character that Postgres text cannot
/// store, that only serves to hide or reorder what a reader sees (C0/C1 controls, bidirectional
/// overrides and isolates), or a line break outside the multi-line fields: its JSON path and why.
fn hidden_characters(value: &Value) -> Option<(String, String)> {
    fn walk(value: &Value, path: &mut String) -> Option<(String, String)> {
        match value {
            Value::String(text) => {
                let multi_line = MULTI_LINE.contains(&path.as_str());
                let bad = text.chars().find(|&c| {
                    let line_break = matches!(c, '\n' | '\r' | '\t');
                    (c.is_control() && !(line_break && multi_line))
                        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
                })?;
                let field = if path.is_empty() {
                    "body"
                } else {
                    path.as_str()
                };
                Some((
                    field.to_string(),
                    format!(
                        "{field} contains the control character U+{:04X}",
                        bad as u32
                    ),
                ))
            }
            Value::Array(items) => items.iter().find_map(|item| walk(item, path)),
            Value::Object(fields) => fields.iter().find_map(|(key, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                let found = walk(&Value::String(key.clone()), path).or_else(|| walk(item, path));
                path.truncate(len);
                found
            }),
            _ => None,
        }
    }
    walk(value, &mut String::new())
}

/// Fills in the channel and adapter id every rejection carries.
struct Rejector {
    channel: String,
    external_id: Option<String>,
}

impl Rejector {
    fn at(&self, reason: RejectReason, field: Option<&str>, message: String) -> Rejection {
        Rejection {
            reason,
            field: field.map(str::to_string),
            message,
            channel: self.channel.clone(),
            external_id: self.external_id.clone(),
        }
    }
}

type FieldError = (RejectReason, &'static str, String);

fn check_fields(
    s: &FeedbackSubmission,
    now: DateTime<Utc>,
    limits: &IntakeSettings,
) -> Result<(), FieldError> {
    text(&s.external_id, "external_id", MAX_SHORT_CHARS, true)?;
    if s.submitted_at < now - chrono::Duration::hours(limits.max_backdate_hours) {
        return Err((
            RejectReason::StaleTimestamp,
            "submitted_at",
            format!(
                "submitted_at {} lies more than {} hours before its receipt",
                s.submitted_at.to_rfc3339(),
                limits.max_backdate_hours
            ),
        ));
    }
    if s.submitted_at > now + chrono::Duration::seconds(limits.max_clock_skew_secs) {
        return Err((
            RejectReason::FutureTimestamp,
            "submitted_at",
            format!(
                "submitted_at {} lies in the future",
                s.submitted_at.to_rfc3339()
            ),
        ));
    }
    if let Some(expected) = s.expected_resolution_at {
        if expected < s.submitted_at {
            return Err((
                RejectReason::InvalidValue,
                "expected_resolution_at",
                "expected_resolution_at is before submitted_at".into(),
            ));
        }
    }

    let c = &s.customer;
    opt_text(&c.id, "customer.id", MAX_SHORT_CHARS)?;
    opt_text(&c.name, "customer.name", 64)?;
    if let Some(phone) = &c.phone {
        if normalize_phone(phone).is_none() {
            return Err((
                RejectReason::InvalidPhone,
                "customer.phone",
                format!(
                    "`{}` is not a mainland mobile, landline or international number",
                    phone.chars().take(32).collect::<String>()
                ),
            ));
        }
    }
    if let Some(email) = &c.email {
        if email.len() > 254 || !EMAIL.is_match(email) {
            return Err((
                RejectReason::InvalidEmail,
                "customer.email",
                "not a valid e-mail address".into(),
            ));
        }
    }
    opt_text(&s.order_number, "order_number", 64)?;
    opt_text(&s.info_source, "info_source", MAX_SHORT_CHARS)?;
    opt_text(&s.agent_id, "agent_id", MAX_SHORT_CHARS)?;

    if s.tags.len() > MAX_TAGS {
        return Err((
            RejectReason::TooManyItems,
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    for tag in &s.tags {
        text(tag, "tags", MAX_TAG_CHARS, true)?;
    }
    if s.attachments.len() > MAX_ATTACHMENTS {
        return Err((
            RejectReason::TooManyItems,
            "attachments",
            format!("at most {MAX_ATTACHMENTS} attachments"),
        ));
    }
    for a in &s.attachments {
        let ok_scheme = a.url.starts_with("https://") || a.url.starts_with("http://");
        if !ok_scheme
            || a.url.chars().count() > MAX_URL_CHARS
            || a.url.chars().any(char::is_whitespace)
        {
            return Err((
                RejectReason::InvalidAttachment,
                "attachments.url",
                "attachments are stored by reference: an http(s) URL without spaces".into(),
            ));
        }
        opt_text(&a.name, "attachments.name", 256)?;
    }
    if let Some(ip) = &s.client_ip {
        if ip.parse::<IpAddr>().is_err() {
            return Err((
                RejectReason::InvalidValue,
                "client_ip",
                "client_ip is not an IP address".into(),
            ));
        }
    }

    let has_keypresses = s.ivr.as_ref().is_some_and(|i| !i.keypresses.is_empty());
    match (&s.description, s.channel) {
        (Some(d), _) => text(d, "description", MAX_DESCRIPTION_CHARS, true)?,
        (None, Channel::Ivr) if has_keypresses => {}
        (None, _) => {
            return Err((
                RejectReason::MissingField,
                "description",
                "description is required".into(),
            ))
        }
    }
    if c.id.is_none() && c.phone.is_none() && c.email.is_none() && s.ivr.is_none() {
        return Err((
            RejectReason::MissingField,
            "customer",
            "a customer id, phone or e-mail is needed to answer the customer".into(),
        ));
    }

    match (s.channel, &s.ivr) {
        (Channel::Ivr, None) => {
            return Err((
                RejectReason::MissingField,
                "ivr",
                "IVR submissions carry the call".into(),
            ))
        }
        (Channel::Ivr, Some(ivr)) => {
            text(&ivr.call_id, "ivr.call_id", MAX_SHORT_CHARS, true)?;
            if normalize_phone(&ivr.caller_number).is_none() {
                return Err((
                    RejectReason::InvalidPhone,
                    "ivr.caller_number",
                    "caller number is not a phone number".into(),
                ));
            }
            if ivr.keypresses.len() > MAX_KEYPRESSES {
                return Err((
                    RejectReason::TooManyItems,
                    "ivr.keypresses",
                    format!("at most {MAX_KEYPRESSES} keypresses"),
                ));
            }
            if ivr.keypresses.iter().any(|k| {
                k.len() != 1
                    || !k
                        .chars()
                        .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
            }) {
                return Err((
                    RejectReason::InvalidValue,
                    "ivr.keypresses",
                    "each keypress is one of 0-9, * or #".into(),
                ));
            }
            if let Some(speech) = &ivr.speech_text {
                text(speech, "ivr.speech_text", MAX_DESCRIPTION_CHARS, false)?;
            }
            if ivr.keypresses.is_empty()
                && ivr
                    .speech_text
                    .as_deref()
                    .is_none_or(|t| t.trim().is_empty())
            {
                return Err((
                    RejectReason::MissingField,
                    "ivr.keypresses",
                    "an IVR answer needs keypresses or speech text".into(),
                ));
            }
            if ivr
                .speech_confidence
                .is_some_and(|c| !(0.0..=1.0).contains(&c))
            {
                return Err((
                    RejectReason::InvalidValue,
                    "ivr.speech_confidence",
                    "confidence lies in [0, 1]".into(),
                ));
            }
        }
        (_, Some(_)) => {
            return Err((
                RejectReason::InvalidValue,
                "ivr",
                "only IVR submissions carry a call".into(),
            ))
        }
        (_, None) => {}
    }
    if s.channel.is_agent_logged() && s.agent_id.is_none() {
        return Err((
            RejectReason::MissingField,
            "agent_id",
            format!(
                "{} contacts are logged by an agent: agent_id is required",
                s.channel
            ),
        ));
    }
    Ok(())
}

fn opt_text(value: &Option<String>, field: &'static str, max: usize) -> Result<(), FieldError> {
    match value {
        Some(v) => text(v, field, max, true),
        None => Ok(()),
    }
}

/// Length, emptiness and characters Postgres text cannot hold or that only serve to hide content.
fn text(value: &str, field: &'static str, max: usize, required: bool) -> Result<(), FieldError> {
    if required && value.trim().is_empty() {
        return Err((
            RejectReason::MissingField,
            field,
            format!("{field} is empty"),
        ));
    }
    let chars = value.chars().count();
    if chars > max {
        return Err((
            RejectReason::FieldTooLong,
            field,
            format!("{field} has {chars} characters; at most {max}"),
        ));
    }
    if value
        .chars()
        .any(|c| c == '\0' || (c.is_control() && !matches!(c, '\n' | '\r' | '\t')))
    {
        return Err((
            RejectReason::InvalidValue,
            field,
            format!("{field} contains control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones() {
        for (input, canonical) in [
            ("13812345678", "13812345678"),
            ("+86 138 1234 5678", "13812345678"),
            ("008613812345678", "13812345678"),
            ("8613812345678", "13812345678"),
            ("010-12345678", "01012345678"),
            ("0755-8765432", "07558765432"),
            ("+86 10 12345678", "01012345678"),
            ("021-12345678-123", "02112345678-123"),
            ("400-123-4567", "4001234567"),
            ("+1 415 555 0100", "+14155550100"),
        ] {
            assert_eq!(
                normalize_phone(input).as_deref(),
                Some(canonical),
                "{input}"
            );
        }
        for bad in [
            "12345",
            "23812345678",
            "1381234567",
            "abc",
            "",
            "+86 12345",
            "138123456789",
        ] {
            assert_eq!(normalize_phone(bad), None, "{bad}");
        }
    }
}
