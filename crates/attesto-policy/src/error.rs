//! The crate's one error type, grouped by cause.

use std::fmt;

use crate::ast::Version;
use crate::limits::Limit;
use crate::span::Span;

/// Everything that can go wrong, grouped by cause. [`Error::code`] maps each group to the error
/// code MAA puts in its REST error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not in the policy grammar (parse time).
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    /// The text parses but breaks a rule of the language (parse time).
    #[error(transparent)]
    Semantic(#[from] SemanticError),
    /// The policy is larger than a limit allows (parse time).
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// Evaluation stopped on a runtime error; no decision was reached (fail closed).
    #[error(transparent)]
    Evaluation(#[from] EvaluationError),
    /// The incoming claims could not be built.
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    /// A policy upload body (JWS) could not be decoded.
    #[error(transparent)]
    Jws(#[from] JwsError),
}

/// `PolicyError` is the name the service-facing docs use.
pub use Error as PolicyError;

/// MAA's error codes (the `error.code` string of its REST error body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The policy text is invalid (HTTP 400).
    PolicyParsingError,
    /// The policy could not be evaluated, or denied the attestation (HTTP 400).
    PolicyEvaluationError,
    /// The request body is malformed (HTTP 400), e.g. a bad JWS encoding.
    InvalidOperation,
    /// The evidence is malformed (HTTP 400).
    InvalidParameter,
}

impl ErrorCode {
    /// MAA's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::PolicyParsingError => "PolicyParsingError",
            ErrorCode::PolicyEvaluationError => "PolicyEvaluationError",
            ErrorCode::InvalidOperation => "InvalidOperation",
            ErrorCode::InvalidParameter => "InvalidParameter",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The MAA error code for this error.
    #[must_use]
    pub const fn code(&self) -> ErrorCode {
        match self {
            Error::Syntax(_) | Error::Semantic(_) | Error::Limit(_) => {
                ErrorCode::PolicyParsingError
            }
            Error::Evaluation(_) => ErrorCode::PolicyEvaluationError,
            Error::Claims(_) => ErrorCode::InvalidParameter,
            Error::Jws(_) => ErrorCode::InvalidOperation,
        }
    }

    /// Where in the policy text the error is, when it is about the text.
    #[must_use]
    pub fn span(&self) -> Option<Span> {
        match self {
            Error::Syntax(error) => Some(error.span),
            Error::Semantic(error) => Some(error.span),
            Error::Limit(error) => error.span,
            Error::Evaluation(error) => Some(error.span),
            Error::Claims(_) | Error::Jws(_) => None,
        }
    }
}

/// A grammar violation. Display gives a human line first, then the MAA-compatible text
/// `Policy Parser Exception Thrown: Offending symbol: '<tok>' Line: '<n>', Column: '<n>' Failure
/// message: '<msg>' Failing rule: '<rule>'`. In that MAA part the column is 0-based, as ANTLR's
/// `charPositionInLine` (MAA's parser is ANTLR-generated); everywhere else, including
/// [`SyntaxError::span`], lines and columns are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SyntaxError {
    /// Where the offending symbol starts.
    pub span: Span,
    /// The offending source text (`<EOF>` at the end of the input).
    pub offending: String,
    /// ANTLR-style failure message, e.g. `mismatched input '}' expecting ';'`.
    pub message: String,
    /// The grammar rule path that failed, e.g. `policy > authorizationrules > rule`.
    pub rule: String,
    /// A hint for common mistakes (typographic quotes, a missing `;`).
    pub hint: Option<&'static str>,
}

impl SyntaxError {
    pub(crate) fn token_recognition(
        span: Span,
        text: String,
        hint: Option<&'static str>,
    ) -> SyntaxError {
        SyntaxError {
            span,
            message: format!("token recognition error at: '{text}'"),
            offending: text,
            rule: "token".to_owned(),
            hint,
        }
    }

    pub(crate) fn unterminated_string(span: Span, text: String) -> SyntaxError {
        SyntaxError {
            span,
            message: format!("unterminated string literal {text}"),
            offending: text,
            rule: "token > STRING".to_owned(),
            hint: Some("a string must close with a plain \" (U+0022) on the same line"),
        }
    }

    /// 1-based line.
    #[must_use]
    pub const fn line(&self) -> u32 {
        self.span.line
    }

    /// 1-based column, in characters.
    #[must_use]
    pub const fn column(&self) -> u32 {
        self.span.column
    }

