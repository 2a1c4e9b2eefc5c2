//! Download sessions, so that clients can read back what they wrote: create a session over a
//! snapshot of the partition's rows, then read row ranges as record streams.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use http::{header, HeaderMap, StatusCode};
use maxcompute_tunnel::Compression;
use serde_json::{json, Value};

use super::{Lookup, Requested, TableRef};
use crate::error::{ErrorCode, OdpsError};
use crate::partition::ResolvedPartitionSpec;
use crate::records;
use crate::request::Query;
use crate::state::AppState;
use crate::tunnel::sessions::{expired, new_session_id, DownloadSession, Target};

fn session_json(s: &DownloadSession) -> Value {
    json!({
        "DownloadID": s.id,
        "Status": "NORMAL",
        "RecordCount": s.rows.len(),
        "Schema": s.target.schema.to_json(),
        "QuotaName": "",
    })
}

/// `POST …/tables/<t>?downloads[&partition=]`.
pub async fn create(
    State(state): State<AppState>,
    Path(table): Path<TableRef>,
    query: Query,
) -> Result<(StatusCode, Json<Value>), OdpsError> {
    let info = state.catalog.table(&table.project, &table.table)?;
    let spec = ResolvedPartitionSpec::resolve(&info.schema, query.get("partition"))?;
    let rows = state.catalog.rows(&info.project, &info.name, &spec)?;
    let now = Utc::now();
    let session = DownloadSession {
        id: new_session_id(now),
        target: Target {
            project: info.project,
            table: info.name,
            spec,
            schema: info.schema,
        },
        created: now,
        rows: Arc::new(rows),
    };
    let body = session_json(&session);
    state.sessions.downloads.insert(session.id.clone(), session);
    Ok((StatusCode::CREATED, Json(body)))
}

/// The download session a request names in `downloadid`, checked not to have expired (the
/// session knows its table; the one in the path is not compared with it).
pub type RequestedDownload = Requested<DownloadSession>;

impl Lookup for DownloadSession {
    fn lookup(state: &AppState, _table: &TableRef, query: &Query) -> Result<Arc<Self>, OdpsError> {
        find(state, query.get("downloadid").unwrap_or_default())
    }
}

fn find(state: &AppState, id: &str) -> Result<Arc<DownloadSession>, OdpsError> {
    let s = state
        .sessions
        .downloads
        .get(id)
        .ok_or_else(|| OdpsError::not_found(ErrorCode::NoSuchDownload, "download id", id))?;
    if expired(s.created, Utc::now(), state.session_ttl) {
        return Err(OdpsError::new(
            ErrorCode::StatusConflict,
            format!("download session {id} has expired"),
        ));
    }
    Ok(s)
}

/// `GET …/tables/<t>?downloadid=`.
pub async fn status(Requested(s): RequestedDownload) -> Json<Value> {
    Json(session_json(&s))
}

/// `(start,count)`.
fn parse_range(raw: &str) -> Option<(usize, usize)> {
    let inner = raw.trim().strip_prefix('(')?.strip_suffix(')')?;
    let (start, count) = inner.split_once(',')?;
    Some((start.trim().parse().ok()?, count.trim().parse().ok()?))
}

/// A record stream as a download answers it: raw bytes, deflated when the client accepts it.
pub struct RecordStream {
    bytes: Vec<u8>,
    deflated: bool,
}

impl IntoResponse for RecordStream {
    fn into_response(self) -> Response {
        // axum sends bytes as `application/octet-stream`, the content type of record streams.
        let encoding = self
            .deflated
            .then_some([(header::CONTENT_ENCODING, "deflate")]);
        (encoding, self.bytes).into_response()
    }
}

/// `GET …/tables/<t>?data&downloadid=&rowrange=(start,count)`: exactly those rows.
pub async fn data(
    Requested(s): RequestedDownload,
    query: Query,
    headers: HeaderMap,
) -> Result<RecordStream, OdpsError> {
    let total = s.rows.len();
    let invalid = |message: String| OdpsError::new(ErrorCode::InvalidArgument, message);
    let (start, count) = match query.get("rowrange") {
        None => (0, total),
        Some(raw) => parse_range(raw)
            .ok_or_else(|| invalid(format!("rowrange `{raw}` is not `(start,count)`")))?,
    };
    let end = start
        .checked_add(count)
        .filter(|e| *e <= total)
        .ok_or_else(|| {
            invalid(format!(
                "rowrange ({start},{count}) exceeds the {total} rows of the download"
            ))
        })?;
    let stream = records::encode_rows(s.target.schema.clone(), &s.rows[start..end])?;
    let deflate = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.trim().eq_ignore_ascii_case("deflate"))
        });
    let bytes = if deflate {
        Compression::Deflate.compress(&stream)
    } else {
        stream
    };
    Ok(RecordStream {
        bytes,
        deflated: deflate,
    })
}
