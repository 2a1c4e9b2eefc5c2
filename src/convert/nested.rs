//! Text or JSON values into columns of any type: ARRAY, MAP and STRUCT columns read JSON, and
//! everything else goes through the type table (`types`). JSON values are read as raw text, so
//! numbers keep the digits they were written with (a DECIMAL or BIGINT never passes through a
//! float), and nested objects and arrays bound for STRING or JSON columns stay compact JSON
//! text in their original key order.

use std::fmt;

use maxcompute_tunnel::{TypeInfo, Value};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::types::{self, TypeError};
use crate::zone::Zone;

/// Converts `text` for a column of type `ty`: the whole text is JSON for ARRAY, MAP and
/// STRUCT columns, and a scalar's text otherwise.
pub fn from_text(text: &str, ty: &TypeInfo, zone: &Zone) -> Result<Value, TypeError> {
    match ty {
        TypeInfo::Array(_) | TypeInfo::Map(_, _) | TypeInfo::Struct(_) => {
            let raw: &RawValue = serde_json::from_str(text).map_err(|e| {
                TypeError(format!(
                    "{} is not JSON, which {ty} columns need ({e})",
                    types::excerpt(text)
                ))
            })?;
            from_raw(raw, ty, zone)
        }
        _ => types::scalar(text, ty, zone),
    }
}

/// Converts one raw JSON value for a column of type `ty`.
pub fn from_raw(raw: &RawValue, ty: &TypeInfo, zone: &Zone) -> Result<Value, TypeError> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'n') => Ok(Value::Null),
        Some(b'"') => {
            let s: String = serde_json::from_str(text).map_err(invalid)?;
            from_text(&s, ty, zone)
        }
        Some(b't' | b'f') if *ty == TypeInfo::Boolean => Ok(Value::Boolean(text == "true")),
        Some(b'[' | b'{') => match ty {
            TypeInfo::Array(element) => {
                let items: Vec<&RawValue> =
                    serde_json::from_str(text).map_err(|_| mismatch(text, ty))?;
                items
                    .into_iter()
                    .map(|item| from_raw(item, element, zone))
                    .collect::<Result<_, _>>()
                    .map(Value::Array)
            }
            TypeInfo::Map(key_ty, value_ty) => object_entries(text)
                .map_err(|_| mismatch(text, ty))?
                .into_iter()
                .map(|(k, v)| Ok((from_text(&k, key_ty, zone)?, from_raw(v, value_ty, zone)?)))
                .collect::<Result<_, _>>()
                .map(Value::Map),
            TypeInfo::Struct(fields) => {
                let entries = object_entries(text).map_err(|_| mismatch(text, ty))?;
                if let Some((extra, _)) = entries
                    .iter()
                    .find(|(k, _)| !fields.iter().any(|(name, _)| name.eq_ignore_ascii_case(k)))
                {
                    return Err(TypeError(format!("{ty} has no field named {extra:?}")));
                }
                fields
                    .iter()
                    .map(|(name, field_ty)| {
                        // The last of several case-variants of a key wins, as for FLATTEN keys.
                        match entries
                            .iter()
                            .rev()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        {
                            Some((_, v)) => from_raw(v, field_ty, zone),
                            None => Ok(Value::Null),
                        }
                    })
                    .collect::<Result<_, _>>()
                    .map(Value::Struct)
            }
            _ => types::scalar(&compact(text), ty, zone),
        },
        // Numbers and booleans as written, like the connector's toString of a JSON scalar.
        _ => match ty {
            TypeInfo::Array(_) | TypeInfo::Map(_, _) | TypeInfo::Struct(_) => {
                Err(mismatch(text, ty))
            }
            _ => types::scalar(text, ty, zone),
        },
    }
}

fn invalid(e: serde_json::Error) -> TypeError {
    TypeError(format!("invalid JSON value ({e})"))
}

fn mismatch(text: &str, ty: &TypeInfo) -> TypeError {
    let kind = match text.as_bytes().first() {
        Some(b'[') => "array",
        Some(b'{') => "object",
        _ => "scalar",
    };
    TypeError(format!("a JSON {kind} does not fit {ty}"))
}

/// Removes insignificant whitespace and keeps key order, as Jackson writes a nested object.
pub fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Why a text is not a JSON object.
pub enum EntriesError {
    Json(String),
    NotObject(String),
}

/// The entries of a JSON object in document order, values unparsed.
pub fn object_entries(text: &str) -> Result<Vec<(String, &RawValue)>, EntriesError> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    let raw: &RawValue =
        serde_json::from_str(text).map_err(|e| EntriesError::Json(e.to_string()))?;
    let trimmed = raw.get();
    if !trimmed.starts_with('{') {
        return Err(EntriesError::NotObject(types::excerpt(trimmed)));
    }
    let mut de = serde_json::Deserializer::from_str(trimmed);
    de.deserialize_map(Entries)
        .map_err(|e| EntriesError::Json(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(json: &str, ty: &str) -> Result<Value, TypeError> {
        let raw: &RawValue = serde_json::from_str(json).unwrap();
        from_raw(
            raw,
            &TypeInfo::parse(ty).unwrap(),
            &Zone::Named(chrono_tz::UTC),
        )
    }

    #[test]
    fn compact_keeps_strings_and_order() {
        assert_eq!(
            compact("{ \"b\" : 1,\n \"a\": \" x \\\" y \" , \"c\": [1, 2] }"),
            r#"{"b":1,"a":" x \" y ","c":[1,2]}"#
        );
    }

    #[test]
    fn nested_numbers_keep_their_digits() {
        assert_eq!(
            conv("[0.1, 12345678901234567.89, null]", "array<decimal(38,2)>").unwrap(),
            Value::Array(vec![
                Value::Decimal("0.10".into()),
                Value::Decimal("12345678901234567.89".into()),
                Value::Null
            ])
        );
        assert_eq!(
            conv(
                r#"{"9007199254740993": 9007199254740993}"#,
                "map<bigint,bigint>"
            )
            .unwrap(),
            Value::Map(vec![(
                Value::Int(9_007_199_254_740_993),
                Value::Int(9_007_199_254_740_993)
            )])
        );
    }

    #[test]
    fn structs_match_fields_case_insensitively() {
        assert_eq!(
            conv(
                r#"{"A": true, "b": {"x": [1]}}"#,
                "struct<a:boolean,b:string,c:int>"
            )
            .unwrap(),
            Value::Struct(vec![
                Value::Boolean(true),
                Value::String(r#"{"x":[1]}"#.into()),
                Value::Null
            ])
        );
        let err = conv(r#"{"z": 1}"#, "struct<a:int>").unwrap_err();
        assert_eq!(err.0, "struct<a:int> has no field named \"z\"");
    }

    #[test]
    fn shapes_that_do_not_fit_are_errors() {
        assert_eq!(
            conv(r#"{"a":1}"#, "array<int>").unwrap_err().0,
            "a JSON object does not fit array<int>"
        );
        assert_eq!(
            conv("[1]", "map<string,int>").unwrap_err().0,
            "a JSON array does not fit map<string,int>"
        );
        assert_eq!(
            conv("5", "array<int>").unwrap_err().0,
            "a JSON scalar does not fit array<int>"
        );
        assert!(conv("[\"x\"]", "array<int>")
            .unwrap_err()
            .0
            .contains("is not a INT"));
    }
}
