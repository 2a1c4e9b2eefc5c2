//! Request bodies to validated record streams, and rows back to streams for downloads, using the
//! tunnel crate's codec: the emulator has no codec of its own, so it checks uploads with exactly
//! the rules the client encodes by.
//!
//! Choice where MaxCompute is unclear: a STRING value whose bytes are not UTF-8 is **accepted**
//! (MaxCompute stores STRING as bytes, and the Java and Go SDKs write arbitrary bytes to STRING
//! columns); it is kept as bytes and read back as such. VARCHAR, CHAR and JSON values must be
//! UTF-8 and JSON values must parse, as the service requires.

use maxcompute_tunnel::codec::{self, DecodeError, DecodeOptions, InvalidUtf8, RecordEncoder};
use maxcompute_tunnel::{Compression, TableSchema, Value};
use std::sync::Arc;

use crate::error::{ErrorCode, OdpsError};

/// Largest decompressed body accepted; a bound against zip bombs, far above any test's block.
const MAX_DECOMPRESSED: usize = 1 << 30;

/// An upload body that passed every check.
#[derive(Debug)]
pub struct ValidBody {
    /// The uncompressed record stream, to be stored as is.
    pub stream: Vec<u8>,
    pub record_count: u64,
}

fn options(max_field_size: usize) -> DecodeOptions {
    DecodeOptions {
        max_field_size,
        invalid_utf8: InvalidUtf8::AsBinary,
    }
}

/// Undoes `Content-Encoding` and strictly decodes the stream: any defect is `MalformedDataStream`
/// with the decoder's description.
pub fn validate_body(
    schema: &TableSchema,
    body: &[u8],
    content_encoding: Option<&str>,
    max_field_size: usize,
) -> Result<ValidBody, OdpsError> {
    let encoding = content_encoding.map(str::trim).filter(|e| !e.is_empty());
    let stream = match encoding {
        None => body.to_vec(),
        Some(name) => {
            let compression = Compression::from_content_encoding(Some(name)).ok_or_else(|| {
                OdpsError::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "Content-Encoding `{name}` is not supported (the emulator accepts deflate)"
                    ),
                )
            })?;
            compression
                .decompress(body, MAX_DECOMPRESSED)
                .map_err(|e| {
                    OdpsError::new(
                        ErrorCode::MalformedDataStream,
                        format!("the {name} body cannot be decompressed: {e}"),
                    )
                })?
        }
    };
    let rows = codec::decode_stream_with(schema, &stream, &options(max_field_size))
        .map_err(|e| OdpsError::new(ErrorCode::MalformedDataStream, describe(&e)))?;
    Ok(ValidBody {
        record_count: rows.len() as u64,
        stream,
    })
}

fn describe(e: &DecodeError) -> String {
    format!("the record stream is invalid: {e}")
}

/// Decodes a stream that was validated when it was stored.
pub fn decode_stored(schema: &TableSchema, stream: &[u8]) -> Result<Vec<Vec<Value>>, DecodeError> {
    codec::decode_stream_with(schema, stream, &options(usize::MAX))
}

/// Encodes rows for a download response.
pub fn encode_rows(schema: Arc<TableSchema>, rows: &[Vec<Value>]) -> Result<Vec<u8>, OdpsError> {
    let mut encoder = RecordEncoder::new(schema).with_max_field_size(usize::MAX);
    for row in rows {
        encoder.append(row).map_err(|e| {
            OdpsError::new(
                ErrorCode::InternalServerError,
                format!("stored row cannot be re-encoded: {e}"),
            )
        })?;
    }
    Ok(encoder.finish())
}
