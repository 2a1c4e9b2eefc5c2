//! BINARY format: key and/or value bytes into BINARY columns; a null key or value is NULL
//! (the connector crashes the task on it).

use maxcompute_tunnel::Value;

use super::error::Reason;
use super::layout::Target;
use super::part_within_field_limit;
use crate::event::{KafkaRecord, Part};

pub fn fill(
    record: &KafkaRecord,
    part: Part,
    target: &Target,
    row: &mut [Value],
) -> Result<(), Reason> {
    if let Some(bytes) = part_within_field_limit(record, part, target)? {
        row[target.index] = Value::Binary(bytes);
    }
    Ok(())
}
