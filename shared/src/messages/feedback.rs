//! What a channel adapter sends: one submission of customer feedback, and intake's answer when it is refused.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where a submission came from. Online channels are filled in by the customer; chat, e-mail, phone and
/// social are logged by an agent on the customer's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Online form: web page, app or mini-program "意见反馈" entry.
    Form,
    /// In-app pop-up after a service ends.
    App,
    /// IVR phone survey ("press 8"): keypresses and/or a speech-to-text draft.
    Ivr,
    Chat,
    Email,
    Phone,
    Social,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Form,
        Channel::App,
        Channel::Ivr,
        Channel::Chat,
        Channel::Email,
        Channel::Phone,
        Channel::Social,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Form => "form",
            Channel::App => "app",
            Channel::Ivr => "ivr",
            Channel::Chat => "chat",
            Channel::Email => "email",
            Channel::Phone => "phone",
            Channel::Social => "social",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Channels where an agent records the feedback (the agent's id is then required).
    pub fn is_agent_logged(self) -> bool {
        matches!(
            self,
            Channel::Chat | Channel::Email | Channel::Phone | Channel::Social
        )
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// 反馈类型: picked from a list, never free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackType {
    /// 服务态度
    ServiceAttitude,
    /// 响应速度
    ResponseSpeed,
    /// 产品质量
    ProductQuality,
    /// 流程体验
    ProcessExperience,
    /// 建议其他
    SuggestionOther,
}

impl FeedbackType {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackType::ServiceAttitude => "service_attitude",
            FeedbackType::ResponseSpeed => "response_speed",
            FeedbackType::ProductQuality => "product_quality",
            FeedbackType::ProcessExperience => "process_experience",
            FeedbackType::SuggestionOther => "suggestion_other",
        }
    }
}

/// 优先级: urgent 紧急/高, general 一般/中, suggestion 建议/低.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Urgent,
    General,
    Suggestion,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::General => "general",
            Priority::Suggestion => "suggestion",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "urgent" => Some(Priority::Urgent),
            "general" => Some(Priority::General),
            "suggestion" => Some(Priority::Suggestion),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerType {
    New,
    Returning,
}

/// Who sent the feedback. Stored in full; shown masked everywhere outside the ticket itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// 客户编号, the business's own customer id.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// Mainland mobile (`13812345678`, `+8613812345678`), landline (`010-12345678`) or another E.164 number.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "type")]
    pub customer_type: Option<CustomerType>,
}

/// A screenshot or photo, stored by reference (the bytes live in the adapter's object store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    pub url: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<u64>,
}

/// What the IVR adds: the call, the caller, the keys pressed and the speech-to-text draft.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IvrCall {
    pub call_id: String,
    pub caller_number: String,
    /// Digits, `*` and `#` in the order pressed, e.g. `"8"` then `"3"`.
    #[serde(default)]
    pub keypresses: Vec<String>,
    #[serde(default)]
    pub speech_text: Option<String>,
    /// Speech recogniser confidence in [0, 1].
    #[serde(default)]
    pub speech_confidence: Option<f32>,
}

/// One piece of customer feedback from any channel: the single schema every adapter publishes on
/// `{prefix}.feedback.in.{channel}` and the web form posts to `POST /v1/feedback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackSubmission {
    pub schema_version: u32,
    pub channel: Channel,
    /// The adapter's own id for this submission; a retry with the same (channel, external_id) is the same ticket.
    pub external_id: String,
    /// When the customer submitted it (UTC, RFC 3339).
    pub submitted_at: DateTime<Utc>,
    #[serde(default)]
    pub customer: Customer,
    #[serde(default)]
    pub order_number: Option<String>,
    /// 问题描述, the customer's own words. Required except for IVR calls that carry keypresses only.
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub feedback_type: Option<FeedbackType>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub expected_resolution_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// 信息来源, e.g. "电话补充" (supplemented by phone).
    #[serde(default)]
    pub info_source: Option<String>,
    /// Set by intake from the HTTP connection for web forms; adapters of other channels leave it out.
    #[serde(default)]
    pub client_ip: Option<String>,
    #[serde(default)]
    pub ivr: Option<IvrCall>,
    /// The agent who logged a chat, e-mail, phone or social-media contact.
    #[serde(default)]
    pub agent_id: Option<String>,
}

/// Machine-readable reasons a submission is refused. The same codes appear in HTTP error bodies and in
/// `{prefix}.feedback.rejected.{channel}` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    MalformedJson,
    InvalidUtf8,
    PayloadTooLarge,
    UnsupportedSchemaVersion,
    UnknownChannel,
    ChannelMismatch,
    MissingField,
    FieldTooLong,
    InvalidValue,
    InvalidPhone,
    InvalidEmail,
    InvalidTimestamp,
    FutureTimestamp,
    /// `submitted_at` lies further before its receipt than the deployment allows (bus adapters only).
    StaleTimestamp,
    TooManyItems,
    InvalidAttachment,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MalformedJson => "malformed_json",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::PayloadTooLarge => "payload_too_large",
            RejectReason::UnsupportedSchemaVersion => "unsupported_schema_version",
            RejectReason::UnknownChannel => "unknown_channel",
            RejectReason::ChannelMismatch => "channel_mismatch",
            RejectReason::MissingField => "missing_field",
            RejectReason::FieldTooLong => "field_too_long",
            RejectReason::InvalidValue => "invalid_value",
            RejectReason::InvalidPhone => "invalid_phone",
            RejectReason::InvalidEmail => "invalid_email",
            RejectReason::InvalidTimestamp => "invalid_timestamp",
            RejectReason::FutureTimestamp => "future_timestamp",
            RejectReason::StaleTimestamp => "stale_timestamp",
            RejectReason::TooManyItems => "too_many_items",
            RejectReason::InvalidAttachment => "invalid_attachment",
        }
    }
}

/// `{prefix}.feedback.rejected.{channel}`: a submission intake refused; the raw input is stored under
/// `rejection_id` so nothing a customer sent is lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeedbackRejected {
    pub schema_version: u32,
    pub rejection_id: uuid::Uuid,
    /// The channel named by the subject or the body; `unknown` when neither names a valid one.
    pub channel: String,
    /// The adapter's id when it could be read, so the adapter can match the rejection to its submission.
    pub external_id: Option<String>,
    pub reason: RejectReason,
    /// The offending field as a JSON path, e.g. `customer.phone`.
    pub field: Option<String>,
    pub message: String,
    pub received_at: DateTime<Utc>,
}
