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

use crate::error::{new_request_id, REQUEST_ID_HEADER};
use crate::request::Query;
use crate::state::AppState;

/// The table a request addresses.
#[derive(Debug, Clone)]
pub struct TableRef {
    pub project: String,
    pub table: String,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/projects/{project}/tables/{table}", any(table_two_level))
        .route(
            "/projects/{project}/schemas/{schema}/tables/{table}",
            any(table_three_level),
        )
        .route(
            "/projects/{project}/tables/{table}/streams",
            any(streams_two_level),
        )
        .route(
            "/projects/{project}/schemas/{schema}/tables/{table}/streams",
            any(streams_three_level),
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

/// An empty body with the request id header.
pub fn empty_response(status: StatusCode, request_id: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}

async fn table_two_level(
    State(state): State<AppState>,
    Path((project, table)): Path<(String, String)>,
    method: Method,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    table_resource(
        state,
        TableRef { project, table },
        method,
        query,
        headers,
        body,
    )
    .await
}

async fn table_three_level(
    State(state): State<AppState>,
    Path((project, _schema, table)): Path<(String, String, String)>,
    method: Method,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    table_resource(
        state,
        TableRef { project, table },
        method,
        query,
        headers,
        body,
    )
    .await
}

async fn table_resource(
    state: AppState,
    table: TableRef,
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

async fn streams_two_level(
    State(state): State<AppState>,
    Path((project, table)): Path<(String, String)>,
    method: Method,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    streams_resource(
        state,
        TableRef { project, table },
        method,
        query,
        headers,
        body,
    )
    .await
}

async fn streams_three_level(
    State(state): State<AppState>,
    Path((project, _schema, table)): Path<(String, String, String)>,
    method: Method,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    streams_resource(
        state,
        TableRef { project, table },
        method,
        query,
        headers,
        body,
    )
    .await
}

async fn streams_resource(
    state: AppState,
    table: TableRef,
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
