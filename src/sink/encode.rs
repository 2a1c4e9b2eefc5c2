//! Rows -> tunnel blocks, one group per partition value in order of first appearance. Within a
//! group rows keep event order, so each Kafka partition's records stay in offset order.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use maxcompute_tunnel::{RecordEncoder, TableSchema};

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
