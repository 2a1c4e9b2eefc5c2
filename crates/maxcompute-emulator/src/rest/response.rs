//! The bodies of successful REST answers: XML documents, and the plain text of endpoint
//! discovery. Both carry their content type exactly as the service sends it, without a charset.

use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;

/// An XML document (`application/xml`).
pub struct Xml(pub String);

impl IntoResponse for Xml {
    fn into_response(self) -> Response {
        ([(CONTENT_TYPE, "application/xml")], self.0).into_response()
    }
}

/// Plain text (`text/plain`), as the tunnel endpoint and logview host are answered.
pub struct PlainText(pub String);

impl IntoResponse for PlainText {
    fn into_response(self) -> Response {
        ([(CONTENT_TYPE, "text/plain")], self.0).into_response()
    }
}
