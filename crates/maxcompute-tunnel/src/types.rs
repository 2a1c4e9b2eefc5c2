//! MaxCompute column types, parsed from DDL type strings such as `decimal(10,2)` or
//! `map<string,array<bigint>>` (case-insensitive, as every SDK parses them).

use std::fmt;

/// A MaxCompute column type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TypeInfo {
    Bigint,
    Int,
    Smallint,
    Tinyint,
    Double,
    Float,
    Boolean,
    String,
    /// `varchar(n)`: at most `n` characters.
    Varchar(u32),
    /// `char(n)`: at most `n` characters.
    Char(u32),
    Binary,
    /// Milliseconds since the Unix epoch.
    Datetime,
    /// Days since 1970-01-01.
    Date,
    Timestamp,
    TimestampNtz,
    /// `decimal(precision, scale)`; a bare `decimal` is MaxCompute's legacy `decimal(54,18)`.
    Decimal {
        precision: u8,
        scale: u8,
    },
    Json,
    Array(Box<TypeInfo>),
    Map(Box<TypeInfo>, Box<TypeInfo>),
    Struct(Vec<(String, TypeInfo)>),
}

/// A type string that is not a MaxCompute type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MaxCompute type `{input}`: {reason}")]
pub struct TypeParseError {
    pub input: String,
    pub reason: String,
}

impl TypeInfo {
    /// Parses a MaxCompute type string, case-insensitively, ignoring whitespace between tokens.
    pub fn parse(input: &str) -> Result<TypeInfo, TypeParseError> {
        let mut parser = Parser { src: input, pos: 0 };
        let ty = parser.parse_type().map_err(|reason| TypeParseError {
            input: input.to_string(),
            reason,
        })?;
        parser.skip_ws();
        if parser.pos != input.len() {
            return Err(TypeParseError {
                input: input.to_string(),
                reason: format!("unexpected trailing text `{}`", &input[parser.pos..]),
            });
        }
        Ok(ty)
    }
}

impl fmt::Display for TypeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeInfo::Bigint => f.write_str("bigint"),
            TypeInfo::Int => f.write_str("int"),
            TypeInfo::Smallint => f.write_str("smallint"),
            TypeInfo::Tinyint => f.write_str("tinyint"),
            TypeInfo::Double => f.write_str("double"),
            TypeInfo::Float => f.write_str("float"),
            TypeInfo::Boolean => f.write_str("boolean"),
            TypeInfo::String => f.write_str("string"),
            TypeInfo::Varchar(n) => write!(f, "varchar({n})"),
            TypeInfo::Char(n) => write!(f, "char({n})"),
            TypeInfo::Binary => f.write_str("binary"),
            TypeInfo::Datetime => f.write_str("datetime"),
            TypeInfo::Date => f.write_str("date"),
            TypeInfo::Timestamp => f.write_str("timestamp"),
            TypeInfo::TimestampNtz => f.write_str("timestamp_ntz"),
            TypeInfo::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            TypeInfo::Json => f.write_str("json"),
            TypeInfo::Array(t) => write!(f, "array<{t}>"),
            TypeInfo::Map(k, v) => write!(f, "map<{k},{v}>"),
            TypeInfo::Struct(fields) => {
                f.write_str("struct<")?;
                for (i, (name, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{name}:{t}")?;
                }
                f.write_str(">")
            }
        }
    }
}

