//! Errors as MaxCompute reports them: an error `Code`, an HTTP status and a message, rendered as
//! JSON for the tunnel and as an XML `<Error>` document for the REST API (§3.6 of the protocol
//! reference). Every response carries a request id in `x-odps-request-id`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The response header carrying the request id, on success and on error.
pub const REQUEST_ID_HEADER: &str = "x-odps-request-id";

/// How an error body is written: the tunnel speaks JSON, the REST API XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    Json,
    Xml,
}

/// A MaxCompute service error: what a handler returns when it rejects a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct OdpsError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub format: ErrorFormat,
}

impl OdpsError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        OdpsError {
            status,
            code: code.to_string(),
            message: message.into(),
            format: ErrorFormat::Json,
        }
    }

    /// The same error, rendered in the given format.
    pub fn with_format(mut self, format: ErrorFormat) -> Self {
        self.format = format;
        self
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", message)
    }

    pub fn signature_not_match(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "SignatureNotMatch", message)
    }

    pub fn no_such_project(project: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchProject",
            format!("The specified project does not exist: {project}"),
        )
    }

    pub fn no_such_table(project: &str, table: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchTable",
            format!("The specified table does not exist: {project}.{table}"),
        )
    }

    pub fn no_such_partition(spec: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchPartition",
            format!("The specified partition does not exist: {spec}"),
        )
    }

    pub fn invalid_partition_spec(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidPartitionSpec", message)
    }

    pub fn missing_partition_spec(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MissingPartitionSpec", message)
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidArgument", message)
    }

    pub fn invalid_block_id(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidBlockID", message)
    }

    pub fn status_conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "StatusConflict", message)
    }

    pub fn malformed_data_stream(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "MalformedDataStream", message)
    }

    pub fn no_such_upload(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchUpload",
            format!("The specified upload id does not exist: {id}"),
        )
    }

    pub fn no_such_download(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchDownload",
            format!("The specified download id does not exist: {id}"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            message,
        )
    }

    /// Anything the emulator does not implement: a 404 that says so instead of a bare 404.
    pub fn not_emulated(method: &str, path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchObject",
            format!("{method} {path} is not emulated by mc-emulator"),
        )
    }

    /// Renders the error with a fresh request id.
    pub fn into_response_with_id(self, request_id: &str) -> Response {
        let (content_type, body) = match self.format {
            ErrorFormat::Json => (
                "application/json",
                serde_json::json!({
                    "Code": self.code,
                    "Message": self.message,
                    "RequestId": request_id,
                })
                .to_string(),
            ),
            ErrorFormat::Xml => (
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId><HostId>mc-emulator</HostId></Error>",
                    xml_escape(&self.code),
                    xml_escape(&self.message),
                    xml_escape(request_id)
                ),
            ),
        };
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(value) = HeaderValue::from_str(request_id) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        response
    }
}

impl IntoResponse for OdpsError {
    fn into_response(self) -> Response {
        let id = new_request_id();
        self.into_response_with_id(&id)
    }
}

/// A request id in the shape MaxCompute uses (hex, no dashes).
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
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
        let err = OdpsError::no_such_partition("pt=a<b");
        let response = err.clone().into_response_with_id("RID1");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(response.headers()[REQUEST_ID_HEADER], "RID1");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["Code"], "NoSuchPartition");
        assert_eq!(json["RequestId"], "RID1");

        let response = err
            .with_format(ErrorFormat::Xml)
            .into_response_with_id("RID2");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("<Code>NoSuchPartition</Code>"), "{text}");
        assert!(text.contains("pt=a&lt;b"), "{text}");
        assert!(text.contains("<RequestId>RID2</RequestId>"), "{text}");
    }
}
