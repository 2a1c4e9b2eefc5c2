//! Emulated Alibaba Cloud STS: `AssumeRole` in the RPC style (API version 2015-04-01), and the
//! check that REST and tunnel requests signed with the temporary credentials carry the matching
//! security token and have not expired.
//!
//! The endpoint verifies the caller's permanent AccessKey signature exactly as the real service
//! does (see `maxcompute_tunnel::auth::rpc`) and answers with the real JSON shapes and error
//! codes (STS API reference, "AssumeRole", and the RPC common error codes). Its parts:
//!
//! * `rpc`: the RPC call (parameters from the query and a form body, the common parameters,
//!   the signature, replays) and the RPC error shape;
//! * `assume_role`: the action's own parameters and the credentials it issues;
//! * `credentials`: the issued credentials, the clock that expires them and the token check;
//! * `http`: the endpoint and its layers.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use config::StsConfig;
pub use credentials::{is_temporary_access_id, StsAuthError};
pub use http::{router, STS_PATH};
pub use rpc::API_VERSION;

use credentials::CredentialStore;
use rpc::Nonces;

/// The emulated STS service. Cloning shares all state.
#[derive(Clone)]
pub struct Sts {
    config: Arc<StsConfig>,
    /// Permanent AccessKeyId -> secret.
    accounts: Arc<HashMap<String, String>>,
    credentials: CredentialStore,
    nonces: Nonces,
    calls: Arc<AtomicU64>,
}

impl fmt::Debug for Sts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sts")
            .field("config", &self.config)
            .field("accounts", &self.accounts.keys().collect::<Vec<_>>())
            .field("assume_role_calls", &self.assume_role_calls())
            .finish_non_exhaustive()
    }
}

impl Sts {
    /// `accounts` are the permanent `(AccessKeyId, secret)` pairs allowed to call AssumeRole.
    pub fn new(config: StsConfig, accounts: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            config: Arc::new(config),
            accounts: Arc::new(accounts.into_iter().collect()),
            credentials: CredentialStore::default(),
            nonces: Nonces::default(),
            calls: Arc::default(),
        }
    }

    pub fn config(&self) -> &StsConfig {
        &self.config
    }

    /// Requests that reached the AssumeRole endpoint, whatever their outcome.
    pub fn assume_role_calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Credentials issued so far (successful AssumeRole calls).
    pub fn credentials_issued(&self) -> u64 {
        self.credentials.issued()
    }

    /// The clock that decides whether issued credentials have expired: real time plus the
    /// offset set by [`Sts::advance_clock`]. Pass it to [`Sts::validate`].
    pub fn now(&self) -> DateTime<Utc> {
        self.credentials.now()
    }

    /// Moves the credential-expiry clock forward, so tests can expire tokens without sleeping.
    /// The AssumeRole `Timestamp` check keeps using real time, as clients sign with real time.
    pub fn advance_clock(&self, by: Duration) {
        self.credentials.advance_clock(by);
    }

    /// Checks a temporary AccessKeyId and the security token sent with it at `now` (normally
    /// [`Sts::now`]) and returns the secret to verify the request signature with.
    pub fn validate(
        &self,
        access_id: &str,
        token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, StsAuthError> {
        self.credentials.validate(access_id, token, now)
    }

    fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::sts;

    #[test]
    fn debug_hides_secrets() {
        let sts = sts();
        let text = format!("{sts:?}");
        assert!(text.contains("LTAI-caller"));
        assert!(!text.contains("caller-secret"));
    }
}

mod assume_role {
    //! AssumeRole: its own parameters (the role, the session name, the duration) and the temporary
    //! credentials it answers with, once the RPC call itself has been verified.

    use std::time::Duration;

    use axum::http::Method;
    use serde_json::{json, Value};
    use sha1::{Digest, Sha1};

    use super::credentials::TemporaryCredentials;
    use super::rpc::{Params, RpcError};
    use super::Sts;

    /// What a successful AssumeRole answers.
    #[derive(Debug, Clone)]
    pub(super) struct AssumedRole {
        role_arn: String,
        /// `<role id>:<session name>`.
        assumed_role_id: String,
        session_name: String,
        credentials: TemporaryCredentials,
    }

