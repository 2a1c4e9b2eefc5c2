//! Block body compression (`Content-Encoding` of a tunnel PUT). MaxCompute's `deflate` is a zlib
//! stream (RFC 1950 header and Adler-32), not raw deflate.

use std::io::{Read, Write};

use bytes::Bytes;
use flate2::{read::ZlibDecoder, write::ZlibEncoder, Compression as Level};

/// How a block or pack body is compressed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// No `Content-Encoding`.
    None,
    /// `Content-Encoding: deflate` (a zlib stream).
    #[default]
    Deflate,
}

impl Compression {
    /// The `Content-Encoding` header value, if any.
    pub(crate) fn content_encoding(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Deflate => Some("deflate"),
        }
    }

    /// Reads a `Content-Encoding` header value; `None` for encodings this crate does not speak.
    pub fn from_content_encoding(value: Option<&str>) -> Option<Compression> {
        match value.map(str::trim) {
            None | Some("") | Some("identity") => Some(Compression::None),
            Some(v) if v.eq_ignore_ascii_case("deflate") => Some(Compression::Deflate),
            Some(_) => None,
        }
    }

    /// Compresses a whole record stream (footer included) as one unit.
    pub fn compress(self, body: &[u8]) -> Vec<u8> {
        match self {
            Compression::None => body.to_vec(),
            Compression::Deflate => {
                // Level 1: the tunnel is bandwidth-bound far less than the Lambda is CPU-bound.
                let mut encoder =
                    ZlibEncoder::new(Vec::with_capacity(body.len() / 4 + 64), Level::fast());
                encoder
                    .write_all(body)
                    .expect("writing into a Vec cannot fail");
                encoder.finish().expect("writing into a Vec cannot fail")
            }
        }
    }

    /// A whole record stream as it goes on the wire: compressed once, so that every retry
    /// re-sends the same bytes; without compression, the same buffer.
    pub(crate) fn encode_body(self, body: Bytes) -> Bytes {
        match self {
            Compression::None => body,
            other => Bytes::from(other.compress(&body)),
        }
    }

    /// Undoes `compress`, refusing to produce more than `limit` bytes (a guard against bombs).
    pub fn decompress(self, body: &[u8], limit: usize) -> std::io::Result<Vec<u8>> {
        match self {
            Compression::None => Ok(body.to_vec()),
            Compression::Deflate => {
                let mut out = Vec::new();
                ZlibDecoder::new(body)
                    .take(limit as u64 + 1)
                    .read_to_end(&mut out)?;
                if out.len() > limit {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("decompressed body exceeds {limit} bytes"),
                    ));
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_the_pyodps_vector() {
        // Two records of five columns (string, bigint, bigint, string, string) as pyodps's
        // pure-Python writer emits them, compressed by pyodps with zlib level 1.
        let pyodps = hex::decode("7801e3622c116090605062ccd6622c6b38f0bffecbf7dfc7b8b880a24c128c5a0c2091af0f17247cf8ffbf9ee50790787cfcf0494e000e4718d8").unwrap();
        let plain = hex::decode("0a01741000180022016b2a017680c0ff7ff4f7fbc60a0a0174100218012a0080c0ff7ff5e1a060f0ffff7f04f8ffff7fe3c7c3c909").unwrap();
        assert_eq!(
            Compression::Deflate.decompress(&pyodps, 1 << 20).unwrap(),
            plain
        );
        let ours = Compression::Deflate.compress(&plain);
        assert_eq!(&ours[..1], &[0x78], "a zlib header, not raw deflate");
        assert_eq!(
            Compression::Deflate.decompress(&ours, 1 << 20).unwrap(),
            plain
        );
        assert!(Compression::Deflate.decompress(&ours, 10).is_err());
    }

    #[test]
    fn maps_content_encoding() {
        assert_eq!(
            Compression::from_content_encoding(None),
            Some(Compression::None)
        );
        assert_eq!(
            Compression::from_content_encoding(Some("Deflate")),
            Some(Compression::Deflate)
        );
        assert_eq!(Compression::from_content_encoding(Some("zstd")), None);
        assert_eq!(Compression::Deflate.content_encoding(), Some("deflate"));
    }
}
