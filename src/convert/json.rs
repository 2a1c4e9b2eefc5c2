//! JSON format: the key or value JSON text into a JSON (or STRING) column, checked to be JSON.

use maxcompute_tunnel::{TypeInfo, Value};

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
    let Some(bytes) = record.part_bytes(part)? else {
        return Ok(());
    };
    if bytes.len() > types::MAX_FIELD_BYTES {
        return Err(Reason::column(
            &target.name,
            TypeError(format!(
                "the {part} is {} bytes, more than MaxCompute's 8 MiB field limit",
                bytes.len()
            )),
        ));
    }
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