    impl AssumedRole {
        /// The answer's JSON document for the request `request_id`.
        pub fn to_json(&self, request_id: &str) -> Value {
            let c = &self.credentials;
            json!({
                "RequestId": request_id,
                "AssumedRoleUser": {
                    "Arn": format!("{}/{}", self.role_arn, self.session_name),
                    "AssumedRoleId": self.assumed_role_id,
                },
                "Credentials": {
                    "AccessKeyId": c.access_id,
                    "AccessKeySecret": c.secret,
                    "SecurityToken": c.token,
                    "Expiration": c.expires_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                },
            })
        }
    }

    impl Sts {
        /// Runs AssumeRole on the decoded parameters of a call made with `method`.
        pub(super) fn assume_role(
            &self,
            method: &Method,
            params: &Params,
        ) -> Result<AssumedRole, RpcError> {
            let caller = params.verify(method, &self.accounts, &self.nonces)?;
            let role_arn = params.required("RoleArn")?;
            let (account_id, role_name) = parse_role_arn(role_arn).ok_or_else(|| {
                RpcError::new(
                    400,
                    "InvalidParameter.RoleArn",
                    "The parameter RoleArn is wrongly formed.",
                )
            })?;
            if !self
                .config
                .role_arns
                .iter()
                .any(|r| r.eq_ignore_ascii_case(role_arn))
            {
                return Err(RpcError::new(
                    404,
                    "EntityNotExist.Role",
                    "The specified Role not exists .",
                ));
            }
            let session_name = params.required("RoleSessionName")?;
            if !valid_session_name(session_name) {
                return Err(RpcError::new(
                    400,
                    "InvalidParameter.RoleSessionName",
                    "The parameter RoleSessionName is wrongly formed.",
                ));
            }
            let duration = self.duration(params.get("DurationSeconds"))?;
            let lifetime = self.config.lifetime_override.unwrap_or(duration);
            let credentials = self.credentials.issue(lifetime);
            tracing::info!(
                caller,
                role = role_arn,
                session = session_name,
                expires_at = %credentials.expires_at,
                "STS credentials issued"
            );
            Ok(AssumedRole {
                role_arn: role_arn.to_owned(),
                assumed_role_id: format!("{}:{session_name}", role_id(account_id, role_name)),
                session_name: session_name.to_owned(),
                credentials,
            })
        }

        /// `DurationSeconds` within the configured limits, or the default when it is absent.
        fn duration(&self, raw: Option<&str>) -> Result<Duration, RpcError> {
            let Some(raw) = raw else {
                return Ok(self.config.default_duration);
            };
            let (min, max) = (self.config.min_duration, self.config.max_duration);
            raw.parse::<u64>()
                .ok()
                .map(Duration::from_secs)
                .filter(|d| (min..=max).contains(d))
                .ok_or_else(|| {
                    RpcError::new(
                        400,
                        "InvalidParameter.DurationSeconds",
                        format!(
                            "The Min/Max value of DurationSeconds is {}/{}.",
                            human_duration(min),
                            human_duration(max)
                        ),
                    )
                })
        }
    }

