//! The error-handling controls of a provisioned-mode Kafka mapping, against a real Tansu broker
//! and a local function endpoint: partial batch responses (with the invariant that every record
//! before a reported offset of its partition is committed and nothing at or after it is), what
//! Lambda does with responses it does not expect or cannot read, maximum retry attempts, split
//! batch on error, maximum record age, and the Kafka on-failure destination with the failure
//! record as Lambda writes it.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kafka_trigger::config::RetryPolicy;
use kafka_trigger::testing::Tansu;
use kafka_trigger::{Delivered, EventSource, StartingPosition, Trigger, TriggerConfig};
use serde_json::{json, Value};

use support::consume::read_json;
use support::endpoint::{errors_on, reports_poison, Call, Endpoint, Reply};
use support::produce::{produce, Produced, ToProduce};

/// Guards a step against a hang; the tests assert nothing about time.
const HANG_GUARD: Duration = Duration::from_secs(120);

fn base_config(broker: &Tansu, endpoint: &Endpoint, group: &str, topic: &str) -> TriggerConfig {
    TriggerConfig {
        bootstrap_servers: broker.bootstrap.clone(),
        topics: vec![topic.to_string()],
        consumer_group_id: group.to_string(),
        starting_position: StartingPosition::TrimHorizon,
        event_source: EventSource::SelfManaged,
        function_url: endpoint.url("sink"),
        batch_size: 100,
        // Long enough that every test batch closes because it is full, never by time.
        batching_window: Duration::from_secs(20),
        max_payload_bytes: kafka_trigger::config::LAMBDA_MAX_PAYLOAD_BYTES,
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            max_retries: None,
        },
        report_batch_item_failures: false,
        bisect_batch_on_function_error: false,
        max_record_age: None,
        on_failure: None,
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:sink".into(),
        consumer_properties: vec![],
    }
}

/// Runs steps until `records` records are finished; returns every step's outcome.
async fn run_until(trigger: &mut Trigger, records: usize) -> Vec<Delivered> {
    let mut steps = Vec::new();
    while steps.iter().map(|d: &Delivered| d.records).sum::<usize>() < records {
        let step = tokio::time::timeout(HANG_GUARD, trigger.step())
            .await
            .expect("a batch is finished (hang guard)")
            .expect("the step succeeds");
        steps.push(step);
    }
    steps
}

fn values(n: usize, topic: &str, partition: i32) -> Vec<ToProduce> {
    (0..n)
        .map(|i| {
            let key = format!("k{partition}-{i}");
            let value = format!("v{partition}-{i}");
            ToProduce::new(
                topic,
                partition,
                Some(key.as_bytes()),
                Some(value.as_bytes()),
            )
        })
        .collect()
}

/// The record exactly as Lambda puts it in an event.
fn expected_record(p: &Produced) -> Value {
    json!({
        "topic": p.topic, "partition": p.partition, "offset": p.offset,
        "timestamp": p.timestamp, "timestampType": "CREATE_TIME",
        "key": p.key.as_ref().map(|k| STANDARD.encode(k)),
        "value": p.value.as_ref().map(|v| STANDARD.encode(v)),
        "headers": [],
    })
}

fn offsets(call: &Call) -> Vec<i64> {
    call.records().into_iter().map(|(_, o)| o).collect()
}

/// Nothing in flight is committed and nothing before it is left uncommitted: at every
/// invocation, each partition of the event is committed exactly up to its first record there.
fn assert_committed_up_to_first_record(calls: &[Call]) {
    for (i, call) in calls.iter().enumerate() {
        let mut first: BTreeMap<String, i64> = BTreeMap::new();
        for (key, offset) in call.records() {
            first.entry(key).or_insert(offset);
        }
        for (key, first_offset) in first {
            let committed = call
                .committed_at_request
                .iter()
                .find(|((t, p), _)| format!("{t}-{p}") == key)
                .map(|(_, next)| *next)
                .unwrap_or(0);
            assert_eq!(
                committed, first_offset,
                "call {i}: {key} is committed up to {committed}, but its first record in flight is {first_offset}"
            );
        }
    }
}

