//! `judge` on tokens signed here: every check can fail on its own, and the exit status follows.

use anyhow::{Context, Result, ensure};
use attesto_client::evidence::{
    EvidenceSource, SimulatedEnclave, SimulatedIdentity, dcap_quote_for_key_hash,
};
use attesto_client::sample::{EnclaveInfo, Variant, report_data_for};
use attesto_client::signing_cert_quote::{CheckOptions, QUOTE_EXTENSION_ARCS, extension_value};
use attesto_client::validate::{
    BASICS_TITLE, CERT_QUOTE_TITLE, DEFAULT_SLACK, Endpoint, MATCHES_TITLE, Outcome, Status, judge,
};
use attesto_jose::cert::public_key_pem_hash;
use attesto_jose::{
    CertificateExtension, RsaBits, SigningCertificateParams, SigningKey, TokenSigner,
};
use attesto_quote::TrustAnchors;
use serde_json::{Map, Value, json};

use crate::common::{now, simulated, unix};

const ENDPOINT: &str = "https://attest.example:8443";

fn signer_for(cert_issuer: &str, token_issuer: &str) -> Result<TokenSigner> {
    signer_with_quote(cert_issuer, token_issuer, None)
}

/// A signer whose self-signed certificate carries, if `enclave` is given, that enclave's quote
/// over the key's MAA hash: what a service running in a TEE publishes.
fn signer_with_quote(
    cert_issuer: &str,
    token_issuer: &str,
    enclave: Option<&SimulatedEnclave>,
) -> Result<TokenSigner> {
    let key = SigningKey::generate_rsa(RsaBits::B2048)?;
    let mut extensions = Vec::new();
    if let Some(enclave) = enclave {
        let hash = public_key_pem_hash(&key.public_key_spki_der()?);
        let quote = dcap_quote_for_key_hash(enclave, &hash)?.context("a DCAP quote")?;
        extensions.push(CertificateExtension {
            oid: QUOTE_EXTENSION_ARCS.to_vec(),
            value_der: extension_value(&quote),
            critical: false,
        });
    }
    let start = now().as_secs() - 3600;
    let cert = attesto_jose::self_signed_certificate(
        &key,
        &SigningCertificateParams {
            issuer: cert_issuer.to_owned(),
            not_before: unix(start),
            not_after: unix(start + 86_400),
            extensions,
        },
    )?;
    Ok(TokenSigner::new(key, &cert, token_issuer)?)
}

fn info() -> Result<EnclaveInfo> {
    let enclave = simulated(SimulatedIdentity {
        debug: true,
        isv_prod_id: 7,
        isv_svn: 3,
        ..SimulatedIdentity::default()
    })?;
    let ehd = b"enclave held data".to_vec();
    let quote = enclave.evidence(&report_data_for(&ehd))?.bytes;
    Ok(EnclaveInfo::from_quote(Variant::IntelSdk, &quote, ehd)?)
}