    /// `acs:ram::<account id>:role/<role name>` -> (account id, role name).
    fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
        let rest = arn.strip_prefix("acs:ram::")?;
        let (account, role) = rest.split_once(":role/")?;
        let valid_account = !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit());
        let valid_role = !role.is_empty()
            && role
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        (valid_account && valid_role).then_some((account, role))
    }

    /// STS: 2 to 64 characters of `[A-Za-z0-9.@_-]`.
    fn valid_session_name(name: &str) -> bool {
        (2..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'-' | b'_'))
    }

    /// A stable 17-digit role id, like the numeric ids real roles have.
    fn role_id(account_id: &str, role_name: &str) -> String {
        let digest = Sha1::digest(format!("{account_id}:{role_name}").as_bytes());
        let mut n = [0u8; 8];
        n.copy_from_slice(&digest[..8]);
        format!("3{:016}", u64::from_be_bytes(n) % 10_u64.pow(16))
    }

    /// 900 s -> "15min", 3600 s -> "1hr", as in the real error message.
    fn human_duration(d: Duration) -> String {
        let s = d.as_secs();
        if s > 0 && s.is_multiple_of(3600) {
            format!("{}hr", s / 3600)
        } else if s > 0 && s.is_multiple_of(60) {
            format!("{}min", s / 60)
        } else {
            format!("{s}s")
        }
    }

    #[cfg(test)]
    mod tests {
        use chrono::{DateTime, TimeDelta, Utc};

        use super::super::test_support::*;
        use super::*;
        use crate::sts::is_temporary_access_id;

        #[test]
        fn issues_credentials_that_validate() {
            let sts = sts();
            let answer = call(&sts, &signed("POST", unsigned("n1"), "caller-secret")).unwrap();
            let creds = &answer["Credentials"];
            let id = creds["AccessKeyId"].as_str().unwrap();
            let secret = creds["AccessKeySecret"].as_str().unwrap();
            let token = creds["SecurityToken"].as_str().unwrap();
            assert!(is_temporary_access_id(id));
            assert_eq!(
                answer["AssumedRoleUser"]["Arn"],
                format!("{ROLE}/kafka-session-1234567890")
            );
            assert!(answer["AssumedRoleUser"]["AssumedRoleId"]
                .as_str()
                .unwrap()
                .ends_with(":kafka-session-1234567890"));
            let expiration = DateTime::parse_from_rfc3339(creds["Expiration"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc);
            let lifetime = expiration - Utc::now();
            assert!(lifetime <= TimeDelta::seconds(3600) && lifetime > TimeDelta::seconds(3500));
            assert_eq!(sts.validate(id, Some(token), sts.now()).unwrap(), secret);
            assert_eq!(sts.credentials_issued(), 1);
        }

        #[test]
        fn get_signature_does_not_verify_a_post() {
            let sts = sts();
            let params = signed("GET", unsigned("n1"), "caller-secret");
            assert_eq!(code_of(call(&sts, &params)), (400, "SignatureDoesNotMatch"));
            assert!(call_with(&sts, Method::GET, &params).is_ok());
        }

        #[test]
        fn rejects_wrong_secret_and_tampering() {
            let sts = sts();
            let bad = signed("POST", unsigned("n1"), "wrong-secret");
            let err = call(&sts, &bad).unwrap_err();
            assert_eq!((err.status, err.code), (400, "SignatureDoesNotMatch"));
            assert!(err
                .message
                .contains("server string to sign is:POST&%2F&AccessKeyId"));
            assert!(!err.message.contains("caller-secret"));

            let mut tampered = signed("POST", unsigned("n2"), "caller-secret");
            set(&mut tampered, "DurationSeconds", "1800");
            assert_eq!(
                code_of(call(&sts, &tampered)),
                (400, "SignatureDoesNotMatch")
            );
            assert_eq!(sts.credentials_issued(), 0);
        }

        #[test]
        fn rejects_unknown_access_key() {
            let sts = sts();
            let mut p = unsigned("n1");
            set(&mut p, "AccessKeyId", "LTAI-nobody");
            assert_eq!(
                code_of(call(&sts, &signed("POST", p, "caller-secret"))),
                (404, "InvalidAccessKeyId.NotFound")
            );
        }

        #[test]
        fn rejects_roles() {
            let sts = sts();
            let mut p = unsigned("n1");
            set(&mut p, "RoleArn", "acs:ram::1234567890:role/other-role");
            assert_eq!(
                code_of(call(&sts, &signed("POST", p, "caller-secret"))),
                (404, "EntityNotExist.Role")
            );
            let mut p = unsigned("n2");
            set(&mut p, "RoleArn", "arn:aws:iam::1234567890:role/sink-role");
            assert_eq!(
                code_of(call(&sts, &signed("POST", p, "caller-secret"))),
                (400, "InvalidParameter.RoleArn")
            );
            let mut p = unsigned("n3");
            p.retain(|(k, _)| k != "RoleArn");
            assert_eq!(
                code_of(call(&sts, &signed("POST", p, "caller-secret"))),
                (400, "MissingParameter")
            );
        }

        #[test]
        fn rejects_bad_session_names_and_durations() {
            let sts = sts();
            for (i, name) in ["a", "has space", "abc*abc"].iter().enumerate() {
                let mut p = unsigned(&format!("s{i}"));
                set(&mut p, "RoleSessionName", name);
                assert_eq!(
                    code_of(call(&sts, &signed("POST", p, "caller-secret"))),
                    (400, "InvalidParameter.RoleSessionName"),
                    "{name}"
                );
            }
            for (i, d) in ["899", "3601", "abc", "-5"].iter().enumerate() {
                let mut p = unsigned(&format!("d{i}"));
                set(&mut p, "DurationSeconds", d);
                let err = call(&sts, &signed("POST", p, "caller-secret")).unwrap_err();
                assert_eq!(
                    (err.status, err.code),
                    (400, "InvalidParameter.DurationSeconds"),
                    "{d}"
                );
                assert_eq!(
                    err.message,
                    "The Min/Max value of DurationSeconds is 15min/1hr."
                );
            }
            let mut p = unsigned("default");
            p.retain(|(k, _)| k != "DurationSeconds");
            assert!(call(&sts, &signed("POST", p, "caller-secret")).is_ok());
        }

        #[test]
        fn rejects_missing_common_parameters() {
            let sts = sts();
            for name in [
                "AccessKeyId",
                "SignatureNonce",
                "Timestamp",
                "Version",
                "Action",
            ] {
                let mut p = unsigned(name);
                p.retain(|(k, _)| k != name);
                let err = call(&sts, &signed("POST", p, "caller-secret")).unwrap_err();
                assert_eq!((err.status, err.code), (400, "MissingParameter"));
                assert!(err.message.contains(name), "{}", err.message);
            }
            assert_eq!(
                code_of(call(&sts, &unsigned("no-signature"))),
                (400, "MissingParameter")
            );
        }

        #[test]
        fn rejects_wrong_action_version_and_method() {
            let sts = sts();
            let mut p = unsigned("a");
            set(&mut p, "Action", "GetCallerIdentity");
            assert_eq!(
                code_of(call(&sts, &signed("POST", p, "caller-secret"))),
                (404, "InvalidAction.NotFound")
            );
            let mut p = unsigned("v");
            set(&mut p, "Version", "2014-05-26");
            assert_eq!(
                code_of(call(&sts, &signed("POST", p, "caller-secret"))),
                (400, "InvalidVersion")
            );
            let mut p = unsigned("m");
            set(&mut p, "SignatureMethod", "HMAC-SHA256");
            assert_eq!(
                code_of(call(&sts, &signed("POST", p, "caller-secret"))),
                (400, "IncompleteSignature")
            );
        }

        #[test]
        fn rejects_skewed_or_malformed_timestamps_and_replays() {
            let sts = sts();
            let mut p = unsigned("t1");
            let old = Utc::now() - TimeDelta::minutes(16);
            set(
                &mut p,
                "Timestamp",
                &old.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            );
            assert_eq!(
                code_of(call(&sts, &signed("POST", p, "caller-secret"))),
                (400, "InvalidTimeStamp.Expired")
            );
            let mut p = unsigned("t2");
            set(&mut p, "Timestamp", "yesterday");
            assert_eq!(
                code_of(call(&sts, &signed("POST", p, "caller-secret"))),
                (400, "InvalidTimeStamp.Format")
            );
            let p = signed("POST", unsigned("same"), "caller-secret");
            call(&sts, &p).unwrap();
            assert_eq!(code_of(call(&sts, &p)), (400, "SignatureNonceUsed"));
        }
    }
}

