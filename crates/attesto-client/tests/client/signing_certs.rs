//! The quote in MAA signing certificates: the sample's real certificates pass, and
//! certificates made here show each failure.

use anyhow::{Context, Result, bail, ensure};
use attesto_client::evidence::{SimulatedIdentity, dcap_quote_for_key_hash};
use attesto_client::signing_cert_quote::{
    CertQuote, CertQuoteError, CheckOptions, LEGACY_QUOTE_EXTENSION_OID, QUOTE_EXTENSION_ARCS,
    QUOTE_EXTENSION_OID, check, extension_value,
};
use attesto_jose::{
    CertificateExtension, RsaBits, SigningCertificateParams, SigningKey, cert::public_key_pem_hash,
    self_signed_certificate,
};
use attesto_quote::{Collateral, TcbStatus, TrustAnchors};

use crate::common::{maa_sample, now, simulated, unix};

/// While the 2020 certificates' quotes had valid PCK chains.
const CERT_QUOTE_TIME: u64 = 1_600_000_000; // 2020-09-13

/// A `.cer` file of the sample: base64 DER. `uksouth.signing.cert.cer` was cut from a `/certs`
/// answer and carries the rest of its JWK (`"],"kid":"<kid>`) after the certificate.
fn sample_cert(rel: &str) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(maa_sample().join(rel))?;
    let b64 = text.split('"').next().unwrap_or_default().trim();
    Ok(attesto_jose::base64url::decode(b64)?)
}

#[test]
fn the_samples_quote_bearing_certificates_pass() -> Result<()> {
    let anchors = TrustAnchors::intel();
    let options = CheckOptions {
        anchors: &anchors,
        collateral: None,
        time: unix(CERT_QUOTE_TIME),
    };
    for rel in [
        "sgx.attest.sample.oe.sdk/maa.signing.cert.examples/maa.prod.uks.signing.cert.cer",
        "sgx.attest.sample.oe.sdk/validatequotes.net/samples/sample.signing.cert.cer",
        "sgx.attest.sample.oe.sdk/validatequotes.net/samples/uksouth.signing.cert.cer",
    ] {
        let text = std::fs::read_to_string(maa_sample().join(rel))?;
        let der = sample_cert(rel)?;
        match check(&der, &options).with_context(|| rel.to_owned())? {
            CertQuote::Verified(verified) => {
                ensure!(verified.oid == LEGACY_QUOTE_EXTENSION_OID, "{rel}");
                ensure!(verified.tcb_status.is_none());
                ensure!(verified.report.report_data()[..32] == verified.key_hash);
                // Independently: the kid MAA publishes is base64 of the same hash.
                let cert = attesto_jose::Certificate::from_der(&der)?;
                let kid = attesto_jose::base64url::encode_std(&verified.key_hash);
                ensure!(cert.maa_key_id() == kid);
                // The uksouth file ends with the kid MAA published for it.
                if let Some((_, tail)) = text.split_once(r#""kid":""#) {
                    ensure!(tail.trim() == kid, "{rel}: {tail} vs {kid}");
                }
            }
            other => bail!("{rel}: {other:?}"),
        }
    }
    Ok(())
}

#[test]
fn the_pem_certificate_matches_its_der_twin() -> Result<()> {
    let pem =
        std::fs::read_to_string(maa_sample().join(
            "sgx.attest.sample.oe.sdk/maa.signing.cert.examples/maa.prod.uks.signing.cert.pem",
        ))?;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = sample_cert(
        "sgx.attest.sample.oe.sdk/maa.signing.cert.examples/maa.prod.uks.signing.cert.cer",
    )?;
    ensure!(attesto_jose::base64url::decode(&body)? == der);
    Ok(())
}

#[test]
fn a_certificate_without_the_extension_is_reported_absent() -> Result<()> {
    let der =
        sample_cert("sgx.attest.sample.oe.sdk/validatequotes.net/samples/eus2.signing.cert.cer")?;
    let anchors = TrustAnchors::intel();
    let outcome = check(
        &der,
        &CheckOptions {
            anchors: &anchors,
            collateral: None,
            time: unix(CERT_QUOTE_TIME),
        },
    )?;
    ensure!(
        outcome
            == CertQuote::Absent {
                subject: "CN=https://gnkeus2001.eus2.attest.azure.net".to_owned()
            },
        "{outcome:?}"
    );
    Ok(())
}

#[test]
fn outside_the_pck_validity_the_sample_quote_fails() -> Result<()> {
    let der =
        sample_cert("sgx.attest.sample.oe.sdk/validatequotes.net/samples/sample.signing.cert.cer")?;
    let anchors = TrustAnchors::intel();
    let result = check(
        &der,
        &CheckOptions {
            anchors: &anchors,
            collateral: None,
            time: unix(1_000_000_000), // 2001
        },
    );
    ensure!(
        matches!(result, Err(CertQuoteError::Quote(_))),
        "{result:?}"
    );
    Ok(())
}

