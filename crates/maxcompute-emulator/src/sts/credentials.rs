//! The credentials STS has issued, the clock that expires them, and the check of a temporary
//! AccessKeyId with the security token sent alongside it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use maxcompute_tunnel::auth::STS_TOKEN_HEADER;
use rand::distr::{Alphanumeric, SampleString};
use rand::RngCore;

use super::Sts;
use crate::error::ErrorCode;

/// Why a request signed with a temporary AccessKey is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsAuthError {
    #[error("the AccessKeyId was not issued by STS")]
    UnknownAccessKey,
    #[error("the request uses an STS AccessKeyId but has no {STS_TOKEN_HEADER} header")]
    MissingToken,
    #[error("the security token does not belong to this AccessKeyId")]
    TokenMismatch,
    #[error("the STS token expired at {expired_at}")]
    Expired { expired_at: DateTime<Utc> },
}

impl StsAuthError {
    /// The MaxCompute error to answer with: pyodps (`rest.py`) reloads its `StsAccount` and
    /// retries once on `AuthenticationRequestExpired`; any other token problem is
    /// `Unauthorized`.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            StsAuthError::Expired { .. } => ErrorCode::AuthenticationRequestExpired,
            _ => ErrorCode::Unauthorized,
        }
    }

    /// MaxCompute error code to answer with.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.error_code().status().as_u16()
    }
}

/// True for AccessKeyIds that STS issues (`STS.` prefix), which need a security token.
pub fn is_temporary_access_id(access_id: &str) -> bool {
    access_id.starts_with("STS.")
}

/// A temporary AccessKey as AssumeRole hands it out.
#[derive(Debug, Clone)]
pub(super) struct TemporaryCredentials {
    pub access_id: String,
    pub secret: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// What the service keeps of the credentials it issued: them by AccessKeyId, the expiry clock's
/// offset from real time, and how many were issued. Cloning shares all of it.
#[derive(Clone, Default)]
pub(super) struct CredentialStore {
    issued: Arc<Mutex<HashMap<String, TemporaryCredentials>>>,
    clock_offset: Arc<Mutex<TimeDelta>>,
    count: Arc<AtomicU64>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a map operation or an assignment that cannot leave the
    // data inconsistent, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The part of the service that keeps the credentials it issued.
impl Sts {
    /// Credentials issued so far (successful AssumeRole calls).
    pub fn credentials_issued(&self) -> u64 {
        self.credentials.count.load(Ordering::SeqCst)
    }

    /// The clock that decides whether issued credentials have expired: real time plus the
    /// offset set by [`Sts::advance_clock`]. Pass it to [`Sts::validate`].
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *lock(&self.credentials.clock_offset)
    }

    /// Moves the credential-expiry clock forward, so tests can expire tokens without sleeping.
    /// The AssumeRole `Timestamp` check keeps using real time, as clients sign with real time.
    pub fn advance_clock(&self, by: Duration) {
        let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        let mut offset = lock(&self.credentials.clock_offset);
        *offset = offset.checked_add(&by).unwrap_or(TimeDelta::MAX);
    }

    /// Checks a temporary AccessKeyId and the security token sent with it at `now` (normally
    /// [`Sts::now`]) and returns the secret to verify the request signature with.
    pub fn validate(
        &self,
        access_id: &str,
        token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, StsAuthError> {
        let issued = lock(&self.credentials.issued);
        let issued = issued
            .get(access_id)
            .ok_or(StsAuthError::UnknownAccessKey)?;
        let token = token.ok_or(StsAuthError::MissingToken)?;
        if token != issued.token {
            return Err(StsAuthError::TokenMismatch);
        }
        if now >= issued.expires_at {
            return Err(StsAuthError::Expired {
                expired_at: issued.expires_at,
            });
        }
        Ok(issued.secret.clone())
    }

    /// Issues a fresh temporary AccessKey valid for `lifetime`.
    pub(super) fn issue(&self, lifetime: Duration) -> TemporaryCredentials {
        // Whole seconds, rounded down, so the client-visible Expiration is never later than the
        // instant the server starts refusing the token. Dated on the expiry clock, so that after
        // `advance_clock` new tokens are valid for their whole lifetime, as after a real wait.
        let expires_at =
            (self.now() + TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::MAX)).trunc_subsecs(0);
        let mut token_bytes = [0u8; 96];
        rand::rng().fill_bytes(&mut token_bytes);
        let credentials = TemporaryCredentials {
            access_id: format!("STS.{}", Alphanumeric.sample_string(&mut rand::rng(), 24)),
            secret: Alphanumeric.sample_string(&mut rand::rng(), 44),
            token: format!("CAIS{}", BASE64.encode(token_bytes)),
            expires_at,
        };
        // Keep expired entries for a while so late requests get "expired", not "unknown".
        let horizon = self.now() - TimeDelta::hours(24);
        {
            let mut issued = lock(&self.credentials.issued);
            issued.retain(|_, c| c.expires_at > horizon);
            issued.insert(credentials.access_id.clone(), credentials.clone());
        }
        self.credentials.count.fetch_add(1, Ordering::SeqCst);
        credentials
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::StsConfig;
    use super::*;

    #[test]
    fn token_checks_and_expiry() {
        let sts = Sts::new(
            StsConfig {
                role_arns: vec![ROLE.to_owned()],
                lifetime_override: Some(Duration::from_secs(60)),
                ..StsConfig::default()
            },
            [("LTAI-caller".to_owned(), "caller-secret".to_owned())],
        );
        let answer = call(&sts, &signed("POST", unsigned("n"), "caller-secret")).unwrap();
        let id = answer["Credentials"]["AccessKeyId"].as_str().unwrap();
        let token = answer["Credentials"]["SecurityToken"].as_str().unwrap();
        let expiration =
            DateTime::parse_from_rfc3339(answer["Credentials"]["Expiration"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc);
        assert!(expiration - Utc::now() <= TimeDelta::seconds(60));

        assert!(sts.validate(id, Some(token), sts.now()).is_ok());
        let missing = sts.validate(id, None, sts.now()).unwrap_err();
        assert_eq!(missing, StsAuthError::MissingToken);
        assert_eq!((missing.status(), missing.code()), (401, "Unauthorized"));
        assert_eq!(
            sts.validate(id, Some("CAISother"), sts.now()),
            Err(StsAuthError::TokenMismatch)
        );
        assert_eq!(
            sts.validate("STS.unknown", Some(token), sts.now()),
            Err(StsAuthError::UnknownAccessKey)
        );

        sts.advance_clock(Duration::from_secs(61));
        let expired = sts.validate(id, Some(token), sts.now()).unwrap_err();
        assert_eq!(
            expired,
            StsAuthError::Expired {
                expired_at: expiration
            }
        );
        assert_eq!(
            (expired.status(), expired.code()),
            (403, "AuthenticationRequestExpired")
        );
        // An explicit instant before expiry still validates: the clock is only an input.
        assert!(sts
            .validate(id, Some(token), expiration - TimeDelta::seconds(1))
            .is_ok());
    }
}
