//! Errors as MaxCompute reports them: an error `Code` with its HTTP status, and a message,
//! rendered as JSON `{"Code","Message","RequestId"}` for the tunnel and as an XML `<Error>`
//! document for the REST API. Every answer carries its request id in `x-odps-request-id`.
//!
//! A handler returns `Err(OdpsError)`; [`crate::request_id::stamp`], the layer that knows the
//! request id, renders it (see the `IntoResponse` impl below).

use std::fmt;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The response header carrying the request id, on success and on error.
pub const REQUEST_ID_HEADER: &str = "x-odps-request-id";

/// The error codes the emulator answers with, each with the HTTP status MaxCompute sends it with.
/// pyodps (`odps/errors.py`) has an exception class per code, so they surface by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No or unusable credentials, or an STS token that does not match.
    Unauthorized,
    SignatureNotMatch,
    /// The `Date` header is too far from the server clock.
    RequestTimeTooSkewed,
    /// The STS token has expired; pyodps reloads its STS account and retries once on it.
    AuthenticationRequestExpired,
    NoSuchProject,
    NoSuchTable,
    NoSuchPartition,
    NoSuchUpload,
    NoSuchDownload,
    StreamSessionNotFound,
    /// Anything else that does not exist, including what the emulator does not implement.
    NoSuchObject,
    ObjectAlreadyExists,
    InvalidPartitionSpec,
    MissingPartitionSpec,
    InvalidArgument,
    InvalidBlockId,
    MalformedDataStream,
    /// A write to, or commit of, a session that is committed or expired.
    StatusConflict,
    /// The session-creation quota is used up; SDKs back off and retry.
    FlowExceeded,
    InternalServerError,
}

impl ErrorCode {
    fn parts(self) -> (StatusCode, &'static str) {
        use ErrorCode::*;
        match self {
            Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            SignatureNotMatch => (StatusCode::FORBIDDEN, "SignatureNotMatch"),
            RequestTimeTooSkewed => (StatusCode::FORBIDDEN, "RequestTimeTooSkewed"),
            AuthenticationRequestExpired => (StatusCode::FORBIDDEN, "AuthenticationRequestExpired"),
            NoSuchProject => (StatusCode::NOT_FOUND, "NoSuchProject"),
            NoSuchTable => (StatusCode::NOT_FOUND, "NoSuchTable"),
            NoSuchPartition => (StatusCode::NOT_FOUND, "NoSuchPartition"),
            NoSuchUpload => (StatusCode::NOT_FOUND, "NoSuchUpload"),
            NoSuchDownload => (StatusCode::NOT_FOUND, "NoSuchDownload"),
            StreamSessionNotFound => (StatusCode::NOT_FOUND, "StreamSessionNotFound"),
            NoSuchObject => (StatusCode::NOT_FOUND, "NoSuchObject"),
            ObjectAlreadyExists => (StatusCode::CONFLICT, "ObjectAlreadyExists"),
            InvalidPartitionSpec => (StatusCode::BAD_REQUEST, "InvalidPartitionSpec"),
            MissingPartitionSpec => (StatusCode::BAD_REQUEST, "MissingPartitionSpec"),
            InvalidArgument => (StatusCode::BAD_REQUEST, "InvalidArgument"),
            InvalidBlockId => (StatusCode::BAD_REQUEST, "InvalidBlockID"),
            MalformedDataStream => (StatusCode::BAD_REQUEST, "MalformedDataStream"),
            StatusConflict => (StatusCode::CONFLICT, "StatusConflict"),
            FlowExceeded => (StatusCode::TOO_MANY_REQUESTS, "FlowExceeded"),
            InternalServerError => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
        }
    }

    /// The HTTP status sent with this code.
    pub fn status(self) -> StatusCode {
        self.parts().0
    }

    /// The code as it appears in error bodies.
    pub fn as_str(self) -> &'static str {
        self.parts().1
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an error body is written: the tunnel speaks JSON, the REST API (under `/api`) XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    Json,
    Xml,
}

impl ErrorFormat {
    /// The format of the endpoint serving `path`.
    pub fn for_path(path: &str) -> Self {
        if crate::request::is_api_path(path) {
            ErrorFormat::Xml
        } else {
            ErrorFormat::Json
        }
    }
}

/// A MaxCompute service error: what a handler returns when it rejects a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {code}: {message}", .code.status())]
pub struct OdpsError {
    pub code: ErrorCode,
    pub message: String,
}

impl OdpsError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        OdpsError {
            code,
            message: message.into(),
        }
    }

    /// `code` for a missing `what` (`"table"`, `"upload id"`), in the service's wording.
    pub fn not_found(code: ErrorCode, what: &str, name: impl fmt::Display) -> Self {
        Self::new(code, format!("The specified {what} does not exist: {name}"))
    }

    /// Anything the emulator does not implement: a 404 that says so instead of a bare 404.
    pub fn not_emulated(method: &str, path: &str) -> Self {
        Self::new(
            ErrorCode::NoSuchObject,
            format!("{method} {path} is not emulated by mc-emulator"),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The error document for the request `request_id`, with the request id header.
    pub fn render(&self, format: ErrorFormat, request_id: &str) -> Response {
        let (content_type, body) = match format {
            ErrorFormat::Json => (
                "application/json",
                serde_json::json!({
                    "Code": self.code.as_str(),
                    "Message": self.message,
                    "RequestId": request_id,
                })
                .to_string(),
            ),
            ErrorFormat::Xml => (
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId><HostId>mc-emulator</HostId></Error>",
                    self.code,
                    xml_escape(&self.message),
                    xml_escape(request_id)
                ),
            ),
        };
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(value) = HeaderValue::from_str(request_id) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        response
    }
}

/// The error's status, with the error itself in the response extensions: its body names the
/// request id, which only the request-id layer knows, so that layer renders it (the way axum's
/// error-handling example hands handler errors to a middleware).
impl IntoResponse for OdpsError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// Escapes text for an XML element or attribute.
pub fn xml_escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn json_and_xml_bodies_carry_code_message_and_request_id() {
        let err = OdpsError::not_found(ErrorCode::NoSuchPartition, "partition", "pt=a<b");
        let response = err.render(ErrorFormat::Json, "RID1");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[REQUEST_ID_HEADER], "RID1");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["Code"], "NoSuchPartition");
        assert_eq!(json["RequestId"], "RID1");

        let response = err.render(ErrorFormat::Xml, "RID2");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("<Code>NoSuchPartition</Code>"), "{text}");
        assert!(text.contains("pt=a&lt;b"), "{text}");
        assert!(text.contains("<RequestId>RID2</RequestId>"), "{text}");
    }

    #[test]
    fn codes_keep_the_service_spelling_and_status() {
        assert_eq!(ErrorCode::InvalidBlockId.as_str(), "InvalidBlockID");
        assert_eq!(
            ErrorCode::FlowExceeded.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            ErrorCode::AuthenticationRequestExpired.status(),
            StatusCode::FORBIDDEN
        );
    }
}
