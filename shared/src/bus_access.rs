//! Who may do what on the bus: one table of NATS users, one per service, each allowed to publish
//! and subscribe only to its own subjects and to the parts of the JetStream API its consumers need.
//!
//! The NATS server's authorization block is generated from this table (`loopdesk-ops nats-accounts`
//! writes `deploy/nats/accounts.conf`; a test fails when the committed file differs), so the server's
//! permissions and the code cannot drift apart. The outbox relays read it too: where the bus is
//! authenticated, a relay claims only the rows its own user may publish (the outbox table is shared by
//! every worker, and a relay that claimed another service's event would be refused by the server).
//!
//! A worker connects as its user with `nats.user` and `nats.password` (environment only:
//! `LOOPDESK__NATS__USER`, `LOOPDESK__NATS__PASSWORD`); the server reads each user's password from its
//! own environment (`LOOPDESK_NATS_PASSWORD_{USER}`). To give a service a new subject, add it to its
//! row below and regenerate the file.

use crate::subjects::{Stream, Subjects};

/// One NATS user and what it may do. Subjects are written without the prefix.
#[derive(Debug, Clone, Copy)]
pub struct BusUser {
    /// The NATS user name (the service's name).
    pub name: &'static str,
    /// Subjects it publishes events to (outbox rows, adapters' submissions).
    pub publishes: &'static [&'static str],
    /// Plain (non-JetStream) subscriptions: the api's live feed.
    pub subscribes: &'static [&'static str],
    /// Durable consumers it binds and pulls from, by stream and worker name (the durable is
    /// `{prefix}_{worker}`, see [`Subjects::durable`]).
    pub consumes: &'static [(Stream, &'static str)],
    /// Whether it runs the shared worker runtime ([`crate::runtime`]): it then declares the streams at
    /// start-up, listens for missed deliveries and stores dead letters.
    pub runtime: bool,
    /// Everything, for the operator's `loopdesk-ops` (replay, delete dead letters, status).
    pub admin: bool,
}

/// Every lifecycle event the api announces (`ticket.{kind}`, see `LifecycleChange::kind`), its
/// setup-change announcements and its classifier requests.
const API_LIFECYCLE: &[&str] = &[
    "ticket.replied",
    "ticket.contacted",
    "ticket.waiting",
    "ticket.resumed",
    "ticket.priority_changed",
    "ticket.assigned",
    "ticket.resolved",
    "ticket.reopened",
    "ticket.archived",
    "ticket.reclassify",
    // Setup saved through the api: a hint to every worker to reload (see `crate::setup::announce`).
    "config.changed",
    // Classifier training asked for and a model adopted (the router trains and switches).
    crate::messages::classifier::TRAIN_SUBJECT,
    crate::messages::classifier::ADOPTED_SUBJECT,
];

