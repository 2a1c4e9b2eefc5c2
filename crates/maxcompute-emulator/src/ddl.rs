//! A parser for the subset of MaxCompute DDL that creates tables:
//!
//! ```sql
//! CREATE TABLE [IF NOT EXISTS] [project.[schema.]]table (
//!     col TYPE [NOT NULL] [COMMENT 'text'], ...
//! ) [COMMENT 'text'] [PARTITIONED BY (pt TYPE [COMMENT 'text'], ...)] [LIFECYCLE n];
//! ```
//!
//! Keywords are case-insensitive, names may be backquoted, `--` line comments and `/* */` block
//! comments are skipped. Column types are parsed by [`maxcompute_tunnel::TypeInfo`]. Other
//! clauses (`AS SELECT`, `LIKE`, `STORED AS`, `TBLPROPERTIES`, ...) are rejected with a clear error
//! rather than ignored, so a test never runs against a table that differs from its DDL.

use maxcompute_tunnel::{Column, TableSchema, TypeInfo};

/// A parsed `CREATE TABLE` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    /// The project named in the statement, if any (`p.t` or `p.s.t`).
    pub project: Option<String>,
    /// The schema of a three-level name (`p.s.t`), if any.
    pub schema_name: Option<String>,
    pub name: String,
    pub if_not_exists: bool,
    pub schema: TableSchema,
    pub comment: String,
    pub lifecycle: Option<u32>,
}

/// DDL that this parser does not accept, with the byte offset where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid DDL at offset {offset}: {reason}")]
pub struct DdlError {
    pub offset: usize,
    pub reason: String,
}

/// Parses one `CREATE TABLE` statement (a trailing `;` is allowed).
pub fn parse_create_table(sql: &str) -> Result<TableDef, DdlError> {
    let mut defs = parse_statements(sql)?;
    match defs.len() {
        1 => Ok(defs.remove(0)),
        n => Err(DdlError {
            offset: 0,
            reason: format!("expected exactly one CREATE TABLE statement, found {n}"),
        }),
    }
}

/// Parses a script of `CREATE TABLE` statements separated by `;`.
pub fn parse_statements(sql: &str) -> Result<Vec<TableDef>, DdlError> {
    let mut p = Parser { src: sql, pos: 0 };
    let mut defs = Vec::new();
    loop {
        p.skip_trivia()?;
        if p.at_end() {
            break;
        }
        if p.eat_char(';') {
            continue;
        }
        defs.push(p.create_table()?);
        p.skip_trivia()?;
        if !p.at_end() && !p.eat_char(';') {
            return Err(p.error("expected `;` or the end of the script after the statement"));
        }
    }
    Ok(defs)
}

