//! The tunnel endpoint: JSON sessions and binary record streams on `/projects/<p>/tables/<t>`
//! (also under `schemas/<s>/`) and its `/streams` resource. Like the service, it tells the
//! operations on one resource apart by method and query parameters: [`TableOperation`] and
//! [`StreamOperation`] decide, for the handlers and for the fault check alike.

pub mod download;
pub mod sessions;
pub mod stream;
pub mod upload;

use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::middleware;
use axum::response::Response;
use axum::routing::any;
use axum::Router;
use http::{HeaderMap, Method};

use maxcompute_tunnel::TableSchema;

use crate::error::{ErrorCode, OdpsError};
use crate::faults::{self, FaultCheck, FaultKind, Faults};
use crate::records::{self, ValidBody};
use crate::request::Query;
pub use crate::request::TableRef;
use crate::state::AppState;

/// The tunnel's routes; `faults` are checked in front of the operations they can hit.
pub fn router(faults: &Faults) -> Router<AppState> {
    let check = |classify: faults::Classify| {
        middleware::from_fn_with_state(FaultCheck::new(faults.clone(), classify), faults::check)
    };
    let table = any(table_resource).layer(check(|method, query| {
        TableOperation::of(method, query).fault_kind()
    }));
    let streams = any(streams_resource).layer(check(|method, query| {
        StreamOperation::of(method, query).fault_kind()
    }));
    Router::new()
        .route("/projects/{project}/tables/{table}", table.clone())
        .route("/projects/{project}/schemas/{schema}/tables/{table}", table)
        .route(
            "/projects/{project}/tables/{table}/streams",
            streams.clone(),
        )
        .route(
            "/projects/{project}/schemas/{schema}/tables/{table}/streams",
            streams,
        )
}

/// What a request on a table resource asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableOperation {
    CreateUpload,
    CreateDownload,
    Commit,
    PutBlock,
    ReadDownload,
    DownloadStatus,
    UploadStatus,
    Unsupported,
}

impl TableOperation {
    pub fn of(method: &Method, query: &Query) -> Self {
        match *method {
            Method::POST if query.has("uploads") => Self::CreateUpload,
            Method::POST if query.has("downloads") => Self::CreateDownload,
            Method::POST if query.has("uploadid") => Self::Commit,
            Method::PUT if query.has("uploadid") => Self::PutBlock,
            Method::GET if query.has("downloadid") && query.has("data") => Self::ReadDownload,
            Method::GET if query.has("downloadid") => Self::DownloadStatus,
            Method::GET if query.has("uploadid") => Self::UploadStatus,
            _ => Self::Unsupported,
        }
    }

    pub fn fault_kind(self) -> Option<FaultKind> {
        match self {
            Self::CreateUpload => Some(FaultKind::CreateSession),
            Self::PutBlock => Some(FaultKind::BlockUpload),
            Self::Commit => Some(FaultKind::Commit),
            _ => None,
        }
    }
}

/// What a request on a table's `/streams` resource asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamOperation {
    Create,
    Write,
    Reload,
    Unsupported,
}

impl StreamOperation {
    pub fn of(method: &Method, query: &Query) -> Self {
        match *method {
            Method::POST if !query.has("uploadid") => Self::Create,
            Method::PUT if query.has("uploadid") => Self::Write,
            // go reloads with POST; pyodps's abort is a POST with the routed-server header, and
            // there is nothing to release for a stream session here.
            Method::GET | Method::POST if query.has("uploadid") => Self::Reload,
            _ => Self::Unsupported,
        }
    }

    pub fn fault_kind(self) -> Option<FaultKind> {
        match self {
            Self::Create => Some(FaultKind::CreateSession),
            Self::Write => Some(FaultKind::StreamWrite),
            Self::Reload | Self::Unsupported => None,
        }
    }
}

async fn table_resource(State(state): State<AppState>, request: Request) -> Response {
    let query = Query::parse(request.uri().query());
    match TableOperation::of(request.method(), &query) {
        TableOperation::CreateUpload => upload::create.call(request, state).await,
        TableOperation::CreateDownload => download::create.call(request, state).await,
        TableOperation::Commit => upload::commit.call(request, state).await,
        TableOperation::PutBlock => upload::put_block.call(request, state).await,
        TableOperation::ReadDownload => download::data.call(request, state).await,
        TableOperation::DownloadStatus => download::status.call(request, state).await,
        TableOperation::UploadStatus => upload::status.call(request, state).await,
        TableOperation::Unsupported => unsupported.call(request, state).await,
    }
}

async fn streams_resource(State(state): State<AppState>, request: Request) -> Response {
    let query = Query::parse(request.uri().query());
    match StreamOperation::of(request.method(), &query) {
        StreamOperation::Create => stream::create.call(request, state).await,
        StreamOperation::Write => stream::write.call(request, state).await,
        StreamOperation::Reload => stream::reload.call(request, state).await,
        StreamOperation::Unsupported => unsupported.call(request, state).await,
    }
}

/// Any other request on a tunnel resource.
async fn unsupported(method: Method, query: Query) -> OdpsError {
    let names: Vec<_> = query.pairs().iter().map(|(k, _)| k.as_str()).collect();
    OdpsError::new(
        ErrorCode::InvalidArgument,
        format!(
            "{method} on a table with parameters [{}] is not a tunnel operation the emulator knows",
            names.join(", ")
        ),
    )
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
