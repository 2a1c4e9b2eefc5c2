//! What goes on the wire and what comes back: a [`RequestSpec`] (what to ask) becomes a signed
//! [`PreparedRequest`] (exact bytes, testable without a server); an answer becomes a
//! [`Response`], or the service's error body a [`ServiceError`].

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE,
};
use http::{Method, StatusCode};
use serde::Deserialize;

use super::endpoint::{Endpoint, Service};
use crate::auth::{sign_request, Credentials};
use crate::compress::Compression;
use crate::error::{truncate, Error, ServiceError};
use crate::partition_spec::PartitionSpec;

/// `x-odps-tunnel-version` this client speaks (pyodps and Java send 6).
const TUNNEL_VERSION: &str = "6";
const HEADER_TUNNEL_VERSION: &str = "x-odps-tunnel-version";
const HEADER_DATE_TRANSFORM: &str = "odps-tunnel-date-transform";
const HEADER_ODPS_USER_AGENT: &str = "x-odps-user-agent";
const OCTET_STREAM: &str = "application/octet-stream";

/// Response header carrying the request id.
const REQUEST_ID_HEADER: &str = "x-odps-request-id";

/// Longest piece of an unparseable error body kept in the message.
const MAX_RAW_BODY: usize = 512;

/// What to ask, before the common headers, signature and URL are added.
#[derive(Debug, Clone)]
pub(crate) struct RequestSpec {
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
    pub(crate) fn new(
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
    pub(crate) fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_owned(), value.into()));
        self
    }

    /// Appends `partition=<spec>` when there is a partition.
    pub(crate) fn partition(self, partition: Option<&PartitionSpec>) -> Self {
        match partition {
            Some(p) => self.query("partition", p.to_string()),
            None => self,
        }
    }

    /// Sets a request header.
    pub(crate) fn header(mut self, name: &'static str, value: HeaderValue) -> Self {
        self.headers.insert(HeaderName::from_static(name), value);
        self
    }

    /// Sets the (already compressed) body and the `Content-Encoding` that says how.
    pub(crate) fn body(mut self, wire: Bytes, compression: Compression) -> Self {
        self.body = Some(wire);
        match compression.content_encoding() {
            Some(encoding) => self.header(
                CONTENT_ENCODING.as_str(),
                HeaderValue::from_static(encoding),
            ),
            None => self,
        }
    }
}

/// What every request of one client carries besides its own [`RequestSpec`].
#[derive(Debug, Clone)]
pub(crate) struct Common {
    pub project: String,
    pub user_agent: String,
}

