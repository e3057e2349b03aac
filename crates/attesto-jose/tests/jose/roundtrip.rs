//! Sign-then-verify for every algorithm, token issuing, the `/certs` document and the signing
//! certificate generator.

use anyhow::Result;
use attesto_jose::{
    Algorithm, CertificateExtension, Error, Header, Jwk, Jws, SigningCertificateParams, SigningKey,
    TokenSigner, Unsecured, Verified, base64url, self_signed_certificate, sign_jws, unsecured_jws,
    verify_with_certificate, verify_with_jwk, verify_with_public_key,
};
use serde_json::{Map, Value, json};
use x509_parser::prelude::{FromDer as _, X509Certificate};

use crate::common::{ISSUER, NOW, at, rsa_key, signing_cert, token_signer};

fn key_for(alg: Algorithm) -> Result<SigningKey> {
    Ok(match alg {
        Algorithm::Es256 => SigningKey::generate_ec_p256()?,
        Algorithm::Es384 => SigningKey::generate_ec_p384()?,
        _ => rsa_key()?,
    })
}

#[test]
fn every_algorithm_signs_and_verifies() -> Result<()> {
    for alg in Algorithm::ALL.into_iter().filter(|a| !a.is_unsecured()) {
        let key = key_for(alg)?;
        let cert = signing_cert(&key, "https://signer.test")?;
        let mut header = Header::new(alg);
        header.x5c = Some(vec![base64url::encode_std(&cert)]);
        let payload = br#"{"AttestationPolicy":"dmVyc2lvbj0xLjA7"}"#;
        let token = sign_jws(&header, payload, &key)?;

        let jws = Jws::parse(&token)?;
        assert_eq!(jws.algorithm(), alg);
        assert_eq!(jws.payload(), payload);
        assert!(
            jws.header_json()
                .starts_with(&format!(r#"{{"alg":"{}","x5c":["#, alg.name()))
        );
        assert!(matches!(
            jws.verify_with_embedded_signer(Unsecured::Reject)?,
            Verified::Signed(_)
        ));
        verify_with_public_key(&jws, key.public_key())?;
        verify_with_certificate(&jws, &cert)?;
        verify_with_jwk(&jws, &Jwk::from_public_key(key.public_key()))?;
        verify_with_jwk(&jws, &Jwk::from_certificate_der(&cert)?)?;
    }
    Ok(())
}

#[test]
fn empty_payload_signs_like_an_maa_reset() -> Result<()> {
    let key = rsa_key()?;
    let cert = signing_cert(&key, "https://signer.test")?;
    let mut header = Header::new(Algorithm::Rs256);
    header.jwk = Some(Jwk {
        x5c: Some(vec![base64url::encode_std(&cert)]),
        ..Jwk::default()
    });
    let token = sign_jws(&header, b"", &key)?;
    assert!(token.contains(".."), "empty payload part: {token}");
    let jws = Jws::parse(&token)?;
    assert!(jws.payload().is_empty());
    assert!(jws.signing_input().ends_with('.'));
    assert!(matches!(
        jws.verify_with_embedded_signer(Unsecured::Reject)?,
        Verified::Signed(_)
    ));
    Ok(())
}

#[test]
fn der_encoded_ecdsa_signatures_are_tolerated() -> Result<()> {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};

    let key = SigningKey::generate_ec_p256()?;
    let der_signer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, key.pkcs8_der())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let input = format!(
        "{}.{}",
        base64url::encode(br#"{"alg":"ECDH256"}"#),
        base64url::encode(b"{}")
    );
    let signature = der_signer
        .sign(&SystemRandom::new(), input.as_bytes())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    assert_ne!(signature.as_ref().len(), 64);
    let jws = Jws::parse(&format!(
        "{input}.{}",
        base64url::encode(signature.as_ref())
    ))?;
    assert_eq!(jws.algorithm(), Algorithm::Es256);
    verify_with_public_key(&jws, key.public_key())?;
    Ok(())
}

#[test]
fn pkcs8_export_and_import_keep_the_key() -> Result<()> {
    for key in [
        rsa_key()?,
        SigningKey::generate_ec_p256()?,
        SigningKey::generate_ec_p384()?,
    ] {
        let again = SigningKey::from_pkcs8_der(key.pkcs8_der())?;
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(again.default_algorithm(), key.default_algorithm());
        // A signature by one verifies with the other.
        let alg = key.default_algorithm();
        let signature = again.sign(alg, b"message")?;
        key.public_key().verify(alg, b"message", &signature)?;
    }
    assert!(!format!("{:?}", rsa_key()?).contains("pkcs8"));
    Ok(())
}

#[test]
fn unsecured_tokens_match_what_maa_writes() -> Result<()> {
    let token = unsecured_jws(b"{}");
    assert_eq!(token, "eyJhbGciOiJub25lIn0.e30.");
    let jws = Jws::parse(&token)?;
    assert!(jws.is_unsecured());
    assert_eq!(Jws::parse("eyJhbGciOiJub25lIn0..")?.payload(), b"");
    Ok(())
}

fn sample_claims() -> Map<String, Value> {
    let claims = json!({
        "exp": NOW + 28_800,
        "iat": NOW,
        "iss": ISSUER,
        "jti": "11f925eb00b788751eed0b2f0a8f1e5a693128dad6e3340e31bb1834da50cafe",
        "nbf": NOW,
        "x-ms-attestation-type": "sgx",
        "x-ms-ver": "1.0",
    });
    match claims {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[test]
fn token_signer_writes_the_exact_maa_header_and_claims() -> Result<()> {
    let signer = token_signer()?;
    let token = signer.issue(&sample_claims())?;
    let jws = Jws::parse(&token)?;
    assert_eq!(
        jws.header_json(),
        format!(
            r#"{{"alg":"RS256","jku":"{ISSUER}/certs","kid":"{}","typ":"JWT"}}"#,
            signer.kid()
        )
    );
    assert_eq!(jws.payload_json::<Map<String, Value>>()?, sample_claims());
    assert_eq!(signer.jku(), format!("{ISSUER}/certs"));
    assert_eq!(signer.issuer(), ISSUER);
    // kid = MAA's derivation over the certificate's key: 44 characters of standard base64.
    assert_eq!(signer.kid(), signer.certificate().maa_key_id());
    assert_eq!(signer.kid().len(), 44);
    verify_with_jwk(&jws, &signer.jwk())?;
    Ok(())
}

#[test]
fn jwks_lists_rsa_keys_with_kid_x5c_n_and_e() -> Result<()> {
    let signer = token_signer()?;
    let text = signer.jwks().to_json();
    assert!(
        text.starts_with(&format!(
            r#"{{"keys":[{{"kty":"RSA","kid":"{}","x5c":[""#,
            signer.kid()
        )),
        "{text}"
    );
    let doc: Value = serde_json::from_str(&text)?;
    let key = &doc["keys"][0];
    // x5c is standard base64 of the DER certificate.
    let x5c = key["x5c"][0].as_str().unwrap_or_default();
    assert_eq!(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, x5c)?,
        signer.certificate().der()
    );
    assert!(key["n"].is_string() && key["e"] == "AQAB");
    let both = attesto_jose::jwks([&signer, &token_signer()?]);
    assert_eq!(both.keys.len(), 2);
    Ok(())
}

#[test]
fn signing_certificate_is_self_signed_for_the_instance_with_extensions() -> Result<()> {
    let key = rsa_key()?;
    let quote_ext = CertificateExtension {
        oid: vec![1, 3, 6, 1, 4, 1, 311, 105, 1],
        value_der: vec![0x04, 0x03, 0xde, 0xad, 0x01],
        critical: false,
    };
    let der = self_signed_certificate(
        &key,
        &SigningCertificateParams {
            issuer: format!("{ISSUER}/"),
            not_before: at(NOW),
            not_after: at(NOW + 3600),
            extensions: vec![quote_ext.clone()],
        },
    )?;
    let cert = attesto_jose::Certificate::from_der(&der)?;
    assert_eq!(cert.subject(), format!("CN={ISSUER}"));
    assert_eq!(cert.issuer(), cert.subject());
    assert_eq!(
        (cert.not_before(), cert.not_after()),
        (NOW as i64, NOW as i64 + 3600)
    );
    assert_eq!(cert.public_key(), key.public_key());
    assert!(cert.is_ca());

    let (_, parsed) = X509Certificate::from_der(&der)?;
    parsed.verify_signature(None)?;
    let ext = parsed
        .extensions()
        .iter()
        .find(|e| e.oid.to_id_string() == "1.3.6.1.4.1.311.105.1")
        .ok_or_else(|| anyhow::anyhow!("quote extension present"))?;
    assert_eq!(ext.value, quote_ext.value_der.as_slice());
    // Same key, same parameters: same certificate (the serial is derived from the key).
    let again = self_signed_certificate(
        &key,
        &SigningCertificateParams {
            issuer: ISSUER.to_owned(),
            not_before: at(NOW),
            not_after: at(NOW + 3600),
            extensions: vec![quote_ext],
        },
    )?;
    let (_, reparsed) = X509Certificate::from_der(&again)?;
    assert_eq!(reparsed.serial, parsed.serial);
    Ok(())
}

#[test]
fn token_signer_refuses_ec_keys_and_foreign_certificates() -> Result<()> {
    let ec = SigningKey::generate_ec_p256()?;
    let ec_cert = signing_cert(&ec, ISSUER)?;
    assert!(matches!(
        TokenSigner::new(ec, &ec_cert, ISSUER),
        Err(Error::KeyMismatch {
            alg: Algorithm::Rs256,
            ..
        })
    ));
    let other = SigningKey::generate_rsa(attesto_jose::RsaBits::B2048)?;
    let other_cert = signing_cert(&other, ISSUER)?;
    assert_eq!(
        TokenSigner::new(rsa_key()?, &other_cert, ISSUER).err(),
        Some(Error::CertificateKeyMismatch)
    );
    Ok(())
}
