//! Limits that keep hostile policies and evidence from exhausting memory, stack or time.
//!
//! A policy is uploaded by a tenant administrator and runs inside the service for every
//! attestation, so every dimension that could grow without bound is capped. Exceeding a limit is
//! an error ([`crate::Error::Limit`]), never a truncation: a policy that cannot be evaluated
//! completely must not produce a token.
//!
//! Why evaluation stays linear: a rule scans the claim set once per condition and per partial
//! combination of bound claims, and the number of combinations is capped by
//! [`MAX_COMBINATIONS_PER_RULE`], so the work is at most
//! `rules × MAX_COMBINATIONS_PER_RULE × conditions × claims`, with every factor capped below. The
//! parser is recursive only in function-call nesting, capped by [`MAX_CALL_DEPTH`]; JmesPath
//! queries are checked against [`MAX_JMESPATH_NESTING`] before the (recursive) JmesPath compiler
//! sees them.

/// Largest policy text accepted, in bytes. MAA's own limit is unpublished; the largest documented
/// policy is under 8 KiB, so 256 KiB leaves ample room.
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// Most rules in a policy, all sections together.
pub const MAX_RULES: usize = 1024;

/// Most conditions (`[...]` joined by `&&`) in one rule.
pub const MAX_CONDITIONS_PER_RULE: usize = 16;

/// Most property comparisons (`type==..`, `value==..`) inside one condition.
pub const MAX_PROPERTIES_PER_CONDITION: usize = 16;

/// Deepest nesting of function calls (`JsonToClaimValue(JmesPath(..))` is depth 2).
pub const MAX_CALL_DEPTH: usize = 16;

/// Longest JmesPath query, in bytes, whether literal or built at run time.
pub const MAX_JMESPATH_QUERY_BYTES: usize = 8 * 1024;

/// Deepest bracket nesting (`(`, `[`, `{`) in a JmesPath query.
pub const MAX_JMESPATH_NESTING: usize = 32;

/// Largest JmesPath result, serialised as JSON, in bytes.
pub const MAX_JMESPATH_RESULT_BYTES: usize = 1024 * 1024;

/// Largest string a function may build (`AppendString`) or a claim may carry when created by the
/// policy, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// Most claims the policy may create (add, issue, issueproperty) in one evaluation.
pub const MAX_CREATED_CLAIMS: usize = 4096;

/// Most bytes of string values the policy may create in one evaluation.
pub const MAX_CREATED_BYTES: usize = 16 * 1024 * 1024;

/// Most (partial) combinations of matching claims one rule may visit. With several bound
/// conditions a rule fires once per combination, which is a product; this cap keeps it linear.
pub const MAX_COMBINATIONS_PER_RULE: usize = 4096;

/// Which limit was exceeded (carried by [`crate::LimitError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// [`MAX_POLICY_BYTES`]
    PolicyBytes,
    /// [`MAX_RULES`]
    Rules,
    /// [`MAX_CONDITIONS_PER_RULE`]
    ConditionsPerRule,
    /// [`MAX_PROPERTIES_PER_CONDITION`]
    PropertiesPerCondition,
    /// [`MAX_CALL_DEPTH`]
    CallDepth,
    /// [`MAX_JMESPATH_QUERY_BYTES`]
    JmesPathQueryBytes,
    /// [`MAX_JMESPATH_NESTING`]
    JmesPathNesting,
    /// [`MAX_JMESPATH_RESULT_BYTES`]
    JmesPathResultBytes,
    /// [`MAX_VALUE_BYTES`]
    ValueBytes,
    /// [`MAX_CREATED_CLAIMS`]
    CreatedClaims,
    /// [`MAX_CREATED_BYTES`]
    CreatedBytes,
    /// [`MAX_COMBINATIONS_PER_RULE`]
    CombinationsPerRule,
}

impl Limit {
    /// The configured maximum.
    #[must_use]
    pub const fn max(self) -> usize {
        match self {
            Limit::PolicyBytes => MAX_POLICY_BYTES,
            Limit::Rules => MAX_RULES,
            Limit::ConditionsPerRule => MAX_CONDITIONS_PER_RULE,
            Limit::PropertiesPerCondition => MAX_PROPERTIES_PER_CONDITION,
            Limit::CallDepth => MAX_CALL_DEPTH,
            Limit::JmesPathQueryBytes => MAX_JMESPATH_QUERY_BYTES,
            Limit::JmesPathNesting => MAX_JMESPATH_NESTING,
            Limit::JmesPathResultBytes => MAX_JMESPATH_RESULT_BYTES,
            Limit::ValueBytes => MAX_VALUE_BYTES,
            Limit::CreatedClaims => MAX_CREATED_CLAIMS,
            Limit::CreatedBytes => MAX_CREATED_BYTES,
            Limit::CombinationsPerRule => MAX_COMBINATIONS_PER_RULE,
        }
    }

    /// A short description, used in error messages.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Limit::PolicyBytes => "policy size in bytes",
            Limit::Rules => "number of rules",
            Limit::ConditionsPerRule => "conditions in one rule",
            Limit::PropertiesPerCondition => "property comparisons in one condition",
            Limit::CallDepth => "function call nesting depth",
            Limit::JmesPathQueryBytes => "JmesPath query size in bytes",
            Limit::JmesPathNesting => "JmesPath bracket nesting depth",
            Limit::JmesPathResultBytes => "JmesPath result size in bytes",
            Limit::ValueBytes => "size of a created value in bytes",
            Limit::CreatedClaims => "claims created in one evaluation",
            Limit::CreatedBytes => "bytes of values created in one evaluation",
            Limit::CombinationsPerRule => "claim combinations visited by one rule",
        }
    }
}
