//! Download sessions (§6.4), so that clients can read back what they wrote: create a session
//! over a snapshot of the partition's rows, then read row ranges as record streams.

use std::sync::Arc;

use axum::response::Response;
use chrono::Utc;
use http::{HeaderMap, HeaderValue, StatusCode};
use maxcompute_tunnel::Compression;
use serde_json::json;

use super::{json_result, TableRef};
use crate::error::OdpsError;
use crate::partition::PartitionSpec;
use crate::records;
use crate::request::Query;
use crate::state::AppState;
use crate::tunnel::sessions::{expired, new_session_id, DownloadSession, Target};

fn session_json(s: &DownloadSession) -> serde_json::Value {
    json!({
        "DownloadID": s.id,
        "Status": "NORMAL",
        "RecordCount": s.rows.len(),
        "Schema": s.target.schema.to_json(),
        "QuotaName": "",
    })
}

/// `POST …/tables/<t>?downloads[&partition=]`.
pub fn create(state: AppState, table: TableRef, query: Query, request_id: String) -> Response {
    let result: Result<_, OdpsError> = (|| {
        let info = state.catalog.table(&table.project, &table.table)?;
        let spec = PartitionSpec::resolve(&info.schema, query.get("partition"))?;
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
        state.sessions.insert_download(session);
        Ok(body)
    })();
    json_result(StatusCode::CREATED, &request_id, result)
}

fn find(state: &AppState, query: &Query) -> Result<Arc<DownloadSession>, OdpsError> {
    let id = query.get("downloadid").unwrap_or_default();
    let s = state
        .sessions
        .download(id)
        .ok_or_else(|| OdpsError::no_such_download(id))?;
    if expired(s.created, Utc::now(), state.session_ttl) {
        return Err(OdpsError::status_conflict(format!(
            "download session {id} has expired"
        )));
    }
    Ok(s)
}

/// `GET …/tables/<t>?downloadid=`.
pub fn status(state: AppState, query: Query, request_id: String) -> Response {
    let result = find(&state, &query).map(|s| session_json(&s));
    json_result(StatusCode::OK, &request_id, result)
}

/// `(start,count)`.
fn parse_range(raw: &str) -> Option<(usize, usize)> {
    let inner = raw.trim().strip_prefix('(')?.strip_suffix(')')?;
    let (start, count) = inner.split_once(',')?;
    Some((start.trim().parse().ok()?, count.trim().parse().ok()?))
}

/// `GET …/tables/<t>?data&downloadid=&rowrange=(start,count)`: exactly those rows.
pub fn data(state: AppState, query: Query, headers: HeaderMap, request_id: String) -> Response {
    let result: Result<_, OdpsError> = (|| {
        let s = find(&state, &query)?;
        let total = s.rows.len();
        let (start, count) = match query.get("rowrange") {
            None => (0, total),
            Some(raw) => parse_range(raw).ok_or_else(|| {
                OdpsError::invalid_argument(format!("rowrange `{raw}` is not `(start,count)`"))
            })?,
        };
        let end = start
            .checked_add(count)
            .filter(|e| *e <= total)
            .ok_or_else(|| {
                OdpsError::invalid_argument(format!(
                    "rowrange ({start},{count}) exceeds the {total} rows of the download"
                ))
            })?;
        let stream = records::encode_rows(s.target.schema.clone(), &s.rows[start..end])?;
        let deflate = headers
            .get(http::header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|e| e.trim().eq_ignore_ascii_case("deflate"))
            });
        Ok(if deflate {
            (Compression::Deflate.compress(&stream), true)
        } else {
            (stream, false)
        })
    })();
    match result {
        Ok((body, deflated)) => {
            let mut response = Response::new(axum::body::Body::from(body));
            let h = response.headers_mut();
            h.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if deflated {
                h.insert(
                    http::header::CONTENT_ENCODING,
                    HeaderValue::from_static("deflate"),
                );
            }
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                h.insert(crate::error::REQUEST_ID_HEADER, v);
            }
            response
        }
        Err(e) => e.into_response_with_id(&request_id),
    }
}
