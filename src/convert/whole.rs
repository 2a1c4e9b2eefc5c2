//! The formats that write a whole key or value into one column (TEXT, BINARY, JSON): the
//! steps they share, around the one step that differs, turning the bytes into the value.

use maxcompute_tunnel::{TypeInfo, Value};

use super::error::Reason;
use super::layout::Target;
use super::types::{self, TypeError};
use crate::event::{KafkaRecord, Part};

/// One whole-part format: the column types it writes, and how a part's bytes become a value.
#[derive(Debug)]
pub struct WholePart {
    /// The types the `key` / `value` column may have, the preferred one first.
    pub column_types: &'static [TypeInfo],
    /// The part's bytes as the value of `target`.
    pub value: fn(bytes: Vec<u8>, part: Part, target: &Target) -> Result<Value, Reason>,
}

impl WholePart {
    /// Fills `target` from the record's `part`; a null part leaves the column NULL. A part over
    /// MaxCompute's 8 MiB field limit is this column's error, reported before the format copies
    /// or parses it.
    pub fn fill(
        &self,
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
        row[target.index] = (self.value)(bytes, part, target)?;
        Ok(())
    }
}
