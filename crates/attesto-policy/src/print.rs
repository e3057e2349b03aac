//! Policy → canonical text. `Policy::parse(&policy.to_string())` gives back an equal policy
//! (spans aside), which the property tests check.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::{Action, ClaimSpec, Condition, Expr, Literal, PropertyCondition, Rule};

/// Writes `text` as a policy string literal: `"` and `\` are escaped.
pub(crate) fn write_string_literal(f: &mut impl Write, text: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in text.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(text) => write_string_literal(f, text),
            Literal::Integer(number) => write!(f, "{number}"),
            Literal::Boolean(flag) => write!(f, "{flag}"),
        }
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal { value, .. } => value.fmt(f),
            Expr::ClaimRef {
                binding, property, ..
            } => write!(f, "{binding}.{}", property.keyword()),
            Expr::Call { function, args, .. } => {
                write!(f, "{}(", function.name())?;
                for (index, arg) in args.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    arg.fmt(f)?;
                }
                f.write_char(')')
            }
        }
    }
}

impl Display for PropertyCondition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.property.keyword(),
            self.operator.symbol(),
            self.value
        )
    }
}

impl Display for Condition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.negated {
            f.write_char('!')?;
        }
        if let Some(binding) = &self.binding {
            write!(f, "{}:", binding.name)?;
        }
        f.write_char('[')?;
        for (index, property) in self.properties.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            property.fmt(f)?;
        }
        f.write_char(']')
    }
}

impl Display for ClaimSpec {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ClaimSpec::Bound { binding, .. } => write!(f, "claim={binding}"),
            ClaimSpec::TypeValue { claim_type, value } => {
                write!(f, "type={claim_type}, value={value}")
            }
        }
    }
}

impl Display for Action {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.claim_spec() {
            Some(spec) => write!(f, "{}({spec})", self.keyword()),
            None => write!(f, "{}()", self.keyword()),
        }
    }
}

impl Display for Rule {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (index, condition) in self.conditions.iter().enumerate() {
            if index > 0 {
                f.write_str(" && ")?;
            }
            condition.fmt(f)?;
        }
        if !self.conditions.is_empty() {
            f.write_char(' ')?;
        }
        write!(f, "=> {};", self.action)
    }
}
