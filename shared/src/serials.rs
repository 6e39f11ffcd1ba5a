//! Ticket numbers: `YYYYMMDD` + the day's serial (`20231027001`), unique across every replica and every
//! writer (intake, the spreadsheet import).
//!
//! A day's block of serials is taken by one upsert per day in a short transaction of its own, outside
//! the caller's: the counter row is locked only until that commits, so a long writer (an import of
//! thousands of rows) never makes intake queue behind its whole transaction. The price is a gap in the
//! day's serials when the caller rolls back after taking its block; numbers stay unique and increasing,
//! not dense.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::PgPool;

/// One ticket number per entry of `days`, in order (the same day repeated gets consecutive serials).
pub async fn allocate(pool: &PgPool, days: &[NaiveDate]) -> Result<Vec<String>, sqlx::Error> {
    let mut per_day: Vec<(NaiveDate, i64)> = Vec::new();
    for day in days {
        match per_day.iter_mut().find(|(d, _)| d == day) {
            Some((_, n)) => *n += 1,
            None => per_day.push((*day, 1)),
        }
    }
    // A fixed order, so two writers taking several days never wait on each other in a cycle.
    per_day.sort();
    let mut next: HashMap<NaiveDate, i64> = HashMap::new();
    // Committed without waiting for the WAL flush: a block can only be used by a transaction committed
    // after it, and that commit's flush writes this one's WAL too. A block lost in a crash was used by no
    // committed ticket, so taking it again is harmless.
    let mut tx = pool
        .begin_with("begin; set local synchronous_commit = off")
        .await?;
    for (day, count) in per_day {
        let last: i64 = sqlx::query_scalar(
            "insert into ticket_serials (day, last_serial) values ($1, $2)
             on conflict (day) do update set last_serial = ticket_serials.last_serial + excluded.last_serial
             returning last_serial",
        )
        .bind(day)
        .bind(count)
        .fetch_one(&mut *tx)
        .await?;
        next.insert(day, last - count + 1);
    }
    tx.commit().await?;
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
