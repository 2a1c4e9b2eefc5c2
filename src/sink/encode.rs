//! Rows -> tunnel blocks, one group per partition value in order of first appearance. Within a
//! group rows keep event order, so each Kafka partition's records stay in offset order.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use maxcompute_tunnel::codec::RecordEncoder;
use maxcompute_tunnel::TableSchema;

use super::error_sink::FailedRecord;
use crate::convert::Converter;
use crate::event::KafkaEvent;
use crate::partition::Partitioner;

/// A finished record stream, ready to upload as one block or pack.
#[derive(Debug)]
pub struct Block {
    pub bytes: Vec<u8>,
    pub records: u64,
}

/// Everything one partition value receives in this invocation.
#[derive(Debug)]
pub struct PartitionBatch {
    pub value: String,
    pub blocks: Vec<Block>,
}

impl PartitionBatch {
    pub fn rows(&self) -> u64 {
        self.blocks.iter().map(|b| b.records).sum()
    }
}

/// The invocation's rows, encoded, and the records that could not become rows.
#[derive(Debug)]
pub struct Prepared<'e> {
    pub partitions: Vec<PartitionBatch>,
    pub failed: Vec<FailedRecord<'e>>,
}

struct Group {
    value: String,
    encoder: RecordEncoder,
    blocks: Vec<Block>,
}

impl Group {
    fn seal(&mut self) {
        if !self.encoder.is_empty() {
            let records = self.encoder.record_count();
            self.blocks.push(Block {
                bytes: self.encoder.finish(),
                records,
            });
        }
    }
}

/// Converts and encodes every record of `event`. `block_bytes` bounds a block's encoded size
/// (`buffer_size_kb`); a block is sealed as soon as it reaches it.
pub fn prepare<'e>(
    event: &'e KafkaEvent,
    converter: &Converter,
    partitioner: &Partitioner,
    schema: &Arc<TableSchema>,
    block_bytes: usize,
    started: DateTime<Utc>,
) -> Prepared<'e> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut failed = Vec::new();

    for record in event.records() {
        let row = match converter.convert(record) {
            Ok(row) => row,
            Err(e) => {
                failed.push(FailedRecord {
                    record,
                    stage: "convert",
                    kind: e.kind(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        let value = partitioner.value_for(record, started);
        let slot = match index.get(&value) {
            Some(&i) => i,
            None => {
                index.insert(value.clone(), groups.len());
                groups.push(Group {
                    value,
                    encoder: RecordEncoder::new(Arc::clone(schema)),
                    blocks: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let group = &mut groups[slot];
        // The encoder checks limits the converter cannot know alone (e.g. the session's field
        // size); a refused row is left out of the block and handled like a conversion error.
        if let Err(e) = group.encoder.append(&row) {
            failed.push(FailedRecord {
                record,
                stage: "encode",
                kind: "EncodeRow",
                message: format!("cannot encode the record at {}: {e}", record.id()),
            });
            continue;
        }
        if group.encoder.encoded_len() >= block_bytes {
            group.seal();
        }
    }

    let partitions = groups
        .into_iter()
        .map(|mut g| {
            g.seal();
            PartitionBatch {
                value: g.value,
                blocks: g.blocks,
            }
        })
        .filter(|p| !p.blocks.is_empty())
        .collect();
    Prepared { partitions, failed }
}

#[cfg(test)]
mod tests {
    use maxcompute_tunnel::codec::decode_stream;
    use maxcompute_tunnel::{Column, TypeInfo, Value};

    use super::*;
    use crate::config::{Format, Mode, PartitionConfig, TimeSource, WindowType};
    use crate::zone::Zone;

    fn table(value: TypeInfo) -> Arc<TableSchema> {
        Arc::new(TableSchema::new(
            vec![
                Column::new("topic", TypeInfo::String),
                Column::new("partition", TypeInfo::Bigint),
                Column::new("offset", TypeInfo::Bigint),
                Column::new("value", value),
            ],
            vec![Column::new("pt", TypeInfo::String)],
        ))
    }

    /// The encoder's schema: its VARCHAR(3) stands for a limit only the encoder enforces
    /// (such as the session's MaxFieldSize); the converter sees a STRING column.
    fn schema() -> Arc<TableSchema> {
        table(TypeInfo::Varchar(3))
    }

    /// Records at 00:00:30, 01:00:30, 00:00:40 UTC with values "a", "b", "c", and one value
    /// too long for VARCHAR(3) that only the encoder can refuse.
    fn event() -> KafkaEvent {
        let rec = |offset: i64, ts: i64, value: &str| {
            serde_json::json!({"topic":"t","partition":0,"offset":offset,"timestamp":ts,
                "value": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, value)})
        };
        serde_json::from_value(serde_json::json!({
            "eventSource": "aws:kafka",
            "records": {"t-0": [
                rec(1, 30_000, "a"), rec(2, 3_630_000, "b"), rec(3, 40_000, "c"), rec(4, 50_000, "long")
            ]}
        }))
        .unwrap()
    }

    fn parts(source: TimeSource, block_bytes: usize) -> Prepared<'static> {
        let event: &'static KafkaEvent = Box::leak(Box::new(event()));
        let schema = schema();
        let converter = Converter::with(
            "t",
            &table(TypeInfo::String),
            Format::Text,
            Mode::Value,
            "pt",
            Zone::Named(chrono_tz::UTC),
        )
        .unwrap();
        let partitioner = Partitioner::new(&PartitionConfig {
            column: "pt".into(),
            window: WindowType::Hour,
            zone: Zone::Named(chrono_tz::UTC),
            new_format: true,
            time_source: source,
        });
        let started = DateTime::parse_from_rfc3339("2024-01-01T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        prepare(
            event,
            &converter,
            &partitioner,
            &schema,
            block_bytes,
            started,
        )
    }

    fn values(schema: &TableSchema, batch: &PartitionBatch) -> Vec<Value> {
        batch
            .blocks
            .iter()
            .flat_map(|b| decode_stream(schema, &b.bytes).unwrap())
            .map(|row| row[3].clone())
            .collect()
    }

    #[test]
    fn record_time_groups_by_window_in_first_appearance_order() {
        let prepared = parts(TimeSource::Record, 1 << 20);
        let schema = schema();
        let summary: Vec<(&str, Vec<Value>)> = prepared
            .partitions
            .iter()
            .map(|p| (p.value.as_str(), values(&schema, p)))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("1970-01-01 00", vec!["a".into(), "c".into()]),
                ("1970-01-01 01", vec!["b".into()]),
            ]
        );
        assert_eq!(prepared.failed.len(), 1);
        assert_eq!(prepared.failed[0].record.offset, 4);
        assert_eq!(prepared.failed[0].stage, "encode");
    }

    #[test]
    fn processing_time_is_one_partition_and_small_buffers_split_blocks() {
        let prepared = parts(TimeSource::Processing, 1);
        assert_eq!(prepared.partitions.len(), 1);
        let batch = &prepared.partitions[0];
        assert_eq!(batch.value, "2024-01-01 05");
        assert_eq!(
            batch.blocks.len(),
            3,
            "every row reaches the 1-byte block limit"
        );
        assert_eq!(batch.rows(), 3);
        assert_eq!(
            values(&schema(), batch),
            vec![Value::from("a"), Value::from("b"), Value::from("c")]
        );
    }
}
