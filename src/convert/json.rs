//! JSON format: the key or value JSON text into a JSON (or STRING) column, checked to be JSON.

use maxcompute_tunnel::{TypeInfo, Value};

use super::error::Reason;
use super::layout::Target;
use super::whole::WholePart;
use crate::event::Part;

pub const JSON: WholePart = WholePart {
    column_types: &[TypeInfo::Json, TypeInfo::String],
    value,
};

fn value(bytes: Vec<u8>, part: Part, target: &Target) -> Result<Value, Reason> {
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&text) {
        return Err(Reason::InvalidJson {
            part,
            detail: e.to_string(),
        });
    }
    Ok(if target.type_info == TypeInfo::Json {
        Value::Json(text)
    } else {
        Value::String(text)
    })
}
