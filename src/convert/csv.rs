//! CSV format: the first non-empty record of the key or value, one field per user column, each
//! through the type table.
//!
//! The reader is written here rather than taken from the `csv` crate on purpose: the connector
//! reads with javacsv, whose rules differ from RFC 4180 readers in ways that change the data
//! (unquoted fields trimmed but quoted ones kept verbatim, text after a closing quote dropped,
//! `\N` as NULL), and existing tables were filled with those rules.

use maxcompute_tunnel::Value;

use super::error::Reason;
use super::spread::Spread;
use super::{nested, types};

/// javacsv's safety switch: a longer field is an error rather than unbounded memory.
pub const MAX_FIELD_CHARS: usize = 100_000;

/// Fills the user columns of `row` from the part's text, which must not be null.
pub fn fill(text: Option<&str>, into: &Spread<'_>, row: &mut [Value]) -> Result<(), Reason> {
    let Some(text) = text else {
        return Err(Reason::Null {
            part: into.part,
            format: "CSV",
        });
    };
    let fields = first_record(text)?;
    if fields.len() != into.columns.len() {
        return Err(Reason::CsvFieldCount {
            expected: into.columns.len(),
            found: fields.len(),
            data: types::excerpt(text),
        });
    }
    for (field, column) in fields.into_iter().zip(into.columns) {
        let Some(field) = field else { continue };
        row[column.index] = nested::from_text(&field, &column.type_info, into.zone)
            .map_err(|e| Reason::column(&column.name, e))?;
    }
    Ok(())
}

/// The fields of the first non-empty record; `None` is a `\N` field (NULL).
pub fn first_record(text: &str) -> Result<Vec<Option<String>>, Reason> {
    let mut chars = text.chars().peekable();
    // Skip blank lines before the first record, as javacsv's SkipEmptyRecords does.
    while chars
        .peek()
        .is_some_and(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
    {
        chars.next();
    }
    if chars.peek().is_none() {
        return Err(Reason::CsvEmpty);
    }
    let mut fields = Vec::new();
    loop {
        let (field, end) = read_field(&mut chars)?;
        fields.push(if field == "\\N" { None } else { Some(field) });
        if end {
            return Ok(fields);
        }
    }
}

/// Reads one field; the flag is true when the record ended after it.
fn read_field(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<(String, bool), Reason> {
    while chars.peek().is_some_and(|c| matches!(c, ' ' | '\t')) {
        chars.next();
    }
    let mut field = String::new();
    let mut count = 0usize;
    let mut push = |field: &mut String, c: char| {
        count += 1;
        if count > MAX_FIELD_CHARS {
            return Err(Reason::CsvFieldTooLong {
                max: MAX_FIELD_CHARS,
            });
        }
        field.push(c);
        Ok(())
    };
    if chars.peek() == Some(&'"') {
        chars.next();
        loop {
            match chars.next() {
                None => return Ok((field, true)),
                Some('"') if chars.peek() == Some(&'"') => {
                    chars.next();
                    push(&mut field, '"')?;
                }
                Some('"') => break,
                Some(c) => push(&mut field, c)?,
            }
        }
        // javacsv drops whatever follows the closing quote up to the next delimiter.
        loop {
            match chars.next() {
                None | Some('\r' | '\n') => return Ok((field, true)),
                Some(',') => return Ok((field, false)),
                Some(_) => {}
            }
        }
    }
    loop {
        match chars.next() {
            None | Some('\r' | '\n') => {
                return Ok((field.trim_end_matches([' ', '\t']).to_string(), true))
            }
            Some(',') => return Ok((field.trim_end_matches([' ', '\t']).to_string(), false)),
            Some(c) => push(&mut field, c)?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Vec<Option<String>> {
        first_record(text).unwrap()
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn javacsv_rules() {
        assert_eq!(
            parse("1103,zhangsan,china"),
            [s("1103"), s("zhangsan"), s("china")]
        );
        assert_eq!(parse(" a , b\t,c "), [s("a"), s("b"), s("c")]);
        assert_eq!(parse(r#""a,b"," x ""q"" ""#), [s("a,b"), s(r#" x "q" "#)]);
        assert_eq!(parse("\"multi\nline\",2"), [s("multi\nline"), s("2")]);
        assert_eq!(parse(r#""ab"junk,c"#), [s("ab"), s("c")]);
        assert_eq!(
            parse(r"a\,b"),
            [s(r"a\"), s("b")],
            "backslash is not an escape"
        );
        assert_eq!(parse(r#"\N,"\N",,"""#), [None, None, s(""), s("")]);
        assert_eq!(parse("a,b,"), [s("a"), s("b"), s("")]);
        assert_eq!(parse("\r\n\n  \nfirst,1\nsecond,2"), [s("first"), s("1")]);
        assert_eq!(parse("x\r\ny"), [s("x")]);
        assert_eq!(parse(r#""unterminated"#), [s("unterminated")]);
    }

    #[test]
    fn empty_and_oversized_input() {
        assert_eq!(first_record("").unwrap_err(), Reason::CsvEmpty);
        assert_eq!(first_record(" \r\n\t\n").unwrap_err(), Reason::CsvEmpty);
        let long = "x".repeat(MAX_FIELD_CHARS + 1);
        assert_eq!(
            first_record(&long).unwrap_err(),
            Reason::CsvFieldTooLong {
                max: MAX_FIELD_CHARS
            }
        );
        assert!(first_record(&"x".repeat(MAX_FIELD_CHARS)).is_ok());
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::first_record;

    proptest! {
        /// Any fields, quoted with doubled quotes, read back verbatim: commas, quotes, line
        /// breaks and surrounding spaces inside quotes are data.
        #[test]
        fn quoted_fields_round_trip(fields in proptest::collection::vec("[ a-z,\"\r\n\t\\\\é]{0,12}", 1..6)) {
            prop_assume!(fields.iter().all(|f| f != "\\N"));
            let line = fields
                .iter()
                .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(",");
            let parsed = first_record(&line).unwrap();
            let expected: Vec<Option<String>> = fields.into_iter().map(Some).collect();
            prop_assert_eq!(parsed, expected);
        }

        /// Unquoted fields are trimmed of spaces and tabs on both sides.
        #[test]
        fn unquoted_fields_are_trimmed(fields in proptest::collection::vec("[a-z0-9]{1,8}", 1..6), pad in "[ \t]{0,3}") {
            let line = fields.iter().map(|f| format!("{pad}{f}{pad}")).collect::<Vec<_>>().join(",");
            let expected: Vec<Option<String>> = fields.into_iter().map(Some).collect();
            prop_assert_eq!(first_record(&line).unwrap(), expected);
        }
    }
}
