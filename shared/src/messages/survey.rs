//! Survey worker messages: the closed loop after every resolution.
//!
//! | subject                                   | message                  | who publishes        |
//! |-------------------------------------------|--------------------------|----------------------|
//! | `{prefix}.survey.request.{channel}`       | [`SurveyRequest`]        | survey worker        |
//! | `{prefix}.survey.response.{channel}`      | [`SurveyResponse`]       | channel adapters     |
//! | `{prefix}.survey.answered`                | [`SurveyAnswered`]       | survey worker        |
//! | `{prefix}.survey.rejected.{channel}`      | [`SurveyAnswerRejected`] | survey worker        |
//! | `{prefix}.survey.escalated.{department}`  | [`SurveyEscalated`]      | survey worker        |
//! | `{prefix}.survey.expired`                 | [`SurveyExpired`]        | survey worker        |
//!
//! `{channel}` of a request is a [`SurveyChannel`]; answers come back on the same channel's response
//! subject (the `link` channel is answered on the survey worker's HTTP page, not on the bus).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::feedback::Priority;

/// How the customer is asked. The ticket's intake channel decides it (configurable mapping).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SurveyChannel {
    /// A text message; the customer replies `1`/`2`/`3` (optionally followed by a comment).
    Sms,
    /// An in-app message with the structured answer form.
    App,
    /// An outbound IVR call; the customer answers with keypresses.
    Ivr,
    /// A link (e-mail, chat, social) to the survey worker's response page.
    Link,
}

impl SurveyChannel {
    pub const ALL: [SurveyChannel; 4] = [
        SurveyChannel::Sms,
        SurveyChannel::App,
        SurveyChannel::Ivr,
        SurveyChannel::Link,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SurveyChannel::Sms => "sms",
            SurveyChannel::App => "app",
            SurveyChannel::Ivr => "ivr",
            SurveyChannel::Link => "link",
        }
    }

    pub fn parse(s: &str) -> Option<SurveyChannel> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl std::fmt::Display for SurveyChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// 满意 / 基本满意 / 不满意.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    /// 满意
    Satisfied,
    /// 基本满意
    BasicallySatisfied,
    /// 不满意
    Unsatisfied,
}

impl Satisfaction {
    pub const ALL: [Satisfaction; 3] = [
        Satisfaction::Satisfied,
        Satisfaction::BasicallySatisfied,
        Satisfaction::Unsatisfied,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Satisfaction::Satisfied => "satisfied",
            Satisfaction::BasicallySatisfied => "basically_satisfied",
            Satisfaction::Unsatisfied => "unsatisfied",
        }
    }

    pub fn parse(s: &str) -> Option<Satisfaction> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The key an SMS reply or IVR keypress uses: 1 satisfied, 2 basically satisfied, 3 unsatisfied.
    pub fn key(self) -> char {
        match self {
            Satisfaction::Satisfied => '1',
            Satisfaction::BasicallySatisfied => '2',
            Satisfaction::Unsatisfied => '3',
        }
    }

    pub fn from_key(key: char) -> Option<Satisfaction> {
        Self::ALL.into_iter().find(|x| x.key() == key)
    }
}

/// The first ask or the one reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Initial,
    Reminder,
}

/// Whom the channel adapter must reach. The adapter needs the real number or account to deliver the
/// request, so this message carries it; it is addressed to adapters only, never to reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SurveyRecipient {
    /// 客户编号: the account an in-app message goes to.
    pub customer_id: Option<String>,
    /// The number an SMS or IVR call goes to.
    pub phone: Option<String>,
    /// Where a `link` survey of an e-mail ticket is sent.
    #[serde(default)]
    pub email: Option<String>,
    /// For the greeting only, e.g. `张先生/女士`.
    pub name_masked: Option<String>,
}