mod config {
    //! What STS accepts: the roles that exist and the limits of `DurationSeconds`.

    use std::time::Duration;

    /// Roles that can be assumed and the limits of `DurationSeconds`.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct StsConfig {
        /// Role ARNs that exist, e.g. `acs:ram::1234567890:role/sink-role`.
        pub role_arns: Vec<String>,
        /// Lifetime when the request has no `DurationSeconds` (real STS: 3600 s).
        pub default_duration: Duration,
        /// Smallest accepted `DurationSeconds` (real STS: 900 s).
        pub min_duration: Duration,
        /// Largest accepted `DurationSeconds` (real STS: the role's MaxSessionDuration, 3600 s by
        /// default).
        pub max_duration: Duration,
        /// For tests: issue credentials with this lifetime whatever `DurationSeconds` asked for, so
        /// a client requesting an hour gets a token that expires in seconds.
        pub lifetime_override: Option<Duration>,
    }

    impl Default for StsConfig {
        fn default() -> Self {
            Self {
                role_arns: Vec::new(),
                default_duration: Duration::from_secs(3600),
                min_duration: Duration::from_secs(900),
                max_duration: Duration::from_secs(3600),
                lifetime_override: None,
            }
        }
    }
}

mod credentials {
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

    /// Issued credentials by AccessKeyId, the expiry clock's offset from real time, and how many
    /// were issued. Cloning shares all of it.
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

    impl CredentialStore {
        pub fn now(&self) -> DateTime<Utc> {
            Utc::now() + *lock(&self.clock_offset)
        }

        pub fn advance_clock(&self, by: Duration) {
            let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
            let mut offset = lock(&self.clock_offset);
            *offset = offset.checked_add(&by).unwrap_or(TimeDelta::MAX);
        }

        pub fn issued(&self) -> u64 {
            self.count.load(Ordering::SeqCst)
        }

