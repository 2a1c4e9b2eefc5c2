//! The table's columns as the chosen format and mode use them, checked once at start-up: a
//! table that cannot take the records is a start-up error naming the column and the fix, never
//! a failure on every record.

use maxcompute_tunnel::{Column, TableSchema, TypeInfo};

use super::types;
use crate::config::{Format, Mode};

pub const TOPIC: &str = "topic";
pub const PARTITION: &str = "partition";
pub const OFFSET: &str = "offset";
pub const INSERT_TIME: &str = "insert_time";

/// A column a converter fills.
#[derive(Debug, Clone)]
pub struct Target {
    pub index: usize,
    pub name: String,
    pub type_info: TypeInfo,
}

#[derive(Debug, Clone)]
pub struct Layout {
    /// Number of data columns: the row length.
    pub width: usize,
    /// The indexes of the Kafka metadata columns, which every format fills; a table may
    /// leave out `insert_time`.
    pub topic: usize,
    pub partition: usize,
    pub offset: usize,
    pub insert_time: Option<usize>,
    /// The `key` column, when the mode writes the key (TEXT, BINARY, JSON).
    pub key: Option<Target>,
    /// The `value` column, when the mode writes the value (TEXT, BINARY, JSON).
    pub value: Option<Target>,
    /// CSV and FLATTEN: every data column except the Kafka metadata ones, in table order.
    pub user_columns: Vec<Target>,
}

/// What a format writes besides the Kafka metadata columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fills {
    /// The `key` and/or `value` column (as the mode says), of one of these types, first
    /// preferred.
    Parts(&'static [TypeInfo]),
    /// Every other data column, from the text of one part.
    UserColumns,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("table `{table}` does not fit format={format} mode={mode}: {problem}; {fix}")]
pub struct SchemaMismatch {
    pub table: String,
    pub format: &'static str,
    pub mode: &'static str,
    pub problem: String,
    pub fix: String,
}

pub fn is_metadata(name: &str) -> bool {
    [TOPIC, PARTITION, OFFSET, INSERT_TIME]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(name))
}

impl Layout {
    pub fn new(
        table: &str,
        schema: &TableSchema,
        format: Format,
        mode: Mode,
        fills: Fills,
        partition_column: &str,
    ) -> Result<Layout, SchemaMismatch> {
        let fail = |problem: String, fix: String| SchemaMismatch {
            table: table.to_string(),
            format: format.name(),
            mode: mode.name(),
            problem,
            fix,
        };

        match schema.partition_keys.as_slice() {
            [only] if only.name.eq_ignore_ascii_case(partition_column) => {
                if only.type_info != TypeInfo::String {
                    return Err(fail(
                        format!(
                            "partition column `{}` is {}, not STRING",
                            only.name,
                            upper(&only.type_info)
                        ),
                        format!(
                            "recreate the table with `PARTITIONED BY ({partition_column} STRING)`"
                        ),
                    ));
                }
            }
            keys => {
                let found: Vec<String> = keys
                    .iter()
                    .map(|c| format!("{} {}", c.name, upper(&c.type_info)))
                    .collect();
                return Err(fail(
                    format!(
                        "it must be partitioned by exactly one STRING column `{partition_column}`, but its partition columns are [{}]",
                        found.join(", ")
                    ),
                    format!("create it with `PARTITIONED BY ({partition_column} STRING)`, or set partition_column to its partition column"),
                ));
            }
        }

        let fixed = |name: &str, ty: TypeInfo| -> Result<usize, SchemaMismatch> {
            match schema.column(name) {
                Some((i, c)) if c.type_info == ty => Ok(i),
                Some((_, c)) => Err(fail(
                    format!(
                        "column `{}` is {}, expected {}",
                        c.name,
                        upper(&c.type_info),
                        upper(&ty)
                    ),
                    format!("change `{name}` to {}", upper(&ty)),
                )),
                None => Err(fail(
                    format!("column `{name}` is missing"),
                    format!("add the column: `{}` {}", name, upper(&ty)),
                )),
            }
        };
        let topic = fixed(TOPIC, TypeInfo::String)?;
        let partition = fixed(PARTITION, TypeInfo::Bigint)?;
        let offset = fixed(OFFSET, TypeInfo::Bigint)?;
        let insert_time = match schema.column(INSERT_TIME) {
            None => None,
            Some(_) => Some(fixed(INSERT_TIME, TypeInfo::Bigint)?),
        };

        let (wants_key, wants_value) = match mode {
            Mode::Key => (true, false),
            Mode::Value => (false, true),
            Mode::Default => (true, true),
        };
        let allowed: &[TypeInfo] = match fills {
            Fills::Parts(types) => types,
            Fills::UserColumns => &[],
        };
        let part_column = |name: &str, wanted: bool| -> Result<Option<Target>, SchemaMismatch> {
            if !wanted || allowed.is_empty() {
                return Ok(None);
            }
            let expected: Vec<String> = allowed.iter().map(upper).collect();
            match schema.column(name) {
                Some((index, c)) if allowed.contains(&c.type_info) => Ok(Some(Target {
                    index,
                    name: c.name.clone(),
                    type_info: c.type_info.clone(),
                })),
                Some((_, c)) => Err(fail(
                    format!(
                        "column `{}` is {}, expected {}",
                        c.name,
                        upper(&c.type_info),
                        expected.join(" or ")
                    ),
                    format!("change `{name}` to {}", expected[0]),
                )),
                None => Err(fail(
                    format!("column `{name}` is missing"),
                    format!("add the column: {name} {}", expected[0]),
                )),
            }
        };
        let key = part_column("key", wants_key)?;
        let value = part_column("value", wants_value)?;

        let user_columns: Vec<Target> = if fills == Fills::UserColumns {
            schema
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| !is_metadata(&c.name))
                .map(|(index, c)| Target {
                    index,
                    name: c.name.clone(),
                    type_info: c.type_info.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        if fills == Fills::UserColumns {
            if user_columns.is_empty() {
                return Err(fail(
                    "it has no columns besides topic, partition, offset and insert_time".into(),
                    "add one column per CSV field or FLATTEN key".into(),
                ));
            }
            if let Some(c) = user_columns
                .iter()
                .find(|c| !types::supported(&c.type_info))
            {
                return Err(fail(
                    format!(
                        "column `{}` has type {}, which the format cannot fill",
                        c.name,
                        upper(&c.type_info)
                    ),
                    format!(
                        "change `{}` to a supported type (docs/configuration.md)",
                        c.name
                    ),
                ));
            }
        }

        let filled: Vec<usize> = [Some(topic), Some(partition), Some(offset), insert_time]
            .into_iter()
            .flatten()
            .chain(key.iter().map(|t| t.index))
            .chain(value.iter().map(|t| t.index))
            .chain(user_columns.iter().map(|t| t.index))
            .collect();
        if let Some((_, c)) = schema
            .columns
            .iter()
            .enumerate()
            .find(|(i, c)| !c.nullable && !filled.contains(i))
        {
            return Err(fail(
                format!(
                    "column `{}` is NOT NULL but this format and mode never fill it",
                    c.name
                ),
                not_null_fix(c),
            ));
        }

        Ok(Layout {
            width: schema.columns.len(),
            topic,
            partition,
            offset,
            insert_time,
            key,
            value,
            user_columns,
        })
    }
}

fn not_null_fix(c: &Column) -> String {
    format!("make `{}` nullable or choose a mode that writes it", c.name)
}

fn upper(t: &TypeInfo) -> String {
    t.to_string().to_uppercase()
}
