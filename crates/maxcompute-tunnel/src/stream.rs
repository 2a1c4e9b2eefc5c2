//! Stream upload sessions: every successful pack is durable and visible on return; there is no
//! commit (pyodps `odps/tunnel/tabletunnel.py` `TableStreamUploadSession`, the Java SDK's
//! `odps-sdk-core/src/main/java/com/aliyun/odps/tunnel/impl/StreamUploadSessionImpl.java`).
//!
//! Packs go round-robin over the session's slots from a random start. Each answer names the
//! slot count and the server that took the pack: a changed count means the server re-sharded, so
//! the session is reloaded before the next pack; a changed server only moves that slot. A 502/504
//! also forces a reload, and a failed pack is re-sent with the same bytes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderValue};
use http::Method;
use serde::Deserialize;
use tokio::time::Instant;

use crate::client::{Endpoint, RequestSpec, Service, TunnelClient};
use crate::compress::Compression;
use crate::error::Error;
use crate::partition_spec::PartitionSpec;
use crate::schema::TableSchema;

/// Header naming the number of slots (request: as the client knows it; answer: as it is now).
const SLOT_NUM_HEADER: &str = "odps-tunnel-slot-num";
/// Header naming the slot's server (`ip:port`).
const ROUTED_SERVER_HEADER: &str = "odps-tunnel-routed-server";

/// Options of [`TunnelClient::create_stream_session`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOptions {
    pub partition: Option<PartitionSpec>,
    /// Create the partition if missing (bare `create_partition` parameter).
    pub create_partition: bool,
    /// Requested parallelism (`odps-tunnel-slot-num` on create).
    pub slot_num: Option<u32>,
}

/// One slot: an id and the server it lives on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub id: String,
    pub server: String,
}

/// What the server says about a stream session.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSessionInfo {
    pub session_name: String,
    pub status: String,
    pub slots: Vec<Slot>,
    pub schema: Arc<TableSchema>,
    pub schema_version: Option<i64>,
}

#[derive(Deserialize)]
struct StreamJson {
    session_name: String,
    #[serde(default)]
    status: String,
    slots: Vec<(serde_json::Value, String)>,
    schema: serde_json::Value,
    #[serde(default)]
    schema_version: Option<serde_json::Value>,
}

impl StreamSessionInfo {
    /// Parses a stream session JSON body.
    fn from_json(operation: &str, body: &[u8]) -> Result<StreamSessionInfo, Error> {
        let parsed: StreamJson = serde_json::from_slice(body)
            .map_err(|e| Error::protocol(operation, format!("bad stream session JSON: {e}")))?;
        if parsed.slots.is_empty() {
            return Err(Error::protocol(operation, "stream session has no slots"));
        }
        let mut slots = Vec::with_capacity(parsed.slots.len());
        for (id, server) in parsed.slots {
            let id = match id {
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => s,
                other => {
                    return Err(Error::protocol(
                        operation,
                        format!("slot id {other} is neither number nor string"),
                    ))
                }
            };
            match server.split_once(':') {
                Some((ip, port)) if !ip.is_empty() && !port.is_empty() => {}
                _ => {
                    return Err(Error::protocol(
                        operation,
                        format!("slot {id} server `{server}` is not ip:port"),
                    ))
                }
            }
            slots.push(Slot { id, server });
        }
        let schema = TableSchema::from_json(&parsed.schema).map_err(|source| Error::Schema {
            operation: operation.to_owned(),
            source,
        })?;
        let schema_version = parsed.schema_version.and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        });
        Ok(StreamSessionInfo {
            session_name: parsed.session_name,
            status: parsed.status,
            slots,
            schema: Arc::new(schema),
            schema_version,
        })
    }
}

fn stream_resource(client: &TunnelClient, table: &str) -> String {
    format!("{}/streams", client.table_resource(table))
}

/// `POST …/streams[?partition=…][&create_partition]` with optional `odps-tunnel-slot-num`.
fn create_request(client: &TunnelClient, table: &str, options: &StreamOptions) -> RequestSpec {
    let mut spec = RequestSpec::new(
        Method::POST,
        Service::Tunnel,
        stream_resource(client, table),
        format!("create stream session for table {table}"),
    )
    .partition(options.partition.as_ref());
    if options.create_partition {
        spec = spec.query("create_partition", "");
    }
    if let Some(n) = options.slot_num {
        spec = spec.header(SLOT_NUM_HEADER, HeaderValue::from(n));
    }
    spec
}

