//! Intake: every channel's feedback into one durable pipeline of tickets.
//!
//! Submissions arrive on `{prefix}.feedback.in.{channel}` or `POST /v1/feedback`, are validated
//! ([`validate`]), redacted, matched to the customer's history, numbered and committed with their
//! `ticket.created` event in one transaction per batch ([`store`]). Refused input is stored with a reason
//! code and announced on `{prefix}.feedback.rejected.{channel}`.

pub mod group_commit;
pub mod handler;
pub mod http;
pub mod settings;
pub mod similarity;
pub mod startup;
pub mod store;
pub mod validate;
