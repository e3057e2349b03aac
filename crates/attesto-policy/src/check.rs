//! Semantic checks run at parse time, and the facts evaluation needs from them.
//!
//! Everything that can be known from the text alone is rejected here rather than at run time:
//! version gates (`configurationrules` needs 1.1, functions and `!` need 1.2), actions outside
//! their section, undefined or duplicate identifiers, function arity and literal argument types,
//! ordering operators on strings or booleans, issuing the read-only `pcrs` claim, JmesPath queries
//! that do not compile, and malformed configuration rules. The checker also resolves each
//! identifier to the condition that binds it and decides which bindings drive iteration (see
//! [`crate::ast::Binding::iterated`]).

use std::sync::Arc;

use crate::ast::{
    Action, ClaimProperty, ClaimSpec, CompiledQuery, Expr, Function, Literal, Rule, Section,
    Version,
};
use crate::config::{
    CONFIGURATION_PROPERTIES, Configuration, MAX_REPORT_VALIDITY_MINUTES, SgxTcbIdentifier,
};
use crate::error::{Error, LimitError, SemanticError, SemanticErrorKind};
use crate::functions::{self, QueryError};
use crate::span::Span;

/// Claim types the policy may read but never issue: they would leak raw evidence the service
/// keeps private. MAA documents `pcrs` as read-only.
pub const READ_ONLY_CLAIM_TYPES: [&str; 1] = ["pcrs"];

/// What the type checker knows about an expression's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StaticType {
    String,
    Integer,
    Boolean,
    /// A claim value or a `JsonToClaimValue` result: any type, maybe a set.
    Unknown,
}

impl StaticType {
    const fn name(self) -> &'static str {
        match self {
            StaticType::String => "String",
            StaticType::Integer => "Integer",
            StaticType::Boolean => "Boolean",
            StaticType::Unknown => "a claim value",
        }
    }
}

fn static_type(expr: &Expr) -> StaticType {
    match expr {
        Expr::Literal {
            value: Literal::String(_),
            ..
        } => StaticType::String,
        Expr::Literal {
            value: Literal::Integer(_),
            ..
        } => StaticType::Integer,
        Expr::Literal {
            value: Literal::Boolean(_),
            ..
        } => StaticType::Boolean,
        Expr::ClaimRef {
            property: ClaimProperty::Value,
            ..
        } => StaticType::Unknown,
        Expr::ClaimRef { .. } => StaticType::String,
        Expr::Call { function, .. } => match function {
            Function::JmesPath | Function::AppendString => StaticType::String,
            Function::NegateBool | Function::IsSubsetOf | Function::ContainsOnlyValue => {
                StaticType::Boolean
            }
            Function::JsonToClaimValue => StaticType::Unknown,
        },
    }
}

pub(crate) struct Checker<'a> {
    pub(crate) source: &'a str,
    pub(crate) version: Version,
}

