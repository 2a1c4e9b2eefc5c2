//! `kafka-tail`: prints every record of a topic from the beginning (all partitions, no consumer
//! group: `assign()` only), with key, value and headers, then exits. `--expect N` waits, up to
//! `--timeout-secs`, until at least N records are there. Used by `scripts/demo.sh` to print the
//! error topic; Debian's kcat cannot talk to Tansu.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::Engine;
use clap::Parser;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Kafka brokers, host:port[,host:port].
    #[arg(long)]
    bootstrap_servers: String,
    #[arg(long)]
    topic: String,
    /// Wait until at least this many records are in the topic.
    #[arg(long, default_value_t = 0)]
    expect: usize,
    /// Longest wait for `--expect` records (an error when they do not arrive).
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Extra librdkafka consumer property, key=value (repeatable).
    #[arg(short = 'X', long = "consumer-property", value_parser = parse_pair)]
    properties: Vec<(String, String)>,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not key=value"))
}

/// UTF-8 text as is; anything else as `base64:<...>`; absent as `null`.
fn show(bytes: Option<&[u8]>) -> String {
    match bytes {
        None => "null".to_string(),
        Some(b) => match std::str::from_utf8(b) {
            Ok(text) => text.to_string(),
            Err(_) => format!(
                "base64:{}",
                base64::engine::general_purpose::STANDARD.encode(b)
            ),
        },
    }
}

fn run(args: Args) -> Result<usize, String> {
    let mut client = ClientConfig::new();
    for (key, value) in &args.properties {
        client.set(key, value);
    }
    let consumer: BaseConsumer = client
        .set("bootstrap.servers", &args.bootstrap_servers)
        .set("group.id", "kafka-tail")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .map_err(|e| format!("Kafka consumer for {}: {e}", args.bootstrap_servers))?;
    let metadata = consumer
        .fetch_metadata(Some(&args.topic), Duration::from_secs(30))
        .map_err(|e| format!("metadata of {}: {e}", args.topic))?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == args.topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        return Err(format!("topic {} does not exist", args.topic));
    }
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        assignment
            .add_partition_offset(&args.topic, p, Offset::Beginning)
            .map_err(|e| e.to_string())?;
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;

    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let mut seen = 0usize;
    let mut position: HashMap<i32, i64> = HashMap::new();
    loop {
        // Everything up to the current high watermarks, then stop (or wait for --expect).
        let mut remaining: Vec<(i32, i64)> = Vec::new();
        for &p in &partitions {
            let (_, high) = consumer
                .fetch_watermarks(&args.topic, p, Duration::from_secs(10))
                .map_err(|e| format!("watermarks of {}-{p}: {e}", args.topic))?;
            remaining.push((p, high));
        }
        // Offsets of the next record to print, per partition (absent: nothing printed yet).
        let caught_up = |position: &HashMap<i32, i64>| {
            remaining
                .iter()
                .all(|(p, high)| position.get(p).copied().unwrap_or(0) >= *high)
        };
        while !caught_up(&position) {
            if Instant::now() > deadline {
                return Err(format!("timed out reading {}", args.topic));
            }
            match consumer.poll(Duration::from_millis(200)) {
                None => continue,
                Some(Err(e)) => eprintln!("kafka-tail: consume error (still polling): {e}"),
                Some(Ok(m)) => {
                    seen += 1;
                    println!(
                        "{}-{}@{}\tkey={}\tvalue={}",
                        m.topic(),
                        m.partition(),
                        m.offset(),
                        show(m.key()),
                        show(m.payload())
                    );
                    if let Some(headers) = m.headers() {
                        for h in headers.iter() {
                            println!("    header {} = {}", h.key, show(h.value));
                        }
                    }
                    position.insert(m.partition(), m.offset() + 1);
                }
            }
        }
        if seen >= args.expect {
            return Ok(seen);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{} holds {seen} record(s) after {} s, expected at least {}",
                args.topic, args.timeout_secs, args.expect
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let topic = args.topic.clone();
    match run(args) {
        Ok(n) => {
            eprintln!("{n} record(s) in {topic}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("kafka-tail: {error}");
            ExitCode::FAILURE
        }
    }
}
