//! MAA request bodies and payloads: normalisation, stored policies, signer management, hashes.

use anyhow::Result;
use attesto_jose::{
    Algorithm, Certificate, Error, Header, Jwk, Jws, SigningKey, Unsecured, Verified, base64url,
    maa, sign_jws,
};

use crate::common::{read_text, rsa_key, signing_cert};

const MINIMAL: &str = "version=1.0; authorizationrules{=> permit();}; issuancerules{};";

#[test]
fn request_bodies_raw_or_json_quoted_normalise_to_the_same_jws() -> Result<()> {
    let jws = maa::unsecured_policy_jws(MINIMAL);
    for body in [
        jws.clone(),
        format!("{jws}\n"),
        format!("  {jws}\r\n"),
        format!("\"{jws}\""),
        format!("\"{jws}\"\n"),
        // JSON escapes are undone (a JSON encoder may escape any character).
        format!("\"{}\"", jws.replacen('e', "\\u0065", 1)),
    ] {
        assert_eq!(
            maa::normalize_request_body(body.as_bytes())?,
            jws,
            "{body:?}"
        );
    }
    assert!(matches!(
        maa::normalize_request_body(b"\"eyJ"),
        Err(Error::RequestBody { .. })
    ));
    assert!(matches!(
        maa::normalize_request_body(&[0xff, 0x2e]),
        Err(Error::RequestBody { .. })
    ));
    // An empty body becomes an empty token, which MAA reports as a malformed JWT.
    let empty = maa::normalize_request_body(b"  \n")?;
    assert_eq!(Jws::parse(&empty).err(), Some(Error::MissingFirstPeriod));
    Ok(())
}

#[test]
fn stored_policies_decode_from_base64url_or_raw_text() -> Result<()> {
    let payload = maa::stored_policy_payload(MINIMAL);
    assert_eq!(
        payload,
        format!(
            r#"{{"AttestationPolicy":"{}"}}"#,
            base64url::encode(MINIMAL.as_bytes())
        )
    );
    let decoded = maa::decode_stored_policy(payload.as_bytes())?;
    assert_eq!(
        (decoded.text.as_str(), decoded.encoding),
        (MINIMAL, maa::PolicyEncoding::Base64Url)
    );

    let raw = serde_json::json!({ "AttestationPolicy": MINIMAL }).to_string();
    let decoded = maa::decode_stored_policy(raw.as_bytes())?;
    assert_eq!(
        (decoded.text.as_str(), decoded.encoding),
        (MINIMAL, maa::PolicyEncoding::RawText)
    );

    // A real SGX policy text round-trips through an unsecured upload.
    let text = read_text("policies/sgx-default-v1.1-docs.txt")?;
    let jws = Jws::parse(&maa::unsecured_policy_jws(&text))?;
    assert_eq!(maa::decode_stored_policy(jws.payload())?.text, text);

    assert_eq!(
        maa::decode_stored_policy(br#"{"Policy":"x"}"#).err(),
        Some(Error::MissingAttestationPolicy)
    );
    assert!(matches!(
        maa::decode_stored_policy(b""),
        Err(Error::PayloadJson { .. })
    ));
    Ok(())
}

#[test]
fn policy_hash_follows_the_documented_double_encoding() {
    assert_eq!(
        maa::policy_hash(MINIMAL),
        "z0FRjKS0ssQTNur1V6BV8WIrh9M3fzgTo0EfHRvapWU"
    );
}

#[test]
fn thumbprints_are_uppercase_sha1_hex_of_the_der() -> Result<()> {
    let der = base64url::decode(&read_text(
        "maa-sample/sgx.attest.sample.oe.sdk/validatequotes.net/samples/eus2.signing.cert.cer",
    )?)?;
    // `openssl x509 -fingerprint -sha1` of the same certificate.
    assert_eq!(
        maa::certificate_thumbprint(&der),
        "BE2E7D4B0944611BD04AB15FA6D9A4CB6CB09AD6"
    );
    assert_eq!(
        Certificate::from_der(&der)?.thumbprint(),
        maa::certificate_thumbprint(&der)
    );
    Ok(())
}

#[test]
fn policy_certificate_bodies_accept_every_claim_alias() -> Result<()> {
    let cert = signing_cert(&rsa_key()?, "https://new-signer.test")?;
    let jwk = Jwk::from_certificate_der(&cert)?;
    assert_eq!(jwk.kty.as_deref(), Some("RSA"));
    assert_eq!(jwk.x5c, Some(vec![base64url::encode_std(&cert)]));
    assert!(jwk.n.is_some() && jwk.e.is_some());

    let payload = maa::policy_certificate_payload(&jwk);
    assert!(payload.starts_with(r#"{"policyCertificate":{"kty":"RSA","x5c":["#));
    assert_eq!(maa::decode_policy_certificate(payload.as_bytes())?, jwk);
    for claim in maa::POLICY_CERTIFICATE_CLAIMS {
        let body = serde_json::json!({ claim: { "kty": "RSA", "x5c": jwk.x5c } }).to_string();
        let decoded = maa::decode_policy_certificate(body.as_bytes())?;
        assert_eq!(decoded.certificate_ders()?, vec![cert.clone()], "{claim}");
    }
    let missing = maa::decode_policy_certificate(br#"{"somethingElse":{}}"#).err();
    assert_eq!(missing, Some(Error::MissingPolicyCertificate));
    assert_eq!(
        Error::MissingPolicyCertificate.to_string(),
        "Could not find \"maa-policyCertificate\" claim in policy token"
    );
    assert!(matches!(
        maa::decode_policy_certificate(br#"{"policyCertificate":"not a jwk"}"#),
        Err(Error::PayloadJson { .. })
    ));
    Ok(())
}

#[test]
fn ec_certificates_become_ec_jwks() -> Result<()> {
    let key = SigningKey::generate_ec_p256()?;
    let jwk = Jwk::from_certificate_der(&signing_cert(&key, "https://ec.test")?)?;
    assert_eq!(jwk.kty.as_deref(), Some("EC"));
    assert_eq!(jwk.crv.as_deref(), Some("P-256"));
    assert_eq!(jwk.public_key()?, *key.public_key());
    Ok(())
}

#[test]
fn a_js_style_add_certificate_request_is_understood_end_to_end() -> Result<()> {
    // An existing policy signer adds a new certificate: header x5c, JSON-quoted body.
    let signer_key = rsa_key()?;
    let signer_cert = signing_cert(&signer_key, "https://existing-signer.test")?;
    let new_cert = signing_cert(&SigningKey::generate_ec_p256()?, "https://new-signer.test")?;
    let mut header = Header::new(Algorithm::Rs256);
    header.x5c = Some(vec![base64url::encode_std(&signer_cert)]);
    let payload = maa::policy_certificate_payload(&Jwk::from_certificate_der(&new_cert)?);
    let token = sign_jws(&header, payload.as_bytes(), &signer_key)?;
    let body = serde_json::to_string(&token)?;

    let jws = Jws::parse(&maa::normalize_request_body(body.as_bytes())?)?;
    let Verified::Signed(chain) = jws.verify_with_embedded_signer(Unsecured::Reject)? else {
        anyhow::bail!("signed");
    };
    assert_eq!(chain.signer().der(), signer_cert.as_slice());
    let added = maa::decode_policy_certificate(jws.payload())?;
    let ders = added.certificate_ders()?;
    assert_eq!(ders, vec![new_cert.clone()]);
    assert_eq!(maa::certificate_thumbprint(&new_cert).len(), 40);
    Ok(())
}
