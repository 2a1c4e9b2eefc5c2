//! Emulated Alibaba Cloud STS: `AssumeRole` in the RPC style (API version 2015-04-01), and the
//! check that REST and tunnel requests signed with the temporary credentials carry the matching
//! security token and have not expired.
//!
//! The endpoint verifies the caller's permanent AccessKey signature exactly as the real service
//! does (see `maxcompute_tunnel::auth::rpc_signature`) and answers with the real JSON shapes and
//! error codes (STS API reference, "AssumeRole", and the RPC common error codes).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use maxcompute_tunnel::auth::{rpc_signature, rpc_string_to_sign};
use rand::distr::{Alphanumeric, SampleString};
use rand::RngCore;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};

use crate::faults::{FaultKind, Faults, Interception};

/// MaxCompute error code for a request whose STS token has expired. pyodps (`rest.py`) reloads
/// its `StsAccount` and retries once on exactly this code.
pub const EXPIRED_TOKEN_CODE: &str = "AuthenticationRequestExpired";
/// HTTP status sent with [`EXPIRED_TOKEN_CODE`].
pub const EXPIRED_TOKEN_STATUS: u16 = 403;
/// MaxCompute error code for a temporary AccessKey used without its token or with another one.
pub const INVALID_TOKEN_CODE: &str = "Unauthorized";
/// HTTP status sent with [`INVALID_TOKEN_CODE`].
pub const INVALID_TOKEN_STATUS: u16 = 401;
/// Header that carries the security token on MaxCompute requests.
pub const STS_TOKEN_HEADER: &str = "authorization-sts-token";

/// The STS API version this endpoint implements.
pub const API_VERSION: &str = "2015-04-01";
/// Largest accepted difference between the request `Timestamp` and the server clock.
pub const MAX_TIMESTAMP_SKEW: Duration = Duration::from_secs(15 * 60);

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
    /// MaxCompute error code to answer with.
    pub fn code(&self) -> &'static str {
        match self {
            StsAuthError::Expired { .. } => EXPIRED_TOKEN_CODE,
            _ => INVALID_TOKEN_CODE,
        }
    }

    /// HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            StsAuthError::Expired { .. } => EXPIRED_TOKEN_STATUS,
            _ => INVALID_TOKEN_STATUS,
        }
    }
}

/// True for AccessKeyIds that STS issues (`STS.` prefix), which need a security token.
pub fn is_temporary_access_id(access_id: &str) -> bool {
    access_id.starts_with("STS.")
}

struct Issued {
    secret: String,
    token: String,
    expires_at: DateTime<Utc>,
}

#[derive(Default)]
struct State_ {
    issued: HashMap<String, Issued>,
    /// Nonces seen recently, with the request timestamp, to refuse replays.
    nonces: HashMap<String, DateTime<Utc>>,
}

