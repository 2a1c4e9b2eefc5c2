//! Kafka record -> MaxCompute row, for each format and mode. One file per format, chosen in
//! `Shape::of`; `whole` is what TEXT, BINARY and JSON share, `types` the shared text-to-value
//! table, `nested` JSON values and nested types, `layout` the start-up schema check.
//!
//! Every row starts all-NULL, so a column a record does not set is NULL and never a previous
//! row's value (the connector's reused-record bug).

mod binary;
mod csv;
mod error;
mod flatten;
mod json;
mod layout;
mod nested;
mod spread;
mod text;
pub mod types;
mod whole;

pub use error::{ConvertError, Reason};
pub use layout::SchemaMismatch;

use layout::{Fills, Layout};
use spread::{Spread, SpreadFill};
use whole::WholePart;

use maxcompute_tunnel::{TableSchema, Value};

use crate::config::{Format, Mode, SinkConfig};
use crate::event::{KafkaRecord, Part};
use crate::zone::Zone;

/// Converts records into rows in table column order. Built once per process.
#[derive(Debug, Clone)]
pub struct Converter {
    shape: Shape,
    layout: Layout,
    zone: Zone,
}

/// How the format fills a row.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Each part the mode writes goes whole into its own column.
    Whole(&'static WholePart),
    /// The text of one part is spread over the user columns; `fill` may be given a null part.
    Spread { part: Part, fill: SpreadFill },
}

impl Shape {
    /// The one place formats are chosen.
    fn of(format: Format, mode: Mode) -> Shape {
        let part = match mode {
            Mode::Key => Part::Key,
            // Config validation rejects DEFAULT for the formats that read one part.
            Mode::Value | Mode::Default => Part::Value,
        };
        match format {
            Format::Text => Shape::Whole(&text::TEXT),
            Format::Binary => Shape::Whole(&binary::BINARY),
            Format::Json => Shape::Whole(&json::JSON),
            Format::Csv => Shape::Spread {
                part,
                fill: csv::fill,
            },
            Format::Flatten => Shape::Spread {
                part,
                fill: flatten::fill,
            },
        }
    }

    fn fills(self) -> Fills {
        match self {
            Shape::Whole(format) => Fills::Parts(format.column_types),
            Shape::Spread { .. } => Fills::UserColumns,
        }
    }
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
        let shape = Shape::of(format, mode);
        let layout = Layout::new(table, schema, format, mode, shape.fills(), partition_column)?;
        Ok(Converter {
            shape,
            layout,
            zone,
        })
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
        match self.shape {
            Shape::Whole(format) => {
                for (part, target) in [(Part::Key, &layout.key), (Part::Value, &layout.value)] {
                    if let Some(target) = target {
                        format.fill(record, part, target, row)?;
                    }
                }
                Ok(())
            }
            Shape::Spread { part, fill } => {
                let bytes = record.part_bytes(part)?;
                let text = bytes.as_deref().map(String::from_utf8_lossy);
                let into = Spread {
                    part,
                    columns: &layout.user_columns,
                    zone: &self.zone,
                };
                fill(text.as_deref(), &into, row)
            }
        }
    }
}

#[cfg(test)]
mod tests;
