//! Cross-verification with `jsonwebtoken`, an independent JWT implementation: it must accept the
//! tokens attesto issues, and attesto must accept the tokens it issues.

use std::time::Duration;

use anyhow::Result;
use attesto_jose::{
    Algorithm, Header, Jws, SigningKey, Unsecured, ValidationOptions, sign_jws, validate,
    verify_with_public_key,
};
use jsonwebtoken::{DecodingKey, EncodingKey, Validation};
use serde_json::{Map, Value, json};

use crate::common::{ISSUER, NOW, at, rsa_key, token_signer};

/// Far enough in the future that `jsonwebtoken`, which reads the system clock, accepts it.
const FAR_EXP: u64 = 4_102_444_800;

fn claims() -> Map<String, Value> {
    match json!({"iss": ISSUER, "iat": NOW, "nbf": NOW, "exp": FAR_EXP, "x-ms-ver": "1.0"}) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn validation(alg: jsonwebtoken::Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.validate_aud = false;
    validation.set_issuer(&[ISSUER]);
    validation
}

/// PKCS#8 DER as PEM, the form `jsonwebtoken` imports private keys from.
fn pkcs8_pem(der: &[u8]) -> String {
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

#[test]
fn jsonwebtoken_accepts_attesto_tokens_with_the_key_from_jwks() -> Result<()> {
    let signer = token_signer()?;
    let token = signer.issue(&claims())?;
    // The relying party only has the published /certs document.
    let jwks = signer.jwks();
    let jwk = jwks
        .find(signer.kid())
        .ok_or_else(|| anyhow::anyhow!("kid listed"))?;
    let key = DecodingKey::from_rsa_components(
        jwk.n.as_deref().unwrap_or_default(),
        jwk.e.as_deref().unwrap_or_default(),
    )?;
    let data = jsonwebtoken::decode::<Map<String, Value>>(
        &token,
        &key,
        &validation(jsonwebtoken::Algorithm::RS256),
    )?;
    assert_eq!(data.claims, claims());
    assert_eq!(data.header.kid.as_deref(), Some(signer.kid()));
    assert_eq!(data.header.jku.as_deref(), Some(signer.jku()));

    // And with the key taken from x5c[0] instead of n/e.
    let x5c_key = signer.certificate().public_key().clone();
    let attesto_jose::PublicKey::Rsa { n, e } = x5c_key else {
        anyhow::bail!("RSA key expected");
    };
    let key = DecodingKey::from_rsa_raw_components(&n, &e);
    jsonwebtoken::decode::<Map<String, Value>>(
        &token,
        &key,
        &validation(jsonwebtoken::Algorithm::RS256),
    )?;
    Ok(())
}

#[test]
fn attesto_accepts_jsonwebtoken_tokens() -> Result<()> {
    let signer = token_signer()?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(signer.kid().to_owned());
    header.jku = Some(signer.jku().to_owned());
    let key = EncodingKey::from_rsa_pem(pkcs8_pem(signer.key().pkcs8_der()).as_bytes())?;
    let token = jsonwebtoken::encode(&header, &claims(), &key)?;

    let validated = validate(
        &token,
        &signer.jwks(),
        &ValidationOptions {
            now: at(NOW),
            slack: Duration::from_secs(5),
            expected_issuer: Some(ISSUER),
            expected_jku: Some(signer.jku()),
            unsecured: Unsecured::Reject,
        },
    )?;
    assert_eq!(validated.claims, claims());
    assert_eq!(
        validated.signer.and_then(|k| k.kid).as_deref(),
        Some(signer.kid())
    );
    Ok(())
}

#[test]
fn jsonwebtoken_accepts_attesto_ps256_and_es256() -> Result<()> {
    let rsa = rsa_key()?;
    let token = sign_jws(
        &Header::new(Algorithm::Ps256),
        &serde_json::to_vec(&claims())?,
        &rsa,
    )?;
    let attesto_jose::PublicKey::Rsa { n, e } = rsa.public_key().clone() else {
        anyhow::bail!("RSA key expected");
    };
    jsonwebtoken::decode::<Map<String, Value>>(
        &token,
        &DecodingKey::from_rsa_raw_components(&n, &e),
        &validation(jsonwebtoken::Algorithm::PS256),
    )?;

    let ec = SigningKey::generate_ec_p256()?;
    let token = sign_jws(
        &Header::new(Algorithm::Es256),
        &serde_json::to_vec(&claims())?,
        &ec,
    )?;
    let jwk = attesto_jose::Jwk::from_public_key(ec.public_key());
    let key = DecodingKey::from_ec_components(
        jwk.x.as_deref().unwrap_or_default(),
        jwk.y.as_deref().unwrap_or_default(),
    )?;
    jsonwebtoken::decode::<Map<String, Value>>(
        &token,
        &key,
        &validation(jsonwebtoken::Algorithm::ES256),
    )?;

    // The other way round for ES256: jsonwebtoken signs, attesto verifies.
    let key = EncodingKey::from_ec_pem(pkcs8_pem(ec.pkcs8_der()).as_bytes())?;
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &claims(),
        &key,
    )?;
    verify_with_public_key(&Jws::parse(&token)?, ec.public_key())?;
    Ok(())
}
