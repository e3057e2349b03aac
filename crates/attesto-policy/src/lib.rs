//! The Microsoft Azure Attestation (MAA) policy language: parse a policy, evaluate it against the
//! claims of verified evidence, and explain the result.
//!
//! What it does: [`Policy::parse`] turns policy text (versions 1.0, 1.1 and 1.2, with
//! `configurationrules`, `authorizationrules`, `issuancerules`, `!` conditions and the six 1.2
//! functions) into a checked tree; [`Policy::evaluate`] runs it against a [`ClaimSet`] and
//! returns an [`Evaluation`]: the authorization decision, the issued claims, token properties and
//! a [`Trace`] that renders as readable text. It also computes `x-ms-policy-hash`
//! ([`policy_hash`]), decodes policy upload JWS bodies ([`policy_text_from_jws`]) and provides
//! the default policy per [`AttestationType`].
//!
//! What it does not do: no I/O, no clock, no signature checks (policy JWS signatures belong to
//! the JOSE crate), no evidence verification (claims arrive already verified), no token building.
//!
//! ```
//! use attesto_policy::{ClaimSet, Policy};
//!
//! let policy = Policy::parse(r#"version=1.0;
//!     authorizationrules { [type=="x-ms-sgx-is-debuggable", value==false] => permit(); };
//!     issuancerules { c:[type=="x-ms-sgx-svn"] => issue(type="svn", value=c.value); };"#)?;
//! let claims = ClaimSet::from_json_str(r#"{"x-ms-sgx-is-debuggable": false, "x-ms-sgx-svn": 3}"#)?;
//! let evaluation = policy.evaluate(&claims)?;
//! assert!(evaluation.permitted);
//! assert_eq!(evaluation.issued_claims[0].claim_type.as_ref(), "svn");
//! println!("{}", evaluation.trace); // why, rule by rule
//! # Ok::<(), attesto_policy::Error>(())
//! ```
//!
//! Pipeline:
//!
//! ```text
//! text ─lexer─▶ tokens ─parser─▶ tree (spans) ─check─▶ Policy ─eval(ClaimSet)─▶ Evaluation + Trace
//!                                  │ version gates, types, identifiers,
//!                                  │ read-only taint, JmesPath compiled once,
//!                                  └ configurationrules → Configuration
//! ```
//!
//! # Grammar
//!
//! ```text
//! policy     = "version" "=" ("1.0"|"1.1"|"1.2") ";" [config] authz [issuance] EOF
//! config     = "configurationrules" "{" {rule} "}" ";"          (1.1+)
//! authz      = "authorizationrules" "{" {rule} "}" ";"
//! issuance   = "issuancerules" "{" {rule} "}" ";"
//! rule       = [condition {"&&" condition}] "=>" action ";"
//! condition  = ["!"] [IDENT ":"] "[" [prop {"," prop}] "]"      ("!" is 1.2+, never with IDENT)
//! prop       = ("type"|"value"|"issuer") ("=="|"!="|"<"|"<="|">"|">="|"=") expr
//! action     = "permit" "(" ")" | "deny" "(" ")"
//!            | ("issue"|"add"|"issueproperty") "(" ("claim" "=" IDENT | "type" "=" expr "," "value" "=" expr) ")"
//! expr       = STRING | ["-"] INTEGER | "true" | "false" | IDENT "." ("type"|"value"|"issuer")
//!            | FUNCTION "(" [expr {"," expr}] ")"                (1.2+)
//! ```
//!
//! Keywords and function names are matched ignoring ASCII case; identifiers, claim types and
//! string values are case-sensitive. `//` starts a comment. Whitespace is free everywhere.
//!
//! # Decisions
//!
//! MAA's parser is closed source; these are the open questions of the research notes and how
//! attesto answers them. Each is tested (`tests/decisions.rs` and the evaluation cases).
//!
//! - **Keyword case**: accepted in any case (`Version=`, `Issuancerules`), as ANTLR grammars of
//!   this family do; claim types and values stay case-sensitive so a policy matches exactly what
//!   the service emits.
//! - **`=` in a condition**: accepted as `==`, with a [`Warning`]. A Microsoft sample
//!   (`tpm-v1.2-functions-secureboot-suspect.txt`) uses it; in a condition an assignment has no
//!   other possible meaning, so reading it as equality cannot widen what the policy accepts. The
//!   warning tells authors that MAA itself may reject it.
//! - **`issue()` in `authorizationrules`**: accepted (a Microsoft sample,
//!   `tpm-v1.2-key-attestation-authz.txt`, relies on it). It behaves as in issuance rules: the
//!   claim joins the incoming set and, if authorization succeeds, the token.
//!   `issueproperty()` stays issuance/configuration-only, `permit()`/`deny()` authorization-only.
//! - **Multiple matches**: a rule fires once per combination of the claims matched by its
//!   *iterated* bindings: an identifier used as a single value (`value=c.value`,
//!   `JmesPath(c.value, ..)`, `claim=c`, or in a later condition). An identifier used only as a
//!   set argument (`IsSubsetOf(c1.value, c2.value)`, `ContainsOnlyValue(c.value, true)`) stands
//!   for all its matches at once and does not multiply firings; that is what the MAA samples
//!   that aggregate `add()` results need. Unbound conditions only require a match. A rule sees
//!   the claim set as it was when the rule started (no self-feeding), and visits at most
//!   [`limits::MAX_COMBINATIONS_PER_RULE`] combinations.
//! - **Cross-type comparison**: values of different types never match, under `!=` too;
//!   `< <= > >=` apply to integers only (a literal string or boolean on their right is a
//!   parse-time error, as is any ordering on `type`/`issuer`).
//! - **JSON claim values** ([`ClaimValue::Json`]): compared and concatenated as their compact
//!   JSON text, searched directly by `JmesPath`, issued unchanged as JSON.
//! - **JmesPath results**: the result serialised as JSON text, a String claim (`"RSA"` with its
//!   quotes; no match gives `null`), so `JsonToClaimValue(JmesPath(..))` recovers typed values,
//!   as the key-attestation sample requires. `equals_ignore_case` returns false for non-strings.
//!   Queries follow standard JmesPath (the `jmespath` crate). One consequence for Microsoft's
//!   samples: their trailing `| @ != `null`` (ELAM and malicious-driver checks) is also true for
//!   an empty filter result, because an empty array is not null; so those sample claims are true
//!   whenever trust-boundary events exist. The evaluation cases record this.
//! - **JSON → claim value types**: integers become Integer (fractions and integers beyond
//!   64 bits are errors), booleans Boolean, strings String; arrays of those a set (one claim per
//!   element, duplicates kept); `null` nothing (add/issue do nothing).
//! - **Runtime errors abort evaluation** ([`Error::Evaluation`], MAA code
//!   `PolicyEvaluationError`): a policy that cannot be evaluated completely must not yield a
//!   token (fail closed), and the error names the expression and line.
//! - **Read-only claims**: `pcrs` (from the service) can be read, added from and compared, but
//!   neither it nor any value derived from it (through functions or `add`) can be issued or
//!   become a property. Detected at parse time where the condition names `pcrs`, and by taint
//!   tracking at run time otherwise.
//! - **Claims created by the policy** have issuer `AttestationPolicy`, including
//!   `issue(claim=c)` copies.
//! - **Authorization**: deny-by-default; any fired `deny()` wins; issuance rules run only when
//!   authorization succeeded (their output could not be used anyway).
//! - **Configuration rules** must be unconditional `issueproperty` of a known property with a
//!   literal of the right type (`require_valid_aik_cert` Boolean, `required_pcr_mask` Integer
//!   ≤ 0xFFFFFF, `x-ms-sgx-tcbidentifier` String): the verifier needs them before any evidence
//!   exists, and a misspelt property must not silently leave a default in force. A later rule
//!   overrides an earlier one.
//! - **Literals**: integers are signed 64-bit decimals (`-1` allowed, no hex); in strings `\"`
//!   and `\\` are escapes and any other backslash is kept as written; a string cannot span lines,
//!   so a typographic closing quote is reported where the string starts.
//! - **Error positions**: lines and columns are 1-based (columns count characters) everywhere
//!   except in the MAA-compatible `Column: '<n>'` text, which is 0-based like ANTLR's.
//! - **Default policies**: SGX and OpenEnclave use the exact text the real service used (its hash
//!   matches a recorded MAA token); TPM, SEV-SNP and TDX permit all and issue nothing extra.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod ast;
mod check;
mod claims;
mod config;
mod defaults;
mod error;
mod eval;
mod explain;
mod functions;
mod hash;
mod jws;
mod lexer;
pub mod limits;
mod parser;
mod policy;
mod print;
mod span;