/// `GET …/streams?uploadid=<name>[&partition=…]`.
fn reload_request(
    client: &TunnelClient,
    table: &str,
    partition: Option<&PartitionSpec>,
    session_name: &str,
) -> RequestSpec {
    RequestSpec::new(
        Method::GET,
        Service::Tunnel,
        stream_resource(client, table),
        format!("reload stream session {session_name}"),
    )
    .query("uploadid", session_name)
    .partition(partition)
}

/// Everything a pack PUT needs besides the client.
#[derive(Debug, Clone)]
struct PackTarget<'a> {
    table: &'a str,
    partition: Option<&'a PartitionSpec>,
    session_name: &'a str,
    schema_version: Option<i64>,
    slot: &'a Slot,
    slot_count: usize,
}

/// `PUT …/streams?uploadid=<name>&slotid=<id>[&partition=…][&schema_version=N][&record_count=n]`
/// with `odps-tunnel-slot-num` and `odps-tunnel-routed-server`.
fn write_request(
    client: &TunnelClient,
    target: &PackTarget<'_>,
    body: Bytes,
    compression: Compression,
    record_count: Option<u64>,
) -> Result<RequestSpec, Error> {
    let operation = format!(
        "write pack to slot {} of stream session {}",
        target.slot.id, target.session_name
    );
    let server = HeaderValue::from_str(&target.slot.server)
        .map_err(|_| Error::protocol(&operation, "slot server is not a valid header value"))?;
    let mut spec = RequestSpec::new(
        Method::PUT,
        Service::Tunnel,
        stream_resource(client, target.table),
        operation,
    )
    .query("uploadid", target.session_name)
    .query("slotid", target.slot.id.clone())
    .partition(target.partition);
    if let Some(version) = target.schema_version {
        spec = spec.query("schema_version", version.to_string());
    }
    if let Some(count) = record_count {
        spec = spec.query("record_count", count.to_string());
    }
    Ok(spec
        .header(SLOT_NUM_HEADER, HeaderValue::from(target.slot_count))
        .header(ROUTED_SERVER_HEADER, server)
        .body(body, compression))
}

/// What a pack answer's routing headers ask of the client.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RouteChange {
    /// Same slot count and server.
    None,
    /// Same slot count, the slot moved to this server.
    Moved(String),
    /// The slot count changed (or the headers are missing): reload the session.
    Reload,
}

