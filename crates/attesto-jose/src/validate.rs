//! Client-side validation of tokens issued by attesto or by Azure Attestation, the checks MAA's
//! SDKs and samples make: signer by `kid` from the `/certs` key set, signature with its
//! `x5c[0]`, `exp`/`nbf` with slack, and optionally exact `iss` and `jku`.

use std::time::Duration;

use rustls_pki_types::UnixTime;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::jwk::{Jwk, Jwks};
use crate::jws::{Header, Jws};
use crate::verify::{Unsecured, verify_with_jwk};

/// What [`validate`] checks besides the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationOptions<'a> {
    /// The validation time.
    pub now: UnixTime,
    /// Clock skew tolerated on `exp` and `nbf`. The MAA Python SDK uses 0.5 s; a few seconds
    /// is common.
    pub slack: Duration,
    /// If set, `iss` must equal it exactly (MAA clients compare `https://<instance>` with no
    /// trailing `/`).
    pub expected_issuer: Option<&'a str>,
    /// If set, the header `jku` must equal it exactly (Gramine requires `<instance>/certs`).
    pub expected_jku: Option<&'a str>,
    /// Whether `alg: none` tokens (MAA's answer to draft-policy attestations) are accepted. Such
    /// a token proves nothing about its origin.
    pub unsecured: Unsecured,
}

/// A token that passed [`validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidatedToken {
    /// The token's header.
    pub header: Header,
    /// The claims.
    pub claims: Map<String, Value>,
    /// The key that verified the signature; `None` for an accepted unsecured token.
    pub signer: Option<Jwk>,
}

/// Validates a compact JWT against a key set.
///
/// Signer selection: the key whose `kid` equals the header's `kid`; a token without `kid` is
/// tried against every key in order and passes if one verifies it. Then `exp` is required and
/// must satisfy `now <= exp + slack`, `nbf` (if present) must satisfy `nbf - slack <= now`, and
/// the issuer and `jku` are compared when the options ask for it.
///
/// # Errors
/// Parse errors, [`Error::UnsecuredNotAllowed`], [`Error::UnknownKid`], signature and key
/// errors, [`Error::ClaimsNotObject`], [`Error::MissingClaim`], [`Error::ClaimType`],
/// [`Error::Expired`], [`Error::NotYetValid`], [`Error::IssuerMismatch`],
/// [`Error::JkuMismatch`].
pub fn validate(
    token: &str,
    jwks: &Jwks,
    options: &ValidationOptions<'_>,
) -> Result<ValidatedToken, Error> {
    let jws = Jws::parse(token)?;
    let signer = if jws.is_unsecured() {
        match options.unsecured {
            Unsecured::Accept => None,
            Unsecured::Reject => return Err(Error::UnsecuredNotAllowed),
        }
    } else {
        Some(find_signer(&jws, jwks)?.clone())
    };

    let claims: Value = jws.payload_json()?;
    let Value::Object(claims) = claims else {
        return Err(Error::ClaimsNotObject);
    };
    check_times(&claims, options)?;
    if let Some(expected) = options.expected_issuer {
        let found = claims.get("iss").and_then(Value::as_str);
        if found != Some(expected) {
            return Err(Error::IssuerMismatch {
                expected: expected.to_owned(),
                found: found.map(str::to_owned),
            });
        }
    }
    if let Some(expected) = options.expected_jku {
        let found = jws.header().jku.as_deref();
        if found != Some(expected) {
            return Err(Error::JkuMismatch {
                expected: expected.to_owned(),
                found: found.map(str::to_owned),
            });
        }
    }
    Ok(ValidatedToken {
        header: jws.header().clone(),
        claims,
        signer,
    })
}

fn find_signer<'k>(jws: &Jws, jwks: &'k Jwks) -> Result<&'k Jwk, Error> {
    match jws.header().kid.as_deref() {
        Some(kid) => {
            let jwk = jwks.find(kid).ok_or_else(|| Error::UnknownKid {
                kid: Some(kid.to_owned()),
            })?;
            verify_with_jwk(jws, jwk)?;
            Ok(jwk)
        }
        None => jwks
            .keys
            .iter()
            .find(|jwk| verify_with_jwk(jws, jwk).is_ok())
            .ok_or(Error::UnknownKid { kid: None }),
    }
}

/// A NumericDate claim (RFC 7519 §2) as whole seconds; fractions are truncated toward the past.
fn numeric_date(claims: &Map<String, Value>, claim: &'static str) -> Result<Option<i64>, Error> {
    let Some(value) = claims.get(claim) else {
        return Ok(None);
    };
    let type_error = Error::ClaimType {
        claim,
        expected: "a number of seconds since 1970",
    };
    if let Some(n) = value.as_i64() {
        return Ok(Some(n));
    }
    match value.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 1e15 => {
            #[expect(
                clippy::cast_possible_truncation,
                reason = "bounded to ±1e15 just above, well inside i64"
            )]
            let secs = f.floor() as i64;
            Ok(Some(secs))
        }
        _ => Err(type_error),
    }
}

fn check_times(claims: &Map<String, Value>, options: &ValidationOptions<'_>) -> Result<(), Error> {
    let now = options.now.as_secs();
    let now_i = i128::from(now);
    let slack = options.slack.as_secs();
    let exp = numeric_date(claims, "exp")?.ok_or(Error::MissingClaim { claim: "exp" })?;
    if now_i > i128::from(exp) + i128::from(slack) {
        return Err(Error::Expired {
            exp,
            now,
            slack_secs: slack,
        });
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && i128::from(nbf) - i128::from(slack) > now_i
    {
        return Err(Error::NotYetValid {
            nbf,
            now,
            slack_secs: slack,
        });
    }
    Ok(())
}
