//! Printing a table's rows the way odpscmd prints `select * from t` (an ASCII grid, partition
//! columns appended after the data columns) or as JSON lines.

use base64::Engine as _;
use chrono::DateTime;
use maxcompute_tunnel::{TableSchema, TypeInfo, Value};
use serde_json::{json, Map};

use crate::partition::ResolvedPartitionSpec;

/// Output format of [`render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowFormat {
    /// An ASCII grid, like odpscmd.
    Table,
    /// One JSON object per row.
    JsonLines,
}

/// Rows of one partition, data columns only.
pub struct PartitionRows<'a> {
    pub spec: &'a ResolvedPartitionSpec,
    pub rows: &'a [Vec<Value>],
}

/// Renders rows of `schema`, each followed by its partition's values.
pub fn render(schema: &TableSchema, parts: &[PartitionRows<'_>], format: ShowFormat) -> String {
    match format {
        ShowFormat::Table => grid(schema, parts),
        ShowFormat::JsonLines => json_lines(schema, parts),
    }
}

/// A value as odpscmd shows it.
pub fn display(value: &Value, ty: &TypeInfo) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Int(v) => v.to_string(),
        Value::Double(v) => v.to_string(),
        Value::Float(v) => v.to_string(),
        Value::Boolean(v) => v.to_string(),
        Value::String(s) | Value::Decimal(s) | Value::Json(s) => s.clone(),
        Value::Binary(b) => escape_bytes(b),
        Value::Datetime(ms) => DateTime::from_timestamp_millis(*ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|| format!("{ms}ms")),
        Value::Date(days) => DateTime::from_timestamp(days.saturating_mul(86_400), 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_else(|| format!("{days}d")),
        Value::Timestamp { seconds, nanos } => {
            DateTime::from_timestamp(*seconds, (*nanos).max(0) as u32)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S%.9f").to_string())
                .unwrap_or_else(|| format!("{seconds}s{nanos}ns"))
        }
        Value::Array(items) => {
            let inner = match ty {
                TypeInfo::Array(t) => t.as_ref(),
                _ => ty,
            };
            let shown: Vec<_> = items.iter().map(|v| display(v, inner)).collect();
            format!("[{}]", shown.join(","))
        }
        Value::Map(entries) => {
            let (kt, vt) = match ty {
                TypeInfo::Map(k, v) => (k.as_ref(), v.as_ref()),
                _ => (ty, ty),
            };
            let shown: Vec<_> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", display(k, kt), display(v, vt)))
                .collect();
            format!("{{{}}}", shown.join(","))
        }
        Value::Struct(fields) => {
            let names: Vec<(&str, &TypeInfo)> = match ty {
                TypeInfo::Struct(f) => f.iter().map(|(n, t)| (n.as_str(), t)).collect(),
                _ => Vec::new(),
            };
            let shown: Vec<_> = fields
                .iter()
                .enumerate()
                .map(|(i, v)| match names.get(i) {
                    Some((n, t)) => format!("{n}:{}", display(v, t)),
                    None => display(v, ty),
                })
                .collect();
            format!("{{{}}}", shown.join(", "))
        }
    }
}

/// Printable ASCII as is, everything else as `\xNN` (odpscmd escapes binary the same way).
fn escape_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| match b {
            0x20..=0x7e if *b != b'\\' => (*b as char).to_string(),
            _ => format!("\\x{b:02X}"),
        })
        .collect()
}

fn grid(schema: &TableSchema, parts: &[PartitionRows<'_>]) -> String {
    let header: Vec<String> = schema
        .columns
        .iter()
        .chain(&schema.partition_keys)
        .map(|c| c.name.clone())
        .collect();
    let mut cells: Vec<Vec<String>> = Vec::new();
    for part in parts {
        for row in part.rows {
            let mut line: Vec<String> = schema
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| display(row.get(i).unwrap_or(&Value::Null), &c.type_info))
                .map(|s| s.replace(['\n', '\r'], " "))
                .collect();
            line.extend(part.spec.values().map(str::to_string));
            cells.push(line);
        }
    }
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            cells
                .iter()
                .map(|r| r[i].chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rule = format!(
        "+{}+\n",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let line = |values: &[String]| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!(" {v}{} ", " ".repeat(w - v.chars().count())))
            .collect();
        format!("|{}|\n", padded.join("|"))
    };
    let mut out = String::new();
    out.push_str(&rule);
    out.push_str(&line(&header));
    out.push_str(&rule);
    for row in &cells {
        out.push_str(&line(row));
    }
    out.push_str(&rule);
    out
}

