//! "Show me every clock of this ticket": first response, next contact, resolution, ... at once, with
//! elapsed and remaining business time computed now. The api can call this, or read the
//! `sla_ticket_clocks` view when it has no calendars at hand.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::clock::ClockView;
use crate::policy::SlaRules;
use crate::store::{self, StoreError};

/// All clocks of a ticket as of `now`, in clock order; empty when the SLA worker has not seen it.
pub async fn ticket_clocks(
    pool: &PgPool,
    rules: &SlaRules,
    ticket_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<ClockView>, StoreError> {
    let mut conn = pool.acquire().await?;
    let mut tickets = store::load(&mut conn, &[ticket_id]).await?;
    let Some(t) = tickets.remove(&ticket_id) else {
        return Ok(Vec::new());
    };
    Ok(t.sla
        .clocks
        .values()
        .map(|c| {
            c.view(
                now,
                rules.measure(c.basis, t.sla.attrs.department.as_deref()),
            )
        })
        .collect())
}
