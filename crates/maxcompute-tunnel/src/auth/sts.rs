//! Alibaba Cloud STS `AssumeRole` (API version 2015-04-01) over the RPC protocol: turns a
//! permanent AccessKey into temporary credentials for a RAM role.
//!
//! Specification: STS API reference, "AssumeRole"
//! (<https://www.alibabacloud.com/help/en/ram/developer-reference/api-sts-2015-04-01-assumerole>),
//! and the RPC request signature implemented in [`super::rpc`]. The request is a POST with the
//! parameters in a form body, so that nothing about the call (not even the signature) ends up in
//! a URL that an HTTP error might print.
//!
//! Secrets: the permanent secret never leaves this process (only the signature does); the
//! answer's secret and security token go straight into [`Credentials`], whose `Debug` and
//! `Display` redact them. Error messages keep STS's `Code`, `Message` and `RequestId`, which
//! never contain either.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde::Deserialize;

use super::clock::{Clock, SystemClock};
use super::credential::Credentials;
use super::rpc::{pop_percent_encode, rpc_signature, rpc_string_to_sign};

/// Where AssumeRole goes when the configuration does not say.
const DEFAULT_STS_ENDPOINT: &str = "https://sts.aliyuncs.com";
/// The STS API version this client speaks.
const STS_API_VERSION: &str = "2015-04-01";
/// Lifetime asked for when none is configured: STS's own default and the role's usual maximum.
const DEFAULT_DURATION: Duration = Duration::from_secs(3600);
/// STS refuses `DurationSeconds` below 15 minutes.
const MIN_DURATION: Duration = Duration::from_secs(900);

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Why AssumeRole was refused, derived from STS's error `Code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsFailure {
    /// The caller may not assume the role (`NoPermission`, `Forbidden*`).
    NoPermission,
    /// The role does not exist or the ARN is malformed (`EntityNotExist.Role`,
    /// `InvalidParameter.RoleArn`).
    UnknownRole,
    /// The permanent AccessKeyId is unknown or disabled (`InvalidAccessKeyId.*`).
    BadAccessKey,
    /// The signature did not verify: almost always a wrong AccessKey secret
    /// (`SignatureDoesNotMatch`).
    SignatureMismatch,
    /// The request's `Timestamp` is too far from STS's clock (`InvalidTimeStamp.Expired`).
    ClockSkew,
    /// A parameter was refused (`InvalidParameter.*`, `MissingParameter`, ...).
    InvalidParameter,
    /// STS is throttling or temporarily unable to answer (`Throttling*`, `ServiceUnavailable`,
    /// 5xx, a reused nonce).
    Unavailable,
    /// Any other code.
    Other,
}

impl StsFailure {
    /// Classifies an STS error code (and the HTTP status, for codes STS does not document).
    pub(crate) fn from_code(code: &str, status: u16) -> StsFailure {
        match code {
            "NoPermission" => StsFailure::NoPermission,
            c if c.starts_with("Forbidden") => StsFailure::NoPermission,
            "EntityNotExist.Role" | "InvalidParameter.RoleArn" => StsFailure::UnknownRole,
            c if c.starts_with("InvalidAccessKeyId") => StsFailure::BadAccessKey,
            "SignatureDoesNotMatch" | "IncompleteSignature" => StsFailure::SignatureMismatch,
            "InvalidTimeStamp.Expired" => StsFailure::ClockSkew,
            // A reused nonce only means "try again": the next attempt draws a fresh one.
            "SignatureNonceUsed" | "ServiceUnavailable" | "InternalError" => {
                StsFailure::Unavailable
            }
            c if c.starts_with("Throttling") => StsFailure::Unavailable,
            c if c.starts_with("InvalidParameter") || c.starts_with("MissingParameter") => {
                StsFailure::InvalidParameter
            }
            _ if status >= 500 || status == 429 => StsFailure::Unavailable,
            _ => StsFailure::Other,
        }
    }

