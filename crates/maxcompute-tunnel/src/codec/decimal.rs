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

/// Checks `text` against `decimal(precision, scale)`.
///
/// Leading zeros of the integer part and trailing zeros of the fraction do not count, since
/// they do not change the value: `007.50` fits `decimal(3,1)`.
pub(crate) fn check_decimal(text: &str, precision: u8, scale: u8) -> Result<(), DecimalIssue> {
    let unsigned = text
        .strip_prefix('-')
        .or_else(|| text.strip_prefix('+'))
        .unwrap_or(text);
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(integer) || !fraction.is_none_or(all_digits) {
        return Err(DecimalIssue::Malformed);
    }
    let integer_digits = integer.trim_start_matches('0').len();
    let fraction_digits = fraction.map_or(0, |f| f.trim_end_matches('0').len());
    let max_integer = usize::from(precision.saturating_sub(scale));
    if integer_digits > max_integer || fraction_digits > usize::from(scale) {
        return Err(DecimalIssue::Overflow {
            integer_digits,
            fraction_digits,
        });
    }
    Ok(())
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
            assert_eq!(check_decimal(text, p, s), Ok(()), "{text} in ({p},{s})");
        }
    }

    #[test]
    fn rejects_text_that_is_not_a_plain_number() {
        for text in [
            "", "-", "+", ".5", "5.", "1e5", "1E+2", "1,5", " 1", "1 ", "--1", "0x10", "NaN",
            "1.2.3", "١",
        ] {
            assert_eq!(
                check_decimal(text, 38, 10),
                Err(DecimalIssue::Malformed),
                "{text:?}"
            );
        }
    }

    #[test]
    fn rejects_numbers_needing_rounding_or_overflowing() {
        assert_eq!(
            check_decimal("12.345", 10, 2),
            Err(DecimalIssue::Overflow {
                integer_digits: 2,
                fraction_digits: 3
            })
        );
        assert_eq!(
            check_decimal("123456789.1", 10, 2),
            Err(DecimalIssue::Overflow {
                integer_digits: 9,
                fraction_digits: 1
            })
        );
        assert_eq!(
            check_decimal("1", 2, 2),
            Err(DecimalIssue::Overflow {
                integer_digits: 1,
                fraction_digits: 0
            })
        );
    }
}
