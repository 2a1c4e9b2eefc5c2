//! DECIMAL text, parsed digit by digit and never through a float. Values travel as plain
//! decimal strings (java `toPlainString`, python `str(Decimal)`). The codec only checks that a
//! text is a number that fits the column, because silently changing money amounts is worse than
//! refusing a row; writers that read decimals from user text round them to the column's scale
//! first, HALF_UP as a SQL cast does ([`round_decimal`]).

/// Why a decimal text does not fit its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalIssue {
    /// Not a number in the accepted notation.
    Malformed,
    /// A number, but with more significant digits than `decimal(p,s)` holds.
    Overflow {
        integer_digits: usize,
        fraction_digits: usize,
    },
}

/// Which spellings of a decimal are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notation {
    /// `[+-]digits[.digits]`: what the encoder sends, like Java's `toPlainString`.
    Plain,
    /// Plain, or with an exponent (`1E-7`): python's `str(Decimal)` switches to it for small
    /// numbers, so pyodps sends it, and the service (Java `BigDecimal`) accepts it.
    AllowExponent,
    /// Java `BigDecimal` text: like `AllowExponent`, and either side of the point may be empty
    /// (`.5`, `5.`), as long as there is a digit.
    BigDecimal,
}

/// A decimal text taken apart: `±integer.fraction × 10^exponent`, digits still as written.
struct Parsed<'a> {
    negative: bool,
    integer: &'a str,
    fraction: &'a str,
    exponent: i64,
}

impl Parsed<'_> {
    fn digits(&self) -> impl DoubleEndedIterator<Item = u8> + Clone + '_ {
        self.integer.bytes().chain(self.fraction.bytes())
    }
}

fn parse(text: &str, notation: Notation) -> Result<Parsed<'_>, DecimalIssue> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) if notation != Notation::Plain => (m, parse_exponent(e)?),
        Some(_) => return Err(DecimalIssue::Malformed),
        None => (unsigned, 0),
    };
    let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(integer) || !all_digits(fraction) {
        return Err(DecimalIssue::Malformed);
    }
    let has_point = mantissa.len() != integer.len();
    let incomplete = match notation {
        Notation::BigDecimal => integer.is_empty() && fraction.is_empty(),
        Notation::Plain | Notation::AllowExponent => {
            integer.is_empty() || (has_point && fraction.is_empty())
        }
    };
    if incomplete {
        return Err(DecimalIssue::Malformed);
    }
    Ok(Parsed {
        negative,
        integer,
        fraction,
        exponent,
    })
}

/// Checks `text` against `decimal(precision, scale)`.
///
/// Leading zeros of the integer part and trailing zeros of the fraction do not count, since
/// they do not change the value: `007.50` fits `decimal(3,1)`.
pub(crate) fn check_decimal(
    text: &str,
    precision: u8,
    scale: u8,
    notation: Notation,
) -> Result<(), DecimalIssue> {
    let parsed = parse(text, notation)?;
    let digits = || parsed.digits();
    let Some(first) = digits().position(|b| b != b'0') else {
        return Ok(()); // zero fits every decimal
    };
    // Place the significant digits relative to the decimal point, after the exponent moved it.
    let last = digits().count() - 1 - digits().rev().position(|b| b != b'0').unwrap_or(0);
    let point = parsed.integer.len() as i64 + parsed.exponent;
    let integer_digits = (point - first as i64).max(0);
    let fraction_digits = (last as i64 + 1 - point).max(0);
    let max_integer = i64::from(precision.saturating_sub(scale));
    if integer_digits > max_integer || fraction_digits > i64::from(scale) {
        return Err(DecimalIssue::Overflow {
            integer_digits: usize::try_from(integer_digits).unwrap_or(usize::MAX),
            fraction_digits: usize::try_from(fraction_digits).unwrap_or(usize::MAX),
        });
    }
    Ok(())
}

