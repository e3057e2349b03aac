//! Tokens → syntax tree. A hand-written recursive-descent parser for MAA's grammar (see the crate
//! docs for the EBNF). Errors imitate the ANTLR messages MAA returns (`mismatched input 'x'
//! expecting ';'`) and name the failing rule path.
//!
//! Recursion happens only in nested function calls, capped by
//! [`crate::limits::MAX_CALL_DEPTH`], so hostile input cannot exhaust the stack.

use std::sync::Arc;

use crate::Warning;
use crate::ast::{
    Action, Binding, ClaimProperty, ClaimSpec, Condition, Expr, Function, Literal, Operator,
    PropertyCondition, Rule, Section, Version,
};
use crate::error::{Error, LimitError, SemanticError, SemanticErrorKind, SyntaxError};
use crate::lexer::{Token, TokenKind};
use crate::limits::{self, Limit};
use crate::span::Span;

/// One parsed section.
#[derive(Debug, Clone)]
pub(crate) struct ParsedSection {
    pub(crate) section: Section,
    pub(crate) span: Span,
    pub(crate) rules: Vec<Rule>,
}

/// The parser's output, before semantic checks.
#[derive(Debug, Clone)]
pub(crate) struct ParsedPolicy {
    pub(crate) version: Version,
    pub(crate) sections: Vec<ParsedSection>,
    pub(crate) warnings: Vec<Warning>,
}

