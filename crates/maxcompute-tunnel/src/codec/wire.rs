//! Protobuf wire syntax as the record format uses it: tags, varints and zigzag integers.
//!
//! The record format borrows protobuf's tag and varint encoding but is not a protobuf message,
//! so only the handful of primitives it needs live here.

/// Wire type of varint payloads (integers, booleans, DATETIME, DATE).
pub(crate) const WIRE_VARINT: u8 = 0;
/// Wire type of 8-byte little-endian payloads (DOUBLE).
pub(crate) const WIRE_FIXED64: u8 = 1;
/// Wire type of everything else: strings, decimals, JSON, timestamps and nested types.
pub(crate) const WIRE_LEN: u8 = 2;
/// Wire type of 4-byte little-endian payloads (FLOAT).
pub(crate) const WIRE_FIXED32: u8 = 5;

/// Field number that closes a record; its CRC follows.
pub(crate) const END_RECORD: u32 = (1 << 25) - 1024;
/// Field number of the footer's record count.
pub(crate) const META_COUNT: u32 = (1 << 25) - 2;
/// Field number of the footer's CRC of record CRCs.
pub(crate) const META_CHECKSUM: u32 = (1 << 25) - 1;

/// The longest varint a 64-bit value can need.
pub(crate) const MAX_VARINT_LEN: usize = 10;

#[inline]
pub(crate) fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

/// Writes a 32-bit value in the unsigned (at most 5-byte) form that Java, Go and the
/// pure-Python pyodps writer use.
#[inline]
pub(crate) fn put_u32(buf: &mut Vec<u8>, value: u32) {
    put_varint(buf, u64::from(value));
}

#[inline]
pub(crate) fn put_tag(buf: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_u32(buf, (field << 3) | u32::from(wire_type));
}

#[inline]
pub(crate) fn zigzag64(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

#[inline]
pub(crate) fn zigzag32(value: i32) -> u32 {
    ((value << 1) ^ (value >> 31)) as u32
}

#[inline]
pub(crate) fn unzigzag64(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

#[inline]
pub(crate) fn unzigzag32(value: u32) -> i32 {
    ((value >> 1) as i32) ^ -((value & 1) as i32)
}

/// Why a varint could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// More than ten bytes, or bits beyond the 64th.
    Malformed,
}

/// A forward-only reader over a byte slice.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.bytes.len()
    }

    pub(crate) fn read_varint(&mut self) -> Result<u64, VarintError> {
        let mut value = 0u64;
        for i in 0..MAX_VARINT_LEN {
            let Some(&byte) = self.bytes.get(self.pos + i) else {
                return Err(VarintError::Truncated);
            };
            // The tenth byte may only carry the 64th bit.
            if i == MAX_VARINT_LEN - 1 && byte > 1 {
                return Err(VarintError::Malformed);
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.pos += i + 1;
                return Ok(value);
            }
        }
        Err(VarintError::Malformed)
    }

    /// Takes the next `len` bytes, or `None` if fewer remain.
    pub(crate) fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        if len > self.remaining() {
            return None;
        }
        let slice = &self.bytes[self.pos..self.pos + len];
        self.pos += len;
        Some(slice)
    }

    pub(crate) fn take_array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)
            .map(|s| s.try_into().expect("take returned N bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metrics block of download streams; upload streams never contain it, so the decoder
    /// treats it as an unknown field.
    const END_METRICS: u32 = (1 << 25) - 256;

    #[test]
    fn special_tags_match_the_spec() {
        let tag = |field| {
            let mut buf = Vec::new();
            put_tag(&mut buf, field, WIRE_VARINT);
            buf
        };
        assert_eq!(tag(END_RECORD), [0x80, 0xc0, 0xff, 0x7f]);
        assert_eq!(tag(END_METRICS), [0x80, 0xf0, 0xff, 0x7f]);
        assert_eq!(tag(META_COUNT), [0xf0, 0xff, 0xff, 0x7f]);
        assert_eq!(tag(META_CHECKSUM), [0xf8, 0xff, 0xff, 0x7f]);
    }

    #[test]
    fn zigzag_round_trips_extremes() {
        for v in [0, 1, -1, 2, -2, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag64(zigzag64(v)), v);
        }
        for v in [0, 1, -1, i32::MAX, i32::MIN] {
            assert_eq!(unzigzag32(zigzag32(v)), v);
        }
        assert_eq!(zigzag64(-1), 1);
        assert_eq!(zigzag64(1), 2);
        assert_eq!(zigzag32(i32::MIN), u32::MAX);
    }

    #[test]
    fn reads_both_crc_forms_and_rejects_bad_varints() {
        let short = [0xe5, 0xb9, 0xd4, 0x89, 0x08];
        let long = [0xe5, 0xb9, 0xd4, 0x89, 0xf8, 0xff, 0xff, 0xff, 0xff, 0x01];
        // The decoder keeps the low 32 bits, like protobuf's readRawVarint32.
        assert_eq!(Cursor::new(&short).read_varint(), Ok(0x8135_1ce5));
        assert_eq!(
            Cursor::new(&long).read_varint().map(|v| v as u32),
            Ok(0x8135_1ce5)
        );
        let mut buf = Vec::new();
        put_u32(&mut buf, 0x8135_1ce5);
        assert_eq!(buf, short);

        assert_eq!(
            Cursor::new(&[0x80, 0x80]).read_varint(),
            Err(VarintError::Truncated)
        );
        assert_eq!(
            Cursor::new(&[0xff; 11]).read_varint(),
            Err(VarintError::Malformed)
        );
        let mut over = [0xff; 10];
        over[9] = 0x02;
        assert_eq!(
            Cursor::new(&over).read_varint(),
            Err(VarintError::Malformed)
        );
        let mut max = Vec::new();
        put_varint(&mut max, u64::MAX);
        assert_eq!(Cursor::new(&max).read_varint(), Ok(u64::MAX));
    }
}