        pub fn validate(
            &self,
            access_id: &str,
            token: Option<&str>,
            now: DateTime<Utc>,
        ) -> Result<String, StsAuthError> {
            let issued = lock(&self.issued);
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
        pub fn issue(&self, lifetime: Duration) -> TemporaryCredentials {
            // Whole seconds, rounded down, so the client-visible Expiration is never later than the
            // instant the server starts refusing the token. Dated on the expiry clock, so that after
            // `advance_clock` new tokens are valid for their whole lifetime, as after a real wait.
            let expires_at = (self.now() + TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::MAX))
                .trunc_subsecs(0);
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
                let mut issued = lock(&self.issued);
                issued.retain(|_, c| c.expires_at > horizon);
                issued.insert(credentials.access_id.clone(), credentials.clone());
            }
            self.count.fetch_add(1, Ordering::SeqCst);
            credentials
        }
    }

    #[cfg(test)]
    mod tests {
        use super::super::test_support::*;
        use super::super::{Sts, StsConfig};
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
}

mod http {
    //! The AssumeRole endpoint over HTTP: GET with a query, or POST with a query and/or a form body,
    //! behind its layers (the call count, the request id, the fault check).

    use axum::body::Bytes;
    use axum::extract::{Request, State};
    use axum::http::{header, HeaderMap, Method, Uri};
    use axum::middleware::{self, Next};
    use axum::response::Response;
    use axum::routing::any;
    use axum::{Json, Router};
    use serde_json::Value;

    use super::rpc::{Params, RpcError, RpcErrorReply};
    use super::Sts;
    use crate::faults::{self, FaultCheck, FaultKind, Faults};
    use crate::request_id::RequestId;

    /// Path of the AssumeRole endpoint; `/sts/` (trailing slash) is served too.
    pub const STS_PATH: &str = "/sts";

    /// The AssumeRole endpoint at [`STS_PATH`] and `STS_PATH/`, where `faults` of kind
    /// [`FaultKind::AssumeRole`] hit it. Add it with `Router::merge`: axum's `nest` would not route
    /// the trailing-slash form, which RPC clients commonly send (`endpoint + "/?" + query`).
    pub fn router(sts: Sts, faults: Faults) -> Router {
        let fault_check = FaultCheck::new(faults, |_, _| Some(FaultKind::AssumeRole));
        let endpoint = any(assume_role)
            // The last layer added runs first: every call is counted, even one a fault answers.
            .layer(middleware::from_fn_with_state(fault_check, faults::check))
            .layer(middleware::from_fn(assign_request_id))
            .layer(middleware::from_fn_with_state(sts.clone(), count_call))
            .with_state(sts);
        Router::new()
            .route(STS_PATH, endpoint.clone())
            .route(&format!("{STS_PATH}/"), endpoint)
    }

    async fn count_call(State(sts): State<Sts>, request: Request, next: Next) -> Response {
        sts.count_call();
        next.run(request).await
    }

    /// Gives the call an id in the shape STS uses (an upper-case UUID), for its answer and for an
    /// injected failure alike.
    async fn assign_request_id(mut request: Request, next: Next) -> Response {
        let id = uuid::Uuid::new_v4().to_string().to_ascii_uppercase();
        request.extensions_mut().insert(RequestId::from(id));
        next.run(request).await
    }

