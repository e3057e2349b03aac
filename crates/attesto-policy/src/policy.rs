//! [`Policy`]: a parsed, checked policy ready to evaluate many times.

use std::fmt;
use std::sync::Arc;

use crate::ast::{Rule, Section, Version};
use crate::check::Checker;
use crate::claims::ClaimSet;
use crate::config::Configuration;
use crate::error::{Error, LimitError};
use crate::eval::{self, Evaluation};
use crate::limits::{self, Limit};
use crate::span::Span;
use crate::{hash, lexer, parser};

/// Something accepted but worth fixing (e.g. `=` where `==` is meant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where.
    pub span: Span,
    /// What and how to fix it.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "warning at line {}, column {}: {}",
            self.span.line, self.span.column, self.message
        )
    }
}

/// A parsed and checked policy. Cheap to clone, `Send + Sync`, evaluated without re-parsing.
///
/// Equality compares the rules, not the text: layout, comments, keyword case and `=`-for-`==`
/// do not matter.
#[derive(Debug, Clone)]
pub struct Policy {
    source: Arc<str>,
    version: Version,
    configuration_rules: Option<Vec<Rule>>,
    authorization_rules: Vec<Rule>,
    issuance_rules: Option<Vec<Rule>>,
    configuration: Configuration,
    warnings: Vec<Warning>,
}

impl PartialEq for Policy {
    fn eq(&self, other: &Policy) -> bool {
        self.version == other.version
            && self.configuration_rules == other.configuration_rules
            && self.authorization_rules == other.authorization_rules
            && self.issuance_rules == other.issuance_rules
    }
}

impl Eq for Policy {}

impl Policy {
    /// Parses and checks policy text.
    ///
    /// # Errors
    /// [`Error::Syntax`], [`Error::Semantic`] or [`Error::Limit`], all with
    /// [`crate::ErrorCode::PolicyParsingError`].
    pub fn parse(text: &str) -> Result<Policy, Error> {
        if text.len() > limits::MAX_POLICY_BYTES {
            return Err(LimitError::new(Limit::PolicyBytes, None).into());
        }
        let tokens = lexer::tokenize(text)?;
        let parsed = parser::parse(text, tokens)?;
        let checker = Checker {
            source: text,
            version: parsed.version,
        };
        let mut configuration_rules = None;
        let mut authorization_rules = Vec::new();
        let mut issuance_rules = None;
        for mut section in parsed.sections {
            checker.section(section.section, section.span, &mut section.rules)?;
            match section.section {
                Section::Configuration => configuration_rules = Some(section.rules),
                Section::Authorization => authorization_rules = section.rules,
                Section::Issuance => issuance_rules = Some(section.rules),
            }
        }
        let configuration =
            checker.configuration(configuration_rules.as_deref().unwrap_or_default())?;
        Ok(Policy {
            source: Arc::from(text),
            version: parsed.version,
            configuration_rules,
            authorization_rules,
            issuance_rules,
            configuration,
            warnings: parsed.warnings,
        })
    }

    /// Evaluates the policy against the incoming claims.
    ///
    /// # Errors
    /// [`Error::Evaluation`] on a runtime error (invalid JSON given to `JmesPath`, an object given
    /// to `JsonToClaimValue`, a limit...). Evaluation then stops: no decision is returned, so the
    /// caller cannot issue a token by mistake.
    pub fn evaluate(&self, claims: &ClaimSet) -> Result<Evaluation, Error> {
        eval::evaluate(
            &self.source,
            &self.authorization_rules,
            self.issuance_rules.as_deref().unwrap_or_default(),
            claims,
        )
    }

    /// The declared version.
    #[must_use]
    pub const fn version(&self) -> Version {
        self.version
    }

    /// Engine settings from `configurationrules`, with defaults for what is not set.
    #[must_use]
    pub const fn configuration(&self) -> &Configuration {
        &self.configuration
    }

    /// The rules of a section (empty if the section is absent).
    #[must_use]
    pub fn rules(&self, section: Section) -> &[Rule] {
        match section {
            Section::Configuration => self.configuration_rules.as_deref().unwrap_or_default(),
            Section::Authorization => &self.authorization_rules,
            Section::Issuance => self.issuance_rules.as_deref().unwrap_or_default(),
        }
    }

    /// Whether the section is written in the policy (possibly empty).
    #[must_use]
    pub const fn has_section(&self, section: Section) -> bool {
        match section {
            Section::Configuration => self.configuration_rules.is_some(),
            Section::Authorization => true,
            Section::Issuance => self.issuance_rules.is_some(),
        }
    }

    /// Accepted-but-suspicious constructs.
    #[must_use]
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The exact text parsed.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// `x-ms-policy-hash` of the exact text parsed (see [`crate::policy_hash`]).
    #[must_use]
    pub fn hash(&self) -> String {
        hash::policy_hash(&self.source)
    }
}

impl fmt::Display for Policy {
    /// The canonical text: one rule per line, `==` everywhere, no comments.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "version={};", self.version)?;
        let sections = [
            (Section::Configuration, self.configuration_rules.as_deref()),
            (
                Section::Authorization,
                Some(self.authorization_rules.as_slice()),
            ),
            (Section::Issuance, self.issuance_rules.as_deref()),
        ];
        for (section, rules) in sections {
            let Some(rules) = rules else { continue };
            writeln!(f, "{section} {{")?;
            for rule in rules {
                writeln!(f, "    {rule}")?;
            }
            writeln!(f, "}};")?;
        }
        Ok(())
    }
}
