//! Credentials and where they come from.
//!
//! A [`CredentialProvider`] hands out the current [`Credentials`]; the client asks it before every
//! signed request and calls [`CredentialProvider::invalidate`] when MaxCompute answers that a
//! security token expired, so a refreshing provider (STS AssumeRole) can fetch new ones.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;

/// An AccessKey pair, optionally with an STS security token.
///
/// `Debug` and `Display` print the AccessKeyId only; the secret and the token are redacted so they
/// cannot leak through logs or error messages. Only the accessors hand them out.
///
/// ```
/// use maxcompute_tunnel::auth::Credentials;
///
/// let sts = Credentials::new("STS.id", "temporary-secret").with_security_token("token");
/// assert_eq!(format!("{sts:?}"), r#"Credentials { access_id: "STS.id", access_key_secret: "******", security_token: Some("******") }"#);
/// assert_eq!(sts.to_string(), "STS credentials for STS.id");
/// assert_eq!(
///     (sts.access_id(), sts.access_key_secret(), sts.security_token()),
///     ("STS.id", "temporary-secret", Some("token"))
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    access_id: String,
    access_key_secret: String,
    security_token: Option<String>,
}

impl Credentials {
    /// A long-lived AccessKey pair.
    pub fn new(access_id: impl Into<String>, access_key_secret: impl Into<String>) -> Self {
        Credentials {
            access_id: access_id.into(),
            access_key_secret: access_key_secret.into(),
            security_token: None,
        }
    }

    /// Temporary (STS) credentials: requests also carry `authorization-sts-token`.
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(token.into());
        self
    }

    /// The AccessKeyId (not secret; it appears in the `Authorization` header).
    pub fn access_id(&self) -> &str {
        &self.access_id
    }

    /// The AccessKeySecret. Never log it.
    pub fn access_key_secret(&self) -> &str {
        &self.access_key_secret
    }

    /// The STS security token, if these are temporary credentials. Never log it.
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_id", &self.access_id)
            .field("access_key_secret", &"******")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "******"),
            )
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.security_token.is_some() {
            "STS"
        } else {
            "AccessKey"
        };
        write!(f, "{kind} credentials for {}", self.access_id)
    }
}

/// Why a provider could not produce credentials. The message must never contain a secret.
#[derive(Debug, thiserror::Error)]
#[error("cannot obtain credentials: {message}")]
pub struct CredentialError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
    retryable: bool,
}

impl CredentialError {
    /// A permanent failure (bad configuration, no permission, unknown role).
    pub(crate) fn new(message: impl Into<String>) -> Self {
        CredentialError {
            message: message.into(),
            source: None,
            retryable: false,
        }
    }

    /// A failure that may pass on its own (credential endpoint unreachable or overloaded).
    pub(crate) fn transient(message: impl Into<String>) -> Self {
        CredentialError {
            retryable: true,
            ..CredentialError::new(message)
        }
    }

    /// Attaches the underlying cause.
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// Whether asking again later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// A source of credentials that may change over time (e.g. STS tokens refreshed before expiry).
///
/// Implementations should be cheap to call on every request (cache the current value) and must
/// share one refresh between concurrent callers.
///
/// The client asks before every request. Asking once at start-up makes a bad AccessKey or role
/// show there rather than in the first write:
///
/// ```no_run
/// # async fn run(provider: std::sync::Arc<dyn maxcompute_tunnel::auth::CredentialProvider>) {
/// match provider.credentials().await {
///     Ok(credentials) => println!("signing as {credentials}"),
///     Err(e) if e.is_retryable() => println!("credentials unavailable for now: {e}"),
///     Err(e) => panic!("fix the credential configuration: {e}"),
/// }
/// # }
/// ```
pub trait CredentialProvider: Send + Sync + fmt::Debug {
    /// The credentials to sign the next request with.
    fn credentials(&self) -> BoxFuture<'_, Result<Arc<Credentials>, CredentialError>>;

    /// Called when the service rejected the current credentials as expired; the next
    /// [`credentials`](Self::credentials) call should return fresh ones.
    fn invalidate(&self) {}
}

/// A provider that always returns the same credentials (AccessKey configuration).
#[derive(Debug, Clone)]
pub struct StaticCredentialProvider {
    credentials: Arc<Credentials>,
}

impl StaticCredentialProvider {
    pub fn new(credentials: Credentials) -> Self {
        StaticCredentialProvider {
            credentials: Arc::new(credentials),
        }
    }
}

impl CredentialProvider for StaticCredentialProvider {
    fn credentials(&self) -> BoxFuture<'_, Result<Arc<Credentials>, CredentialError>> {
        let credentials = Arc::clone(&self.credentials);
        Box::pin(async move { Ok(credentials) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact_secret_and_token() {
        let creds = Credentials::new("my-id", "top-secret-key").with_security_token("tok-tok-tok");
        for shown in [
            format!("{creds:?}"),
            format!("{creds}"),
            format!("{creds:#?}"),
        ] {
            assert!(shown.contains("my-id"), "{shown}");
            assert!(!shown.contains("top-secret-key"), "{shown}");
            assert!(!shown.contains("tok-tok-tok"), "{shown}");
        }
        assert_eq!(creds.security_token(), Some("tok-tok-tok"));
        assert_eq!(creds.access_key_secret(), "top-secret-key");
    }

    #[tokio::test]
    async fn static_provider_returns_its_credentials() {
        let provider = StaticCredentialProvider::new(Credentials::new("a", "b"));
        provider.invalidate();
        let creds = provider.credentials().await.unwrap();
        assert_eq!(creds.access_id(), "a");
        assert_eq!(creds.access_key_secret(), "b");
    }
}
