//! FLATTEN format: the top-level keys of a JSON object, matched case-insensitively to column
//! names. Nested objects and arrays go to their column as compact JSON text (or, for ARRAY, MAP
//! and STRUCT columns, as those types); scalars go through the type table. Numbers are taken as
//! written, so DECIMAL and BIGINT values never pass through a float.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use maxcompute_tunnel::Value;

use super::error::Reason;
use super::layout;
use super::nested::{self, object_entries, EntriesError};
use super::spread::Spread;

/// Fills the user columns of `row` from the JSON object in the part's text.
pub fn fill(text: Option<&str>, into: &Spread<'_>, row: &mut [Value]) -> Result<(), Reason> {
    // A null message sets nothing, as in the connector: the row keeps only the Kafka
    // coordinates.
    let Some(text) = text else {
        return Ok(());
    };
    let entries = object_entries(text).map_err(|e| match e {
        EntriesError::Json(detail) => Reason::InvalidJson {
            part: into.part,
            detail,
        },
        EntriesError::NotObject(found) => Reason::FlattenNotObject {
            part: into.part,
            found,
        },
    })?;
    for (key, raw) in entries {
        if let Some(target) = into
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&key))
        {
            row[target.index] = nested::from_raw(raw, &target.type_info, into.zone)
                .map_err(|e| Reason::column(&target.name, e))?;
        } else if layout::is_metadata(&key) {
            // The Kafka coordinates win over a message field of the same name.
            log_collision_once(&key);
        } else {
            return Err(Reason::FlattenUnknownKey { key });
        }
    }
    Ok(())
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
