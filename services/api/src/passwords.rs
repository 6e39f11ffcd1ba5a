//! Passwords: argon2id hashing on a bounded pool of blocking threads, and sign-in that costs the same
//! whether the name exists or not, limited per name and per client address.
//!
//! An argon2 hash takes tens of milliseconds of CPU and ~19 MiB: run on the async executor it stalls
//! every request on that thread, and run without a bound a burst of sign-ins takes all memory. Here at
//! most `api.login.hash_concurrency` run at once, each on tokio's blocking pool; the rest wait.
//! An unknown, disabled or password-less name is checked against a dummy hash made at start-up with
//! the same parameters, so the answer's timing does not tell which names exist.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use sqlx::PgPool;
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};
use crate::settings::LoginSettings;

/// Shortest password accepted anywhere.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted: argon2 reads all of it.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The hashing pool and its counters (the counters let tests see the bound and the equal cost).
pub struct Passwords {
    permits: Semaphore,
    limit: usize,
    dummy_hash: String,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    verifications: AtomicU64,
}

fn hash_blocking(password: &str) -> ApiResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(format!("argon2: {e}")))
}

fn verify_blocking(password: &str, hash: &str) -> ApiResult<bool> {
    let parsed =
        PasswordHash::new(hash).map_err(|e| ApiError::Internal(format!("stored hash: {e}")))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// Checks a new password's length.
pub fn check_new(field: &str, password: &str) -> ApiResult<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(ApiError::field(
            "invalid_value",
            field,
            format!("{field} must have at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(ApiError::field(
            "field_too_long",
            field,
            format!("{field} may have at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

impl Passwords {
    /// Makes the dummy hash (one argon2 run, on the calling thread: call it at start-up).
    pub fn new(concurrency: usize) -> ApiResult<Self> {
        let limit = concurrency.max(1);
        Ok(Self {
            permits: Semaphore::new(limit),
            limit,
            dummy_hash: hash_blocking("loopdesk dummy password for unknown names")?,
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            verifications: AtomicU64::new(0),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(format!("hash pool: {e}")))?;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let result = tokio::task::spawn_blocking(work).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result.map_err(|e| ApiError::Internal(format!("hash task: {e}")))?
    }

    pub async fn hash(&self, password: &str) -> ApiResult<String> {
        let password = password.to_string();
        self.run(move || hash_blocking(&password)).await
    }

    /// Whether `password` matches `hash`; without a hash the dummy is checked and the answer is no.
    pub async fn verify(&self, password: &str, hash: Option<String>) -> ApiResult<bool> {
        self.verifications.fetch_add(1, Ordering::SeqCst);
        let (password, real) = (password.to_string(), hash.is_some());
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let ok = self.run(move || verify_blocking(&password, &hash)).await?;
        Ok(ok && real)
    }

    /// The most hashes that ever ran at once, and the configured bound.
    pub fn peak(&self) -> (usize, usize) {
        (self.peak.load(Ordering::SeqCst), self.limit)
    }

    /// How many password checks ran (real or dummy).
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::SeqCst)
    }
}

fn keys(name: &str, addr: Option<IpAddr>) -> Vec<String> {
    let mut keys = vec![format!("name:{}", name.trim().to_lowercase())];
    if let Some(a) = addr {
        keys.push(format!("addr:{a}"));
    }
    keys
}

/// Refuses with 429 while the name or the address is at its limit of failures in the window.
async fn check_limits(
    pool: &PgPool,
    limits: &LoginSettings,
    name: &str,
    addr: Option<IpAddr>,
) -> ApiResult<()> {
    let rows: Vec<(String, i32, f64)> = sqlx::query_as(
        "select key, failures,
                extract(epoch from window_start + make_interval(secs => $2) - now())::float8
         from login_failures
         where key = any($1) and window_start > now() - make_interval(secs => $2)",
    )
    .bind(keys(name, addr))
    .bind(limits.window_secs as f64)
    .fetch_all(pool)
    .await?;
    for (key, failures, remaining) in rows {
        let max = if key.starts_with("name:") {
            limits.max_failures_per_name
        } else {
            limits.max_failures_per_address
        };
        if failures as i64 >= max as i64 {
            return Err(ApiError::RateLimited {
                retry_after_secs: remaining.ceil().max(1.0) as u64,
            });
        }
    }
    Ok(())
}

async fn record_failure(
    pool: &PgPool,
    limits: &LoginSettings,
    name: &str,
    addr: Option<IpAddr>,
) -> ApiResult<()> {
    sqlx::query(
        "insert into login_failures as f (key, window_start, failures)
         select k, now(), 1 from unnest($1::text[]) k
         on conflict (key) do update set
             failures = case when f.window_start > now() - make_interval(secs => $2)
                             then f.failures + 1 else 1 end,
             window_start = case when f.window_start > now() - make_interval(secs => $2)
                                 then f.window_start else now() end",
    )
    .bind(keys(name, addr))
    .bind(limits.window_secs as f64)
    .execute(pool)
    .await?;
    Ok(())
}

/// A refused sign-in: its own code, so a client tells "name or password wrong" from "session ended"
/// (`unauthorized`) without guessing from the route; the same answer whichever part was wrong.
fn wrong_credentials() -> ApiError {
    ApiError::Detailed {
        status: axum::http::StatusCode::UNAUTHORIZED,
        code: "invalid_credentials",
        message: "the name or password is not right".into(),
        field: None,
        details: None,
    }
}

/// Checks a name and password: 429 while limited, 401 for any wrong combination (unknown name,
/// disabled user, no password, wrong password) after the same argon2 work.
pub async fn sign_in(
    pool: &PgPool,
    passwords: &Passwords,
    limits: &LoginSettings,
    name: &str,
    password: &str,
    addr: Option<IpAddr>,
) -> ApiResult<crate::auth::UserView> {
    // A NUL cannot be in a stored name (Postgres text refuses it), so it can only be wrong.
    if name.len() > 200 || name.contains('\0') || password.chars().count() > MAX_PASSWORD_CHARS {
        return Err(wrong_credentials());
    }
    check_limits(pool, limits, name, addr).await?;
    let row: Option<crate::auth::AccountRow> = sqlx::query_as(&format!(
        "{} where name = $1 and disabled_at is null",
        crate::auth::AccountRow::SELECT
    ))
    .bind(name.trim())
    .fetch_optional(pool)
    .await?;
    let hash = row.as_ref().and_then(|r| r.password_hash.clone());
    let ok = passwords.verify(password, hash).await?;
    match row {
        Some(account) if ok => {
            sqlx::query("delete from login_failures where key = $1")
                .bind(format!("name:{}", account.name.to_lowercase()))
                .execute(pool)
                .await?;
            sqlx::query("update api_users set last_signed_in_at = now() where id = $1")
                .bind(account.id)
                .execute(pool)
                .await?;
            Ok(account.into_view()?.0)
        }
        _ => {
            record_failure(pool, limits, name, addr).await?;
            Err(wrong_credentials())
        }
    }
}
