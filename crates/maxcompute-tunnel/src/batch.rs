//! Batch upload sessions: create, upload blocks, status, commit (pyodps
//! `odps/tunnel/tabletunnel.py` `TableUploadSession`, the Java SDK's `TableTunnel.UploadSession` in
//! `odps-sdk-core/src/main/java/com/aliyun/odps/tunnel/TableTunnel.java`).
//!
//! Nothing becomes visible until [`UploadSession::commit`], which first checks that the server
//! holds exactly the blocks the caller uploaded, then publishes them atomically.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use serde::Deserialize;
use tokio::time::Instant;

use crate::client::{RequestSpec, Service, TunnelClient};
use crate::compress::Compression;
use crate::error::Error;
use crate::partition_spec::PartitionSpec;
use crate::schema::TableSchema;

/// Block ids run from 0 up to (excluding) this limit; a session holds at most this many blocks.
const BLOCK_ID_LIMIT: u32 = 20_000;

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
    fn parse(text: &str) -> SessionStatus {
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

/// What the server says about a batch session (the session JSON of create and status answers).
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
    fn from_json(operation: &str, body: &[u8]) -> Result<UploadSessionInfo, Error> {
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

/// `POST …/tables/<t>?uploads[&partition=…][&create_partition=true][&overwrite=true]`.
fn create_request(client: &TunnelClient, table: &str, options: &UploadOptions) -> RequestSpec {
    let mut spec = RequestSpec::new(
        Method::POST,
        Service::Tunnel,
        client.table_resource(table),
        format!("create upload session for table {table}"),
    )
    .query("uploads", "")
    .partition(options.partition.as_ref());
    if options.create_partition {
        spec = spec.query("create_partition", "true");
    }
    if options.overwrite {
        spec = spec.query("overwrite", "true");
    }
    spec
}

/// Where the requests on one batch session go: `…/tables/<t>?uploadid=<id>`, with the
/// session's partition.
struct SessionAddress<'a> {
    client: &'a TunnelClient,
    table: &'a str,
    partition: Option<&'a PartitionSpec>,
    upload_id: &'a str,
}

impl SessionAddress<'_> {
    /// `GET …/tables/<t>?uploadid=<id>[&partition=…]`.
    fn status(&self) -> RequestSpec {
        let operation = format!("read status of upload session {}", self.upload_id);
        self.request(Method::GET, operation, None)
    }

    /// `POST …/tables/<t>?uploadid=<id>[&partition=…]`, empty body.
    fn commit(&self) -> RequestSpec {
        let operation = format!("commit upload session {}", self.upload_id);
        self.request(Method::POST, operation, None)
    }

    /// `PUT …/tables/<t>?uploadid=<id>&blockid=<n>[&partition=…]` with the (already compressed)
    /// body and its `Content-Encoding`.
    fn upload_block(
        &self,
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
        let operation = format!("upload block {block_id} of session {}", self.upload_id);
        Ok(self
            .request(Method::PUT, operation, Some(block_id))
            .body(body, compression))
    }

    fn request(&self, method: Method, operation: String, block_id: Option<u32>) -> RequestSpec {
        let spec = RequestSpec::new(
            method,
            Service::Tunnel,
            self.client.table_resource(self.table),
            operation,
        )
        .query("uploadid", self.upload_id);
        match block_id {
            Some(id) => spec.query("blockid", id.to_string()),
            None => spec,
        }
        .partition(self.partition)
    }
}

/// Compares the blocks the caller uploaded with those the server holds.
/// Returns `(missing on server, unexpected on server)`.
fn compare_block_lists(expected: &[u32], on_server: &[u32]) -> (Vec<u32>, Vec<u32>) {
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
/// use maxcompute_tunnel::{Compression, SessionStatus, UploadOptions};
///
/// let options = UploadOptions {
///     partition: Some("pt=2024".parse().expect("valid spec")),
///     create_partition: true,
///     ..Default::default()
/// };
/// let mut session = client
///     .create_upload_session("events", &options, None)
///     .await?
///     .with_max_block_bytes(64 << 20);
/// println!("session {} over {} columns", session.upload_id(), session.schema().columns.len());
/// // `block` is a record stream from `RecordEncoder` over `session.schema()`.
/// session.upload_block(0, block.into(), Compression::Deflate, None).await?;
/// // What the server holds so far; `commit` checks the same before it publishes.
/// let info = session.reload(None).await?;
/// assert_eq!(info.uploaded_blocks, [0]);
/// if session.info().status == SessionStatus::Normal {
///     session.commit(&[0], None).await?;
/// }
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
        let info = self
            .send_and_read(spec, deadline, UploadSessionInfo::from_json)
            .await?;
        tracing::info!(table, upload_id = %info.upload_id, "created upload session");
        Ok(UploadSession {
            client: self.clone(),
            table: table.to_owned(),
            partition: options.partition.clone(),
            info,
            max_block_bytes: None,
        })
    }
}

