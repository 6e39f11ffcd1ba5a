//! Committing a batch of submissions: tickets, their first timeline entries, stored rejections and the
//! outbox events, all in one transaction (docs/domain.md, invariants 1 and 9).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use shared::messages::feedback::{FeedbackRejected, FeedbackSubmission};
use shared::messages::ticket::{CustomerHistory, IvrSummary, MaskedCustomer, TicketCreated};
use shared::messages::SCHEMA_VERSION;
use shared::outbox::{self, OutboxError, OutboxMessage};
use shared::pii;
use shared::subjects::Subjects;
use shared::timeline::{self, TimelineEntry};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::settings::IntakeSettings;
use crate::similarity::{shingles, similarity};
use crate::validate::{normalize_phone, Rejection};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    /// A batch this submission was part of failed (the error as that batch saw it).
    #[error("{0}")]
    Failed(String),
}

impl StoreError {
    /// The database refused a value (rather than being unreachable): one submission may be at fault.
    pub fn is_data_error(&self) -> bool {
        matches!(
            self,
            StoreError::Db(sqlx::Error::Database(_))
                | StoreError::Outbox(OutboxError::Db(sqlx::Error::Database(_)))
        )
    }
}

impl From<StoreError> for shared::consumer::BatchError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(e) => e.into(),
            StoreError::Outbox(e) => e.into(),
            StoreError::Failed(message) => shared::consumer::BatchError::transient(message),
        }
    }
}

/// One received submission, valid or not, with what must be kept of it.
#[derive(Debug, Clone)]
pub struct Received {
    pub raw: Vec<u8>,
    /// `bus:<subject>` or `http`.
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub parsed: Result<FeedbackSubmission, Rejection>,
}

/// What became of a submission.
#[derive(Debug, Clone, PartialEq)]
pub enum Registered {
    /// A new ticket.
    Created {
        ticket_id: Uuid,
        ticket_no: String,
        likely_duplicate_of: Option<String>,
    },
    /// A retry of a submission that already has a ticket: the same ticket, never a second one.
    AlreadyRegistered { ticket_id: Uuid, ticket_no: String },
    Rejected {
        rejection_id: Uuid,
        rejection: Rejection,
    },
}

/// Writes batches of submissions.
#[derive(Clone)]
pub struct TicketStore {
    pool: PgPool,
    subjects: Subjects,
    tz: Tz,
    settings: IntakeSettings,
}

/// A valid submission on its way to becoming a ticket.
struct Draft<'a> {
    index: usize,
    submission: &'a FeedbackSubmission,
    received_at: DateTime<Utc>,
    phone: Option<String>,
    description: String,
    ticket_id: Uuid,
}

impl TicketStore {
    pub fn new(pool: PgPool, subjects: Subjects, tz: Tz, settings: IntakeSettings) -> Self {
        Self {
            pool,
            subjects,
            tz,
            settings,
        }
    }

