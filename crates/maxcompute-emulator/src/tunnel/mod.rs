//! The tunnel endpoint (§3, §4, §6.4, route checklist §8): JSON sessions and binary record
//! streams on `/projects/<p>/tables/<t>` (also under `schemas/<s>/`), dispatched on the query
//! parameters the way the service does.

pub mod download;
pub mod sessions;
pub mod stream;
pub mod upload;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use maxcompute_tunnel::TableSchema;

use crate::error::{new_request_id, OdpsError, REQUEST_ID_HEADER};
use crate::records::{self, ValidBody};
use crate::request::Query;
pub use crate::request::TableRef;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/projects/{project}/tables/{table}", any(table_resource))
        .route(
            "/projects/{project}/schemas/{schema}/tables/{table}",
            any(table_resource),
        )
        .route(
            "/projects/{project}/tables/{table}/streams",
            any(streams_resource),
        )
        .route(
            "/projects/{project}/schemas/{schema}/tables/{table}/streams",
            any(streams_resource),
        )
}

/// A JSON body with the request id header.
pub fn json_response(status: StatusCode, request_id: &str, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let h = response.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(REQUEST_ID_HEADER, v);
    }
    response
}

/// The JSON body of a successful request, or the service's error document, with the request id
/// header either way.
pub fn json_result(
    status: StatusCode,
    request_id: &str,
    result: Result<serde_json::Value, OdpsError>,
) -> Response {
    match result {
        Ok(body) => json_response(status, request_id, &body),
        Err(e) => e.into_response_with_id(request_id),
    }
}

/// Decodes a record body as the request's `Content-Encoding` says and checks every record
/// against `schema` within the emulator's field size limit, as block uploads and stream writes
/// both must.
pub fn validate_request_body(
    state: &AppState,
    schema: &TableSchema,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<ValidBody, OdpsError> {
    let encoding = headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    records::validate_body(schema, body, encoding, state.max_field_size)
}

/// An empty body with the request id header.
pub fn empty_response(status: StatusCode, request_id: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

async fn table_resource(
    State(state): State<AppState>,
    Path(table): Path<TableRef>,
    method: Method,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = new_request_id();
    match method {
        Method::POST if query.has("uploads") => upload::create(state, table, query, id).await,
        Method::POST if query.has("downloads") => download::create(state, table, query, id),
        Method::POST if query.has("uploadid") => upload::commit(state, table, query, id).await,
        Method::PUT if query.has("uploadid") => {
            upload::put_block(state, table, query, headers, body, id).await
        }
        Method::GET if query.has("downloadid") && query.has("data") => {
            download::data(state, query, headers, id)
        }
        Method::GET if query.has("downloadid") => download::status(state, query, id),
        Method::GET if query.has("uploadid") => upload::status(state, table, query, id),
        _ => upload::unsupported(method.as_str(), &query),
    }
}

async fn streams_resource(
    State(state): State<AppState>,
    Path(table): Path<TableRef>,
    method: Method,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let id = new_request_id();
    match method {
        Method::POST if !query.has("uploadid") => {
            stream::create(state, table, query, headers, id).await
        }
        Method::PUT if query.has("uploadid") => {
            stream::write(state, table, query, headers, body, id).await
        }
        // go reloads with POST; pyodps's abort is a POST with the routed-server header, and
        // there is nothing to release for a stream session here.
        Method::GET | Method::POST if query.has("uploadid") => {
            stream::reload(state, table, query, id)
        }
        _ => upload::unsupported(method.as_str(), &query),
    }
}
