//! Batch upload sessions (tunnel-protocol.md §3): create, upload blocks, status, commit.
//!
//! Nothing becomes visible until [`UploadSession::commit`], which first checks that the server
//! holds exactly the blocks the caller uploaded, then publishes them atomically.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_ENCODING};
use http::Method;
use serde::Deserialize;
use tokio::time::Instant;

use crate::client::{RequestSpec, Service, TunnelClient};
use crate::compress::Compression;
use crate::error::Error;
use crate::partition_spec::PartitionSpec;
use crate::schema::TableSchema;

/// Block ids run from 0 up to (excluding) this limit; a session holds at most this many blocks.
pub const BLOCK_ID_LIMIT: u32 = 20_000;

/// Options of [`TunnelClient::create_upload_session`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadOptions {
    /// The (last-level) partition to write into; `None` for a non-partitioned table.
    pub partition: Option<PartitionSpec>,
    /// Create the partition if it does not exist (`create_partition=true`).
    pub create_partition: bool,
    /// Replace the partition's (or table's) data at commit (`overwrite=true`).
    pub overwrite: bool,
}

/// Status of a batch session, compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStatus {
    Normal,
    Closing,
    Closed,
    Canceled,
    Expired,
    Critical,
    Committing,
    Other(String),
}

impl SessionStatus {
    pub fn parse(text: &str) -> SessionStatus {
        match text.to_ascii_uppercase().as_str() {
            "NORMAL" => SessionStatus::Normal,
            "CLOSING" => SessionStatus::Closing,
            "CLOSED" => SessionStatus::Closed,
            "CANCELED" | "CANCELLED" => SessionStatus::Canceled,
            "EXPIRED" => SessionStatus::Expired,
            "CRITICAL" => SessionStatus::Critical,
            "COMMITTING" => SessionStatus::Committing,
            _ => SessionStatus::Other(text.to_owned()),
        }
    }
}

/// What the server says about a batch session (the JSON of §3.2).
#[derive(Debug, Clone, PartialEq)]
pub struct UploadSessionInfo {
    pub upload_id: String,
    pub status: SessionStatus,
    /// Data columns (field order of the records) and partition keys.
    pub schema: Arc<TableSchema>,
    /// Block ids the server holds, ascending.
    pub uploaded_blocks: Vec<u32>,
    /// Largest string/binary value in bytes, when the server says.
    pub max_field_size: Option<u64>,
}

#[derive(Deserialize)]
struct SessionJson {
    #[serde(rename = "UploadID")]
    upload_id: String,
    #[serde(rename = "Status")]
    status: String,
    #[serde(rename = "Schema")]
    schema: serde_json::Value,
    #[serde(rename = "UploadedBlockList", default)]
    uploaded_blocks: Option<Vec<BlockJson>>,
    #[serde(rename = "MaxFieldSize", default)]
    max_field_size: Option<u64>,
}

#[derive(Deserialize)]
struct BlockJson {
    #[serde(rename = "BlockID")]
    block_id: u32,
}

impl UploadSessionInfo {
    /// Parses a session JSON body; `operation` names the call for the error message.
    pub fn from_json(operation: &str, body: &[u8]) -> Result<UploadSessionInfo, Error> {
        let parsed: SessionJson = serde_json::from_slice(body)
            .map_err(|e| Error::protocol(operation, format!("bad session JSON: {e}")))?;
        let schema = TableSchema::from_json(&parsed.schema).map_err(|source| Error::Schema {
            operation: operation.to_owned(),
            source,
        })?;
        let mut uploaded_blocks: Vec<u32> = parsed
            .uploaded_blocks
            .unwrap_or_default()
            .into_iter()
            .map(|b| b.block_id)
            .collect();
        uploaded_blocks.sort_unstable();
        uploaded_blocks.dedup();
        Ok(UploadSessionInfo {
            upload_id: parsed.upload_id,
            status: SessionStatus::parse(&parsed.status),
            schema: Arc::new(schema),
            uploaded_blocks,
            max_field_size: parsed.max_field_size,
        })
    }
}

fn with_partition(spec: RequestSpec, partition: Option<&PartitionSpec>) -> RequestSpec {
    match partition {
        Some(p) => spec.query("partition", p.to_string()),
        None => spec,
    }
}

/// `POST …/tables/<t>?uploads[&partition=…][&create_partition=true][&overwrite=true]`.
pub fn create_request(client: &TunnelClient, table: &str, options: &UploadOptions) -> RequestSpec {
    let mut spec = RequestSpec::new(
        Method::POST,
        Service::Tunnel,
        client.table_resource(table),
        format!("create upload session for table {table}"),
    )
    .query("uploads", "");
    spec = with_partition(spec, options.partition.as_ref());
    if options.create_partition {
        spec = spec.query("create_partition", "true");
    }
    if options.overwrite {
        spec = spec.query("overwrite", "true");
    }
    spec
}

