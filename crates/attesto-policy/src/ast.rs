//! The syntax tree. Every node carries its [`Span`]; spans are ignored by equality.
//!
//! The tree is a read-only view of a parsed [`crate::Policy`]: the checker fills in the
//! cross-references (which condition an identifier names, which bindings drive iteration), so a
//! tree is only ever built by [`crate::Policy::parse`].

use std::fmt;
use std::sync::Arc;

use crate::span::Span;

/// The `version=` of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// 1.0: authorization and issuance rules.
    V1_0,
    /// 1.1: adds `configurationrules`.
    V1_1,
    /// 1.2: adds functions, `!` conditions and the JSON evidence claims.
    V1_2,
}

impl Version {
    /// `1.0`, `1.1` or `1.2`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::V1_0 => "1.0",
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Version> {
        match text {
            "1.0" => Some(Version::V1_0),
            "1.1" => Some(Version::V1_1),
            "1.2" => Some(Version::V1_2),
            _ => None,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// `configurationrules`: engine settings, evaluated at parse time.
    Configuration,
    /// `authorizationrules`: decide whether a token is issued.
    Authorization,
    /// `issuancerules`: decide what goes into the token.
    Issuance,
}

impl Section {
    /// The keyword.
    #[must_use]
    pub const fn keyword(self) -> &'static str {
        match self {
            Section::Configuration => "configurationrules",
            Section::Authorization => "authorizationrules",
            Section::Issuance => "issuancerules",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

/// `[conditions] => action;`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// From the first condition (or `=>`) to the closing `;`.
    pub span: Span,
    /// Joined by `&&`; empty for an unconditional rule.
    pub conditions: Vec<Condition>,
    /// What the rule does when it fires.
    pub action: Action,
}

/// `[!][ident:][prop op expr, ...]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// From `!`/identifier to `]`.
    pub span: Span,
    /// `![...]`: true iff no claim matches.
    pub negated: bool,
    /// `c:` in `c:[...]`.
    pub binding: Option<Binding>,
    /// The comparisons a claim must satisfy, all of them.
    pub properties: Vec<PropertyCondition>,
}

/// An identifier bound to the claims matching a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The identifier, case-sensitive.
    pub name: Arc<str>,
    /// Where it is written.
    pub span: Span,
    /// Whether the rule fires once per matching claim of this binding (true when the binding is
    /// used as a single value somewhere) or treats its matches as one set (false when it is only
    /// used as a set argument, or not at all). Filled by the checker.
    pub iterated: bool,
}

/// `value == expr`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyCondition {
    /// The whole comparison.
    pub span: Span,
    /// The claim property compared.
    pub property: ClaimProperty,
    /// The operator.
    pub operator: Operator,
    /// The right-hand side.
    pub value: Expr,
}

/// A claim property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimProperty {
    /// `type`
    Type,
    /// `value`
    Value,
    /// `issuer`
    Issuer,
}

impl ClaimProperty {
    /// The keyword.
    #[must_use]
    pub const fn keyword(self) -> &'static str {
        match self {
            ClaimProperty::Type => "type",
            ClaimProperty::Value => "value",
            ClaimProperty::Issuer => "issuer",
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `==` (also written `=`, see the crate's decisions)
    Eq,
    /// `!=`
    Ne,
    /// `<` (integers only)
    Lt,
    /// `<=` (integers only)
    Le,
    /// `>` (integers only)
    Gt,
    /// `>=` (integers only)
    Ge,
}

impl Operator {
    /// The symbol.
    #[must_use]
    pub const fn symbol(self) -> &'static str {
        match self {
            Operator::Eq => "==",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
        }
    }

    /// Whether the operator orders values (and so only applies to integers).
    #[must_use]
    pub const fn is_ordering(self) -> bool {
        matches!(
            self,
            Operator::Lt | Operator::Le | Operator::Gt | Operator::Ge
        )
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// `"text"`
    String(Arc<str>),
    /// `42`, `-1`
    Integer(i64),
    /// `true`, `false`
    Boolean(bool),
}

impl Literal {
    /// The MAA value type name.
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        match self {
            Literal::String(_) => "String",
            Literal::Integer(_) => "Integer",
            Literal::Boolean(_) => "Boolean",
        }
    }
}

/// An expression: the right-hand side of a comparison, or an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// A literal.
    Literal {
        /// The value.
        value: Literal,
        /// Where.
        span: Span,
    },
    /// `c.value`, `c.type`, `c.issuer`.
    ClaimRef {
        /// The identifier.
        binding: Arc<str>,
        /// The property read.
        property: ClaimProperty,
        /// Where.
        span: Span,
        /// Index (within the rule) of the condition that binds the identifier; filled by the
        /// checker.
        condition: usize,
    },
    /// `Function(args)` (policy version 1.2).
    Call {
        /// The function.
        function: Function,
        /// The arguments, evaluated left to right.
        args: Vec<Expr>,
        /// Where.
        span: Span,
        /// For `JmesPath(json, "literal query")`: the query compiled once at parse time.
        compiled: Option<CompiledQuery>,
    },
}

