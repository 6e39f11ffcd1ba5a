//! Ticket numbers: `YYYYMMDD` + the day's serial (`20231027001`), unique across every replica and every
//! writer (intake, the spreadsheet import).
//!
//! A day's block of serials is taken by one upsert per day in a short transaction of its own, outside
//! the caller's: the counter row is locked only until that commits, so a long writer (an import of
//! thousands of rows) never makes intake queue behind its whole transaction. The price is a gap in the
//! day's serials when the caller rolls back after taking its block; numbers stay unique and increasing,
//! not dense.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use sqlx::PgPool;

/// One ticket number per entry of `days`, in order (the same day repeated gets consecutive serials).
pub async fn allocate(pool: &PgPool, days: &[NaiveDate]) -> Result<Vec<String>, sqlx::Error> {
    // Sorted, so two writers taking several days lock them in one order and never wait in a cycle.
    let mut per_day: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for day in days {
        *per_day.entry(*day).or_default() += 1;
    }
    let block_days: Vec<NaiveDate> = per_day.keys().copied().collect();
    let counts: Vec<i64> = per_day.values().copied().collect();
    // One statement in a transaction of its own, committed without waiting for the WAL flush (the
    // local `synchronous_commit`, set in the same statement, holds until its commit): a block can only
    // be used by a transaction committed after it, and that commit's flush writes this one's WAL too.
    // A block lost in a crash was used by no committed ticket, so taking it again is harmless.
    let blocks: Vec<(NaiveDate, i64)> = sqlx::query_as(
        "insert into ticket_serials (day, last_serial)
         select b.day, b.count
         from unnest($1::date[], $2::int8[]) with ordinality as b(day, count, i),
              (select set_config('synchronous_commit', 'off', true)) as async_commit
         order by b.i
         on conflict (day) do update set last_serial = ticket_serials.last_serial + excluded.last_serial
         returning day, last_serial",
    )
    .bind(&block_days)
    .bind(&counts)
    .fetch_all(pool)
    .await?;
    let mut next: HashMap<NaiveDate, i64> = blocks
        .into_iter()
        .map(|(day, last)| (day, last - per_day.get(&day).copied().unwrap_or(0) + 1))
        .collect();
    Ok(days
        .iter()
        .map(|day| {
            let serial = next.entry(*day).or_insert(1);
            let number = format!("{}{:03}", day.format("%Y%m%d"), serial);
            *serial += 1;
            number
        })
        .collect())
}
