//! The idempotency record (docs/domain.md, invariant 2): a consumer claims a message's key in the same transaction
//! as the message's effect. A redelivered message finds its key taken and changes nothing.

use std::collections::HashSet;

use sqlx::PgConnection;

/// Claims `keys` for `consumer`; returns the keys that were not claimed before (the ones to apply).
/// Duplicates inside `keys` are claimed once.
pub async fn claim(
    conn: &mut PgConnection,
    consumer: &str,
    keys: &[String],
) -> Result<HashSet<String>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let claimed: Vec<String> = sqlx::query_scalar(
        "insert into processed_messages (consumer, key)
         select $1, k from unnest($2::text[]) as k
         on conflict do nothing
         returning key",
    )
    .bind(consumer)
    .bind(keys)
    .fetch_all(conn)
    .await?;
    Ok(claimed.into_iter().collect())
}
