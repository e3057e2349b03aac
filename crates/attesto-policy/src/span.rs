//! Source positions carried by every token, AST node, error and trace entry.

use std::fmt;

/// A region of the policy text.
///
/// `start`/`end` are byte offsets into the text; `line` and `column` locate `start` for humans.
/// Both are 1-based and the column counts Unicode scalar values (a tab is one column), which is
/// what editors show. The MAA-compatible error message prints the column 0-based, as the ANTLR
/// parser behind MAA does (see [`crate::SyntaxError`]).
///
/// Spans never take part in equality: two policies that differ only in layout compare equal,
/// which is what makes `parse(print(p)) == p` a meaningful property.
#[derive(Debug, Clone, Copy, Default)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: u32,
    /// 1-based column of `start`, in characters.
    pub column: u32,
}

impl Span {
    /// The span covering `self` and `other` (positions taken from whichever starts first).
    #[must_use]
    pub fn to(self, other: Span) -> Span {
        let (first, _) = if self.start <= other.start {
            (self, other)
        } else {
            (other, self)
        };
        Span {
            start: first.start,
            end: self.end.max(other.end),
            line: first.line,
            column: first.column,
        }
    }

    /// The text this span covers, if it lies inside `source`.
    #[must_use]
    pub fn text<'a>(&self, source: &'a str) -> Option<&'a str> {
        source.get(self.start..self.end)
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl Eq for Span {}

impl std::hash::Hash for Span {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}
