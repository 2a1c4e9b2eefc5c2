//! The crate's public error, and parsing of the service's error bodies (tunnel-protocol.md §3.6).

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use serde::Deserialize;

use crate::auth::{CredentialError, SignError};
use crate::schema::SchemaError;

/// Error code MaxCompute answers when the signature's STS token has expired. pyodps
/// (`rest.py`) reloads its account once and retries on this code; so do we.
pub const AUTH_EXPIRED_CODE: &str = "AuthenticationRequestExpired";
/// Error code of a throttled request (HTTP 429 or a 5xx with this code).
pub const FLOW_EXCEEDED_CODE: &str = "FlowExceeded";

/// Response header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-odps-request-id";

/// Longest piece of an unparseable error body kept in the message.
const MAX_RAW_BODY: usize = 512;

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

#[derive(Debug, Default, Deserialize)]
struct ErrorFields {
    #[serde(rename = "Code", default)]
    code: Option<String>,
    #[serde(rename = "Message", default)]
    message: Option<String>,
    #[serde(rename = "RequestId", default)]
    request_id: Option<String>,
}

impl ServiceError {
    /// Reads an error response the way the SDKs do: XML `<Error>` first, then JSON, else the raw
    /// text (truncated). The `x-odps-request-id` header fills in a missing request id.
    pub fn from_response(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ServiceError {
        let text = String::from_utf8_lossy(body);
        let trimmed = text.trim();
        let fields = parse_xml(trimmed)
            .or_else(|| serde_json::from_str::<ErrorFields>(trimmed).ok())
            .filter(|f| f.code.is_some() || f.message.is_some());
        let header_id = headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        match fields {
            Some(f) => ServiceError {
                status,
                code: f.code.filter(|c| !c.is_empty()),
                message: f.message.unwrap_or_default(),
                request_id: f.request_id.filter(|r| !r.is_empty()).or(header_id),
            },
            None => ServiceError {
                status,
                code: None,
                message: truncate(trimmed, MAX_RAW_BODY),
                request_id: header_id,
            },
        }
    }
}

fn parse_xml(text: &str) -> Option<ErrorFields> {
    if !text.starts_with('<') {
        return None;
    }
    quick_xml::de::from_str::<ErrorFields>(text).ok()
}

fn truncate(text: &str, max: usize) -> String {
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
/// operator can tell where a batch failed.
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
    /// Whether repeating the same request may succeed: 5xx, 408, 429, 308, `FlowExceeded`,
    /// connection errors and timeouts. Other 4xx are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Service { error, .. } => {
                let s = error.status.as_u16();
                s >= 500
                    || matches!(s, 308 | 408 | 429)
                    || error.code.as_deref() == Some(FLOW_EXCEEDED_CODE)
            }
            Error::Transport { .. } => true,
            Error::Credential(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// The service's error code (`NoSuchPartition`, `StatusConflict`, ...), if any; looks through
    /// the retry wrappers to the last error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Service { error, .. } => error.code.as_deref(),
            Error::DeadlineExceeded { last, .. } | Error::RetriesExhausted { last, .. } => {
                last.code()
            }
            _ => None,
        }
    }

    /// The HTTP status of the service's answer, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Service { error, .. } => Some(error.status),
            Error::DeadlineExceeded { last, .. } | Error::RetriesExhausted { last, .. } => {
                last.status()
            }
            _ => None,
        }
    }

    /// The request id of the service's answer, for support tickets.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Service { error, .. } => error.request_id.as_deref(),
            Error::DeadlineExceeded { last, .. } | Error::RetriesExhausted { last, .. } => {
                last.request_id()
            }
            _ => None,
        }
    }

    /// Whether the answer says the STS token expired (see [`AUTH_EXPIRED_CODE`]).
    pub fn is_auth_expired(&self) -> bool {
        matches!(self, Error::Service { error, .. } if error.code.as_deref() == Some(AUTH_EXPIRED_CODE))
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

/// How long a deadline-bounded wait may last; `None` when there is no deadline.
pub(crate) fn remaining(deadline: Option<tokio::time::Instant>) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_with_id(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID_HEADER, id.parse().unwrap());
        h
    }

    #[test]
    fn parses_xml_error() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchPartition</Code><Message>The specified partition does not exist</Message><RequestId>R-1</RequestId><HostId>h</HostId></Error>"#;
        let e = ServiceError::from_response(StatusCode::NOT_FOUND, &headers_with_id("R-2"), body);
        assert_eq!(e.code.as_deref(), Some("NoSuchPartition"));
        assert_eq!(e.message, "The specified partition does not exist");
        assert_eq!(e.request_id.as_deref(), Some("R-1"));
        assert_eq!(e.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn parses_json_error_and_takes_request_id_from_header() {
        let body = br#"{"Code":"StatusConflict","Message":"session committed"}"#;
        let e = ServiceError::from_response(StatusCode::CONFLICT, &headers_with_id("R-9"), body);
        assert_eq!(e.code.as_deref(), Some("StatusConflict"));
        assert_eq!(e.message, "session committed");
        assert_eq!(e.request_id.as_deref(), Some("R-9"));
        assert_eq!(
            e.to_string(),
            "HTTP 409 StatusConflict: session committed (request id R-9)"
        );
    }

    #[test]
    fn keeps_a_truncated_raw_body_when_unparseable() {
        let body = "x".repeat(2000);
        let e = ServiceError::from_response(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            body.as_bytes(),
        );
        assert_eq!(e.code, None);
        assert!(e.message.starts_with("xxx"));
        assert!(e.message.len() < 600, "{}", e.message.len());
        let html = ServiceError::from_response(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"<html><body>Bad Gateway</body></html>",
        );
        assert_eq!(html.code, None);
        assert!(html.message.contains("Bad Gateway"));
    }

    fn service(status: u16, code: Option<&str>) -> Error {
        Error::Service {
            operation: "op".into(),
            error: ServiceError {
                status: StatusCode::from_u16(status).unwrap(),
                code: code.map(str::to_owned),
                message: String::new(),
                request_id: None,
            },
        }
    }

    #[test]
    fn retryable_classification() {
        for s in [500, 502, 503, 504, 308, 408, 429] {
            assert!(service(s, None).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 409] {
            assert!(!service(s, None).is_retryable(), "{s}");
        }
        assert!(service(400, Some(FLOW_EXCEEDED_CODE)).is_retryable());
        assert!(service(401, Some(AUTH_EXPIRED_CODE)).is_auth_expired());
        assert!(!Error::protocol("op", "bad json").is_retryable());
    }

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
