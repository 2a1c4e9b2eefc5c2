//! A stand-in for the function's Lambda Invoke API: records every event, answers as a responder
//! decides (success, a handler error, or a partial batch response), and snapshots the consumer
//! group's committed offsets at the moment each request arrives.

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

/// How the function answers one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// HTTP 200 with this body (a handler's return value).
    Success(String),
    /// A handler error, as the runtime reports it.
    FunctionError,
}

/// Decides the reply to the `n`-th (0-based) invocation, given its event.
pub type Responder = Arc<dyn Fn(&Value, usize) -> Reply + Send + Sync>;

/// A function that fails the records at `offsets` of `"<topic>-<partition>"` `partition`
/// (a poison record), reporting the first of them in the event in `batchItemFailures`, as a
/// sink that writes everything before it does.
pub fn reports_poison(partition: &str, offsets: &[i64]) -> Responder {
    let partition = partition.to_string();
    let offsets = offsets.to_vec();
    Arc::new(move |event, _| {
        let first = event["records"][&partition]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["offset"].as_i64())
            .find(|o| offsets.contains(o));
        match first {
            Some(offset) => Reply::Success(
                serde_json::json!({"batchItemFailures": [
                    {"itemIdentifier": {"partition": partition, "offset": offset}}
                ]})
                .to_string(),
            ),
            None => Reply::Success("{}".into()),
        }
    })
}

/// A function whose handler fails on every event holding `offset` of `partition`.
pub fn errors_on(partition: &str, offset: i64) -> Responder {
    let partition = partition.to_string();
    Arc::new(move |event, _| {
        let holds = event["records"][&partition]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["offset"].as_i64() == Some(offset));
        if holds {
            Reply::FunctionError
        } else {
            Reply::Success("{}".into())
        }
    })
}

#[derive(Debug, Clone)]
pub struct Call {
    pub body: Value,
    pub failed: bool,
    /// The reply's body.
    pub reply: String,
    pub committed_at_request: BTreeMap<(String, i32), i64>,
}

impl Call {
    /// (`"<topic>-<partition>"`, offset) of every record of the event, in event order.
    pub fn records(&self) -> Vec<(String, i64)> {
        self.body["records"]
            .as_object()
            .expect("records is an object")
            .iter()
            .flat_map(|(key, group)| {
                group
                    .as_array()
                    .expect("a group is an array")
                    .iter()
                    .map(move |r| (key.clone(), r["offset"].as_i64().expect("an offset")))
            })
            .collect()
    }
}

struct Shared {
    calls: Mutex<Vec<Call>>,
    responder: Responder,
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
        let responder: Responder = match mode {
            FailMode::FirstInvocation => Arc::new(|_, n| {
                if n == 0 {
                    Reply::FunctionError
                } else {
                    Reply::Success("{}".into())
                }
            }),
            FailMode::Never => Arc::new(|_, _| Reply::Success("{}".into())),
        };
        Endpoint::with_responder(responder, bootstrap, group, partitions).await
    }

    pub async fn with_responder(
        responder: Responder,
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
            responder,
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
    let reply = (shared.responder)(&body, calls.len());
    let mut headers = HeaderMap::new();
    let (failed, text) = match reply {
        Reply::FunctionError => {
            headers.insert(
                "X-Amz-Function-Error",
                HeaderValue::from_static("Unhandled"),
            );
            let error = r#"{"errorType":"SinkError","errorMessage":"injected failure"}"#;
            (true, error.to_string())
        }
        Reply::Success(text) => (false, text),
    };
    calls.push(Call {
        body,
        failed,
        reply: text.clone(),
        committed_at_request,
    });
    (StatusCode::OK, headers, text)
}