/// `GET …/tables/<t>?uploadid=<id>[&partition=…]`.
pub fn status_request(
    client: &TunnelClient,
    table: &str,
    partition: Option<&PartitionSpec>,
    upload_id: &str,
) -> RequestSpec {
    session_request(
        client,
        table,
        partition,
        upload_id,
        Method::GET,
        format!("read status of upload session {upload_id}"),
    )
}

/// `PUT …/tables/<t>?uploadid=<id>&blockid=<n>[&partition=…]` with the (already compressed)
/// body and its `Content-Encoding`.
pub fn upload_block_request(
    client: &TunnelClient,
    table: &str,
    partition: Option<&PartitionSpec>,
    upload_id: &str,
    block_id: u32,
    body: Bytes,
    compression: Compression,
) -> Result<RequestSpec, Error> {
    if block_id >= BLOCK_ID_LIMIT {
        return Err(Error::InvalidBlockId {
            block_id,
            limit: BLOCK_ID_LIMIT,
        });
    }
    let mut spec = RequestSpec::new(
        Method::PUT,
        Service::Tunnel,
        client.table_resource(table),
        format!("upload block {block_id} of session {upload_id}"),
    )
    .query("uploadid", upload_id)
    .query("blockid", block_id.to_string());
    spec = with_partition(spec, partition).body(body);
    if let Some(encoding) = compression.content_encoding() {
        spec = spec.header(
            CONTENT_ENCODING.as_str(),
            HeaderValue::from_static(encoding),
        );
    }
    Ok(spec)
}

/// `POST …/tables/<t>?uploadid=<id>[&partition=…]`, empty body.
pub fn commit_request(
    client: &TunnelClient,
    table: &str,
    partition: Option<&PartitionSpec>,
    upload_id: &str,
) -> RequestSpec {
    session_request(
        client,
        table,
        partition,
        upload_id,
        Method::POST,
        format!("commit upload session {upload_id}"),
    )
}

/// `…/tables/<t>?uploadid=<id>[&partition=…]`, empty body: a request on the session itself, which
/// status and commit tell apart by method alone.
fn session_request(
    client: &TunnelClient,
    table: &str,
    partition: Option<&PartitionSpec>,
    upload_id: &str,
    method: Method,
    operation: String,
) -> RequestSpec {
    let spec = RequestSpec::new(
        method,
        Service::Tunnel,
        client.table_resource(table),
        operation,
    )
    .query("uploadid", upload_id);
    with_partition(spec, partition)
}

/// Compares the blocks the caller uploaded with those the server holds.
/// Returns `(missing on server, unexpected on server)`.
pub fn compare_block_lists(expected: &[u32], on_server: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let expected: BTreeSet<u32> = expected.iter().copied().collect();
    let on_server: BTreeSet<u32> = on_server.iter().copied().collect();
    (
        expected.difference(&on_server).copied().collect(),
        on_server.difference(&expected).copied().collect(),
    )
}

/// An open batch upload session.
///
/// ```no_run
/// # async fn run(client: maxcompute_tunnel::TunnelClient, block: Vec<u8>) -> Result<(), maxcompute_tunnel::Error> {
/// use maxcompute_tunnel::batch::UploadOptions;
/// use maxcompute_tunnel::Compression;
///
/// let options = UploadOptions {
///     partition: Some("pt=2024".parse().expect("valid spec")),
///     create_partition: true,
///     ..Default::default()
/// };
/// let mut session = client.create_upload_session("events", &options, None).await?;
/// // `block` is a record stream from `RecordEncoder` over `session.schema()`.
/// session.upload_block(0, block.into(), Compression::Deflate, None).await?;
/// session.commit(&[0], None).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct UploadSession {
    client: TunnelClient,
    table: String,
    partition: Option<PartitionSpec>,
    info: UploadSessionInfo,
    max_block_bytes: Option<usize>,
}

impl TunnelClient {
    /// Creates a batch upload session.
    pub async fn create_upload_session(
        &self,
        table: &str,
        options: &UploadOptions,
        deadline: Option<Instant>,
    ) -> Result<UploadSession, Error> {
        let spec = create_request(self, table, options);
        let operation = spec.operation.clone();
        let response = self.send(spec, deadline).await?;
        let info = UploadSessionInfo::from_json(&operation, &response.body)?;
        tracing::info!(table, upload_id = %info.upload_id, "created upload session");
        Ok(UploadSession {
            client: self.clone(),
            table: table.to_owned(),
            partition: options.partition.clone(),
            info,
            max_block_bytes: None,
        })
    }

