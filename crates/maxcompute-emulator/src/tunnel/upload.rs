//! Batch upload sessions: create, PUT blocks, status, commit. Blocks wait in the session until
//! the commit publishes them all at once.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::Json;
use chrono::Utc;
use http::request::Parts;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::{validate_request_body, Lookup, Requested, TableRef};
use crate::error::{ErrorCode, OdpsError};
use crate::partition::ResolvedPartitionSpec;
use crate::request::Query;
use crate::state::AppState;
use crate::tunnel::sessions::{lock, new_session_id, Block, Target, UploadSession, UploadStatus};

/// Block ids are `0..MAX_BLOCK_ID` (at most 20 000 blocks per session).
pub const MAX_BLOCK_ID: u32 = 20_000;

/// Resolves the target table and partition; with `create_partition` a missing partition is
/// created, otherwise it is `NoSuchPartition` (the tunnel never creates one on its own).
pub fn resolve_target(
    state: &AppState,
    table: &TableRef,
    query: &Query,
    create_partition: bool,
) -> Result<Target, OdpsError> {
    let info = state.catalog.table(&table.project, &table.table)?;
    let spec = ResolvedPartitionSpec::resolve(&info.schema, query.get("partition"))?;
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
            return Err(OdpsError::not_found(
                ErrorCode::NoSuchPartition,
                "partition",
                &spec,
            ));
        }
    }
    Ok(Target {
        project: info.project,
        table: info.name,
        spec,
        schema: info.schema,
    })
}

fn session_json(state: &AppState, s: &UploadSession) -> Value {
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
    State(state): State<AppState>,
    Path(table): Path<TableRef>,
    query: Query,
) -> Result<(StatusCode, Json<Value>), OdpsError> {
    let target = resolve_target(&state, &table, &query, query.flag("create_partition"))?;
    state
        .quota
        .check_create_session(&target.project, &target.table)?;
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
    state
        .sessions
        .uploads
        .insert(session.id.clone(), Mutex::new(session));
    Ok((StatusCode::CREATED, Json(body)))
}

/// The upload session a request names in `uploadid`, checked to belong to the table of the path
/// and, when the query repeats it, to its partition.
pub type RequestedUpload = Requested<Mutex<UploadSession>>;

impl Lookup for Mutex<UploadSession> {
    fn lookup(state: &AppState, table: &TableRef, query: &Query) -> Result<Arc<Self>, OdpsError> {
        find(
            state,
            table,
            query,
            query.get("uploadid").unwrap_or_default(),
        )
    }
}

fn find(
    state: &AppState,
    table: &TableRef,
    query: &Query,
    id: &str,
) -> Result<Arc<Mutex<UploadSession>>, OdpsError> {
    let info = state.catalog.table(&table.project, &table.table)?;
    let no_such_upload = || OdpsError::not_found(ErrorCode::NoSuchUpload, "upload id", id);
    let shared = state.sessions.uploads.get(id).ok_or_else(no_such_upload)?;
    {
        let s = lock(&shared);
        if !s.target.project.eq_ignore_ascii_case(&info.project)
            || !s.target.table.eq_ignore_ascii_case(&info.name)
        {
            return Err(no_such_upload());
        }
        // The SDKs repeat the partition on every call; when they do, it must be the session's.
        if query.get("partition").is_some_and(|p| !p.is_empty()) {
            let spec = ResolvedPartitionSpec::resolve(&info.schema, query.get("partition"))?;
            if spec != s.target.spec {
                return Err(OdpsError::new(
                    ErrorCode::InvalidPartitionSpec,
                    format!(
                        "upload session {id} writes partition `{}`, not `{spec}`",
                        s.target.spec
                    ),
                ));
            }
        }
    }
    Ok(shared)
}

/// The `blockid` of a block upload, in `[0, MAX_BLOCK_ID)`.
pub struct BlockId(pub u32);

impl<S: Send + Sync> FromRequestParts<S> for BlockId {
    type Rejection = OdpsError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, OdpsError> {
        let query = Query::parse(parts.uri.query());
        let raw = query.get("blockid").unwrap_or_default();
        raw.parse::<u32>()
            .ok()
            .filter(|b| *b < MAX_BLOCK_ID)
            .map(BlockId)
            .ok_or_else(|| {
                OdpsError::new(
                    ErrorCode::InvalidBlockId,
                    format!("block id `{raw}` is not in [0, {MAX_BLOCK_ID})"),
                )
            })
    }
}

fn check_writable(state: &AppState, s: &UploadSession) -> Result<(), OdpsError> {
    let state_now = match s.status(Utc::now(), state.session_ttl) {
        UploadStatus::Normal => return Ok(()),
        UploadStatus::Closed => "is already committed",
        UploadStatus::Expired => "has expired",
    };
    Err(OdpsError::new(
        ErrorCode::StatusConflict,
        format!("upload session {} {state_now}", s.id),
    ))
}

/// `PUT …/tables/<t>?uploadid=&blockid=`: validates and stores one block, replacing an earlier
/// upload of the same id. The block id is checked before the session.
pub async fn put_block(
    State(state): State<AppState>,
    BlockId(block_id): BlockId,
    Requested(shared): RequestedUpload,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(), OdpsError> {
    let schema = {
        let s = lock(&shared);
        check_writable(&state, &s)?;
        s.target.schema.clone()
    };
    let valid = validate_request_body(&state, &schema, &headers, &body)?;
    let mut s = lock(&shared);
    // The session may have been committed while this block was being decoded.
    check_writable(&state, &s)?;
    tracing::debug!(upload_id = %s.id, block_id, records = valid.record_count, "block stored");
    s.blocks.insert(
        block_id,
        Block {
            stream: valid.stream,
            record_count: valid.record_count,
            uploaded: Utc::now(),
        },
    );
    Ok(())
}

/// `GET …/tables/<t>?uploadid=`: the session with its block list.
pub async fn status(
    State(state): State<AppState>,
    Requested(shared): RequestedUpload,
) -> Json<Value> {
    Json(session_json(&state, &lock(&shared)))
}

/// `POST …/tables/<t>?uploadid=`: publishes every uploaded block atomically.
pub async fn commit(
    State(state): State<AppState>,
    Requested(shared): RequestedUpload,
) -> Result<Json<Value>, OdpsError> {
    let mut s = lock(&shared);
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
    tracing::info!(upload_id = %s.id, blocks = s.blocks.len(), records, "upload committed");
    Ok(Json(session_json(&state, &s)))
}