    /// Registers a batch in one transaction; the answer is in the batch's order.
    ///
    /// A call holds at most one pooled connection at any moment: the look-up of earlier registrations
    /// and the block of ticket numbers each take a connection and give it back before the batch's
    /// transaction begins. A transaction that waited for a second connection of the same pool would
    /// deadlock the pool as soon as as many calls run at once as it has connections (each holding one,
    /// all waiting for another).
    pub async fn register(&self, batch: &[Received]) -> Result<Vec<Registered>, StoreError> {
        let mut results: Vec<Option<Registered>> = vec![None; batch.len()];
        let mut events: Vec<OutboxMessage> = Vec::new();

        // A submission repeated inside the batch, or already registered before, is the same ticket.
        let mut first_of_key: HashMap<(&str, &str), usize> = HashMap::new();
        let mut drafts: Vec<Draft<'_>> = Vec::new();
        let mut repeats: Vec<(usize, usize)> = Vec::new();
        let redacted: Vec<Option<FeedbackSubmission>> = batch
            .iter()
            .map(|item| item.parsed.as_ref().ok().map(redact))
            .collect();
        for (index, (item, submission)) in batch.iter().zip(&redacted).enumerate() {
            let Some(submission) = submission else {
                continue;
            };
            let key = (submission.channel.as_str(), submission.external_id.as_str());
            if let Some(&first) = first_of_key.get(&key) {
                repeats.push((index, first));
                continue;
            }
            first_of_key.insert(key, index);
            let raw_description = submission
                .description
                .clone()
                .or_else(|| submission.ivr.as_ref().and_then(|i| i.speech_text.clone()))
                .unwrap_or_else(|| ivr_description(submission));
            drafts.push(Draft {
                index,
                submission,
                received_at: item.received_at,
                phone: submission
                    .customer
                    .phone
                    .as_deref()
                    .and_then(normalize_phone),
                description: pii::redact_text(&raw_description).0,
                ticket_id: Uuid::now_v7(),
            });
        }

        // Outside the transaction: a registration committed by another replica after this look-up is
        // caught by the insert's conflict clause below.
        let existing = {
            let mut conn = self.pool.acquire().await?;
            existing_tickets(&mut conn, &drafts).await?
        };
        drafts.retain(|d| {
            let key = (
                d.submission.channel.as_str().to_string(),
                d.submission.external_id.clone(),
            );
            match existing.get(&key) {
                Some((ticket_id, ticket_no)) => {
                    results[d.index] = Some(Registered::AlreadyRegistered {
                        ticket_id: *ticket_id,
                        ticket_no: ticket_no.clone(),
                    });
                    false
                }
                None => true,
            }
        });
        let numbers = if drafts.is_empty() {
            Vec::new()
        } else {
            self.allocate_numbers(&drafts).await?
        };

        let mut tx = self
            .pool
            .begin_with(begin_locking_customers(&drafts))
            .await?;
        self.store_rejections(&mut tx, batch, &mut results, &mut events)
            .await?;
        if !drafts.is_empty() {
            let mut history = self.history(&mut tx, &drafts).await?;
            resolve_batch_refs(&mut history, &numbers);
            let inserted = insert_tickets(&mut tx, &drafts, &numbers, &history).await?;
            let mut entries = Vec::new();
            for (i, draft) in drafts.iter().enumerate() {
                let ticket_no = &numbers[i];
                if !inserted.contains(&draft.ticket_id) {
                    // Another replica registered the same submission between our look-up and insert.
                    let (ticket_id, ticket_no) = lookup(&mut tx, draft.submission).await?;
                    results[draft.index] = Some(Registered::AlreadyRegistered {
                        ticket_id,
                        ticket_no,
                    });
                    continue;
                }
                let h = &history[i];
                let created = ticket_created(draft, ticket_no, h);
                entries.push(TimelineEntry {
                    ticket_id: draft.ticket_id,
                    kind: "registered".into(),
                    actor: "worker:intake".into(),
                    at: draft.received_at,
                    data: serde_json::json!({
                        "step": 1,
                        "channel": draft.submission.channel,
                        "submitted_at": draft.submission.submitted_at,
                        "previous_tickets": h.previous_tickets,
                        "likely_duplicate_of": h.likely_duplicate_of,
                    }),
                });
                events.push(OutboxMessage::json(
                    self.subjects.ticket_created(),
                    &created,
                )?);
                results[draft.index] = Some(Registered::Created {
                    ticket_id: draft.ticket_id,
                    ticket_no: ticket_no.clone(),
                    likely_duplicate_of: h.likely_duplicate_of.clone(),
                });
            }
            timeline::append(&mut tx, &entries).await?;
        }
        for (index, first) in repeats {
            results[index] = match &results[first] {
                Some(Registered::Created {
                    ticket_id,
                    ticket_no,
                    ..
                })
                | Some(Registered::AlreadyRegistered {
                    ticket_id,
                    ticket_no,
                }) => Some(Registered::AlreadyRegistered {
                    ticket_id: *ticket_id,
                    ticket_no: ticket_no.clone(),
                }),
                other => other.clone(),
            };
        }
        outbox::enqueue(&mut tx, &events).await?;
        tx.commit().await?;
        metrics::counter!("loopdesk_intake_tickets_total").increment(
            results
                .iter()
                .filter(|r| matches!(r, Some(Registered::Created { .. })))
                .count() as u64,
        );
        Ok(results
            .into_iter()
            .map(|r| r.expect("every submission of the batch has a result"))
            .collect())
    }