    async fn assume_role(
        State(sts): State<Sts>,
        request_id: RequestId,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Json<Value>, RpcErrorReply> {
        let reply = |error: RpcError| {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("sts.aliyuncs.com");
            error.reply(request_id.as_str(), host)
        };
        if method != Method::GET && method != Method::POST {
            return Err(reply(RpcError::no_such_action()));
        }
        let params = Params::from_request(&uri, &headers, &body).map_err(reply)?;
        let answer = sts.assume_role(&method, &params).map_err(|e| {
            tracing::info!(code = e.code, status = e.status, "AssumeRole refused");
            reply(e)
        })?;
        Ok(Json(answer.to_json(request_id.as_str())))
    }

    #[cfg(test)]
    mod tests {
        use serde_json::Value;

        use super::super::test_support::*;
        use super::*;
        use crate::faults::FaultAction;

        async fn serve(sts: Sts, faults: Faults) -> String {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = Router::new().merge(router(sts, faults));
            tokio::spawn(async move { axum::serve(listener, app).await });
            format!("http://{addr}/sts")
        }

        #[tokio::test]
        async fn http_get_and_post_form() {
            let sts = sts();
            let base = serve(sts.clone(), Faults::new()).await;
            let client = reqwest::Client::new();

            let q = encode(&signed("GET", unsigned("g"), "caller-secret"));
            let r = client.get(format!("{base}?{q}")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            assert!(v["Credentials"]["AccessKeyId"]
                .as_str()
                .unwrap()
                .starts_with("STS."));

            let form = encode(&signed("POST", unsigned("p"), "caller-secret"));
            let r = client
                .post(format!("{base}/"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);

            let form = encode(&signed("POST", unsigned("bad"), "nope"));
            let r = client
                .post(&base)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 400);
            let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            assert_eq!(v["Code"], "SignatureDoesNotMatch");
            for key in ["RequestId", "HostId", "Message", "Recommend"] {
                assert!(
                    v[key].as_str().is_some_and(|s| !s.is_empty()),
                    "{key} in {v}"
                );
            }
            assert_eq!(sts.assume_role_calls(), 3);
            assert_eq!(sts.credentials_issued(), 2);
        }

        #[tokio::test]
        async fn http_assume_role_faults() {
            let faults = Faults::new();
            let sts = sts();
            let base = serve(sts.clone(), faults.clone()).await;
            faults
                .inject(
                    FaultKind::AssumeRole,
                    FaultAction::Fail {
                        status: 503,
                        code: "ServiceUnavailable".into(),
                        message: "try later".into(),
                    },
                    1,
                )
                .unwrap();
            faults
                .inject(FaultKind::AssumeRole, FaultAction::DropConnection, 1)
                .unwrap();
            let client = reqwest::Client::new();
            let url = |n: &str| {
                format!(
                    "{base}?{}",
                    encode(&signed("GET", unsigned(n), "caller-secret"))
                )
            };

            let r = client.get(url("f1")).send().await.unwrap();
            assert_eq!(r.status(), 503);
            let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
            assert_eq!(v["Code"], "ServiceUnavailable");

            let err = client.get(url("f2")).send().await.unwrap_err();
            assert!(!err.is_status(), "{err:?}");

            let r = client.get(url("f3")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(sts.assume_role_calls(), 3);
            assert_eq!(sts.credentials_issued(), 1);
        }
    }
}

mod rpc {
    //! Alibaba Cloud's RPC style as STS speaks it: the parameters of a call (query string and form
    //! body), the common parameters every call carries, the HMAC-SHA1 signature over them, the
    //! refusal of replayed nonces, and errors in the RPC JSON shape.

    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use axum::extract::Query;
    use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};
    use axum::Json;
    use chrono::{DateTime, TimeDelta, Utc};
    use maxcompute_tunnel::auth::rpc::{rpc_signature, rpc_string_to_sign};
    use serde_json::json;

    /// The STS API version this endpoint implements.
    pub const API_VERSION: &str = "2015-04-01";
    /// Largest accepted difference between the request `Timestamp` and the server clock.
    const MAX_TIMESTAMP_SKEW: Duration = Duration::from_secs(15 * 60);
    /// The only action this endpoint serves.
    const ACTION: &str = "AssumeRole";

    /// An error in Alibaba's RPC shape.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(super) struct RpcError {
        pub status: u16,
        pub code: &'static str,
        pub message: String,
    }

    impl RpcError {
        pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
            Self {
                status,
                code,
                message: message.into(),
            }
        }

        pub fn missing(name: &str) -> Self {
            Self::new(
                400,
                "MissingParameter",
                format!(
                    "The input parameter \"{name}\" that is mandatory for processing this request is \
                     not supplied."
                ),
            )
        }

        /// The answer to a method other than GET and POST, or to an action other than AssumeRole.
        pub fn no_such_action() -> Self {
            Self::new(
                404,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            )
        }

        fn invalid(code: &'static str, what: &str) -> Self {
            Self::new(400, code, format!("The {what} is not well formed."))
        }

        /// The error as the answer to request `request_id`, sent to host `host`.
        pub fn reply(self, request_id: &str, host: &str) -> RpcErrorReply {
            RpcErrorReply {
                error: self,
                request_id: request_id.to_owned(),
                host: host.to_owned(),
            }
        }
    }

    /// An [`RpcError`] with what its JSON body names besides the error.
    pub(super) struct RpcErrorReply {
        error: RpcError,
        request_id: String,
        host: String,
    }

