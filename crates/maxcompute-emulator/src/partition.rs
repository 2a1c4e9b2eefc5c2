//! Partition specs as the service receives them, `pt=x,dt=y` on the tunnel and `pt='x',dt='y'` in
//! REST calls and DDL, resolved against a table's partition keys.

use std::fmt;

use maxcompute_tunnel::{TableSchema, TypeInfo};

use crate::error::{ErrorCode, OdpsError};

/// A full partition spec resolved against a table: one value per partition key, in the table's
/// key order, with the table's spelling of the key names. The client's side of the same text is
/// `maxcompute_tunnel::PartitionSpec`, which knows no table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResolvedPartitionSpec {
    pairs: Vec<(String, String)>,
}

impl ResolvedPartitionSpec {
    /// The spec of a non-partitioned table.
    pub fn none() -> Self {
        ResolvedPartitionSpec { pairs: Vec::new() }
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The values, in key order (what a reader appends to each row).
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(_, v)| v.as_str())
    }

    /// `pt='x',dt='y'`, the form of SQL and of REST partition listings.
    pub fn to_quoted(&self) -> String {
        self.pairs
            .iter()
            .map(|(k, v)| format!("{k}='{v}'"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Resolves the `partition` parameter of a request against the table: a partitioned table
    /// needs a value for every key (`MissingPartitionSpec` otherwise), unknown or repeated keys and
    /// values that do not fit the key's type are `InvalidPartitionSpec`, and a non-partitioned table
    /// takes no spec at all.
    pub fn resolve(
        schema: &TableSchema,
        raw: Option<&str>,
    ) -> Result<ResolvedPartitionSpec, OdpsError> {
        let raw = raw.map(str::trim).filter(|s| !s.is_empty());
        let keys = &schema.partition_keys;
        let Some(raw) = raw else {
            if keys.is_empty() {
                return Ok(ResolvedPartitionSpec::none());
            }
            return Err(missing_spec(format!(
                "the table is partitioned by ({}); the request names no partition",
                key_list(schema)
            )));
        };
        if keys.is_empty() {
            return Err(invalid_spec(format!(
                "the table is not partitioned, but the request names partition `{raw}`"
            )));
        }
        let given = parse_pairs(raw)?;
        let mut values: Vec<Option<String>> = vec![None; keys.len()];
        for (key, value) in given {
            let index = keys
                .iter()
                .position(|k| k.name.eq_ignore_ascii_case(&key))
                .ok_or_else(|| {
                    invalid_spec(format!(
                        "`{key}` is not a partition column; the table is partitioned by ({})",
                        key_list(schema)
                    ))
                })?;
            if values[index].is_some() {
                return Err(invalid_spec(format!(
                    "partition column `{key}` appears twice in `{raw}`"
                )));
            }
            check_value(&keys[index].type_info, &key, &value)?;
            values[index] = Some(value);
        }
        let mut pairs = Vec::with_capacity(keys.len());
        for (key, value) in keys.iter().zip(values) {
            match value {
                Some(v) => pairs.push((key.name.clone(), v)),
                None => {
                    return Err(missing_spec(format!(
                        "partition `{raw}` has no value for `{}`; the table is partitioned by ({})",
                        key.name,
                        key_list(schema)
                    )))
                }
            }
        }
        Ok(ResolvedPartitionSpec { pairs })
    }

    /// Rebuilds a spec from stored pairs (already validated when it was created).
    pub(crate) fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        ResolvedPartitionSpec { pairs }
    }

    /// True when this spec starts with every pair of `prefix` (keys compared case-insensitively).
    pub fn matches_prefix(&self, prefix: &[(String, String)]) -> bool {
        prefix.iter().all(|(pk, pv)| {
            self.pairs
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(pk) && v == pv)
        })
    }
}

/// `pt=x,dt=y`, the form of the tunnel's `partition` parameter.
impl fmt::Display for ResolvedPartitionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

fn invalid_spec(message: String) -> OdpsError {
    OdpsError::new(ErrorCode::InvalidPartitionSpec, message)
}

fn missing_spec(message: String) -> OdpsError {
    OdpsError::new(ErrorCode::MissingPartitionSpec, message)
}