impl Checker<'_> {
    fn error(&self, span: Span, kind: SemanticErrorKind) -> Error {
        let offending = span
            .text(self.source)
            .unwrap_or("")
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        Error::Semantic(SemanticError {
            span,
            offending,
            kind,
        })
    }

    fn require(&self, required: Version, feature: &'static str, span: Span) -> Result<(), Error> {
        if self.version < required {
            return Err(self.error(
                span,
                SemanticErrorKind::RequiresVersion {
                    feature,
                    required,
                    found: self.version,
                },
            ));
        }
        Ok(())
    }

    pub(crate) fn section(
        &self,
        section: Section,
        span: Span,
        rules: &mut [Rule],
    ) -> Result<(), Error> {
        if section == Section::Configuration {
            self.require(Version::V1_1, "configurationrules", span)?;
        }
        for rule in rules {
            self.rule(section, rule)?;
        }
        Ok(())
    }

    fn rule(&self, section: Section, rule: &mut Rule) -> Result<(), Error> {
        let allowed = match (&rule.action, section) {
            (Action::Permit | Action::Deny, Section::Authorization) => true,
            (Action::Permit | Action::Deny, _) => false,
            (Action::Add(_) | Action::Issue(_), Section::Authorization | Section::Issuance) => true,
            (Action::IssueProperty(_), Section::Configuration | Section::Issuance) => true,
            _ => false,
        };
        if !allowed {
            return Err(self.error(
                rule.span,
                SemanticErrorKind::ActionNotAllowed {
                    action: rule.action.keyword(),
                    section: section.keyword(),
                },
            ));
        }

        let mut scope: Vec<(Arc<str>, usize)> = Vec::new();
        let mut scalar_use = vec![false; rule.conditions.len()];
        let mut read_only: Vec<Option<&'static str>> = vec![None; rule.conditions.len()];
        for (index, condition) in rule.conditions.iter_mut().enumerate() {
            if condition.negated {
                self.require(Version::V1_2, "a negated condition ![...]", condition.span)?;
            }
            for property in &mut condition.properties {
                self.comparison(
                    property.property,
                    property.operator,
                    &property.value,
                    property.span,
                )?;
                self.expr(&mut property.value, &scope, &mut scalar_use, false, 0)?;
            }
            if let Some(slot) = read_only.get_mut(index) {
                *slot = read_only_binding(condition);
            }
            if let Some(binding) = &condition.binding {
                if scope.iter().any(|(name, _)| *name == binding.name) {
                    return Err(self.error(
                        binding.span,
                        SemanticErrorKind::DuplicateIdentifier {
                            name: binding.name.to_string(),
                        },
                    ));
                }
                scope.push((binding.name.clone(), index));
            }
        }

        let issues_out = matches!(rule.action, Action::Issue(_) | Action::IssueProperty(_));
        let is_property = matches!(rule.action, Action::IssueProperty(_));
        match &mut rule.action {
            Action::Permit | Action::Deny => {}
            Action::Issue(spec) | Action::Add(spec) | Action::IssueProperty(spec) => match spec {
                ClaimSpec::Bound {
                    binding,
                    span,
                    condition,
                } => {
                    *condition = self.resolve(binding, *span, &scope)?;
                    if let Some(flag) = scalar_use.get_mut(*condition) {
                        *flag = true;
                    }
                    if issues_out
                        && let Some(claim_type) = read_only.get(*condition).copied().flatten()
                    {
                        return Err(self.error(
                            *span,
                            SemanticErrorKind::ReadOnlyIssue {
                                claim_type: claim_type.to_owned(),
                            },
                        ));
                    }
                }
                ClaimSpec::TypeValue { claim_type, value } => {
                    self.expr(claim_type, &scope, &mut scalar_use, false, 0)?;
                    self.expr(value, &scope, &mut scalar_use, false, 0)?;
                    if static_type(claim_type) != StaticType::String
                        && static_type(claim_type) != StaticType::Unknown
                    {
                        return Err(self.error(
                            claim_type.span(),
                            SemanticErrorKind::TypeMismatch {
                                context: "the claim type".to_owned(),
                                expected: "String",
                                found: static_type(claim_type).name(),
                            },
                        ));
                    }
                    if issues_out && let Some(claim_type) = tainted_by(value, &read_only) {
                        return Err(self.error(
                            value.span(),
                            SemanticErrorKind::ReadOnlyIssue {
                                claim_type: claim_type.to_owned(),
                            },
                        ));
                    }
                    if is_property && section == Section::Issuance {
                        self.token_property(claim_type, value)?;
                    }
                }
            },
        }

        for (condition, used) in rule.conditions.iter_mut().zip(scalar_use) {
            if let Some(binding) = &mut condition.binding {
                binding.iterated = used;
            }
        }
        Ok(())
    }

    /// Parse-time checks of a comparison.
    fn comparison(
        &self,
        property: ClaimProperty,
        operator: crate::ast::Operator,
        value: &Expr,
        span: Span,
    ) -> Result<(), Error> {
        let found = static_type(value);
        let mismatch = |context: String, expected: &'static str, found: &'static str| {
            self.error(
                span,
                SemanticErrorKind::TypeMismatch {
                    context,
                    expected,
                    found,
                },
            )
        };
        match property {
            ClaimProperty::Type | ClaimProperty::Issuer => {
                if operator.is_ordering() {
                    return Err(mismatch(
                        format!(
                            "operator {} (the claim {} is a String)",
                            operator.symbol(),
                            property.keyword()
                        ),
                        "Integer",
                        "String",
                    ));
                }
                if matches!(found, StaticType::Integer | StaticType::Boolean) {
                    return Err(mismatch(
                        format!("the claim {}", property.keyword()),
                        "String",
                        found.name(),
                    ));
                }
            }
            ClaimProperty::Value => {
                if operator.is_ordering()
                    && matches!(found, StaticType::String | StaticType::Boolean)
                {
                    return Err(mismatch(
                        format!("operator {}", operator.symbol()),
                        "Integer",
                        found.name(),
                    ));
                }
            }
        }
        Ok(())
    }

    fn resolve(
        &self,
        name: &Arc<str>,
        span: Span,
        scope: &[(Arc<str>, usize)],
    ) -> Result<usize, Error> {
        scope
            .iter()
            .rev()
            .find(|(bound, _)| bound == name)
            .map(|(_, index)| *index)
            .ok_or_else(|| {
                self.error(
                    span,
                    SemanticErrorKind::UndefinedIdentifier {
                        name: name.to_string(),
                    },
                )
            })
    }

    fn expr(
        &self,
        expr: &mut Expr,
        scope: &[(Arc<str>, usize)],
        scalar_use: &mut [bool],
        set_position: bool,
        depth: usize,
    ) -> Result<(), Error> {
        match expr {
            Expr::Literal { .. } => Ok(()),
            Expr::ClaimRef {
                binding,
                span,
                condition,
                ..
            } => {
                *condition = self.resolve(binding, *span, scope)?;
                if !set_position && let Some(flag) = scalar_use.get_mut(*condition) {
                    *flag = true;
                }
                Ok(())
            }
            Expr::Call {
                function,
                args,
                span,
                compiled,
            } => {
                self.require(Version::V1_2, "a function call", *span)?;
                if depth >= crate::limits::MAX_CALL_DEPTH {
                    return Err(
                        LimitError::new(crate::limits::Limit::CallDepth, Some(*span)).into(),
                    );
                }
                if args.len() != function.arity() {
                    return Err(self.error(
                        *span,
                        SemanticErrorKind::WrongArity {
                            function: function.name(),
                            expected: function.arity(),
                            found: args.len(),
                        },
                    ));
                }
                for (index, arg) in args.iter_mut().enumerate() {
                    self.expr(
                        arg,
                        scope,
                        scalar_use,
                        function.takes_set(index),
                        depth.saturating_add(1),
                    )?;
                    self.argument(*function, index, arg)?;
                }
                if *function == Function::JmesPath
                    && let Some(Expr::Literal {
                        value: Literal::String(query),
                        span: query_span,
                    }) = args.get(1)
                {
                    *compiled = Some(self.compile(query, *query_span)?);
                }
                Ok(())
            }
        }
    }

    fn compile(&self, query: &str, span: Span) -> Result<CompiledQuery, Error> {
        match functions::compile(query) {
            Ok(expression) => Ok(CompiledQuery(expression)),
            Err(QueryError::Limit(limit)) => Err(LimitError::new(limit, Some(span)).into()),
            Err(QueryError::Invalid(reason)) => {
                Err(self.error(span, SemanticErrorKind::InvalidJmesPath { reason }))
            }
        }
    }

    /// Literal argument types that can never work.
    fn argument(&self, function: Function, index: usize, arg: &Expr) -> Result<(), Error> {
        let found = static_type(arg);
        let expected = match (function, index) {
            (Function::JmesPath | Function::JsonToClaimValue | Function::AppendString, _) => {
                "String"
            }
            (Function::NegateBool, _) => "Boolean",
            (Function::IsSubsetOf, _) | (Function::ContainsOnlyValue, 0) => {
                "a set (a claim reference or JsonToClaimValue)"
            }
            (Function::ContainsOnlyValue, _) => return Ok(()),
        };
        let wrong = match expected {
            "String" => matches!(found, StaticType::Integer | StaticType::Boolean),
            "Boolean" => matches!(found, StaticType::String | StaticType::Integer),
            _ => found != StaticType::Unknown,
        };
        if wrong {
            return Err(self.error(
                arg.span(),
                SemanticErrorKind::TypeMismatch {
                    context: format!(
                        "argument {} of {}",
                        index.saturating_add(1),
                        function.name()
                    ),
                    expected,
                    found: found.name(),
                },
            ));
        }
        Ok(())
    }

    /// Literal values of the known token properties must have the right type and range.
    fn token_property(&self, claim_type: &Expr, value: &Expr) -> Result<(), Error> {
        let (
            Expr::Literal {
                value: Literal::String(name),
                ..
            },
            Expr::Literal {
                value: literal,
                span,
            },
        ) = (claim_type, value)
        else {
            return Ok(());
        };
        let problem = match (&**name, literal) {
            ("report_validity_in_minutes", Literal::Integer(minutes)) => {
                (!(1..=i64::from(MAX_REPORT_VALIDITY_MINUTES)).contains(minutes)).then(|| {
                    format!("report_validity_in_minutes must be 1..={MAX_REPORT_VALIDITY_MINUTES}")
                })
            }
            ("report_validity_in_minutes", other) => Some(format!(
                "report_validity_in_minutes is an Integer, found {}",
                other.type_name()
            )),
            ("omit_x5c", Literal::Boolean(_)) => None,
            ("omit_x5c", other) => Some(format!(
                "omit_x5c is a Boolean, found {}",
                other.type_name()
            )),
            _ => None,
        };
        match problem {
            Some(reason) => Err(self.error(*span, SemanticErrorKind::InvalidProperty { reason })),
            None => Ok(()),
        }
    }

    /// Configuration rules: unconditional `=> issueproperty(type="known", value=literal);`.
    pub(crate) fn configuration(&self, rules: &[Rule]) -> Result<Configuration, Error> {
        let mut configuration = Configuration::default();
        for rule in rules {
            let invalid = |reason: String| {
                self.error(
                    rule.span,
                    SemanticErrorKind::InvalidConfiguration { reason },
                )
            };
            if !rule.conditions.is_empty() {
                return Err(invalid(
                    "configuration rules take no conditions: they are settled before any evidence is read".to_owned(),
                ));
            }
            let Action::IssueProperty(ClaimSpec::TypeValue { claim_type, value }) = &rule.action
            else {
                return Err(invalid(
                    "configuration rules must be issueproperty(type=\"...\", value=...)".to_owned(),
                ));
            };
            let (
                Expr::Literal {
                    value: Literal::String(name),
                    ..
                },
                Expr::Literal { value, .. },
            ) = (claim_type, value)
            else {
                return Err(invalid(
                    "configuration rules take a literal type and a literal value".to_owned(),
                ));
            };
            match (&**name, value) {
                ("require_valid_aik_cert", Literal::Boolean(flag)) => {
                    configuration.require_valid_aik_cert = *flag
                }
                ("required_pcr_mask", Literal::Integer(mask)) => {
                    configuration.required_pcr_mask = u32::try_from(*mask)
                        .ok()
                        .filter(|mask| *mask <= crate::config::DEFAULT_REQUIRED_PCR_MASK)
                        .ok_or_else(|| {
                            invalid(format!(
                                "required_pcr_mask must be 0..={}",
                                crate::config::DEFAULT_REQUIRED_PCR_MASK
                            ))
                        })?;
                }
                ("x-ms-sgx-tcbidentifier", Literal::String(id)) => {
                    configuration.sgx_tcb_identifier =
                        Some(if id.eq_ignore_ascii_case("azuredefault") {
                            SgxTcbIdentifier::AzureDefault
                        } else if id.is_empty() {
                            return Err(invalid(
                                "x-ms-sgx-tcbidentifier must not be empty".to_owned(),
                            ));
                        } else {
                            SgxTcbIdentifier::Baseline(id.to_string())
                        });
                }
                (known, other) if CONFIGURATION_PROPERTIES.contains(&known) => {
                    let expected = match known {
                        "require_valid_aik_cert" => "Boolean",
                        "required_pcr_mask" => "Integer",
                        _ => "String",
                    };
                    return Err(invalid(format!(
                        "{known} is a {expected}, found {}",
                        other.type_name()
                    )));
                }
                (unknown, _) => {
                    return Err(invalid(format!(
                        "unknown configuration property '{unknown}' (known: {})",
                        CONFIGURATION_PROPERTIES.join(", ")
                    )));
                }
            }
        }
        Ok(configuration)
    }
}

