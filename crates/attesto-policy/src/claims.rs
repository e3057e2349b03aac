//! Claims: what the verifier hands to a policy, and what the policy hands back.
//!
//! A claim is `{type, value, issuer}`. Values are typed ([`ClaimValue`]); JSON evidence (SGX
//! collateral, `x-ms-runtime`, TPM `events`/`pcrs`) is carried as [`ClaimValue::Json`]. How a JSON
//! value looks to the language is decided once, here:
//!
//! - in a condition (`value == "..."`) and wherever a string is expected (`AppendString`), it is the
//!   compact JSON serialisation of the document (`{"a":1}`), compared case-sensitively;
//! - `JmesPath(c.value, q)` searches the document directly (no re-parse);
//! - `JsonToClaimValue(c.value)` converts it like any JSON text;
//! - issued unchanged (`issue(type="x", value=c.value)`), it stays a JSON value, so the token
//!   carries the object itself, as MAA does for `x-ms-sgx-collateral`.

use std::fmt;
use std::sync::{Arc, OnceLock};

use jmespath::{Rcvar, Variable};
use serde_json::Value;

use crate::error::ClaimsError;

/// Who asserted a claim. MAA's spellings; compared case-sensitively in `issuer == "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Issuer {
    /// Derived from verified evidence by the service.
    AttestationService,
    /// Created by the policy (add, issue, issueproperty).
    AttestationPolicy,
    /// Supplied by the client, not verified.
    CustomClaim,
}

impl Issuer {
    /// MAA's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Issuer::AttestationService => "AttestationService",
            Issuer::AttestationPolicy => "AttestationPolicy",
            Issuer::CustomClaim => "CustomClaim",
        }
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A JSON document carried as a claim value: the parsed value plus lazily built views (compact
/// text for comparisons, a JmesPath variable for queries). Cheap to clone.
#[derive(Clone)]
pub struct JsonValue(Arc<JsonInner>);

struct JsonInner {
    value: Value,
    text: OnceLock<Arc<str>>,
    variable: OnceLock<Option<Rcvar>>,
}

impl JsonValue {
    /// Wraps a JSON value.
    #[must_use]
    pub fn new(value: Value) -> JsonValue {
        JsonValue(Arc::new(JsonInner {
            value,
            text: OnceLock::new(),
            variable: OnceLock::new(),
        }))
    }

    /// The JSON value.
    #[must_use]
    pub fn value(&self) -> &Value {
        &self.0.value
    }

    /// Compact serialisation: what conditions and string functions see.
    #[must_use]
    pub fn text(&self) -> &Arc<str> {
        self.0
            .text
            .get_or_init(|| Arc::from(self.0.value.to_string()))
    }

    /// The document as a JmesPath variable (`None` only if the conversion fails, which serde_json
    /// values never do in practice).
    pub(crate) fn variable(&self) -> Option<&Rcvar> {
        self.0
            .variable
            .get_or_init(|| Variable::try_from(&self.0.value).ok().map(Rcvar::new))
            .as_ref()
    }
}

impl PartialEq for JsonValue {
    fn eq(&self, other: &JsonValue) -> bool {
        self.0.value == other.0.value
    }
}

impl Eq for JsonValue {}

impl fmt::Debug for JsonValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Json({})", self.0.value)
    }
}

/// A typed claim value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimValue {
    /// A string (MAA valueType String).
    String(Arc<str>),
    /// A signed 64-bit integer (MAA valueType Integer).
    Integer(i64),
    /// A boolean (MAA valueType Boolean).
    Boolean(bool),
    /// A JSON object or array from the evidence (see the module docs for how it behaves).
    Json(JsonValue),
}

impl ClaimValue {
    /// A string value.
    #[must_use]
    pub fn string(text: impl Into<Arc<str>>) -> ClaimValue {
        ClaimValue::String(text.into())
    }

    /// MAA's valueType name: `String`, `Integer`, `Boolean`, or `Json` for evidence documents.
    #[must_use]
    pub const fn type_name(&self) -> &'static str {
        match self {
            ClaimValue::String(_) => "String",
            ClaimValue::Integer(_) => "Integer",
            ClaimValue::Boolean(_) => "Boolean",
            ClaimValue::Json(_) => "Json",
        }
    }

    /// The value as JSON, for building a token.
    #[must_use]
    pub fn to_json(&self) -> Value {
        match self {
            ClaimValue::String(text) => Value::String(text.to_string()),
            ClaimValue::Integer(number) => Value::from(*number),
            ClaimValue::Boolean(flag) => Value::Bool(*flag),
            ClaimValue::Json(json) => json.value().clone(),
        }
    }

    /// Length in bytes of string content, for the created-bytes limit.
    pub(crate) fn byte_len(&self) -> usize {
        match self {
            ClaimValue::String(text) => text.len(),
            ClaimValue::Integer(_) | ClaimValue::Boolean(_) | ClaimValue::Json(_) => 0,
        }
    }
}

