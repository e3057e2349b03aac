//! The attestation token payload, as MAA builds it (maa-api.md §3.1).
//!
//! ```text
//! registered   iss, iat, nbf = iat, exp = iat + lifetime, jti, nonce (if sent)
//! service      x-ms-policy-hash + every service claim of IncomingClaims (x-ms-*, tdx_*,
//!              the deprecated maa-ehd / aas-ehd / maa-attestationcollateral, x-attesto-*)
//! extra        the caller's markers (e.g. x-attesto-collateral-grace)
//! policy       the claims the policy issued
//! ```
//!
//! Precedence, highest first: registered claims and `x-ms-policy-hash`, service claims, extra,
//! policy. A policy-issued claim whose name is taken by a higher layer, or that starts with
//! `x-attesto-`, is dropped: a policy chooses what to add to a token, never what the evidence
//! said or what the service did ([`RESERVED_CLAIMS`] plus the service claims of the request).
//! `extra` colliding with a registered or service claim is a caller bug and an error.
//!
//! A policy that issues one claim type several times (one firing per matched claim) gets a JSON
//! array of the distinct values, in issue order; a single value stays a scalar. The `$`-prefixed
//! input aliases are never emitted.

use std::collections::BTreeMap;
use std::time::Duration;

use attesto_policy::Claim;
use rustls_pki_types::UnixTime;
use serde_json::{Map, Value};

use crate::claims::IncomingClaims;

/// Claim names only the service sets; a policy can never issue them.
pub const RESERVED_CLAIMS: [&str; 8] = [
    "iss",
    "iat",
    "nbf",
    "exp",
    "jti",
    "nonce",
    "x-ms-policy-hash",
    "x-ms-attestation-type",
];

/// Prefix of attesto's own claims; a policy can never issue them.
pub const ATTESTO_CLAIM_PREFIX: &str = "x-attesto-";

/// Everything a token payload is built from.
#[derive(Debug, Clone, Copy)]
pub struct TokenInputs<'a> {
    /// The incoming claims of the verified evidence.
    pub incoming: &'a IncomingClaims,
    /// The claims the policy issued (`Evaluation::issued_claims`).
    pub issued: &'a [Claim],
    /// `x-ms-policy-hash` of the policy that was evaluated (`attesto_policy::policy_hash`).
    pub policy_hash: &'a str,
    /// `iss`: the instance base URL clients use.
    pub iss: &'a str,
    /// The issue time (`iat`, `nbf`).
    pub now: UnixTime,
    /// How long the token is valid (`exp - iat`); MAA's observed default is 8 hours, a policy
    /// may set `report_validity_in_minutes`.
    pub lifetime: Duration,
    /// 32 random bytes for `jti` (written as 64 lowercase hex characters).
    pub jti: [u8; 32],
    /// The request's `nonce`.
    pub nonce: Option<&'a str>,
    /// Service markers to add (e.g. `x-attesto-collateral-grace`).
    pub extra: Option<&'a Map<String, Value>>,
}

/// Why a payload could not be built. Both are caller bugs, never the client's fault.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The lifetime is zero: the token would be expired when issued.
    #[error("the token lifetime is zero")]
    ZeroLifetime,
    /// `iat + lifetime` does not fit in a JSON-safe integer.
    #[error("the token expiry overflows: issued at {now} + {lifetime_secs} s")]
    TimeOverflow {
        /// Issue time, Unix seconds.
        now: u64,
        /// The lifetime, seconds.
        lifetime_secs: u64,
    },
    /// An `extra` claim would replace a registered or service claim.
    #[error("extra claim '{name}' would replace a claim the service sets")]
    ExtraConflict {
        /// The claim name.
        name: String,
    },
}

/// Largest integer every JSON implementation reads exactly (2^53 - 1).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Builds the attestation token payload.
///
/// # Errors
/// [`TokenError`] for a zero or overflowing lifetime, or an `extra` claim that collides with a
/// claim the service sets.
pub fn attestation_payload(inputs: &TokenInputs<'_>) -> Result<Map<String, Value>, TokenError> {
    let iat = inputs.now.as_secs();
    let lifetime_secs = inputs.lifetime.as_secs();
    if lifetime_secs == 0 {
        return Err(TokenError::ZeroLifetime);
    }
    let exp = iat
        .checked_add(lifetime_secs)
        .filter(|exp| *exp <= MAX_SAFE_INTEGER)
        .ok_or(TokenError::TimeOverflow {
            now: iat,
            lifetime_secs,
        })?;

    let mut registered = Map::new();
    registered.insert("iss".to_owned(), Value::from(inputs.iss));
    registered.insert("iat".to_owned(), Value::from(iat));
    registered.insert("nbf".to_owned(), Value::from(iat));
    registered.insert("exp".to_owned(), Value::from(exp));
    registered.insert("jti".to_owned(), Value::from(hex::encode(inputs.jti)));
    if let Some(nonce) = inputs.nonce {
        registered.insert("nonce".to_owned(), Value::from(nonce));
    }
    registered.insert(
        "x-ms-policy-hash".to_owned(),
        Value::from(inputs.policy_hash),
    );
    let service = inputs.incoming.service_claims();

    let mut payload = policy_claims(inputs.issued, |name| {
        RESERVED_CLAIMS.contains(&name)
            || name.starts_with(ATTESTO_CLAIM_PREFIX)
            || service.contains_key(name)
            || inputs.extra.is_some_and(|extra| extra.contains_key(name))
    });
    if let Some(extra) = inputs.extra {
        for (name, value) in extra {
            if RESERVED_CLAIMS.contains(&name.as_str())
                || registered.contains_key(name)
                || service.contains_key(name)
            {
                return Err(TokenError::ExtraConflict { name: name.clone() });
            }
            payload.insert(name.clone(), value.clone());
        }
    }
    for (name, value) in service.iter().chain(&registered) {
        payload.insert(name.clone(), value.clone());
    }
    Ok(payload)
}

/// The policy's claims, grouped by type, without the names `taken` says are not the policy's.
fn policy_claims(issued: &[Claim], taken: impl Fn(&str) -> bool) -> Map<String, Value> {
    let mut grouped: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    for claim in issued {
        let name: &str = &claim.claim_type;
        if taken(name) {
            continue;
        }
        let value = claim.value.to_json();
        let values = grouped.entry(name).or_default();
        if !values.contains(&value) {
            values.push(value);
        }
    }
    grouped
        .into_iter()
        .map(|(name, mut values)| {
            let value = match values.len() {
                1 => values.pop().unwrap_or(Value::Null),
                _ => Value::Array(values),
            };
            (name.to_owned(), value)
        })
        .collect()
}
