//! `kafka-produce`: produces text lines to a topic, like `kafka-console-producer.sh
//! --property parse.key=true` (key and value separated by a TAB by default), and prints where
//! each record landed. Used by `scripts/demo.sh` to produce the seed document's messages, and
//! handy with any Kafka broker where the Apache Kafka tools are not installed.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

/// Produces one record per non-empty input line: `key<SEP>value`, or the whole line as the value
/// with `--no-key`.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Kafka brokers, host:port[,host:port].
    #[arg(long)]
    bootstrap_servers: String,
    #[arg(long)]
    topic: String,
    /// Partition to write to; the producer's partitioner decides when absent.
    #[arg(long)]
    partition: Option<i32>,
    /// Separator between key and value (kafka-console-producer's `key.separator`, TAB).
    #[arg(long, default_value = "\t")]
    key_separator: String,
    /// Lines are values only; records get a null key.
    #[arg(long)]
    no_key: bool,
    /// Header added to every record, name=value (repeatable).
    #[arg(long = "header", value_parser = parse_pair)]
    headers: Vec<(String, String)>,
    /// Extra librdkafka producer property, key=value (repeatable).
    #[arg(short = 'X', long = "producer-property", value_parser = parse_pair)]
    properties: Vec<(String, String)>,
    /// Input file; standard input when absent or `-`.
    file: Option<PathBuf>,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not name=value"))
}

/// Splits the non-empty lines of `input` into (key, value) records.
fn records(
    input: impl Read,
    separator: &str,
    no_key: bool,
) -> Result<Vec<(Option<String>, String)>, String> {
    let mut out = Vec::new();
    for (number, line) in BufReader::new(input).lines().enumerate() {
        let line = line.map_err(|e| format!("reading line {}: {e}", number + 1))?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.trim().is_empty() {
            continue;
        }
        if no_key {
            out.push((None, line.to_string()));
            continue;
        }
        match line.split_once(separator) {
            Some((key, value)) => out.push((Some(key.to_string()), value.to_string())),
            None => {
                return Err(format!(
                    "line {}: no key separator {separator:?} (use --no-key for value-only lines): {line}",
                    number + 1
                ))
            }
        }
    }
    Ok(out)
}

async fn run(args: Args) -> Result<(), String> {
    if args.key_separator.is_empty() {
        return Err("--key-separator must not be empty".into());
    }
    let input: Box<dyn Read> = match &args.file {
        Some(path) if path.as_os_str() != "-" => {
            Box::new(std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        _ => Box::new(std::io::stdin()),
    };
    let records = records(input, &args.key_separator, args.no_key)?;

    let mut client = ClientConfig::new();
    for (key, value) in &args.properties {
        client.set(key, value);
    }
    let producer: FutureProducer = client
        .set("bootstrap.servers", &args.bootstrap_servers)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .create()
        .map_err(|e| format!("Kafka producer for {}: {e}", args.bootstrap_servers))?;

    for (key, value) in &records {
        let mut headers = OwnedHeaders::new();
        for (name, value) in &args.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(value.as_bytes()),
            });
        }
        let mut record: FutureRecord<'_, str, str> = FutureRecord::to(&args.topic)
            .payload(value.as_str())
            .headers(headers);
        if let Some(key) = key {
            record = record.key(key.as_str());
        }
        if let Some(partition) = args.partition {
            record = record.partition(partition);
        }
        let delivery = producer
            .send(record, Duration::from_secs(30))
            .await
            .map_err(|(e, _)| format!("producing to {}: {e}", args.topic))?;
        println!(
            "{}-{}@{}\tkey={}\tvalue={}",
            args.topic,
            delivery.partition,
            delivery.offset,
            key.as_deref().unwrap_or("null"),
            value
        );
    }
    eprintln!("produced {} record(s) to {}", records.len(), args.topic);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kafka-produce: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::records;

    #[test]
    fn splits_key_and_value_at_the_first_separator() {
        let input = "123\tabc\n\n456\t{\"a\":\"x\ty\"}\r\n";
        let got = records(input.as_bytes(), "\t", false).unwrap();
        assert_eq!(
            got,
            vec![
                (Some("123".into()), "abc".into()),
                (Some("456".into()), "{\"a\":\"x\ty\"}".into())
            ]
        );
    }

    #[test]
    fn value_only_lines_and_missing_separators() {
        let got = records("abc\n".as_bytes(), "\t", true).unwrap();
        assert_eq!(got, vec![(None, "abc".into())]);
        let err = records("abc\n".as_bytes(), "\t", false).unwrap_err();
        assert!(err.starts_with("line 1: no key separator"), "{err}");
    }
}