/// The emulated STS service. Cloning shares all state.
#[derive(Clone)]
pub struct Sts {
    config: Arc<StsConfig>,
    /// Permanent AccessKeyId -> secret.
    accounts: Arc<HashMap<String, String>>,
    faults: Faults,
    state: Arc<Mutex<State_>>,
    calls: Arc<AtomicU64>,
    issued_count: Arc<AtomicU64>,
    clock_offset: Arc<Mutex<TimeDelta>>,
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
            faults: Faults::new(),
            state: Arc::default(),
            calls: Arc::default(),
            issued_count: Arc::default(),
            clock_offset: Arc::new(Mutex::new(TimeDelta::zero())),
        }
    }

    /// Lets [`FaultKind::AssumeRole`] faults from `faults` hit this endpoint.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
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
        self.issued_count.load(Ordering::SeqCst)
    }

    /// The clock that decides whether issued credentials have expired: real time plus the
    /// offset set by [`Sts::advance_clock`]. Pass it to [`Sts::validate`].
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *lock(&self.clock_offset)
    }

    /// Moves the credential-expiry clock forward, so tests can expire tokens without sleeping.
    /// The AssumeRole `Timestamp` check keeps using real time, as clients sign with real time.
    pub fn advance_clock(&self, by: Duration) {
        let by = TimeDelta::from_std(by).unwrap_or(TimeDelta::MAX);
        let mut offset = lock(&self.clock_offset);
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
        let state = lock(&self.state);
        let issued = state
            .issued
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

    /// Runs AssumeRole on decoded request parameters (query and form body merged).
    fn assume_role(&self, method: &Method, params: &[(String, String)]) -> Result<Value, RpcError> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
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
            if get(name).is_none_or(str::is_empty) {
                return Err(RpcError::missing(name));
            }
        }
        let param = |name: &str| get(name).unwrap_or_default();

        if param("Action") != "AssumeRole" {
            return Err(RpcError::new(
                404,
                "InvalidAction.NotFound",
                "Specified api is not found, please check your url and method.",
            ));
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

        let timestamp = DateTime::parse_from_rfc3339(param("Timestamp"))
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

        let access_id = param("AccessKeyId");
        let Some(secret) = self.accounts.get(access_id) else {
            return Err(RpcError::new(
                404,
                "InvalidAccessKeyId.NotFound",
                "Specified access key is not found.",
            ));
        };
        let unsigned: Vec<(String, String)> = params
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
        self.remember_nonce(param("SignatureNonce"), timestamp)?;

        let role_arn = get("RoleArn")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| RpcError::missing("RoleArn"))?;
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
        let session_name = get("RoleSessionName")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| RpcError::missing("RoleSessionName"))?;
        if !valid_session_name(session_name) {
            return Err(RpcError::new(
                400,
                "InvalidParameter.RoleSessionName",
                "The parameter RoleSessionName is wrongly formed.",
            ));
        }
        let duration = match get("DurationSeconds") {
            None => self.config.default_duration,
            Some(s) => s
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs)
                .filter(|d| (self.config.min_duration..=self.config.max_duration).contains(d))
                .ok_or_else(|| {
                    RpcError::new(
                        400,
                        "InvalidParameter.DurationSeconds",
                        format!(
                            "The Min/Max value of DurationSeconds is {}/{}.",
                            human_duration(self.config.min_duration),
                            human_duration(self.config.max_duration)
                        ),
                    )
                })?,
        };

        let lifetime = self.config.lifetime_override.unwrap_or(duration);
        // Whole seconds, rounded down, so the client-visible Expiration is never later than the
        // instant the server starts refusing the token. Dated on the expiry clock, so that after
        // `advance_clock` new tokens are valid for their whole lifetime, as after a real wait.
        let expires_at =
            (self.now() + TimeDelta::from_std(lifetime).unwrap_or(TimeDelta::MAX)).trunc_subsecs(0);
        let credential_id = format!("STS.{}", Alphanumeric.sample_string(&mut rand::rng(), 24));
        let credential_secret = Alphanumeric.sample_string(&mut rand::rng(), 44);
        let mut token_bytes = [0u8; 96];
        rand::rng().fill_bytes(&mut token_bytes);
        let token = format!("CAIS{}", BASE64.encode(token_bytes));

        {
            let mut state = lock(&self.state);
            // Keep expired entries for a while so late requests get "expired", not "unknown".
            let horizon = self.now() - TimeDelta::hours(24);
            state.issued.retain(|_, c| c.expires_at > horizon);
            state.issued.insert(
                credential_id.clone(),
                Issued {
                    secret: credential_secret.clone(),
                    token: token.clone(),
                    expires_at,
                },
            );
        }
        self.issued_count.fetch_add(1, Ordering::SeqCst);
        tracing::info!(
            caller = access_id,
            role = role_arn,
            session = session_name,
            expires_at = %expires_at,
            "STS credentials issued"
        );

        Ok(json!({
            "RequestId": new_request_id(),
            "AssumedRoleUser": {
                "Arn": format!("{role_arn}/{session_name}"),
                "AssumedRoleId": format!("{}:{session_name}", role_id(account_id, role_name)),
            },
            "Credentials": {
                "AccessKeyId": credential_id,
                "AccessKeySecret": credential_secret,
                "SecurityToken": token,
                "Expiration": expires_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            },
        }))
    }

    fn remember_nonce(&self, nonce: &str, timestamp: DateTime<Utc>) -> Result<(), RpcError> {
        let mut state = lock(&self.state);
        // A nonce older than twice the skew window can no longer pass the timestamp check, so
        // there is no need to remember it.
        let horizon = Utc::now() - TimeDelta::from_std(MAX_TIMESTAMP_SKEW * 2).unwrap_or_default();
        state.nonces.retain(|_, t| *t > horizon);
        if state.nonces.contains_key(nonce) {
            return Err(RpcError::new(
                400,
                "SignatureNonceUsed",
                "Specified signature nonce was used already.",
            ));
        }
        state.nonces.insert(nonce.to_owned(), timestamp);
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a few map operations that cannot leave the data
    // inconsistent, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
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

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string().to_ascii_uppercase()
}

/// An error in Alibaba's RPC shape.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RpcError {
    status: u16,
    code: &'static str,
    message: String,
}

