//! The record layout of upsert PUT bodies: the session's data columns followed by five hidden
//! columns that say what to do with the row.
//!
//! | field | column | type | an upsert writes |
//! |---|---|---|---|
//! | n+1 | `__version` | BIGINT | NULL (the service versions rows itself) |
//! | n+2 | `__app_version` | BIGINT | NULL |
//! | n+3 | `__operation` | TINYINT | `'U'` (85); a delete is `'D'` (68) |
//! | n+4 | `__key_cols` | ARRAY<BIGINT> | NULL |
//! | n+5 | `__value_cols` | ARRAY<BIGINT> | `[]`: the whole row (a partial update lists the updated columns' `column_id`s) |
//!
//! where n is the number of data columns (partition columns are never written). Each body is
//! an ordinary record block of this schema, so [`RecordEncoder`] writes it.
//!
//! Sources: `aliyun/aliyun-odps-java-sdk`
//! `odps-sdk/odps-sdk-core/src/main/java/com/aliyun/odps/tunnel/impl/UpsertSessionImpl.java`
//! (`loadFromJson` appends the five columns), `UpsertStreamImpl.java` (`write` sets the
//! operation and the value columns) and `UpsertRecord.java`; `aliyun/aliyun-odps-python-sdk`
//! `odps/tunnel/tabletunnel.py` (`TableUpsertSession._patch_schema`) and
//! `odps/tunnel/io/writer.py` (`Upsert._write`).

use std::sync::Arc;

use crate::codec::{EncodeError, RecordEncoder};
use crate::schema::{Column, TableSchema};
use crate::types::TypeInfo;
use crate::value::Value;

/// Name of the hidden BIGINT column no SDK sets.
pub const VERSION_COLUMN: &str = "__version";
/// Name of the hidden BIGINT column no SDK sets.
pub const APP_VERSION_COLUMN: &str = "__app_version";
/// Name of the hidden TINYINT column holding the [`Operation`] code.
pub const OPERATION_COLUMN: &str = "__operation";
/// Name of the hidden ARRAY<BIGINT> column no SDK sets.
pub const KEY_COLS_COLUMN: &str = "__key_cols";
/// Name of the hidden ARRAY<BIGINT> column listing the columns a partial update sets.
pub const VALUE_COLS_COLUMN: &str = "__value_cols";

/// The hidden columns in the order they follow the data columns.
pub const HIDDEN_COLUMNS: [&str; 5] = [
    VERSION_COLUMN,
    APP_VERSION_COLUMN,
    OPERATION_COLUMN,
    KEY_COLS_COLUMN,
    VALUE_COLS_COLUMN,
];

/// What an upsert record asks of its key, as the `__operation` column codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Insert the row, or replace the row with its key: `'U'`.
    Upsert,
    /// Delete the row with its key: `'D'`.
    Delete,
}

impl Operation {
    /// The `__operation` value: the ASCII code of `U` or `D`.
    pub fn code(self) -> i64 {
        match self {
            Operation::Upsert => i64::from(b'U'),
            Operation::Delete => i64::from(b'D'),
        }
    }

    /// The operation an `__operation` value codes, if any.
    pub fn from_code(code: i64) -> Option<Operation> {
        match u8::try_from(code) {
            Ok(b'U') => Some(Operation::Upsert),
            Ok(b'D') => Some(Operation::Delete),
            _ => None,
        }
    }
}

/// The write schema of one upsert session and the rows it takes.
///
/// ```
/// use maxcompute_tunnel::codec::decode_stream;
/// use maxcompute_tunnel::upsert::UpsertLayout;
/// use maxcompute_tunnel::{Column, TableSchema, TypeInfo, Value};
///
/// let data = TableSchema::new(
///     vec![Column::new("topic", TypeInfo::String), Column::new("offset", TypeInfo::Bigint)],
///     vec![],
/// );
/// let layout = UpsertLayout::new(&data)?;
/// let mut encoder = layout.encoder();
/// layout.append_upsert(&mut encoder, vec!["orders".into(), Value::Int(7)])?;
/// let body = encoder.finish(); // one PUT body for one bucket
///
/// let rows = decode_stream(layout.write_schema(), &body)?;
/// assert_eq!(rows[0][..2], [Value::from("orders"), Value::Int(7)]);
/// assert_eq!(rows[0][4], Value::Int(85)); // __operation = 'U'
/// assert_eq!(rows[0][6], Value::Array(vec![])); // __value_cols = []
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertLayout {
    data_columns: usize,
    write_schema: Arc<TableSchema>,
}

