//! Client-side token validation: signer by kid, times with slack, issuer, jku, unsecured tokens.

use std::time::Duration;

use anyhow::Result;
use attesto_jose::{
    Algorithm, Error, Header, Jwks, TokenSigner, Unsecured, ValidationOptions, sign_jws,
    unsecured_jws, validate,
};
use serde_json::{Map, Value, json};

use crate::common::{ISSUER, NOW, at, rsa_key, signing_cert, token_signer};

const EXP: u64 = NOW + 28_800;
const SLACK: u64 = 5;

fn claims(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn maa_claims() -> Map<String, Value> {
    claims(json!({"iss": ISSUER, "iat": NOW, "nbf": NOW, "exp": EXP}))
}

fn options(now: u64) -> ValidationOptions<'static> {
    ValidationOptions {
        now: at(now),
        slack: Duration::from_secs(SLACK),
        expected_issuer: Some(ISSUER),
        expected_jku: None,
        unsecured: Unsecured::Reject,
    }
}

#[test]
fn a_fresh_token_validates_with_its_jwks() -> Result<()> {
    let signer = token_signer()?;
    let token = signer.issue(&maa_claims())?;
    let jku = signer.jku().to_owned();
    let validated = validate(
        &token,
        &signer.jwks(),
        &ValidationOptions {
            expected_jku: Some(&jku),
            ..options(NOW)
        },
    )?;
    assert_eq!(validated.claims, maa_claims());
    assert_eq!(validated.header.kid.as_deref(), Some(signer.kid()));
    assert!(validated.signer.is_some());
    Ok(())
}

#[test]
fn expiry_and_not_before_honour_the_slack() -> Result<()> {
    let signer = token_signer()?;
    let token = signer.issue(&maa_claims())?;
    let jwks = signer.jwks();
    assert!(validate(&token, &jwks, &options(EXP + SLACK)).is_ok());
    assert_eq!(
        validate(&token, &jwks, &options(EXP + SLACK + 1)).err(),
        Some(Error::Expired {
            exp: EXP as i64,
            now: EXP + SLACK + 1,
            slack_secs: SLACK
        })
    );
    assert!(validate(&token, &jwks, &options(NOW - SLACK)).is_ok());
    assert_eq!(
        validate(&token, &jwks, &options(NOW - SLACK - 1)).err(),
        Some(Error::NotYetValid {
            nbf: NOW as i64,
            now: NOW - SLACK - 1,
            slack_secs: SLACK
        })
    );
    Ok(())
}

#[test]
fn issuer_and_jku_must_match_exactly() -> Result<()> {
    let signer = token_signer()?;
    let token = signer.issue(&maa_claims())?;
    let jwks = signer.jwks();
    let with_slash = format!("{ISSUER}/");
    assert_eq!(
        validate(
            &token,
            &jwks,
            &ValidationOptions {
                expected_issuer: Some(&with_slash),
                ..options(NOW)
            }
        )
        .err(),
        Some(Error::IssuerMismatch {
            expected: with_slash.clone(),
            found: Some(ISSUER.to_owned())
        })
    );
    assert_eq!(
        validate(
            &token,
            &jwks,
            &ValidationOptions {
                expected_jku: Some("https://elsewhere/certs"),
                ..options(NOW)
            }
        )
        .err(),
        Some(Error::JkuMismatch {
            expected: "https://elsewhere/certs".to_owned(),
            found: Some(signer.jku().to_owned()),
        })
    );
    let no_iss = signer.issue(&claims(json!({"exp": EXP})))?;
    assert!(matches!(
        validate(&no_iss, &jwks, &options(NOW)),
        Err(Error::IssuerMismatch { found: None, .. })
    ));
    Ok(())
}

#[test]
fn unknown_kid_and_wrong_key_are_refused() -> Result<()> {
    let signer = token_signer()?;
    let token = signer.issue(&maa_claims())?;
    assert_eq!(
        validate(&token, &Jwks::default(), &options(NOW)).err(),
        Some(Error::UnknownKid {
            kid: Some(signer.kid().to_owned())
        })
    );

    // A key set that lists a different key under the same kid.
    let other = attesto_jose::SigningKey::generate_rsa(attesto_jose::RsaBits::B2048)?;
    let other_cert = signing_cert(&other, ISSUER)?;
    let other_signer = TokenSigner::new(other, &other_cert, ISSUER)?;
    let mut forged = other_signer.jwks();
    for key in &mut forged.keys {
        key.kid = Some(signer.kid().to_owned());
    }
    assert!(matches!(
        validate(&token, &forged, &options(NOW)),
        Err(Error::BadSignature {
            alg: Algorithm::Rs256,
            ..
        })
    ));

    // Without a kid every key is tried.
    let no_kid = sign_jws(
        &Header::new(Algorithm::Rs256),
        &serde_json::to_vec(&maa_claims())?,
        &rsa_key()?,
    )?;
    let both = attesto_jose::jwks([&other_signer, &signer]);
    assert!(validate(&no_kid, &both, &options(NOW)).is_ok());
    assert_eq!(
        validate(&no_kid, &forged, &options(NOW)).err(),
        Some(Error::UnknownKid { kid: None })
    );
    Ok(())
}

#[test]
fn unsecured_tokens_pass_only_when_accepted() -> Result<()> {
    let token = unsecured_jws(&serde_json::to_vec(&maa_claims())?);
    let jwks = Jwks::default();
    assert_eq!(
        validate(&token, &jwks, &options(NOW)).err(),
        Some(Error::UnsecuredNotAllowed)
    );
    let validated = validate(
        &token,
        &jwks,
        &ValidationOptions {
            unsecured: Unsecured::Accept,
            ..options(NOW)
        },
    )?;
    assert!(validated.signer.is_none());
    // Accepting unsecured tokens does not switch off the time checks.
    assert!(matches!(
        validate(
            &token,
            &jwks,
            &ValidationOptions {
                unsecured: Unsecured::Accept,
                ..options(EXP + 60)
            }
        ),
        Err(Error::Expired { .. })
    ));
    Ok(())
}

#[test]
fn malformed_claims_are_refused() -> Result<()> {
    let signer = token_signer()?;
    let jwks = signer.jwks();
    let cases = [
        (json!({"iss": ISSUER}), Error::MissingClaim { claim: "exp" }),
        (
            json!({"iss": ISSUER, "exp": "tomorrow"}),
            Error::ClaimType {
                claim: "exp",
                expected: "a number of seconds since 1970",
            },
        ),
        (
            json!({"iss": ISSUER, "exp": EXP, "nbf": true}),
            Error::ClaimType {
                claim: "nbf",
                expected: "a number of seconds since 1970",
            },
        ),
    ];
    for (value, expected) in cases {
        let token = signer.issue(&claims(value))?;
        assert_eq!(validate(&token, &jwks, &options(NOW)).err(), Some(expected));
    }
    // Fractional NumericDates are accepted.
    let token = signer.issue(&claims(json!({"iss": ISSUER, "exp": EXP as f64 + 0.5})))?;
    assert!(validate(&token, &jwks, &options(NOW)).is_ok());

    let array = sign_jws(
        &{
            let mut h = Header::new(Algorithm::Rs256);
            h.kid = Some(signer.kid().to_owned());
            h
        },
        b"[1,2]",
        signer.key(),
    )?;
    assert_eq!(
        validate(&array, &jwks, &options(NOW)).err(),
        Some(Error::ClaimsNotObject)
    );
    Ok(())
}
