//! Kafka record -> MaxCompute row, for each format and mode. One file per format; `types` is
//! the shared text-to-value table, `layout` the start-up schema check.
//!
//! Every row starts all-NULL, so a column a record does not set is NULL and never a previous
//! row's value (the connector's reused-record bug).

mod binary;
mod csv;
mod error;
mod flatten;
mod json;
pub mod layout;
mod nested;
mod text;
pub mod types;

pub use error::{ConvertError, Reason};
pub use layout::{Layout, SchemaMismatch};

use layout::Target;
use types::TypeError;

use maxcompute_tunnel::{TableSchema, Value};

use crate::config::{Format, Mode, SinkConfig};
use crate::event::{KafkaRecord, Part};
use crate::zone::Zone;

/// Converts records into rows in table column order. Built once per process.
#[derive(Debug, Clone)]
pub struct Converter {
    format: Format,
    mode: Mode,
    layout: Layout,
    zone: Zone,
}

impl Converter {
    /// Checks the table against the format and mode; a mismatch is a start-up error.
    pub fn new(config: &SinkConfig, schema: &TableSchema) -> Result<Converter, SchemaMismatch> {
        Self::with(
            &config.target.table,
            schema,
            config.format,
            config.mode,
            &config.partition.column,
            config.partition.zone,
        )
    }

    pub fn with(
        table: &str,
        schema: &TableSchema,
        format: Format,
        mode: Mode,
        partition_column: &str,
        zone: Zone,
    ) -> Result<Converter, SchemaMismatch> {
        let layout = Layout::new(table, schema, format, mode, partition_column)?;
        Ok(Converter {
            format,
            mode,
            layout,
            zone,
        })
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn convert(&self, record: &KafkaRecord) -> Result<Vec<Value>, ConvertError> {
        let mut row = vec![Value::Null; self.layout.width];
        row[self.layout.topic] = Value::String(record.topic.clone());
        row[self.layout.partition] = Value::Int(record.partition);
        row[self.layout.offset] = Value::Int(record.offset);
        if let Some(i) = self.layout.insert_time {
            row[i] = record.timestamp.map_or(Value::Null, Value::Int);
        }
        self.fill(record, &mut row).map_err(|reason| ConvertError {
            id: record.id(),
            reason,
        })?;
        Ok(row)
    }

    fn fill(&self, record: &KafkaRecord, row: &mut [Value]) -> Result<(), Reason> {
        let layout = &self.layout;
        match self.format {
            Format::Text | Format::Binary | Format::Json => {
                let parts = [(Part::Key, &layout.key), (Part::Value, &layout.value)];
                for (part, target) in parts {
                    let Some(target) = target else { continue };
                    match self.format {
                        Format::Text => text::fill(record, part, target, row)?,
                        Format::Binary => binary::fill(record, part, target, row)?,
                        _ => json::fill(record, part, target, row)?,
                    }
                }
                Ok(())
            }
            Format::Csv | Format::Flatten => {
                let part = match self.mode {
                    Mode::Key => Part::Key,
                    // Config validation rejects DEFAULT for these formats.
                    Mode::Value | Mode::Default => Part::Value,
                };
                let bytes = record.part_bytes(part)?;
                match (self.format, bytes) {
                    (Format::Csv, None) => Err(Reason::Null {
                        part,
                        format: "CSV",
                    }),
                    (Format::Csv, Some(b)) => {
                        csv::fill(&String::from_utf8_lossy(&b), layout, &self.zone, row)
                    }
                    // A null message sets nothing, as in the connector: the row keeps only
                    // the Kafka coordinates.
                    (_, None) => Ok(()),
                    (_, Some(b)) => {
                        flatten::fill(&String::from_utf8_lossy(&b), part, layout, &self.zone, row)
                    }
                }
            }
        }
    }
}

/// The key or value bytes for a column that takes the whole part (TEXT, BINARY, JSON), `None`
/// when the part is null. A part over MaxCompute's 8 MiB field limit is this column's error,
/// reported before any format copies or parses it.
fn part_within_field_limit(
    record: &KafkaRecord,
    part: Part,
    target: &Target,
) -> Result<Option<Vec<u8>>, Reason> {
    let Some(bytes) = record.part_bytes(part)? else {
        return Ok(None);
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
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests;
