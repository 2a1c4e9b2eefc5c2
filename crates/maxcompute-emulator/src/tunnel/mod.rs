//! The tunnel endpoint: JSON sessions and binary record streams on `/projects/<p>/tables/<t>`
//! (also under `schemas/<s>/`) and its `/streams` resource. Like the service, it tells the
//! operations on one resource apart by method and query parameters: [`TableOperation`] and
//! [`StreamOperation`] decide, for the dispatch to the operation's handler and for the fault
//! check alike.

pub mod download;
pub mod sessions;
pub mod stream;
pub mod upload;

use std::future::Future;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::handler::Handler;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, MethodRouter};
use axum::Router;
use http::request::Parts;
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
    let table = resource::<TableOperation>(faults);
    let streams = resource::<StreamOperation>(faults);
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

/// The operations on one tunnel resource.
pub trait Operation: Sized + Send + 'static {
    /// The operation a request asks for.
    fn of(method: &Method, query: &Query) -> Self;

    /// The kind of fault that can hit the operation.
    fn fault_kind(self) -> Option<FaultKind>;

    /// Hands the request to the operation's handler.
    fn run(self, request: Request, state: AppState) -> impl Future<Output = Response> + Send;
}

/// A resource's route: every method, dispatched by [`Operation::of`], behind the fault check.
fn resource<Op: Operation>(faults: &Faults) -> MethodRouter<AppState> {
    let classify: faults::Classify = |method, query| Op::of(method, query).fault_kind();
    let dispatch = |State(state): State<AppState>, request: Request| async move {
        let query = Query::parse(request.uri().query());
        Op::of(request.method(), &query).run(request, state).await
    };
    any(dispatch).layer(middleware::from_fn_with_state(
        FaultCheck::new(faults.clone(), classify),
        faults::check,
    ))
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

impl Operation for TableOperation {
    fn of(method: &Method, query: &Query) -> Self {
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

    fn fault_kind(self) -> Option<FaultKind> {
        match self {
            Self::CreateUpload => Some(FaultKind::CreateSession),
            Self::PutBlock => Some(FaultKind::BlockUpload),
            Self::Commit => Some(FaultKind::Commit),
            _ => None,
        }
    }

    async fn run(self, request: Request, state: AppState) -> Response {
        match self {
            Self::CreateUpload => upload::create.call(request, state).await,
            Self::CreateDownload => download::create.call(request, state).await,
            Self::Commit => upload::commit.call(request, state).await,
            Self::PutBlock => upload::put_block.call(request, state).await,
            Self::ReadDownload => download::data.call(request, state).await,
            Self::DownloadStatus => download::status.call(request, state).await,
            Self::UploadStatus => upload::status.call(request, state).await,
            Self::Unsupported => unsupported.call(request, state).await,
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

impl Operation for StreamOperation {
    fn of(method: &Method, query: &Query) -> Self {
        match *method {
            Method::POST if !query.has("uploadid") => Self::Create,
            Method::PUT if query.has("uploadid") => Self::Write,
            // go reloads with POST; pyodps's abort is a POST with the routed-server header, and
            // there is nothing to release for a stream session here.
            Method::GET | Method::POST if query.has("uploadid") => Self::Reload,
            _ => Self::Unsupported,
        }
    }

    fn fault_kind(self) -> Option<FaultKind> {
        match self {
            Self::Create => Some(FaultKind::CreateSession),
            Self::Write => Some(FaultKind::StreamWrite),
            Self::Reload | Self::Unsupported => None,
        }
    }

    async fn run(self, request: Request, state: AppState) -> Response {
        match self {
            Self::Create => stream::create.call(request, state).await,
            Self::Write => stream::write.call(request, state).await,
            Self::Reload => stream::reload.call(request, state).await,
            Self::Unsupported => unsupported.call(request, state).await,
        }
    }
}

/// The session a request names in its query (`uploadid`, `downloadid`), found by its kind's
/// [`Lookup`]; a handler taking it runs only for a session that exists and fits the request.
pub struct Requested<T>(pub Arc<T>);

/// How a kind of session is found from the table of the request path and the query.
pub trait Lookup: Sized {
    fn lookup(state: &AppState, table: &TableRef, query: &Query) -> Result<Arc<Self>, OdpsError>;
}

impl<T: Lookup> FromRequestParts<AppState> for Requested<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Path(table) = Path::<TableRef>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let query = Query::parse(parts.uri.query());
        T::lookup(state, &table, &query)
            .map(Requested)
            .map_err(IntoResponse::into_response)
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
