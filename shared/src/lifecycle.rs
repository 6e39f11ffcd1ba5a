//! The ticket lifecycle, written once: the statuses, what people may do to a ticket and from which
//! status, what status that leads to, which permission it needs and whether a secondary department may
//! do it, and which timeline entry and lifecycle event it leaves (docs/domain.md, "Ticket lifecycle").
//!
//! The api checks every action against [`check`] and answers the allowed ones with [`allowed_actions`];
//! the router moves a new ticket with [`TicketStatus::after_classification`]; the survey worker reopens a
//! ticket with [`Action::Reopen`]'s rule like an agent does, clearing the same [`RESOLUTION_COLUMNS`].

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef, Postgres};

/// Where a ticket stands (`tickets.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Registered by intake, not yet classified.
    New,
    /// Classified with low confidence: waits for a quality inspector.
    NeedsReview,
    /// Routed to its department(s), being handled.
    Open,
    /// Paused until the customer supplies something; SLA clocks stop.
    WaitingOnCustomer,
    Resolved,
    /// Reopened after resolution (an unsatisfied survey answer or an agent's decision).
    Reopened,
    Archived,
}

use TicketStatus as S;

/// Statuses in which a ticket is being handled (not waiting, not resolved).
pub const HANDLING: &[TicketStatus] = &[S::New, S::NeedsReview, S::Open, S::Reopened];
const HANDLING_OR_WAITING: &[TicketStatus] = &[
    S::New,
    S::NeedsReview,
    S::Open,
    S::Reopened,
    S::WaitingOnCustomer,
];
const STEPS_FROM: &[TicketStatus] = &[
    S::New,
    S::NeedsReview,
    S::Open,
    S::Reopened,
    S::WaitingOnCustomer,
    S::Resolved,
];
const NOT_ARCHIVED: &[TicketStatus] = &[
    S::New,
    S::NeedsReview,
    S::Open,
    S::WaitingOnCustomer,
    S::Resolved,
    S::Reopened,
];
const RESOLVED: &[TicketStatus] = &[S::Resolved];
const RESOLVED_OR_ARCHIVED: &[TicketStatus] = &[S::Resolved, S::Archived];
const WAITING: &[TicketStatus] = &[S::WaitingOnCustomer];