/// Reads Java `BigDecimal` text (`[+-]digits[.digits][(e|E)[+-]digits]`) as a value of
/// `decimal(precision, scale)`: rounded HALF_UP to `scale` fraction digits, as a SQL cast does,
/// and refused when its integer digits exceed `precision - scale`. The result is plain text
/// with exactly `scale` fraction digits, which the encoder accepts as it is.
pub fn round_decimal(text: &str, precision: u8, scale: u8) -> Result<String, DecimalIssue> {
    let parsed = parse(text, Notation::BigDecimal)?;
    let digits: Vec<u8> = parsed.digits().skip_while(|&b| b == b'0').collect();
    let scale_len = usize::from(scale);
    let max_integer = usize::from(precision).saturating_sub(scale_len);
    let overflow = |integer_digits: usize| DecimalIssue::Overflow {
        integer_digits,
        fraction_digits: 0,
    };

    // value = digits × 10^(exponent - fraction digits); scaled, it has `shift` more digits.
    let shift = parsed.exponent - parsed.fraction.len() as i64 + i64::from(scale);
    let mut scaled = if shift >= 0 {
        let shift = usize::try_from(shift).unwrap_or(usize::MAX);
        // Checked before the zeros are written, so a huge exponent costs no memory.
        let integer_digits = if digits.is_empty() {
            0
        } else {
            digits.len().saturating_add(shift).saturating_sub(scale_len)
        };
        if integer_digits > max_integer {
            return Err(overflow(integer_digits));
        }
        let mut scaled = digits;
        if !scaled.is_empty() {
            scaled.resize(scaled.len() + shift, b'0');
        }
        scaled
    } else {
        let drop = usize::try_from(shift.unsigned_abs()).unwrap_or(usize::MAX);
        let kept = digits.len().saturating_sub(drop);
        let round_up = drop <= digits.len() && digits[kept] >= b'5';
        let mut scaled = digits;
        scaled.truncate(kept);
        if round_up {
            increment(&mut scaled);
        }
        scaled
    };
    if scaled.len() > scale_len + max_integer {
        return Err(overflow(scaled.len() - scale_len));
    }

    let frac_start = scaled.len().saturating_sub(scale_len);
    let fraction = scaled.split_off(frac_start);
    let integer = scaled;
    let is_zero = integer.is_empty() && fraction.iter().all(|&b| b == b'0');
    let mut out = String::with_capacity(integer.len() + scale_len + 3);
    if parsed.negative && !is_zero {
        out.push('-');
    }
    if integer.is_empty() {
        out.push('0');
    }
    out.extend(integer.iter().map(|&b| char::from(b)));
    if scale_len > 0 {
        out.push('.');
        out.extend(std::iter::repeat_n('0', scale_len - fraction.len()));
        out.extend(fraction.iter().map(|&b| char::from(b)));
    }
    Ok(out)
}

/// Adds one unit in the last place of a digit string.
fn increment(digits: &mut Vec<u8>) {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
    digits.insert(0, b'1');
}

/// An exponent of at most nine digits. Longer ones are refused as malformed: no decimal(p,s)
/// holds such a value, and refusing them keeps the digit arithmetic far from overflow.
fn parse_exponent(text: &str) -> Result<i64, DecimalIssue> {
    let digits = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecimalIssue::Malformed);
    }
    text.parse().map_err(|_| DecimalIssue::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_numbers_that_fit() {
        for (text, p, s) in [
            ("12.34", 10, 2),
            ("-12.34", 4, 2),
            ("+1", 1, 0),
            ("0", 1, 0),
            ("0.5", 1, 1),
            ("007.50", 3, 1),
            ("99999999.99", 10, 2),
            ("-0.00", 2, 2),
        ] {
            assert_eq!(
                check_decimal(text, p, s, Notation::Plain),
                Ok(()),
                "{text} in ({p},{s})"
            );
        }
    }

    #[test]
    fn rejects_text_that_is_not_a_plain_number() {
        for text in [
            "", "-", "+", ".5", "5.", "1e5", "1E+2", "1,5", " 1", "1 ", "--1", "0x10", "NaN",
            "1.2.3", "١",
        ] {
            assert_eq!(
                check_decimal(text, 38, 10, Notation::Plain),
                Err(DecimalIssue::Malformed),
                "{text:?}"
            );
        }
    }

    #[test]
    fn rejects_numbers_needing_rounding_or_overflowing() {
        assert_eq!(
            check_decimal("12.345", 10, 2, Notation::Plain),
            Err(DecimalIssue::Overflow {
                integer_digits: 2,
                fraction_digits: 3
            })
        );
        assert_eq!(
            check_decimal("123456789.1", 10, 2, Notation::Plain),
            Err(DecimalIssue::Overflow {
                integer_digits: 9,
                fraction_digits: 1
            })
        );
        assert_eq!(
            check_decimal("1", 2, 2, Notation::Plain),
            Err(DecimalIssue::Overflow {
                integer_digits: 1,
                fraction_digits: 0
            })
        );
    }

    #[test]
    fn exponents_only_where_allowed_and_by_value() {
        use Notation::AllowExponent as E;
        for (text, p, s) in [
            ("1E-7", 10, 7),
            ("1.5E+2", 3, 0),
            ("-12.5e1", 3, 0),
            ("0E-30", 1, 0),
            ("0E+999999999", 1, 0),
            ("1234E-2", 4, 2),
        ] {
            assert_eq!(check_decimal(text, p, s, E), Ok(()), "{text} in ({p},{s})");
            assert_eq!(
                check_decimal(text, p, s, Notation::Plain),
                Err(DecimalIssue::Malformed),
                "{text} is not plain"
            );
        }
        assert_eq!(
            check_decimal("1E-7", 10, 6, E),
            Err(DecimalIssue::Overflow {
                integer_digits: 0,
                fraction_digits: 7
            })
        );
        assert_eq!(
            check_decimal("1E+3", 5, 2, E),
            Err(DecimalIssue::Overflow {
                integer_digits: 4,
                fraction_digits: 0
            })
        );
        for bad in ["1E", "1E+", "E5", "1E1.5", "1E1234567890", "1e--1"] {
            assert_eq!(
                check_decimal(bad, 38, 2, E),
                Err(DecimalIssue::Malformed),
                "{bad}"
            );
        }
    }
}

