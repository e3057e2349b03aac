//! Text → tokens.
//!
//! Arithmetic safety: positions are `usize` byte offsets bounded by the text length (itself capped
//! by [`crate::limits::MAX_POLICY_BYTES`] before lexing), and line/column counters are `u32`
//! incremented with saturation, so no input can overflow them.

use std::sync::Arc;

use crate::error::SyntaxError;
use crate::span::Span;

/// Token kinds. Keywords are not distinguished here: they are identifiers the parser matches
/// case-insensitively where it expects them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// Letters, digits and `_`, starting with a letter or `_`.
    Ident,
    /// `digits` or `digits.digits` (the latter only makes sense in `version=1.2`).
    Number,
    /// A string literal, already unescaped.
    String(Arc<str>),
    /// `=>`
    Arrow,
    /// `==`
    EqEq,
    /// `=`
    Assign,
    /// `!=`
    NotEq,
    /// `!`
    Bang,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&`
    AndAnd,
    /// `;`
    Semi,
    /// `,`
    Comma,
    /// `:`
    Colon,
    /// `.`
    Dot,
    /// `-` (only valid before an integer)
    Minus,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// End of input.
    Eof,
}

/// A token with its span and raw text.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) span: Span,
}

impl Token {
    /// The raw source text of the token (`<EOF>` at the end, as ANTLR prints it).
    pub(crate) fn text<'a>(&self, source: &'a str) -> &'a str {
        if self.kind == TokenKind::Eof {
            "<EOF>"
        } else {
            self.span.text(source).unwrap_or("")
        }
    }
}

struct Cursor<'a> {
    source: &'a str,
    offset: usize,
    line: u32,
    column: u32,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.source
            .get(self.offset..)
            .and_then(|rest| rest.chars().next())
    }

    fn peek_second(&self) -> Option<char> {
        self.source
            .get(self.offset..)
            .and_then(|rest| rest.chars().nth(1))
    }

    fn bump(&mut self) -> Option<char> {
        let next = self.peek()?;
        self.offset = self.offset.saturating_add(next.len_utf8());
        if next == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(next)
    }

    fn here(&self) -> Span {
        Span {
            start: self.offset,
            end: self.offset,
            line: self.line,
            column: self.column,
        }
    }

    fn close(&self, mut span: Span) -> Span {
        span.end = self.offset;
        span
    }
}

/// Splits `source` into tokens, ending with [`TokenKind::Eof`].
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut cursor = Cursor {
        source,
        offset: 0,
        line: 1,
        column: 1,
    };
    let mut tokens = Vec::new();
    loop {
        skip_trivia(&mut cursor);
        let start = cursor.here();
        let Some(first) = cursor.bump() else {
            tokens.push(Token {
                kind: TokenKind::Eof,
                span: start,
            });
            return Ok(tokens);
        };
        let kind = match first {
            '"' => lex_string(&mut cursor, start)?,
            '0'..='9' => {
                eat_while(&mut cursor, |c| c.is_ascii_digit());
                if cursor.peek() == Some('.')
                    && cursor.peek_second().is_some_and(|c| c.is_ascii_digit())
                {
                    cursor.bump();
                    eat_while(&mut cursor, |c| c.is_ascii_digit());
                }
                TokenKind::Number
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                eat_while(&mut cursor, |c| c.is_ascii_alphanumeric() || c == '_');
                TokenKind::Ident
            }
            '=' => match cursor.peek() {
                Some('>') => bump_as(&mut cursor, TokenKind::Arrow),
                Some('=') => bump_as(&mut cursor, TokenKind::EqEq),
                _ => TokenKind::Assign,
            },
            '!' => match cursor.peek() {
                Some('=') => bump_as(&mut cursor, TokenKind::NotEq),
                _ => TokenKind::Bang,
            },
            '<' => match cursor.peek() {
                Some('=') => bump_as(&mut cursor, TokenKind::Le),
                _ => TokenKind::Lt,
            },
            '>' => match cursor.peek() {
                Some('=') => bump_as(&mut cursor, TokenKind::Ge),
                _ => TokenKind::Gt,
            },
            '&' if cursor.peek() == Some('&') => bump_as(&mut cursor, TokenKind::AndAnd),
            ';' => TokenKind::Semi,
            ',' => TokenKind::Comma,
            ':' => TokenKind::Colon,
            '.' => TokenKind::Dot,
            '-' => TokenKind::Minus,
            '(' => TokenKind::LParen,
            ')' => TokenKind::RParen,
            '[' => TokenKind::LBracket,
            ']' => TokenKind::RBracket,
            '{' => TokenKind::LBrace,
            '}' => TokenKind::RBrace,
            _ => {
                let span = cursor.close(start);
                let text = span.text(source).unwrap_or("").to_owned();
                return Err(SyntaxError::token_recognition(
                    span,
                    text,
                    unexpected_hint(first),
                ));
            }
        };
        tokens.push(Token {
            kind,
            span: cursor.close(start),
        });
    }
}

fn bump_as(cursor: &mut Cursor<'_>, kind: TokenKind) -> TokenKind {
    cursor.bump();
    kind
}

fn eat_while(cursor: &mut Cursor<'_>, keep: impl Fn(char) -> bool) {
    while cursor.peek().is_some_and(&keep) {
        cursor.bump();
    }
}

/// Whitespace (any Unicode whitespace, including CR and the non-breaking spaces that documentation
/// copy-paste brings) and `//` line comments.
fn skip_trivia(cursor: &mut Cursor<'_>) {
    loop {
        match cursor.peek() {
            Some(c) if c.is_whitespace() || c == '\u{feff}' => {
                cursor.bump();
            }
            Some('/') if cursor.peek_second() == Some('/') => eat_while(cursor, |c| c != '\n'),
            _ => return,
        }
    }
}

/// A string literal. `\"` and `\\` are escapes; any other backslash is kept literally (the 1.2
/// samples write JmesPath raw strings such as `'\\windows\\system32'`, and a lone `\w` must not be
/// an error). A literal may not span lines: a missing or typographic closing quote is then
/// reported on the line where the string starts instead of swallowing the rest of the policy.
fn lex_string(cursor: &mut Cursor<'_>, start: Span) -> Result<TokenKind, SyntaxError> {
    let mut value = String::new();
    loop {
        match cursor.peek() {
            None | Some('\n') | Some('\r') => {
                let span = cursor.close(start);
                let text = span.text(cursor.source).unwrap_or("").trim_end().to_owned();
                return Err(SyntaxError::unterminated_string(span, text));
            }
            Some('"') => {
                cursor.bump();
                return Ok(TokenKind::String(Arc::from(value)));
            }
            Some('\\') => {
                cursor.bump();
                match cursor.peek() {
                    Some(escaped @ ('"' | '\\')) => {
                        cursor.bump();
                        value.push(escaped);
                    }
                    _ => value.push('\\'),
                }
            }
            Some(c) => {
                cursor.bump();
                value.push(c);
            }
        }
    }
}

fn unexpected_hint(c: char) -> Option<&'static str> {
    match c {
        '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{2033}' => {
            Some("typographic quotes are not string delimiters; use a plain \" (U+0022)")
        }
        '\u{2018}' | '\u{2019}' => Some("typographic apostrophes are not allowed here"),
        '&' => Some("conditions are joined with &&"),
        '/' => Some("comments start with //"),
        _ => None,
    }
}
