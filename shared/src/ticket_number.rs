//! Ticket numbers: `YYYYMMDD` (the day of receipt in the deployment's time zone) followed by that
//! day's serial, at least three digits (`20260315007`). Intake and the api's import both number
//! tickets, from the one counter table `ticket_serials`, so a number is never given twice.

use std::collections::HashMap;

use chrono::NaiveDate;
use sqlx::PgConnection;

/// The ticket number of `serial` on `day`.
pub fn format(day: NaiveDate, serial: i64) -> String {
    format!("{}{:03}", day.format("%Y%m%d"), serial)
}

/// Numbers for a batch of tickets, `days[i]` being the day of receipt of the i-th: one upsert per
/// distinct day takes that day's block of serials (in day order, so concurrent batches lock the
/// counter rows in the same order and never deadlock), and the block is handed out in batch order.
///
/// The counter rows stay locked until `conn`'s transaction ends: intake takes its blocks in a short
/// transaction of its own so batches never queue behind each other's whole transaction (a rolled-back
/// batch then leaves a gap: numbers are unique and increasing, not dense).
pub async fn allocate(conn: &mut PgConnection, days: &[NaiveDate]) -> Result<Vec<String>, sqlx::Error> {
    let mut per_day: Vec<(NaiveDate, i64)> = Vec::new();
    for day in days {
        match per_day.iter_mut().find(|(d, _)| d == day) {
            Some((_, n)) => *n += 1,
            None => per_day.push((*day, 1)),
        }
    }
    per_day.sort();
    let mut next: HashMap<NaiveDate, i64> = HashMap::new();
    for (day, count) in per_day {
        let last: i64 = sqlx::query_scalar(
            "insert into ticket_serials (day, last_serial) values ($1, $2)
             on conflict (day) do update set last_serial = ticket_serials.last_serial + excluded.last_serial
             returning last_serial",
        )
        .bind(day)
        .bind(count)
        .fetch_one(&mut *conn)
        .await?;
        next.insert(day, last - count + 1);
    }
    Ok(days
        .iter()
        .map(|day| {
            let serial = next.get_mut(day).expect("every day was allocated");
            let number = format(*day, *serial);
            *serial += 1;
            number
        })
        .collect())
}

/// The next number of `day` (one ticket).
pub async fn next(conn: &mut PgConnection, day: NaiveDate) -> Result<String, sqlx::Error> {
    let mut numbers = allocate(conn, &[day]).await?;
    Ok(numbers.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_the_day_and_a_padded_serial() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
        assert_eq!(format(day, 7), "20260315007");
        assert_eq!(format(day, 1234), "202603151234");
    }
}