impl TicketStatus {
    pub const ALL: [TicketStatus; 7] = [
        S::New,
        S::NeedsReview,
        S::Open,
        S::WaitingOnCustomer,
        S::Resolved,
        S::Reopened,
        S::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            S::New => "new",
            S::NeedsReview => "needs_review",
            S::Open => "open",
            S::WaitingOnCustomer => "waiting_on_customer",
            S::Resolved => "resolved",
            S::Reopened => "reopened",
            S::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<TicketStatus> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Being handled: not waiting on the customer, not resolved, not archived.
    pub fn is_handling(self) -> bool {
        HANDLING.contains(&self)
    }

    /// The router's edge: a classified ticket waits for review when the classification is unsure,
    /// otherwise a new (or reviewed) ticket opens; a reclassification leaves any other status as it is.
    pub fn after_classification(self, needs_review: bool) -> TicketStatus {
        match (needs_review, self) {
            (true, _) => S::NeedsReview,
            (false, S::New | S::NeedsReview) => S::Open,
            (false, other) => other,
        }
    }
}

/// Stored as its code in a `text` column.
impl sqlx::Type<Postgres> for TicketStatus {
    fn type_info() -> PgTypeInfo {
        <&str as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, Postgres> for TicketStatus {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as sqlx::Encode<Postgres>>::encode(self.as_str(), buf)
    }
}

impl sqlx::Decode<'_, Postgres> for TicketStatus {
    fn decode(value: PgValueRef<'_>) -> Result<Self, BoxDynError> {
        let code = <&str as sqlx::Decode<Postgres>>::decode(value)?;
        TicketStatus::parse(code).ok_or_else(|| format!("unknown ticket status {code:?}").into())
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The people of docs/domain.md "Roles".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 客服专员: records, first classification, handling, revisit — in their own department.
    Agent,
    /// 质检专员: reviews and corrects classification across departments, reads reports.
    Inspector,
    /// 部门主管: approves solutions, assigns owners, tracks progress — in their own department.
    Supervisor,
    /// Manages users and may do everything.
    Admin,
    /// Runs the services: aggregate reports and ops endpoints, no customer data.
    Ops,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Agent,
        Role::Inspector,
        Role::Supervisor,
        Role::Admin,
        Role::Ops,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Inspector => "inspector",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Ops => "ops",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Roles that see only their own department's tickets; inspectors and admins work across them.
    pub fn department_bound(self) -> bool {
        matches!(self, Role::Agent | Role::Supervisor)
    }
}

/// Everything a caller may ask for; [`allowed`] is the one place that maps roles to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Perm {
    ReadTickets,
    Handle,
    ChangePriority,
    Assign,
    Reclassify,
    Merge,
    Approve,
    ReviewReport,
    Archive,
    /// See a customer's name and phone unmasked (written to the timeline).
    Reveal,
    Import,
    ReadReports,
    ReadTicketReports,
    ManageUsers,
    /// Change the business's setup (taxonomy, departments, routes, deadlines, calendars, targets).
    ManageSetup,
    /// Train a classifier on the business's history and adopt it.
    TrainClassifier,
}

/// The permission matrix by role. What a department-bound role may do to a given ticket also depends
/// on its department's part in the ticket: see [`Relation`] and [`Scope`].
pub fn allowed(role: Role, perm: Perm) -> bool {
    use Perm::*;
    use Role::*;
    match perm {
        ReadTickets => matches!(role, Agent | Inspector | Supervisor | Admin),
        Handle | Merge | Archive | Reveal => matches!(role, Agent | Supervisor | Admin),
        ChangePriority => matches!(role, Agent | Inspector | Supervisor | Admin),
        Assign | Approve | ReviewReport | Import => matches!(role, Supervisor | Admin),
        Reclassify => matches!(role, Inspector | Supervisor | Admin),
        // Aggregates hold no customer data: ops may read them.
        ReadReports => matches!(role, Inspector | Supervisor | Admin | Ops),
        // Lists of tickets (overdue, unresolved) name customers' tickets and owners.
        ReadTicketReports => matches!(role, Inspector | Supervisor | Admin),
        ManageUsers | ManageSetup | TrainClassifier => role == Admin,
    }
}

/// How the caller's department stands to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// The caller's role is not bound to a department (inspector, admin, ops).
    Unbound,
    /// The caller's department leads the ticket.
    Lead,
    /// The caller's department is one of the ticket's departments, not the lead.
    Secondary,
    /// The ticket is none of the caller's department's business: it answers as if it did not exist.
    Unrelated,
}

impl Relation {
    /// A ticket not yet routed belongs to no department.
    pub fn of(
        role: Role,
        department: Option<&str>,
        lead: Option<&str>,
        departments: &[String],
    ) -> Relation {
        if !role.department_bound() {
            return Relation::Unbound;
        }
        let Some(mine) = department.filter(|d| !d.is_empty()) else {
            return Relation::Unrelated;
        };
        if lead == Some(mine) {
            Relation::Lead
        } else if departments.iter().any(|d| d == mine) {
            Relation::Secondary
        } else {
            Relation::Unrelated
        }
    }
}

/// Which departments of a ticket may take an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Any department the ticket names: work on its own part (notes, steps, contacts, reading).
    AnyDepartment,
    /// Only the lead department: decisions about the whole ticket.
    LeadDepartment,
}

/// What people do to a ticket. The code is stable: the console keys its buttons and labels on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Reply,
    Note,
    Step,
    Contact,
    Wait,
    Resume,
    Priority,
    Assign,
    Reclassify,
    Merge,
    Resolve,
    Approve,
    Review,
    Reopen,
    Archive,
    Supplement,
    Reveal,
}

/// The status an action leaves the ticket in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leads {
    /// The status does not change.
    Stays,
    To(TicketStatus),
    /// Back to the status the ticket had before it waited on the customer.
    BackFromWaiting,
}

