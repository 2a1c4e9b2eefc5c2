//! The HTTP client: configuration, endpoints, request building, signing, sending with retries,
//! tunnel endpoint discovery and the table-metadata REST call.
//!
//! Requests are described by a [`RequestSpec`] (what to ask), turned into a signed
//! [`PreparedRequest`] (exact bytes on the wire, testable without a server) and sent by
//! [`TunnelClient::send`], which retries per [`RetryConfig`] within an optional deadline.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, StatusCode};
use serde::Deserialize;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::auth::{sign_request, CredentialError, CredentialProvider, Credentials};
use crate::error::{remaining, Error, ServiceError};
use crate::percent;
use crate::retry::{give_up, Decision, RetryConfig};
use crate::schema::TableSchema;

/// `x-odps-tunnel-version` this client speaks (pyodps and Java send 6).
pub const TUNNEL_VERSION: &str = "6";
const HEADER_TUNNEL_VERSION: &str = "x-odps-tunnel-version";
const HEADER_DATE_TRANSFORM: &str = "odps-tunnel-date-transform";
const HEADER_ODPS_USER_AGENT: &str = "x-odps-user-agent";
const OCTET_STREAM: &str = "application/octet-stream";

/// Client configuration. Build with [`ClientConfig::new`] and the `with_*` options.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    endpoint: String,
    tunnel_endpoint: Option<String>,
    project: String,
    schema: Option<String>,
    credentials: Arc<dyn CredentialProvider>,
    user_agent: String,
    retry: RetryConfig,
    request_timeout: Duration,
    connect_timeout: Duration,
    quota_name: Option<String>,
}

impl ClientConfig {
    /// `endpoint` is the API endpoint, e.g. `https://service.cn-hangzhou.maxcompute.aliyun.com/api`.
    pub fn new(
        endpoint: impl Into<String>,
        project: impl Into<String>,
        credentials: Arc<dyn CredentialProvider>,
    ) -> Self {
        ClientConfig {
            endpoint: endpoint.into(),
            tunnel_endpoint: None,
            project: project.into(),
            schema: None,
            credentials,
            user_agent: concat!("maxcompute-tunnel-rs/", env!("CARGO_PKG_VERSION")).to_owned(),
            retry: RetryConfig::default(),
            request_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            quota_name: None,
        }
    }

    /// The tunnel endpoint (e.g. `https://dt.cn-hangzhou.maxcompute.aliyun.com`); without it the
    /// client asks the API endpoint once (`GET /projects/<p>/tunnel?service`).
    pub fn with_tunnel_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.tunnel_endpoint = Some(endpoint.into());
        self
    }

    /// A schema of a three-level project: paths become `/projects/<p>/schemas/<s>/tables/<t>`.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Sent as `User-Agent` and (signed) `x-odps-user-agent`.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    pub fn with_retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// Upper bound of one HTTP exchange (also bounded by a call's deadline).
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// A tunnel quota: `quotaName=<name>` on every tunnel call.
    pub fn with_quota_name(mut self, quota: impl Into<String>) -> Self {
        self.quota_name = Some(quota.into());
        self
    }
}

/// A service base URL: origin plus an optional path prefix (`/api`), which the signature's
/// resource does not include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: String,
    origin: String,
    prefix: String,
}

