//! The report `validate` prints, in the sample's console layout:
//!
//! ```text
//!
//! ************************************************************************************************************************
//! *      VALIDATING MAA JWT TOKEN - MATCHES CLIENT ENCLAVE INFO
//! ************************************************************************************************************************
//! MRENCLAVE match                    : True
//!     We think   : 3e2df98f…
//!     MAA service: 3e2df98f…
//! ```
//!
//! Labels are padded to 35 columns, results are .NET's `True`/`False`, detail lines are shown
//! only with `--include-details`, and long values (the enclave-held data) wrap at 100
//! characters under a 17-column indent. The sample's `[HH:mm:ss.fff] : ` prefixes are left
//! out so the output can be compared and scripted.

use std::fmt::Write as _;

/// Width of a banner line.
const BANNER_WIDTH: usize = 120;
/// Column where `: True|False` starts.
const LABEL_WIDTH: usize = 35;

/// A detail printed under a check with `--include-details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    /// The text before the value, indentation and padding included (`"    We think   : "`).
    pub prefix: &'static str,
    /// The value.
    pub value: String,
    /// `(indent, width)`: wrap the value in chunks of `width` characters, continuation lines
    /// indented by `indent` spaces.
    pub wrap: Option<(usize, usize)>,
}

/// One line of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// `<label> : True|False`, with details.
    Check {
        /// The label.
        label: &'static str,
        /// The result.
        passed: bool,
        /// Details, shown when asked.
        details: Vec<Detail>,
    },
    /// Free text (a reason, a missing extension).
    Note(String),
}

impl Line {
    /// A check line without details.
    #[must_use]
    pub fn check(label: &'static str, passed: bool) -> Self {
        Self::Check {
            label,
            passed,
            details: Vec::new(),
        }
    }

    /// A note line.
    #[must_use]
    pub fn note(text: impl Into<String>) -> Self {
        Self::Note(text.into())
    }

    /// Adds a detail (no effect on a note).
    #[must_use]
    pub fn detail(self, prefix: &'static str, value: impl Into<String>) -> Self {
        self.push_detail(Detail {
            prefix,
            value: value.into(),
            wrap: None,
        })
    }

    /// Adds a detail wrapped the way the sample prints the enclave-held data.
    #[must_use]
    pub fn wrapped_detail(self, prefix: &'static str, value: impl Into<String>) -> Self {
        self.push_detail(Detail {
            prefix,
            value: value.into(),
            wrap: Some((17, 100)),
        })
    }

    fn push_detail(mut self, detail: Detail) -> Self {
        if let Self::Check { details, .. } = &mut self {
            details.push(detail);
        }
        self
    }

    /// The result of a check line; `None` for a note.
    #[must_use]
    pub fn passed(&self) -> Option<bool> {
        match self {
            Self::Check { passed, .. } => Some(*passed),
            Self::Note(_) => None,
        }
    }

    /// The label of a check line.
    #[must_use]
    pub fn label(&self) -> Option<&'static str> {
        match self {
            Self::Check { label, .. } => Some(label),
            Self::Note(_) => None,
        }
    }
}

/// A titled group of lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The banner title.
    pub title: &'static str,
    /// The lines.
    pub lines: Vec<Line>,
    /// Whether an empty line follows (the sample ends the comparison with one).
    pub trailing_blank: bool,
}

impl Section {
    /// A section without a trailing empty line.
    #[must_use]
    pub fn new(title: &'static str, lines: Vec<Line>) -> Self {
        Self {
            title,
            lines,
            trailing_blank: false,
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Sections in order.
    pub sections: Vec<Section>,
}

impl Report {
    /// Every check line with its result, across sections.
    pub fn checks(&self) -> impl Iterator<Item = (&'static str, bool)> + '_ {
        self.sections
            .iter()
            .flat_map(|s| &s.lines)
            .filter_map(|line| Some((line.label()?, line.passed()?)))
    }

    /// The report as text, with or without details.
    #[must_use]
    pub fn render(&self, include_details: bool) -> String {
        let mut out = String::new();
        let stars = "*".repeat(BANNER_WIDTH);
        for section in &self.sections {
            // Writing to a String cannot fail.
            let _ = write!(out, "\n{stars}\n*      {}\n{stars}\n", section.title);
            for line in &section.lines {
                match line {
                    Line::Note(text) => {
                        out.push_str(text);
                        out.push('\n');
                    }
                    Line::Check {
                        label,
                        passed,
                        details,
                    } => {
                        let result = if *passed { "True" } else { "False" };
                        let _ = writeln!(out, "{label:<LABEL_WIDTH$}: {result}");
                        if include_details {
                            for detail in details {
                                render_detail(&mut out, detail);
                            }
                        }
                    }
                }
            }
            if section.trailing_blank {
                out.push('\n');
            }
        }
        out
    }
}

fn render_detail(out: &mut String, detail: &Detail) {
    let Some((indent, width)) = detail.wrap.filter(|&(_, width)| width > 0) else {
        let _ = writeln!(out, "{}{}", detail.prefix, detail.value);
        return;
    };
    // The values wrapped are base64: ASCII, so byte chunks are character chunks.
    let mut chunks = detail.value.as_bytes().chunks(width);
    let first = chunks.next().unwrap_or_default();
    let _ = writeln!(out, "{}{}", detail.prefix, String::from_utf8_lossy(first));
    for chunk in chunks {
        let _ = writeln!(out, "{:indent$}{}", "", String::from_utf8_lossy(chunk));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_use_the_sample_layout() {
        let report = Report {
            sections: vec![Section {
                title: "T",
                lines: vec![
                    Line::check("MRENCLAVE match", true).detail("    We think   : ", "ab"),
                    Line::check("JWT signing cert issuer validation", false),
                    Line::note("why"),
                ],
                trailing_blank: true,
            }],
        };
        let stars = "*".repeat(120);
        assert_eq!(
            report.render(false),
            format!(
                "\n{stars}\n*      T\n{stars}\nMRENCLAVE match                    : True\n\
                 JWT signing cert issuer validation : False\nwhy\n\n"
            )
        );
        assert!(
            report
                .render(true)
                .contains("MRENCLAVE match                    : True\n    We think   : ab\n")
        );
    }

    #[test]
    fn long_values_wrap_under_the_prefix() {
        let value = "x".repeat(250);
        let line = Line::check("L", true).wrapped_detail("    We think   : ", value);
        let report = Report {
            sections: vec![Section::new("T", vec![line])],
        };
        let text = report.render(true);
        let wrapped: Vec<&str> = text.lines().skip(5).collect();
        assert_eq!(wrapped.len(), 3, "{text}");
        assert_eq!(wrapped[0], format!("    We think   : {}", "x".repeat(100)));
        assert_eq!(wrapped[1], format!("{}{}", " ".repeat(17), "x".repeat(100)));
        assert_eq!(wrapped[2], format!("{}{}", " ".repeat(17), "x".repeat(50)));
    }
}