/// A self-signed RSA certificate for `key` carrying `quote` in the MAA extension.
fn cert_with_quote(key: &SigningKey, quote: &[u8]) -> Result<Vec<u8>> {
    let start = now().as_secs() - 3600;
    Ok(self_signed_certificate(
        key,
        &SigningCertificateParams {
            issuer: "https://attest.example".to_owned(),
            not_before: unix(start),
            not_after: unix(start + 86_400),
            extensions: vec![CertificateExtension {
                oid: QUOTE_EXTENSION_ARCS.to_vec(),
                value_der: extension_value(quote),
                critical: false,
            }],
        },
    )?)
}

#[test]
fn a_simulated_quote_binding_the_key_verifies_under_the_test_root_only() -> Result<()> {
    let enclave = simulated(SimulatedIdentity::default())?;
    let key = SigningKey::generate_rsa(RsaBits::B2048)?;
    let hash = public_key_pem_hash(&key.public_key_spki_der()?);
    let quote = dcap_quote_for_key_hash(&enclave, &hash)?.context("a DCAP quote")?;
    let der = cert_with_quote(&key, &quote)?;

    let test_root = TrustAnchors::from_der(enclave.root_der())?;
    let mut options = CheckOptions {
        anchors: &test_root,
        collateral: None,
        time: now(),
    };
    match check(&der, &options)? {
        CertQuote::Verified(verified) => {
            ensure!(verified.oid == QUOTE_EXTENSION_OID);
            ensure!(verified.key_hash == hash);
            ensure!(verified.report.as_sgx().map(|b| b.mrenclave) == Some([0xE1; 32]));
        }
        other => bail!("{other:?}"),
    }

    // With collateral the quote is verified completely and the TCB status reported.
    let minted = enclave.mint(&{
        let mut rd = [0u8; 64];
        rd[..32].copy_from_slice(&hash);
        rd
    })?;
    let collateral = Collateral::from_json(&minted.collateral_json)?;
    options.collateral = Some(&collateral);
    match check(&der, &options)? {
        CertQuote::Verified(verified) => {
            ensure!(verified.tcb_status == Some(TcbStatus::UpToDate));
        }
        other => bail!("{other:?}"),
    }

    // Intel's root alone does not accept the test PKI.
    let intel = TrustAnchors::intel();
    let result = check(
        &der,
        &CheckOptions {
            anchors: &intel,
            collateral: None,
            time: now(),
        },
    );
    ensure!(
        matches!(result, Err(CertQuoteError::Quote(_))),
        "{result:?}"
    );
    Ok(())
}

#[test]
fn a_quote_for_another_key_is_refused() -> Result<()> {
    let enclave = simulated(SimulatedIdentity::default())?;
    let key = SigningKey::generate_rsa(RsaBits::B2048)?;
    let other = SigningKey::generate_rsa(RsaBits::B2048)?;
    let other_hash = public_key_pem_hash(&other.public_key_spki_der()?);
    let quote = dcap_quote_for_key_hash(&enclave, &other_hash)?.context("a DCAP quote")?;
    let der = cert_with_quote(&key, &quote)?;
    let anchors = TrustAnchors::from_der(enclave.root_der())?;
    let result = check(
        &der,
        &CheckOptions {
            anchors: &anchors,
            collateral: None,
            time: now(),
        },
    );
    ensure!(
        matches!(&result, Err(CertQuoteError::KeyNotBound { found, .. }) if *found == hex::encode(other_hash)),
        "{result:?}"
    );
    Ok(())
}

#[test]
fn a_tampered_embedded_quote_is_refused() -> Result<()> {
    let enclave = simulated(SimulatedIdentity::default())?;
    let key = SigningKey::generate_rsa(RsaBits::B2048)?;
    let hash = public_key_pem_hash(&key.public_key_spki_der()?);
    let mut quote = dcap_quote_for_key_hash(&enclave, &hash)?.context("a DCAP quote")?;
    // MRENCLAVE is covered by the quote signature.
    quote[112] ^= 1;
    let der = cert_with_quote(&key, &quote)?;
    let anchors = TrustAnchors::from_der(enclave.root_der())?;
    let result = check(
        &der,
        &CheckOptions {
            anchors: &anchors,
            collateral: None,
            time: now(),
        },
    );
    ensure!(
        matches!(result, Err(CertQuoteError::Quote(_))),
        "{result:?}"
    );
    ensure!(
        check(
            b"not a certificate",
            &CheckOptions {
                anchors: &anchors,
                collateral: None,
                time: now()
            }
        )
        .is_err()
    );
    Ok(())
}