impl Endpoint {
    /// Parses `http(s)://host[:port][/prefix]`.
    pub fn parse(url: &str) -> Result<Endpoint, Error> {
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| Error::Config(format!("endpoint `{url}`: {e}")))?;
        let scheme = parsed.scheme().to_owned();
        if scheme != "http" && scheme != "https" {
            return Err(Error::Config(format!(
                "endpoint `{url}`: scheme must be http or https"
            )));
        }
        if parsed.query().is_some() || !parsed.username().is_empty() {
            return Err(Error::Config(format!(
                "endpoint `{url}`: must not carry a query or user info"
            )));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| Error::Config(format!("endpoint `{url}`: no host")))?;
        let origin = match parsed.port() {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        };
        Ok(Endpoint {
            scheme,
            origin,
            prefix: parsed.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The tunnel endpoint named by a discovery answer (`host[:port]`, or a full URL), with the
    /// API endpoint's scheme as pyodps does.
    pub fn from_discovery(api: &Endpoint, answer: &str) -> Result<Endpoint, Error> {
        let answer = answer.trim();
        if answer.is_empty() || answer.contains(char::is_whitespace) {
            return Err(Error::protocol(
                "discover tunnel endpoint",
                format!("answer `{answer}` is not host[:port]"),
            ));
        }
        if answer.contains("://") {
            Endpoint::parse(answer)
        } else {
            Endpoint::parse(&format!("{}://{answer}", api.scheme))
        }
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The full URL of `resource` (decoded path relative to this endpoint) with `query`.
    pub fn url(&self, resource: &str, query: &[(String, String)]) -> String {
        let mut url = String::with_capacity(self.origin.len() + resource.len() + 64);
        url.push_str(&self.origin);
        url.push_str(&self.prefix);
        for segment in resource.split('/').skip(1) {
            url.push('/');
            url.extend(percent::encode(segment));
        }
        for (i, (name, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.extend(percent::encode(name));
            if !value.is_empty() {
                url.push('=');
                url.extend(percent::encode(value));
            }
        }
        url
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin, self.prefix)
    }
}

/// Which endpoint a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// REST API (XML): metadata, discovery.
    Api,
    /// Tunnel (JSON + binary): sessions and data.
    Tunnel,
}

/// What to ask, before the common headers, signature and URL are added.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub method: Method,
    pub service: Service,
    /// Decoded path relative to the endpoint, e.g. `/projects/p/tables/t`.
    pub resource: String,
    /// Decoded query parameters in sending order; empty value = bare name.
    pub query: Vec<(String, String)>,
    /// Request-specific headers (e.g. `Content-Encoding`, `odps-tunnel-slot-num`).
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// What this request does, for errors and logs.
    pub operation: String,
}

impl RequestSpec {
    pub fn new(
        method: Method,
        service: Service,
        resource: impl Into<String>,
        operation: impl Into<String>,
    ) -> Self {
        RequestSpec {
            method,
            service,
            resource: resource.into(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            operation: operation.into(),
        }
    }

    /// Appends a query parameter (empty value = bare name such as `uploads`).
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    /// Sets a request header.
    pub fn header(mut self, name: &'static str, value: HeaderValue) -> Self {
        self.headers.insert(HeaderName::from_static(name), value);
        self
    }

    pub fn body(mut self, body: Bytes) -> Self {
        self.body = Some(body);
        self
    }
}

/// A fully built, signed request: exactly what goes on the wire.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub method: Method,
    pub url: String,
    /// The decoded query as signed (with `curr_project` and `quotaName` added).
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A MaxCompute client for one project. Cheap to clone; clones share connections, credentials
/// and the discovered tunnel endpoint.
///
/// ```no_run
/// # async fn run() -> Result<(), maxcompute_tunnel::Error> {
/// use std::sync::Arc;
/// use maxcompute_tunnel::{ClientConfig, Credentials, StaticCredentialProvider, TunnelClient};
///
/// let credentials = Arc::new(StaticCredentialProvider::new(Credentials::new("id", "secret")));
/// let config = ClientConfig::new("http://127.0.0.1:8080/api", "my_project", credentials)
///     .with_tunnel_endpoint("http://127.0.0.1:8080");
/// let client = TunnelClient::new(config)?;
/// let schema = client.table_schema("events", None).await?;
/// println!("{} columns", schema.columns.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TunnelClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
    api: Endpoint,
    tunnel: OnceCell<Endpoint>,
}

impl fmt::Debug for TunnelClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunnelClient")
            .field("api", &self.inner.api)
            .field("tunnel", &self.inner.tunnel.get())
            .field("project", &self.inner.config.project)
            .field("schema", &self.inner.config.schema)
            .finish_non_exhaustive()
    }
}

