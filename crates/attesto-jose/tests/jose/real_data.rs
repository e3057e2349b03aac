//! Real upload bodies, tokens and key sets from MAA, its SDKs and samples.

use anyhow::Result;
use attesto_jose::{
    Algorithm, Certificate, Error, Jwks, Jws, Limits, TrustPath, Unsecured, Verified, base64url,
    cert::TrustFailure, maa, verify_with_certificate,
};

use crate::common::{at, join, read_bytes, read_text, split};

const SIGNED_POLICY: &str = "policies/jws/signed_jwt_sgx_policy_2.txt";
const UNSIGNED_POLICY: &str = "policies/jws/unsigned_jwt_sgx_policy.txt";
const SDK_UNSIGNED_BODY: &str = "policies/jws/set-policy-unsigned-request-body.txt";
const SAMPLES: &str = "maa-sample/sgx.attest.sample.oe.sdk/validatequotes.net/samples";
/// 2021-01-01T00:00:00Z: inside the signed policy's signer validity (2020-11-23 .. 2021-11-23).
const IN_2021: u64 = 1_609_459_200;
/// 2025-01-01T00:00:00Z: after it.
const IN_2025: u64 = 1_735_689_600;

#[test]
fn signed_policy_with_rsa256_alias_and_escaped_x5c_verifies() -> Result<()> {
    let jws = Jws::parse(&read_text(SIGNED_POLICY)?)?;
    assert_eq!(jws.algorithm(), Algorithm::Rs256);
    assert!(jws.header_json().contains(r#""alg":"RSA256""#));
    // The header JSON escapes '+' as \u002B; the parsed x5c holds the real character.
    assert!(jws.header_json().contains(r"\u002B"));
    let x5c = jws.header().x5c.clone().unwrap_or_default();
    assert!(x5c.first().is_some_and(|c| c.contains('+')));

    let Verified::Signed(chain) = jws.verify_with_embedded_signer(Unsecured::Reject)? else {
        anyhow::bail!("a signed policy must verify as signed");
    };
    assert_eq!(chain.signer().subject(), "CN=AttestationCertificate0");
    verify_with_certificate(&jws, chain.signer().der())?;

    let policy = maa::decode_stored_policy(jws.payload())?;
    assert_eq!(policy.encoding, maa::PolicyEncoding::Base64Url);
    assert_eq!(
        policy.text,
        read_text("policies/sgx-signed-deny-then-permit.txt")?
    );
    Ok(())
}

#[test]
fn signed_policy_fails_when_one_payload_or_signature_byte_flips() -> Result<()> {
    let text = read_text(SIGNED_POLICY)?;
    let [header, payload, signature] = split(&text)?;

    let mut payload_bytes = base64url::decode(&payload)?;
    if let Some(byte) = payload_bytes.get_mut(20) {
        *byte ^= 0x01;
    }
    let altered = join([&header, &base64url::encode(&payload_bytes), &signature]);
    let result = Jws::parse(&altered)?.verify_with_embedded_signer(Unsecured::Reject);
    assert!(
        matches!(
            result,
            Err(Error::BadSignature {
                alg: Algorithm::Rs256,
                ..
            })
        ),
        "{result:?}"
    );

    let mut signature_bytes = base64url::decode(&signature)?;
    if let Some(byte) = signature_bytes.last_mut() {
        *byte ^= 0x80;
    }
    let altered = join([&header, &payload, &base64url::encode(&signature_bytes)]);
    let result = Jws::parse(&altered)?.verify_with_embedded_signer(Unsecured::Reject);
    assert!(
        matches!(result, Err(Error::BadSignature { .. })),
        "{result:?}"
    );
    Ok(())
}

#[test]
fn signed_policy_signer_is_checked_against_time_and_trust() -> Result<()> {
    let jws = Jws::parse(&read_text(SIGNED_POLICY)?)?;
    let chain = jws.header().signer_chain()?;
    let signer = chain.signer().clone();

    assert_eq!(signer.check_validity(at(IN_2021)), Ok(()));
    assert!(matches!(
        signer.check_validity(at(IN_2025)),
        Err(Error::CertificateExpired { now: IN_2025, .. })
    ));
    assert_eq!(
        chain.verify_trust(std::slice::from_ref(&signer), at(IN_2021)),
        Ok(TrustPath::Exact {
            anchor: 0,
            chain_index: 0
        })
    );
    assert!(matches!(
        chain.verify_trust(std::slice::from_ref(&signer), at(IN_2025)),
        Err(Error::CertificateExpired { .. })
    ));
    assert!(matches!(
        chain.verify_trust(&[], at(IN_2021)),
        Err(Error::UntrustedSigner {
            reason: TrustFailure::NoTrustedCertificates,
            ..
        })
    ));
    Ok(())
}

#[test]
fn unsigned_bodies_parse_as_unsecured_and_their_policies_decode() -> Result<()> {
    for (file, policy_file) in [
        (
            UNSIGNED_POLICY,
            "policies/sgx-default-v1.0-legacy-service.txt",
        ),
        (SDK_UNSIGNED_BODY, "policies/minimal-permit-sdk-test.txt"),
    ] {
        let jws = Jws::parse(&read_text(file)?)?;
        assert!(jws.is_unsecured(), "{file}");
        assert!(jws.signature().is_empty());
        assert_eq!(
            jws.verify_with_embedded_signer(Unsecured::Accept)?,
            Verified::Unsecured
        );
        assert_eq!(
            jws.verify_with_embedded_signer(Unsecured::Reject),
            Err(Error::UnsecuredNotAllowed)
        );
        let policy = maa::decode_stored_policy(jws.payload())?;
        assert_eq!(policy.text, read_text(policy_file)?, "{file}");
    }
    Ok(())
}

#[test]
fn sdk_body_hashes_to_the_recorded_policy_token_hash() -> Result<()> {
    let body = read_bytes(SDK_UNSIGNED_BODY)?;
    assert_eq!(
        maa::policy_token_hash(&body),
        "pyhI2FKMjRkvpvwS07hLclAyvsi5O4TrnzL5OPsIxzM"
    );
    // attesto's own unsecured encoding of the same policy is byte-identical to the SDK's.
    let text = read_text("policies/minimal-permit-sdk-test.txt")?;
    let ours = maa::unsecured_policy_jws(&text);
    assert_eq!(
        Jws::parse(&ours)?.payload_json::<serde_json::Value>()?,
        Jws::parse(&String::from_utf8(body)?)?.payload_json::<serde_json::Value>()?
    );
    Ok(())
}

#[test]
fn real_certs_key_set_parses_and_kid_derivation_matches_maa() -> Result<()> {
    let jwks = Jwks::from_json(&read_text(&format!(
        "{SAMPLES}/get.certs.response.body.json"
    ))?)?;
    assert_eq!(jwks.keys.len(), 5);
    assert!(jwks.keys.iter().all(|k| k.kty.as_deref() == Some("RSA")));

    let own = jwks
        .find("KQFAHrk1xALKHBD4b4u7TCvCJ1Mw0MlYZe+rxdePOtg=")
        .ok_or_else(|| anyhow::anyhow!("MAA's own key is listed"))?;
    let ders = own.certificate_ders()?;
    let cert = Certificate::from_der(ders.first().map_or(&[][..], Vec::as_slice))?;
    // MAA's kid is SHA-256 over the PEM public key plus NUL; attesto derives the same value.
    assert_eq!(
        cert.maa_key_id(),
        "KQFAHrk1xALKHBD4b4u7TCvCJ1Mw0MlYZe+rxdePOtg="
    );
    assert_eq!(cert.subject(), "CN=https://gnkuks001.uks.attest.azure.net");
    assert_eq!(cert.issuer(), cert.subject());
    // The 2020 key is RSA-1024: it parses, but attesto refuses to verify with it.
    assert!(matches!(
        own.public_key()?.kind(),
        attesto_jose::KeyKind::Rsa { bits: 1024 }
    ));

    let chained = jwks
        .find("wcGHi-SJDOR0XXghydRma0GQQXs")
        .ok_or_else(|| anyhow::anyhow!("a Microsoft-chained key is listed"))?;
    assert_eq!(chained.x5c.as_ref().map(Vec::len), Some(3));
    assert!(matches!(
        chained.public_key()?.kind(),
        attesto_jose::KeyKind::Rsa { bits: 2048 }
    ));

    // The document survives a serialize/parse round trip unchanged.
    assert_eq!(Jwks::from_json(&jwks.to_json())?, jwks);
    Ok(())
}

#[test]
fn real_microsoft_chain_is_walked_to_a_trusted_root() -> Result<()> {
    let jwks = Jwks::from_json(&read_text(&format!(
        "{SAMPLES}/get.certs.response.body.json"
    ))?)?;
    let key = jwks
        .find("ZQzLfoNwhBNCu9r8Fucjn6H4Cdw")
        .ok_or_else(|| anyhow::anyhow!("key listed"))?;
    let chain = attesto_jose::SignerChain::from_x5c(key.x5c.as_deref().unwrap_or_default())?;
    let [leaf, pca, root] = chain.certificates() else {
        anyhow::bail!("three certificates expected");
    };
    assert!(!leaf.is_ca() && pca.is_ca() && root.is_ca());
    // 2020-01-01, inside the leaf's validity (2019-06-05 .. 2020-09-05).
    let now = at(1_577_836_800);
    assert_eq!(
        chain.verify_trust(std::slice::from_ref(root), now),
        Ok(TrustPath::IssuedBy {
            anchor: 0,
            chain_index: 1
        })
    );
    assert_eq!(
        chain.verify_trust(std::slice::from_ref(pca), now),
        Ok(TrustPath::IssuedBy {
            anchor: 0,
            chain_index: 0
        })
    );
    // The leaf is not a CA, so nothing it "issued" could be trusted; here it is simply unrelated.
    let other = Certificate::from_der(&base64url::decode(&read_text(&format!(
        "{SAMPLES}/eus2.signing.cert.cer"
    ))?)?)?;
    assert!(matches!(
        chain.verify_trust(&[other], now),
        Err(Error::UntrustedSigner { .. })
    ));
    // After the leaf expired, trust fails on time.
    assert!(matches!(
        chain.verify_trust(std::slice::from_ref(root), at(1_609_459_200)),
        Err(Error::CertificateExpired { .. })
    ));
    Ok(())
}

#[test]
fn sev_snp_token_from_2025_parses() -> Result<()> {
    let text = read_text("maa-sample/maa.jwt.verifier.dotnet/sev-snp-jwt.txt")?;
    let jws = Jws::parse(text.trim_end())?;
    let header = jws.header();
    assert_eq!(header.alg, Algorithm::Rs256);
    assert_eq!(
        header.jku.as_deref(),
        Some("https://sharedweu.weu.test.attest.azure.net/certs")
    );
    assert_eq!(
        header.kid.as_deref(),
        Some("jNolL7YTrRkDIukgm3on/fz5uMi9kjxhfUBTh6Or8No=")
    );
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(jws.signature().len(), 256);
    let claims: serde_json::Map<String, serde_json::Value> = jws.payload_json()?;
    assert_eq!(
        claims.get("iss").and_then(|v| v.as_str()),
        Some("https://sharedweu.weu.test.attest.azure.net")
    );
    // MAA tokens carry no certificate: the signer must come from /certs.
    assert_eq!(
        jws.verify_with_embedded_signer(Unsecured::Reject),
        Err(Error::MissingSigner)
    );
    Ok(())
}

#[test]
fn decoded_2020_token_header_matches_the_published_key() -> Result<()> {
    // The sample stores the token decoded: the header object, then the claims object.
    let text = read_text(&format!("{SAMPLES}/post.attest.response.jwt.body.json"))?;
    let mut objects = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
    let header = objects.next().ok_or_else(|| anyhow::anyhow!("header"))??;
    let claims = objects.next().ok_or_else(|| anyhow::anyhow!("claims"))??;
    let compact = join([
        &base64url::encode(header.to_string().as_bytes()),
        &base64url::encode(claims.to_string().as_bytes()),
        "",
    ]);
    let jws = Jws::parse_with_limits(&compact, &Limits::DEFAULT)?;
    assert_eq!(jws.algorithm(), Algorithm::Rs256);
    assert_eq!(jws.header().typ.as_deref(), Some("JWT"));
    assert_eq!(
        jws.header().jku.as_deref(),
        Some("https://gnkuks001.uks.attest.azure.net/certs")
    );
    let jwks = Jwks::from_json(&read_text(&format!(
        "{SAMPLES}/get.certs.response.body.json"
    ))?)?;
    assert!(
        jwks.find(jws.header().kid.as_deref().unwrap_or_default())
            .is_some()
    );
    Ok(())
}

#[test]
fn maa_signing_certificates_parse_with_the_issuer_clients_expect() -> Result<()> {
    for file in [
        format!("{SAMPLES}/eus2.signing.cert.cer"),
        format!("{SAMPLES}/sample.signing.cert.cer"),
        "maa-sample/sgx.attest.sample.oe.sdk/maa.signing.cert.examples/maa.prod.uks.signing.cert.cer".to_owned(),
    ] {
        let cert = Certificate::from_der(&base64url::decode(read_text(&file)?.trim())?)?;
        assert!(cert.subject().starts_with("CN=https://"), "{file}");
        assert_eq!(cert.subject(), cert.issuer(), "{file}");
        assert_eq!(cert.thumbprint().len(), 40);
        assert!(cert.thumbprint().chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    }
    Ok(())
}
