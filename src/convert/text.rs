//! TEXT format: key and/or value as UTF-8 text into STRING columns. Bytes that are not UTF-8
//! become U+FFFD, as Kafka's StringConverter does.

use maxcompute_tunnel::{TypeInfo, Value};

use super::error::Reason;
use super::layout::Target;
use super::whole::WholePart;
use crate::event::Part;

pub const TEXT: WholePart = WholePart {
    column_types: &[TypeInfo::String],
    value,
};

fn value(bytes: Vec<u8>, _: Part, _: &Target) -> Result<Value, Reason> {
    Ok(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
}
