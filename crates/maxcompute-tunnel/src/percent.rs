//! The one percent-encoding this crate uses: for tunnel and REST URLs (path segments, query names
//! and values) and for the parameters of Alibaba's RPC signature (STS AssumeRole).
//!
//! Everything except the RFC 3986 unreserved characters `A-Z a-z 0-9 - _ . ~` is escaped, in
//! upper-case hex. Unlike `application/x-www-form-urlencoded`, a space becomes `%20` (never `+`),
//! `*` becomes `%2A` and `~` stays literal: Alibaba's "POP" rule for RPC signatures is exactly
//! this set, and a URL encoded with it means the same to every server.

use percent_encoding::{utf8_percent_encode, AsciiSet, PercentEncode, NON_ALPHANUMERIC};

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `text` (as UTF-8) percent-encoded; a `Display` value, so callers can write it into a buffer.
pub(crate) fn encode(text: &str) -> PercentEncode<'_> {
    utf8_percent_encode(text, UNRESERVED)
}
