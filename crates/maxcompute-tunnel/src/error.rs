//! The crate's public error. Reading it from an error answer is the client's request module's
//! job; deciding whether it is worth repeating, the client's retry module's.

use std::fmt;

use http::StatusCode;

use crate::auth::{CredentialError, SignError};
use crate::schema::SchemaError;

/// An error answer of the service: HTTP status plus the `Code`, `Message` and `RequestId` it
/// carried (XML `<Error>` or JSON body, request id also from `x-odps-request-id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub status: StatusCode,
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status.as_u16())?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    format!("{}…", &text[..text.floor_char_boundary(max)])
}

/// How a request failed below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The connection could not be established.
    Connect,
    /// No complete answer within the request timeout.
    Timeout,
    /// The connection broke while sending or receiving.
    Io,
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "connection failed",
            TransportKind::Timeout => "timed out",
            TransportKind::Io => "connection broken",
        })
    }
}

/// Everything that can go wrong talking to MaxCompute.
///
/// `operation` fields name what was being done (e.g. `upload block 3 of session U1`), so an
/// operator can tell where a batch failed. The client has already retried what was worth
/// retrying; the accessors say what the service answered last, through the retry wrappers.
///
/// ```
/// use maxcompute_tunnel::{Error, ServiceError, TransportKind};
///
/// fn advice(err: &Error) -> String {
///     match err {
///         Error::Transport { kind: TransportKind::Timeout, .. } => "raise the deadline".into(),
///         _ if err.is_auth_expired() => "the STS token expired; check the clocks".into(),
///         _ if err.code() == Some("NoSuchTable") => "create the table".into(),
///         _ if err.is_retryable() => format!("try again later (HTTP {:?})", err.status()),
///         _ => format!("give up; request id {:?}", err.request_id()),
///     }
/// }
///
/// let answer = ServiceError {
///     status: http::StatusCode::NOT_FOUND,
///     code: Some("NoSuchTable".into()),
///     message: "table events not found".into(),
///     request_id: Some("R-1".into()),
/// };
/// let err = Error::Service { operation: "read schema of table events".into(), error: answer };
/// assert_eq!(advice(&err), "create the table");
/// assert_eq!(err.request_id(), Some("R-1"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The service answered with an error status.
    #[error("{operation}: {error}")]
    Service {
        operation: String,
        error: ServiceError,
    },
    /// No HTTP answer (connect failure, timeout, broken connection).
    #[error("{operation}: {kind}: {source}")]
    Transport {
        operation: String,
        kind: TransportKind,
        #[source]
        source: reqwest::Error,
    },
    /// The service answered 2xx with something this client cannot understand.
    #[error("{operation}: unexpected answer: {message}")]
    Protocol { operation: String, message: String },
    /// The server's block list differs from the blocks the caller uploaded; nothing was committed.
    #[error("commit of upload session {upload_id}: block lists differ: missing on server {missing:?}, unexpected on server {unexpected:?}")]
    BlockListMismatch {
        upload_id: String,
        missing: Vec<u32>,
        unexpected: Vec<u32>,
    },
    /// A caller-supplied deadline stopped the retries.
    #[error("{operation}: gave up after {attempts} attempts, next retry would pass the deadline; last error: {last}")]
    DeadlineExceeded {
        operation: String,
        attempts: u32,
        last: Box<Error>,
    },
    /// The retry policy's attempt limit was reached.
    #[error("{operation}: gave up after {attempts} attempts; last error: {last}")]
    RetriesExhausted {
        operation: String,
        attempts: u32,
        last: Box<Error>,
    },
    /// A block id outside `0..20000`.
    #[error("block id {block_id} is outside 0..{limit}")]
    InvalidBlockId { block_id: u32, limit: u32 },
    /// A block larger than the session's caller-set cap; nothing was sent.
    #[error("block {block_id} is {len} bytes, over the session's cap of {max} bytes")]
    BlockTooLarge {
        block_id: u32,
        len: usize,
        max: usize,
    },
    /// The client configuration is unusable (bad endpoint URL, empty project, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("{operation}: {source}")]
    Schema {
        operation: String,
        #[source]
        source: SchemaError,
    },
}

impl Error {
    /// The service's error code (`NoSuchPartition`, `StatusConflict`, ...), if any; looks through
    /// the retry wrappers to the last error.
    pub fn code(&self) -> Option<&str> {
        self.last_answer().and_then(|e| e.code.as_deref())
    }

    /// The HTTP status of the service's answer, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        self.last_answer().map(|e| e.status)
    }

    /// The request id of the service's answer, for support tickets.
    pub fn request_id(&self) -> Option<&str> {
        self.last_answer().and_then(|e| e.request_id.as_deref())
    }

    /// The service's answer, looking through the retry wrappers to the last error.
    fn last_answer(&self) -> Option<&ServiceError> {
        match self {
            Error::Service { error, .. } => Some(error),
            Error::DeadlineExceeded { last, .. } | Error::RetriesExhausted { last, .. } => {
                last.last_answer()
            }
            _ => None,
        }
    }

    pub(crate) fn protocol(operation: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Protocol {
            operation: operation.into(),
            message: message.into(),
        }
    }

    pub(crate) fn transport(operation: impl Into<String>, source: reqwest::Error) -> Error {
        let kind = if source.is_timeout() {
            TransportKind::Timeout
        } else if source.is_connect() {
            TransportKind::Connect
        } else {
            TransportKind::Io
        };
        Error::Transport {
            operation: operation.into(),
            kind,
            // The URL holds no secret, but strip it anyway: it repeats what `operation` says.
            source: source.without_url(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::test_support::service;

    #[test]
    fn code_and_status_see_through_retry_wrappers() {
        let e = Error::DeadlineExceeded {
            operation: "upload block 0".into(),
            attempts: 3,
            last: Box::new(service(503, Some("ServiceUnavailable"))),
        };
        assert_eq!(e.code(), Some("ServiceUnavailable"));
        assert_eq!(e.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(
            e.to_string(),
            "upload block 0: gave up after 3 attempts, next retry would pass the deadline; last error: op: HTTP 503 ServiceUnavailable"
        );
    }
}