/// One row of the lifecycle table.
#[derive(Debug)]
pub struct Rule {
    pub action: Action,
    /// `POST /v1/tickets/{id}/{path}`.
    pub path: &'static str,
    /// "cannot {verb} a ticket whose status is …".
    pub verb: &'static str,
    pub from: &'static [TicketStatus],
    pub leads: Leads,
    pub perm: Perm,
    pub scope: Scope,
    /// The kind of the timeline entry it appends.
    pub timeline: &'static str,
    /// The kind of the lifecycle event (`ticket.{kind}`) it publishes, if any.
    pub event: Option<&'static str>,
    /// Ticket columns the action resets to null.
    pub clears: &'static [&'static str],
}

/// Columns of `tickets` a resolution fills in: reopening clears them (the timeline keeps the old
/// values), so the ticket is resolved and reviewed anew.
pub const RESOLUTION_COLUMNS: &[&str] = &[
    "resolved_at",
    "resolution",
    "unresolved_reason",
    "first_contact_resolved",
    "report_reviewed_by",
    "report_reviewed_at",
];

// Each row of RULES reads across as one action: its path, verb, statuses, who leads, permission,
// scope, timeline entry and event. Named fields would make the table five times as long.
#[allow(clippy::too_many_arguments)]
const fn rule(
    action: Action,
    path: &'static str,
    verb: &'static str,
    from: &'static [TicketStatus],
    leads: Leads,
    perm: Perm,
    scope: Scope,
    timeline: &'static str,
    event: Option<&'static str>,
) -> Rule {
    Rule {
        action,
        path,
        verb,
        from,
        leads,
        perm,
        scope,
        timeline,
        event,
        clears: &[],
    }
}

use Scope::{AnyDepartment as Any, LeadDepartment as LeadOnly};

/// The lifecycle table, in [`Action`] order.
#[rustfmt::skip]
const RULES: [Rule; 17] = [
    //    action              path          verb                      from                 leads to                          permission            scope     timeline               event
    rule(Action::Reply,      "reply",      "reply to",               HANDLING_OR_WAITING, Leads::Stays,                     Perm::Handle,         LeadOnly, "replied",             Some("replied")),
    rule(Action::Note,       "notes",      "add a note to",          NOT_ARCHIVED,        Leads::Stays,                     Perm::Handle,         Any,      "note",                None),
    rule(Action::Step,       "steps",      "record a step on",       STEPS_FROM,          Leads::Stays,                     Perm::Handle,         Any,      "step",                None),
    rule(Action::Contact,    "contact",    "contact the customer of", HANDLING_OR_WAITING, Leads::Stays,                    Perm::Handle,         Any,      "contacted",           Some("contacted")),
    rule(Action::Wait,       "wait",       "wait on the customer for", HANDLING,          Leads::To(S::WaitingOnCustomer),  Perm::Handle,         LeadOnly, "waiting_on_customer", Some("waiting")),
    rule(Action::Resume,     "resume",     "resume",                 WAITING,             Leads::BackFromWaiting,           Perm::Handle,         LeadOnly, "resumed",             Some("resumed")),
    rule(Action::Priority,   "priority",   "change the priority of", HANDLING_OR_WAITING, Leads::Stays,                     Perm::ChangePriority, LeadOnly, "priority_changed",    Some("priority_changed")),
    rule(Action::Assign,     "assign",     "assign",                 NOT_ARCHIVED,        Leads::Stays,                     Perm::Assign,         LeadOnly, "assigned",            Some("assigned")),
    rule(Action::Reclassify, "reclassify", "reclassify",             NOT_ARCHIVED,        Leads::Stays,                     Perm::Reclassify,     LeadOnly, "reclassify_requested", None),
    rule(Action::Merge,      "merge",      "merge",                  HANDLING_OR_WAITING, Leads::To(S::Archived),           Perm::Merge,          LeadOnly, "merged",              Some("archived")),
    rule(Action::Resolve,    "resolve",    "resolve",                HANDLING_OR_WAITING, Leads::To(S::Resolved),           Perm::Handle,         LeadOnly, "resolved",            Some("resolved")),
    rule(Action::Approve,    "approve",    "approve a solution of",  NOT_ARCHIVED,        Leads::Stays,                     Perm::Approve,        LeadOnly, "solution_approved",   None),
    rule(Action::Review,     "review",     "review the report of",   RESOLVED_OR_ARCHIVED, Leads::Stays,                    Perm::ReviewReport,   LeadOnly, "report_reviewed",     None),
    Rule { clears: RESOLUTION_COLUMNS,
      ..rule(Action::Reopen, "reopen",     "reopen",                 RESOLVED,            Leads::To(S::Reopened),           Perm::Handle,         LeadOnly, "reopened",            Some("reopened")) },
    rule(Action::Archive,    "archive",    "archive",                RESOLVED,            Leads::To(S::Archived),           Perm::Archive,        LeadOnly, "archived",            Some("archived")),
    rule(Action::Supplement, "supplement", "supplement the information of", HANDLING_OR_WAITING, Leads::Stays,              Perm::Handle,         LeadOnly, "supplemented",        None),
    rule(Action::Reveal,     "reveal",     "reveal the customer of", TicketStatus::ALL.as_slice(), Leads::Stays,            Perm::Reveal,         Any,      "revealed",            None),
];

