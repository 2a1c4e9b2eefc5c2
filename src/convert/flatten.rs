//! FLATTEN format: the top-level keys of a JSON object, matched case-insensitively to column
//! names. Nested objects and arrays go to their column as compact JSON text (or, for ARRAY, MAP
//! and STRUCT columns, as those types); scalars go through the type table. Numbers are taken as
//! written, so DECIMAL and BIGINT values never pass through a float.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use maxcompute_tunnel::{TypeInfo, Value};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::error::Reason;
use super::layout::{self, Layout, Target};
use super::types;
use crate::event::Part;
use crate::zone::Zone;

pub fn fill(
    text: &str,
    part: Part,
    layout: &Layout,
    zone: &Zone,
    row: &mut [Value],
) -> Result<(), Reason> {
    let entries = object_entries(text).map_err(|e| match e {
        EntriesError::Json(detail) => Reason::InvalidJson { part, detail },
        EntriesError::NotObject(found) => Reason::FlattenNotObject { part, found },
    })?;
    for (key, raw) in entries {
        if let Some(target) = layout
            .user_columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&key))
        {
            row[target.index] = value(raw, target, zone)?;
        } else if layout::is_metadata(&key) {
            // The Kafka coordinates win over a message field of the same name.
            log_collision_once(&key);
        } else {
            return Err(Reason::FlattenUnknownKey { key });
        }
    }
    Ok(())
}

fn value(raw: &RawValue, target: &Target, zone: &Zone) -> Result<Value, Reason> {
    let text = raw.get();
    let column_err = |e| Reason::column(&target.name, e);
    // The raw text was validated as JSON when the object was read, so these parses only
    // repeat work; an error would still be reported rather than trusted away.
    let reparse = |e: serde_json::Error| {
        Reason::column(
            &target.name,
            types::TypeError(format!("invalid JSON value ({e})")),
        )
    };
    match text.as_bytes().first() {
        Some(b'n') => Ok(Value::Null),
        Some(b'"') => {
            let s: String = serde_json::from_str(text).map_err(reparse)?;
            types::from_text(&s, &target.type_info, zone).map_err(column_err)
        }
        Some(b'{' | b'[') => match target.type_info {
            TypeInfo::Array(_) | TypeInfo::Map(_, _) | TypeInfo::Struct(_) => {
                let json: serde_json::Value = serde_json::from_str(text).map_err(reparse)?;
                types::from_json(&json, &target.type_info, zone).map_err(column_err)
            }
            _ => types::from_text(&compact(text), &target.type_info, zone).map_err(column_err),
        },
        _ => types::from_text(text, &target.type_info, zone).map_err(column_err),
    }
}

/// Removes insignificant whitespace and keeps key order, as Jackson writes a nested object.
fn compact(json: &str) -> String {
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

fn log_collision_once(key: &str) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if seen.insert(key.to_ascii_lowercase()) {
        tracing::warn!(
            key,
            "FLATTEN message key names a Kafka metadata column; the Kafka value is written and the message's is ignored"
        );
    }
}

enum EntriesError {
    Json(String),
    NotObject(String),
}

/// The top-level entries of a JSON object in document order, values unparsed.
fn object_entries(text: &str) -> Result<Vec<(String, &RawValue)>, EntriesError> {
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
    use super::compact;

    #[test]
    fn compact_keeps_strings_and_order() {
        assert_eq!(
            compact("{ \"b\" : 1,\n \"a\": \" x \\\" y \" , \"c\": [1, 2] }"),
            r#"{"b":1,"a":" x \" y ","c":[1,2]}"#
        );
    }
}
