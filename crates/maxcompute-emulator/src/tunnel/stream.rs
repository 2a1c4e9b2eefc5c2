//! Streaming tunnel sessions (§4): create with slots, PUT packs (each durable and visible on
//! return, no commit), reload.

use axum::body::Bytes;
use axum::response::Response;
use chrono::Utc;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;

use super::upload::resolve_target;
use super::{json_result, validate_request_body, TableRef};
use crate::error::OdpsError;
use crate::faults::{drop_connection_response, FaultKind, Interception};
use crate::request::Query;
use crate::state::AppState;
use crate::tunnel::sessions::{expired, lock_session, new_session_id, StreamSession};

/// Header naming the slot count, on requests and (mandatory) on write responses.
pub const SLOT_NUM_HEADER: &str = "odps-tunnel-slot-num";
/// Header naming the worker a write is routed to, on requests and (mandatory) on responses.
pub const ROUTED_SERVER_HEADER: &str = "odps-tunnel-routed-server";
/// More slots than this are not useful against one local process.
const MAX_SLOTS: u32 = 16;

fn session_json(state: &AppState, s: &StreamSession) -> serde_json::Value {
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
    state: AppState,
    table: TableRef,
    query: Query,
    headers: HeaderMap,
    request_id: String,
) -> Response {
    if let Some(response) = state
        .faults
        .reject(FaultKind::CreateSession, &request_id)
        .await
    {
        return response;
    }
    let result: Result<_, OdpsError> = (|| {
        let target = resolve_target(&state, &table, &query, query.flag("create_partition"))?;
        let slots = match headers.get(SLOT_NUM_HEADER) {
            None => 1,
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u32>().ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    OdpsError::invalid_argument(format!(
                        "{SLOT_NUM_HEADER} must be a positive integer"
                    ))
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
        state.sessions.insert_stream(session);
        Ok(body)
    })();
    json_result(StatusCode::OK, &request_id, result)
}

fn find(
    state: &AppState,
    table: &TableRef,
    id: &str,
) -> Result<std::sync::Arc<std::sync::Mutex<StreamSession>>, OdpsError> {
    let info = state.catalog.table(&table.project, &table.table)?;
    let shared = state.sessions.stream(id).ok_or_else(|| {
        OdpsError::new(
            StatusCode::NOT_FOUND,
            "StreamSessionNotFound",
            format!("stream session {id} does not exist"),
        )
    })?;
    {
        let s = lock_session(&shared);
        if !s.target.table.eq_ignore_ascii_case(&info.name)
            || !s.target.project.eq_ignore_ascii_case(&info.project)
        {
            return Err(OdpsError::new(
                StatusCode::NOT_FOUND,
                "StreamSessionNotFound",
                format!(
                    "stream session {id} does not belong to {}.{}",
                    info.project, info.name
                ),
            ));
        }
        if expired(s.created, Utc::now(), state.session_ttl) {
            return Err(OdpsError::status_conflict(format!(
                "stream session {id} has expired"
            )));
        }
    }
    Ok(shared)
}

/// `PUT …/streams?uploadid=&slotid=[&record_count=]`: validates one pack and appends it.
pub async fn write(
    state: AppState,
    table: TableRef,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
    request_id: String,
) -> Response {
    let interception = state
        .faults
        .intercept(FaultKind::StreamWrite, &request_id)
        .await;
    if let Interception::Respond(r) = interception {
        return r;
    }
    let result: Result<_, OdpsError> = (|| {
        let id = query.get("uploadid").unwrap_or_default();
        let shared = find(&state, &table, id)?;
        let (target, slots) = {
            let s = lock_session(&shared);
            (s.target.clone(), s.slots)
        };
        let raw_slot = query.get("slotid").unwrap_or_default();
        raw_slot
            .parse::<u32>()
            .ok()
            .filter(|slot| *slot < slots)
            .ok_or_else(|| {
                OdpsError::invalid_argument(format!(
                    "slot id `{raw_slot}` is not one of the session's {slots} slots"
                ))
            })?;
        let valid = validate_request_body(&state, &target.schema, &headers, &body)?;
        if let Some(declared) = query.get("record_count") {
            if declared.parse::<u64>().ok() != Some(valid.record_count) {
                return Err(OdpsError::malformed_data_stream(format!(
                    "record_count={declared} but the pack holds {} records",
                    valid.record_count
                )));
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
        let mut s = lock_session(&shared);
        s.writes += 1;
        s.last_write = Some(Utc::now());
        tracing::debug!(session = %id, records = valid.record_count, "stream pack appended");
        Ok(s.slots)
    })();
    match (result, interception) {
        (Ok(_), Interception::ApplyThenDrop) => drop_connection_response(),
        (Ok(slots), _) => {
            let mut response = super::empty_response(StatusCode::OK, &request_id);
            let h = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&state.host) {
                h.insert(ROUTED_SERVER_HEADER, v);
            }
            h.insert(SLOT_NUM_HEADER, HeaderValue::from(slots));
            response
        }
        (Err(e), _) => e.into_response_with_id(&request_id),
    }
}

/// `GET` (or go's `POST`) `…/streams?uploadid=`: the session again.
pub fn reload(state: AppState, table: TableRef, query: Query, request_id: String) -> Response {
    let id = query.get("uploadid").unwrap_or_default();
    let result = find(&state, &table, id).map(|s| session_json(&state, &lock_session(&s)));
    json_result(StatusCode::OK, &request_id, result)
}