    /// The MAA-compatible part of the message (0-based column).
    #[must_use]
    pub fn maa_message(&self) -> String {
        format!(
            "Policy Parser Exception Thrown: Offending symbol: '{}' Line: '{}', Column: '{}' Failure message: '{}' Failing rule: '{}'",
            self.offending,
            self.span.line,
            self.span.column.saturating_sub(1),
            self.message,
            self.rule
        )
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "policy syntax error at line {}, column {}: {}",
            self.span.line, self.span.column, self.message
        )?;
        if let Some(hint) = self.hint {
            write!(f, " (hint: {hint})")?;
        }
        write!(f, ". {}", self.maa_message())
    }
}

/// A language rule broken by text that parses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy error at line {}, column {}: {kind} (at '{offending}')", span.line, span.column)]
pub struct SemanticError {
    /// Where.
    pub span: Span,
    /// The source text at `span` (shortened to one line).
    pub offending: String,
    /// What is wrong.
    pub kind: SemanticErrorKind,
}

/// What is semantically wrong with a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SemanticErrorKind {
    /// A function name that is not one of MAA's six.
    #[error(
        "unknown function '{name}' (known: JmesPath, JsonToClaimValue, IsSubsetOf, AppendString, NegateBool, ContainsOnlyValue)"
    )]
    UnknownFunction {
        /// The name as written.
        name: String,
    },
    /// A function called with the wrong number of arguments.
    #[error("{function} takes {expected} argument(s), found {found}")]
    WrongArity {
        /// Function name.
        function: &'static str,
        /// Expected count.
        expected: usize,
        /// Actual count.
        found: usize,
    },
    /// A value of the wrong type where the type is known at parse time.
    #[error("{context} expects {expected}, found {found}")]
    TypeMismatch {
        /// Where (e.g. `argument 1 of NegateBool`, `operator <`).
        context: String,
        /// Expected type.
        expected: &'static str,
        /// Found type.
        found: &'static str,
    },
    /// A read-only claim (e.g. `pcrs`) or a value derived from one would leave the policy.
    #[error("the read-only claim '{claim_type}' (or a value derived from it) cannot be issued")]
    ReadOnlyIssue {
        /// The read-only claim type.
        claim_type: String,
    },
    /// An action used in a section that does not allow it.
    #[error("{action}() is not allowed in {section}")]
    ActionNotAllowed {
        /// The action keyword.
        action: &'static str,
        /// The section name.
        section: &'static str,
    },
    /// A reference to an identifier not bound by an earlier condition of the same rule.
    #[error(
        "undefined identifier '{name}': bind it with {name}:[...] in an earlier condition of the same rule"
    )]
    UndefinedIdentifier {
        /// The identifier.
        name: String,
    },
    /// The same identifier bound twice in one rule.
    #[error("identifier '{name}' is bound twice in the same rule")]
    DuplicateIdentifier {
        /// The identifier.
        name: String,
    },
    /// A construct newer than the declared policy version.
    #[error("{feature} requires policy version {required} or later (this policy declares {found})")]
    RequiresVersion {
        /// The construct.
        feature: &'static str,
        /// Minimum version.
        required: Version,
        /// Declared version.
        found: Version,
    },
    /// A literal JmesPath query that does not compile.
    #[error("invalid JmesPath query: {reason}")]
    InvalidJmesPath {
        /// The compiler's message.
        reason: String,
    },
    /// A configuration rule that is not an unconditional issueproperty of a known, well-typed
    /// property.
    #[error("invalid configuration rule: {reason}")]
    InvalidConfiguration {
        /// Why.
        reason: String,
    },
    /// A known token property (`report_validity_in_minutes`, `omit_x5c`) with a literal of the
    /// wrong type or range.
    #[error("invalid token property: {reason}")]
    InvalidProperty {
        /// Why.
        reason: String,
    },
    /// An integer literal outside the signed 64-bit range, or a fraction where an integer is
    /// expected.
    #[error("invalid integer literal '{text}': integers are signed 64-bit decimal numbers")]
    InvalidInteger {
        /// The literal.
        text: String,
    },
}

/// A parse-time limit was exceeded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy too large: {} exceeds the limit of {max}{}", limit.describe(), span.map(|s| format!(" (at line {}, column {})", s.line, s.column)).unwrap_or_default())]
pub struct LimitError {
    /// Which limit.
    pub limit: Limit,
    /// The limit's value.
    pub max: usize,
    /// Where, if the limit is about a place in the text.
    pub span: Option<Span>,
}

