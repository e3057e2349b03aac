//! Evaluation: rules + incoming claims → decision, issued claims, properties and a trace.
//!
//! Semantics (see the crate's `# Decisions` for the reasons):
//! - Rules run in textual order, authorization first. Claims a rule creates are appended to the
//!   incoming set at once and are visible to every later rule, but not to the rule that created
//!   them (a rule matches against the set as it was when the rule started, so
//!   `c:[type=="x"] => add(type="x", value=c.value);` cannot feed itself).
//! - A condition matches a claim when every comparison holds. A rule fires once per combination
//!   of claims matched by its *iterated* bindings; unbound conditions and set-only bindings only
//!   require a match. `![...]` holds iff no claim matches.
//! - `deny()` anywhere wins; otherwise at least one `permit()` is needed. Issuance rules run only
//!   when authorization succeeded.
//! - A runtime error aborts the evaluation: no decision, no token (fail closed).

use std::sync::Arc;

use crate::ast::{
    Action, ClaimProperty, ClaimSpec, Condition, Expr, Literal, Operator, Rule, Section,
};
use crate::check::READ_ONLY_CLAIM_TYPES;
use crate::claims::{Claim, ClaimSet, ClaimValue, Issuer};
use crate::config::{MAX_REPORT_VALIDITY_MINUTES, TokenProperties};
use crate::error::{Error, EvaluationError, EvaluationErrorKind};
use crate::explain::{Decision, Effect, Firing, RuleOutcome, RuleTrace, Trace, TraceBinding};
use crate::functions::{Evaluated, Values, call, single};
use crate::limits::{self, Limit};
use crate::span::Span;

/// The result of evaluating a policy.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Whether a token may be issued: no `deny()` fired and at least one `permit()` did.
    pub permitted: bool,
    /// Why: permitted, denied by a rule, or no permit.
    pub decision: Decision,
    /// Claims the issuance (and authorization) rules issued, in order. Empty when not permitted.
    pub issued_claims: Vec<Claim>,
    /// Token properties from `issueproperty` in issuance rules.
    pub properties: TokenProperties,
    /// What every rule did.
    pub trace: Trace,
}

/// A claim in the working set, with the read-only claim type it derives from (if any).
struct WorkClaim {
    claim: Claim,
    taint: Option<&'static str>,
}

