//! Every way a JWS, a signer or a key is refused, with the typed error it must produce.

use anyhow::Result;
use attesto_jose::{
    Algorithm, Base64Problem, Error, Header, Jwk, Jws, Limits, SignerChain,
    SigningCertificateParams, SigningKey, Unsecured, base64url, maa, self_signed_certificate,
    sign_jws, unsecured_jws, verify_with_jwk, verify_with_public_key,
};

use crate::common::{NOW, at, join, rsa_key, signing_cert};

fn b64(text: &str) -> String {
    base64url::encode(text.as_bytes())
}

fn parse_err(text: &str) -> Option<Error> {
    Jws::parse(text).err()
}

#[test]
fn wrong_part_counts_use_maa_wording() {
    assert_eq!(parse_err(""), Some(Error::MissingFirstPeriod));
    assert_eq!(
        parse_err("eyJhbGciOiJub25lIn0"),
        Some(Error::MissingFirstPeriod)
    );
    assert_eq!(
        parse_err("eyJhbGciOiJub25lIn0.e30"),
        Some(Error::MissingSecondPeriod)
    );
    assert_eq!(
        parse_err("a.b.c.d"),
        Some(Error::TooManyPeriods { periods: 3 })
    );
    // A compact JWE has five parts.
    assert_eq!(
        parse_err("a.b.c.d.e"),
        Some(Error::TooManyPeriods { periods: 4 })
    );
    assert_eq!(
        Error::MissingFirstPeriod.to_string(),
        "Malformed JWT: could not find first period in the token"
    );
}

