//! The client of one project: its configuration, and the path every call takes.
//!
//! * `endpoint`: where requests go (API and tunnel endpoints, discovery answers, resource paths);
//! * `request`: what goes on the wire (a spec turned into a signed request) and what comes back
//!   (the answer, or the service's error body);
//! * `retry`: the one place requests are sent, failures classified and repeated;
//! * `metadata`: table schemas over the REST API.
//!
//! The batch and stream session modules build their requests from these; nothing here knows
//! about sessions.

mod endpoint;
mod metadata;
mod request;
mod retry;
#[cfg(test)]
pub(crate) mod test_support;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use tokio::sync::OnceCell;
use tokio::time::Instant;

pub use endpoint::Endpoint;
pub(crate) use endpoint::Service;
pub(crate) use request::{RequestSpec, Response};
pub use retry::RetryConfig;
pub(crate) use retry::Sender;

use crate::auth::CredentialProvider;
use crate::error::Error;
use request::Common;

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
}

/// Upper bound of one HTTP exchange (also bounded by a call's deadline).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// Upper bound of establishing a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
}

/// A MaxCompute client for one project. Cheap to clone; clones share connections, credentials
/// and the discovered tunnel endpoint.
///
/// Without a configured tunnel endpoint the client discovers it from the API endpoint on first
/// use; [`tunnel_endpoint`](Self::tunnel_endpoint) does that on demand, e.g. at start-up, so a
/// wrong endpoint shows before the first upload.
///
/// ```no_run
/// # async fn run() -> Result<(), maxcompute_tunnel::Error> {
/// use std::sync::Arc;
/// use maxcompute_tunnel::auth::{Credentials, StaticCredentialProvider};
/// use maxcompute_tunnel::{ClientConfig, Endpoint, TunnelClient};
///
/// let credentials = Arc::new(StaticCredentialProvider::new(Credentials::new("id", "secret")));
/// let config = ClientConfig::new("http://127.0.0.1:8080/api", "my_project", credentials)
///     .with_schema("default");
/// let client = TunnelClient::new(config)?;
/// let schema = client.table_schema("events", None).await?;
/// println!("{} columns", schema.columns.len());
/// let tunnel: Endpoint = client.tunnel_endpoint(None).await?;
/// if tunnel != Endpoint::parse("http://127.0.0.1:8080")? {
///     println!("tunnel at {tunnel}");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TunnelClient {
    inner: Arc<Inner>,
}

struct Inner {
    schema: Option<String>,
    sender: Sender,
    api: Endpoint,
    tunnel: OnceCell<Endpoint>,
}

impl fmt::Debug for TunnelClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TunnelClient")
            .field("api", &self.inner.api)
            .field("tunnel", &self.inner.tunnel.get())
            .field("project", &self.inner.sender.common.project)
            .field("schema", &self.inner.schema)
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
            .connect_timeout(CONNECT_TIMEOUT)
            // A 308 from the tunnel means "slot reassigned", not an HTTP redirect to follow.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        let sender = Sender {
            http,
            credentials: config.credentials,
            common: Common {
                project: config.project,
                user_agent: config.user_agent,
            },
            retry: config.retry,
            request_timeout: REQUEST_TIMEOUT,
        };
        Ok(TunnelClient {
            inner: Arc::new(Inner {
                schema: config.schema,
                sender,
                api,
                tunnel,
            }),
        })
    }

    /// The resource of a table: `/projects/<p>[/schemas/<s>]/tables/<t>`.
    pub(crate) fn table_resource(&self, table: &str) -> String {
        endpoint::table_resource(
            &self.inner.sender.common.project,
            self.inner.schema.as_deref(),
            table,
        )
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
        let sender = &self.inner.sender;
        let spec = RequestSpec::new(
            Method::GET,
            Service::Api,
            endpoint::discovery_resource(&sender.common.project),
            "discover tunnel endpoint",
        )
        .query("service", "");
        // Not `send`: it resolves the tunnel endpoint, which would make this future recursive.
        let response = sender.send_to(&self.inner.api, &spec, deadline).await?;
        let answer = String::from_utf8_lossy(&response.body);
        let endpoint = Endpoint::from_discovery(&self.inner.api, &answer)?;
        tracing::info!(tunnel_endpoint = %endpoint, "discovered tunnel endpoint");
        Ok(endpoint)
    }

    /// Sends `spec` to its service's endpoint, retrying per the client's [`RetryConfig`] and
    /// never waiting past `deadline`.
    pub(crate) async fn send(
        &self,
        spec: RequestSpec,
        deadline: Option<Instant>,
    ) -> Result<Response, Error> {
        let endpoint = match spec.service {
            Service::Api => self.inner.api.clone(),
            Service::Tunnel => self.tunnel_endpoint(deadline).await?,
        };
        self.inner.sender.send_to(&endpoint, &spec, deadline).await
    }

    /// Sends `spec` like [`send`](Self::send) and reads the answer's body with `read`, which
    /// names the request's operation in its errors.
    pub(crate) async fn send_and_read<T>(
        &self,
        spec: RequestSpec,
        deadline: Option<Instant>,
        read: impl FnOnce(&str, &[u8]) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let operation = spec.operation.clone();
        let response = self.send(spec, deadline).await?;
        read(&operation, &response.body)
    }

    /// The sender, for callers that run their own attempts inside
    /// [`Sender::with_retry`].
    pub(crate) fn sender(&self) -> &Sender {
        &self.inner.sender
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{creds, API};
    use super::*;
    use crate::auth::StaticCredentialProvider;

    #[test]
    fn bad_configuration_is_refused() {
        let provider = Arc::new(StaticCredentialProvider::new(creds()));
        let err =
            TunnelClient::new(ClientConfig::new("ftp://x/api", "p", provider.clone())).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        let err = TunnelClient::new(ClientConfig::new(API, " ", provider)).unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
    }

    #[test]
    fn client_debug_shows_no_secret() {
        let provider = Arc::new(StaticCredentialProvider::new(
            creds().with_security_token("sts-token-value"),
        ));
        let config = ClientConfig::new(API, "proj", provider);
        let shown = format!(
            "{config:?} {:?}",
            TunnelClient::new(config.clone()).unwrap()
        );
        assert!(!shown.contains("test-secret"), "{shown}");
        assert!(!shown.contains("sts-token-value"), "{shown}");
    }
}