impl Action {
    pub const ALL: [Action; 17] = [
        Action::Reply,
        Action::Note,
        Action::Step,
        Action::Contact,
        Action::Wait,
        Action::Resume,
        Action::Priority,
        Action::Assign,
        Action::Reclassify,
        Action::Merge,
        Action::Resolve,
        Action::Approve,
        Action::Review,
        Action::Reopen,
        Action::Archive,
        Action::Supplement,
        Action::Reveal,
    ];

    /// This action's row of the lifecycle table.
    pub fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }

    /// The stable code, e.g. `reply`.
    pub fn code(self) -> &'static str {
        match self {
            Action::Reply => "reply",
            Action::Note => "note",
            Action::Step => "step",
            Action::Contact => "contact",
            Action::Wait => "wait",
            Action::Resume => "resume",
            Action::Priority => "priority",
            Action::Assign => "assign",
            Action::Reclassify => "reclassify",
            Action::Merge => "merge",
            Action::Resolve => "resolve",
            Action::Approve => "approve",
            Action::Review => "review",
            Action::Reopen => "reopen",
            Action::Archive => "archive",
            Action::Supplement => "supplement",
            Action::Reveal => "reveal",
        }
    }

    pub fn parse(code: &str) -> Option<Action> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }

    /// The status after this action, from `current` (`before_wait`: the status the ticket had before
    /// it started waiting on the customer, if it waits).
    pub fn next_status(
        self,
        current: TicketStatus,
        before_wait: Option<TicketStatus>,
    ) -> TicketStatus {
        match self.rule().leads {
            Leads::Stays => current,
            Leads::To(s) => s,
            Leads::BackFromWaiting => before_wait.filter(|s| s.is_handling()).unwrap_or(S::Open),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What, besides its status, decides whether an action makes sense on a ticket now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketFacts {
    pub status: TicketStatus,
    /// A solution was proposed (step 4).
    pub solution_proposed: bool,
    pub solution_approved: bool,
    pub report_reviewed: bool,
}

impl TicketFacts {
    pub fn new(status: TicketStatus) -> Self {
        TicketFacts {
            status,
            solution_proposed: false,
            solution_approved: false,
            report_reviewed: false,
        }
    }
}

/// Why an action is refused, in the order they are checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("role {} may not {} tickets", .role.as_str(), .action.code())]
    Role { role: Role, action: Action },
    /// Answered exactly like a ticket that does not exist, so ticket numbers cannot be probed.
    #[error("ticket not found")]
    NotFound,
    #[error("only the lead department may {} a ticket", .action.rule().verb)]
    Department { action: Action },
    #[error("cannot {} a ticket whose status is {status}", .action.rule().verb)]
    Status {
        action: Action,
        status: TicketStatus,
    },
    /// The status allows the action but the ticket's state does not (e.g. nothing to approve).
    #[error("{message}")]
    State {
        code: &'static str,
        message: &'static str,
    },
}

/// Whether `role`, standing to the ticket as `relation`, may take `action` on it now.
pub fn check(
    action: Action,
    role: Role,
    relation: Relation,
    facts: &TicketFacts,
) -> Result<(), Refusal> {
    let rule = action.rule();
    if !allowed(role, rule.perm) {
        return Err(Refusal::Role { role, action });
    }
    match relation {
        Relation::Unrelated => return Err(Refusal::NotFound),
        Relation::Secondary if rule.scope == Scope::LeadDepartment => {
            return Err(Refusal::Department { action })
        }
        _ => {}
    }
    if !rule.from.contains(&facts.status) {
        return Err(Refusal::Status {
            action,
            status: facts.status,
        });
    }
    match action {
        Action::Approve if !facts.solution_proposed => Err(Refusal::State {
            code: "no_solution",
            message: "no solution has been proposed (step 4)",
        }),
        Action::Approve if facts.solution_approved => Err(Refusal::State {
            code: "already_approved",
            message: "the solution is already approved",
        }),
        Action::Review if facts.report_reviewed => Err(Refusal::State {
            code: "already_reviewed",
            message: "the report is already reviewed",
        }),
        _ => Ok(()),
    }
}

/// Every action `role` may take on the ticket now, in table order: exactly the console's buttons.
pub fn allowed_actions(role: Role, relation: Relation, facts: &TicketFacts) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| check(*a, role, relation, facts).is_ok())
        .collect()
}

