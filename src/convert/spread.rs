//! The formats that spread the text of one part over the table's user columns (CSV,
//! FLATTEN): what their one step is given.

use maxcompute_tunnel::Value;

use super::error::Reason;
use super::layout::Target;
use crate::event::Part;
use crate::zone::Zone;

/// Where a spreading format writes.
#[derive(Debug)]
pub struct Spread<'a> {
    /// The part the text comes from, for error messages.
    pub part: Part,
    /// Every data column except the Kafka metadata ones, in table order.
    pub columns: &'a [Target],
    /// The zone that date and time text is read in.
    pub zone: &'a Zone,
}

/// One spreading format: fills the user columns of `row` from the part's text, `None` when the
/// part is null.
pub type SpreadFill =
    fn(text: Option<&str>, into: &Spread<'_>, row: &mut [Value]) -> Result<(), Reason>;
