//! The record CRC: CRC-32C fed with each written field's number and value bytes.
//!
//! Feeding is what pyodps's `Checksum` (`odps/tunnel/checksum.py`) does: integers as little-endian two's complement, floats
//! as their IEEE-754 bits, text and binary as raw bytes. Lengths, counts and null flags are not fed.

/// Small inputs are gathered up to this many bytes before they reach `crc32c`: a record feeds
/// many 4- and 8-byte values, and one call per value would cost more than the checksum itself.
const PENDING: usize = 64;

/// A running CRC-32C.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Crc {
    /// The CRC of everything fed before `pending`.
    value: u32,
    pending: [u8; PENDING],
    len: usize,
}

impl Default for Crc {
    fn default() -> Self {
        Crc {
            value: 0,
            pending: [0; PENDING],
            len: 0,
        }
    }
}

impl Crc {
    /// The CRC of everything fed so far.
    #[inline]
    pub(crate) fn value(&mut self) -> u32 {
        self.flush();
        self.value
    }

    #[inline]
    fn flush(&mut self) {
        if self.len > 0 {
            self.value = crc32c::crc32c_append(self.value, &self.pending[..self.len]);
            self.len = 0;
        }
    }

    #[inline]
    pub(crate) fn bytes(&mut self, data: &[u8]) {
        if data.len() > PENDING - self.len {
            self.flush();
            if data.len() > PENDING {
                self.value = crc32c::crc32c_append(self.value, data);
                return;
            }
        }
        self.pending[self.len..self.len + data.len()].copy_from_slice(data);
        self.len += data.len();
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

    #[test]
    fn gathering_small_inputs_changes_nothing() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let whole = crc32c::crc32c(&data);
        for chunk in [1, 3, 8, 63, 64, 65, 200] {
            let mut crc = Crc::default();
            for piece in data.chunks(chunk) {
                crc.bytes(piece);
            }
            assert_eq!(crc.value(), whole, "chunks of {chunk}");
        }
        // Reading the value midway does not disturb what follows.
        let mut crc = Crc::default();
        crc.bytes(&data[..10]);
        assert_eq!(crc.value(), crc32c::crc32c(&data[..10]));
        crc.bytes(&data[10..]);
        assert_eq!(crc.value(), whole);
    }
}
