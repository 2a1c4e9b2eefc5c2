//! BINARY format: key and/or value bytes into BINARY columns; a null key or value is NULL
//! (the connector crashes the task on it).

use maxcompute_tunnel::Value;

use super::error::Reason;
use super::layout::Target;
use super::types::{self, TypeError};
use crate::event::{KafkaRecord, Part};

pub fn fill(
    record: &KafkaRecord,
    part: Part,
    target: &Target,
    row: &mut [Value],
) -> Result<(), Reason> {
    if let Some(bytes) = record.part_bytes(part)? {
        if bytes.len() > types::MAX_FIELD_BYTES {
            return Err(Reason::column(
                &target.name,
                TypeError(format!(
                    "the {part} is {} bytes, more than MaxCompute's 8 MiB field limit",
                    bytes.len()
                )),
            ));
        }
        row[target.index] = Value::Binary(bytes);
    }
    Ok(())
}