impl fmt::Display for ClaimValue {
    /// Strings are quoted and escaped like policy literals, so a trace reads like the policy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimValue::String(text) => crate::print::write_string_literal(f, text),
            ClaimValue::Integer(number) => write!(f, "{number}"),
            ClaimValue::Boolean(flag) => write!(f, "{flag}"),
            ClaimValue::Json(json) => f.write_str(json.text()),
        }
    }
}

impl From<&str> for ClaimValue {
    fn from(text: &str) -> ClaimValue {
        ClaimValue::String(Arc::from(text))
    }
}

impl From<String> for ClaimValue {
    fn from(text: String) -> ClaimValue {
        ClaimValue::String(Arc::from(text))
    }
}

impl From<i64> for ClaimValue {
    fn from(number: i64) -> ClaimValue {
        ClaimValue::Integer(number)
    }
}

impl From<bool> for ClaimValue {
    fn from(flag: bool) -> ClaimValue {
        ClaimValue::Boolean(flag)
    }
}

/// One claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The claim type, e.g. `x-ms-sgx-mrsigner`. Case-sensitive.
    pub claim_type: Arc<str>,
    /// The value.
    pub value: ClaimValue,
    /// Who asserted it.
    pub issuer: Issuer,
}

impl Claim {
    /// A claim from the evidence (issuer `AttestationService`).
    #[must_use]
    pub fn evidence(claim_type: impl Into<Arc<str>>, value: impl Into<ClaimValue>) -> Claim {
        Claim {
            claim_type: claim_type.into(),
            value: value.into(),
            issuer: Issuer::AttestationService,
        }
    }
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {} ({})", self.claim_type, self.value, self.issuer)
    }
}

/// The incoming claim set a policy is evaluated against. Order is kept: it is the order in which
/// a rule that binds several claims fires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimSet {
    claims: Vec<Claim>,
}

impl ClaimSet {
    /// An empty set.
    #[must_use]
    pub fn new() -> ClaimSet {
        ClaimSet::default()
    }

    /// Appends a claim.
    pub fn push(&mut self, claim: Claim) {
        self.claims.push(claim);
    }

    /// The claims, in order.
    #[must_use]
    pub fn claims(&self) -> &[Claim] {
        &self.claims
    }

    /// Builds evidence claims (issuer `AttestationService`) from a JSON object, one claim per
    /// member, in `serde_json`'s map order (sorted by name unless its `preserve_order` feature is
    /// on): strings → String, integers → Integer, booleans → Boolean,
    /// objects and arrays → Json. Fractions, integers beyond `i64` and `null` are rejected: MAA
    /// has no such claim types, and silently dropping evidence would be worse.
    ///
    /// # Errors
    /// [`ClaimsError`] if `json` is not an object or a member has an unsupported value.
    pub fn from_json(json: &Value) -> Result<ClaimSet, ClaimsError> {
        let Value::Object(members) = json else {
            return Err(ClaimsError::NotAnObject {
                found: json_kind(json),
            });
        };
        let mut claims = Vec::with_capacity(members.len());
        for (name, value) in members {
            let value = match value {
                Value::String(text) => ClaimValue::String(Arc::from(text.as_str())),
                Value::Bool(flag) => ClaimValue::Boolean(*flag),
                Value::Number(number) => match number.as_i64() {
                    Some(integer) => ClaimValue::Integer(integer),
                    None => {
                        return Err(ClaimsError::UnsupportedValue {
                            claim_type: name.clone(),
                            found: "a fraction or an integer outside the signed 64-bit range",
                        });
                    }
                },
                Value::Object(_) | Value::Array(_) => {
                    ClaimValue::Json(JsonValue::new(value.clone()))
                }
                Value::Null => {
                    return Err(ClaimsError::UnsupportedValue {
                        claim_type: name.clone(),
                        found: "null",
                    });
                }
            };
            claims.push(Claim::evidence(name.as_str(), value));
        }
        Ok(ClaimSet { claims })
    }

    /// [`ClaimSet::from_json`] on JSON text.
    ///
    /// # Errors
    /// [`ClaimsError`] if the text is not JSON or not a supported object.
    pub fn from_json_str(text: &str) -> Result<ClaimSet, ClaimsError> {
        let value: Value =
            serde_json::from_str(text).map_err(|error| ClaimsError::InvalidJson {
                reason: error.to_string(),
            })?;
        ClaimSet::from_json(&value)
    }
}

impl FromIterator<Claim> for ClaimSet {
    fn from_iter<I: IntoIterator<Item = Claim>>(iter: I) -> ClaimSet {
        ClaimSet {
            claims: iter.into_iter().collect(),
        }
    }
}

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
