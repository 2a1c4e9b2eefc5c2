//! A stand-in for the function's Lambda Invoke API: records every event, can fail on demand,
//! and snapshots the consumer group's committed offsets at the moment each request arrives.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use axum::Router;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;

#[derive(Clone, Copy)]
pub enum FailMode {
    /// The first invocation reports a handler error the way the runtime does.
    FirstInvocation,
    /// Every invocation succeeds.
    Never,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub body: Value,
    pub failed: bool,
    pub committed_at_request: BTreeMap<(String, i32), i64>,
}

struct Shared {
    calls: Mutex<Vec<Call>>,
    mode: FailMode,
    offsets: OffsetReader,
}

pub struct Endpoint {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
}

#[derive(Clone)]
struct OffsetReader {
    consumer: Arc<BaseConsumer>,
    partitions: Vec<(String, i32)>,
}

impl OffsetReader {
    fn read(&self) -> BTreeMap<(String, i32), i64> {
        let mut list = TopicPartitionList::new();
        for (topic, partition) in &self.partitions {
            list.add_partition(topic, *partition);
        }
        let committed = self
            .consumer
            .committed_offsets(list, Duration::from_secs(30))
            .expect("OffsetFetch for the trigger's group");
        committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(n) => Some(((e.topic().to_string(), e.partition()), n)),
                _ => None,
            })
            .collect()
    }
}

impl Endpoint {
    pub async fn start(
        mode: FailMode,
        bootstrap: &str,
        group: &str,
        partitions: &[(&str, i32)],
    ) -> Endpoint {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .expect("offset reader");
        let shared = Arc::new(Shared {
            calls: Mutex::new(Vec::new()),
            mode,
            offsets: OffsetReader {
                consumer: Arc::new(consumer),
                partitions: partitions
                    .iter()
                    .map(|(t, p)| (t.to_string(), *p))
                    .collect(),
            },
        });
        let app = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Endpoint { addr, shared }
    }

    pub fn url(&self, function: &str) -> String {
        format!(
            "http://{}/2015-03-31/functions/{function}/invocations",
            self.addr
        )
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    pub async fn committed_now(&self) -> BTreeMap<(String, i32), i64> {
        let reader = self.shared.offsets.clone();
        tokio::task::spawn_blocking(move || reader.read())
            .await
            .unwrap()
    }
}

async fn invoke(State(shared): State<Arc<Shared>>, body: Bytes) -> (StatusCode, HeaderMap, String) {
    let body: Value = serde_json::from_slice(&body).expect("the trigger sends JSON");
    let reader = shared.offsets.clone();
    let committed_at_request = tokio::task::spawn_blocking(move || reader.read())
        .await
        .unwrap();
    let mut calls = shared.calls.lock().unwrap();
    let failed = match shared.mode {
        FailMode::FirstInvocation => calls.is_empty(),
        FailMode::Never => false,
    };
    calls.push(Call {
        body,
        failed,
        committed_at_request,
    });
    let mut headers = HeaderMap::new();
    if failed {
        headers.insert(
            "X-Amz-Function-Error",
            HeaderValue::from_static("Unhandled"),
        );
        let error = r#"{"errorType":"SinkError","errorMessage":"injected failure"}"#;
        return (StatusCode::OK, headers, error.to_string());
    }
    (StatusCode::OK, headers, "{}".to_string())
}