impl RpcError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn missing(name: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!(
                "The input parameter \"{name}\" that is mandatory for processing this request is \
                 not supplied."
            ),
        )
    }

    fn into_response(self, host: &str) -> Response {
        let request_id = new_request_id();
        let body = json!({
            "RequestId": request_id,
            "HostId": host,
            "Code": self.code,
            "Message": self.message,
            "Recommend": format!(
                "https://api.aliyun.com/troubleshoot?q={}&product=Sts&requestId={request_id}",
                self.code
            ),
        });
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(body)).into_response()
    }
}

/// Path of the AssumeRole endpoint; `/sts/` (trailing slash) is served too.
pub const STS_PATH: &str = "/sts";

/// The AssumeRole endpoint (GET with a query, or POST with a query and/or a form body) at
/// [`STS_PATH`] and `STS_PATH/`. Add it with `Router::merge`: axum's `nest` would not route the
/// trailing-slash form, which RPC clients commonly send (`endpoint + "/?" + query`).
pub fn router(sts: Sts) -> Router {
    let endpoint = any(handle).with_state(sts);
    Router::new()
        .route(STS_PATH, endpoint.clone())
        .route(&format!("{STS_PATH}/"), endpoint)
}

async fn handle(
    State(sts): State<Sts>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sts.calls.fetch_add(1, Ordering::SeqCst);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("sts.aliyuncs.com")
        .to_owned();
    match sts
        .faults
        .intercept(FaultKind::AssumeRole, &new_request_id())
        .await
    {
        Interception::Proceed | Interception::ApplyThenDrop => {}
        Interception::Respond(response) => return response,
    }
    if method != Method::GET && method != Method::POST {
        return RpcError::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        )
        .into_response(&host);
    }
    let params = match request_params(&uri, &headers, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(&host),
    };
    match sts.assume_role(&method, &params) {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => {
            tracing::info!(code = e.code, status = e.status, "AssumeRole refused");
            e.into_response(&host)
        }
    }
}

/// Query parameters followed by form-body parameters, decoded.
fn request_params(
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, RpcError> {
    let Query(mut params) = Query::<Vec<(String, String)>>::try_from_uri(uri).map_err(|_| {
        RpcError::new(
            400,
            "InvalidParameter",
            "The query string is not well formed.",
        )
    })?;
    if body.is_empty() {
        return Ok(params);
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
    let as_query: Uri = format!("/?{}", String::from_utf8_lossy(body))
        .parse()
        .map_err(|_| RpcError::new(400, "InvalidParameter", "The form body is not well formed."))?;
    let Query(form) = Query::<Vec<(String, String)>>::try_from_uri(&as_query)
        .map_err(|_| RpcError::new(400, "InvalidParameter", "The form body is not well formed."))?;
    params.extend(form);
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::FaultAction;

    const ROLE: &str = "acs:ram::1234567890:role/sink-role";

    fn sts() -> Sts {
        Sts::new(
            StsConfig {
                role_arns: vec![ROLE.to_owned()],
                ..StsConfig::default()
            },
            [("LTAI-caller".to_owned(), "caller-secret".to_owned())],
        )
    }

    fn unsigned(nonce: &str) -> Vec<(String, String)> {
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

    fn set(params: &mut Vec<(String, String)>, name: &str, value: &str) {
        params.retain(|(k, _)| k != name);
        params.push((name.to_owned(), value.to_owned()));
    }

    fn signed(
        method: &str,
        mut params: Vec<(String, String)>,
        secret: &str,
    ) -> Vec<(String, String)> {
        let signature = rpc_signature(secret, &rpc_string_to_sign(method, &params));
        params.push(("Signature".to_owned(), signature));
        params
    }

    fn call(sts: &Sts, params: &[(String, String)]) -> Result<Value, RpcError> {
        sts.assume_role(&Method::POST, params)
    }

    fn code_of(r: Result<Value, RpcError>) -> (u16, &'static str) {
        let e = r.expect_err("AssumeRole should be refused");
        (e.status, e.code)
    }

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
        assert!(sts.assume_role(&Method::GET, &params).is_ok());
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

    #[test]
    fn debug_hides_secrets() {
        let sts = sts();
        let text = format!("{sts:?}");
        assert!(text.contains("LTAI-caller"));
        assert!(!text.contains("caller-secret"));
    }

    async fn serve(sts: Sts) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().merge(router(sts));
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/sts")
    }

    fn encode(params: &[(String, String)]) -> String {
        params
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    maxcompute_tunnel::auth::pop_percent_encode(k),
                    maxcompute_tunnel::auth::pop_percent_encode(v)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    #[tokio::test]
    async fn http_get_and_post_form() {
        let sts = sts();
        let base = serve(sts.clone()).await;
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
        let sts = sts().with_faults(faults.clone());
        let base = serve(sts.clone()).await;
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
