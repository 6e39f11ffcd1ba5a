//! Signed response tokens: `v1.{survey id}.{expiry unix seconds}.{HMAC-SHA256, base64url}`.
//!
//! The signature proves the worker issued the token for that survey and that expiry, so a guessed or
//! altered link is refused without a database look-up. Single use is not the token's job: the database
//! keeps at most one accepted answer per survey (a partial unique index).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not in the expected format")]
    Malformed,
    #[error("the token's signature does not match (forged or altered)")]
    BadSignature,
    #[error("the token expired")]
    Expired,
}

/// What a valid token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenClaims {
    pub survey_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// Signs and verifies tokens with one secret; cheap to clone.
#[derive(Clone)]
pub struct TokenSigner {
    secret: SecretString,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

impl TokenSigner {
    pub fn new(secret: SecretString) -> Self {
        Self { secret }
    }

    /// A random 32-byte secret, for a local run without a configured one (tokens then die with the process).
    pub fn ephemeral() -> Self {
        let bytes: [u8; 32] = rand::random();
        Self::new(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
    }

    fn mac(&self, survey_id: Uuid, expires: i64) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = match HmacSha256::new_from_slice(self.secret.expose_secret().as_bytes()) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(format!("loopdesk-survey:v1:{}:{expires}", survey_id.simple()).as_bytes());
        mac
    }

    pub fn sign(&self, survey_id: Uuid, expires_at: DateTime<Utc>) -> String {
        let expires = expires_at.timestamp();
        let sig = self.mac(survey_id, expires).finalize().into_bytes();
        format!(
            "v1.{}.{expires}.{}",
            survey_id.simple(),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }

    /// Checks shape, signature (in constant time) and expiry at `now`. A forged token is refused before
    /// its expiry is even looked at, so an attacker learns nothing from the answer.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<TokenClaims, TokenError> {
        let claims = self.verify_signature(token)?;
        if now >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Checks shape and signature only.
    pub fn verify_signature(&self, token: &str) -> Result<TokenClaims, TokenError> {
        if token.len() > 200 {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some("v1"), Some(id), Some(expires), Some(sig), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let survey_id = Uuid::try_parse(id).map_err(|_| TokenError::Malformed)?;
        let expires: i64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| TokenError::Malformed)?;
        self.mac(survey_id, expires)
            .verify_slice(&sig)
            .map_err(|_| TokenError::BadSignature)?;
        let expires_at = Utc
            .timestamp_opt(expires, 0)
            .single()
            .ok_or(TokenError::Malformed)?;
        Ok(TokenClaims {
            survey_id,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn signer(s: &str) -> TokenSigner {
        TokenSigner::new(SecretString::from(s.to_string()))
    }

    #[test]
    fn round_trip_until_expiry() {
        let s = signer("a-test-secret-that-is-long-enough-000");
        let id = Uuid::new_v4();
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let exp = now + Duration::hours(72);
        let token = s.sign(id, exp);
        assert!(token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        assert_eq!(
            s.verify(&token, now),
            Ok(TokenClaims {
                survey_id: id,
                expires_at: exp
            })
        );
        assert_eq!(s.verify(&token, exp), Err(TokenError::Expired));
    }

    #[test]
    fn forged_and_altered_tokens_are_refused() {
        let s = signer("a-test-secret-that-is-long-enough-000");
        let other = signer("another-secret-that-is-long-enough-1");
        let id = Uuid::new_v4();
        let now = Utc::now();
        let exp = now + Duration::hours(1);
        assert_eq!(
            s.verify(&other.sign(id, exp), now),
            Err(TokenError::BadSignature)
        );
        // Extending the expiry breaks the signature.
        let token = s.sign(id, exp);
        let parts: Vec<&str> = token.split('.').collect();
        let later = format!("v1.{}.{}.{}", parts[1], exp.timestamp() + 3600, parts[3]);
        assert_eq!(s.verify(&later, now), Err(TokenError::BadSignature));
        // Another survey id with the same signature.
        let swapped = format!("v1.{}.{}.{}", Uuid::new_v4().simple(), parts[2], parts[3]);
        assert_eq!(s.verify(&swapped, now), Err(TokenError::BadSignature));
        for bad in [
            "",
            "v1",
            "v2.a.b.c",
            "v1.notauuid.1.AAAA",
            "v1.a.b.c.d",
            &"x".repeat(500),
        ] {
            assert_eq!(s.verify(bad, now), Err(TokenError::Malformed), "{bad}");
        }
        // An expired forgery is reported as forged, not expired.
        assert_eq!(
            s.verify(&other.sign(id, now - Duration::hours(1)), now),
            Err(TokenError::BadSignature)
        );
    }
}
