//! The record CRC: CRC-32C fed with each written field's number and value bytes (spec §5.5).
//!
//! Feeding is what pyodps's `Checksum` does: integers as little-endian two's complement, floats
//! as their IEEE-754 bits, text and binary as raw bytes. Lengths, counts and null flags are not fed.

/// A running CRC-32C, as the finalised value of everything fed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Crc(u32);

impl Crc {
    #[inline]
    pub(crate) fn value(self) -> u32 {
        self.0
    }

    #[inline]
    pub(crate) fn bytes(&mut self, data: &[u8]) {
        self.0 = crc32c::crc32c_append(self.0, data);
    }

    #[inline]
    pub(crate) fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }

    #[inline]
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    #[inline]
    pub(crate) fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }

    #[inline]
    pub(crate) fn bool(&mut self, v: bool) {
        self.bytes(&[u8::from(v)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_crc32c_and_feeds_like_the_spec_example() {
        let mut check = Crc::default();
        check.bytes(b"123456789");
        assert_eq!(check.value(), 0xE306_9283);

        // Schema B, record 1 of the spec: field numbers and values interleaved.
        let mut crc = Crc::default();
        crc.i32(1);
        crc.bytes(b"t");
        crc.i32(2);
        crc.i64(0);
        crc.i32(3);
        crc.i64(0);
        crc.i32(4);
        crc.bytes(b"k");
        crc.i32(5);
        crc.bytes(b"v");
        assert_eq!(crc.value(), 0xa8de_fbf4);
    }
}
