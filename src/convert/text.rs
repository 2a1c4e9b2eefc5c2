//! TEXT format: key and/or value as UTF-8 text into STRING columns. Bytes that are not UTF-8
//! become U+FFFD, as Kafka's StringConverter does.

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
        row[target.index] = Value::String(String::from_utf8_lossy(&bytes).into_owned());
    }
    Ok(())
}