    async fn store_rejections(
        &self,
        tx: &mut PgConnection,
        batch: &[Received],
        results: &mut [Option<Registered>],
        events: &mut Vec<OutboxMessage>,
    ) -> Result<(), StoreError> {
        let rejected: Vec<(usize, &Received, &Rejection)> = batch
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.parsed.as_ref().err().map(|rej| (i, r, rej)))
            .collect();
        if rejected.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::new();
        for (index, item, rejection) in &rejected {
            let id = Uuid::now_v7();
            ids.push(id);
            results[*index] = Some(Registered::Rejected {
                rejection_id: id,
                rejection: (*rejection).clone(),
            });
            let event = FeedbackRejected {
                schema_version: SCHEMA_VERSION,
                rejection_id: id,
                channel: rejection.channel.clone(),
                external_id: rejection.external_id.clone(),
                reason: rejection.reason,
                field: rejection.field.clone(),
                message: rejection.message.clone(),
                received_at: item.received_at,
            };
            events.push(OutboxMessage::json(
                self.subjects.feedback_rejected(&rejection.channel),
                &event,
            )?);
        }
        // The raw bytes are kept as received (capped at the payload limit so a flood cannot fill the disk).
        let cap = self.settings.max_payload_bytes;
        let raws: Vec<&[u8]> = rejected
            .iter()
            .map(|(_, r, _)| &r.raw[..r.raw.len().min(cap)])
            .collect();
        let channels: Vec<&str> = rejected
            .iter()
            .map(|(_, _, j)| j.channel.as_str())
            .collect();
        let external: Vec<Option<&str>> = rejected
            .iter()
            .map(|(_, _, j)| j.external_id.as_deref())
            .collect();
        let reasons: Vec<&str> = rejected.iter().map(|(_, _, j)| j.reason.as_str()).collect();
        let fields: Vec<Option<&str>> = rejected
            .iter()
            .map(|(_, _, j)| j.field.as_deref())
            .collect();
        let messages: Vec<String> = rejected
            .iter()
            .map(|(_, r, j)| {
                if r.raw.len() > cap {
                    format!(
                        "{} (stored truncated to {cap} of {} bytes)",
                        j.message,
                        r.raw.len()
                    )
                } else {
                    j.message.clone()
                }
            })
            .collect();
        let sources: Vec<&str> = rejected.iter().map(|(_, r, _)| r.source.as_str()).collect();
        let received: Vec<DateTime<Utc>> = rejected.iter().map(|(_, r, _)| r.received_at).collect();
        sqlx::query(
            "insert into rejected_submissions (id, channel, external_id, reason, field, message, raw, source, received_at)
             select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::text[], $9::timestamptz[])",
        )
        .bind(&ids)
        .bind(&channels)
        .bind(&external)
        .bind(&reasons)
        .bind(&fields)
        .bind(&messages)
        .bind(&raws)
        .bind(&sources)
        .bind(&received)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }

    /// Ticket numbers `YYYYMMDD` + serial per day of receipt in the configured time zone.
    ///
    /// The days' blocks of serials are taken by upserts in a short transaction of their own, outside the
    /// batch's: the counter rows are locked until that commits only, so concurrent batches and replicas
    /// never queue behind each other's whole transaction, and never share a number. The price is
    /// a gap in the day's serials when a batch rolls back after taking its block (the retry takes a new
    /// one); numbers stay unique and increasing, not dense.
    async fn allocate_numbers(&self, drafts: &[Draft<'_>]) -> Result<Vec<String>, StoreError> {
        let days: Vec<NaiveDate> = drafts
            .iter()
            .map(|d| d.received_at.with_timezone(&self.tz).date_naive())
            .collect();
        Ok(shared::serials::allocate(&self.pool, &days).await?)
    }

    /// Earlier tickets of the same customer (id or phone), and the most similar recent one.
    ///
    /// One statement for the whole batch, run after the batch's `begin` has locked its customers
    /// ([`begin_locking_customers`]; a statement's snapshot is taken when it starts, so it sees what a
    /// concurrent batch of the same customer committed): per draft, the all-time count of the
    /// customer's tickets and the customer's own tickets of the duplicate window, newest first.
    async fn history(
        &self,
        tx: &mut PgConnection,
        drafts: &[Draft<'_>],
    ) -> Result<Vec<CustomerHistory>, StoreError> {
        let window = chrono::Duration::hours(self.settings.duplicate_window_hours);
        let customer_ids: Vec<Option<&str>> = drafts
            .iter()
            .map(|d| d.submission.customer.id.as_deref())
            .collect();
        let phones: Vec<Option<&str>> = drafts.iter().map(|d| d.phone.as_deref()).collect();
        let since: Vec<DateTime<Utc>> = drafts
            .iter()
            .map(|d| d.submission.submitted_at - window)
            .collect();
        let found: Vec<(i64, sqlx::types::Json<Vec<EarlierTicket>>)> = sqlx::query_as(
            // Index look-ups by id and by phone, never one `or` (which would scan the table per draft).
            "select (select count(*) from tickets t where t.customer_id = k.cid)
                  + (select count(*) from tickets t
                     where t.customer_phone = k.phone and t.customer_id is distinct from k.cid),
                    coalesce((select jsonb_agg(jsonb_build_object('ticket_no', e.ticket_no, 'description', e.description)
                                      order by e.submitted_at desc) from (
                        select ticket_no, description, submitted_at from tickets t
                        where t.customer_id = k.cid and t.submitted_at >= k.since
                        union
                        select ticket_no, description, submitted_at from tickets t
                        where t.customer_phone = k.phone and t.submitted_at >= k.since
                        order by submitted_at desc limit $4) e), '[]')
             from unnest($1::text[], $2::text[], $3::timestamptz[]) with ordinality as k(cid, phone, since, i)
             order by k.i",
        )
        .bind(&customer_ids)
        .bind(&phones)
        .bind(&since)
        .bind(EARLIER_COMPARED_PER_SUBMISSION)
        .fetch_all(&mut *tx)
        .await?;
        // A batch may bring one customer's ticket for several drafts: its bigrams are built once.
        let mut earlier_shingles: HashMap<&str, HashSet<(char, char)>> = HashMap::new();
        let draft_shingles: Vec<_> = drafts.iter().map(|d| shingles(&d.description)).collect();
        let same_customer = |other: &Draft<'_>, d: &Draft<'_>| {
            let id = other.submission.customer.id.as_deref();
            let phone = other.phone.as_deref();
            (id.is_some() && id == d.submission.customer.id.as_deref())
                || (phone.is_some() && phone == d.phone.as_deref())
        };
        let mut out = Vec::with_capacity(drafts.len());
        for (i, d) in drafts.iter().enumerate() {
            let (mut previous, earlier) = found
                .get(i)
                .map(|(count, earlier)| (*count, earlier.0.as_slice()))
                .unwrap_or((0, &[]));
            let mut best: Option<(f32, String)> = None;
            let mut consider = |score: f32, no: &str| {
                if score >= self.settings.duplicate_similarity
                    && best.as_ref().is_none_or(|(s, _)| score > *s)
                {
                    best = Some((score, no.to_string()));
                }
            };
            for e in earlier {
                let theirs = earlier_shingles
                    .entry(e.ticket_no.as_str())
                    .or_insert_with(|| shingles(&e.description));
                consider(similarity(&draft_shingles[i], theirs), &e.ticket_no);
            }
            // Earlier submissions of the same batch count too; their numbers are not known yet, so the
            // duplicate is named by the earlier draft's position and resolved below.
            for (j, other) in drafts[..i].iter().enumerate() {
                if same_customer(other, d) {
                    previous += 1;
                    if other.submission.submitted_at >= d.submission.submitted_at - window {
                        consider(
                            similarity(&draft_shingles[i], &draft_shingles[j]),
                            &format!("#{j}"),
                        );
                    }
                }
            }
            out.push(CustomerHistory {
                previous_tickets: previous,
                likely_duplicate_of: best.as_ref().map(|(_, no)| no.clone()),
                duplicate_similarity: best.map(|(s, _)| s),
            });
        }
        Ok(out)
    }
}

/// The most recent tickets of a customer's duplicate window compared with a new submission: a customer
/// with more tickets than this in the window is flooding, and comparing every one would let a flood
/// make each batch slower.
const EARLIER_COMPARED_PER_SUBMISSION: i64 = 200;

/// A customer's earlier ticket, as the duplicate check compares a new one with it.
#[derive(serde::Deserialize)]
struct EarlierTicket {
    ticket_no: String,
    description: String,
}

/// Replaces in-batch duplicate references (`#j`) with the earlier draft's ticket number.
fn resolve_batch_refs(history: &mut [CustomerHistory], numbers: &[String]) {
    for h in history.iter_mut() {
        if let Some(r) = h
            .likely_duplicate_of
            .as_deref()
            .and_then(|s| s.strip_prefix('#'))
        {
            h.likely_duplicate_of = r
                .parse::<usize>()
                .ok()
                .and_then(|j| numbers.get(j).cloned());
        }
    }
}

/// The batch's `begin`, which also serialises concurrent batches that share a customer (by id or phone)
/// until commit, so the later one sees the earlier one's tickets in its history and duplicate check: two
/// quick submissions of one customer landing in two lanes or replicas must still find each other.
/// Batches of different customers never wait. Locks are taken in one sorted order, so two batches
/// cannot deadlock on them.
///
/// One round trip with the `begin`: the keys are numbers computed here (a hash of the customer id or
/// phone), so no text a customer typed is written into the statement.
fn begin_locking_customers(drafts: &[Draft<'_>]) -> String {
    let keys: BTreeSet<i64> = drafts
        .iter()
        .flat_map(|d| {
            let id = d.submission.customer.id.as_deref().map(|c| ("customer", c));
            let phone = d.phone.as_deref().map(|p| ("phone", p));
            id.into_iter().chain(phone)
        })
        .map(|(kind, value)| {
            let digest = Sha256::new()
                .chain_update(kind)
                .chain_update([0])
                .chain_update(value)
                .finalize();
            i64::from_be_bytes(digest[..8].try_into().expect("a digest has 8 bytes"))
        })
        .collect();
    if keys.is_empty() {
        return "begin".into();
    }
    let keys: Vec<String> = keys.iter().map(i64::to_string).collect();
    format!(
        "begin; select count(pg_advisory_xact_lock(k)) from unnest('{{{}}}'::int8[]) k",
        keys.join(",")
    )
}

async fn existing_tickets(
    tx: &mut PgConnection,
    drafts: &[Draft<'_>],
) -> Result<HashMap<(String, String), (Uuid, String)>, StoreError> {
    if drafts.is_empty() {
        return Ok(HashMap::new());
    }
    let channels: Vec<&str> = drafts
        .iter()
        .map(|d| d.submission.channel.as_str())
        .collect();
    let external: Vec<&str> = drafts
        .iter()
        .map(|d| d.submission.external_id.as_str())
        .collect();
    let rows: Vec<(String, String, Uuid, String)> = sqlx::query_as(
        "select t.channel, t.external_id, t.id, t.ticket_no from tickets t
         join unnest($1::text[], $2::text[]) as k(channel, external_id)
           on t.channel = k.channel and t.external_id = k.external_id",
    )
    .bind(&channels)
    .bind(&external)
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(c, e, id, no)| ((c, e), (id, no)))
        .collect())
}

async fn lookup(
    tx: &mut PgConnection,
    s: &FeedbackSubmission,
) -> Result<(Uuid, String), StoreError> {
    Ok(
        sqlx::query_as("select id, ticket_no from tickets where channel = $1 and external_id = $2")
            .bind(s.channel.as_str())
            .bind(&s.external_id)
            .fetch_one(&mut *tx)
            .await?,
    )
}

/// Inserts every draft in one statement; returns the ids that went in (a conflicting retry does not).
async fn insert_tickets(
    tx: &mut PgConnection,
    drafts: &[Draft<'_>],
    numbers: &[String],
    history: &[CustomerHistory],
) -> Result<HashSet<Uuid>, StoreError> {
    let col = |f: &dyn Fn(&Draft<'_>) -> Option<String>| {
        drafts.iter().map(f).collect::<Vec<Option<String>>>()
    };
    let ids: Vec<Uuid> = drafts.iter().map(|d| d.ticket_id).collect();
    let channels = col(&|d| Some(d.submission.channel.as_str().to_string()));
    let external = col(&|d| Some(d.submission.external_id.clone()));
    let submitted: Vec<DateTime<Utc>> = drafts.iter().map(|d| d.submission.submitted_at).collect();
    let received: Vec<DateTime<Utc>> = drafts.iter().map(|d| d.received_at).collect();
    let ips = col(&|d| d.submission.client_ip.clone());
    let customer_ids = col(&|d| d.submission.customer.id.clone());
    let names = col(&|d| d.submission.customer.name.clone());
    let phones = col(&|d| d.phone.clone());
    let emails = col(&|d| d.submission.customer.email.clone());
    let types = col(&|d| {
        d.submission.customer.customer_type.map(|t| {
            serde_json::to_value(t)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
    });
    let orders = col(&|d| d.submission.order_number.clone());
    let descriptions = col(&|d| Some(d.description.clone()));
    let feedback_types = col(&|d| d.submission.feedback_type.map(|t| t.as_str().to_string()));
    let tags: Vec<serde_json::Value> = drafts
        .iter()
        .map(|d| serde_json::json!(d.submission.tags))
        .collect();
    let priorities = col(&|d| d.submission.priority.map(|p| p.as_str().to_string()));
    let expected: Vec<Option<DateTime<Utc>>> = drafts
        .iter()
        .map(|d| d.submission.expected_resolution_at)
        .collect();
    let attachments: Vec<serde_json::Value> = drafts
        .iter()
        .map(|d| serde_json::json!(d.submission.attachments))
        .collect();
    let sources = col(&|d| d.submission.info_source.clone());
    let ivr: Vec<Option<serde_json::Value>> = drafts
        .iter()
        .map(|d| {
            d.submission.ivr.as_ref().map(|i| {
                let (speech, _) = pii::redact_text(i.speech_text.as_deref().unwrap_or_default());
                serde_json::json!({
                    "call_id": i.call_id,
                    "caller_number": normalize_phone(&i.caller_number),
                    "keypresses": i.keypresses,
                    "speech_text": i.speech_text.as_ref().map(|_| speech),
                    "speech_confidence": i.speech_confidence,
                })
            })
        })
        .collect();
    let agents = col(&|d| d.submission.agent_id.clone());
    let previous: Vec<i64> = history.iter().map(|h| h.previous_tickets).collect();
    let duplicate_nos: Vec<Option<String>> = history
        .iter()
        .map(|h| h.likely_duplicate_of.clone())
        .collect();
    let similarity: Vec<Option<f32>> = history.iter().map(|h| h.duplicate_similarity).collect();

    let inserted: Vec<Uuid> = sqlx::query_scalar(
        "insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at, client_ip,
            customer_id, customer_name, customer_phone, customer_email, customer_type, order_number,
            description, feedback_type, tags, priority, expected_resolution_at, attachments, info_source,
            ivr, agent_id, previous_tickets, likely_duplicate_of, duplicate_similarity)
         select n.id, n.ticket_no, n.channel, n.external_id, n.submitted_at, n.received_at, n.client_ip::inet,
            n.customer_id, n.customer_name, n.customer_phone, n.customer_email, n.customer_type, n.order_number,
            n.description, n.feedback_type, array(select jsonb_array_elements_text(n.tags)), n.priority,
            n.expected_resolution_at, n.attachments, n.info_source, n.ivr, n.agent_id, n.previous_tickets,
            -- An earlier ticket, or one of this batch (inserted by this very statement, so not yet
            -- visible to a look-up in `tickets`).
            coalesce((select d.id from tickets d where d.ticket_no = n.duplicate_no),
                     (select b.id from unnest($1::uuid[], $2::text[]) as b(id, ticket_no)
                      where b.ticket_no = n.duplicate_no)),
            n.similarity
         from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
            $15::text[], $16::jsonb[], $17::text[], $18::timestamptz[], $19::jsonb[], $20::text[], $21::jsonb[],
            $22::text[], $23::int8[], $24::text[], $25::real[])
           as n(id, ticket_no, channel, external_id, submitted_at, received_at, client_ip, customer_id,
            customer_name, customer_phone, customer_email, customer_type, order_number, description,
            feedback_type, tags, priority, expected_resolution_at, attachments, info_source, ivr, agent_id,
            previous_tickets, duplicate_no, similarity)
         on conflict (channel, external_id) do nothing
         returning id",
    )
    .bind(&ids)
    .bind(numbers)
    .bind(&channels)
    .bind(&external)
    .bind(&submitted)
    .bind(&received)
    .bind(&ips)
    .bind(&customer_ids)
    .bind(&names)
    .bind(&phones)
    .bind(&emails)
    .bind(&types)
    .bind(&orders)
    .bind(&descriptions)
    .bind(&feedback_types)
    .bind(&tags)
    .bind(&priorities)
    .bind(&expected)
    .bind(&attachments)
    .bind(&sources)
    .bind(&ivr)
    .bind(&agents)
    .bind(&previous)
    .bind(&duplicate_nos)
    .bind(&similarity)
    .fetch_all(&mut *tx)
    .await?;
    Ok(inserted.into_iter().collect())
}

/// The event announcing a new ticket: personal data masked, text already redacted.
fn ticket_created(d: &Draft<'_>, ticket_no: &str, history: &CustomerHistory) -> TicketCreated {
    let s = d.submission;
    TicketCreated {
        schema_version: SCHEMA_VERSION,
        ticket_id: d.ticket_id,
        ticket_no: ticket_no.to_string(),
        channel: s.channel,
        submitted_at: s.submitted_at,
        received_at: d.received_at,
        customer: MaskedCustomer {
            id: s.customer.id.clone(),
            name: s.customer.name.as_deref().map(pii::mask_name),
            phone: d.phone.as_deref().map(pii::mask_phone),
            customer_type: s.customer.customer_type,
        },
        order_number: s.order_number.clone(),
        description: d.description.clone(),
        feedback_type: s.feedback_type,
        tags: s.tags.clone(),
        priority: s.priority,
        expected_resolution_at: s.expected_resolution_at,
        attachments: s.attachments.clone(),
        info_source: s.info_source.clone(),
        ivr: s.ivr.as_ref().map(|i| IvrSummary {
            call_id: i.call_id.clone(),
            caller_number: pii::mask_phone(&i.caller_number),
            keypresses: i.keypresses.clone(),
        }),
        history: history.clone(),
    }
}

/// The submission with national-ID and bank-card numbers redacted from every field a person types:
/// they are stored in the ticket, published in `ticket.created` and reach reports. The description and
/// the speech draft are redacted where the ticket's text is made; contact fields (phone, e-mail) are
/// validated formats and masked wherever shown.
fn redact(s: &FeedbackSubmission) -> FeedbackSubmission {
    let text = |t: &str| pii::redact_text(t).0;
    let opt = |t: &Option<String>| t.as_deref().map(text);
    let mut out = s.clone();
    out.customer.name = opt(&s.customer.name);
    out.order_number = opt(&s.order_number);
    out.info_source = opt(&s.info_source);
    out.tags = s.tags.iter().map(|t| text(t)).collect();
    for a in &mut out.attachments {
        a.name = opt(&a.name);
    }
    out
}

/// A description for an IVR answer that carries keypresses only.
fn ivr_description(s: &FeedbackSubmission) -> String {
    match &s.ivr {
        Some(i) => format!("IVR 按键反馈: {}", i.keypresses.join(" ")),
        None => String::new(),
    }
}