/// Reads the mandatory routing headers of a pack answer.
fn route_change(headers: &HeaderMap, slot: &Slot, slot_count: usize) -> RouteChange {
    let count = headers
        .get(SLOT_NUM_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let server = headers
        .get(ROUTED_SERVER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    match (count, server) {
        (Some(n), Some(s)) if n == slot_count && s == slot.server => RouteChange::None,
        (Some(n), Some(s)) if n == slot_count && !s.is_empty() => RouteChange::Moved(s.to_owned()),
        _ => RouteChange::Reload,
    }
}

#[derive(Debug)]
struct State {
    info: StreamSessionInfo,
    cursor: usize,
}

/// An open stream upload session. Packs may be written concurrently.
///
/// ```no_run
/// # async fn run(client: maxcompute_tunnel::TunnelClient, pack: Vec<u8>) -> Result<(), maxcompute_tunnel::Error> {
/// use maxcompute_tunnel::{Compression, Slot, StreamOptions, StreamSessionInfo};
///
/// let session = client.create_stream_session("events", &StreamOptions::default(), None).await?;
/// // `pack` is a record stream from `RecordEncoder` over `session.schema()`.
/// session.write_pack(pack.into(), Compression::Deflate, Some(100), None).await?;
/// // Writes follow the server's re-sharding by themselves; a reload just reads it now.
/// session.reload(None).await?;
/// let info: StreamSessionInfo = session.info();
/// for Slot { id, server } in &info.slots {
///     println!("{} slot {id} on {server}", info.session_name);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct StreamSession {
    client: TunnelClient,
    table: String,
    partition: Option<PartitionSpec>,
    state: Mutex<State>,
    needs_reload: AtomicBool,
}

impl TunnelClient {
    /// Creates a stream upload session.
    pub async fn create_stream_session(
        &self,
        table: &str,
        options: &StreamOptions,
        deadline: Option<Instant>,
    ) -> Result<StreamSession, Error> {
        let spec = create_request(self, table, options);
        let info = self
            .send_and_read(spec, deadline, StreamSessionInfo::from_json)
            .await?;
        tracing::info!(
            table,
            session = %info.session_name,
            slots = info.slots.len(),
            "created stream session"
        );
        Ok(StreamSession {
            client: self.clone(),
            table: table.to_owned(),
            partition: options.partition.clone(),
            state: Mutex::new(State {
                cursor: random_start(info.slots.len()),
                info,
            }),
            needs_reload: AtomicBool::new(false),
        })
    }
}

fn random_start(slots: usize) -> usize {
    (rand::random::<u64>() % slots.max(1) as u64) as usize
}

impl StreamSession {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is replaced wholesale, so a panic elsewhere cannot leave it half-updated.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session as last read from the server.
    pub fn info(&self) -> StreamSessionInfo {
        self.state().info.clone()
    }

    fn session_name(&self) -> String {
        self.state().info.session_name.clone()
    }

    /// The session's table schema; records must follow its column order.
    pub fn schema(&self) -> Arc<TableSchema> {
        Arc::clone(&self.state().info.schema)
    }

    /// This session's reload request, for both the standalone reload and the one a write does
    /// inside its retry loop after a redirect.
    fn reload_spec(&self) -> RequestSpec {
        reload_request(
            &self.client,
            &self.table,
            self.partition.as_ref(),
            &self.session_name(),
        )
    }

    /// Re-reads the session (slots and schema).
    pub async fn reload(&self, deadline: Option<Instant>) -> Result<(), Error> {
        let spec = self.reload_spec();
        let info = self
            .client
            .send_and_read(spec, deadline, StreamSessionInfo::from_json)
            .await?;
        self.install(info);
        Ok(())
    }

    fn install(&self, info: StreamSessionInfo) {
        tracing::info!(session = %info.session_name, slots = info.slots.len(), "stream session reloaded");
        let mut state = self.state();
        state.cursor = random_start(info.slots.len());
        state.info = info;
        self.needs_reload.store(false, Ordering::Release);
    }

    /// Writes one pack (a complete record stream, footer included), compressed here once so that
    /// retries re-send the same bytes. On return the rows are durable and visible.
    pub async fn write_pack(
        &self,
        body: Bytes,
        compression: Compression,
        record_count: Option<u64>,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        let wire = compression.encode_body(body);
        let endpoint = self.client.tunnel_endpoint(deadline).await?;
        let operation = format!("write pack to stream session {}", self.session_name());
        self.client
            .sender()
            .with_retry(&operation, deadline, || {
                let (wire, endpoint) = (wire.clone(), &endpoint);
                async move {
                    if self.needs_reload.load(Ordering::Acquire) {
                        self.reload_once(endpoint, deadline).await?;
                    }
                    let (slot, slot_count, session_name, schema_version) = {
                        let mut state = self.state();
                        let count = state.info.slots.len();
                        let slot = state.info.slots[state.cursor % count].clone();
                        state.cursor = (state.cursor + 1) % count;
                        (
                            slot,
                            count,
                            state.info.session_name.clone(),
                            state.info.schema_version,
                        )
                    };
                    let target = PackTarget {
                        table: &self.table,
                        partition: self.partition.as_ref(),
                        session_name: &session_name,
                        schema_version,
                        slot: &slot,
                        slot_count,
                    };
                    let spec =
                        write_request(&self.client, &target, wire, compression, record_count)?;
                    match self
                        .client
                        .sender()
                        .send_once(endpoint, &spec, deadline)
                        .await
                    {
                        Ok(response) => {
                            self.apply_route(&response.headers, &slot, slot_count);
                            Ok(())
                        }
                        Err(e) => {
                            if matches!(e.status().map(|s| s.as_u16()), Some(308 | 502 | 504)) {
                                self.needs_reload.store(true, Ordering::Release);
                            }
                            Err(e)
                        }
                    }
                }
            })
            .await
    }

    /// One reload request, inside the caller's retry loop.
    async fn reload_once(
        &self,
        endpoint: &Endpoint,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        let spec = self.reload_spec();
        let response = self
            .client
            .sender()
            .send_once(endpoint, &spec, deadline)
            .await?;
        self.install(StreamSessionInfo::from_json(
            &spec.operation,
            &response.body,
        )?);
        Ok(())
    }

    fn apply_route(&self, headers: &HeaderMap, slot: &Slot, slot_count: usize) {
        match route_change(headers, slot, slot_count) {
            RouteChange::None => {}
            RouteChange::Moved(server) => {
                tracing::debug!(slot = %slot.id, %server, "stream slot moved");
                let mut state = self.state();
                if let Some(s) = state.info.slots.iter_mut().find(|s| s.id == slot.id) {
                    s.server = server;
                }
            }
            RouteChange::Reload => {
                tracing::info!(slot = %slot.id, "stream slot count changed or routing headers missing; reloading before the next pack");
                self.needs_reload.store(true, Ordering::Release);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::test_support::{assert_signature_verifies, client_with, creds, prepared};

    #[test]
    fn stream_requests_carry_the_routing_headers() {
        let client = client_with(|c| c);
        let options = StreamOptions {
            partition: Some("pt=1".parse().unwrap()),
            create_partition: true,
            slot_num: Some(4),
        };
        let create = create_request(&client, "flat", &options);
        let p = prepared(&client, &create, &creds());
        assert_eq!(p.method, Method::POST);
        assert_eq!(
            p.url,
            "http://127.0.0.1:8080/projects/proj/tables/flat/streams?partition=pt%3D1&create_partition&curr_project=proj"
        );
        assert_eq!(p.headers["odps-tunnel-slot-num"], "4");
        assert_signature_verifies(&p, "", "test-secret");

        let slot = Slot {
            id: "3".into(),
            server: "10.0.0.7:8080".into(),
        };
        let partition: PartitionSpec = "pt=1".parse().unwrap();
        let target = PackTarget {
            table: "flat",
            partition: Some(&partition),
            session_name: "S1",
            schema_version: Some(0),
            slot: &slot,
            slot_count: 4,
        };
        let write = write_request(
            &client,
            &target,
            Bytes::from_static(b"pack"),
            Compression::Deflate,
            Some(10),
        )
        .unwrap();
        let p = prepared(&client, &write, &creds());
        assert_eq!(p.method, Method::PUT);
        assert_eq!(
            p.url,
            "http://127.0.0.1:8080/projects/proj/tables/flat/streams?uploadid=S1&slotid=3&partition=pt%3D1&schema_version=0&record_count=10&curr_project=proj"
        );
        assert_eq!(p.headers["odps-tunnel-slot-num"], "4");
        assert_eq!(p.headers["odps-tunnel-routed-server"], "10.0.0.7:8080");
        assert_eq!(p.headers["content-type"], "application/octet-stream");
        assert_eq!(p.headers["content-encoding"], "deflate");
        assert_signature_verifies(&p, "", "test-secret");

        let reload = reload_request(&client, "flat", None, "S1");
        let p = prepared(&client, &reload, &creds());
        assert_eq!(p.method, Method::GET);
        assert_eq!(
            p.url,
            "http://127.0.0.1:8080/projects/proj/tables/flat/streams?uploadid=S1&curr_project=proj"
        );
    }

    const STREAM: &str = r#"{
  "session_name": "S-1",
  "status": "normal",
  "slots": [[0, "10.0.0.1:80"], [1, "10.0.0.2:80"]],
  "schema": {"columns": [{"name": "v", "type": "string"}], "partitionKeys": []},
  "schema_version": 3,
  "quota_name": "",
  "compress_mode": "",
  "file_format": ""
}"#;

    #[test]
    fn parses_stream_session_json() {
        let info = StreamSessionInfo::from_json("create", STREAM.as_bytes()).unwrap();
        assert_eq!(info.session_name, "S-1");
        assert_eq!(
            info.slots,
            vec![
                Slot {
                    id: "0".into(),
                    server: "10.0.0.1:80".into()
                },
                Slot {
                    id: "1".into(),
                    server: "10.0.0.2:80".into()
                },
            ]
        );
        assert_eq!(info.schema_version, Some(3));
        assert_eq!(info.schema.columns[0].name, "v");
    }

    #[test]
    fn stream_session_needs_usable_slots() {
        let no_slots = STREAM.replace(r#"[[0, "10.0.0.1:80"], [1, "10.0.0.2:80"]]"#, "[]");
        let err = StreamSessionInfo::from_json("create", no_slots.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("no slots"), "{err}");
        let bad_server = STREAM.replace("10.0.0.2:80", "10.0.0.2");
        let err = StreamSessionInfo::from_json("create", bad_server.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("not ip:port"), "{err}");
    }

    fn route_headers(count: &str, server: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(SLOT_NUM_HEADER, HeaderValue::from_str(count).unwrap());
        h.insert(ROUTED_SERVER_HEADER, HeaderValue::from_str(server).unwrap());
        h
    }

    #[test]
    fn routing_headers_decide_between_nothing_move_and_reload() {
        let slot = Slot {
            id: "1".into(),
            server: "10.0.0.2:80".into(),
        };
        assert_eq!(
            route_change(&route_headers("2", "10.0.0.2:80"), &slot, 2),
            RouteChange::None
        );
        assert_eq!(
            route_change(&route_headers("2", "10.0.0.9:80"), &slot, 2),
            RouteChange::Moved("10.0.0.9:80".into())
        );
        assert_eq!(
            route_change(&route_headers("3", "10.0.0.2:80"), &slot, 2),
            RouteChange::Reload
        );
        assert_eq!(
            route_change(&route_headers("x", "10.0.0.2:80"), &slot, 2),
            RouteChange::Reload
        );
        assert_eq!(
            route_change(&HeaderMap::new(), &slot, 2),
            RouteChange::Reload
        );
    }
}