pub use ast::{Section, Version};
pub use check::READ_ONLY_CLAIM_TYPES;
pub use claims::{Claim, ClaimSet, ClaimValue, Issuer, JsonValue};
pub use config::{
    Configuration, DEFAULT_REPORT_VALIDITY_MINUTES, DEFAULT_REQUIRED_PCR_MASK,
    MAX_REPORT_VALIDITY_MINUTES, SgxTcbIdentifier, TokenProperties,
};
pub use defaults::{AttestationType, UnknownAttestationType, default_policy};
pub use error::{
    ClaimsError, Error, ErrorCode, EvaluationError, EvaluationErrorKind, JwsError, LimitError,
    PolicyError, SemanticError, SemanticErrorKind, SyntaxError,
};
pub use eval::Evaluation;
pub use explain::{Decision, Effect, Firing, RuleOutcome, RuleTrace, Trace, TraceBinding};
pub use hash::{policy_hash, policy_token_hash};
pub use jws::{looks_like_jws, policy_text_from_jws, policy_text_from_upload};
pub use policy::{Policy, Warning};
pub use span::Span;

/// Entry points for fuzzers. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::{ClaimSet, Policy};

    /// Parses `data` as a policy (and as a JWS body); if it parses, checks that printing and
    /// re-parsing gives the same policy, then evaluates it against a fixed SGX-like claim set.
    /// Must never panic.
    pub fn parse_and_evaluate(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let _ = crate::policy_text_from_upload(text);
        let Ok(policy) = Policy::parse(text) else {
            return;
        };
        let printed = policy.to_string();
        match Policy::parse(&printed) {
            Ok(reparsed) => assert_eq!(
                reparsed, policy,
                "print/parse round trip changed the policy"
            ),
            Err(error) => panic!("printed policy does not parse: {error}\n{printed}"),
        }
        let claims = ClaimSet::from_json_str(
            r#"{"x-ms-sgx-is-debuggable": false, "x-ms-sgx-mrsigner": "ab", "x-ms-sgx-svn": 2,
                "events": {"Events": [{"EventTypeString": "EV_EVENT_TAG", "PcrIndex": 12}]}}"#,
        );
        if let Ok(claims) = claims
            && let Ok(evaluation) = policy.evaluate(&claims)
        {
            let _ = evaluation.trace.to_string();
        }
    }
}