    /// What an operator should check, in words.
    fn explanation(self) -> &'static str {
        match self {
            StsFailure::NoPermission => {
                "no permission: the AccessKey's RAM user may not assume this role \
                 (grant sts:AssumeRole and check the role's trust policy)"
            }
            StsFailure::UnknownRole => {
                "unknown role: check account_id and role_name (RoleArn acs:ram::<account_id>:role/<role_name>)"
            }
            StsFailure::BadAccessKey => "bad AccessKey: the AccessKeyId is unknown or disabled",
            StsFailure::SignatureMismatch => {
                "signature mismatch: the AccessKey secret does not belong to this AccessKeyId"
            }
            StsFailure::ClockSkew => {
                "clock skew: this machine's clock is more than 15 minutes off STS's"
            }
            StsFailure::InvalidParameter => "a request parameter was refused",
            StsFailure::Unavailable => "STS is throttling or temporarily unavailable",
            StsFailure::Other => "STS refused the request",
        }
    }

    /// Whether asking again later may succeed.
    fn is_retryable(self) -> bool {
        self == StsFailure::Unavailable
    }
}

/// An AssumeRole call failed.
#[derive(Debug, thiserror::Error)]
pub enum StsError {
    /// The STS settings are unusable; nothing was sent.
    #[error("STS configuration: {0}")]
    Config(String),
    /// No answer from the endpoint (DNS, connection refused, TLS, timeout, broken connection).
    #[error("STS endpoint {endpoint} unreachable: {kind}")]
    Unreachable {
        endpoint: String,
        kind: String,
        #[source]
        source: reqwest::Error,
    },
    /// STS answered with an error.
    #[error(
        "AssumeRole of {role_arn} refused: {explanation} (HTTP {status}, Code {code}, \
         RequestId {request_id}): {message}",
        explanation = failure.explanation(),
        request_id = request_id.as_deref().unwrap_or("none")
    )]
    Refused {
        failure: StsFailure,
        role_arn: String,
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// A 2xx answer that is not the documented AssumeRole JSON. The body is not quoted: it may
    /// hold credentials.
    #[error(
        "STS endpoint {endpoint} sent an unusable AssumeRole answer (HTTP {status}): {problem}"
    )]
    BadAnswer {
        endpoint: String,
        status: u16,
        problem: String,
    },
}

impl StsError {
    /// The cause STS named, if it answered with an error.
    pub fn failure(&self) -> Option<StsFailure> {
        match self {
            StsError::Refused { failure, .. } => Some(*failure),
            _ => None,
        }
    }

    /// STS's error code, if it answered with one.
    #[cfg(test)]
    pub(crate) fn code(&self) -> Option<&str> {
        match self {
            StsError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// STS's request id, for a support ticket.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            StsError::Refused { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Whether asking again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            StsError::Unreachable { .. } => true,
            StsError::Refused { failure, .. } => failure.is_retryable(),
            StsError::Config(_) | StsError::BadAnswer { .. } => false,
        }
    }
}

/// Temporary credentials and the instant STS says they stop working.
#[derive(Debug, Clone)]
pub struct TemporaryCredentials {
    pub credentials: Credentials,
    /// `Expiration`, by STS's clock.
    pub expiration: DateTime<Utc>,
    /// STS's clock when it answered (the HTTP `Date` header), if it said. With it, a cache can
    /// measure the lifetime on STS's clock and so stay right when the local clock is off.
    pub server_time: Option<DateTime<Utc>>,
}

/// Something that hands out temporary credentials on request: the STS client, or a stand-in in
/// unit tests of the cache.
pub(crate) trait TemporaryCredentialSource: Send + Sync + fmt::Debug {
    fn fetch(&self) -> BoxFuture<'_, Result<TemporaryCredentials, StsError>>;
}

/// AssumeRole settings. Build with [`AssumeRoleConfig::new`] and the `with_*` options.
#[derive(Clone)]
pub struct AssumeRoleConfig {
    endpoint: String,
    access: Credentials,
    role_arn: String,
    session_name: String,
    duration: Duration,
    region_id: Option<String>,
    timeout: Duration,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for AssumeRoleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleConfig")
            .field("endpoint", &self.endpoint)
            .field("access", &self.access)
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("duration", &self.duration)
            .field("region_id", &self.region_id)
            .finish_non_exhaustive()
    }
}

/// `acs:ram::<account_id>:role/<role_name>`.
pub fn role_arn(account_id: &str, role_name: &str) -> String {
    format!("acs:ram::{account_id}:role/{role_name}")
}

impl AssumeRoleConfig {
    /// `access` is the permanent AccessKey that calls STS; the session name defaults to
    /// `kafka-session-<account_id>`, as the connector names it.
    pub fn new(access: Credentials, account_id: &str, role_name: &str) -> Self {
        AssumeRoleConfig {
            endpoint: DEFAULT_STS_ENDPOINT.to_owned(),
            access,
            role_arn: role_arn(account_id, role_name),
            session_name: format!("kafka-session-{account_id}"),
            duration: DEFAULT_DURATION,
            region_id: None,
            timeout: DEFAULT_TIMEOUT,
            clock: Arc::new(SystemClock),
        }
    }

