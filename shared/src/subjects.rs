//! Subject and stream names, all under one configurable prefix (docs/domain.md, invariant 7).
//!
//! Subjects read `{prefix}.{area}.{event}[.{qualifier}]`; each area is one JetStream stream named
//! `{PREFIX}_{AREA}` (stream names may not contain dots).

use crate::messages::feedback::Channel;

/// The JetStream streams Loopdesk owns; every subject an event is published on falls into one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Raw submissions from channel adapters and intake's rejections: `{p}.feedback.>`.
    Feedback,
    /// Everything that happens to a ticket: `{p}.ticket.>`.
    Ticket,
    /// Deadline warnings, breaches and escalations: `{p}.sla.>`.
    Sla,
    /// Survey requests, responses and answers: `{p}.survey.>`.
    Survey,
    /// Messages no consumer could process, kept with their error: `{p}.dlq.>`.
    DeadLetter,
    /// JetStream's own notices that a consumer's last allowed delivery of a message ended without an
    /// outcome (its replica died, or it outlived the ack wait), captured so the message is
    /// dead-lettered rather than silently dropped: see [`crate::missed`].
    MissedDeliveries,
}

impl Stream {
    pub const ALL: [Stream; 6] = [
        Stream::Feedback,
        Stream::Ticket,
        Stream::Sla,
        Stream::Survey,
        Stream::DeadLetter,
        Stream::MissedDeliveries,
    ];

    /// Streams that workers consume with delivery limits, whose give-ups are captured.
    pub const CONSUMED: [Stream; 4] = [
        Stream::Feedback,
        Stream::Ticket,
        Stream::Sla,
        Stream::Survey,
    ];

    pub fn area(self) -> &'static str {
        match self {
            Stream::Feedback => "feedback",
            Stream::Ticket => "ticket",
            Stream::Sla => "sla",
            Stream::Survey => "survey",
            Stream::DeadLetter => "dlq",
            Stream::MissedDeliveries => "missed",
        }
    }
}

/// Builds names under one prefix; cheap to clone and pass to every task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}.{rest}`: the one place a subject is joined to its prefix.
    pub fn subject(&self, rest: &str) -> String {
        format!("{}.{}", self.prefix, rest)
    }

    /// The prefix with everything but letters and digits turned into `_`, for names that forbid dots.
    fn token(&self) -> String {
        self.prefix
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect()
    }

    pub fn stream_name(&self, stream: Stream) -> String {
        format!("{}_{}", self.token(), stream.area()).to_ascii_uppercase()
    }

    /// What the stream captures: `{prefix}.{area}.>`, or for [`Stream::MissedDeliveries`] the
    /// max-deliveries advisories of the consumed streams (their subjects are JetStream's, not ours).
    pub fn stream_subjects(&self, stream: Stream) -> Vec<String> {
        match stream {
            Stream::MissedDeliveries => Stream::CONSUMED
                .iter()
                .map(|s| {
                    format!(
                        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{}.*",
                        self.stream_name(*s)
                    )
                })
                .collect(),
            _ => vec![self.subject(&format!("{}.>", stream.area()))],
        }
    }

    /// A durable consumer name unique to this prefix (consumer names may not contain dots).
    pub fn durable(&self, worker: &str) -> String {
        format!("{}_{worker}", self.token()).to_ascii_lowercase()
    }

    pub fn feedback_in(&self, channel: Channel) -> String {
        self.subject(&format!("feedback.in.{}", channel.as_str()))
    }

    pub fn feedback_in_all(&self) -> String {
        self.subject("feedback.in.>")
    }

    pub fn feedback_rejected(&self, channel: &str) -> String {
        self.subject(&format!("feedback.rejected.{channel}"))
    }

    pub fn ticket_created(&self) -> String {
        self.subject("ticket.created")
    }

    /// Where a consumer's poison messages go, one subject per consumer so ops can replay them selectively.
    pub fn dead_letter(&self, durable: &str) -> String {
        self.subject(&format!("dlq.{durable}"))
    }

    /// Every consumer's dead letters.
    pub fn dead_letters_all(&self) -> String {
        self.subject("dlq.>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sit_under_the_prefix() {
        let s = Subjects::new("t-1a");
        assert_eq!(s.ticket_created(), "t-1a.ticket.created");
        assert_eq!(s.stream_name(Stream::Ticket), "T_1A_TICKET");
        assert_eq!(s.stream_subjects(Stream::Feedback), vec!["t-1a.feedback.>"]);
        assert_eq!(
            s.stream_subjects(Stream::MissedDeliveries)[1],
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.T_1A_TICKET.*"
        );
        assert_eq!(s.durable("intake"), "t_1a_intake");
        assert_eq!(s.feedback_in(Channel::Ivr), "t-1a.feedback.in.ivr");
    }
}
