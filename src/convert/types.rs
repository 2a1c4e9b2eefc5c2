//! Text to MaxCompute value, per scalar column type: the connector's conversion table
//! (`ConverterHelper#setRecordByType`, used by CSV and FLATTEN) with its strictness, plus the
//! types it does not support. Date and time text is read in `time_zone`. ARRAY, MAP and STRUCT
//! columns read JSON, which is `nested`'s part.

use base64::Engine;
use chrono::{NaiveDate, NaiveDateTime};
use maxcompute_tunnel::codec::{round_decimal, DecimalIssue};
use maxcompute_tunnel::{TypeInfo, Value};

use crate::zone::Zone;

/// MaxCompute's per-field limit for STRING, BINARY and JSON.
pub const MAX_FIELD_BYTES: usize = 8 * 1024 * 1024;

/// Why a text does not fit a column type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TypeError(pub String);

fn fail<T>(reason: String) -> Result<T, TypeError> {
    Err(TypeError(reason))
}

/// Shortens user data quoted in an error message.
pub fn excerpt(text: &str) -> String {
    const MAX: usize = 64;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head:?}...")
    }
}

/// True when CSV and FLATTEN can fill a column of this type.
pub fn supported(ty: &TypeInfo) -> bool {
    match ty {
        TypeInfo::Array(t) => supported(t),
        TypeInfo::Map(k, v) => supported(k) && supported(v),
        TypeInfo::Struct(fields) => fields.iter().all(|(_, t)| supported(t)),
        _ => true,
    }
}

/// Converts `text` for a column of the scalar type `ty`.
pub fn scalar(text: &str, ty: &TypeInfo, zone: &Zone) -> Result<Value, TypeError> {
    match ty {
        TypeInfo::String => {
            check_size(text.len())?;
            Ok(Value::String(text.to_string()))
        }
        TypeInfo::Varchar(n) | TypeInfo::Char(n) => {
            let chars = text.chars().count();
            if chars > *n as usize {
                return fail(format!(
                    "{} has {chars} characters, more than {ty} allows",
                    excerpt(text)
                ));
            }
            Ok(Value::String(text.to_string()))
        }
        TypeInfo::Bigint => integer(text, i64::MIN + 1, i64::MAX, ty),
        TypeInfo::Int => integer(text, i32::MIN.into(), i32::MAX.into(), ty),
        TypeInfo::Smallint => integer(text, i16::MIN.into(), i16::MAX.into(), ty),
        TypeInfo::Tinyint => integer(text, i8::MIN.into(), i8::MAX.into(), ty),
        TypeInfo::Double => double(text).map(Value::Double),
        TypeInfo::Float => {
            let v = double(text)?;
            let f = v as f32;
            if v.is_finite() && !f.is_finite() {
                return fail(format!("{} is outside the range of FLOAT", excerpt(text)));
            }
            Ok(Value::Float(f))
        }
        // Java's Boolean.valueOf: only "true" (any case) is true; the connector writes false
        // for everything else and so do we, to keep existing tables consistent.
        TypeInfo::Boolean => Ok(Value::Boolean(text.eq_ignore_ascii_case("true"))),
        TypeInfo::Decimal { precision, scale } => {
            let legacy = *precision > 38;
            let mut s = round_decimal(text, *precision, *scale)
                .map_err(|issue| decimal_error(text, *precision, *scale, issue))?;
            if legacy && s.contains('.') {
                // Bare `decimal` has no declared scale: keep only the digits that carry value.
                s = s.trim_end_matches('0').trim_end_matches('.').to_string();
            }
            Ok(Value::Decimal(s))
        }
        TypeInfo::Date => {
            let date = date(text)?;
            Ok(Value::Date(
                (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")).num_days(),
            ))
        }
        TypeInfo::Datetime => {
            let local = datetime(text, false)?;
            let instant = in_zone(text, local, zone)?;
            Ok(Value::Datetime(instant.timestamp_millis()))
        }
        TypeInfo::Timestamp | TypeInfo::TimestampNtz => {
            let local = datetime(text, true)?;
            let instant = if *ty == TypeInfo::TimestampNtz {
                local.and_utc()
            } else {
                in_zone(text, local, zone)?
            };
            Ok(Value::Timestamp {
                seconds: instant.timestamp(),
                nanos: instant.timestamp_subsec_nanos() as i32,
            })
        }
        TypeInfo::Json => {
            check_size(text.len())?;
            serde_json::from_str::<serde::de::IgnoredAny>(text)
                .map_err(|e| TypeError(format!("{} is not valid JSON ({e})", excerpt(text))))?;
            Ok(Value::Json(text.to_string()))
        }
        TypeInfo::Binary => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| {
                    TypeError(format!(
                        "{} is not base64 text, which BINARY columns need ({e})",
                        excerpt(text)
                    ))
                })?;
            check_size(bytes.len())?;
            Ok(Value::Binary(bytes))
        }
        TypeInfo::Array(_) | TypeInfo::Map(_, _) | TypeInfo::Struct(_) => fail(format!(
            "{} is text, but {ty} columns take JSON",
            excerpt(text)
        )),
    }
}

