//! Signed raw HTTP requests against an in-process emulator, for the strict-check tests.

#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method};
use maxcompute_emulator::{start, EmulatorConfig, EmulatorHandle};
use maxcompute_tunnel::auth::{sign_request, Credentials};
use maxcompute_tunnel::codec::RecordEncoder;
use maxcompute_tunnel::{TableSchema, Value};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

pub const PROJECT: &str = "emulator";
pub const ID: &str = maxcompute_emulator::config::DEFAULT_ACCESS_ID;
pub const SECRET: &str = maxcompute_emulator::config::DEFAULT_ACCESS_KEY;
pub const EVENTS_DDL: &str = "CREATE TABLE IF NOT EXISTS events(topic STRING, `partition` BIGINT, \
     `offset` BIGINT, key STRING, value STRING, payload JSON) PARTITIONED BY (pt STRING);";

pub struct Env {
    pub handle: EmulatorHandle,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    pub creds: Credentials,
}

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error code, from a JSON (tunnel) or XML (REST) error body.
    pub fn code(&self) -> String {
        let text = self.text();
        if let Some(start) = text.find("<Code>") {
            let end = text.find("</Code>").expect("closed Code");
            return text[start + 6..end].to_string();
        }
        self.json()["Code"].as_str().unwrap_or_default().to_string()
    }

    /// Asserts an error status and code, and that the request id header is there.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "body: {}",
            self.text()
        );
        assert!(self.headers.contains_key("x-odps-request-id"));
    }
}

pub async fn env() -> Env {
    env_with(|_| {}).await
}

pub async fn env_with(tweak: impl FnOnce(&mut EmulatorConfig)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::new(dir.path());
    tweak(&mut config);
    let handle = start(config).await.unwrap();
    handle
        .catalog()
        .create_table_ddl(PROJECT, EVENTS_DDL)
        .unwrap();
    Env {
        handle,
        dir,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        creds: Credentials::new(ID, SECRET),
    }
}

pub fn events_schema(env: &Env) -> Arc<TableSchema> {
    env.handle
        .catalog()
        .table(PROJECT, "events")
        .unwrap()
        .schema
}

pub fn encode(schema: Arc<TableSchema>, rows: &[Vec<Value>]) -> Vec<u8> {
    let mut enc = RecordEncoder::new(schema).with_max_field_size(usize::MAX);
    for row in rows {
        enc.append(row).unwrap();
    }
    enc.finish()
}

pub fn row(topic: &str, offset: i64, payload: Option<&str>) -> Vec<Value> {
    vec![
        topic.into(),
        Value::Int(0),
        Value::Int(offset),
        Value::Null,
        "v".into(),
        payload.map_or(Value::Null, |p| Value::Json(p.into())),
    ]
}

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Env {
    pub fn base(&self) -> String {
        self.handle.tunnel_endpoint()
    }

    /// Sends a request signed with `creds` at `now`; `path` is the full path (with `/api` for
    /// REST calls).
    #[allow(clippy::too_many_arguments)]
    pub async fn send_as(
        &self,
        creds: Option<&Credentials>,
        now: DateTime<Utc>,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        mut headers: HeaderMap,
        body: Vec<u8>,
    ) -> Reply {
        let query = q(query);
        let resource = path.strip_prefix("/api").unwrap_or(path);
        if let Some(creds) = creds {
            sign_request(creds, method.as_str(), resource, &query, &mut headers, now).unwrap();
        }
        let qs: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC))
                }
            })
            .collect();
        let url = if qs.is_empty() {
            format!("{}{path}", self.base())
        } else {
            format!("{}{path}?{}", self.base(), qs.join("&"))
        };
        let resp = self
            .http
            .request(method, url)
            .headers(headers)
            .body(body)
            .send()
            .await
            .unwrap();
        Reply {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.bytes().await.unwrap().to_vec(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> Reply {
        self.send_as(
            Some(&self.creds),
            Utc::now(),
            method,
            path,
            query,
            headers,
            body,
        )
        .await
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.send(Method::GET, path, query, HeaderMap::new(), Vec::new())
            .await
    }

    pub async fn post(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        self.send(Method::POST, path, query, HeaderMap::new(), Vec::new())
            .await
    }

    pub async fn put(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
        deflate: bool,
    ) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/octet-stream"),
        );
        headers.insert("x-odps-tunnel-version", HeaderValue::from_static("6"));
        if deflate {
            headers.insert("content-encoding", HeaderValue::from_static("deflate"));
        }
        self.send(Method::PUT, path, query, headers, body).await
    }

    /// Creates an upload session on `events`, partition `pt`, and returns its id.
    pub async fn create_upload(&self, pt: &str, create_partition: bool) -> String {
        let spec = format!("pt={pt}");
        let mut query = vec![("uploads", "1"), ("partition", spec.as_str())];
        if create_partition {
            query.push(("create_partition", "true"));
        }
        let reply = self.post("/projects/emulator/tables/events", &query).await;
        assert!(
            reply.status == 201 || reply.status == 200,
            "create upload: {} {}",
            reply.status,
            reply.text()
        );
        reply.json()["UploadID"].as_str().unwrap().to_string()
    }

    pub async fn put_block(&self, upload: &str, pt: &str, block: &str, body: Vec<u8>) -> Reply {
        let spec = format!("pt={pt}");
        self.put(
            "/projects/emulator/tables/events",
            &[
                ("uploadid", upload),
                ("blockid", block),
                ("partition", &spec),
            ],
            body,
            false,
        )
        .await
    }

    pub async fn commit(&self, upload: &str, pt: &str) -> Reply {
        let spec = format!("pt={pt}");
        self.post(
            "/projects/emulator/tables/events",
            &[("uploadid", upload), ("partition", &spec)],
        )
        .await
    }

    /// The committed rows of `events` partition `pt`.
    pub fn rows(&self, pt: &str) -> Vec<Vec<Value>> {
        let catalog = self.handle.catalog();
        let spec = catalog
            .resolve_partition(PROJECT, "events", Some(&format!("pt={pt}")))
            .unwrap();
        catalog.rows(PROJECT, "events", &spec).unwrap()
    }
}