#[test]
fn bad_base64_names_the_part_and_offset() {
    let none = b64(r#"{"alg":"none"}"#);
    assert_eq!(
        parse_err("eyJ!bGciOiJub25lIn0.e30."),
        Some(Error::Base64 {
            field: "header",
            problem: Base64Problem::InvalidByte {
                offset: 3,
                byte: b'!'
            }
        })
    );
    assert!(matches!(
        parse_err(&format!("{none}.e3 0.")),
        Some(Error::Base64 {
            field: "payload",
            ..
        })
    ));
    let rs = b64(r#"{"alg":"RS256"}"#);
    assert!(matches!(
        parse_err(&format!("{rs}.e30.abcde")),
        Some(Error::Base64 {
            field: "signature",
            problem: Base64Problem::InvalidLength { .. }
        })
    ));
    assert_eq!(
        parse_err("eyJhbGciOiJub25lIn0.e30.é"),
        Some(Error::NotAscii {
            offset: 24,
            byte: 0xc3
        })
    );
}

#[test]
fn bad_header_json_is_refused() {
    for header in [
        "not json",
        "[1]",
        r#"{"typ":"JWT"}"#,
        r#"{"alg":5}"#,
        r#"{"alg":"none","alg":"RS256"}"#,
        r#"{"alg":"RS256","x5c":"not an array"}"#,
        r#"{"alg":"none"} trailing"#,
    ] {
        let token = join([&b64(header), "e30", ""]);
        assert!(
            matches!(parse_err(&token), Some(Error::HeaderJson { .. })),
            "{header}: {:?}",
            parse_err(&token)
        );
    }
    let not_utf8 = join([&base64url::encode(&[0xff, 0xfe]), "e30", ""]);
    assert!(matches!(
        parse_err(&not_utf8),
        Some(Error::HeaderJson { .. })
    ));
}

#[test]
fn unknown_algorithms_and_critical_extensions_are_refused() {
    for alg in ["HS256", "EdDSA", "RSA-OAEP", "rs256"] {
        let token = join([&b64(&format!(r#"{{"alg":"{alg}"}}"#)), "e30", "c2ln"]);
        assert_eq!(
            parse_err(&token),
            Some(Error::UnsupportedAlgorithm {
                alg: alg.to_owned()
            })
        );
    }
    let token = join([
        &b64(r#"{"alg":"RS256","crit":["b64"],"b64":false}"#),
        "e30",
        "c2ln",
    ]);
    assert_eq!(
        parse_err(&token),
        Some(Error::CriticalHeader {
            names: vec!["b64".to_owned()]
        })
    );
}

#[test]
fn unsecured_tokens_need_an_empty_signature_and_explicit_consent() -> Result<()> {
    let token = join([&b64(r#"{"alg":"none"}"#), "e30", "c2ln"]);
    assert_eq!(
        parse_err(&token),
        Some(Error::UnsecuredWithSignature { len: 3 })
    );

    let jws = Jws::parse(&unsecured_jws(b"{}"))?;
    assert_eq!(
        jws.verify_with_embedded_signer(Unsecured::Reject),
        Err(Error::UnsecuredNotAllowed)
    );
    // A key-based verification never passes an unsecured token.
    assert_eq!(
        verify_with_public_key(&jws, rsa_key()?.public_key()),
        Err(Error::UnsecuredNotAllowed)
    );
    Ok(())
}

#[test]
fn signed_tokens_without_a_usable_signer_are_refused() -> Result<()> {
    let key = rsa_key()?;
    let jws = Jws::parse(&sign_jws(&Header::new(Algorithm::Rs256), b"{}", &key)?)?;
    assert_eq!(
        jws.verify_with_embedded_signer(Unsecured::Accept),
        Err(Error::MissingSigner)
    );

    let cert = signing_cert(&key, "https://a.test")?;
    let other = signing_cert(&key, "https://b.test")?;
    let mut header = Header::new(Algorithm::Rs256);
    header.x5c = Some(vec![base64url::encode_std(&cert)]);
    header.jwk = Some(Jwk {
        x5c: Some(vec![base64url::encode_std(&other)]),
        ..Jwk::default()
    });
    let jws = Jws::parse(&sign_jws(&header, b"{}", &key)?)?;
    assert_eq!(
        jws.verify_with_embedded_signer(Unsecured::Reject),
        Err(Error::ConflictingSigners)
    );

    for (x5c, expected) in [
        (vec!["***".to_owned()], "CertificateBase64"),
        (
            vec![base64url::encode_std(b"not a certificate")],
            "CertificateParse",
        ),
        (vec![], "ChainLength"),
        (vec![base64url::encode_std(&cert); 9], "ChainLength"),
    ] {
        let mut header = Header::new(Algorithm::Rs256);
        header.x5c = Some(x5c);
        let jws = Jws::parse(&sign_jws(&header, b"{}", &key)?)?;
        let err = jws.verify_with_embedded_signer(Unsecured::Reject).err();
        let name = match err {
            Some(Error::CertificateBase64 { index: 0, .. }) => "CertificateBase64",
            Some(Error::CertificateParse { index: 0, .. }) => "CertificateParse",
            Some(Error::ChainLength { limit: 8, .. }) => "ChainLength",
            _ => "other",
        };
        assert_eq!(name, expected, "{err:?}");
    }
    Ok(())
}

#[test]
fn signer_outside_its_validity_is_refused_at_the_given_time() -> Result<()> {
    let key = rsa_key()?;
    let cert = self_signed_certificate(
        &key,
        &SigningCertificateParams {
            issuer: "https://policy-signer.test".to_owned(),
            not_before: at(NOW),
            not_after: at(NOW + 3600),
            extensions: Vec::new(),
        },
    )?;
    let chain = SignerChain::from_ders(&[&cert])?;
    let trusted = chain.certificates().to_vec();
    assert!(chain.verify_trust(&trusted, at(NOW + 60)).is_ok());
    assert_eq!(
        chain.verify_trust(&trusted, at(NOW + 3601)),
        Err(Error::CertificateExpired {
            subject: "CN=https://policy-signer.test".to_owned(),
            not_after: NOW as i64 + 3600,
            now: NOW + 3601,
        })
    );
    assert!(matches!(
        chain.signer().check_validity(at(NOW - 1)),
        Err(Error::CertificateNotYetValid { .. })
    ));
    Ok(())
}

#[test]
fn signature_mismatches_and_wrong_key_types_are_refused() -> Result<()> {
    let key = rsa_key()?;
    let other = SigningKey::generate_rsa(attesto_jose::RsaBits::B2048)?;
    let token = sign_jws(&Header::new(Algorithm::Rs256), b"{}", &key)?;
    let jws = Jws::parse(&token)?;
    assert!(matches!(
        verify_with_public_key(&jws, other.public_key()),
        Err(Error::BadSignature {
            alg: Algorithm::Rs256,
            ..
        })
    ));

    // An RS256 signature relabelled as PS256 does not verify.
    let relabelled_input = format!("{}.e30", b64(r#"{"alg":"PS256"}"#));
    let signature = key.sign(Algorithm::Rs256, relabelled_input.as_bytes())?;
    let jws = Jws::parse(&format!(
        "{relabelled_input}.{}",
        base64url::encode(&signature)
    ))?;
    assert!(matches!(
        verify_with_public_key(&jws, key.public_key()),
        Err(Error::BadSignature {
            alg: Algorithm::Ps256,
            ..
        })
    ));

    let ec = SigningKey::generate_ec_p256()?;
    let jws = Jws::parse(&sign_jws(&Header::new(Algorithm::Es256), b"{}", &ec)?)?;
    assert!(matches!(
        verify_with_public_key(&jws, key.public_key()),
        Err(Error::KeyMismatch {
            alg: Algorithm::Es256,
            ..
        })
    ));
    assert!(matches!(
        sign_jws(&Header::new(Algorithm::Rs256), b"{}", &ec),
        Err(Error::KeyMismatch { .. })
    ));
    assert!(matches!(
        sign_jws(&Header::new(Algorithm::None), b"{}", &key),
        Err(Error::KeyMismatch { .. })
    ));
    Ok(())
}

#[test]
fn jwk_whose_parameters_contradict_its_certificate_is_refused() -> Result<()> {
    let key = rsa_key()?;
    let other = SigningKey::generate_ec_p256()?;
    let mut jwk = Jwk::from_certificate_der(&signing_cert(&key, "https://a.test")?)?;
    let other_jwk = Jwk::from_public_key(other.public_key());
    jwk.kty = other_jwk.kty;
    jwk.crv = other_jwk.crv;
    jwk.x = other_jwk.x;
    jwk.y = other_jwk.y;
    jwk.n = None;
    jwk.e = None;
    assert!(matches!(
        jwk.public_key(),
        Err(Error::Jwk { field: "x5c", .. })
    ));
    let jws = Jws::parse(&sign_jws(&Header::new(Algorithm::Rs256), b"{}", &key)?)?;
    assert!(verify_with_jwk(&jws, &jwk).is_err());
    assert!(matches!(
        Jwk::default().public_key(),
        Err(Error::Jwk { field: "kty", .. })
    ));
    Ok(())
}

#[test]
fn oversize_input_is_refused_before_decoding() {
    let limits = Limits {
        max_token_len: 64,
        max_header_len: 16,
    };
    let long = "a".repeat(65);
    assert_eq!(
        Jws::parse_with_limits(&long, &limits).err(),
        Some(Error::TooLarge {
            what: "token",
            len: 65,
            limit: 64
        })
    );
    let header = b64(r#"{"alg":"none","typ":"JWT"}"#);
    assert!(matches!(
        Jws::parse_with_limits(&format!("{header}.e30."), &limits),
        Err(Error::TooLarge { what: "header", .. })
    ));
    let huge = "a".repeat(Limits::DEFAULT.max_token_len + 1);
    assert!(matches!(
        Jws::parse(&huge),
        Err(Error::TooLarge { what: "token", .. })
    ));
    let body = vec![b'a'; Limits::DEFAULT.max_token_len + 2048];
    assert!(matches!(
        maa::normalize_request_body(&body),
        Err(Error::TooLarge {
            what: "request body",
            ..
        })
    ));
}