/// The table. Workers' own subjects only; dead letters (`dlq.>`) are added for every runtime user,
/// because each worker's missed-deliveries listener stores letters for any consumer.
pub const USERS: &[BusUser] = &[
    BusUser {
        name: "intake",
        publishes: &["ticket.created", "feedback.rejected.>"],
        subscribes: &[],
        consumes: &[(Stream::Feedback, "intake")],
        runtime: true,
        admin: false,
    },
    BusUser {
        name: "router",
        publishes: &[
            "ticket.classified",
            "ticket.routed.>",
            "ticket.withdrawn.>",
            "ticket.assigned",
            "ticket.priority_changed",
        ],
        subscribes: &[crate::messages::classifier::ADOPTED_SUBJECT],
        consumes: &[
            (Stream::Ticket, "router"),
            (Stream::Ticket, "router_reclassify"),
            (Stream::Ticket, "router_training"),
        ],
        runtime: true,
        admin: false,
    },
    BusUser {
        name: "sla",
        publishes: &["sla.>"],
        subscribes: &[],
        consumes: &[(Stream::Ticket, "sla"), (Stream::Survey, "sla_survey")],
        runtime: true,
        admin: false,
    },
    BusUser {
        name: "survey",
        publishes: &[
            "survey.request.>",
            "survey.answered",
            "survey.expired",
            "survey.escalated.>",
            "ticket.reopened",
        ],
        subscribes: &[],
        consumes: &[
            (Stream::Ticket, "survey_lifecycle_resolved"),
            (Stream::Ticket, "survey_lifecycle_reopened"),
            (Stream::Survey, "survey_responses"),
        ],
        runtime: true,
        admin: false,
    },
    BusUser {
        name: "api",
        publishes: API_LIFECYCLE,
        subscribes: &[
            "ticket.>",
            "sla.>",
            "survey.answered",
            "survey.escalated",
            "survey.escalated.>",
        ],
        consumes: &[],
        runtime: true,
        admin: false,
    },
    BusUser {
        // Channel adapters (web, app, SMS, IVR gateways): submissions and survey replies, nothing else.
        name: "adapter",
        publishes: &["feedback.in.>", "survey.response.>"],
        subscribes: &[],
        consumes: &[],
        runtime: false,
        admin: false,
    },
    BusUser {
        name: "ops",
        publishes: &[],
        subscribes: &[],
        consumes: &[],
        runtime: false,
        admin: true,
    },
];

/// The row of `name`, if it is a bus user.
pub fn user(name: &str) -> Option<&'static BusUser> {
    USERS.iter().find(|u| u.name == name)
}

/// The inbox prefix of `user`: replies (JetStream acks, pulled messages) come to
/// `{prefix}.{random}`, and each user may subscribe only to its own, so none can read another's.
pub fn inbox_prefix(user: &str) -> String {
    format!("_INBOX_{user}")
}

/// The environment variable the NATS server reads `user`'s password from. nats-server parses the
/// value like a configuration value: a password must start with a letter (one starting with digits
/// may be read as a number, and the server refuses to start).
pub fn password_variable(user: &str) -> String {
    format!("LOOPDESK_NATS_PASSWORD_{}", user.to_ascii_uppercase())
}

impl BusUser {
    /// The event subjects it may publish under `subjects`' prefix (what its outbox relay claims).
    pub fn event_subjects(&self, subjects: &Subjects) -> Vec<String> {
        self.publishes.iter().map(|s| subjects.subject(s)).collect()
    }

    /// Everything it may publish: its events, dead letters, and the JetStream API calls and acks of
    /// its consumers.
    pub fn publish_allow(&self, subjects: &Subjects) -> Vec<String> {
        if self.admin {
            return vec![">".into()];
        }
        let mut allow = self.event_subjects(subjects);
        // Publishing to a stream waits for its ack, which is a reply: no API call needed.
        if self.runtime {
            allow.push(subjects.dead_letters_all());
            allow.push("$JS.API.INFO".into());
            for stream in Stream::ALL {
                let name = subjects.stream_name(stream);
                // Declared (created or updated) at start-up by any worker; never deleted or purged.
                for call in ["INFO", "CREATE", "UPDATE"] {
                    allow.push(format!("$JS.API.STREAM.{call}.{name}"));
                }
            }
            // The missed-deliveries listener reads the message a consumer gave up on.
            for stream in Stream::CONSUMED {
                allow.push(format!(
                    "$JS.API.STREAM.MSG.GET.{}",
                    subjects.stream_name(stream)
                ));
            }
            let missed = (Stream::MissedDeliveries, crate::missed::WORKER);
            for (stream, worker) in self.consumes.iter().chain([&missed]) {
                let (s, d) = (subjects.stream_name(*stream), subjects.durable(worker));
                allow.extend([
                    format!("$JS.API.CONSUMER.INFO.{s}.{d}"),
                    format!("$JS.API.CONSUMER.CREATE.{s}.{d}"),
                    format!("$JS.API.CONSUMER.CREATE.{s}.{d}.>"),
                    format!("$JS.API.CONSUMER.DURABLE.CREATE.{s}.{d}"),
                    format!("$JS.API.CONSUMER.MSG.NEXT.{s}.{d}"),
                    format!("$JS.ACK.{s}.{d}.>"),
                ]);
            }
        }
        allow
    }