fn decimal_error(text: &str, precision: u8, scale: u8, issue: DecimalIssue) -> TypeError {
    TypeError(match issue {
        DecimalIssue::Malformed => format!("{text:?} is not a decimal number"),
        DecimalIssue::Overflow { integer_digits, .. } => format!(
            "{text:?} has {integer_digits} integer digits, more than decimal({precision},{scale}) allows ({})",
            precision.saturating_sub(scale)
        ),
    })
}

fn check_size(len: usize) -> Result<(), TypeError> {
    if len > MAX_FIELD_BYTES {
        return fail(format!(
            "the value is {len} bytes, more than MaxCompute's 8 MiB field limit"
        ));
    }
    Ok(())
}

/// Java `Long.valueOf`: an optional sign and ASCII digits, nothing else.
fn integer(text: &str, min: i64, max: i64, ty: &TypeInfo) -> Result<Value, TypeError> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return fail(format!(
            "{} is not a {} (expected an optional sign and digits only)",
            excerpt(text),
            ty.to_string().to_uppercase()
        ));
    }
    match text.parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => Ok(Value::Int(v)),
        _ => fail(format!(
            "{} is outside the range of {} ({min} to {max})",
            excerpt(text),
            ty.to_string().to_uppercase()
        )),
    }
}

/// The connector's DOUBLE rule: `nan`, `inf`, `-inf` exactly, else Java `Double.valueOf`
/// (surrounding whitespace, `NaN`, `Infinity`, exponents and a `d`/`f` suffix allowed).
fn double(text: &str) -> Result<f64, TypeError> {
    match text {
        "nan" => return Ok(f64::NAN),
        "inf" => return Ok(f64::INFINITY),
        "-inf" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    let trimmed = text.trim_matches(|c: char| c <= ' ');
    let unsigned = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    let negative = trimmed.starts_with('-');
    match unsigned {
        "NaN" => return Ok(f64::NAN),
        "Infinity" => {
            return Ok(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        _ => {}
    }
    let body = trimmed
        .strip_suffix(['d', 'D', 'f', 'F'])
        .unwrap_or(trimmed);
    let plain = body
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    match body.parse::<f64>() {
        Ok(v) if plain && body.bytes().any(|b| b.is_ascii_digit()) => {
            if v.is_infinite() {
                return fail(format!("{} is outside the range of DOUBLE", excerpt(text)));
            }
            Ok(v)
        }
        _ => fail(format!("{} is not a DOUBLE", excerpt(text))),
    }
}

fn shape_ok(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(t, p)| match p {
            b'd' => t.is_ascii_digit(),
            other => t == other,
        })
}

/// ISO `yyyy-MM-dd`.
fn date(text: &str) -> Result<NaiveDate, TypeError> {
    if !shape_ok(text, "dddd-dd-dd") {
        return fail(format!(
            "{} is not a DATE (expected yyyy-MM-dd)",
            excerpt(text)
        ));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| TypeError(format!("{} is not a valid date ({e})", excerpt(text))))
}

/// `yyyy-MM-dd HH:mm:ss`, and with `fraction` a `.` and 1 to 9 fractional digits.
fn datetime(text: &str, fraction: bool) -> Result<NaiveDateTime, TypeError> {
    let expected = if fraction {
        "a TIMESTAMP (expected yyyy-MM-dd HH:mm:ss.f with 1 to 9 fractional digits)"
    } else {
        "a DATETIME (expected yyyy-MM-dd HH:mm:ss)"
    };
    let (base, frac) = match text.split_at_checked(19) {
        Some((base, rest)) => (base, rest),
        None => return fail(format!("{} is not {expected}", excerpt(text))),
    };
    let frac_ok = if fraction {
        frac.strip_prefix('.')
            .is_some_and(|d| (1..=9).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
    } else {
        frac.is_empty()
    };
    if !shape_ok(base, "dddd-dd-dd dd:dd:dd") || !frac_ok {
        return fail(format!("{} is not {expected}", excerpt(text)));
    }
    let parsed = NaiveDateTime::parse_from_str(base, "%Y-%m-%d %H:%M:%S").map_err(|e| {
        TypeError(format!(
            "{} is not a valid date and time ({e})",
            excerpt(text)
        ))
    })?;
    if frac.is_empty() {
        return Ok(parsed);
    }
    let digits = &frac[1..];
    let nanos: u32 = format!("{digits:0<9}").parse().expect("nine ASCII digits");
    Ok(parsed + chrono::Duration::nanoseconds(i64::from(nanos)))
}

fn in_zone(
    text: &str,
    local: NaiveDateTime,
    zone: &Zone,
) -> Result<chrono::DateTime<chrono::Utc>, TypeError> {
    zone.instant(local).ok_or_else(|| {
        TypeError(format!(
            "{} does not exist in time zone {zone}",
            excerpt(text)
        ))
    })
}