/// `{prefix}.survey.request.{channel}`: ask (or remind) the customer. Sent outside quiet hours.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SurveyRequest {
    pub schema_version: u32,
    /// Unique per request (a reminder has its own); adapters use it as their idempotency key.
    pub request_id: Uuid,
    pub survey_id: Uuid,
    pub ticket_id: Uuid,
    pub ticket_no: String,
    /// 1 for the first resolution of the ticket, 2 after a reopening and a second resolution, ...
    pub cycle: i32,
    pub kind: RequestKind,
    pub channel: SurveyChannel,
    pub recipient: SurveyRecipient,
    /// Signed, single-use response token; adapters echo it in their [`SurveyResponse`].
    pub token: String,
    /// The response page for this survey (works on every channel; the `link` channel sends only this).
    pub link: String,
    /// After this instant the token is refused.
    pub expires_at: DateTime<Utc>,
    pub sent_at: DateTime<Utc>,
}

/// The customer's answer as each channel delivers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "channel", rename_all = "snake_case")]
pub enum ChannelAnswer {
    /// The in-app form: structured fields.
    App {
        satisfaction: Satisfaction,
        /// 1–5.
        #[serde(default)]
        score: Option<i32>,
        /// Net promoter score 0–10.
        #[serde(default)]
        nps: Option<i32>,
        #[serde(default)]
        comment: Option<String>,
    },
    /// An SMS reply: `1` satisfied, `2` basically satisfied, `3` unsatisfied (or the words 满意 / 基本满意 /
    /// 不满意), optionally followed by a comment, e.g. `3 还是打不开`.
    Sms {
        /// The number the reply came from; used to find the survey when the adapter has no token.
        from: String,
        text: String,
    },
    /// IVR keypresses: the first digit 1/2/3 is the satisfaction, an optional second digit 1–5 the score;
    /// `#` and `*` are ignored. A speech-to-text draft, if any, becomes the comment.
    Ivr {
        call_id: String,
        keypresses: Vec<String>,
        #[serde(default)]
        speech_text: Option<String>,
    },
}

impl ChannelAnswer {
    pub fn channel(&self) -> SurveyChannel {
        match self {
            ChannelAnswer::App { .. } => SurveyChannel::App,
            ChannelAnswer::Sms { .. } => SurveyChannel::Sms,
            ChannelAnswer::Ivr { .. } => SurveyChannel::Ivr,
        }
    }
}

/// `{prefix}.survey.response.{channel}`: what a channel adapter publishes when the customer answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SurveyResponse {
    pub schema_version: u32,
    /// The adapter's own id for this answer; a redelivery or a retry with the same id is the same answer.
    pub response_id: String,
    /// The token of the request being answered. Required for `app` and `ivr`; an SMS adapter that cannot
    /// correlate a reply may leave it out, and the reply is matched to the open survey sent to `from`.
    #[serde(default)]
    pub token: Option<String>,
    pub received_at: DateTime<Utc>,
    #[serde(flatten)]
    pub answer: ChannelAnswer,
}

/// Why an answer was refused. The same codes appear on the response page and in
/// `{prefix}.survey.rejected.{channel}`; every refused answer is stored with its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnswerRefusal {
    /// Not JSON of the [`SurveyResponse`] shape.
    MalformedMessage,
    UnsupportedSchemaVersion,
    /// The body's channel differs from the subject's.
    ChannelMismatch,
    /// The SMS text, keypresses or form fields do not say satisfied / basically satisfied / unsatisfied.
    MalformedAnswer,
    /// Score outside 1–5 or NPS outside 0–10.
    OutOfRange,
    CommentTooLong,
    /// Missing, malformed or forged token (bad signature).
    InvalidToken,
    /// No survey is open for this sender (SMS without a token).
    NoOpenSurvey,
    /// The survey's answer window has closed.
    Expired,
    /// The survey already has its one answer.
    AlreadyAnswered,
    /// The survey was cancelled (the ticket was reopened or resolved again before an answer).
    SurveyClosed,
}