/// The eight handling steps of docs/domain.md; each records owner, start, end, result and remark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandlingStep {
    Intake = 1,
    ConfirmInformation,
    Analyse,
    ProposeSolution,
    Implement,
    ConfirmResolution,
    Revisit,
    Archive,
}

impl HandlingStep {
    pub const ALL: [HandlingStep; 8] = [
        HandlingStep::Intake,
        HandlingStep::ConfirmInformation,
        HandlingStep::Analyse,
        HandlingStep::ProposeSolution,
        HandlingStep::Implement,
        HandlingStep::ConfirmResolution,
        HandlingStep::Revisit,
        HandlingStep::Archive,
    ];

    pub fn from_number(n: u8) -> Option<HandlingStep> {
        Self::ALL.into_iter().find(|s| s.number() == n)
    }

    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn code(self) -> &'static str {
        match self {
            HandlingStep::Intake => "intake",
            HandlingStep::ConfirmInformation => "confirm_information",
            HandlingStep::Analyse => "analyse",
            HandlingStep::ProposeSolution => "propose_solution",
            HandlingStep::Implement => "implement",
            HandlingStep::ConfirmResolution => "confirm_resolution",
            HandlingStep::Revisit => "revisit",
            HandlingStep::Archive => "archive",
        }
    }

    /// The action that records the step: confirming the resolution is resolving, step 8 is archiving.
    pub fn recorded_by(self) -> Action {
        match self {
            HandlingStep::ConfirmResolution => Action::Resolve,
            HandlingStep::Archive => Action::Archive,
            _ => Action::Step,
        }
    }

    /// Statuses a step recorded through [`Action::Step`] may be recorded in: the revisit comes after the
    /// resolution, every other step while the ticket is handled.
    pub fn allowed_from(self) -> &'static [TicketStatus] {
        match self {
            HandlingStep::Revisit => RESOLVED,
            HandlingStep::ConfirmResolution | HandlingStep::Archive => {
                self.recorded_by().rule().from
            }
            _ => HANDLING_OR_WAITING,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_action_order_and_codes_round_trip() {
        for a in Action::ALL {
            assert_eq!(a.rule().action, a, "RULES is in Action order");
            assert_eq!(Action::parse(a.code()), Some(a));
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(json, format!("\"{}\"", a.code()));
        }
        for s in TicketStatus::ALL {
            assert_eq!(TicketStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn events_name_lifecycle_change_kinds() {
        use crate::messages::lifecycle::LifecycleChange as C;
        let kinds = [
            C::Replied { first: true }.kind(),
            C::Contacted.kind(),
            C::WaitingOnCustomer { reason: None }.kind(),
            C::Resumed.kind(),
            C::Archived.kind(),
            C::Reopened { reason: None }.kind(),
        ];
        for a in Action::ALL {
            if let Some(e) = a.rule().event {
                assert!(
                    kinds.contains(&e) || ["priority_changed", "assigned", "resolved"].contains(&e),
                    "{a}: {e} is a LifecycleChange kind"
                );
            }
        }
    }

    #[test]
    fn a_resolved_ticket_is_reopened_reviewed_revisited_or_archived() {
        let facts = TicketFacts::new(S::Resolved);
        let actions = allowed_actions(Role::Supervisor, Relation::Lead, &facts);
        assert_eq!(
            actions,
            [
                Action::Note,
                Action::Step,
                Action::Assign,
                Action::Reclassify,
                Action::Review,
                Action::Reopen,
                Action::Archive,
                Action::Reveal
            ]
        );
        assert_eq!(Action::Reopen.next_status(S::Resolved, None), S::Reopened);
        assert_eq!(Action::Reopen.rule().clears, RESOLUTION_COLUMNS);
    }

    #[test]
    fn a_secondary_department_works_on_its_part_only() {
        let facts = TicketFacts {
            solution_proposed: true,
            ..TicketFacts::new(S::Open)
        };
        assert_eq!(
            allowed_actions(Role::Supervisor, Relation::Secondary, &facts),
            [Action::Note, Action::Step, Action::Contact, Action::Reveal]
        );
        assert_eq!(
            check(
                Action::Assign,
                Role::Supervisor,
                Relation::Secondary,
                &facts
            ),
            Err(Refusal::Department {
                action: Action::Assign
            })
        );
        assert_eq!(
            check(Action::Note, Role::Agent, Relation::Unrelated, &facts),
            Err(Refusal::NotFound)
        );
        // Inspectors and admins are not bound to a department.
        assert!(allowed_actions(Role::Inspector, Relation::Unbound, &facts)
            .contains(&Action::Reclassify));
        assert!(allowed_actions(Role::Ops, Relation::Unbound, &facts).is_empty());
    }

    #[test]
    fn waiting_returns_to_the_status_before() {
        assert_eq!(
            Action::Resume.next_status(S::WaitingOnCustomer, Some(S::Reopened)),
            S::Reopened
        );
        assert_eq!(
            Action::Resume.next_status(S::WaitingOnCustomer, Some(S::Resolved)),
            S::Open
        );
        assert_eq!(
            Action::Resume.next_status(S::WaitingOnCustomer, None),
            S::Open
        );
        assert_eq!(
            Action::Wait.next_status(S::Open, None),
            S::WaitingOnCustomer
        );
    }

    #[test]
    fn classification_opens_new_tickets_only() {
        assert_eq!(S::New.after_classification(false), S::Open);
        assert_eq!(S::NeedsReview.after_classification(false), S::Open);
        assert_eq!(S::New.after_classification(true), S::NeedsReview);
        assert_eq!(S::Resolved.after_classification(false), S::Resolved);
    }

    #[test]
    fn approval_and_review_need_something_to_approve_or_review() {
        let open = TicketFacts::new(S::Open);
        assert!(matches!(
            check(Action::Approve, Role::Supervisor, Relation::Lead, &open),
            Err(Refusal::State {
                code: "no_solution",
                ..
            })
        ));
        let proposed = TicketFacts {
            solution_proposed: true,
            ..open
        };
        assert!(check(Action::Approve, Role::Supervisor, Relation::Lead, &proposed).is_ok());
        let reviewed = TicketFacts {
            report_reviewed: true,
            ..TicketFacts::new(S::Resolved)
        };
        assert!(matches!(
            check(Action::Review, Role::Admin, Relation::Unbound, &reviewed),
            Err(Refusal::State {
                code: "already_reviewed",
                ..
            })
        ));
    }
}