pub(crate) fn parse(source: &str, tokens: Vec<Token>) -> Result<ParsedPolicy, Error> {
    let eof = tokens.last().cloned().unwrap_or(Token {
        kind: TokenKind::Eof,
        span: Span::default(),
    });
    let mut parser = Parser {
        source,
        tokens,
        eof,
        pos: 0,
        rule_path: vec!["policy"],
        warnings: Vec::new(),
        rules: 0,
    };
    parser.policy()
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    eof: Token,
    pos: usize,
    rule_path: Vec<&'static str>,
    warnings: Vec<Warning>,
    rules: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        self.tokens.get(self.pos).unwrap_or(&self.eof)
    }

    fn peek_kind_at(&self, offset: usize) -> &TokenKind {
        self.tokens
            .get(self.pos.saturating_add(offset))
            .map_or(&TokenKind::Eof, |token| &token.kind)
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.kind != TokenKind::Eof {
            self.pos = self.pos.saturating_add(1);
        }
        token
    }

    fn at(&self, kind: &TokenKind) -> bool {
        &self.peek().kind == kind
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        let token = self.peek();
        token.kind == TokenKind::Ident && token.text(self.source).eq_ignore_ascii_case(keyword)
    }

    fn text_of(&self, token: &Token) -> String {
        token.text(self.source).to_owned()
    }

    /// `mismatched input 'x' expecting ...` at the current token.
    fn mismatch(&self, expected: &[&str]) -> Error {
        let token = self.peek();
        let offending = self.text_of(token);
        let expecting = match expected {
            [single] => (*single).to_owned(),
            many => format!("{{{}}}", many.join(", ")),
        };
        let hint = if expected.contains(&"';'") {
            Some("every rule and every section ends with ';'")
        } else if token.kind == TokenKind::Assign {
            Some("compare with == in conditions")
        } else {
            None
        };
        Error::Syntax(SyntaxError {
            span: token.span,
            message: format!("mismatched input '{offending}' expecting {expecting}"),
            offending,
            rule: self.rule_path.join(" > "),
            hint,
        })
    }

    fn expect(&mut self, kind: &TokenKind, display: &str) -> Result<Token, Error> {
        if self.at(kind) {
            Ok(self.advance())
        } else {
            Err(self.mismatch(&[display]))
        }
    }

    fn expect_keyword(&mut self, keyword: &'static str, display: &str) -> Result<Token, Error> {
        if self.at_keyword(keyword) {
            Ok(self.advance())
        } else {
            Err(self.mismatch(&[display]))
        }
    }

    fn semantic(&self, span: Span, kind: SemanticErrorKind) -> Error {
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

    fn enter(&mut self, rule: &'static str) {
        self.rule_path.push(rule);
    }

    fn leave(&mut self) {
        self.rule_path.pop();
    }

    fn policy(&mut self) -> Result<ParsedPolicy, Error> {
        let version = self.version_info()?;
        let mut sections = Vec::new();
        if self.at_keyword("configurationrules") {
            sections.push(self.section(Section::Configuration)?);
        }
        if !self.at_keyword("authorizationrules") {
            return Err(if sections.is_empty() {
                self.mismatch(&["'configurationrules'", "'authorizationrules'"])
            } else {
                self.mismatch(&["'authorizationrules'"])
            });
        }
        sections.push(self.section(Section::Authorization)?);
        if self.at_keyword("issuancerules") {
            sections.push(self.section(Section::Issuance)?);
        }
        if !self.at(&TokenKind::Eof) {
            return Err(if sections.iter().any(|s| s.section == Section::Issuance) {
                self.mismatch(&["<EOF>"])
            } else {
                self.mismatch(&["'issuancerules'", "<EOF>"])
            });
        }
        Ok(ParsedPolicy {
            version,
            sections,
            warnings: std::mem::take(&mut self.warnings),
        })
    }

    fn version_info(&mut self) -> Result<Version, Error> {
        self.enter("versionInfo");
        self.expect_keyword("version", "'version'")?;
        self.expect(&TokenKind::Assign, "'='")?;
        let token = self.peek().clone();
        let version = match token.kind {
            TokenKind::Number => Version::parse(token.text(self.source)),
            _ => None,
        };
        let Some(version) = version else {
            return Err(self.mismatch(&["'1.0'", "'1.1'", "'1.2'"]));
        };
        self.advance();
        self.expect(&TokenKind::Semi, "';'")?;
        self.leave();
        Ok(version)
    }

    fn section(&mut self, section: Section) -> Result<ParsedSection, Error> {
        self.enter(section.keyword());
        let keyword = self.advance();
        self.expect(&TokenKind::LBrace, "'{'")?;
        let mut rules = Vec::new();
        while !self.at(&TokenKind::RBrace) {
            if self.at(&TokenKind::Eof) {
                return Err(self.mismatch(&["'}'"]));
            }
            self.rules = self.rules.saturating_add(1);
            if self.rules > limits::MAX_RULES {
                return Err(LimitError::new(Limit::Rules, Some(self.peek().span)).into());
            }
            rules.push(self.rule()?);
        }
        self.advance();
        self.expect(&TokenKind::Semi, "';'")?;
        self.leave();
        Ok(ParsedSection {
            section,
            span: keyword.span,
            rules,
        })
    }

    fn rule(&mut self) -> Result<Rule, Error> {
        self.enter("rule");
        let start = self.peek().span;
        let mut conditions = Vec::new();
        if !self.at(&TokenKind::Arrow) {
            loop {
                if conditions.len() >= limits::MAX_CONDITIONS_PER_RULE {
                    return Err(
                        LimitError::new(Limit::ConditionsPerRule, Some(self.peek().span)).into(),
                    );
                }
                conditions.push(self.condition()?);
                if self.at(&TokenKind::AndAnd) {
                    self.advance();
                } else {
                    break;
                }
            }
            if !self.at(&TokenKind::Arrow) {
                return Err(self.mismatch(&["'&&'", "'=>'"]));
            }
        }
        self.advance();
        let action = self.action()?;
        let end = self.expect(&TokenKind::Semi, "';'")?.span;
        self.leave();
        Ok(Rule {
            span: start.to(end),
            conditions,
            action,
        })
    }

    fn condition(&mut self) -> Result<Condition, Error> {
        self.enter("condition");
        let start = self.peek().span;
        let negated = self.at(&TokenKind::Bang);
        if negated {
            self.advance();
        }
        let mut binding = None;
        if self.at(&TokenKind::Ident) {
            if negated {
                let span = self.peek().span;
                return Err(Error::Syntax(SyntaxError {
                    span,
                    offending: self.text_of(self.peek()),
                    message: format!(
                        "mismatched input '{}' expecting '['",
                        self.text_of(self.peek())
                    ),
                    rule: self.rule_path.join(" > "),
                    hint: Some("a negated condition ![...] cannot bind an identifier"),
                }));
            }
            let name = self.advance();
            self.expect(&TokenKind::Colon, "':'")?;
            binding = Some(Binding {
                name: Arc::from(name.text(self.source)),
                span: name.span,
                iterated: false,
            });
        }
        if !self.at(&TokenKind::LBracket) {
            return Err(if negated || binding.is_some() {
                self.mismatch(&["'['"])
            } else {
                self.mismatch(&["'['", "'!'", "IDENTIFIER", "'=>'"])
            });
        }
        self.advance();
        let mut properties = Vec::new();
        if !self.at(&TokenKind::RBracket) {
            loop {
                if properties.len() >= limits::MAX_PROPERTIES_PER_CONDITION {
                    return Err(LimitError::new(
                        Limit::PropertiesPerCondition,
                        Some(self.peek().span),
                    )
                    .into());
                }
                properties.push(self.property_condition()?);
                if self.at(&TokenKind::Comma) {
                    self.advance();
                } else {
                    break;
                }
            }
        }
        let end = self
            .expect(&TokenKind::RBracket, "']'")
            .map_err(|_| self.mismatch(&["','", "']'"]))?
            .span;
        self.leave();
        Ok(Condition {
            span: start.to(end),
            negated,
            binding,
            properties,
        })
    }

    fn claim_property(&mut self) -> Result<(ClaimProperty, Span), Error> {
        let property = if self.at_keyword("type") {
            ClaimProperty::Type
        } else if self.at_keyword("value") {
            ClaimProperty::Value
        } else if self.at_keyword("issuer") {
            ClaimProperty::Issuer
        } else {
            return Err(self.mismatch(&["'type'", "'value'", "'issuer'"]));
        };
        Ok((property, self.advance().span))
    }

    fn property_condition(&mut self) -> Result<PropertyCondition, Error> {
        self.enter("propertyCondition");
        let (property, start) = self.claim_property()?;
        let operator = match self.peek().kind {
            TokenKind::EqEq => Operator::Eq,
            TokenKind::Assign => {
                self.warnings.push(Warning {
                    span: self.peek().span,
                    message: "'=' in a condition is read as '=='; write '==' (MAA's own parser may reject '=')".to_owned(),
                });
                Operator::Eq
            }
            TokenKind::NotEq => Operator::Ne,
            TokenKind::Lt => Operator::Lt,
            TokenKind::Le => Operator::Le,
            TokenKind::Gt => Operator::Gt,
            TokenKind::Ge => Operator::Ge,
            _ => return Err(self.mismatch(&["'=='", "'!='", "'<'", "'<='", "'>'", "'>='"])),
        };
        self.advance();
        let value = self.expr(0)?;
        self.leave();
        Ok(PropertyCondition {
            span: start.to(value.span()),
            property,
            operator,
            value,
        })
    }

    fn action(&mut self) -> Result<Action, Error> {
        self.enter("action");
        let keyword = self.peek().clone();
        let name = if keyword.kind == TokenKind::Ident {
            keyword.text(self.source).to_ascii_lowercase()
        } else {
            String::new()
        };
        let action = match name.as_str() {
            "permit" | "deny" => {
                self.advance();
                self.expect(&TokenKind::LParen, "'('")?;
                self.expect(&TokenKind::RParen, "')'")?;
                if name == "permit" {
                    Action::Permit
                } else {
                    Action::Deny
                }
            }
            "issue" | "add" | "issueproperty" => {
                self.advance();
                self.expect(&TokenKind::LParen, "'('")?;
                let spec = self.claim_spec()?;
                self.expect(&TokenKind::RParen, "')'")?;
                match name.as_str() {
                    "issue" => Action::Issue(spec),
                    "add" => Action::Add(spec),
                    _ => Action::IssueProperty(spec),
                }
            }
            _ => {
                return Err(self.mismatch(&[
                    "'permit'",
                    "'deny'",
                    "'issue'",
                    "'add'",
                    "'issueproperty'",
                ]));
            }
        };
        self.leave();
        Ok(action)
    }

    fn claim_spec(&mut self) -> Result<ClaimSpec, Error> {
        self.enter("claimSpec");
        let spec = if self.at_keyword("claim") {
            self.advance();
            self.expect(&TokenKind::Assign, "'='")?;
            let name = self.expect(&TokenKind::Ident, "IDENTIFIER")?;
            ClaimSpec::Bound {
                binding: Arc::from(name.text(self.source)),
                span: name.span,
                condition: 0,
            }
        } else if self.at_keyword("type") {
            self.advance();
            self.expect(&TokenKind::Assign, "'='")?;
            let claim_type = self.expr(0)?;
            self.expect(&TokenKind::Comma, "','")?;
            self.expect_keyword("value", "'value'")?;
            self.expect(&TokenKind::Assign, "'='")?;
            let value = self.expr(0)?;
            ClaimSpec::TypeValue { claim_type, value }
        } else {
            return Err(self.mismatch(&["'claim'", "'type'"]));
        };
        self.leave();
        Ok(spec)
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, Error> {
        let token = self.peek().clone();
        match &token.kind {
            TokenKind::String(text) => {
                self.advance();
                Ok(Expr::Literal {
                    value: Literal::String(text.clone()),
                    span: token.span,
                })
            }
            TokenKind::Number => {
                self.advance();
                let value = self.integer(token.text(self.source), token.span)?;
                Ok(Expr::Literal {
                    value: Literal::Integer(value),
                    span: token.span,
                })
            }
            TokenKind::Minus => {
                self.advance();
                let number = self.expect(&TokenKind::Number, "INTEGER")?;
                let span = token.span.to(number.span);
                let value = self.integer(&format!("-{}", number.text(self.source)), span)?;
                Ok(Expr::Literal {
                    value: Literal::Integer(value),
                    span,
                })
            }
            TokenKind::Ident => {
                let text = token.text(self.source);
                match self.peek_kind_at(1) {
                    TokenKind::Dot => {
                        self.advance();
                        self.advance();
                        let (property, end) = self.claim_property()?;
                        Ok(Expr::ClaimRef {
                            binding: Arc::from(text),
                            property,
                            span: token.span.to(end),
                            condition: 0,
                        })
                    }
                    TokenKind::LParen => self.call(depth),
                    _ if text.eq_ignore_ascii_case("true")
                        || text.eq_ignore_ascii_case("false") =>
                    {
                        self.advance();
                        let value = Literal::Boolean(text.eq_ignore_ascii_case("true"));
                        Ok(Expr::Literal {
                            value,
                            span: token.span,
                        })
                    }
                    _ => {
                        self.advance();
                        Err(self.mismatch(&["'.'", "'('"]))
                    }
                }
            }
            _ => Err(self.mismatch(&["STRING", "INTEGER", "'true'", "'false'", "IDENTIFIER"])),
        }
    }

    fn call(&mut self, depth: usize) -> Result<Expr, Error> {
        let name = self.advance();
        if depth >= limits::MAX_CALL_DEPTH {
            return Err(LimitError::new(Limit::CallDepth, Some(name.span)).into());
        }
        let Some(function) = Function::from_name(name.text(self.source)) else {
            return Err(self.semantic(
                name.span,
                SemanticErrorKind::UnknownFunction {
                    name: self.text_of(&name),
                },
            ));
        };
        self.enter("functionCall");
        self.advance();
        let mut args = Vec::new();
        if !self.at(&TokenKind::RParen) {
            loop {
                // Arity is checked later; this only stops a runaway argument list.
                if args.len() > Function::ALL.len() {
                    return Err(self.semantic(
                        name.span,
                        SemanticErrorKind::WrongArity {
                            function: function.name(),
                            expected: function.arity(),
                            found: args.len(),
                        },
                    ));
                }
                args.push(self.expr(depth.saturating_add(1))?);
                if self.at(&TokenKind::Comma) {
                    self.advance();
                } else {
                    break;
                }
            }
        }
        let end = self
            .expect(&TokenKind::RParen, "')'")
            .map_err(|_| self.mismatch(&["','", "')'"]))?
            .span;
        self.leave();
        Ok(Expr::Call {
            function,
            args,
            span: name.span.to(end),
            compiled: None,
        })
    }

    fn integer(&self, text: &str, span: Span) -> Result<i64, Error> {
        text.parse::<i64>().map_err(|_| {
            self.semantic(
                span,
                SemanticErrorKind::InvalidInteger {
                    text: text.to_owned(),
                },
            )
        })
    }
}