impl LimitError {
    pub(crate) fn new(limit: Limit, span: Option<Span>) -> LimitError {
        LimitError {
            limit,
            max: limit.max(),
            span,
        }
    }
}

/// A runtime error: evaluation stops and no decision is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy evaluation error at line {}, column {}: {kind}", span.line, span.column)]
pub struct EvaluationError {
    /// The expression or rule being evaluated.
    pub span: Span,
    /// What went wrong.
    pub kind: EvaluationErrorKind,
}

/// What went wrong at run time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvaluationErrorKind {
    /// A function expected JSON text and got something that is not JSON.
    #[error("{function}: argument is not valid JSON: {reason}")]
    InvalidJson {
        /// The function.
        function: &'static str,
        /// The JSON parser's message.
        reason: String,
    },
    /// `JsonToClaimValue` on JSON that has no claim value form.
    #[error(
        "JsonToClaimValue: {found} cannot become a claim value (only integers, booleans, strings, null and arrays of those)"
    )]
    NotConvertible {
        /// What was found.
        found: &'static str,
    },
    /// A JmesPath query built at run time does not compile.
    #[error("JmesPath: invalid query '{query}': {reason}")]
    InvalidJmesPath {
        /// The query.
        query: String,
        /// The compiler's message.
        reason: String,
    },
    /// A JmesPath search failed (e.g. a built-in function got the wrong type).
    #[error("JmesPath: search failed: {reason}")]
    JmesPathFailed {
        /// The interpreter's message.
        reason: String,
    },
    /// A value of the wrong type (known only at run time).
    #[error("{context} expects {expected}, found {found}")]
    TypeMismatch {
        /// Where.
        context: String,
        /// Expected type.
        expected: &'static str,
        /// Found type or shape.
        found: String,
    },
    /// A function argument that must not be empty was empty.
    #[error("{function}: argument {position} must not be empty")]
    EmptyArgument {
        /// The function.
        function: &'static str,
        /// 1-based argument position.
        position: usize,
    },
    /// A value derived from a read-only claim would leave the policy (issue or issueproperty).
    #[error("a value derived from the read-only claim '{claim_type}' cannot be issued")]
    ReadOnlyIssue {
        /// The read-only claim type the value derives from.
        claim_type: String,
    },
    /// A known token property (`report_validity_in_minutes`, `omit_x5c`) with a bad value.
    #[error("property '{name}': {reason}")]
    InvalidProperty {
        /// The property.
        name: String,
        /// Why.
        reason: String,
    },
    /// A limit from [`crate::limits`] was exceeded.
    #[error("{} exceeds the limit of {}", limit.describe(), limit.max())]
    LimitExceeded {
        /// Which limit.
        limit: Limit,
    },
}

/// The incoming claims could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimsError {
    /// The claims document is not JSON.
    #[error("claims are not valid JSON: {reason}")]
    InvalidJson {
        /// The JSON parser's message.
        reason: String,
    },
    /// The claims document is not a JSON object.
    #[error("claims must be a JSON object of claim type to value, found {found}")]
    NotAnObject {
        /// What was found.
        found: &'static str,
    },
    /// A member whose value has no claim type.
    #[error("claim '{claim_type}': unsupported value, {found}")]
    UnsupportedValue {
        /// The member name.
        claim_type: String,
        /// What was found.
        found: &'static str,
    },
}

/// A policy upload body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three dot-separated parts.
    #[error("malformed JWS: expected header.payload.signature, found {parts} part(s)")]
    Malformed {
        /// Number of parts found.
        parts: usize,
    },
    /// A part is not base64url.
    #[error("malformed JWS: the {part} is not base64url")]
    InvalidBase64 {
        /// `header` or `payload`.
        part: &'static str,
    },
    /// A part is not a UTF-8 JSON object.
    #[error("malformed JWS: the {part} is not a JSON object: {reason}")]
    InvalidJson {
        /// `header` or `payload`.
        part: &'static str,
        /// Why.
        reason: String,
    },
    /// The header has no `alg`.
    #[error("malformed JWS: the header has no \"alg\"")]
    MissingAlgorithm,
    /// The payload has no `AttestationPolicy` string.
    #[error("the JWS payload has no \"AttestationPolicy\" string member")]
    MissingPolicy,
    /// The base64url-decoded policy is not UTF-8.
    #[error("the AttestationPolicy value decodes to bytes that are not UTF-8")]
    PolicyNotUtf8,
}
