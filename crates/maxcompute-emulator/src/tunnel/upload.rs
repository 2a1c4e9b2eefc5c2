//! Batch upload sessions (§3): create, PUT blocks, status, commit.

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::{json_response, json_result, validate_request_body, TableRef};
use crate::error::OdpsError;
use crate::faults::{drop_connection_response, FaultKind, Interception};
use crate::partition::PartitionSpec;
use crate::request::Query;
use crate::state::AppState;
use crate::tunnel::sessions::{
    lock_session, new_session_id, Block, Target, UploadSession, UploadStatus,
};

/// Block ids are `0..MAX_BLOCK_ID` (at most 20 000 blocks per session).
pub const MAX_BLOCK_ID: u64 = 20_000;

/// Resolves the target table and partition; with `create_partition` a missing partition is
/// created, otherwise it is `NoSuchPartition` (the tunnel never creates one on its own).
pub fn resolve_target(
    state: &AppState,
    table: &TableRef,
    query: &Query,
    create_partition: bool,
) -> Result<Target, OdpsError> {
    let info = state.catalog.table(&table.project, &table.table)?;
    let spec = PartitionSpec::resolve(&info.schema, query.get("partition"))?;
    if state
        .catalog
        .partition(&info.project, &info.name, &spec)?
        .is_none()
    {
        if create_partition {
            state
                .catalog
                .create_partition(&info.project, &info.name, &spec)?;
        } else {
            return Err(OdpsError::no_such_partition(&spec.to_string()));
        }
    }
    Ok(Target {
        project: info.project,
        table: info.name,
        spec,
        schema: info.schema,
    })
}

fn session_json(state: &AppState, s: &UploadSession) -> serde_json::Value {
    let now = Utc::now();
    let blocks: Vec<_> = s
        .blocks
        .iter()
        .map(|(id, b)| {
            json!({
                "BlockID": id,
                "CreateTime": b.uploaded.timestamp(),
                "Date": b.uploaded.to_rfc2822(),
                "FileName": format!("block-{id}"),
                "RecordCount": b.record_count,
                "Version": 0,
            })
        })
        .collect();
    json!({
        "UploadID": s.id,
        "Status": s.status(now, state.session_ttl).as_str(),
        "Owner": "mc-emulator",
        "Initiated": s.created.to_rfc2822(),
        "IsOverwrite": s.overwrite,
        "MaxFieldSize": state.max_field_size,
        "QuotaName": "",
        "Schema": s.target.schema.to_json(),
        "UploadedBlockList": blocks,
    })
}

/// `POST …/tables/<t>?uploads[&partition=][&create_partition=true][&overwrite=true]`.
pub async fn create(
    state: AppState,
    table: TableRef,
    query: Query,
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
        if let Err(e) = state
            .quota
            .check_create_session(&target.project, &target.table)
        {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            return Err(OdpsError::new(status, e.code(), e.to_string()));
        }
        let now = Utc::now();
        let session = UploadSession {
            id: new_session_id(now),
            target,
            overwrite: query.flag("overwrite"),
            created: now,
            committed: false,
            blocks: Default::default(),
        };
        tracing::info!(upload_id = %session.id, table = %session.target.table,
            partition = %session.target.spec, "upload session created");
        let body = session_json(&state, &session);
        state.sessions.insert_upload(session);
        Ok(body)
    })();
    json_result(StatusCode::CREATED, &request_id, result)
}

/// Finds the session and checks it belongs to this table and partition.
fn find(
    state: &AppState,
    table: &TableRef,
    query: &Query,
    id: &str,
) -> Result<std::sync::Arc<std::sync::Mutex<UploadSession>>, OdpsError> {
    let info = state.catalog.table(&table.project, &table.table)?;
    let shared = state
        .sessions
        .upload(id)
        .ok_or_else(|| OdpsError::no_such_upload(id))?;
    {
        let s = lock_session(&shared);
        if !s.target.project.eq_ignore_ascii_case(&info.project)
            || !s.target.table.eq_ignore_ascii_case(&info.name)
        {
            return Err(OdpsError::no_such_upload(id));
        }
        // The SDKs repeat the partition on every call; when they do, it must be the session's.
        if query.get("partition").is_some_and(|p| !p.is_empty()) {
            let spec = PartitionSpec::resolve(&info.schema, query.get("partition"))?;
            if spec != s.target.spec {
                return Err(OdpsError::invalid_partition_spec(format!(
                    "upload session {id} writes partition `{}`, not `{spec}`",
                    s.target.spec
                )));
            }
        }
    }
    Ok(shared)
}

