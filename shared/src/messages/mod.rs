//! Every message that crosses the bus. Each carries `schema_version` so a consumer can refuse a shape it
//! does not know with a clear reason instead of misreading it.
//!
//! One file per area; JSON Schemas for all of them are exported by `cargo run -p loopdesk-shared --bin
//! export-schemas` into `shared/schemas/` for channel adapters written in other languages.

pub mod classifier;
pub mod feedback;
pub mod lifecycle;
pub mod router;
pub mod sla;
pub mod survey;
pub mod ticket;

/// The schema version this build writes and accepts.
pub const SCHEMA_VERSION: u32 = 1;

/// A message that carries the schema version it was written with.
pub trait Versioned {
    fn schema_version(&self) -> u32;
}

macro_rules! versioned {
    ($($t:ty),* $(,)?) => {
        $(impl Versioned for $t {
            fn schema_version(&self) -> u32 {
                self.schema_version
            }
        })*
    };
}

versioned!(
    feedback::FeedbackSubmission,
    feedback::FeedbackRejected,
    lifecycle::TicketLifecycleEvent,
    router::TicketClassified,
    router::TicketRouted,
    router::TicketWithdrawn,
    router::TicketReclassify,
    sla::SlaNotice,
    survey::SurveyRequest,
    survey::SurveyResponse,
    survey::SurveyAnswered,
    survey::SurveyAnswerRejected,
    survey::SurveyEscalated,
    survey::SurveyExpired,
    ticket::TicketCreated,
);

/// Why a consumer could not read a message: the one vocabulary every worker dead-letters with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeReason {
    /// Not JSON, or not the shape of the message its subject names.
    MalformedMessage,
    /// A shape this build does not know ([`SCHEMA_VERSION`]).
    UnsupportedSchemaVersion,
}

impl DecodeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeReason::MalformedMessage => "malformed_message",
            DecodeReason::UnsupportedSchemaVersion => "unsupported_schema_version",
        }
    }
}

/// A message that could not be read; displayed as `{reason}: {detail}` (the dead letter's reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", reason.as_str())]
pub struct DecodeError {
    pub reason: DecodeReason,
    pub detail: String,
}

/// Parses a payload as `T` without looking at its version (a consumer that needs fields of a
/// message it then refuses, as the survey worker's answer key; then [`check_version`]).
pub fn parse<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(payload).map_err(|e| DecodeError {
        reason: DecodeReason::MalformedMessage,
        detail: format!("{}: {e}", short_type_name::<T>()),
    })
}

/// Refuses a schema version this build does not read.
pub fn check_version(version: u32) -> Result<(), DecodeError> {
    if version == SCHEMA_VERSION {
        Ok(())
    } else {
        Err(DecodeError {
            reason: DecodeReason::UnsupportedSchemaVersion,
            detail: format!("schema_version {version} (this build reads {SCHEMA_VERSION})"),
        })
    }
}

/// Parses a payload and checks its schema version: how every consumer reads a message.
pub fn decode<T: serde::de::DeserializeOwned + Versioned>(
    payload: &[u8],
) -> Result<T, DecodeError> {
    let m: T = parse(payload)?;
    check_version(m.schema_version())?;
    Ok(m)
}

/// `TicketCreated` for `shared::messages::ticket::TicketCreated`: names the expected shape in a reason.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_names_the_reason() {
        let e = decode::<ticket::TicketCreated>(b"not json").unwrap_err();
        assert_eq!(e.reason, DecodeReason::MalformedMessage);
        assert!(
            e.to_string()
                .starts_with("malformed_message: TicketCreated: "),
            "{e}"
        );

        let e = decode::<router::TicketReclassify>(
            br#"{"schema_version":99,"ticket_id":"00000000-0000-0000-0000-000000000000"}"#,
        );
        // Either the shape or the version is refused; a complete message of version 99 is the version.
        assert!(e.is_err());
        let e = check_version(99).unwrap_err();
        assert_eq!(e.reason, DecodeReason::UnsupportedSchemaVersion);
        assert_eq!(
            e.to_string(),
            format!(
                "unsupported_schema_version: schema_version 99 (this build reads {SCHEMA_VERSION})"
            )
        );
        assert!(check_version(SCHEMA_VERSION).is_ok());
    }
}