/// A value as JSON: numbers and booleans as such, JSON columns parsed, binary as base64, times
/// as text.
pub fn to_json(value: &Value, ty: &TypeInfo) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Int(v) => json!(v),
        Value::Double(v) => json!(v),
        Value::Float(v) => json!(v),
        Value::Boolean(v) => json!(v),
        Value::String(s) | Value::Decimal(s) => json!(s),
        Value::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| json!(s)),
        Value::Binary(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(items) => {
            let inner = match ty {
                TypeInfo::Array(t) => t.as_ref(),
                _ => ty,
            };
            serde_json::Value::Array(items.iter().map(|v| to_json(v, inner)).collect())
        }
        Value::Map(entries) => {
            let (kt, vt) = match ty {
                TypeInfo::Map(k, v) => (k.as_ref(), v.as_ref()),
                _ => (ty, ty),
            };
            let mut map = Map::new();
            for (k, v) in entries {
                map.insert(display(k, kt), to_json(v, vt));
            }
            serde_json::Value::Object(map)
        }
        Value::Struct(fields) => {
            let mut map = Map::new();
            if let TypeInfo::Struct(decl) = ty {
                for ((name, t), v) in decl.iter().zip(fields) {
                    map.insert(name.clone(), to_json(v, t));
                }
            }
            serde_json::Value::Object(map)
        }
        Value::Datetime(_) | Value::Date(_) | Value::Timestamp { .. } => json!(display(value, ty)),
    }
}

fn json_lines(schema: &TableSchema, parts: &[PartitionRows<'_>]) -> String {
    let mut out = String::new();
    for part in parts {
        for row in part.rows {
            let mut obj = Map::new();
            for (i, c) in schema.columns.iter().enumerate() {
                obj.insert(
                    c.name.clone(),
                    to_json(row.get(i).unwrap_or(&Value::Null), &c.type_info),
                );
            }
            for (k, v) in part.spec.pairs() {
                obj.insert(k.clone(), json!(v));
            }
            out.push_str(&serde_json::Value::Object(obj).to_string());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use maxcompute_tunnel::Column;

    fn schema() -> TableSchema {
        TableSchema::new(
            vec![
                Column::new("topic", TypeInfo::String),
                Column::new("offset", TypeInfo::Bigint),
                Column::new("payload", TypeInfo::Json),
            ],
            vec![Column::new("pt", TypeInfo::String)],
        )
    }

    #[test]
    fn grid_matches_odpscmd_layout_with_partition_values_appended() {
        let s = schema();
        let spec = ResolvedPartitionSpec::resolve(&s, Some("pt=p1")).unwrap();
        let rows = vec![
            vec![
                "orders".into(),
                Value::Int(42),
                Value::Json("{\"a\":1}".into()),
            ],
            vec!["t".into(), Value::Null, Value::Null],
        ];
        let out = render(
            &s,
            &[PartitionRows {
                spec: &spec,
                rows: &rows,
            }],
            ShowFormat::Table,
        );
        let expected = "\
+--------+--------+---------+----+
| topic  | offset | payload | pt |
+--------+--------+---------+----+
| orders | 42     | {\"a\":1} | p1 |
| t      | NULL   | NULL    | p1 |
+--------+--------+---------+----+
";
        assert_eq!(out, expected);
    }

    #[test]
    fn json_lines_keep_types_and_parse_json_columns() {
        let s = schema();
        let spec = ResolvedPartitionSpec::resolve(&s, Some("pt=p1")).unwrap();
        let rows = vec![vec![
            "o".into(),
            Value::Int(7),
            Value::Json("{\"a\":[1]}".into()),
        ]];
        let out = render(
            &s,
            &[PartitionRows {
                spec: &spec,
                rows: &rows,
            }],
            ShowFormat::JsonLines,
        );
        let parsed: serde_json::Value = serde_json::from_str(out.trim_end()).unwrap();
        assert_eq!(
            parsed,
            json!({"topic": "o", "offset": 7, "payload": {"a": [1]}, "pt": "p1"})
        );
    }

    #[test]
    fn displays_times_and_binary_like_odpscmd() {
        assert_eq!(
            display(&Value::Datetime(1_704_164_645_000), &TypeInfo::Datetime),
            "2024-01-02 03:04:05"
        );
        assert_eq!(display(&Value::Date(19724), &TypeInfo::Date), "2024-01-02");
        assert_eq!(
            display(&Value::Binary(vec![0x41, 0x00]), &TypeInfo::Binary),
            "A\\x00"
        );
    }
}