fn check_writable(state: &AppState, s: &UploadSession) -> Result<(), OdpsError> {
    match s.status(Utc::now(), state.session_ttl) {
        UploadStatus::Normal => Ok(()),
        UploadStatus::Closed => Err(OdpsError::status_conflict(format!(
            "upload session {} is already committed",
            s.id
        ))),
        UploadStatus::Expired => Err(OdpsError::status_conflict(format!(
            "upload session {} has expired",
            s.id
        ))),
    }
}

/// `PUT …/tables/<t>?uploadid=&blockid=`: validates and stores one block, replacing an earlier
/// upload of the same id.
pub async fn put_block(
    state: AppState,
    table: TableRef,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
    request_id: String,
) -> Response {
    if let Some(response) = state
        .faults
        .reject(FaultKind::BlockUpload, &request_id)
        .await
    {
        return response;
    }
    let result: Result<_, OdpsError> = (|| {
        let id = query.get("uploadid").unwrap_or_default();
        let raw_block = query.get("blockid").unwrap_or_default();
        let block_id = raw_block
            .parse::<u64>()
            .ok()
            .filter(|b| *b < MAX_BLOCK_ID)
            .ok_or_else(|| {
                OdpsError::invalid_block_id(format!(
                    "block id `{raw_block}` is not in [0, {MAX_BLOCK_ID})"
                ))
            })? as u32;
        let shared = find(&state, &table, &query, id)?;
        let schema = {
            let s = lock_session(&shared);
            check_writable(&state, &s)?;
            s.target.schema.clone()
        };
        let valid = validate_request_body(&state, &schema, &headers, &body)?;
        let mut s = lock_session(&shared);
        // The session may have been committed while this block was being decoded.
        check_writable(&state, &s)?;
        tracing::debug!(upload_id = %id, block_id, records = valid.record_count, "block stored");
        s.blocks.insert(
            block_id,
            Block {
                stream: valid.stream,
                record_count: valid.record_count,
                uploaded: Utc::now(),
            },
        );
        Ok(())
    })();
    match result {
        Ok(()) => super::empty_response(StatusCode::OK, &request_id),
        Err(e) => e.into_response_with_id(&request_id),
    }
}

/// `GET …/tables/<t>?uploadid=`: the session with its block list.
pub fn status(state: AppState, table: TableRef, query: Query, request_id: String) -> Response {
    let id = query.get("uploadid").unwrap_or_default();
    let result = find(&state, &table, &query, id).map(|s| session_json(&state, &lock_session(&s)));
    json_result(StatusCode::OK, &request_id, result)
}

/// `POST …/tables/<t>?uploadid=`: publishes every uploaded block atomically.
pub async fn commit(
    state: AppState,
    table: TableRef,
    query: Query,
    request_id: String,
) -> Response {
    let interception = state.faults.intercept(FaultKind::Commit, &request_id).await;
    if let Interception::Respond(r) = interception {
        return r;
    }
    let result: Result<_, OdpsError> = (|| {
        let id = query.get("uploadid").unwrap_or_default();
        let shared = find(&state, &table, &query, id)?;
        let mut s = lock_session(&shared);
        check_writable(&state, &s)?;
        let streams: Vec<Vec<u8>> = s.blocks.values().map(|b| b.stream.clone()).collect();
        let records: u64 = s.blocks.values().map(|b| b.record_count).sum();
        // A partition created by this session is there already; it can only have vanished if
        // someone removed it, which the catalog reports as NoSuchPartition.
        state.catalog.commit(
            &s.target.project,
            &s.target.table,
            &s.target.spec,
            streams,
            records,
            s.overwrite,
        )?;
        s.committed = true;
        tracing::info!(upload_id = %id, blocks = s.blocks.len(), records, "upload committed");
        Ok(session_json(&state, &s))
    })();
    match (result, interception) {
        (Ok(_), Interception::ApplyThenDrop) => drop_connection_response(),
        (Ok(body), _) => json_response(StatusCode::OK, &request_id, &body),
        (Err(e), _) => e.into_response_with_id(&request_id),
    }
}

/// Any other request on the table resource.
pub fn unsupported(method: &str, query: &Query) -> Response {
    let names: Vec<_> = query.pairs().iter().map(|(k, _)| k.as_str()).collect();
    OdpsError::invalid_argument(format!(
        "{method} on a table with parameters [{}] is not a tunnel operation the emulator knows",
        names.join(", ")
    ))
    .into_response()
}