    /// Reattaches to an existing batch session (e.g. after a restart) by reading its status.
    pub async fn open_upload_session(
        &self,
        table: &str,
        partition: Option<PartitionSpec>,
        upload_id: &str,
        deadline: Option<Instant>,
    ) -> Result<UploadSession, Error> {
        let spec = status_request(self, table, partition.as_ref(), upload_id);
        let operation = spec.operation.clone();
        let response = self.send(spec, deadline).await?;
        Ok(UploadSession {
            client: self.clone(),
            table: table.to_owned(),
            partition,
            info: UploadSessionInfo::from_json(&operation, &response.body)?,
            max_block_bytes: None,
        })
    }
}

impl UploadSession {
    /// Refuses, before sending, any block whose record stream (before compression) is larger
    /// than `bytes`: a caller that sizes its blocks learns of a sizing bug as an error instead of
    /// an oversized upload that the server may cut off.
    pub fn with_max_block_bytes(mut self, bytes: usize) -> Self {
        self.max_block_bytes = Some(bytes);
        self
    }

    pub fn upload_id(&self) -> &str {
        &self.info.upload_id
    }

    /// The session's table schema; records must follow its column order.
    pub fn schema(&self) -> &Arc<TableSchema> {
        &self.info.schema
    }

    /// The session as last read from the server.
    pub fn info(&self) -> &UploadSessionInfo {
        &self.info
    }

    pub fn partition(&self) -> Option<&PartitionSpec> {
        self.partition.as_ref()
    }

    /// Uploads one block: `body` is a complete record stream (footer included), compressed here
    /// once so that every retry re-sends the same bytes. Re-uploading an id replaces the block.
    pub async fn upload_block(
        &self,
        block_id: u32,
        body: Bytes,
        compression: Compression,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        let raw_len = body.len();
        if let Some(max) = self.max_block_bytes.filter(|max| raw_len > *max) {
            return Err(Error::BlockTooLarge {
                block_id,
                len: raw_len,
                max,
            });
        }
        let wire = match compression {
            Compression::None => body,
            other => Bytes::from(other.compress(&body)),
        };
        let wire_len = wire.len();
        let spec = upload_block_request(
            &self.client,
            &self.table,
            self.partition.as_ref(),
            &self.info.upload_id,
            block_id,
            wire,
            compression,
        )?;
        self.client.send(spec, deadline).await?;
        tracing::debug!(
            upload_id = %self.info.upload_id,
            block_id,
            raw_len,
            wire_len,
            "uploaded block"
        );
        Ok(())
    }

    /// Re-reads the session (status and uploaded block list).
    pub async fn reload(&mut self, deadline: Option<Instant>) -> Result<&UploadSessionInfo, Error> {
        self.info = self.fetch_status(deadline).await?;
        Ok(&self.info)
    }

    async fn fetch_status(&self, deadline: Option<Instant>) -> Result<UploadSessionInfo, Error> {
        let spec = status_request(
            &self.client,
            &self.table,
            self.partition.as_ref(),
            &self.info.upload_id,
        );
        let operation = spec.operation.clone();
        let response = self.client.send(spec, deadline).await?;
        UploadSessionInfo::from_json(&operation, &response.body)
    }

    /// Checks that the server holds exactly `blocks`, then commits; returns the session as the
    /// commit answer describes it. On a mismatch nothing is committed.
    pub async fn commit(
        &mut self,
        blocks: &[u32],
        deadline: Option<Instant>,
    ) -> Result<UploadSessionInfo, Error> {
        self.reload(deadline).await?;
        let (missing, unexpected) = compare_block_lists(blocks, &self.info.uploaded_blocks);
        if !missing.is_empty() || !unexpected.is_empty() {
            return Err(Error::BlockListMismatch {
                upload_id: self.info.upload_id.clone(),
                missing,
                unexpected,
            });
        }
        let spec = commit_request(
            &self.client,
            &self.table,
            self.partition.as_ref(),
            &self.info.upload_id,
        );
        let operation = spec.operation.clone();
        let endpoint = self.client.tunnel_endpoint(deadline).await?;
        let mut sent_before = false;
        let this: &UploadSession = self;
        let info = this
            .client
            .with_retry(&operation, deadline, || {
                let first = !sent_before;
                sent_before = true;
                let (endpoint, spec, operation) = (&endpoint, &spec, &operation);
                async move {
                    match this.client.send_once(endpoint, spec, deadline).await {
                        Ok(response) => UploadSessionInfo::from_json(operation, &response.body),
                        // A retried commit whose first attempt did land finds the session closed.
                        Err(e) if !first && e.code() == Some("StatusConflict") => {
                            let info = this.fetch_status(deadline).await?;
                            if info.status == SessionStatus::Closed {
                                Ok(info)
                            } else {
                                Err(e)
                            }
                        }
                        Err(e) => Err(e),
                    }
                }
            })
            .await?;
        tracing::info!(upload_id = %self.info.upload_id, blocks = blocks.len(), "committed upload session");
        self.info = info.clone();
        Ok(info)
    }
}