/// A channel message the survey worker cannot read is refused with the one decode vocabulary.
impl From<super::DecodeReason> for AnswerRefusal {
    fn from(reason: super::DecodeReason) -> Self {
        match reason {
            super::DecodeReason::MalformedMessage => AnswerRefusal::MalformedMessage,
            super::DecodeReason::UnsupportedSchemaVersion => {
                AnswerRefusal::UnsupportedSchemaVersion
            }
        }
    }
}

impl AnswerRefusal {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerRefusal::MalformedMessage => "malformed_message",
            AnswerRefusal::UnsupportedSchemaVersion => "unsupported_schema_version",
            AnswerRefusal::ChannelMismatch => "channel_mismatch",
            AnswerRefusal::MalformedAnswer => "malformed_answer",
            AnswerRefusal::OutOfRange => "out_of_range",
            AnswerRefusal::CommentTooLong => "comment_too_long",
            AnswerRefusal::InvalidToken => "invalid_token",
            AnswerRefusal::NoOpenSurvey => "no_open_survey",
            AnswerRefusal::Expired => "expired",
            AnswerRefusal::AlreadyAnswered => "already_answered",
            AnswerRefusal::SurveyClosed => "survey_closed",
        }
    }
}

/// What the worker did about an unsatisfied answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowUp {
    /// Nothing to do (satisfied, or the ticket had already moved on).
    None,
    /// The ticket was reopened for a second follow-up (`{prefix}.ticket.reopened`).
    Reopened,
    /// The lead department's supervisor was asked to follow up (`{prefix}.survey.escalated.{department}`).
    Escalated,
}

/// `{prefix}.survey.answered`: one accepted answer, kept for the reports (CSAT, NPS, recovery rate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SurveyAnswered {
    pub schema_version: u32,
    pub answer_id: Uuid,
    pub survey_id: Uuid,
    pub ticket_id: Uuid,
    pub ticket_no: String,
    pub cycle: i32,
    /// The channel the survey was sent on.
    pub channel: SurveyChannel,
    /// Where the answer came in: `app`, `sms`, `ivr` or `web` (the response page).
    pub answered_via: String,
    pub satisfaction: Satisfaction,
    pub score: Option<i32>,
    pub nps: Option<i32>,
    /// National ID and bank-card numbers redacted.
    pub comment: Option<String>,
    pub answered_at: DateTime<Utc>,
    pub department: Option<String>,
    pub follow_up: FollowUp,
}

/// `{prefix}.survey.rejected.{channel}` (`web` for the page): an answer that was refused and stored, so
/// the adapter can tell the customer why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SurveyAnswerRejected {
    pub schema_version: u32,
    /// The stored answer row.
    pub rejection_id: Uuid,
    pub survey_id: Option<Uuid>,
    pub ticket_id: Option<Uuid>,
    pub channel: String,
    pub response_id: Option<String>,
    pub reason: AnswerRefusal,
    pub message: String,
    pub received_at: DateTime<Utc>,
}

/// `{prefix}.survey.escalated.{department}`: an unsatisfied answer handed to the lead department's
/// supervisor (when configured to escalate instead of reopening).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SurveyEscalated {
    pub schema_version: u32,
    pub event_id: Uuid,
    pub survey_id: Uuid,
    pub ticket_id: Uuid,
    pub ticket_no: String,
    pub department: String,
    pub priority: Option<Priority>,
    pub cycle: i32,
    pub comment: Option<String>,
    pub answered_at: DateTime<Utc>,
}

/// `{prefix}.survey.expired`: the survey closed without an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SurveyExpired {
    pub schema_version: u32,
    pub survey_id: Uuid,
    pub ticket_id: Uuid,
    pub ticket_no: String,
    pub cycle: i32,
    pub channel: SurveyChannel,
    pub expired_at: DateTime<Utc>,
}