    /// `sts.aliyuncs.com`, `sts.cn-hangzhou.aliyuncs.com` (HTTPS implied) or a full URL such as
    /// `http://127.0.0.1:8080/sts/` for a local endpoint.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// The lifetime asked for (`DurationSeconds`, whole seconds, at least 15 minutes).
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }

    pub fn with_region_id(mut self, region: impl Into<String>) -> Self {
        self.region_id = Some(region.into()).filter(|r: &String| !r.trim().is_empty());
        self
    }

    /// Upper bound of one AssumeRole exchange.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The clock that stamps requests (`Timestamp`); tests use it to provoke clock-skew errors.
    #[cfg(any(test, feature = "testing"))]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
}

/// The AssumeRole client. Wrap it in a
/// [`StsCredentialProvider`](super::StsCredentialProvider) to sign MaxCompute requests with the
/// temporary credentials it fetches, refreshed before they expire.
///
/// ```no_run
/// # async fn run() -> Result<(), maxcompute_tunnel::auth::StsError> {
/// use std::time::Duration;
/// use maxcompute_tunnel::auth::{
///     role_arn, AssumeRoleConfig, Credentials, StsClient, StsCredentialProvider, StsFailure,
///     TemporaryCredentials,
/// };
///
/// assert_eq!(role_arn("1234567890", "sink-role"), "acs:ram::1234567890:role/sink-role");
/// let config = AssumeRoleConfig::new(Credentials::new("LTAI-id", "secret"), "1234567890", "sink-role")
///     .with_endpoint("sts.cn-hangzhou.aliyuncs.com")
///     .with_region_id("cn-hangzhou")
///     .with_duration(Duration::from_secs(3600))
///     .with_timeout(Duration::from_secs(5));
/// let client = StsClient::new(config)?;
/// match client.assume_role().await {
///     Ok(TemporaryCredentials { credentials, expiration, .. }) => {
///         println!("{credentials} until {expiration}")
///     }
///     Err(e) if e.failure() == Some(StsFailure::UnknownRole) => {
///         println!("check the role name (request id {:?})", e.request_id())
///     }
///     Err(e) if e.is_retryable() => println!("STS unavailable for now: {e}"),
///     Err(e) => return Err(e),
/// }
/// let provider = StsCredentialProvider::new(client).with_max_age(Duration::from_secs(900));
/// # drop(provider);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct StsClient {
    config: AssumeRoleConfig,
    url: reqwest::Url,
    http: reqwest::Client,
}