/// The read-only claim type a condition's matches certainly have: `type == "pcrs"` without an
/// issuer condition that excludes the service (only the service's `pcrs` is read-only).
fn read_only_binding(condition: &crate::ast::Condition) -> Option<&'static str> {
    let literal = |property: ClaimProperty| {
        condition.properties.iter().find_map(|p| {
            match (&p.value, p.property == property, p.operator) {
                (
                    Expr::Literal {
                        value: Literal::String(text),
                        ..
                    },
                    true,
                    crate::ast::Operator::Eq,
                ) => Some(text.clone()),
                _ => None,
            }
        })
    };
    let claim_type = literal(ClaimProperty::Type)?;
    if literal(ClaimProperty::Issuer)
        .is_some_and(|issuer| &*issuer != crate::claims::Issuer::AttestationService.as_str())
    {
        return None;
    }
    READ_ONLY_CLAIM_TYPES
        .iter()
        .find(|t| **t == &*claim_type)
        .copied()
}

/// The read-only claim type a value expression derives from, if any.
fn tainted_by(expr: &Expr, read_only: &[Option<&'static str>]) -> Option<&'static str> {
    match expr {
        Expr::Literal { .. } => None,
        Expr::ClaimRef {
            property: ClaimProperty::Value,
            condition,
            ..
        } => read_only.get(*condition).copied().flatten(),
        Expr::ClaimRef { .. } => None,
        Expr::Call { args, .. } => args.iter().find_map(|arg| tainted_by(arg, read_only)),
    }
}
