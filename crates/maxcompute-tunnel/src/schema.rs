//! Table schemas as the tunnel describes them in session JSON (`Schema` of an upload session,
//! `schema` of a stream session) and as the REST API embeds them in table metadata.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::types::{TypeInfo, TypeParseError};

/// One column: data column or partition key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_info: TypeInfo,
    pub nullable: bool,
    pub comment: String,
}

impl Column {
    pub fn new(name: impl Into<String>, type_info: TypeInfo) -> Self {
        Column {
            name: name.into(),
            type_info,
            nullable: true,
            comment: String::new(),
        }
    }
}

/// A table's data columns (field numbers 1..=n in this order) and its partition keys
/// (outermost first), which are never written into records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableSchema {
    pub columns: Vec<Column>,
    pub partition_keys: Vec<Column>,
}

/// A session schema document that does not describe a table.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("invalid schema JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("column `{column}`: {source}")]
    Type {
        column: String,
        #[source]
        source: TypeParseError,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct ColumnJson {
    name: String,
    #[serde(rename = "type")]
    type_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    comment: String,
    #[serde(default = "yes", alias = "isNullable")]
    nullable: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, Deserialize)]
struct SchemaJson {
    #[serde(default)]
    columns: Vec<ColumnJson>,
    #[serde(default, rename = "partitionKeys")]
    partition_keys: Vec<ColumnJson>,
}

impl TableSchema {
    pub fn new(columns: Vec<Column>, partition_keys: Vec<Column>) -> Self {
        TableSchema {
            columns,
            partition_keys,
        }
    }

    /// Parses the `Schema` object of tunnel session JSON or the JSON inside the REST table XML:
    /// `{"columns":[{"name":..,"type":..},..],"partitionKeys":[..]}`.
    pub fn from_json(value: &serde_json::Value) -> Result<TableSchema, SchemaError> {
        let parsed: SchemaJson = serde_json::from_value(value.clone())?;
        let convert = |cols: Vec<ColumnJson>| -> Result<Vec<Column>, SchemaError> {
            cols.into_iter()
                .map(|c| {
                    let type_info =
                        TypeInfo::parse(&c.type_name).map_err(|source| SchemaError::Type {
                            column: c.name.clone(),
                            source,
                        })?;
                    Ok(Column {
                        name: c.name,
                        type_info,
                        nullable: c.nullable,
                        comment: c.comment,
                    })
                })
                .collect()
        };
        Ok(TableSchema {
            columns: convert(parsed.columns)?,
            partition_keys: convert(parsed.partition_keys)?,
        })
    }

    /// The session-JSON form of this schema (what `from_json` reads).
    pub fn to_json(&self) -> serde_json::Value {
        let convert = |cols: &[Column]| -> Vec<serde_json::Value> {
            cols.iter()
                .enumerate()
                .map(|(i, c)| {
                    serde_json::json!({
                        "name": c.name,
                        "type": c.type_info.to_string(),
                        "comment": c.comment,
                        "nullable": c.nullable,
                        "column_id": i.to_string(),
                    })
                })
                .collect()
        };
        serde_json::json!({
            "IsVirtualView": false,
            "columns": convert(&self.columns),
            "partitionKeys": convert(&self.partition_keys),
        })
    }

    /// The data column named `name`, compared case-insensitively as MaxCompute does.
    pub fn column(&self, name: &str) -> Option<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name.eq_ignore_ascii_case(name))
    }

    /// The partition key named `name`, compared case-insensitively.
    pub fn partition_key(&self, name: &str) -> Option<&Column> {
        self.partition_keys
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// True when both schemas have the same data columns in the same order: names compared
    /// case-insensitively, as MaxCompute does, and equal types. Rows encoded for one schema
    /// then fit the other, whatever their nullability, comments or partition keys say.
    pub fn same_data_columns(&self, other: &TableSchema) -> bool {
        self.columns.len() == other.columns.len()
            && self
                .columns
                .iter()
                .zip(&other.columns)
                .all(|(a, b)| a.name.eq_ignore_ascii_case(&b.name) && a.type_info == b.type_info)
    }

    /// The data columns as `name type, name type, ...`, for messages.
    pub fn describe_data_columns(&self) -> impl fmt::Display + '_ {
        DataColumns(&self.columns)
    }
}

struct DataColumns<'a>(&'a [Column]);

impl fmt::Display for DataColumns<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {}", c.name, c.type_info)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_session_schema_json() {
        let json = serde_json::json!({
            "IsVirtualView": false,
            "columns": [
                {"name": "topic", "type": "STRING", "comment": "", "nullable": true, "column_id": "1"},
                {"name": "offset", "type": "bigint"},
                {"name": "m", "type": "map<string,decimal(10,2)>", "isNullable": false}
            ],
            "partitionKeys": [{"name": "pt", "type": "string"}]
        });
        let schema = TableSchema::from_json(&json).unwrap();
        assert_eq!(schema.columns.len(), 3);
        assert_eq!(schema.columns[0].type_info, TypeInfo::String);
        assert!(!schema.columns[2].nullable);
        assert_eq!(schema.partition_keys[0].name, "pt");
        assert_eq!(schema.column("OFFSET").unwrap().0, 1);
        assert_eq!(TableSchema::from_json(&schema.to_json()).unwrap(), schema);
    }

    #[test]
    fn same_data_columns_ignores_name_case_nullability_and_partition_keys() {
        let schema = TableSchema::new(
            vec![
                Column::new("topic", TypeInfo::String),
                Column::new("Offset", TypeInfo::Bigint),
            ],
            vec![Column::new("pt", TypeInfo::String)],
        );
        let mut other = schema.clone();
        other.columns[0].name = "TOPIC".into();
        other.columns[1].nullable = false;
        other.partition_keys.clear();
        assert!(schema.same_data_columns(&other));

        let mut retyped = schema.clone();
        retyped.columns[1].type_info = TypeInfo::Int;
        assert!(!schema.same_data_columns(&retyped));
        let mut renamed = schema.clone();
        renamed.columns[1].name = "position".into();
        assert!(!schema.same_data_columns(&renamed));
        let mut wider = schema.clone();
        wider.columns.push(Column::new("extra", TypeInfo::Json));
        assert!(!schema.same_data_columns(&wider));
        assert!(!wider.same_data_columns(&schema));

        assert_eq!(
            wider.describe_data_columns().to_string(),
            "topic string, Offset bigint, extra json"
        );
        assert_eq!(
            TableSchema::default().describe_data_columns().to_string(),
            ""
        );
    }

    #[test]
    fn names_the_column_with_a_bad_type() {
        let json = serde_json::json!({"columns": [{"name": "c", "type": "number"}]});
        let err = TableSchema::from_json(&json).unwrap_err().to_string();
        assert!(err.contains("column `c`"), "{err}");
    }
}