impl Expr {
    /// Where the expression is.
    #[must_use]
    pub const fn span(&self) -> Span {
        match self {
            Expr::Literal { span, .. } | Expr::ClaimRef { span, .. } | Expr::Call { span, .. } => {
                *span
            }
        }
    }
}

/// A JmesPath query compiled at parse time. Equality ignores it: it is derived from the literal.
#[derive(Clone)]
pub struct CompiledQuery(pub(crate) Arc<jmespath::Expression<'static>>);

impl PartialEq for CompiledQuery {
    fn eq(&self, _: &CompiledQuery) -> bool {
        true
    }
}

impl Eq for CompiledQuery {}

impl fmt::Debug for CompiledQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompiledQuery({:?})", self.0.as_str())
    }
}

/// MAA's policy functions (version 1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `JmesPath(json, query)` → the result as JSON text.
    JmesPath,
    /// `JsonToClaimValue(json)` → a typed value, a set, or nothing.
    JsonToClaimValue,
    /// `IsSubsetOf(set, set)` → Boolean.
    IsSubsetOf,
    /// `AppendString(a, b)` → a‖b.
    AppendString,
    /// `NegateBool(b)` → !b.
    NegateBool,
    /// `ContainsOnlyValue(set, value)` → Boolean.
    ContainsOnlyValue,
}

impl Function {
    /// Every function.
    pub const ALL: [Function; 6] = [
        Function::JmesPath,
        Function::JsonToClaimValue,
        Function::IsSubsetOf,
        Function::AppendString,
        Function::NegateBool,
        Function::ContainsOnlyValue,
    ];

    /// MAA's spelling.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Function::JmesPath => "JmesPath",
            Function::JsonToClaimValue => "JsonToClaimValue",
            Function::IsSubsetOf => "IsSubsetOf",
            Function::AppendString => "AppendString",
            Function::NegateBool => "NegateBool",
            Function::ContainsOnlyValue => "ContainsOnlyValue",
        }
    }

    /// Number of arguments.
    #[must_use]
    pub const fn arity(self) -> usize {
        match self {
            Function::JsonToClaimValue | Function::NegateBool => 1,
            Function::JmesPath
            | Function::IsSubsetOf
            | Function::AppendString
            | Function::ContainsOnlyValue => 2,
        }
    }

    /// Looks a name up, ignoring ASCII case like the keywords.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL
            .into_iter()
            .find(|function| function.name().eq_ignore_ascii_case(name))
    }

    /// Whether argument `index` (0-based) takes a set of values rather than one value.
    #[must_use]
    pub const fn takes_set(self, index: usize) -> bool {
        matches!(
            (self, index),
            (Function::IsSubsetOf, 0 | 1) | (Function::ContainsOnlyValue, 0)
        )
    }
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `permit()`
    Permit,
    /// `deny()`
    Deny,
    /// `issue(...)`: into the incoming set and the token.
    Issue(ClaimSpec),
    /// `add(...)`: into the incoming set only.
    Add(ClaimSpec),
    /// `issueproperty(...)`: into the incoming set and the token properties.
    IssueProperty(ClaimSpec),
}

impl Action {
    /// The keyword.
    #[must_use]
    pub const fn keyword(&self) -> &'static str {
        match self {
            Action::Permit => "permit",
            Action::Deny => "deny",
            Action::Issue(_) => "issue",
            Action::Add(_) => "add",
            Action::IssueProperty(_) => "issueproperty",
        }
    }

    /// The claim the action creates, if any.
    #[must_use]
    pub const fn claim_spec(&self) -> Option<&ClaimSpec> {
        match self {
            Action::Permit | Action::Deny => None,
            Action::Issue(spec) | Action::Add(spec) | Action::IssueProperty(spec) => Some(spec),
        }
    }
}

/// The claim an action creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimSpec {
    /// `claim=c`: a copy of the bound claim.
    Bound {
        /// The identifier.
        binding: Arc<str>,
        /// Where.
        span: Span,
        /// Index of the binding condition; filled by the checker.
        condition: usize,
    },
    /// `type=expr, value=expr`.
    TypeValue {
        /// The claim type (must evaluate to a string).
        claim_type: Expr,
        /// The value.
        value: Expr,
    },
}
