//! The evaluation trace: for every rule, whether it fired, on which claims, and what it did; and
//! a readable rendering of it (`Display`) with each rule's source text and line, so a user sees
//! exactly why a policy denied.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use crate::ast::Section;
use crate::claims::Claim;
use crate::span::Span;

/// The authorization outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No `deny()` fired and at least one `permit()` did.
    Permitted,
    /// A `deny()` fired (the first one is named). MAA: "A Deny claim was issued, authorization
    /// failed."
    Denied {
        /// The first `deny()` rule that fired.
        span: Span,
    },
    /// No `permit()` fired: authorization is deny-by-default.
    NoPermit,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Permitted => f.write_str("permitted"),
            Decision::Denied { span } => {
                write!(f, "denied: the deny() rule at line {} fired", span.line)
            }
            Decision::NoPermit => {
                f.write_str("denied: no permit() rule fired (authorization is deny-by-default)")
            }
        }
    }
}

/// Everything the rules did, in order.
#[derive(Debug, Clone)]
pub struct Trace {
    /// The policy text, for rendering rule sources.
    pub source: Arc<str>,
    /// The final claim set: the incoming claims first, then every claim the policy created.
    /// Trace entries refer to claims by index into this list.
    pub claims: Vec<Claim>,
    /// How many of `claims` were incoming.
    pub incoming: usize,
    /// One entry per evaluated rule.
    pub rules: Vec<RuleTrace>,
    /// The authorization outcome.
    pub decision: Decision,
    /// True when issuance rules exist but were not run because authorization failed.
    pub issuance_skipped: bool,
}

/// What one rule did.
#[derive(Debug, Clone)]
pub struct RuleTrace {
    /// The section.
    pub section: Section,
    /// 0-based index of the rule within its section.
    pub index: usize,
    /// The rule's source span.
    pub span: Span,
    /// Fired or not, and why.
    pub outcome: RuleOutcome,
}

/// Whether a rule fired.
#[derive(Debug, Clone)]
pub enum RuleOutcome {
    /// Fired once per listed combination.
    Fired(Vec<Firing>),
    /// Did not fire: `condition` (0-based) is the furthest condition that failed.
    NotFired {
        /// The failing condition.
        condition: usize,
        /// Its source span.
        condition_span: Span,
        /// For a failing `![...]`: the claim that matched it.
        negated_match: Option<usize>,
    },
}

/// One firing of a rule.
#[derive(Debug, Clone)]
pub struct Firing {
    /// The identifiers and the claims they were bound to.
    pub bindings: Vec<TraceBinding>,
    /// What the action did.
    pub effect: Effect,
}

/// An identifier bound in a firing.
#[derive(Debug, Clone)]
pub struct TraceBinding {
    /// The identifier.
    pub name: Arc<str>,
    /// The bound claim (for a binding that is not iterated, the first match).
    pub claim: usize,
    /// True when the binding is not iterated (unused, or used only as a set argument): the rule
    /// fired once for all its matches, and set arguments saw every one of them.
    pub set: bool,
}

/// What an action did.
#[derive(Debug, Clone)]
pub enum Effect {
    /// `permit()`
    Permit,
    /// `deny()`
    Deny,
    /// `add`/`issue`/`issueproperty` created these claims (indices into [`Trace::claims`]).
    Created {
        /// The action keyword.
        action: &'static str,
        /// The created claims.
        claims: Range<usize>,
    },
    /// The value was empty (e.g. `JsonToClaimValue` of `null`), so nothing was created.
    Nothing,
}

/// Longest value shown in a rendered trace.
const MAX_SHOWN: usize = 96;

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shorten(text: String) -> String {
    if text.chars().count() <= MAX_SHOWN {
        return text;
    }
    let mut short: String = text.chars().take(MAX_SHOWN).collect();
    short.push('…');
    short
}

impl Trace {
    fn claim(&self, index: usize) -> String {
        match self.claims.get(index) {
            Some(claim) => shorten(claim.to_string()),
            None => format!("<claim {index}>"),
        }
    }

    fn rule_text(&self, span: Span) -> String {
        collapse(span.text(&self.source).unwrap_or(""))
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut section = None;
        for rule in &self.rules {
            if section != Some(rule.section) {
                writeln!(f, "{}:", rule.section)?;
                section = Some(rule.section);
            }
            writeln!(
                f,
                "  rule {}, line {}: {}",
                rule.index.saturating_add(1),
                rule.span.line,
                self.rule_text(rule.span)
            )?;
            match &rule.outcome {
                RuleOutcome::NotFired {
                    condition,
                    condition_span,
                    negated_match,
                } => {
                    let text = format!("`{}`", self.rule_text(*condition_span));
                    match negated_match {
                        Some(claim) => writeln!(
                            f,
                            "    not fired: condition {} {text} is negated, but claim {} matches it",
                            condition.saturating_add(1),
                            self.claim(*claim)
                        )?,
                        None => writeln!(
                            f,
                            "    not fired: condition {} {text} matched no claim",
                            condition.saturating_add(1)
                        )?,
                    }
                }
                RuleOutcome::Fired(firings) => {
                    let times = if firings.len() == 1 {
                        "once".to_owned()
                    } else {
                        format!("{} times", firings.len())
                    };
                    writeln!(f, "    fired {times}")?;
                    for firing in firings {
                        for binding in &firing.bindings {
                            let set = if binding.set {
                                " (first of its matches)"
                            } else {
                                ""
                            };
                            writeln!(
                                f,
                                "      {} = {}{set}",
                                binding.name,
                                self.claim(binding.claim)
                            )?;
                        }
                        match &firing.effect {
                            Effect::Permit => writeln!(f, "      => permit()")?,
                            Effect::Deny => writeln!(f, "      => deny()")?,
                            Effect::Nothing => {
                                writeln!(f, "      => nothing created (empty value)")?
                            }
                            Effect::Created { action, claims } => {
                                for index in claims.clone() {
                                    writeln!(f, "      => {action} {}", self.claim(index))?;
                                }
                            }
                        }
                    }
                }
            }
        }
        if self.issuance_skipped {
            writeln!(f, "issuancerules: not evaluated (authorization failed)")?;
        }
        write!(f, "decision: {}", self.decision)
    }
}
