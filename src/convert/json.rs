//! JSON format: the key or value JSON text into a JSON (or STRING) column, checked to be JSON.

use maxcompute_tunnel::{TypeInfo, Value};

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
    let Some(bytes) = part_within_field_limit(record, part, target)? else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
        return Err(Reason::InvalidJson {
            part,
            detail: e.to_string(),
        });
    }
    row[target.index] = if target.type_info == TypeInfo::Json {
        Value::Json(text)
    } else {
        Value::String(text)
    };
    Ok(())
}