fn key_list(schema: &TableSchema) -> String {
    schema
        .partition_keys
        .iter()
        .map(|k| k.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits `k1=v1,k2='v2'` (also with `/` as separator, as the SDKs accept) into pairs, removing
/// the quotes around values.
pub fn parse_pairs(raw: &str) -> Result<Vec<(String, String)>, OdpsError> {
    let mut pairs = Vec::new();
    for part in raw.split([',', '/']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (key, value) = part.split_once('=').ok_or_else(|| {
            invalid_spec(format!(
                "`{part}` in partition spec `{raw}` is not of the form key=value"
            ))
        })?;
        let key = key.trim();
        let value = unquote(value.trim());
        if key.is_empty() || value.is_empty() {
            return Err(invalid_spec(format!(
                "partition spec `{raw}` has an empty key or value"
            )));
        }
        pairs.push((key.to_string(), value.to_string()));
    }
    if pairs.is_empty() {
        return Err(invalid_spec(format!(
            "partition spec `{raw}` names no partition column"
        )));
    }
    Ok(pairs)
}

fn unquote(v: &str) -> &str {
    for q in ['\'', '"'] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

fn check_value(type_info: &TypeInfo, key: &str, value: &str) -> Result<(), OdpsError> {
    let range = match type_info {
        TypeInfo::Tinyint => Some((i8::MIN as i64, i8::MAX as i64)),
        TypeInfo::Smallint => Some((i16::MIN as i64, i16::MAX as i64)),
        TypeInfo::Int => Some((i32::MIN as i64, i32::MAX as i64)),
        TypeInfo::Bigint => Some((i64::MIN, i64::MAX)),
        _ => None,
    };
    if let Some((min, max)) = range {
        let ok = value.parse::<i64>().is_ok_and(|n| (min..=max).contains(&n));
        if !ok {
            return Err(invalid_spec(format!(
                "value `{value}` of partition column `{key}` is not a valid {type_info}"
            )));
        }
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(invalid_spec(format!(
            "value of partition column `{key}` contains a control character"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use maxcompute_tunnel::Column;

    fn schema(keys: &[(&str, TypeInfo)]) -> TableSchema {
        TableSchema::new(
            vec![Column::new("v", TypeInfo::String)],
            keys.iter()
                .map(|(n, t)| Column::new(*n, t.clone()))
                .collect(),
        )
    }

    #[test]
    fn normalises_order_quotes_and_key_case() {
        let s = schema(&[("pt", TypeInfo::String), ("hh", TypeInfo::Bigint)]);
        let spec = ResolvedPartitionSpec::resolve(&s, Some("HH='07',pt=p1")).unwrap();
        assert_eq!(spec.to_string(), "pt=p1,hh=07");
        assert_eq!(spec.to_quoted(), "pt='p1',hh='07'");
        assert_eq!(spec.values().collect::<Vec<_>>(), ["p1", "07"]);
    }

    #[test]
    fn rejects_specs_that_do_not_match_the_keys() {
        let s = schema(&[("pt", TypeInfo::String), ("hh", TypeInfo::Int)]);
        let code = |raw: Option<&str>| {
            ResolvedPartitionSpec::resolve(&s, raw)
                .unwrap_err()
                .code
                .as_str()
        };
        assert_eq!(code(None), "MissingPartitionSpec");
        assert_eq!(code(Some("pt=a")), "MissingPartitionSpec");
        assert_eq!(code(Some("pt=a,hh=1,x=2")), "InvalidPartitionSpec");
        assert_eq!(code(Some("pt=a,pt=b,hh=1")), "InvalidPartitionSpec");
        assert_eq!(code(Some("pt=a,hh=noon")), "InvalidPartitionSpec");
        assert_eq!(code(Some("pt=a,hh=99999999999")), "InvalidPartitionSpec");
        assert_eq!(code(Some("pt,hh=1")), "InvalidPartitionSpec");
        assert_eq!(code(Some("pt=,hh=1")), "InvalidPartitionSpec");

        let flat = schema(&[]);
        assert!(ResolvedPartitionSpec::resolve(&flat, None)
            .unwrap()
            .is_empty());
        assert_eq!(
            ResolvedPartitionSpec::resolve(&flat, Some("pt=a"))
                .unwrap_err()
                .code
                .as_str(),
            "InvalidPartitionSpec"
        );
    }
}
