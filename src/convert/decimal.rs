//! DECIMAL(p,s) from text, digit by digit and never through a float: rounded HALF_UP to the
//! column's scale (as a SQL cast does), rejected when the integer digits exceed `p - s`.

/// Java `BigDecimal` text: `[+-]digits[.digits][(e|E)[+-]digits]`, at least one digit.
pub fn parse(text: &str, precision: u8, scale: u8) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut digits = String::new();
    let mut fraction_len: i64 = 0;
    let mut seen_point = false;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => {
                digits.push(bytes[i] as char);
                if seen_point {
                    fraction_len += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if digits.is_empty() {
        return Err(format!("{text:?} is not a decimal number"));
    }
    let mut exponent: i64 = 0;
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        let exp_text = &text[i + 1..];
        exponent = exp_text
            .parse::<i64>()
            .ok()
            .filter(|e| e.abs() <= 10_000 && !exp_text.is_empty())
            .ok_or_else(|| format!("{text:?} has an invalid or out-of-range exponent"))?;
        i = bytes.len();
    }
    if i != bytes.len() {
        return Err(format!("{text:?} is not a decimal number"));
    }

    // value = digits * 10^(exponent - fraction_len); rescale to `scale` fraction digits.
    let scale = i64::from(scale);
    let shift = exponent - fraction_len + scale;
    let mut scaled: Vec<u8> = digits.into_bytes();
    if shift >= 0 {
        scaled.extend(std::iter::repeat_n(b'0', shift as usize));
    } else {
        let drop = (-shift) as usize;
        let round_up = if drop > scaled.len() {
            false
        } else {
            scaled[scaled.len() - drop] >= b'5'
        };
        scaled.truncate(scaled.len().saturating_sub(drop));
        if round_up {
            increment(&mut scaled);
        }
    }
    let scaled = String::from_utf8(scaled).expect("digits are ASCII");
    let scaled = scaled.trim_start_matches('0');
    let scale = scale as usize;
    let (int_part, frac_part) = if scaled.len() > scale {
        scaled.split_at(scaled.len() - scale)
    } else {
        ("", scaled)
    };
    let max_int_digits = usize::from(precision).saturating_sub(scale);
    if int_part.len() > max_int_digits {
        return Err(format!(
            "{text:?} has {} integer digits, more than decimal({precision},{scale}) allows ({max_int_digits})",
            int_part.len()
        ));
    }
    let frac = format!("{frac_part:0>scale$}");
    let is_zero = int_part.is_empty() && frac.bytes().all(|b| b == b'0');
    let mut out = String::new();
    if negative && !is_zero {
        out.push('-');
    }
    out.push_str(if int_part.is_empty() { "0" } else { int_part });
    if scale > 0 {
        out.push('.');
        out.push_str(&frac);
    }
    Ok(out)
}

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

#[cfg(test)]
mod tests {
    use super::parse;

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
                parse(text, p, s).unwrap(),
                expected,
                "{text} as decimal({p},{s})"
            );
        }
    }

    #[test]
    fn rejects_overflow_and_bad_text() {
        assert!(parse("1000", 5, 2)
            .unwrap_err()
            .contains("4 integer digits"));
        assert!(
            parse("999.995", 5, 2).is_err(),
            "rounding must not hide overflow"
        );
        for bad in [
            "", "-", "abc", "1.2.3", "1e", "1e99999", " 1", "1 ", "0x10", "1,5",
        ] {
            assert!(parse(bad, 10, 2).is_err(), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::parse;

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
            prop_assert_eq!(parse(&input, 38, scale as u8).unwrap(), reference(units, digits, scale));
        }

        #[test]
        fn exponent_form_equals_plain_form(units in any::<i32>(), exp in -8i32..8, scale in 0u32..10) {
            let plain = if exp >= 0 {
                format!("{units}{}", "0".repeat(exp as usize))
            } else {
                text(i64::from(units), exp.unsigned_abs())
            };
            prop_assert_eq!(
                parse(&format!("{units}E{exp}"), 38, scale as u8).unwrap(),
                parse(&plain, 38, scale as u8).unwrap()
            );
        }
    }
}