fn committed(entries: &[(&str, i32, i64)]) -> BTreeMap<(String, i32), i64> {
    entries
        .iter()
        .map(|(t, p, n)| ((t.to_string(), *p), *n))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_batch_response_commits_up_to_the_poison_record_and_redelivers_from_it() {
    let broker = Tansu::start();
    broker.create_topic("orders", 2).await;
    broker.create_topic("orders-dlq", 1).await;
    let mut records = values(5, "orders", 0);
    records.extend(values(3, "orders", 1));
    let produced = produce(&broker.bootstrap, records).await;

    let partitions = [("orders", 0), ("orders", 1)];
    let endpoint = Endpoint::with_responder(
        reports_poison("orders-0", &[2]),
        &broker.bootstrap,
        "poison",
        &partitions,
    )
    .await;
    let mut config = base_config(&broker, &endpoint, "poison", "orders");
    config.batch_size = produced.len();
    config.report_batch_item_failures = true;
    config.retry.max_retries = Some(2);
    config.on_failure = Some("kafka://orders-dlq".into());
    let mut trigger = Trigger::new(config).expect("trigger starts");

    let steps = run_until(&mut trigger, produced.len()).await;
    let calls = endpoint.calls();

    // The first call holds the whole batch; the poison partition is reported at offset 2.
    assert_eq!(calls[0].records().len(), 8);
    assert_eq!(
        serde_json::from_str::<Value>(&calls[0].reply).unwrap(),
        json!({"batchItemFailures": [{"itemIdentifier": {"partition": "orders-0", "offset": 2}}]})
    );
    // Then only the poison partition, from the reported offset: the first re-delivery and two
    // retries, after which the rest of it goes to the destination.
    assert_eq!(calls.len(), 4, "1 batch + re-delivery + 2 retries");
    for call in &calls[1..] {
        assert_eq!(
            call.records(),
            vec![
                ("orders-0".to_string(), 2),
                ("orders-0".to_string(), 3),
                ("orders-0".to_string(), 4)
            ]
        );
        assert_eq!(
            call.committed_at_request,
            committed(&[("orders", 0, 2), ("orders", 1, 3)]),
            "before the poison record: committed; the other partition: done"
        );
    }
    assert_committed_up_to_first_record(&calls);
    assert_eq!(
        steps.iter().map(|d| d.to_destination).sum::<usize>(),
        3,
        "the poison record and the two behind it"
    );
    assert_eq!(
        endpoint.committed_now().await,
        committed(&[("orders", 0, 5), ("orders", 1, 3)]),
        "after the destination took them, the partition moved on"
    );

    let dlq = read_json(&broker.bootstrap, "orders-dlq", 3).await;
    let dlq_offsets: Vec<&str> = dlq
        .iter()
        .map(|m| {
            m.value["KafkaBatchInfo"]["recordInfo"]["offset"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(dlq_offsets, vec!["2", "3", "4"]);
    for (message, original) in dlq.iter().zip(&produced[2..5]) {
        assert_eq!(
            message.key, original.key,
            "the destination is keyed like the record"
        );
        let value = &message.value;
        assert_eq!(value["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(value["requestContext"]["approximateInvokeCount"], 4);
        assert_eq!(
            value["responseContext"],
            json!({"statusCode": 200, "executedVersion": "$LATEST"}),
            "the function succeeded and reported the records; no function error"
        );
        assert_eq!(
            value["payload"]["records"]["orders-0"],
            json!([expected_record(original)])
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_the_trigger_does_not_expect_or_cannot_read() {
    let broker = Tansu::start();
    broker.create_topic("resp", 1).await;
    let produced = produce(&broker.bootstrap, values(3, "resp", 0)).await;
    let partitions = [("resp", 0)];
    let partial =
        json!({"batchItemFailures": [{"itemIdentifier": {"partition": "resp-0", "offset": 1}}]})
            .to_string();

    // The flag off: a partial batch response is not read, the batch counts as done.
    let endpoint = Endpoint::with_responder(
        Arc::new({
            let partial = partial.clone();
            move |_, _| Reply::Success(partial.clone())
        }),
        &broker.bootstrap,
        "off",
        &partitions,
    )
    .await;
    let mut config = base_config(&broker, &endpoint, "off", "resp");
    config.batch_size = produced.len();
    let mut trigger = Trigger::new(config).unwrap();
    trigger.step().await.unwrap();
    assert_eq!(endpoint.calls().len(), 1);
    assert_eq!(endpoint.committed_now().await, committed(&[("resp", 0, 3)]));

    // The flag on: an empty list and null are complete successes.
    for (group, body) in [("empty", r#"{"batchItemFailures":[]}"#), ("null", "null")] {
        let endpoint = Endpoint::with_responder(
            Arc::new(move |_, _| Reply::Success(body.to_string())),
            &broker.bootstrap,
            group,
            &partitions,
        )
        .await;
        let mut config = base_config(&broker, &endpoint, group, "resp");
        config.batch_size = produced.len();
        config.report_batch_item_failures = true;
        let mut trigger = Trigger::new(config).unwrap();
        let step = trigger.step().await.unwrap();
        assert_eq!((step.records, step.attempts), (3, 1), "{group}");
        assert_eq!(endpoint.committed_now().await, committed(&[("resp", 0, 3)]));
    }

    // Identifiers that are not in the event fail the whole batch, which is retried unchanged.
    let replies = [
        json!({"batchItemFailures": [{"itemIdentifier": {"partition": "resp-0", "offset": 99}}]})
            .to_string(),
        json!({"batchItemFailures": [{"itemIdentifier": {"partition": "other-0", "offset": 1}}]})
            .to_string(),
        json!({"batchItemFailures": [{"itemIdentifier": "resp-0"}]}).to_string(),
        partial,
        "{}".to_string(),
    ];
    let endpoint = Endpoint::with_responder(
        Arc::new(move |_, n| Reply::Success(replies[n.min(4)].clone())),
        &broker.bootstrap,
        "invalid",
        &partitions,
    )
    .await;
    let mut config = base_config(&broker, &endpoint, "invalid", "resp");
    config.batch_size = produced.len();
    config.report_batch_item_failures = true;
    let mut trigger = Trigger::new(config).unwrap();
    run_until(&mut trigger, produced.len()).await;
    let calls = endpoint.calls();
    assert_eq!(
        calls.len(),
        5,
        "3 unreadable responses, a partial one, its re-delivery"
    );
    for call in &calls[..4] {
        assert_eq!(offsets(call), vec![0, 1, 2], "the whole batch again");
        assert!(call.committed_at_request.is_empty(), "nothing committed");
    }
    assert_eq!(offsets(&calls[4]), vec![1, 2]);
    assert_eq!(calls[4].committed_at_request, committed(&[("resp", 0, 1)]));
    assert_committed_up_to_first_record(&calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_go_to_the_kafka_destination_as_lambda_writes_them() {
    let broker = Tansu::start();
    broker.create_topic("pay", 1).await;
    broker.create_topic("pay-dlq", 1).await;
    let produced = produce(&broker.bootstrap, values(3, "pay", 0)).await;
    let partitions = [("pay", 0)];

    let endpoint =
        Endpoint::with_responder(errors_on("pay-0", 1), &broker.bootstrap, "pay", &partitions)
            .await;
    let mut config = base_config(&broker, &endpoint, "pay", "pay");
    config.batch_size = 3;
    config.retry.max_retries = Some(1);
    config.on_failure = Some("kafka://pay-dlq".into());
    let mut trigger = Trigger::new(config).unwrap();
    let steps = run_until(&mut trigger, 3).await;
    assert_eq!(steps[0].attempts, 2, "the first attempt and one retry");
    assert_eq!(steps[0].to_destination, 3);
    let calls = endpoint.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].body, calls[1].body, "the retry is the same batch");
    assert!(calls.iter().all(|c| c.committed_at_request.is_empty()));
    assert_eq!(endpoint.committed_now().await, committed(&[("pay", 0, 3)]));

    let dlq = read_json(&broker.bootstrap, "pay-dlq", 3).await;
    for (message, original) in dlq.iter().zip(&produced) {
        assert_eq!(message.key, original.key);
        let value = &message.value;
        let payload = json!({
            "eventSource": "SelfManagedKafka",
            "bootstrapServers": broker.bootstrap,
            "records": {"pay-0": [expected_record(original)]},
        });
        let request_id = value["requestContext"]["requestId"].as_str().unwrap();
        assert_eq!(request_id.len(), 36, "a request id: {request_id}");
        let record_time = chrono::DateTime::from_timestamp_millis(original.timestamp)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        assert_eq!(
            *value,
            json!({
                "requestContext": {
                    "requestId": request_id,
                    "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:sink",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": 2,
                },
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "version": "1.0",
                "timestamp": value["timestamp"],
                "KafkaBatchInfo": {
                    "batchSize": 1,
                    "bootstrapServers": broker.bootstrap,
                    "payloadSize": serde_json::to_vec(&payload).unwrap().len(),
                    "recordInfo": {"offset": original.offset.to_string(), "timestamp": record_time},
                },
                "payload": payload,
            })
        );
        let written = value["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(written).is_ok() && written.ends_with('Z'),
            "{written}"
        );
    }

    // The group moved on: a later record is what a restarted trigger delivers next.
    drop(trigger);
    produce(&broker.bootstrap, values(1, "pay", 0)).await;
    let mut config = base_config(&broker, &endpoint, "pay", "pay");
    config.batch_size = 1;
    let mut trigger = Trigger::new(config).unwrap();
    let step = tokio::time::timeout(HANG_GUARD, trigger.step())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((step.records, step.to_destination), (1, 0));
    assert_eq!(offsets(&endpoint.calls()[2]), vec![3]);
    assert_eq!(endpoint.committed_now().await, committed(&[("pay", 0, 4)]));

    // Without a destination the records are discarded after the retries, and the partition
    // still moves on.
    let endpoint = Endpoint::with_responder(
        errors_on("pay-0", 1),
        &broker.bootstrap,
        "drop",
        &partitions,
    )
    .await;
    let mut config = base_config(&broker, &endpoint, "drop", "pay");
    config.batch_size = 3;
    config.retry.max_retries = Some(0);
    let mut trigger = Trigger::new(config).unwrap();
    let step = trigger.step().await.unwrap();
    assert_eq!(
        (step.attempts, step.discarded, step.to_destination),
        (1, 3, 0)
    );
    assert_eq!(endpoint.committed_now().await, committed(&[("pay", 0, 3)]));

    // Unlimited retries with a destination are capped at 10, as Lambda caps them.
    let endpoint =
        Endpoint::with_responder(errors_on("pay-0", 1), &broker.bootstrap, "ten", &partitions)
            .await;
    let mut config = base_config(&broker, &endpoint, "ten", "pay");
    config.batch_size = 3;
    config.on_failure = Some("kafka://pay-dlq".into());
    let mut trigger = Trigger::new(config).unwrap();
    let step = trigger.step().await.unwrap();
    assert_eq!((step.attempts, step.to_destination), (11, 3));
    let dlq = read_json(&broker.bootstrap, "pay-dlq", 6).await;
    assert!(dlq[3..]
        .iter()
        .all(|m| m.value["requestContext"]["approximateInvokeCount"] == 11));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_batch_on_error_isolates_the_poison_record() {
    let broker = Tansu::start();
    broker.create_topic("bis", 1).await;
    broker.create_topic("bis-dlq", 1).await;
    let produced = produce(&broker.bootstrap, values(4, "bis", 0)).await;
    let endpoint = Endpoint::with_responder(
        errors_on("bis-0", 2),
        &broker.bootstrap,
        "bis",
        &[("bis", 0)],
    )
    .await;
    let mut config = base_config(&broker, &endpoint, "bis", "bis");
    config.batch_size = 4;
    config.bisect_batch_on_function_error = true;
    config.retry.max_retries = Some(1);
    config.on_failure = Some("kafka://bis-dlq".into());
    let mut trigger = Trigger::new(config).unwrap();
    let steps = run_until(&mut trigger, 4).await;
    assert_eq!(steps[0].to_destination, 1);

    let calls = endpoint.calls();
    let sequence: Vec<Vec<i64>> = calls.iter().map(offsets).collect();
    assert_eq!(
        sequence,
        vec![
            vec![0, 1, 2, 3],
            vec![0, 1],
            vec![2, 3],
            vec![2],
            vec![2],
            vec![3]
        ],
        "halves until the poison record is alone; splits cost no retry, the lone record gets its one retry"
    );
    assert_committed_up_to_first_record(&calls);
    assert_eq!(endpoint.committed_now().await, committed(&[("bis", 0, 4)]));

    let dlq = read_json(&broker.bootstrap, "bis-dlq", 1).await;
    assert_eq!(dlq[0].key, produced[2].key);
    assert_eq!(dlq[0].value["requestContext"]["approximateInvokeCount"], 4);
    assert_eq!(
        dlq[0].value["payload"]["records"]["bis-0"],
        json!([expected_record(&produced[2])])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_older_than_the_maximum_age_skip_the_function() {
    let broker = Tansu::start();
    broker.create_topic("age", 1).await;
    broker.create_topic("age-dlq", 1).await;
    let now = chrono::Utc::now().timestamp_millis();
    let two_hours = 2 * 3600 * 1000;
    let produced = produce(
        &broker.bootstrap,
        vec![
            ToProduce::new("age", 0, Some(b"old-0"), Some(b"a")).at(now - two_hours),
            ToProduce::new("age", 0, Some(b"new-1"), Some(b"b")).at(now),
            ToProduce::new("age", 0, Some(b"old-2"), Some(b"c")).at(now - two_hours),
            ToProduce::new("age", 0, Some(b"new-3"), Some(b"d")).at(now),
        ],
    )
    .await;
    let endpoint = Endpoint::with_responder(
        Arc::new(|_, _| Reply::Success("{}".into())),
        &broker.bootstrap,
        "age",
        &[("age", 0)],
    )
    .await;
    let mut config = base_config(&broker, &endpoint, "age", "age");
    config.batch_size = 4;
    config.max_record_age = Some(Duration::from_secs(3600));
    config.on_failure = Some("kafka://age-dlq".into());
    let mut trigger = Trigger::new(config).unwrap();
    let step = run_until(&mut trigger, 4).await.remove(0);
    assert_eq!((step.attempts, step.to_destination), (1, 2));

    let calls = endpoint.calls();
    assert_eq!(
        offsets(&calls[0]),
        vec![1, 3],
        "only the young records reach the function"
    );
    assert_committed_up_to_first_record(&calls);
    assert_eq!(endpoint.committed_now().await, committed(&[("age", 0, 4)]));

    let dlq = read_json(&broker.bootstrap, "age-dlq", 2).await;
    for (message, original) in dlq.iter().zip([&produced[0], &produced[2]]) {
        assert_eq!(message.key, original.key);
        assert_eq!(
            message.value["requestContext"]["condition"],
            "RecordAgeExceeded"
        );
        assert_eq!(message.value["requestContext"]["approximateInvokeCount"], 0);
        assert_eq!(message.value["responseContext"], Value::Null);
        assert_eq!(
            message.value["payload"]["records"]["age-0"],
            json!([expected_record(original)])
        );
    }
}
