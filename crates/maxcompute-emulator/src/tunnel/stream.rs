//! Streaming tunnel sessions: create with slots, PUT packs (each durable and visible on return,
//! no commit), reload.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use chrono::Utc;
use http::HeaderMap;
use serde_json::{json, Value};

use super::upload::resolve_target;
use super::{validate_request_body, Lookup, Requested, TableRef};
use crate::error::{ErrorCode, OdpsError};
use crate::request::Query;
use crate::state::AppState;
use crate::tunnel::sessions::{expired, lock, new_session_id, StreamSession};

/// Header naming the slot count, on requests and (mandatory) on write responses.
pub const SLOT_NUM_HEADER: &str = "odps-tunnel-slot-num";
/// Header naming the worker a write is routed to, on requests and (mandatory) on responses.
pub const ROUTED_SERVER_HEADER: &str = "odps-tunnel-routed-server";
/// More slots than this are not useful against one local process.
const MAX_SLOTS: u32 = 16;

fn session_json(state: &AppState, s: &StreamSession) -> Value {
    let slots: Vec<_> = (0..s.slots).map(|i| json!([i, state.host])).collect();
    json!({
        "session_name": s.id,
        "status": "normal",
        "slots": slots,
        "schema": s.target.schema.to_json(),
        "schema_version": 0,
        "quota_name": "",
        "compress_mode": "",
        "file_format": "",
        "last_batch_id": s.writes,
        "last_batch_commit_time": s.last_write.map(|t| t.timestamp_millis()).unwrap_or(0),
    })
}

/// `POST …/streams[?partition=][&create_partition]`, optional `odps-tunnel-slot-num` header.
pub async fn create(
    State(state): State<AppState>,
    Path(table): Path<TableRef>,
    query: Query,
    headers: HeaderMap,
) -> Result<Json<Value>, OdpsError> {
    let target = resolve_target(&state, &table, &query, query.flag("create_partition"))?;
    let slots = match headers.get(SLOT_NUM_HEADER) {
        None => 1,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                OdpsError::new(
                    ErrorCode::InvalidArgument,
                    format!("{SLOT_NUM_HEADER} must be a positive integer"),
                )
            })?
            .min(MAX_SLOTS),
    };
    let now = Utc::now();
    let session = StreamSession {
        id: new_session_id(now),
        target,
        slots,
        created: now,
        last_write: None,
        writes: 0,
    };
    tracing::info!(session = %session.id, table = %session.target.table, slots,
        "stream session created");
    let body = session_json(&state, &session);
    state
        .sessions
        .streams
        .insert(session.id.clone(), Mutex::new(session));
    Ok(Json(body))
}

/// The stream session a request names in `uploadid`, checked to belong to the table of the path
/// and not to have expired.
pub type RequestedStream = Requested<Mutex<StreamSession>>;

impl Lookup for Mutex<StreamSession> {
    fn lookup(state: &AppState, table: &TableRef, query: &Query) -> Result<Arc<Self>, OdpsError> {
        find(state, table, query.get("uploadid").unwrap_or_default())
    }
}

fn find(
    state: &AppState,
    table: &TableRef,
    id: &str,
) -> Result<Arc<Mutex<StreamSession>>, OdpsError> {
    let info = state.catalog.table(&table.project, &table.table)?;
    let not_found = |why: &str| {
        OdpsError::new(
            ErrorCode::StreamSessionNotFound,
            format!("stream session {id} {why}"),
        )
    };
    let shared = state
        .sessions
        .streams
        .get(id)
        .ok_or_else(|| not_found("does not exist"))?;
    {
        let s = lock(&shared);
        if !s.target.table.eq_ignore_ascii_case(&info.name)
            || !s.target.project.eq_ignore_ascii_case(&info.project)
        {
            return Err(not_found(&format!(
                "does not belong to {}.{}",
                info.project, info.name
            )));
        }
        if expired(s.created, Utc::now(), state.session_ttl) {
            return Err(OdpsError::new(
                ErrorCode::StatusConflict,
                format!("stream session {id} has expired"),
            ));
        }
    }
    Ok(shared)
}

/// `PUT …/streams?uploadid=&slotid=[&record_count=]`: validates one pack and appends it. The
/// answer names the worker and the slot count, which clients require on every write.
pub async fn write(
    State(state): State<AppState>,
    Requested(shared): RequestedStream,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, OdpsError> {
    let (target, slots) = {
        let s = lock(&shared);
        (s.target.clone(), s.slots)
    };
    let raw_slot = query.get("slotid").unwrap_or_default();
    raw_slot
        .parse::<u32>()
        .ok()
        .filter(|slot| *slot < slots)
        .ok_or_else(|| {
            OdpsError::new(
                ErrorCode::InvalidArgument,
                format!("slot id `{raw_slot}` is not one of the session's {slots} slots"),
            )
        })?;
    let valid = validate_request_body(&state, &target.schema, &headers, &body)?;
    if let Some(declared) = query.get("record_count") {
        if declared.parse::<u64>().ok() != Some(valid.record_count) {
            return Err(OdpsError::new(
                ErrorCode::MalformedDataStream,
                format!(
                    "record_count={declared} but the pack holds {} records",
                    valid.record_count
                ),
            ));
        }
    }
    state.catalog.commit(
        &target.project,
        &target.table,
        &target.spec,
        vec![valid.stream],
        valid.record_count,
        false,
    )?;
    let mut s = lock(&shared);
    s.writes += 1;
    s.last_write = Some(Utc::now());
    tracing::debug!(session = %s.id, records = valid.record_count, "stream pack appended");
    Ok([
        (ROUTED_SERVER_HEADER, state.host.clone()),
        (SLOT_NUM_HEADER, s.slots.to_string()),
    ])
}

/// `GET` (or go's `POST`) `…/streams?uploadid=`: the session again.
pub async fn reload(
    State(state): State<AppState>,
    Requested(shared): RequestedStream,
) -> Json<Value> {
    Json(session_json(&state, &lock(&shared)))
}