impl std::str::FromStr for TypeInfo {
    type Err = TypeParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TypeInfo::parse(s)
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.src[self.pos..].starts_with(|c: char| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn ident(&mut self) -> Result<&str, String> {
        self.skip_ws();
        let rest = &self.src[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(format!("expected a name at position {}", self.pos));
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.src[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{c}` at position {}", self.pos))
        }
    }

    fn number(&mut self) -> Result<u32, String> {
        self.skip_ws();
        let rest = &self.src[self.pos..];
        let len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n = rest[..len]
            .parse::<u32>()
            .map_err(|_| format!("expected a number at position {}", self.pos))?;
        self.pos += len;
        Ok(n)
    }

    fn parse_type(&mut self) -> Result<TypeInfo, String> {
        let name = self.ident()?.to_ascii_lowercase();
        Ok(match name.as_str() {
            "bigint" => TypeInfo::Bigint,
            "int" => TypeInfo::Int,
            "smallint" => TypeInfo::Smallint,
            "tinyint" => TypeInfo::Tinyint,
            "double" => TypeInfo::Double,
            "float" => TypeInfo::Float,
            "boolean" => TypeInfo::Boolean,
            "string" => TypeInfo::String,
            "binary" => TypeInfo::Binary,
            "datetime" => TypeInfo::Datetime,
            "date" => TypeInfo::Date,
            "timestamp" => TypeInfo::Timestamp,
            "timestamp_ntz" => TypeInfo::TimestampNtz,
            "json" => TypeInfo::Json,
            "varchar" | "char" => {
                self.expect('(')?;
                let n = self.number()?;
                self.expect(')')?;
                let max = if name == "varchar" { 65535 } else { 255 };
                if n == 0 || n > max {
                    return Err(format!("{name} length {n} is outside 1..={max}"));
                }
                if name == "varchar" {
                    TypeInfo::Varchar(n)
                } else {
                    TypeInfo::Char(n)
                }
            }
            "decimal" => {
                if self.eat('(') {
                    let precision = self.number()?;
                    let scale = if self.eat(',') { self.number()? } else { 0 };
                    self.expect(')')?;
                    if !(1..=38).contains(&precision) || scale > precision {
                        return Err(format!(
                            "decimal({precision},{scale}) needs 1 <= precision <= 38 and scale <= precision"
                        ));
                    }
                    TypeInfo::Decimal {
                        precision: precision as u8,
                        scale: scale as u8,
                    }
                } else {
                    TypeInfo::Decimal {
                        precision: 54,
                        scale: 18,
                    }
                }
            }
            "array" => {
                self.expect('<')?;
                let element = self.parse_type()?;
                self.expect('>')?;
                TypeInfo::Array(Box::new(element))
            }
            "map" => {
                self.expect('<')?;
                let key = self.parse_type()?;
                self.expect(',')?;
                let value = self.parse_type()?;
                self.expect('>')?;
                TypeInfo::Map(Box::new(key), Box::new(value))
            }
            "struct" => {
                self.expect('<')?;
                let mut fields = Vec::new();
                loop {
                    self.skip_ws();
                    let field = if self.eat('`') {
                        let end = self.src[self.pos..]
                            .find('`')
                            .ok_or("unterminated backquoted struct field name")?;
                        let field = self.src[self.pos..self.pos + end].to_string();
                        self.pos += end + 1;
                        field
                    } else {
                        self.ident()?.to_string()
                    };
                    self.expect(':')?;
                    fields.push((field, self.parse_type()?));
                    if !self.eat(',') {
                        break;
                    }
                }
                self.expect('>')?;
                TypeInfo::Struct(fields)
            }
            other => return Err(format!("unknown type name `{other}`")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_type_case_insensitively() {
        let cases = [
            ("BIGINT", TypeInfo::Bigint),
            ("Int", TypeInfo::Int),
            ("smallint", TypeInfo::Smallint),
            ("TINYINT", TypeInfo::Tinyint),
            ("double", TypeInfo::Double),
            ("FLOAT", TypeInfo::Float),
            ("boolean", TypeInfo::Boolean),
            ("String", TypeInfo::String),
            ("VARCHAR(10)", TypeInfo::Varchar(10)),
            ("char( 3 )", TypeInfo::Char(3)),
            ("binary", TypeInfo::Binary),
            ("DATETIME", TypeInfo::Datetime),
            ("date", TypeInfo::Date),
            ("timestamp", TypeInfo::Timestamp),
            ("TIMESTAMP_NTZ", TypeInfo::TimestampNtz),
            (
                "DECIMAL(10, 2)",
                TypeInfo::Decimal {
                    precision: 10,
                    scale: 2,
                },
            ),
            ("json", TypeInfo::Json),
            ("ARRAY<BIGINT>", TypeInfo::Array(Box::new(TypeInfo::Bigint))),
            (
                "map<string, array<int>>",
                TypeInfo::Map(
                    Box::new(TypeInfo::String),
                    Box::new(TypeInfo::Array(Box::new(TypeInfo::Int))),
                ),
            ),
            (
                "struct<a:bigint, B: string>",
                TypeInfo::Struct(vec![
                    ("a".into(), TypeInfo::Bigint),
                    ("B".into(), TypeInfo::String),
                ]),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(TypeInfo::parse(text).unwrap(), expected, "{text}");
            let shown = expected.to_string();
            assert_eq!(TypeInfo::parse(&shown).unwrap(), expected, "{shown}");
        }
    }

    #[test]
    fn rejects_bad_types() {
        for bad in [
            "",
            "bigintx",
            "varchar",
            "varchar(0)",
            "decimal(40,2)",
            "decimal(5,6)",
            "array<bigint",
            "map<string>",
            "struct<>",
            "int extra",
        ] {
            assert!(TypeInfo::parse(bad).is_err(), "{bad} should not parse");
        }
    }
}
