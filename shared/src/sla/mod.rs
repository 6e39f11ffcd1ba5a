//! The SLA rules (policy targets, department calendars, holidays and make-up working days) in one
//! definition: the SLA worker measures deadlines with them, and the setup store checks an admin's change
//! with the very same code before it is stored (`shared::setup`, kinds `sla` and `calendars`).

pub mod calendar;
pub mod policy;