    /// Everything it may subscribe to: its own inbox and its plain subscriptions.
    pub fn subscribe_allow(&self, subjects: &Subjects) -> Vec<String> {
        if self.admin {
            return vec![">".into()];
        }
        let mut allow = vec![format!("{}.>", inbox_prefix(self.name))];
        allow.extend(self.subscribes.iter().map(|s| subjects.subject(s)));
        if self.runtime {
            // Every worker follows setup changes (see `crate::setup::follow`).
            allow.push(crate::setup::changed_subject(subjects));
        }
        allow
    }
}

/// The nats-server `authorization` block for every user of [`USERS`] under `subjects`' prefix.
/// Passwords are variables the server resolves from its environment ([`password_variable`]): a
/// server started without one refuses to start rather than run open.
pub fn server_config(subjects: &Subjects) -> String {
    let list = |items: Vec<String>| {
        items
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!(
        "# Generated by `loopdesk-ops nats-accounts` from shared/src/bus_access.rs for prefix `{}`:\n\
         # do not edit; change the table and regenerate. Each password comes from the server's\n\
         # environment (LOOPDESK_NATS_PASSWORD_<USER>); the server refuses to start without it.\n\
         authorization {{\n  users = [\n",
        subjects.prefix()
    );
    for u in USERS {
        out.push_str(&format!(
            "    {{\n      user: \"{}\"\n      password: ${}\n      permissions: {{\n        publish: {{ allow: [{}] }}\n        subscribe: {{ allow: [{}] }}\n      }}\n    }}\n",
            u.name,
            password_variable(u.name),
            list(u.publish_allow(subjects)),
            list(u.subscribe_allow(subjects)),
        ));
    }
    out.push_str("  ]\n}\n");
    out
}

/// A NATS subject pattern as a Postgres regular expression over whole subjects (`*` one token,
/// `>` one or more), for the relay's claim.
pub fn subject_regex(pattern: &str) -> String {
    let tokens: Vec<String> = pattern
        .split('.')
        .map(|t| match t {
            "*" => "[^.]+".to_string(),
            ">" => ".+".to_string(),
            literal => regex_escape(literal),
        })
        .collect();
    format!("^{}$", tokens.join("\\."))
}

fn regex_escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if !c.is_ascii_alphanumeric() && c != '_' && c != '-' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_worker_has_a_row() {
        let mut names: Vec<&str> = USERS.iter().map(|u| u.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), USERS.len());
        for service in ["intake", "router", "sla", "survey", "api", "adapter", "ops"] {
            assert!(user(service).is_some(), "{service} has a row");
        }
    }

    #[test]
    fn no_one_but_intake_announces_tickets_and_no_one_but_the_api_resolves_them() {
        let s = Subjects::new("p");
        let publishes = |subject: &str| -> Vec<&str> {
            USERS
                .iter()
                .filter(|u| !u.admin && u.event_subjects(&s).iter().any(|p| p == subject))
                .map(|u| u.name)
                .collect()
        };
        assert_eq!(publishes("p.ticket.created"), vec!["intake"]);
        assert_eq!(publishes("p.ticket.resolved"), vec!["api"]);
    }

    #[test]
    fn patterns_become_anchored_regular_expressions() {
        assert_eq!(
            subject_regex("p-1.ticket.routed.>"),
            "^p-1\\.ticket\\.routed\\..+$"
        );
        assert_eq!(subject_regex("p.sla.*"), "^p\\.sla\\.[^.]+$");
    }
}
