//! The request id of every REST and tunnel request: a layer assigns it before anything else runs,
//! handlers and inner layers read it as an extractor, and the answer carries it in
//! `x-odps-request-id`, an error document in its `RequestId` too.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::request::Parts;
use http::HeaderValue;

use crate::error::{ErrorFormat, OdpsError, REQUEST_ID_HEADER};

/// The id of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh id in the shape MaxCompute uses (32 hex digits, no dashes).
    pub fn new() -> Self {
        RequestId(uuid::Uuid::new_v4().simple().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<String> for RequestId {
    fn from(id: String) -> Self {
        RequestId(id)
    }
}

/// The id a layer assigned; a fresh one on a route outside every such layer.
impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Middleware for the REST API and the tunnel: gives the request a fresh id, renders an
/// [`OdpsError`] left by a handler or an inner layer in the format of its endpoint (XML under
/// `/api`, JSON elsewhere), and sets `x-odps-request-id` on every answer.
pub async fn stamp(mut request: Request, next: Next) -> Response {
    let id = RequestId::new();
    let format = ErrorFormat::for_path(request.uri().path());
    request.extensions_mut().insert(id.clone());
    let mut response = next.run(request).await;
    if let Some(error) = response.extensions_mut().remove::<OdpsError>() {
        response = error.render(format, id.as_str());
    }
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use axum::routing::get;
    use axum::Router;

    /// `(status, x-odps-request-id, body)` of `GET path` against `app` behind [`stamp`].
    async fn get_through_stamp(app: Router, path: &str) -> (u16, String, String) {
        let app = app.layer(axum::middleware::from_fn(stamp));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        let status = response.status().as_u16();
        let id = response.headers()[REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        (status, id, response.text().await.unwrap())
    }

    #[tokio::test]
    async fn handler_errors_are_rendered_with_the_id_the_handler_saw() {
        let app = Router::new().route(
            "/projects/p",
            get(|id: RequestId| async move {
                Err::<(), _>(OdpsError::new(ErrorCode::InvalidArgument, id.as_str()))
            }),
        );
        let (status, id, body) = get_through_stamp(app, "/projects/p").await;
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status, 400);
        assert_eq!(id.len(), 32);
        assert_eq!(json["Code"], "InvalidArgument");
        assert_eq!(json["RequestId"], id.as_str());
        assert_eq!(json["Message"], id.as_str());
    }

    #[tokio::test]
    async fn answers_carry_the_id_and_errors_under_api_are_xml() {
        let app = Router::new()
            .route("/api/ok", get(|id: RequestId| async move { id.0 }))
            .route(
                "/api/projects/p",
                get(|| async { OdpsError::not_found(ErrorCode::NoSuchProject, "project", "p") }),
            );
        let (status, id, body) = get_through_stamp(app.clone(), "/api/ok").await;
        assert_eq!((status, body), (200, id));

        let (status, id, body) = get_through_stamp(app, "/api/projects/p").await;
        assert_eq!(status, 404);
        assert!(body.contains("<Code>NoSuchProject</Code>"), "{body}");
        assert!(
            body.contains(&format!("<RequestId>{id}</RequestId>")),
            "{body}"
        );
    }
}