impl TunnelClient {
    /// Validates the configuration and builds the HTTP client (no network access).
    pub fn new(config: ClientConfig) -> Result<TunnelClient, Error> {
        if config.project.trim().is_empty() {
            return Err(Error::Config("project is empty".into()));
        }
        let api = Endpoint::parse(&config.endpoint)?;
        let tunnel = match &config.tunnel_endpoint {
            Some(url) => OnceCell::new_with(Some(Endpoint::parse(url)?)),
            None => OnceCell::new(),
        };
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            // A 308 from the tunnel means "slot reassigned", not an HTTP redirect to follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(TunnelClient {
            inner: Arc::new(Inner {
                config,
                http,
                api,
                tunnel,
            }),
        })
    }

    pub fn project(&self) -> &str {
        &self.inner.config.project
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub fn api_endpoint(&self) -> &Endpoint {
        &self.inner.api
    }

    /// The resource of a table: `/projects/<p>[/schemas/<s>]/tables/<t>`.
    pub fn table_resource(&self, table: &str) -> String {
        let config = &self.inner.config;
        match &config.schema {
            Some(schema) => format!(
                "/projects/{}/schemas/{schema}/tables/{table}",
                config.project
            ),
            None => format!("/projects/{}/tables/{table}", config.project),
        }
    }

    /// The tunnel endpoint: configured, or discovered once from the API endpoint and cached.
    pub async fn tunnel_endpoint(&self, deadline: Option<Instant>) -> Result<Endpoint, Error> {
        self.inner
            .tunnel
            .get_or_try_init(|| self.discover_tunnel(deadline))
            .await
            .cloned()
    }

    async fn discover_tunnel(&self, deadline: Option<Instant>) -> Result<Endpoint, Error> {
        let mut spec = RequestSpec::new(
            Method::GET,
            Service::Api,
            format!("/projects/{}/tunnel", self.project()),
            "discover tunnel endpoint",
        )
        .query("service", "");
        if let Some(quota) = &self.inner.config.quota_name {
            spec = spec.query("quotaName", quota.clone());
        }
        // Not `send`: it resolves the tunnel endpoint, which would make this future recursive.
        let api = &self.inner.api;
        let response = self
            .with_retry(&spec.operation, deadline, || {
                self.send_once(api, &spec, deadline)
            })
            .await?;
        let answer = String::from_utf8_lossy(&response.body);
        let endpoint = Endpoint::from_discovery(&self.inner.api, &answer)?;
        tracing::info!(tunnel_endpoint = %endpoint, "discovered tunnel endpoint");
        Ok(endpoint)
    }

    /// Builds the exact request for `spec` against `endpoint`, signed with `credentials` at `now`:
    /// adds `curr_project` (and `quotaName` on tunnel calls), `x-odps-user-agent`, the tunnel
    /// headers (`x-odps-tunnel-version: 6`, `odps-tunnel-date-transform: v1`),
    /// `Content-Type: application/octet-stream` on PUT, `Content-Length: 0` without a body,
    /// then `Date`, `Authorization` and the STS token header.
    pub fn prepare(
        &self,
        endpoint: &Endpoint,
        spec: &RequestSpec,
        credentials: &Credentials,
        now: DateTime<Utc>,
    ) -> Result<PreparedRequest, Error> {
        let config = &self.inner.config;
        let mut query = spec.query.clone();
        if !query.iter().any(|(k, _)| k == "curr_project") {
            query.push(("curr_project".into(), config.project.clone()));
        }
        if spec.service == Service::Tunnel {
            if let Some(quota) = &config.quota_name {
                if !query.iter().any(|(k, _)| k == "quotaName") {
                    query.push(("quotaName".into(), quota.clone()));
                }
            }
        }

        let mut headers = spec.headers.clone();
        let user_agent = HeaderValue::from_str(&config.user_agent)
            .map_err(|_| Error::Config("user agent is not a valid header value".into()))?;
        headers.insert(HeaderName::from_static(HEADER_ODPS_USER_AGENT), user_agent);
        if spec.service == Service::Tunnel {
            headers.insert(
                HeaderName::from_static(HEADER_TUNNEL_VERSION),
                HeaderValue::from_static(TUNNEL_VERSION),
            );
            headers.insert(
                HeaderName::from_static(HEADER_DATE_TRANSFORM),
                HeaderValue::from_static("v1"),
            );
        }
        if spec.method == Method::PUT && !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
        }
        let body = spec.body.clone().unwrap_or_default();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));

        sign_request(
            credentials,
            spec.method.as_str(),
            &spec.resource,
            &query,
            &mut headers,
            now,
        )?;
        Ok(PreparedRequest {
            method: spec.method.clone(),
            url: endpoint.url(&spec.resource, &query),
            query,
            headers,
            body,
        })
    }

    /// Sends `spec` once (no retry); non-2xx answers become [`Error::Service`].
    pub async fn send_once(
        &self,
        endpoint: &Endpoint,
        spec: &RequestSpec,
        deadline: Option<Instant>,
    ) -> Result<Response, Error> {
        // A credential refresh (e.g. AssumeRole) must not outlast the caller's deadline either.
        let fetch = self.inner.config.credentials.credentials();
        let credentials = match remaining(deadline) {
            Some(left) => tokio::time::timeout(left, fetch).await.map_err(|_| {
                CredentialError::transient("no credentials before the call's deadline")
            })??,
            None => fetch.await?,
        };
        let prepared = self.prepare(endpoint, spec, &credentials, Utc::now())?;
        let timeout = match remaining(deadline) {
            Some(left) => left
                .min(self.inner.config.request_timeout)
                .max(Duration::from_millis(1)),
            None => self.inner.config.request_timeout,
        };
        tracing::debug!(
            operation = %spec.operation,
            method = %prepared.method,
            resource = %spec.resource,
            bytes = prepared.body.len(),
            "sending request"
        );
        let result = self
            .inner
            .http
            .request(prepared.method, prepared.url)
            .headers(prepared.headers)
            .timeout(timeout)
            .body(prepared.body)
            .send()
            .await;
        let response = result.map_err(|e| Error::transport(&spec.operation, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::transport(&spec.operation, e))?;
        if status.is_success() {
            tracing::debug!(operation = %spec.operation, status = status.as_u16(), "request done");
            Ok(Response {
                status,
                headers,
                body,
            })
        } else {
            let error = ServiceError::from_response(status, &headers, &body);
            Err(Error::Service {
                operation: spec.operation.clone(),
                error,
            })
        }
    }

    /// Sends `spec`, retrying per the client's [`RetryConfig`] and never waiting past
    /// `deadline`.
    pub async fn send(
        &self,
        spec: RequestSpec,
        deadline: Option<Instant>,
    ) -> Result<Response, Error> {
        let endpoint = match spec.service {
            Service::Api => self.inner.api.clone(),
            Service::Tunnel => self.tunnel_endpoint(deadline).await?,
        };
        let operation = spec.operation.clone();
        self.with_retry(&operation, deadline, || {
            self.send_once(&endpoint, &spec, deadline)
        })
        .await
    }

    /// Runs `attempt` until it succeeds, fails for good, runs out of attempts or would pass
    /// `deadline`. An expired-STS-token answer invalidates the credentials and is retried once at
    /// once, outside the backoff.
    pub(crate) async fn with_retry<T, F, Fut>(
        &self,
        operation: &str,
        deadline: Option<Instant>,
        mut attempt: F,
    ) -> Result<T, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let retry = &self.inner.config.retry;
        let mut attempts = 0u32;
        let mut refreshed_credentials = false;
        loop {
            attempts += 1;
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if error.is_auth_expired() && !refreshed_credentials {
                refreshed_credentials = true;
                tracing::warn!(%operation, "security token expired; retrying with fresh credentials");
                self.inner.config.credentials.invalidate();
                continue;
            }
            let decision = retry.decide(&error, attempts, Instant::now(), deadline, rand::random());
            match decision {
                Decision::RetryAfter(wait) => {
                    tracing::warn!(
                        %operation,
                        attempt = attempts,
                        wait_ms = wait.as_millis() as u64,
                        error = %error,
                        "request failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                other => return Err(give_up(other, operation, attempts, error)),
            }
        }
    }

    /// Reads a table's schema from the REST API (`GET <api>/projects/<p>/tables/<t>`, an XML
    /// envelope whose `<Schema>` holds JSON).
    pub async fn table_schema(
        &self,
        table: &str,
        deadline: Option<Instant>,
    ) -> Result<TableSchema, Error> {
        let operation = format!("read schema of table {table}");
        let spec = RequestSpec::new(
            Method::GET,
            Service::Api,
            self.table_resource(table),
            operation.clone(),
        );
        let response = self.send(spec, deadline).await?;
        parse_table_xml(&operation, &response.body)
    }
}

#[derive(Deserialize)]
struct TableXml {
    #[serde(rename = "Schema", default)]
    schema: Option<String>,
}

/// Parses the REST table document (`<Table>…<Schema><![CDATA[{json}]]></Schema></Table>`).
pub fn parse_table_xml(operation: &str, body: &[u8]) -> Result<TableSchema, Error> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::protocol(operation, "table document is not UTF-8"))?;
    let table: TableXml = quick_xml::de::from_str(text)
        .map_err(|e| Error::protocol(operation, format!("table document is not XML: {e}")))?;
    let json = table
        .schema
        .ok_or_else(|| Error::protocol(operation, "table document has no <Schema>"))?;
    let value: serde_json::Value = serde_json::from_str(json.trim())
        .map_err(|e| Error::protocol(operation, format!("<Schema> is not JSON: {e}")))?;
    TableSchema::from_json(&value).map_err(|source| Error::Schema {
        operation: operation.to_owned(),
        source,
    })
}