    impl IntoResponse for RpcErrorReply {
        fn into_response(self) -> Response {
            let RpcErrorReply {
                error,
                request_id,
                host,
            } = self;
            let body = json!({
                "RequestId": request_id,
                "HostId": host,
                "Code": error.code,
                "Message": error.message,
                "Recommend": format!(
                    "https://api.aliyun.com/troubleshoot?q={}&product=Sts&requestId={request_id}",
                    error.code
                ),
            });
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, Json(body)).into_response()
        }
    }

    /// The decoded parameters of a call, query first, then form body.
    pub(super) struct Params(Vec<(String, String)>);

    impl Params {
        /// Query parameters followed by form-body parameters, decoded.
        pub fn from_request(
            uri: &Uri,
            headers: &HeaderMap,
            body: &[u8],
        ) -> Result<Params, RpcError> {
            let Query(mut params) = Query::<Vec<(String, String)>>::try_from_uri(uri)
                .map_err(|_| RpcError::invalid("InvalidParameter", "query string"))?;
            if body.is_empty() {
                return Ok(Params(params));
            }
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !content_type.starts_with("application/x-www-form-urlencoded") {
                return Err(RpcError::new(
                    400,
                    "InvalidParameter.ContentType",
                    "The ContentType request header must be either \"application/json\" or \
                     \"application/x-www-form-urlencoded\".",
                ));
            }
            // The form body has the same syntax as a query string, so the same decoder applies.
            let malformed_form = || RpcError::invalid("InvalidParameter", "form body");
            let as_query: Uri = format!("/?{}", String::from_utf8_lossy(body))
                .parse()
                .map_err(|_| malformed_form())?;
            let Query(form) = Query::<Vec<(String, String)>>::try_from_uri(&as_query)
                .map_err(|_| malformed_form())?;
            params.extend(form);
            Ok(Params(params))
        }

        #[cfg(test)]
        pub fn new(params: Vec<(String, String)>) -> Params {
            Params(params)
        }

        pub fn get(&self, name: &str) -> Option<&str> {
            self.0
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        }

        /// A parameter that is there and not empty, or `MissingParameter`.
        pub fn required(&self, name: &str) -> Result<&str, RpcError> {
            self.get(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| RpcError::missing(name))
        }

        /// Checks the common parameters of the call, the caller's signature with its permanent
        /// AccessKey from `accounts`, and that the nonce is new; returns the caller's AccessKeyId.
        pub fn verify(
            &self,
            method: &Method,
            accounts: &HashMap<String, String>,
            nonces: &Nonces,
        ) -> Result<&str, RpcError> {
            for name in [
                "AccessKeyId",
                "Action",
                "Signature",
                "SignatureMethod",
                "SignatureNonce",
                "SignatureVersion",
                "Timestamp",
                "Version",
            ] {
                self.required(name)?;
            }
            let param = |name: &str| self.get(name).unwrap_or_default();
            if param("Action") != ACTION {
                return Err(RpcError::no_such_action());
            }
            if param("Version") != API_VERSION {
                return Err(RpcError::new(
                    400,
                    "InvalidVersion",
                    "Specified parameter Version is not valid.",
                ));
            }
            if param("SignatureMethod") != "HMAC-SHA1" || param("SignatureVersion") != "1.0" {
                return Err(RpcError::new(
                    400,
                    "IncompleteSignature",
                    "The request signature does not conform to Aliyun standards.",
                ));
            }
            let timestamp = check_timestamp(param("Timestamp"))?;

            let access_id = param("AccessKeyId");
            let Some(secret) = accounts.get(access_id) else {
                return Err(RpcError::new(
                    404,
                    "InvalidAccessKeyId.NotFound",
                    "Specified access key is not found.",
                ));
            };
            let unsigned: Vec<(String, String)> = self
                .0
                .iter()
                .filter(|(k, _)| k != "Signature")
                .cloned()
                .collect();
            let string_to_sign = rpc_string_to_sign(method.as_str(), &unsigned);
            if rpc_signature(secret, &string_to_sign) != param("Signature") {
                // Like the real service, show the string to sign (it holds no secret) so a client
                // author can see where the canonicalization differs.
                return Err(RpcError::new(
                    400,
                    "SignatureDoesNotMatch",
                    format!(
                        "Specified signature is not matched with our calculation. server string to \
                         sign is:{string_to_sign}"
                    ),
                ));
            }
            nonces.remember(param("SignatureNonce"), timestamp)?;
            Ok(access_id)
        }
    }

    /// Parses the `Timestamp` parameter and checks it is within the skew limit of real time.
    fn check_timestamp(raw: &str) -> Result<DateTime<Utc>, RpcError> {
        let timestamp = DateTime::parse_from_rfc3339(raw)
            .map_err(|_| {
                RpcError::new(
                    400,
                    "InvalidTimeStamp.Format",
                    "Specified time stamp or date value is not well formatted.",
                )
            })?
            .with_timezone(&Utc);
        let skew = (Utc::now() - timestamp).abs();
        if skew > TimeDelta::from_std(MAX_TIMESTAMP_SKEW).unwrap_or(TimeDelta::MAX) {
            return Err(RpcError::new(
                400,
                "InvalidTimeStamp.Expired",
                "Specified time stamp or date value is expired.",
            ));
        }
        Ok(timestamp)
    }

    /// Nonces seen recently, with their request timestamps, to refuse replays. Cloning shares them.
    #[derive(Clone, Default)]
    pub(super) struct Nonces(Arc<Mutex<HashMap<String, DateTime<Utc>>>>);

    impl Nonces {
        fn remember(&self, nonce: &str, timestamp: DateTime<Utc>) -> Result<(), RpcError> {
            // A map of nonces stays consistent whatever panicked while holding the lock.
            let mut nonces = self.0.lock().unwrap_or_else(|p| p.into_inner());
            // A nonce older than twice the skew window can no longer pass the timestamp check, so
            // there is no need to remember it.
            let horizon =
                Utc::now() - TimeDelta::from_std(MAX_TIMESTAMP_SKEW * 2).unwrap_or_default();
            nonces.retain(|_, t| *t > horizon);
            if nonces.contains_key(nonce) {
                return Err(RpcError::new(
                    400,
                    "SignatureNonceUsed",
                    "Specified signature nonce was used already.",
                ));
            }
            nonces.insert(nonce.to_owned(), timestamp);
            Ok(())
        }
    }
}