/// The claim type, values and read-only taint an action creates claims from.
type ClaimParts = (Arc<str>, Vec<ClaimValue>, Option<&'static str>);

/// A borrowed view used for comparisons.
#[derive(Clone, Copy)]
enum Operand<'a> {
    Text(&'a str),
    Integer(i64),
    Boolean(bool),
}

impl<'a> Operand<'a> {
    fn of_value(value: &'a ClaimValue) -> Operand<'a> {
        match value {
            ClaimValue::String(text) => Operand::Text(text),
            ClaimValue::Json(json) => Operand::Text(json.text()),
            ClaimValue::Integer(number) => Operand::Integer(*number),
            ClaimValue::Boolean(flag) => Operand::Boolean(*flag),
        }
    }

    fn of_literal(literal: &'a Literal) -> Operand<'a> {
        match literal {
            Literal::String(text) => Operand::Text(text),
            Literal::Integer(number) => Operand::Integer(*number),
            Literal::Boolean(flag) => Operand::Boolean(*flag),
        }
    }
}

/// Values of different types never match, under any operator (so `!=` across types is false);
/// ordering applies to integers only.
fn compare(operator: Operator, left: Operand<'_>, right: Operand<'_>) -> bool {
    match (left, right) {
        (Operand::Integer(left), Operand::Integer(right)) => match operator {
            Operator::Eq => left == right,
            Operator::Ne => left != right,
            Operator::Lt => left < right,
            Operator::Le => left <= right,
            Operator::Gt => left > right,
            Operator::Ge => left >= right,
        },
        (Operand::Text(left), Operand::Text(right)) => match operator {
            Operator::Eq => left == right,
            Operator::Ne => left != right,
            _ => false,
        },
        (Operand::Boolean(left), Operand::Boolean(right)) => match operator {
            Operator::Eq => left == right,
            Operator::Ne => left != right,
            _ => false,
        },
        _ => false,
    }
}

pub(crate) fn values_equal(left: &ClaimValue, right: &ClaimValue) -> bool {
    compare(
        Operator::Eq,
        Operand::of_value(left),
        Operand::of_value(right),
    )
}

/// A pre-evaluated non-literal right-hand side.
enum Rhs {
    Literal,
    Value(ClaimValue),
    Nothing,
}

/// Per-rule evaluation context.
struct RuleContext<'r> {
    rule: &'r Rule,
    snapshot: usize,
    bound: [Option<usize>; limits::MAX_CONDITIONS_PER_RULE],
    visits: usize,
    deepest_failure: Option<(usize, Option<usize>)>,
    firings: Vec<Firing>,
}

struct Evaluator {
    claims: Vec<WorkClaim>,
    issued: Vec<usize>,
    properties: TokenProperties,
    created_claims: usize,
    created_bytes: usize,
    permits: usize,
    deny: Option<Span>,
    trace: Vec<RuleTrace>,
}

pub(crate) fn evaluate(
    source: &Arc<str>,
    authorization: &[Rule],
    issuance: &[Rule],
    incoming: &ClaimSet,
) -> Result<Evaluation, Error> {
    let claims = incoming
        .claims()
        .iter()
        .map(|claim| WorkClaim {
            taint: (claim.issuer == Issuer::AttestationService)
                .then(|| {
                    READ_ONLY_CLAIM_TYPES
                        .iter()
                        .find(|t| **t == &*claim.claim_type)
                        .copied()
                })
                .flatten(),
            claim: claim.clone(),
        })
        .collect();
    let mut evaluator = Evaluator {
        claims,
        issued: Vec::new(),
        properties: TokenProperties::default(),
        created_claims: 0,
        created_bytes: 0,
        permits: 0,
        deny: None,
        trace: Vec::with_capacity(authorization.len().saturating_add(issuance.len())),
    };
    for (index, rule) in authorization.iter().enumerate() {
        evaluator.rule(Section::Authorization, index, rule)?;
    }
    let decision = match evaluator.deny {
        Some(span) => Decision::Denied { span },
        None if evaluator.permits == 0 => Decision::NoPermit,
        None => Decision::Permitted,
    };
    let permitted = decision == Decision::Permitted;
    if permitted {
        for (index, rule) in issuance.iter().enumerate() {
            evaluator.rule(Section::Issuance, index, rule)?;
        }
    }
    let incoming_count = incoming.claims().len();
    let Evaluator {
        claims,
        issued,
        properties,
        trace,
        ..
    } = evaluator;
    let claims: Vec<Claim> = claims.into_iter().map(|work| work.claim).collect();
    let issued_claims = if permitted {
        issued
            .iter()
            .filter_map(|index| claims.get(*index).cloned())
            .collect()
    } else {
        Vec::new()
    };
    let properties = if permitted {
        properties
    } else {
        TokenProperties::default()
    };
    Ok(Evaluation {
        permitted,
        decision: decision.clone(),
        issued_claims,
        properties,
        trace: Trace {
            source: source.clone(),
            claims,
            incoming: incoming_count,
            rules: trace,
            decision,
            issuance_skipped: !permitted && !issuance.is_empty(),
        },
    })
}

pub(crate) fn runtime(span: Span, kind: EvaluationErrorKind) -> Error {
    Error::Evaluation(EvaluationError { span, kind })
}

pub(crate) fn limit(span: Span, limit: Limit) -> Error {
    runtime(span, EvaluationErrorKind::LimitExceeded { limit })
}

impl Evaluator {
    fn rule(&mut self, section: Section, index: usize, rule: &Rule) -> Result<(), Error> {
        let mut context = RuleContext {
            rule,
            snapshot: self.claims.len(),
            bound: [None; limits::MAX_CONDITIONS_PER_RULE],
            visits: 0,
            deepest_failure: None,
            firings: Vec::new(),
        };
        self.search(&mut context, 0)?;
        let outcome = if context.firings.is_empty() {
            let (condition, claim) = context.deepest_failure.unwrap_or((0, None));
            let condition_span = rule.conditions.get(condition).map_or(rule.span, |c| c.span);
            RuleOutcome::NotFired {
                condition,
                condition_span,
                negated_match: claim,
            }
        } else {
            RuleOutcome::Fired(context.firings)
        };
        self.trace.push(RuleTrace {
            section,
            index,
            span: rule.span,
            outcome,
        });
        Ok(())
    }

    fn fail(context: &mut RuleContext<'_>, condition: usize, claim: Option<usize>) {
        if context
            .deepest_failure
            .is_none_or(|(deepest, _)| condition > deepest)
        {
            context.deepest_failure = Some((condition, claim));
        }
    }

    /// Depth-first search over the conditions; fires the action for every full combination.
    fn search(&mut self, context: &mut RuleContext<'_>, position: usize) -> Result<(), Error> {
        let rule = context.rule;
        let Some(condition) = rule.conditions.get(position) else {
            return self.fire(context);
        };
        let rhs = self.prepare(condition, context)?;
        let mut matches = (0..context.snapshot).filter(|index| {
            self.claims
                .get(*index)
                .is_some_and(|work| claim_matches(&work.claim, condition, rhs.as_deref()))
        });
        if condition.negated {
            if let Some(index) = matches.next() {
                Self::fail(context, position, Some(index));
                return Ok(());
            }
            return self.search(context, position.saturating_add(1));
        }
        let iterated = condition
            .binding
            .as_ref()
            .is_some_and(|binding| binding.iterated);
        if !iterated {
            let Some(first) = matches.next() else {
                Self::fail(context, position, None);
                return Ok(());
            };
            return self.descend(context, position, first);
        }
        let found: Vec<usize> = matches.collect();
        if found.is_empty() {
            Self::fail(context, position, None);
        }
        for index in found {
            self.descend(context, position, index)?;
        }
        Ok(())
    }

    fn descend(
        &mut self,
        context: &mut RuleContext<'_>,
        position: usize,
        claim: usize,
    ) -> Result<(), Error> {
        context.visits = context.visits.saturating_add(1);
        if context.visits > limits::MAX_COMBINATIONS_PER_RULE {
            return Err(limit(context.rule.span, Limit::CombinationsPerRule));
        }
        if let Some(slot) = context.bound.get_mut(position) {
            *slot = Some(claim);
        }
        self.search(context, position.saturating_add(1))
    }

    /// Evaluates the non-literal right-hand sides of a condition once per partial combination.
    fn prepare(
        &self,
        condition: &Condition,
        context: &RuleContext<'_>,
    ) -> Result<Option<Vec<Rhs>>, Error> {
        if condition
            .properties
            .iter()
            .all(|property| matches!(property.value, Expr::Literal { .. }))
        {
            return Ok(None);
        }
        let mut prepared = Vec::with_capacity(condition.properties.len());
        for property in &condition.properties {
            prepared.push(match &property.value {
                Expr::Literal { .. } => Rhs::Literal,
                expr => {
                    let evaluated = self.expr(expr, context, false)?;
                    match evaluated.values {
                        Values::One(value) => Rhs::Value(value),
                        Values::Many(values) if values.is_empty() => Rhs::Nothing,
                        Values::Many(mut values) if values.len() == 1 => {
                            values.pop().map_or(Rhs::Nothing, Rhs::Value)
                        }
                        Values::Many(values) => {
                            return Err(runtime(
                                expr.span(),
                                EvaluationErrorKind::TypeMismatch {
                                    context: "a comparison".to_owned(),
                                    expected: "a single value",
                                    found: format!("a set of {} values", values.len()),
                                },
                            ));
                        }
                    }
                }
            });
        }
        Ok(Some(prepared))
    }

    /// All values of claims matching a set-only binding's condition.
    fn collect(
        &self,
        position: usize,
        property: ClaimProperty,
        context: &RuleContext<'_>,
    ) -> Result<Evaluated, Error> {
        let Some(condition) = context.rule.conditions.get(position) else {
            return Ok(Evaluated {
                values: Values::Many(Vec::new()),
                taint: None,
            });
        };
        let rhs = self.prepare(condition, context)?;
        let mut taint = None;
        let mut values = Vec::new();
        for work in self.claims.get(..context.snapshot).unwrap_or_default() {
            if claim_matches(&work.claim, condition, rhs.as_deref()) {
                if property == ClaimProperty::Value {
                    taint = taint.or(work.taint);
                }
                values.push(property_value(&work.claim, property));
            }
        }
        Ok(Evaluated {
            values: Values::Many(values),
            taint,
        })
    }

    fn expr(
        &self,
        expr: &Expr,
        context: &RuleContext<'_>,
        set_position: bool,
    ) -> Result<Evaluated, Error> {
        match expr {
            Expr::Literal { value, .. } => Ok(Evaluated::one(literal_value(value), None)),
            Expr::ClaimRef {
                property,
                condition,
                ..
            } => {
                let iterated = context
                    .rule
                    .conditions
                    .get(*condition)
                    .and_then(|c| c.binding.as_ref())
                    .is_some_and(|binding| binding.iterated);
                if set_position && !iterated {
                    return self.collect(*condition, *property, context);
                }
                let work = context
                    .bound
                    .get(*condition)
                    .copied()
                    .flatten()
                    .and_then(|index| self.claims.get(index));
                Ok(match work {
                    Some(work) => Evaluated::one(
                        property_value(&work.claim, *property),
                        if *property == ClaimProperty::Value {
                            work.taint
                        } else {
                            None
                        },
                    ),
                    None => Evaluated {
                        values: Values::Many(Vec::new()),
                        taint: None,
                    },
                })
            }
            Expr::Call {
                function,
                args,
                span,
                compiled,
            } => {
                let mut evaluated = Vec::with_capacity(args.len());
                for (index, arg) in args.iter().enumerate() {
                    evaluated.push(self.expr(arg, context, function.takes_set(index))?);
                }
                let taint = evaluated.iter().find_map(|arg| arg.taint);
                call(
                    *function,
                    evaluated,
                    compiled.as_ref().map(|query| &*query.0),
                    *span,
                )
                .map(|values| Evaluated { values, taint })
            }
        }
    }

    fn fire(&mut self, context: &mut RuleContext<'_>) -> Result<(), Error> {
        let rule = context.rule;
        let bindings: Vec<TraceBinding> = rule
            .conditions
            .iter()
            .enumerate()
            .filter_map(|(position, condition)| {
                let binding = condition.binding.as_ref()?;
                let claim = context.bound.get(position).copied().flatten()?;
                Some(TraceBinding {
                    name: binding.name.clone(),
                    claim,
                    set: !binding.iterated,
                })
            })
            .collect();
        let effect = match &rule.action {
            Action::Permit => {
                self.permits = self.permits.saturating_add(1);
                Effect::Permit
            }
            Action::Deny => {
                self.deny.get_or_insert(rule.span);
                Effect::Deny
            }
            Action::Add(spec) | Action::Issue(spec) | Action::IssueProperty(spec) => {
                let (claim_type, values, taint) = self.claim_parts(spec, context)?;
                if values.is_empty() {
                    Effect::Nothing
                } else {
                    let first = self.claims.len();
                    for value in values {
                        self.create(&rule.action, rule.span, claim_type.clone(), value, taint)?;
                    }
                    Effect::Created {
                        action: rule.action.keyword(),
                        claims: first..self.claims.len(),
                    }
                }
            }
        };
        context.firings.push(Firing { bindings, effect });
        Ok(())
    }

    fn claim_parts(
        &self,
        spec: &ClaimSpec,
        context: &RuleContext<'_>,
    ) -> Result<ClaimParts, Error> {
        match spec {
            ClaimSpec::Bound { condition, .. } => {
                let work = context
                    .bound
                    .get(*condition)
                    .copied()
                    .flatten()
                    .and_then(|index| self.claims.get(index));
                Ok(match work {
                    Some(work) => (
                        work.claim.claim_type.clone(),
                        vec![work.claim.value.clone()],
                        work.taint,
                    ),
                    None => (Arc::from(""), Vec::new(), None),
                })
            }
            ClaimSpec::TypeValue { claim_type, value } => {
                let type_span = claim_type.span();
                let claim_type = match single(self.expr(claim_type, context, false)?.values) {
                    Ok(ClaimValue::String(text)) if !text.is_empty() => text,
                    Ok(other) => {
                        return Err(runtime(
                            type_span,
                            EvaluationErrorKind::TypeMismatch {
                                context: "the claim type".to_owned(),
                                expected: "a non-empty String",
                                found: describe(&other),
                            },
                        ));
                    }
                    Err(found) => {
                        return Err(runtime(
                            type_span,
                            EvaluationErrorKind::TypeMismatch {
                                context: "the claim type".to_owned(),
                                expected: "a non-empty String",
                                found,
                            },
                        ));
                    }
                };
                let evaluated = self.expr(value, context, false)?;
                let taint = evaluated.taint;
                Ok((claim_type, evaluated.into_vec(), taint))
            }
        }
    }

    fn create(
        &mut self,
        action: &Action,
        span: Span,
        claim_type: Arc<str>,
        value: ClaimValue,
        taint: Option<&'static str>,
    ) -> Result<(), Error> {
        if let Some(read_only) = taint
            && matches!(action, Action::Issue(_) | Action::IssueProperty(_))
        {
            return Err(runtime(
                span,
                EvaluationErrorKind::ReadOnlyIssue {
                    claim_type: read_only.to_owned(),
                },
            ));
        }
        self.created_claims = self.created_claims.saturating_add(1);
        if self.created_claims > limits::MAX_CREATED_CLAIMS {
            return Err(limit(span, Limit::CreatedClaims));
        }
        self.created_bytes = self
            .created_bytes
            .saturating_add(value.byte_len())
            .saturating_add(claim_type.len());
        if self.created_bytes > limits::MAX_CREATED_BYTES {
            return Err(limit(span, Limit::CreatedBytes));
        }
        let claim = Claim {
            claim_type,
            value,
            issuer: Issuer::AttestationPolicy,
        };
        let index = self.claims.len();
        match action {
            Action::Issue(_) => self.issued.push(index),
            Action::IssueProperty(_) => self.property(&claim, span)?,
            Action::Add(_) | Action::Permit | Action::Deny => {}
        }
        self.claims.push(WorkClaim { claim, taint });
        Ok(())
    }

    fn property(&mut self, claim: &Claim, span: Span) -> Result<(), Error> {
        let invalid = |reason: String| {
            runtime(
                span,
                EvaluationErrorKind::InvalidProperty {
                    name: claim.claim_type.to_string(),
                    reason,
                },
            )
        };
        match (&*claim.claim_type, &claim.value) {
            ("report_validity_in_minutes", ClaimValue::Integer(minutes)) => {
                let minutes = u32::try_from(*minutes)
                    .ok()
                    .filter(|minutes| (1..=MAX_REPORT_VALIDITY_MINUTES).contains(minutes))
                    .ok_or_else(|| invalid(format!("must be 1..={MAX_REPORT_VALIDITY_MINUTES}")))?;
                self.properties.report_validity_in_minutes = Some(minutes);
            }
            ("report_validity_in_minutes", other) => {
                return Err(invalid(format!(
                    "must be an Integer, found {}",
                    other.type_name()
                )));
            }
            ("omit_x5c", ClaimValue::Boolean(flag)) => self.properties.omit_x5c = Some(*flag),
            ("omit_x5c", other) => {
                return Err(invalid(format!(
                    "must be a Boolean, found {}",
                    other.type_name()
                )));
            }
            _ => {}
        }
        self.properties.all.push(claim.clone());
        Ok(())
    }
}

fn claim_matches(claim: &Claim, condition: &Condition, rhs: Option<&[Rhs]>) -> bool {
    condition
        .properties
        .iter()
        .enumerate()
        .all(|(index, property)| {
            let right = match (
                rhs.and_then(|prepared| prepared.get(index)),
                &property.value,
            ) {
                (Some(Rhs::Value(value)), _) => Operand::of_value(value),
                (Some(Rhs::Nothing), _) => return false,
                (_, Expr::Literal { value, .. }) => Operand::of_literal(value),
                _ => return false,
            };
            let left = match property.property {
                ClaimProperty::Type => Operand::Text(&claim.claim_type),
                ClaimProperty::Issuer => Operand::Text(claim.issuer.as_str()),
                ClaimProperty::Value => Operand::of_value(&claim.value),
            };
            compare(property.operator, left, right)
        })
}

fn property_value(claim: &Claim, property: ClaimProperty) -> ClaimValue {
    match property {
        ClaimProperty::Type => ClaimValue::String(claim.claim_type.clone()),
        ClaimProperty::Issuer => ClaimValue::string(claim.issuer.as_str()),
        ClaimProperty::Value => claim.value.clone(),
    }
}

fn literal_value(literal: &Literal) -> ClaimValue {
    match literal {
        Literal::String(text) => ClaimValue::String(text.clone()),
        Literal::Integer(number) => ClaimValue::Integer(*number),
        Literal::Boolean(flag) => ClaimValue::Boolean(*flag),
    }
}

fn describe(value: &ClaimValue) -> String {
    match value {
        ClaimValue::String(text) if text.is_empty() => "an empty String".to_owned(),
        other => other.type_name().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::JsonValue;

    #[test]
    fn cross_type_comparisons_never_match() {
        for operator in [Operator::Eq, Operator::Ne, Operator::Lt, Operator::Ge] {
            assert!(!compare(operator, Operand::Text("1"), Operand::Integer(1)));
            assert!(!compare(
                operator,
                Operand::Boolean(true),
                Operand::Text("true")
            ));
        }
        assert!(compare(
            Operator::Ge,
            Operand::Integer(2),
            Operand::Integer(2)
        ));
        assert!(!compare(
            Operator::Lt,
            Operand::Text("a"),
            Operand::Text("b")
        ));
    }

    #[test]
    fn json_documents_compare_as_compact_text() {
        let json = ClaimValue::Json(JsonValue::new(serde_json::json!({"a": 1})));
        assert!(compare(
            Operator::Eq,
            Operand::of_value(&json),
            Operand::Text("{\"a\":1}")
        ));
    }
}