#[cfg(test)]
mod rounding {
    use super::{round_decimal, DecimalIssue};

    #[test]
    fn rescales_and_rounds_half_up() {
        let cases = [
            ("1", 10, 2, "1.00"),
            ("-12.345", 10, 2, "-12.35"),
            ("12.344", 10, 2, "12.34"),
            ("+0.005", 10, 2, "0.01"),
            ("-0.004", 10, 2, "0.00"),
            ("9.995", 5, 2, "10.00"),
            ("1.5E2", 10, 0, "150"),
            ("1234.5e-3", 10, 3, "1.235"),
            (".5", 3, 1, "0.5"),
            ("5.", 3, 1, "5.0"),
            (
                "12345678901234567890.123456789",
                38,
                9,
                "12345678901234567890.123456789",
            ),
            ("0.0000000000000000001", 38, 18, "0.000000000000000000"),
        ];
        for (text, p, s, expected) in cases {
            assert_eq!(
                round_decimal(text, p, s).unwrap(),
                expected,
                "{text} as decimal({p},{s})"
            );
        }
    }

    #[test]
    fn rejects_overflow_and_bad_text() {
        assert_eq!(
            round_decimal("1000", 5, 2),
            Err(DecimalIssue::Overflow {
                integer_digits: 4,
                fraction_digits: 0
            })
        );
        assert!(
            round_decimal("999.995", 5, 2).is_err(),
            "rounding must not hide overflow"
        );
        for bad in [
            "", "-", "abc", "1.2.3", "1e", "1e99999", " 1", "1 ", "0x10", "1,5",
        ] {
            assert!(round_decimal(bad, 10, 2).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn huge_exponents_cost_no_memory() {
        assert_eq!(
            round_decimal("1e999999999", 38, 2),
            Err(DecimalIssue::Overflow {
                integer_digits: 1_000_000_000,
                fraction_digits: 0
            })
        );
        assert_eq!(round_decimal("-1e-999999999", 10, 2).unwrap(), "0.00");
        assert_eq!(round_decimal("0e999999999", 10, 2).unwrap(), "0.00");
        assert_eq!(
            round_decimal("1e1234567890", 10, 2),
            Err(DecimalIssue::Malformed),
            "an exponent of ten digits is refused like the encoder's"
        );
    }
}

#[cfg(test)]
mod rounding_properties {
    use proptest::prelude::*;

    use super::{check_decimal, round_decimal, Notation};

    /// HALF_UP rounding of `units / 10^digits` to `scale` fraction digits, in integers.
    fn reference(units: i64, digits: u32, scale: u32) -> String {
        let negative = units < 0;
        let magnitude = i128::from(units).abs();
        let scaled = if scale >= digits {
            magnitude * 10_i128.pow(scale - digits)
        } else {
            let divisor = 10_i128.pow(digits - scale);
            let (q, r) = (magnitude / divisor, magnitude % divisor);
            if r * 2 >= divisor {
                q + 1
            } else {
                q
            }
        };
        let text = format!("{scaled:0>width$}", width = scale as usize + 1);
        let (int, frac) = text.split_at(text.len() - scale as usize);
        let sign = if negative && scaled != 0 { "-" } else { "" };
        if scale == 0 {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    }

    fn text(units: i64, digits: u32) -> String {
        let magnitude = format!(
            "{:0>width$}",
            units.unsigned_abs(),
            width = digits as usize + 1
        );
        let (int, frac) = magnitude.split_at(magnitude.len() - digits as usize);
        let sign = if units < 0 { "-" } else { "" };
        if digits == 0 {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac}")
        }
    }

    proptest! {
        #[test]
        fn matches_integer_half_up_rounding(units in any::<i64>(), digits in 0u32..12, scale in 0u32..12) {
            let input = text(units, digits);
            prop_assert_eq!(round_decimal(&input, 38, scale as u8).unwrap(), reference(units, digits, scale));
        }

        #[test]
        fn rounded_text_passes_the_encoders_check(units in any::<i64>(), digits in 0u32..20, precision in 1u8..=38, scale in 0u8..=38) {
            prop_assume!(scale <= precision);
            if let Ok(rounded) = round_decimal(&text(units, digits), precision, scale) {
                prop_assert_eq!(check_decimal(&rounded, precision, scale, Notation::Plain), Ok(()), "{}", rounded);
            }
        }

        #[test]
        fn exponent_form_equals_plain_form(units in any::<i32>(), exp in -8i32..8, scale in 0u32..10) {
            let plain = if exp >= 0 {
                format!("{units}{}", "0".repeat(exp as usize))
            } else {
                text(i64::from(units), exp.unsigned_abs())
            };
            prop_assert_eq!(
                round_decimal(&format!("{units}E{exp}"), 38, scale as u8).unwrap(),
                round_decimal(&plain, 38, scale as u8).unwrap()
            );
        }
    }
}
