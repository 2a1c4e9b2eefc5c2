//! Records -> rows -> tunnel blocks, one group per partition value in order of first
//! appearance. Within a group rows keep event order, so each Kafka partition's records stay in
//! offset order; each block keeps the records its rows came from.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use maxcompute_tunnel::codec::RecordEncoder;
use maxcompute_tunnel::{PartitionSpec, TableSchema};

use crate::convert::Converter;
use crate::event::{KafkaEvent, KafkaRecord};
use crate::failed::{FailedRecord, Failure};
use crate::partition::Partitioner;

/// A finished record stream, ready to upload as one block or pack.
#[derive(Debug)]
pub struct Block<'e> {
    pub bytes: Vec<u8>,
    /// The record of each row, in row order.
    pub records: Vec<&'e KafkaRecord>,
}

/// Everything one partition value receives in this invocation.
#[derive(Debug)]
pub struct PartitionBatch<'e> {
    pub value: String,
    pub spec: PartitionSpec,
    pub blocks: Vec<Block<'e>>,
}

impl PartitionBatch<'_> {
    pub fn rows(&self) -> u64 {
        self.blocks.iter().map(|b| b.records.len() as u64).sum()
    }
}

/// The invocation's rows, encoded, and the records that could not become rows.
#[derive(Debug)]
pub struct Prepared<'e> {
    pub partitions: Vec<PartitionBatch<'e>>,
    pub failed: Vec<FailedRecord<'e>>,
}

/// Turns an event's records into encoded blocks per partition value. Built once per process.
#[derive(Debug)]
pub struct Encoder {
    converter: Converter,
    partitioner: Partitioner,
    /// The table's schema, as loaded at start-up.
    schema: Arc<TableSchema>,
    /// A block is sealed as soon as its encoded size reaches this (`buffer_size_kb`).
    block_bytes: usize,
}

struct Group<'e> {
    value: String,
    spec: PartitionSpec,
    encoder: RecordEncoder,
    records: Vec<&'e KafkaRecord>,
    blocks: Vec<Block<'e>>,
}

impl Group<'_> {
    fn seal(&mut self) {
        if !self.encoder.is_empty() {
            self.blocks.push(Block {
                bytes: self.encoder.finish(),
                records: std::mem::take(&mut self.records),
            });
        }
    }
}

impl Encoder {
    /// `converter` was checked against `schema`.
    pub fn new(
        converter: Converter,
        partitioner: Partitioner,
        schema: Arc<TableSchema>,
        block_bytes: usize,
    ) -> Self {
        Encoder {
            converter,
            partitioner,
            schema,
            block_bytes,
        }
    }

    /// Converts and encodes every record of `event`; `started` is the processing-time
    /// partition clock.
    pub fn prepare<'e>(&self, event: &'e KafkaEvent, started: DateTime<Utc>) -> Prepared<'e> {
        let mut groups: Vec<Group<'e>> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut failed = Vec::new();

        for record in event.records() {
            let row = match self.converter.convert(record) {
                Ok(row) => row,
                Err(e) => {
                    failed.push(FailedRecord::new(record, Failure::Convert(e)));
                    continue;
                }
            };
            let value = self.partitioner.value_for(record, started);
            let slot = match index.get(&value) {
                Some(&i) => i,
                None => {
                    index.insert(value.clone(), groups.len());
                    groups.push(Group {
                        spec: self.partitioner.spec(&value),
                        value,
                        encoder: RecordEncoder::new(Arc::clone(&self.schema)),
                        records: Vec::new(),
                        blocks: Vec::new(),
                    });
                    groups.len() - 1
                }
            };
            let group = &mut groups[slot];
            // The encoder checks limits the converter cannot know alone (e.g. the session's
            // field size); a refused row is left out of the block and handled like a
            // conversion error.
            if let Err(e) = group.encoder.append(&row) {
                failed.push(FailedRecord::new(record, Failure::Encode(e)));
                continue;
            }
            group.records.push(record);
            if group.encoder.encoded_len() >= self.block_bytes {
                group.seal();
            }
        }

        let partitions = groups
            .into_iter()
            .map(|mut g| {
                g.seal();
                PartitionBatch {
                    value: g.value,
                    spec: g.spec,
                    blocks: g.blocks,
                }
            })
            .filter(|p| !p.blocks.is_empty())
            .collect();
        Prepared { partitions, failed }
    }
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
        })
        .unwrap();
        let started = DateTime::parse_from_rfc3339("2024-01-01T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Encoder::new(converter, partitioner, schema, block_bytes).prepare(event, started)
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
        assert_eq!(prepared.failed[0].step(), "encode");
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
