//! JSON Schemas of every bus message, for channel adapters and consumers written in other languages.
//! `cargo run -p loopdesk-shared --bin export-schemas` writes them to `shared/schemas/`; a test checks the
//! committed files are current.

use schemars::{schema_for, Schema};

use crate::messages::{feedback, lifecycle, router, sla, survey, ticket};

/// (file stem, schema) for every message type. Add new message types here.
pub fn all() -> Vec<(&'static str, Schema)> {
    vec![
        (
            "feedback_submission",
            schema_for!(feedback::FeedbackSubmission),
        ),
        ("feedback_rejected", schema_for!(feedback::FeedbackRejected)),
        ("ticket_created", schema_for!(ticket::TicketCreated)),
        (
            "ticket_lifecycle_event",
            schema_for!(lifecycle::TicketLifecycleEvent),
        ),
        ("ticket_classified", schema_for!(router::TicketClassified)),
        ("ticket_routed", schema_for!(router::TicketRouted)),
        ("ticket_withdrawn", schema_for!(router::TicketWithdrawn)),
        ("ticket_reclassify", schema_for!(router::TicketReclassify)),
        ("survey_request", schema_for!(survey::SurveyRequest)),
        ("survey_response", schema_for!(survey::SurveyResponse)),
        ("survey_answered", schema_for!(survey::SurveyAnswered)),
        (
            "survey_answer_rejected",
            schema_for!(survey::SurveyAnswerRejected),
        ),
        ("survey_escalated", schema_for!(survey::SurveyEscalated)),
        ("survey_expired", schema_for!(survey::SurveyExpired)),
        ("sla_notice", schema_for!(sla::SlaNotice)),
    ]
}

/// Pretty JSON text for a schema, as written to disk.
pub fn render(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    /// The committed schemas are what the code says: regenerate with the export-schemas binary.
    #[test]
    fn committed_schemas_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        for (name, schema) in super::all() {
            let path = dir.join(format!("{name}.json"));
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(
                committed,
                super::render(&schema),
                "{} is stale: run `cargo run -p loopdesk-shared --bin export-schemas`",
                path.display()
            );
        }
    }

    /// Every channel's example is valid against the schema types (deserialises strictly).
    #[test]
    fn examples_deserialise() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        for channel in crate::messages::feedback::Channel::ALL {
            let text =
                std::fs::read_to_string(dir.join(format!("{}.json", channel.as_str()))).unwrap();
            let s: crate::messages::feedback::FeedbackSubmission =
                serde_json::from_str(&text).unwrap();
            assert_eq!(s.channel, channel);
        }
    }
}