/// A fully built, signed request: exactly what goes on the wire.
#[derive(Debug, Clone)]
pub(crate) struct PreparedRequest {
    pub method: Method,
    pub url: String,
    /// The decoded query as signed (with `curr_project` added), for tests that
    /// check the URL against it as a server would.
    #[cfg(test)]
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Builds the exact request for `spec` against `endpoint`, signed with `credentials` at `now`:
/// adds `curr_project`, `x-odps-user-agent`, the tunnel
/// headers (`x-odps-tunnel-version: 6`, `odps-tunnel-date-transform: v1`),
/// `Content-Type: application/octet-stream` on PUT, `Content-Length: 0` without a body,
/// then `Date`, `Authorization` and the STS token header.
pub(crate) fn prepare(
    common: &Common,
    endpoint: &Endpoint,
    spec: &RequestSpec,
    credentials: &Credentials,
    now: DateTime<Utc>,
) -> Result<PreparedRequest, Error> {
    let mut query = spec.query.clone();
    if !query.iter().any(|(k, _)| k == "curr_project") {
        query.push(("curr_project".into(), common.project.clone()));
    }

    let mut headers = spec.headers.clone();
    let user_agent = HeaderValue::from_str(&common.user_agent)
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
        #[cfg(test)]
        query,
        headers,
        body,
    })
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Reads an answer to `operation`: 2xx becomes a [`Response`], anything else
/// [`Error::Service`] with what the error body says.
pub(crate) async fn read_reply(
    operation: &str,
    reply: reqwest::Response,
) -> Result<Response, Error> {
    let status = reply.status();
    let headers = reply.headers().clone();
    let body = reply
        .bytes()
        .await
        .map_err(|e| Error::transport(operation, e))?;
    if status.is_success() {
        tracing::debug!(operation, status = status.as_u16(), "request done");
        Ok(Response { headers, body })
    } else {
        Err(Error::Service {
            operation: operation.to_owned(),
            error: read_error(status, &headers, &body),
        })
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

/// Reads an error answer the way the SDKs do: XML `<Error>` first, then JSON, else the raw text
/// (truncated). The `x-odps-request-id` header fills in a missing request id.
pub(crate) fn read_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> ServiceError {
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

fn parse_xml(text: &str) -> Option<ErrorFields> {
    if !text.starts_with('<') {
        return None;
    }
    quick_xml::de::from_str::<ErrorFields>(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::test_support::{assert_signature_verifies, client_with, creds, prepared};

    fn headers_with_id(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID_HEADER, id.parse().unwrap());
        h
    }

    #[test]
    fn parses_xml_error() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchPartition</Code><Message>The specified partition does not exist</Message><RequestId>R-1</RequestId><HostId>h</HostId></Error>"#;
        let e = read_error(StatusCode::NOT_FOUND, &headers_with_id("R-2"), body);
        assert_eq!(e.code.as_deref(), Some("NoSuchPartition"));
        assert_eq!(e.message, "The specified partition does not exist");
        assert_eq!(e.request_id.as_deref(), Some("R-1"));
        assert_eq!(e.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn parses_json_error_and_takes_request_id_from_header() {
        let body = br#"{"Code":"StatusConflict","Message":"session committed"}"#;
        let e = read_error(StatusCode::CONFLICT, &headers_with_id("R-9"), body);
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
        let e = read_error(StatusCode::BAD_GATEWAY, &HeaderMap::new(), body.as_bytes());
        assert_eq!(e.code, None);
        assert!(e.message.starts_with("xxx"));
        assert!(e.message.len() < 600, "{}", e.message.len());
        let html = read_error(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"<html><body>Bad Gateway</body></html>",
        );
        assert_eq!(html.code, None);
        assert!(html.message.contains("Bad Gateway"));
    }

    #[test]
    fn error_bodies_in_both_formats() {
        let mut headers = HeaderMap::new();
        headers.insert("x-odps-request-id", HeaderValue::from_static("HDR-ID"));
        let xml = read_error(
            StatusCode::NOT_FOUND,
            &headers,
            b"<?xml version=\"1.0\"?><Error><Code>NoSuchTable</Code><Message>no table</Message><RequestId>XML-ID</RequestId><HostId>h</HostId></Error>",
        );
        assert_eq!(xml.code.as_deref(), Some("NoSuchTable"));
        assert_eq!(xml.request_id.as_deref(), Some("XML-ID"));
        let json = read_error(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            br#"{"Code":"FlowExceeded","Message":"slow down"}"#,
        );
        assert_eq!(json.code.as_deref(), Some("FlowExceeded"));
        assert_eq!(json.message, "slow down");
        assert_eq!(json.request_id.as_deref(), Some("HDR-ID"));
        let err = Error::Service {
            operation: "create upload session".into(),
            error: json,
        };
        assert_eq!(err.code(), Some("FlowExceeded"));
        assert_eq!(err.request_id(), Some("HDR-ID"));
        assert_eq!(err.status(), Some(StatusCode::TOO_MANY_REQUESTS));
        assert!(err.is_retryable());
    }

    #[test]
    fn api_requests_strip_the_endpoint_prefix_from_the_signed_resource() {
        let client = client_with(|c| c);
        let spec = RequestSpec::new(
            Method::GET,
            Service::Api,
            client.table_resource("events"),
            "read schema",
        );
        let p = prepared(&client, &spec, &creds());
        assert_eq!(
            p.url,
            "http://127.0.0.1:8080/api/projects/proj/tables/events?curr_project=proj"
        );
        // Tunnel-only headers stay off API calls; the user agent is always there.
        assert!(p.headers.get("x-odps-tunnel-version").is_none());
        assert_eq!(p.headers["x-odps-user-agent"], "test-agent");
        assert_signature_verifies(&p, "/api", "test-secret");
    }
}
