//! `kafka-produce` and `kafka-tail` (the demo's console tools) against a real Tansu broker: lines
//! become records with the right keys, values and headers, and the tail prints them all,
//! waits for `--expect`, and fails when they do not arrive in time.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use kafka_trigger::testing::Tansu;

fn produce(bootstrap: &str, topic: &str, input: &str, extra: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kafka-produce"))
        .args(["--bootstrap-servers", bootstrap, "--topic", topic])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kafka-produce starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write input");
    child.wait_with_output().expect("kafka-produce runs")
}

fn tail(bootstrap: &str, topic: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kafka-tail"))
        .args(["--bootstrap-servers", bootstrap, "--topic", topic])
        .args(extra)
        .output()
        .expect("kafka-tail runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn produced_lines_are_tailed_with_keys_values_and_headers() {
    let broker = Tansu::start();
    broker.create_topic("seed", 1).await;

    let out = produce(
        &broker.bootstrap,
        "seed",
        "123\tabc\n\n456\t{\"id\":456,\"name\":\"x\ty\"}\r\n",
        &["--partition", "0", "--header", "producer=kafka-console"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "seed-0@0\tkey=123\tvalue=abc\nseed-0@1\tkey=456\tvalue={\"id\":456,\"name\":\"x\ty\"}\n"
    );

    let out = produce(&broker.bootstrap, "seed", "no key here\n", &["--no-key"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = tail(&broker.bootstrap, "seed", &["--expect", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "seed-0@0\tkey=123\tvalue=abc\n    header producer = kafka-console\n\
         seed-0@1\tkey=456\tvalue={\"id\":456,\"name\":\"x\ty\"}\n    header producer = kafka-console\n\
         seed-0@2\tkey=null\tvalue=no key here\n"
    );
    assert!(text(&out.stderr).contains("3 record(s) in seed"));

    // Fewer records than expected: an error after the timeout, the records still printed.
    let out = tail(
        &broker.bootstrap,
        "seed",
        &["--expect", "4", "--timeout-secs", "2"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("seed holds 3 record(s) after 2 s, expected at least 4"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).lines().count(), 5);
}

#[tokio::test]
async fn a_line_without_separator_is_refused_before_producing() {
    let broker = Tansu::start();
    broker.create_topic("strict", 1).await;
    let out = produce(&broker.bootstrap, "strict", "123\tabc\nlonely\n", &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("line 2: no key separator"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout), "", "nothing is produced from a bad file");
    let out = tail(&broker.bootstrap, "strict", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
}