impl UploadSession {
    fn address(&self) -> SessionAddress<'_> {
        SessionAddress {
            client: &self.client,
            table: &self.table,
            partition: self.partition.as_ref(),
            upload_id: &self.info.upload_id,
        }
    }

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
        let wire = compression.encode_body(body);
        let wire_len = wire.len();
        let spec = self.address().upload_block(block_id, wire, compression)?;
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
        let spec = self.address().status();
        self.client
            .send_and_read(spec, deadline, UploadSessionInfo::from_json)
            .await
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
        let spec = self.address().commit();
        let operation = spec.operation.clone();
        let endpoint = self.client.tunnel_endpoint(deadline).await?;
        let mut sent_before = false;
        let this: &UploadSession = self;
        let info = this
            .client
            .sender()
            .with_retry(&operation, deadline, || {
                let first = !sent_before;
                sent_before = true;
                let (endpoint, spec, operation) = (&endpoint, &spec, &operation);
                async move {
                    match this
                        .client
                        .sender()
                        .send_once(endpoint, spec, deadline)
                        .await
                    {
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

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::auth::STS_TOKEN_HEADER;
    use crate::client::test_support::{assert_signature_verifies, client_with, creds, prepared};
    use crate::types::TypeInfo;

    /// The requests on session `upload_id` of table `events`.
    fn address<'a>(
        client: &'a TunnelClient,
        partition: Option<&'a PartitionSpec>,
        upload_id: &'a str,
    ) -> SessionAddress<'a> {
        SessionAddress {
            client,
            table: "events",
            partition,
            upload_id,
        }
    }

    #[test]
    fn upload_block_request_reproduces_the_golden_signature() {
        let client = client_with(|c| c);
        let partition: PartitionSpec = "pt=p1,dt=2024".parse().unwrap();
        let spec = address(&client, Some(&partition), "U1")
            .upload_block(0, Bytes::from_static(b"block-bytes"), Compression::None)
            .unwrap();
        let prepared = prepared(&client, &spec, &creds());

        assert_eq!(prepared.method, Method::PUT);
        assert_eq!(
            prepared.url,
            "http://127.0.0.1:8080/projects/proj/tables/events?uploadid=U1&blockid=0&partition=pt%3Dp1%2Cdt%3D2024&curr_project=proj"
        );
        let h = &prepared.headers;
        assert_eq!(h["content-type"], "application/octet-stream");
        assert_eq!(h["x-odps-tunnel-version"], "6");
        assert_eq!(h["odps-tunnel-date-transform"], "v1");
        assert_eq!(h["x-odps-user-agent"], "test-agent");
        assert_eq!(h["date"], "Mon, 01 Jan 2024 00:00:00 GMT");
        assert_eq!(h["content-length"], "11");
        assert!(h.get("content-encoding").is_none());
        assert!(h.get(STS_TOKEN_HEADER).is_none());
        // The request whose signature pyodps 0.13.2 computes in the signer's golden test, so the
        // same signature.
        assert_eq!(
            h["authorization"],
            "ODPS test-id:2/3uKydIXtpc0OJhAct97knTSNc="
        );
        assert_eq!(prepared.body.as_ref(), b"block-bytes");
        assert_signature_verifies(&prepared, "", "test-secret");
    }

    #[test]
    fn create_session_request_with_all_options_and_sts() {
        let client = client_with(|c| c);
        let options = UploadOptions {
            partition: Some("pt='a b'".parse().unwrap()),
            create_partition: true,
            overwrite: true,
        };
        let spec = create_request(&client, "events", &options);
        let sts = creds().with_security_token("token-123");
        let prepared = prepared(&client, &spec, &sts);
        assert_eq!(prepared.method, Method::POST);
        assert_eq!(
            prepared.url,
            "http://127.0.0.1:8080/projects/proj/tables/events?uploads&partition=pt%3Da%20b&create_partition=true&overwrite=true&curr_project=proj"
        );
        assert_eq!(prepared.headers["content-length"], "0");
        assert!(prepared.headers.get("content-type").is_none());
        assert_eq!(prepared.headers[STS_TOKEN_HEADER], "token-123");
        assert!(prepared.body.is_empty());
        assert_signature_verifies(&prepared, "", "test-secret");
    }

    #[test]
    fn status_and_commit_requests() {
        let client = client_with(|c| c);
        let status = address(&client, None, "U9").status();
        let p = prepared(&client, &status, &creds());
        assert_eq!(p.method, Method::GET);
        assert_eq!(
            p.url,
            "http://127.0.0.1:8080/projects/proj/tables/events?uploadid=U9&curr_project=proj"
        );
        assert_eq!(p.headers["content-length"], "0");
        assert_signature_verifies(&p, "", "test-secret");

        let commit = address(&client, None, "U9").commit();
        let p = prepared(&client, &commit, &creds());
        assert_eq!(p.method, Method::POST);
        assert_eq!(p.headers["content-length"], "0");
        assert!(p.body.is_empty());
        assert_signature_verifies(&p, "", "test-secret");
    }

    #[test]
    fn three_level_schema_paths() {
        let client = client_with(|c| c.with_schema("s1"));
        let spec = address(&client, None, "U1")
            .upload_block(19_999, Bytes::from_static(b"x"), Compression::Deflate)
            .unwrap();
        let p = prepared(&client, &spec, &creds());
        assert_eq!(
            p.url,
            "http://127.0.0.1:8080/projects/proj/schemas/s1/tables/events?uploadid=U1&blockid=19999&curr_project=proj"
        );
        assert_eq!(p.headers["content-encoding"], "deflate");
        assert_signature_verifies(&p, "", "test-secret");
    }

    #[test]
    fn block_ids_outside_the_range_are_refused_before_sending() {
        let client = client_with(|c| c);
        let err = address(&client, None, "U1")
            .upload_block(BLOCK_ID_LIMIT, Bytes::new(), Compression::None)
            .unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidBlockId {
                block_id: 20_000,
                limit: 20_000
            }
        ));
    }

    const SESSION: &str = r#"{
  "UploadID": "20240101abcdef",
  "Status": "normal",
  "Owner": "ALIYUN$someone",
  "Initiated": "Mon, 01 Jan 2024 00:00:00 GMT",
  "IsOverwrite": false,
  "MaxFieldSize": 8388608,
  "QuotaName": "",
  "Schema": {
    "IsVirtualView": false,
    "columns": [
      {"name": "topic", "type": "string", "comment": "", "nullable": true, "column_id": "1"},
      {"name": "offset", "type": "BIGINT"},
      {"name": "amount", "type": "decimal(18,2)"}
    ],
    "partitionKeys": [{"name": "pt", "type": "string"}]
  },
  "UploadedBlockList": [
    {"BlockID": 2, "CreateTime": 1, "Date": "", "FileName": "f", "RecordCount": 10, "Version": 1},
    {"BlockID": 0, "CreateTime": 1, "Date": "", "FileName": "f", "RecordCount": 10, "Version": 1}
  ]
}"#;

    #[test]
    fn parses_upload_session_json() {
        let info = UploadSessionInfo::from_json("create", SESSION.as_bytes()).unwrap();
        assert_eq!(info.upload_id, "20240101abcdef");
        assert_eq!(info.status, SessionStatus::Normal);
        assert_eq!(info.max_field_size, Some(8_388_608));
        assert_eq!(info.uploaded_blocks, vec![0, 2]);
        let names: Vec<&str> = info
            .schema
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["topic", "offset", "amount"]);
        assert_eq!(info.schema.columns[1].type_info, TypeInfo::Bigint);
        assert_eq!(info.schema.partition_keys[0].name, "pt");
    }

    #[test]
    fn session_without_block_list_and_other_statuses() {
        let body = r#"{"UploadID":"U","Status":"CLOSED","Schema":{"columns":[{"name":"a","type":"int"}]}}"#;
        let info = UploadSessionInfo::from_json("commit", body.as_bytes()).unwrap();
        assert_eq!(info.status, SessionStatus::Closed);
        assert!(info.uploaded_blocks.is_empty());
        assert_eq!(info.max_field_size, None);
        assert_eq!(SessionStatus::parse("Expired"), SessionStatus::Expired);
        assert_eq!(
            SessionStatus::parse("weird"),
            SessionStatus::Other("weird".into())
        );
    }

    #[test]
    fn bad_session_json_is_a_protocol_error_naming_the_operation() {
        for body in ["", "{}", r#"{"UploadID":"U","Status":"NORMAL"}"#, "<html>"] {
            let err =
                UploadSessionInfo::from_json("create upload session", body.as_bytes()).unwrap_err();
            assert!(matches!(err, Error::Protocol { .. }), "{body}: {err:?}");
            assert!(
                err.to_string().starts_with("create upload session"),
                "{err}"
            );
            assert!(!err.is_retryable());
        }
        let bad_type = r#"{"UploadID":"U","Status":"NORMAL","Schema":{"columns":[{"name":"a","type":"nope"}]}}"#;
        let err = UploadSessionInfo::from_json("create", bad_type.as_bytes()).unwrap_err();
        assert!(matches!(err, Error::Schema { .. }), "{err:?}");
    }

    #[test]
    fn block_list_comparison() {
        assert_eq!(
            compare_block_lists(&[0, 1, 2], &[2, 1, 0]),
            (vec![], vec![])
        );
        assert_eq!(
            compare_block_lists(&[0, 1, 2], &[0, 2, 7]),
            (vec![1], vec![7])
        );
        assert_eq!(compare_block_lists(&[], &[3]), (vec![], vec![3]));
        let err = Error::BlockListMismatch {
            upload_id: "U1".into(),
            missing: vec![1],
            unexpected: vec![7],
        };
        assert_eq!(
            err.to_string(),
            "commit of upload session U1: block lists differ: missing on server [1], unexpected on server [7]"
        );
    }
}