impl StsClient {
    /// Validates the settings and builds the HTTP client (no network access).
    pub fn new(config: AssumeRoleConfig) -> Result<StsClient, StsError> {
        let url = endpoint_url(&config.endpoint)?;
        if config.access.access_id().trim().is_empty() {
            return Err(StsError::Config("the AccessKeyId is empty".into()));
        }
        if config.access.access_key_secret().is_empty() {
            return Err(StsError::Config("the AccessKey secret is empty".into()));
        }
        if config.duration < MIN_DURATION {
            return Err(StsError::Config(format!(
                "duration {} s is below STS's minimum of {} s",
                config.duration.as_secs(),
                MIN_DURATION.as_secs()
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| StsError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(StsClient { config, url, http })
    }

    /// Calls AssumeRole once.
    pub async fn assume_role(&self) -> Result<TemporaryCredentials, StsError> {
        let params = self.signed_params(self.config.clock.now(), &uuid::Uuid::new_v4().to_string());
        let body = params
            .iter()
            .map(|(k, v)| format!("{}={}", pop_percent_encode(k), pop_percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        tracing::debug!(
            endpoint = %self.url,
            role_arn = %self.config.role_arn,
            session = %self.config.session_name,
            "calling STS AssumeRole"
        );
        let unreachable = |source: reqwest::Error| StsError::Unreachable {
            endpoint: self.url.to_string(),
            kind: transport_kind(&source).to_owned(),
            // The URL carries no parameters, but keep reqwest from repeating it anyway.
            source: source.without_url(),
        };
        let response = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, FORM_CONTENT_TYPE)
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let server_time = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|t| t.with_timezone(&Utc));
        let bytes = response.bytes().await.map_err(unreachable)?;
        if (200..300).contains(&status) {
            let mut answer = self.parse_success(status, &bytes)?;
            answer.server_time = server_time;
            tracing::info!(
                role_arn = %self.config.role_arn,
                expiration = %answer.expiration,
                "assumed role"
            );
            Ok(answer)
        } else {
            Err(self.parse_failure(status, &bytes))
        }
    }

    /// The request parameters with `Signature`, for `now` and `nonce`.
    pub(crate) fn signed_params(&self, now: DateTime<Utc>, nonce: &str) -> Vec<(String, String)> {
        let c = &self.config;
        let mut params: Vec<(String, String)> = [
            ("Action", "AssumeRole"),
            ("Version", STS_API_VERSION),
            ("Format", "JSON"),
            ("AccessKeyId", c.access.access_id()),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", nonce),
            ("RoleArn", &c.role_arn),
            ("RoleSessionName", &c.session_name),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        params.push((
            "Timestamp".into(),
            now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        ));
        params.push(("DurationSeconds".into(), c.duration.as_secs().to_string()));
        if let Some(region) = &c.region_id {
            params.push(("RegionId".into(), region.clone()));
        }
        let string_to_sign = rpc_string_to_sign("POST", &params);
        let signature = rpc_signature(c.access.access_key_secret(), &string_to_sign);
        params.push(("Signature".into(), signature));
        params
    }

    fn parse_success(&self, status: u16, body: &[u8]) -> Result<TemporaryCredentials, StsError> {
        let bad = |problem: &str| StsError::BadAnswer {
            endpoint: self.url.to_string(),
            status,
            problem: problem.to_owned(),
        };
        // serde's messages quote the offending input, which may be a secret: use fixed words.
        let answer: SuccessBody =
            serde_json::from_slice(body).map_err(|_| bad("not the AssumeRole JSON"))?;
        let c = answer
            .credentials
            .ok_or_else(|| bad("no `Credentials` object"))?;
        if c.access_key_id.is_empty()
            || c.access_key_secret.is_empty()
            || c.security_token.is_empty()
        {
            return Err(bad("empty AccessKeyId, AccessKeySecret or SecurityToken"));
        }
        let expiration = DateTime::parse_from_rfc3339(&c.expiration)
            .map_err(|_| bad("`Expiration` is not an ISO 8601 instant"))?
            .with_timezone(&Utc);
        Ok(TemporaryCredentials {
            credentials: Credentials::new(c.access_key_id, c.access_key_secret)
                .with_security_token(c.security_token),
            expiration,
            server_time: None,
        })
    }

    fn parse_failure(&self, status: u16, body: &[u8]) -> StsError {
        let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let code = parsed
            .code
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| format!("HTTP{status}"));
        let message = parsed.message.unwrap_or_else(|| {
            // Not JSON: a proxy or load balancer answered. Its page holds no credentials, but it
            // may be long.
            let text = String::from_utf8_lossy(body);
            text.chars().take(200).collect()
        });
        StsError::Refused {
            failure: StsFailure::from_code(&code, status),
            role_arn: self.config.role_arn.clone(),
            status,
            code,
            message,
            request_id: parsed.request_id,
        }
    }
}

impl TemporaryCredentialSource for StsClient {
    fn fetch(&self) -> BoxFuture<'_, Result<TemporaryCredentials, StsError>> {
        Box::pin(self.assume_role())
    }
}

/// A bare host means HTTPS at the root; a URL is taken as it is (http allowed for local use).
fn endpoint_url(endpoint: &str) -> Result<reqwest::Url, StsError> {
    let endpoint = endpoint.trim();
    if endpoint.is_empty() {
        return Err(StsError::Config("the STS endpoint is empty".into()));
    }
    let full = if endpoint.contains("://") {
        endpoint.to_owned()
    } else {
        format!("https://{endpoint}")
    };
    let url = reqwest::Url::parse(&full)
        .map_err(|e| StsError::Config(format!("STS endpoint `{endpoint}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(StsError::Config(format!(
            "STS endpoint `{endpoint}`: needs an http(s) URL with a host"
        )));
    }
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(StsError::Config(format!(
            "STS endpoint `{endpoint}`: must not carry a query or user info"
        )));
    }
    Ok(url)
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "no answer within the timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "the connection broke"
    }
}

#[derive(Deserialize)]
struct SuccessBody {
    #[serde(rename = "Credentials")]
    credentials: Option<CredentialsBody>,
}