/// Partition columns may only have these types in MaxCompute.
fn valid_partition_type(t: &TypeInfo) -> bool {
    matches!(
        t,
        TypeInfo::String
            | TypeInfo::Varchar(_)
            | TypeInfo::Char(_)
            | TypeInfo::Tinyint
            | TypeInfo::Smallint
            | TypeInfo::Int
            | TypeInfo::Bigint
    )
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, reason: impl Into<String>) -> DdlError {
        DdlError {
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn skip_trivia(&mut self) -> Result<(), DdlError> {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("--") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if let Some(body) = trimmed.strip_prefix("/*") {
                match body.find("*/") {
                    Some(end) => self.pos += end + 4,
                    None => return Err(self.error("unterminated /* comment")),
                }
            } else {
                return Ok(());
            }
        }
    }

    fn eat_char(&mut self, c: char) -> bool {
        if self.skip_trivia().is_err() {
            return false;
        }
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect_char(&mut self, c: char) -> Result<(), DdlError> {
        if self.eat_char(c) {
            Ok(())
        } else {
            Err(self.error(format!("expected `{c}`")))
        }
    }

    /// The next bare word, without consuming it.
    fn peek_word(&mut self) -> Option<&'a str> {
        self.skip_trivia().ok()?;
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (len > 0).then(|| &rest[..len])
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        match self.peek_word() {
            Some(w) if w.eq_ignore_ascii_case(keyword) => {
                self.pos += keyword.len();
                true
            }
            _ => false,
        }
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), DdlError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.error(format!("expected `{keyword}`")))
        }
    }

    /// A name: a bare word or a backquoted name (which may contain anything but a backquote).
    fn identifier(&mut self) -> Result<String, DdlError> {
        self.skip_trivia()?;
        if self.rest().starts_with('`') {
            let body = &self.rest()[1..];
            let end = body
                .find('`')
                .ok_or_else(|| self.error("unterminated backquoted name"))?;
            let name = body[..end].to_string();
            if name.is_empty() {
                return Err(self.error("empty backquoted name"));
            }
            self.pos += end + 2;
            return Ok(name);
        }
        let word = self
            .peek_word()
            .ok_or_else(|| self.error("expected a name"))?
            .to_string();
        self.pos += word.len();
        Ok(word)
    }

    /// A string literal in single or double quotes, with backslash escapes.
    fn string_literal(&mut self) -> Result<String, DdlError> {
        self.skip_trivia()?;
        let quote = match self.rest().chars().next() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(self.error("expected a quoted string")),
        };
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.rest()[1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                c if c == quote => {
                    self.pos += 1 + i + c.len_utf8();
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        self.pos = start;
        Err(self.error("unterminated string literal"))
    }

    /// The text of a column type: up to a `,` or `)` outside brackets, or a space that is not
    /// followed by a bracket.
    fn type_text(&mut self) -> Result<TypeInfo, DdlError> {
        self.skip_trivia()?;
        let start = self.pos;
        let mut depth = 0usize;
        let bytes = self.src.as_bytes();
        let mut i = self.pos;
        while i < bytes.len() {
            match bytes[i] {
                b'<' | b'(' => depth += 1,
                b'>' | b')' if depth > 0 => depth -= 1,
                b',' | b')' | b';' if depth == 0 => break,
                b if b.is_ascii_whitespace() && depth == 0 => {
                    let next = self.src[i..].trim_start();
                    if !(next.starts_with('<') || next.starts_with('(')) {
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        let text = &self.src[start..i];
        let type_info = TypeInfo::parse(text).map_err(|e| DdlError {
            offset: start,
            reason: e.to_string(),
        })?;
        self.pos = i;
        Ok(type_info)
    }

    fn column(&mut self) -> Result<Column, DdlError> {
        let name = self.identifier()?;
        let mut column = Column::new(name, self.type_text()?);
        loop {
            if self.eat_keyword("NOT") {
                self.expect_keyword("NULL")?;
                column.nullable = false;
            } else if self.eat_keyword("NULL") {
                column.nullable = true;
            } else if self.eat_keyword("COMMENT") {
                column.comment = self.string_literal()?;
            } else if let Some(word) = self.peek_word() {
                if matches!(
                    word.to_ascii_uppercase().as_str(),
                    "DEFAULT" | "PRIMARY" | "PRIMARYKEY"
                ) {
                    return Err(self.error(format!(
                        "column option `{word}` is not supported by the emulator"
                    )));
                }
                return Ok(column);
            } else {
                return Ok(column);
            }
        }
    }

    fn column_list(&mut self) -> Result<Vec<Column>, DdlError> {
        self.expect_char('(')?;
        let mut columns = vec![self.column()?];
        while self.eat_char(',') {
            columns.push(self.column()?);
        }
        self.expect_char(')')?;
        Ok(columns)
    }

    fn create_table(&mut self) -> Result<TableDef, DdlError> {
        self.expect_keyword("CREATE")?;
        self.expect_keyword("TABLE")?;
        let if_not_exists = if self.eat_keyword("IF") {
            self.expect_keyword("NOT")?;
            self.expect_keyword("EXISTS")?;
            true
        } else {
            false
        };
        let name_offset = self.pos;
        let mut parts = vec![self.identifier()?];
        while self.eat_char('.') {
            parts.push(self.identifier()?);
        }
        let (project, schema_name, name) = match parts.len() {
            1 => (None, None, parts.remove(0)),
            2 => {
                let name = parts.pop().unwrap_or_default();
                (parts.pop(), None, name)
            }
            3 => {
                let name = parts.pop().unwrap_or_default();
                let schema = parts.pop();
                (parts.pop(), schema, name)
            }
            _ => {
                return Err(DdlError {
                    offset: name_offset,
                    reason: "a table name has at most three parts (project.schema.table)".into(),
                })
            }
        };
        if self
            .peek_word()
            .is_some_and(|w| w.eq_ignore_ascii_case("AS") || w.eq_ignore_ascii_case("LIKE"))
        {
            return Err(self.error("CREATE TABLE ... AS/LIKE is not supported by the emulator"));
        }
        let columns = self.column_list()?;
        let mut def = TableDef {
            project,
            schema_name,
            name,
            if_not_exists,
            schema: TableSchema::new(columns, Vec::new()),
            comment: String::new(),
            lifecycle: None,
        };
        loop {
            if self.eat_keyword("COMMENT") {
                def.comment = self.string_literal()?;
            } else if self.eat_keyword("PARTITIONED") {
                self.expect_keyword("BY")?;
                let offset = self.pos;
                let keys = self.column_list()?;
                if let Some(bad) = keys.iter().find(|k| !valid_partition_type(&k.type_info)) {
                    return Err(DdlError {
                        offset,
                        reason: format!(
                            "partition column `{}` has type {}, but partition columns must be string, varchar, char or an integer type",
                            bad.name, bad.type_info
                        ),
                    });
                }
                def.schema.partition_keys = keys;
            } else if self.eat_keyword("LIFECYCLE") {
                self.skip_trivia()?;
                let digits: String = self
                    .rest()
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                let days = digits
                    .parse::<u32>()
                    .map_err(|_| self.error("LIFECYCLE needs a number of days"))?;
                self.pos += digits.len();
                def.lifecycle = Some(days);
            } else if let Some(word) = self.peek_word() {
                return Err(self.error(format!("clause `{word}` is not supported by the emulator")));
            } else {
                break;
            }
        }
        check_unique_names(&def.schema).map_err(|reason| DdlError {
            offset: name_offset,
            reason,
        })?;
        Ok(def)
    }
}

fn check_unique_names(schema: &TableSchema) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for c in schema.columns.iter().chain(&schema.partition_keys) {
        if !seen.insert(c.name.to_ascii_lowercase()) {
            return Err(format!("column `{}` is declared twice", c.name));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_example_with_backquotes_and_partitions() {
        let def = parse_create_table(
            "CREATE TABLE IF NOT EXISTS t(topic STRING, `partition` BIGINT, `offset` BIGINT, key STRING, value STRING) PARTITIONED BY (pt STRING);",
        )
        .unwrap();
        assert!(def.if_not_exists);
        assert_eq!(def.name, "t");
        assert_eq!(def.project, None);
        let names: Vec<_> = def.schema.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["topic", "partition", "offset", "key", "value"]);
        assert_eq!(def.schema.columns[1].type_info, TypeInfo::Bigint);
        assert_eq!(def.schema.partition_keys.len(), 1);
        assert_eq!(def.schema.partition_keys[0].name, "pt");
        assert_eq!(def.schema.partition_keys[0].type_info, TypeInfo::String);
    }

    #[test]
    fn parses_comments_options_nested_types_and_qualified_names() {
        let sql = "-- the events table\n\
            create table proj.`Events` (\n\
              id bigint not null comment 'the id', -- trailing comment\n\
              amount DECIMAL(10, 2),\n\
              tags map<string, array<bigint>> COMMENT \"it's nested\",\n\
              /* block comment */ s struct<a:int, b:string>\n\
            ) comment 'Kafka events' partitioned by (dt string, hh BIGINT comment 'hour') lifecycle 30";
        let def = parse_create_table(sql).unwrap();
        assert_eq!(def.project.as_deref(), Some("proj"));
        assert_eq!(def.name, "Events");
        assert!(!def.if_not_exists);
        let id = &def.schema.columns[0];
        assert!(!id.nullable);
        assert_eq!(id.comment, "the id");
        assert_eq!(
            def.schema.columns[1].type_info,
            TypeInfo::Decimal {
                precision: 10,
                scale: 2
            }
        );
        assert_eq!(
            def.schema.columns[2].type_info.to_string(),
            "map<string,array<bigint>>"
        );
        assert_eq!(def.schema.columns[2].comment, "it's nested");
        assert_eq!(
            def.schema.columns[3].type_info.to_string(),
            "struct<a:int,b:string>"
        );
        assert_eq!(def.comment, "Kafka events");
        let keys: Vec<_> = def
            .schema
            .partition_keys
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(keys, ["dt", "hh"]);
        assert_eq!(def.schema.partition_keys[1].comment, "hour");
        assert_eq!(def.lifecycle, Some(30));
    }

    #[test]
    fn parses_a_script_and_three_level_names() {
        let defs =
            parse_statements("CREATE TABLE a (x string);\n-- next\nCREATE TABLE p.s.b (y json);\n")
                .unwrap();
        assert_eq!(defs.len(), 2);
        assert_eq!(defs[1].project.as_deref(), Some("p"));
        assert_eq!(defs[1].schema_name.as_deref(), Some("s"));
        assert_eq!(defs[1].name, "b");
        assert_eq!(defs[1].schema.columns[0].type_info, TypeInfo::Json);
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        let cases = [
            ("CREATE TABLE t (a strin)", "unknown type"),
            ("CREATE TABLE t (a string", "expected `)`"),
            ("CREATE TABLE t (a string, A bigint)", "declared twice"),
            (
                "CREATE TABLE t (a string) PARTITIONED BY (a string)",
                "declared twice",
            ),
            (
                "CREATE TABLE t (a string) PARTITIONED BY (d double)",
                "partition column `d`",
            ),
            ("CREATE TABLE t AS SELECT 1", "not supported"),
            ("CREATE TABLE t (a string) STORED AS ORC", "`STORED`"),
            ("CREATE TABLE t (a string default 'x')", "`default`"),
            ("CREATE TABLE t (a string) COMMENT 'open", "unterminated"),
            ("DROP TABLE t", "expected `CREATE`"),
            ("CREATE TABLE t (a string) x", "`x`"),
            (
                "CREATE TABLE t (a string); CREATE TABLE u (b string)",
                "exactly one",
            ),
        ];
        for (sql, expected) in cases {
            let err = parse_create_table(sql).unwrap_err().to_string();
            assert!(err.contains(expected), "{sql}: {err}");
        }
    }
}
