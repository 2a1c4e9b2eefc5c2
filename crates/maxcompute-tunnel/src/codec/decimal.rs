//! Validation of DECIMAL text. Values travel as plain decimal strings (java `toPlainString`,
//! python `str(Decimal)`); the codec checks that the text is a number that fits the column
//! instead of rounding it, because silently changing money amounts is worse than refusing a row.

/// Why a decimal text does not fit its column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalIssue {
    /// Not `[+-]digits[.digits]`.
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
    let unsigned = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) if notation == Notation::AllowExponent => (m, parse_exponent(e)?),
        Some(_) => return Err(DecimalIssue::Malformed),
        None => (unsigned, 0),
    };
    let (integer, fraction) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let has_point = mantissa.len() != integer.len();
    if integer.is_empty() || (has_point && fraction.is_empty()) {
        return Err(DecimalIssue::Malformed);
    }
    if !all_digits(integer) || !all_digits(fraction) {
        return Err(DecimalIssue::Malformed);
    }
    // Place the significant digits relative to the decimal point, after the exponent moved it.
    let digits = || integer.bytes().chain(fraction.bytes());
    let Some(first) = digits().position(|b| b != b'0') else {
        return Ok(()); // zero fits every decimal
    };
    let last = digits().count() - 1 - digits().rev().position(|b| b != b'0').unwrap_or(0);
    let point = integer.len() as i64 + exponent;
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