impl UpsertLayout {
    /// The layout for a session whose `schema` field is `data` (data columns and partition
    /// keys). Refuses a data column that takes the name of a hidden column.
    pub fn new(data: &TableSchema) -> Result<UpsertLayout, LayoutError> {
        if let Some(column) = data.columns.iter().find(|c| {
            HIDDEN_COLUMNS
                .iter()
                .any(|h| c.name.eq_ignore_ascii_case(h))
        }) {
            return Err(LayoutError::ReservedColumn {
                column: column.name.clone(),
            });
        }
        let bigint_array = || TypeInfo::Array(Box::new(TypeInfo::Bigint));
        let hidden = [
            Column::new(VERSION_COLUMN, TypeInfo::Bigint),
            Column::new(APP_VERSION_COLUMN, TypeInfo::Bigint),
            Column::new(OPERATION_COLUMN, TypeInfo::Tinyint),
            Column::new(KEY_COLS_COLUMN, bigint_array()),
            Column::new(VALUE_COLS_COLUMN, bigint_array()),
        ];
        let columns = data.columns.iter().cloned().chain(hidden).collect();
        Ok(UpsertLayout {
            data_columns: data.columns.len(),
            write_schema: Arc::new(TableSchema::new(columns, data.partition_keys.clone())),
        })
    }

    /// The schema of the records in PUT bodies: the data columns, then the hidden columns.
    /// Its partition keys are the session's; like every record block, bodies never hold them.
    pub fn write_schema(&self) -> &Arc<TableSchema> {
        &self.write_schema
    }

    /// The number of data columns, n; the hidden columns are fields n+1 to n+5.
    pub fn data_columns(&self) -> usize {
        self.data_columns
    }

    /// A record encoder for this layout's PUT bodies.
    pub fn encoder(&self) -> RecordEncoder {
        RecordEncoder::new(self.write_schema.clone())
    }

    /// Appends an upsert of `row` (data-column values in schema order; missing trailing
    /// values are NULL) as one record of `encoder`, replacing the whole row with its key.
    ///
    /// `encoder` must encode this layout's write schema. On error nothing is appended.
    pub fn append_upsert(
        &self,
        encoder: &mut RecordEncoder,
        row: Vec<Value>,
    ) -> Result<(), LayoutError> {
        self.append(encoder, Operation::Upsert, row)
    }

    /// Appends `row` with `operation`, for whole-row operations (`__value_cols` empty).
    pub fn append(
        &self,
        encoder: &mut RecordEncoder,
        operation: Operation,
        mut row: Vec<Value>,
    ) -> Result<(), LayoutError> {
        let schema = encoder.schema();
        if !Arc::ptr_eq(schema, &self.write_schema) && **schema != *self.write_schema {
            return Err(LayoutError::ForeignEncoder);
        }
        if row.len() > self.data_columns {
            return Err(LayoutError::TooManyValues {
                got: row.len(),
                columns: self.data_columns,
            });
        }
        row.resize(self.data_columns, Value::Null);
        row.extend([
            Value::Null,
            Value::Null,
            Value::Int(operation.code()),
            Value::Null,
            Value::Array(Vec::new()),
        ]);
        encoder.append(&row)?;
        Ok(())
    }
}

/// A row or schema that does not fit the upsert record layout.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    #[error("data column `{column}` has the name of a hidden upsert column")]
    ReservedColumn { column: String },

    #[error("the record encoder was not built for this upsert session's write schema")]
    ForeignEncoder,

    #[error("row has {got} values but the session has {columns} data columns")]
    TooManyValues { got: usize, columns: usize },

    #[error(transparent)]
    Encode(#[from] EncodeError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_codes_round_trip() {
        for op in [Operation::Upsert, Operation::Delete] {
            assert_eq!(Operation::from_code(op.code()), Some(op));
        }
        assert_eq!(Operation::Upsert.code(), 85);
        assert_eq!(Operation::Delete.code(), 68);
        for code in [0, 84, 86, 85 + 256, -171, i64::MAX] {
            assert_eq!(Operation::from_code(code), None, "{code}");
        }
    }
}