/// The claims an honest service issues for `info`.
fn claims_for(info: &EnclaveInfo, iss: &str, lifetime: i64) -> Map<String, Value> {
    let t = i64::try_from(now().as_secs()).unwrap_or(i64::MAX);
    let value = json!({
        "iss": iss,
        "iat": t,
        "nbf": t,
        "exp": t + lifetime,
        "x-ms-sgx-is-debuggable": info.is_debuggable(),
        "x-ms-sgx-mrenclave": hex::encode(info.mr_enclave),
        "x-ms-sgx-mrsigner": hex::encode(info.mr_signer),
        "x-ms-sgx-product-id": info.product_id_u64(),
        "x-ms-sgx-svn": info.security_version,
        "x-ms-sgx-ehd": attesto_jose::base64url::encode(&info.enclave_held_data),
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn run(info: &EnclaveInfo, signer: &TokenSigner, claims: &Map<String, Value>) -> Result<Outcome> {
    let token = signer.issue(claims)?;
    Ok(judge(
        info,
        &token,
        &signer.jwks(),
        &Endpoint::parse(ENDPOINT)?,
        now(),
        DEFAULT_SLACK,
        None,
    ))
}

fn failed(outcome: &Outcome) -> Vec<&'static str> {
    outcome
        .report
        .checks()
        .filter(|(_, passed)| !passed)
        .map(|(label, _)| label)
        .collect()
}

#[test]
fn an_honest_token_passes_every_check() -> Result<()> {
    let info = info()?;
    let signer = signer_for(ENDPOINT, ENDPOINT)?;
    let outcome = run(&info, &signer, &claims_for(&info, ENDPOINT, 3600))?;
    ensure!(outcome.status == Status::AllTrue, "{:?}", outcome.problem);
    ensure!(outcome.token_valid);
    ensure!(outcome.report.checks().count() == 11);
    let titles: Vec<_> = outcome.report.sections.iter().map(|s| s.title).collect();
    ensure!(titles == [BASICS_TITLE, MATCHES_TITLE]);
    let text = outcome.report.render(false);
    ensure!(
        text.contains("\nEnclave Held Data match            : True\n"),
        "{text}"
    );
    ensure!(!text.contains("We think"));
    let detailed = outcome.report.render(true);
    ensure!(detailed.contains(&format!(
        "MRENCLAVE match                    : True\n    We think   : {0}\n    MAA service: {0}\n",
        hex::encode(info.mr_enclave)
    )));
    ensure!(
        detailed.contains("IsDebuggable match                 : True\n    We think   : True\n")
    );
    Ok(())
}

#[test]
fn each_claim_mismatch_is_its_own_false_line() -> Result<()> {
    let info = info()?;
    let signer = signer_for(ENDPOINT, ENDPOINT)?;
    let honest = claims_for(&info, ENDPOINT, 3600);
    let cases: [(&str, Value, &str); 6] = [
        ("x-ms-sgx-is-debuggable", json!(false), "IsDebuggable match"),
        (
            "x-ms-sgx-mrenclave",
            json!(hex::encode([0u8; 32])),
            "MRENCLAVE match",
        ),
        (
            "x-ms-sgx-mrsigner",
            json!(hex::encode([1u8; 32])),
            "MRSIGNER match",
        ),
        ("x-ms-sgx-product-id", json!(8), "ProductID match"),
        ("x-ms-sgx-svn", json!(4), "Security Version match"),
        (
            "x-ms-sgx-ehd",
            json!(attesto_jose::base64url::encode(b"other")),
            "Enclave Held Data match",
        ),
    ];
    for (claim, value, label) in cases {
        let mut claims = honest.clone();
        claims.insert(claim.to_owned(), value);
        let outcome = run(&info, &signer, &claims)?;
        ensure!(outcome.status == Status::Mismatch, "{claim}");
        ensure!(
            failed(&outcome) == [label],
            "{claim}: {:?}",
            failed(&outcome)
        );
        ensure!(outcome.status.exit_code() == 1);
    }
    Ok(())
}

#[test]
fn mrenclave_is_compared_lowercase_and_case_sensitive_like_the_sample() -> Result<()> {
    let info = info()?;
    let signer = signer_for(ENDPOINT, ENDPOINT)?;
    let mut claims = claims_for(&info, ENDPOINT, 3600);
    claims.insert(
        "x-ms-sgx-mrenclave".to_owned(),
        json!(hex::encode_upper(info.mr_enclave)),
    );
    // MRSIGNER is compared case-insensitively.
    claims.insert(
        "x-ms-sgx-mrsigner".to_owned(),
        json!(hex::encode_upper(info.mr_signer)),
    );
    let outcome = run(&info, &signer, &claims)?;
    ensure!(
        failed(&outcome) == ["MRENCLAVE match"],
        "{:?}",
        failed(&outcome)
    );
    Ok(())
}

#[test]
fn deprecated_claim_names_are_read_too() -> Result<()> {
    let info = info()?;
    let signer = signer_for(ENDPOINT, ENDPOINT)?;
    let mut claims = Map::new();
    for (old, new) in [
        ("is-debuggable", "x-ms-sgx-is-debuggable"),
        ("sgx-mrenclave", "x-ms-sgx-mrenclave"),
        ("sgx-mrsigner", "x-ms-sgx-mrsigner"),
        ("product-id", "x-ms-sgx-product-id"),
        ("svn", "x-ms-sgx-svn"),
        ("maa-ehd", "x-ms-sgx-ehd"),
    ] {
        let honest = claims_for(&info, ENDPOINT, 3600);
        claims.insert(old.to_owned(), honest.get(new).cloned().context(new)?);
    }
    for name in ["iss", "iat", "nbf", "exp"] {
        let honest = claims_for(&info, ENDPOINT, 3600);
        claims.insert(name.to_owned(), honest.get(name).cloned().context(name)?);
    }
    let outcome = run(&info, &signer, &claims)?;
    ensure!(outcome.status == Status::AllTrue, "{:?}", failed(&outcome));
    Ok(())
}

#[test]
fn invalid_tokens_stop_before_the_comparison() -> Result<()> {
    let info = info()?;
    let signer = signer_for(ENDPOINT, ENDPOINT)?;

    // Expired.
    let outcome = run(&info, &signer, &claims_for(&info, ENDPOINT, -3600))?;
    ensure!(outcome.status == Status::TokenInvalid);
    ensure!(!outcome.token_valid);
    ensure!(
        failed(&outcome) == ["JWT lifetime validation"],
        "{:?}",
        failed(&outcome)
    );
    ensure!(
        outcome.report.sections.len() == 1,
        "no comparison for an invalid token"
    );
    ensure!(outcome.status.exit_code() == 2);

    // Issued by another instance: its iss and jku do not name this endpoint.
    let elsewhere = signer_for("https://elsewhere.example", "https://elsewhere.example")?;
    let outcome = run(
        &info,
        &elsewhere,
        &claims_for(&info, "https://elsewhere.example", 3600),
    )?;
    ensure!(
        failed(&outcome) == ["JWT JKU location validation", "JWT issuer claim validation"],
        "{:?}",
        failed(&outcome)
    );

    // A trailing slash is another issuer.
    let outcome = run(
        &info,
        &signer,
        &claims_for(&info, &format!("{ENDPOINT}/"), 3600),
    )?;
    ensure!(failed(&outcome).contains(&"JWT issuer claim validation"));

    // The signing certificate names another issuer.
    let odd = signer_for("https://other.example", ENDPOINT)?;
    let outcome = run(&info, &odd, &claims_for(&info, ENDPOINT, 3600))?;
    ensure!(
        failed(&outcome) == ["JWT signing cert issuer validation"],
        "{:?}",
        failed(&outcome)
    );
    ensure!(outcome.status == Status::TokenInvalid);
    Ok(())
}

#[test]
fn a_token_from_another_key_behind_the_same_url_is_invalid() -> Result<()> {
    let info = info()?;
    let published = signer_for(ENDPOINT, ENDPOINT)?;
    let impostor = signer_for(ENDPOINT, ENDPOINT)?;
    let token = impostor.issue(&claims_for(&info, ENDPOINT, 3600))?;
    let outcome = judge(
        &info,
        &token,
        &published.jwks(),
        &Endpoint::parse(ENDPOINT)?,
        now(),
        DEFAULT_SLACK,
        None,
    );
    ensure!(outcome.status == Status::TokenInvalid);
    ensure!(
        failed(&outcome).contains(&"JWT signature validation"),
        "{:?}",
        failed(&outcome)
    );

    // Same kid, other key: the signature itself fails.
    let mut jwks = impostor.jwks();
    if let Some(key) = jwks.keys.first_mut() {
        key.x5c = published.jwk().x5c;
        key.n = published.jwk().n;
        key.e = published.jwk().e;
    }
    let outcome = judge(
        &info,
        &token,
        &jwks,
        &Endpoint::parse(ENDPOINT)?,
        now(),
        DEFAULT_SLACK,
        None,
    );
    ensure!(
        failed(&outcome).contains(&"JWT signature validation"),
        "{:?}",
        failed(&outcome)
    );
    Ok(())
}

#[test]
fn unsigned_and_garbage_tokens_are_invalid() -> Result<()> {
    let info = info()?;
    let signer = signer_for(ENDPOINT, ENDPOINT)?;
    let claims = Value::Object(claims_for(&info, ENDPOINT, 3600)).to_string();
    let endpoint = Endpoint::parse(ENDPOINT)?;
    for token in [
        attesto_jose::unsecured_jws(claims.as_bytes()),
        "not.a.token".to_owned(),
        String::new(),
    ] {
        let outcome = judge(
            &info,
            &token,
            &signer.jwks(),
            &endpoint,
            now(),
            DEFAULT_SLACK,
            None,
        );
        ensure!(outcome.status == Status::TokenInvalid, "{token:?}");
        ensure!(
            failed(&outcome).contains(&"JWT signature validation"),
            "{token:?}"
        );
    }
    Ok(())
}

#[test]
fn the_signing_certificates_quote_is_checked_when_asked() -> Result<()> {
    let info = info()?;
    let service_enclave = simulated(SimulatedIdentity {
        mrenclave: [0xAA; 32],
        ..SimulatedIdentity::default()
    })?;
    let signer = signer_with_quote(ENDPOINT, ENDPOINT, Some(&service_enclave))?;
    let token = signer.issue(&claims_for(&info, ENDPOINT, 3600))?;
    let endpoint = Endpoint::parse(ENDPOINT)?;
    let judge_with = |anchors: &TrustAnchors| {
        judge(
            &info,
            &token,
            &signer.jwks(),
            &endpoint,
            now(),
            DEFAULT_SLACK,
            Some(&CheckOptions {
                anchors,
                collateral: None,
                time: now(),
            }),
        )
    };

    let test_root = TrustAnchors::from_der(service_enclave.root_der())?;
    let outcome = judge_with(&test_root);
    ensure!(
        outcome.status == Status::AllTrue,
        "{}",
        outcome.report.render(true)
    );
    let titles: Vec<_> = outcome.report.sections.iter().map(|s| s.title).collect();
    ensure!(titles == [BASICS_TITLE, CERT_QUOTE_TITLE, MATCHES_TITLE]);
    let text = outcome.report.render(true);
    ensure!(
        text.contains("Signing cert quote validation      : True\n"),
        "{text}"
    );
    ensure!(text.contains(&format!(
        "    Enclave ID                     : {}\n",
        hex::encode_upper([0xAAu8; 32])
    )));

    // Intel's root does not vouch for a simulated enclave: the token is fine, the check not.
    let outcome = judge_with(&TrustAnchors::intel());
    ensure!(outcome.status == Status::TokenInvalid);
    ensure!(outcome.token_valid);
    ensure!(
        outcome
            .report
            .checks()
            .filter(|c| !c.1)
            .map(|c| c.0)
            .collect::<Vec<_>>()
            == ["Signing cert quote validation"]
    );

    // A certificate without the extension fails a requested check, saying why.
    let plain = signer_for(ENDPOINT, ENDPOINT)?;
    let token = plain.issue(&claims_for(&info, ENDPOINT, 3600))?;
    let outcome = judge(
        &info,
        &token,
        &plain.jwks(),
        &endpoint,
        now(),
        DEFAULT_SLACK,
        Some(&CheckOptions {
            anchors: &test_root,
            collateral: None,
            time: now(),
        }),
    );
    ensure!(outcome.status == Status::TokenInvalid);
    ensure!(outcome.report.render(false).contains(
        "Could not find Attestation Quote Extension in certificate: CN=https://attest.example:8443\n"
    ));
    Ok(())
}