#[cfg(test)]
mod test_support {
    //! What the STS unit tests share: a service with one role and one caller, and signed calls.

    use axum::http::Method;
    use chrono::Utc;
    use maxcompute_tunnel::auth::rpc::{rpc_signature, rpc_string_to_sign};
    use serde_json::Value;

    use super::rpc::{Params, RpcError, API_VERSION};
    use super::{Sts, StsConfig};

    pub const ROLE: &str = "acs:ram::1234567890:role/sink-role";

    pub fn sts() -> Sts {
        Sts::new(
            StsConfig {
                role_arns: vec![ROLE.to_owned()],
                ..StsConfig::default()
            },
            [("LTAI-caller".to_owned(), "caller-secret".to_owned())],
        )
    }

    pub fn unsigned(nonce: &str) -> Vec<(String, String)> {
        [
            ("Action", "AssumeRole"),
            ("Version", API_VERSION),
            ("Format", "JSON"),
            ("AccessKeyId", "LTAI-caller"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", nonce),
            ("RoleArn", ROLE),
            ("RoleSessionName", "kafka-session-1234567890"),
            ("DurationSeconds", "3600"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .chain([(
            "Timestamp".to_owned(),
            Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )])
        .collect()
    }

    pub fn set(params: &mut Vec<(String, String)>, name: &str, value: &str) {
        params.retain(|(k, _)| k != name);
        params.push((name.to_owned(), value.to_owned()));
    }

    pub fn signed(
        method: &str,
        mut params: Vec<(String, String)>,
        secret: &str,
    ) -> Vec<(String, String)> {
        let signature = rpc_signature(secret, &rpc_string_to_sign(method, &params));
        params.push(("Signature".to_owned(), signature));
        params
    }

    pub fn call(sts: &Sts, params: &[(String, String)]) -> Result<Value, RpcError> {
        call_with(sts, Method::POST, params)
    }

    /// AssumeRole called with `method`; a success as the JSON document it answers.
    pub fn call_with(
        sts: &Sts,
        method: Method,
        params: &[(String, String)],
    ) -> Result<Value, RpcError> {
        sts.assume_role(&method, &Params::new(params.to_vec()))
            .map(|answer| answer.to_json("TEST-REQUEST"))
    }

    pub fn code_of(r: Result<Value, RpcError>) -> (u16, &'static str) {
        let e = r.expect_err("AssumeRole should be refused");
        (e.status, e.code)
    }

    pub fn encode(params: &[(String, String)]) -> String {
        params
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    maxcompute_tunnel::auth::rpc::pop_percent_encode(k),
                    maxcompute_tunnel::auth::rpc::pop_percent_encode(v)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}