#[derive(Deserialize)]
struct CredentialsBody {
    #[serde(rename = "AccessKeyId", default)]
    access_key_id: String,
    #[serde(rename = "AccessKeySecret", default)]
    access_key_secret: String,
    #[serde(rename = "SecurityToken", default)]
    security_token: String,
    #[serde(rename = "Expiration", default)]
    expiration: String,
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(rename = "Code")]
    code: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "RequestId")]
    request_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn client(endpoint: &str) -> StsClient {
        StsClient::new(
            AssumeRoleConfig::new(
                Credentials::new("LTAI-test", "perm-secret-xyz"),
                "1234567890",
                "sink-role",
            )
            .with_endpoint(endpoint)
            .with_region_id("cn-hangzhou"),
        )
        .unwrap()
    }

    #[test]
    fn endpoint_forms() {
        assert_eq!(
            client("sts.aliyuncs.com").url.as_str(),
            "https://sts.aliyuncs.com/"
        );
        assert_eq!(
            client("http://127.0.0.1:9/sts/").url.as_str(),
            "http://127.0.0.1:9/sts/"
        );
        assert_eq!(
            client(DEFAULT_STS_ENDPOINT).url.as_str(),
            "https://sts.aliyuncs.com/"
        );
        for bad in ["", "ftp://sts", "http://sts/?a=b", "http://u:p@sts/"] {
            let cfg =
                AssumeRoleConfig::new(Credentials::new("a", "b"), "1", "r").with_endpoint(bad);
            let err = StsClient::new(cfg).unwrap_err();
            assert!(matches!(err, StsError::Config(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn refuses_empty_keys_and_short_durations() {
        for (id, secret) in [("", "s"), ("id", "")] {
            let cfg = AssumeRoleConfig::new(Credentials::new(id, secret), "1", "r");
            assert!(matches!(StsClient::new(cfg), Err(StsError::Config(_))));
        }
        let cfg = AssumeRoleConfig::new(Credentials::new("id", "s"), "1", "r")
            .with_duration(Duration::from_secs(899));
        let err = StsClient::new(cfg).unwrap_err();
        assert!(err.to_string().contains("899"), "{err}");
    }

    #[test]
    fn signed_params_carry_everything_and_verify() {
        let c = client("sts.aliyuncs.com");
        let now = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        let params = c.signed_params(now, "nonce-1");
        let get = |k: &str| {
            params
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("{k} missing"))
        };
        assert_eq!(get("Action"), "AssumeRole");
        assert_eq!(get("Version"), "2015-04-01");
        assert_eq!(get("Format"), "JSON");
        assert_eq!(get("AccessKeyId"), "LTAI-test");
        assert_eq!(get("SignatureMethod"), "HMAC-SHA1");
        assert_eq!(get("SignatureVersion"), "1.0");
        assert_eq!(get("SignatureNonce"), "nonce-1");
        assert_eq!(get("Timestamp"), "2024-01-01T00:00:00Z");
        assert_eq!(get("RoleArn"), "acs:ram::1234567890:role/sink-role");
        assert_eq!(get("RoleSessionName"), "kafka-session-1234567890");
        assert_eq!(get("DurationSeconds"), "3600");
        assert_eq!(get("RegionId"), "cn-hangzhou");

        // The verifier's view: every parameter but Signature, in any order, signed for POST.
        let mut unsigned: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != "Signature")
            .cloned()
            .collect();
        unsigned.reverse();
        let expected = rpc_signature("perm-secret-xyz", &rpc_string_to_sign("POST", &unsigned));
        assert_eq!(get("Signature"), expected);
        assert!(params.iter().all(|(_, v)| !v.contains("perm-secret-xyz")));
    }

    #[test]
    fn classifies_sts_codes() {
        let cases = [
            ("NoPermission", 403, StsFailure::NoPermission),
            ("Forbidden.RAM", 403, StsFailure::NoPermission),
            ("EntityNotExist.Role", 404, StsFailure::UnknownRole),
            ("InvalidParameter.RoleArn", 400, StsFailure::UnknownRole),
            ("InvalidAccessKeyId.NotFound", 404, StsFailure::BadAccessKey),
            ("InvalidAccessKeyId.Inactive", 400, StsFailure::BadAccessKey),
            ("SignatureDoesNotMatch", 400, StsFailure::SignatureMismatch),
            ("InvalidTimeStamp.Expired", 400, StsFailure::ClockSkew),
            (
                "InvalidParameter.DurationSeconds",
                400,
                StsFailure::InvalidParameter,
            ),
            ("MissingParameter", 400, StsFailure::InvalidParameter),
            ("Throttling.User", 400, StsFailure::Unavailable),
            ("SignatureNonceUsed", 400, StsFailure::Unavailable),
            ("Whatever", 503, StsFailure::Unavailable),
            ("Whatever", 400, StsFailure::Other),
        ];
        for (code, status, want) in cases {
            assert_eq!(StsFailure::from_code(code, status), want, "{code}");
        }
        assert!(StsFailure::Unavailable.is_retryable());
        assert!(!StsFailure::SignatureMismatch.is_retryable());
    }

    #[test]
    fn error_answer_keeps_code_message_and_request_id() {
        let c = client("sts.aliyuncs.com");
        let body = br#"{"RequestId":"REQ-1","HostId":"sts.aliyuncs.com","Code":"EntityNotExist.Role","Message":"The specified Role not exists ."}"#;
        let err = c.parse_failure(404, body);
        assert_eq!(err.failure(), Some(StsFailure::UnknownRole));
        assert_eq!(err.code(), Some("EntityNotExist.Role"));
        assert_eq!(err.request_id(), Some("REQ-1"));
        assert!(!err.is_retryable());
        let text = err.to_string();
        for part in [
            "unknown role",
            "acs:ram::1234567890:role/sink-role",
            "HTTP 404",
            "EntityNotExist.Role",
            "REQ-1",
            "The specified Role not exists",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }

        let err = c.parse_failure(502, b"<html>bad gateway</html>");
        assert_eq!(err.code(), Some("HTTP502"));
        assert!(err.is_retryable());
        assert!(err.to_string().contains("bad gateway"), "{err}");
    }

    #[test]
    fn success_answer_and_unusable_answers() {
        let c = client("sts.aliyuncs.com");
        let body = br#"{"RequestId":"R","AssumedRoleUser":{"Arn":"a","AssumedRoleId":"b"},
            "Credentials":{"AccessKeyId":"STS.abc","AccessKeySecret":"tmp-secret-123",
            "SecurityToken":"CAIStoken456","Expiration":"2024-01-01T01:00:00Z"}}"#;
        let t = c.parse_success(200, body).unwrap();
        assert_eq!(t.credentials.access_id(), "STS.abc");
        assert_eq!(t.credentials.access_key_secret(), "tmp-secret-123");
        assert_eq!(t.credentials.security_token(), Some("CAIStoken456"));
        assert_eq!(
            t.expiration,
            Utc.with_ymd_and_hms(2024, 1, 1, 1, 0, 0).unwrap()
        );
        let shown = format!("{t:?}");
        assert!(!shown.contains("tmp-secret-123") && !shown.contains("CAIStoken456"));

        let no_expiry = br#"{"Credentials":{"AccessKeyId":"STS.abc","AccessKeySecret":"tmp-secret-123","SecurityToken":"CAIStoken456","Expiration":"soon"}}"#;
        let missing_token = br#"{"Credentials":{"AccessKeyId":"STS.abc","AccessKeySecret":"tmp-secret-123","Expiration":"2024-01-01T01:00:00Z"}}"#;
        let wrong_type = br#"{"Credentials":{"AccessKeyId":"STS.abc","AccessKeySecret":12345678,"SecurityToken":"CAIStoken456"}}"#;
        for body in [
            &no_expiry[..],
            &missing_token[..],
            &wrong_type[..],
            b"{}",
            b"not json",
        ] {
            let err = c.parse_success(200, body).unwrap_err();
            assert!(matches!(err, StsError::BadAnswer { .. }), "{err}");
            let text = format!("{err} {err:?}");
            for secret in ["tmp-secret-123", "CAIStoken456", "12345678"] {
                assert!(!text.contains(secret), "{text}");
            }
        }
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_named_and_retryable() {
        // Bind then drop a listener: the port is then (almost certainly) closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let c = client(&format!("http://127.0.0.1:{port}/sts/"));
        let err = c.assume_role().await.unwrap_err();
        assert!(matches!(err, StsError::Unreachable { .. }), "{err:?}");
        assert!(err.is_retryable());
        let text = err.to_string();
        assert!(
            text.contains("unreachable") && text.contains(&port.to_string()),
            "{text}"
        );
        assert!(!format!("{err:?}").contains("perm-secret-xyz"));
    }
}
