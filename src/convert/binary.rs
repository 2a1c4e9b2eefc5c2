//! BINARY format: key and/or value bytes into BINARY columns; a null key or value is NULL
//! (the connector crashes the task on it).

use maxcompute_tunnel::{TypeInfo, Value};

use super::error::Reason;
use super::layout::Target;
use super::whole::WholePart;
use crate::event::Part;

pub const BINARY: WholePart = WholePart {
    column_types: &[TypeInfo::Binary],
    value,
};

fn value(bytes: Vec<u8>, _: Part, _: &Target) -> Result<Value, Reason> {
    Ok(Value::Binary(bytes))
}
