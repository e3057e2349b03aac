//! The PKI: names, CA flags, signatures, the SGX extension, CRLs, windows, persistence.

use anyhow::{Context, Result};
use attesto_testkit::pki::{
    CrlSpec, PCK_LEAF_CN, PckCaKind, PckLeafSpec, PkiBundle, SgxExtension, TEST_ROOT_CN,
};
use attesto_testkit::time::{REFERENCE_TIME, Validity, unix};
use attesto_testkit::{PkiOptions, TestCert, TestKey, TestPki};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::common::{cert_public_key, verify_asn1};

fn parse(cert: &TestCert) -> Result<X509Certificate<'_>> {
    Ok(x509_parser::parse_x509_certificate(cert.der())?.1)
}

fn cn(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned)
}

fn issuer_cn(cert: &X509Certificate<'_>) -> Option<String> {
    cert.issuer()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned)
}

/// `child` names `parent` as issuer (byte-exact), its signature verifies with `parent`'s key,
/// and its authority key identifier is `parent`'s subject key identifier.
fn check_issued_by(child: &TestCert, parent: &TestCert) -> Result<()> {
    let (c, p) = (parse(child)?, parse(parent)?);
    assert_eq!(c.issuer().as_raw(), p.subject().as_raw());
    verify_asn1(
        &cert_public_key(parent.der())?,
        c.tbs_certificate.as_ref(),
        &c.signature_value.data,
    )?;
    let aki = c
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.clone(),
            _ => None,
        });
    let ski = p
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(ski) => Some(ski.clone()),
            _ => None,
        });
    assert_eq!(aki.context("AKI")?.0, ski.context("SKI")?.0);
    Ok(())
}

#[test]
fn root_is_a_self_signed_ca_marked_not_trusted() -> Result<()> {
    let pki = TestPki::generate()?;
    let root = parse(pki.root())?;
    assert_eq!(cn(&root).as_deref(), Some(TEST_ROOT_CN));
    assert!(TEST_ROOT_CN.contains("NOT TRUSTED"));
    assert!(root.is_ca());
    assert_eq!(
        root.basic_constraints()?
            .context("bc")?
            .value
            .path_len_constraint,
        Some(1)
    );
    check_issued_by(pki.root(), pki.root())?;
    assert_eq!(pki.root_der(), pki.root().der());
    Ok(())
}

#[test]
fn intermediates_carry_intel_common_names_and_chain_to_the_root() -> Result<()> {
    let pki = TestPki::generate()?;
    for (cert, name, is_ca) in [
        (
            pki.pck_ca(PckCaKind::Processor),
            "Intel SGX PCK Processor CA",
            true,
        ),
        (
            pki.pck_ca(PckCaKind::Platform),
            "Intel SGX PCK Platform CA",
            true,
        ),
        (pki.tcb_signing(), "Intel SGX TCB Signing", false),
    ] {
        let parsed = parse(cert)?;
        assert_eq!(cn(&parsed).as_deref(), Some(name));
        assert_eq!(parsed.is_ca(), is_ca, "{name}");
        check_issued_by(cert, pki.root())?;
    }
    Ok(())
}

#[test]
fn issuer_chains_are_pem_in_pcs_order() -> Result<()> {
    let pki = TestPki::generate()?;
    let tcb = crate::common::pem_chain_ders(pki.tcb_issuer_chain_pem().as_bytes())?;
    assert_eq!(
        tcb,
        vec![pki.tcb_signing().der().to_vec(), pki.root_der().to_vec()]
    );
    let pck = crate::common::pem_chain_ders(
        pki.pck_crl_issuer_chain_pem(PckCaKind::Platform).as_bytes(),
    )?;
    assert_eq!(
        pck,
        vec![
            pki.pck_ca(PckCaKind::Platform).der().to_vec(),
            pki.root_der().to_vec()
        ]
    );
    assert!(!pki.tcb_issuer_chain_pem().contains('\r'));
    Ok(())
}

/// What `read_sgx_extension` found.
struct ReadExtension {
    fmspc: [u8; 6],
    pce_id: [u8; 2],
    svns: Vec<u64>,
    pcesvn: u64,
    sgx_type: i64,
    has_instance_id: bool,
    has_configuration: bool,
}

/// Walks the SGX extension with yasna (a reader, not the crate's writer).
fn read_sgx_extension(der: &[u8]) -> Result<ReadExtension> {
    use yasna::models::ObjectIdentifier;
    let base = [1u64, 2, 840, 113_741, 1, 13, 1];
    let oid = |suffix: &[u64]| ObjectIdentifier::from_slice(&[&base[..], suffix].concat());
    let mut fmspc = [0u8; 6];
    let mut pce_id = [0u8; 2];
    let mut svns = Vec::new();
    let mut pcesvn = 0;
    let mut sgx_type = -1;
    let (mut has6, mut has7) = (false, false);
    yasna::parse_der(der, |r| {
        r.read_sequence_of(|r| {
            r.read_sequence(|r| {
                let id = r.next().read_oid()?;
                if id == oid(&[1]) {
                    assert_eq!(r.next().read_bytes()?.len(), 16);
                } else if id == oid(&[2]) {
                    r.next().read_sequence_of(|r| {
                        r.read_sequence(|r| {
                            let id = r.next().read_oid()?;
                            if id == oid(&[2, 17]) {
                                pcesvn = r.next().read_u64()?;
                            } else if id == oid(&[2, 18]) {
                                assert_eq!(r.next().read_bytes()?.len(), 16);
                            } else {
                                svns.push(r.next().read_u64()?);
                            }
                            Ok(())
                        })
                    })?;
                } else if id == oid(&[3]) {
                    pce_id.copy_from_slice(&r.next().read_bytes()?);
                } else if id == oid(&[4]) {
                    fmspc.copy_from_slice(&r.next().read_bytes()?);
                } else if id == oid(&[5]) {
                    sgx_type = r.next().read_enum()?;
                } else if id == oid(&[6]) {
                    has6 = r.next().read_bytes()?.len() == 16;
                } else if id == oid(&[7]) {
                    has7 = true;
                    r.next().read_sequence_of(|r| {
                        r.read_sequence(|r| {
                            r.next().read_oid()?;
                            r.next().read_bool()?;
                            Ok(())
                        })
                    })?;
                }
                Ok(())
            })
        })
    })
    .map_err(|e| anyhow::anyhow!("SGX extension DER: {e:?}"))?;
    Ok(ReadExtension {
        fmspc,
        pce_id,
        svns,
        pcesvn,
        sgx_type,
        has_instance_id: has6,
        has_configuration: has7,
    })
}

fn sgx_extension_of(cert: &X509Certificate<'_>) -> Result<Vec<u8>> {
    let oid = x509_parser::der_parser::oid!(1.2.840.113741.1.13.1);
    let ext = cert
        .extensions()
        .iter()
        .find(|e| e.oid == oid)
        .context("no SGX extension")?;
    assert!(!ext.critical);
    Ok(ext.value.to_vec())
}

#[test]
fn processor_pck_leaf_carries_the_sgx_extension() -> Result<()> {
    let pki = TestPki::generate()?;
    let leaf = pki.issue_pck_leaf(&PckLeafSpec::processor())?;
    let parsed = parse(leaf.cert())?;
    assert_eq!(cn(&parsed).as_deref(), Some(PCK_LEAF_CN));
    assert_eq!(
        issuer_cn(&parsed).as_deref(),
        Some("Intel SGX PCK Processor CA")
    );
    assert!(!parsed.is_ca());
    check_issued_by(leaf.cert(), pki.pck_ca(PckCaKind::Processor))?;
    let ReadExtension {
        fmspc,
        pce_id,
        svns,
        pcesvn,
        sgx_type,
        has_instance_id: has6,
        has_configuration: has7,
    } = read_sgx_extension(&sgx_extension_of(&parsed)?)?;
    let spec = SgxExtension::processor_default();
    assert_eq!(fmspc, spec.fmspc);
    assert_eq!(pce_id, spec.pce_id);
    assert_eq!(svns, spec.tcb.comp_svns.map(u64::from).to_vec());
    assert_eq!(pcesvn, u64::from(spec.tcb.pcesvn));
    assert_eq!(sgx_type, 0);
    assert!(
        !has6 && !has7,
        "Processor CA leaves have no platform fields"
    );
    Ok(())
}

#[test]
fn platform_pck_leaf_adds_instance_id_and_configuration() -> Result<()> {
    let pki = TestPki::generate()?;
    let leaf = pki.issue_pck_leaf(&PckLeafSpec::platform())?;
    let parsed = parse(leaf.cert())?;
    assert_eq!(
        issuer_cn(&parsed).as_deref(),
        Some("Intel SGX PCK Platform CA")
    );
    check_issued_by(leaf.cert(), pki.pck_ca(PckCaKind::Platform))?;
    let ReadExtension {
        fmspc,
        svns,
        sgx_type,
        has_instance_id: has6,
        has_configuration: has7,
        ..
    } = read_sgx_extension(&sgx_extension_of(&parsed)?)?;
    assert_eq!(fmspc, [0xB0, 0xC0, 0x6F, 0, 0, 0]);
    assert_eq!(svns.len(), 16);
    assert_eq!(sgx_type, 1);
    assert!(has6 && has7);
    Ok(())
}

#[test]
fn leaf_serial_and_validity_follow_the_spec() -> Result<()> {
    let pki = TestPki::generate()?;
    let window = Validity::new(unix(1_600_000_000), unix(1_600_086_400));
    let leaf = pki.issue_pck_leaf(&PckLeafSpec {
        serial: Some(vec![0x12, 0x34, 0x56]),
        validity: window,
        ..PckLeafSpec::processor()
    })?;
    let parsed = parse(leaf.cert())?;
    assert_eq!(parsed.raw_serial(), &[0x12, 0x34, 0x56]);
    assert_eq!(leaf.cert().serial(), &[0x12, 0x34, 0x56]);
    assert_eq!(parsed.validity().not_before.timestamp(), 1_600_000_000);
    assert_eq!(parsed.validity().not_after.timestamp(), 1_600_086_400);
    Ok(())
}

#[test]
fn ca_windows_are_configurable() -> Result<()> {
    let expired = Validity::new(unix(1_500_000_000), unix(1_600_000_000));
    let pki = TestPki::generate_with(&PkiOptions {
        processor_ca: expired,
        ..PkiOptions::default()
    })?;
    let ca = parse(pki.pck_ca(PckCaKind::Processor))?;
    assert_eq!(ca.validity().not_after.timestamp(), 1_600_000_000);
    let root = parse(pki.root())?;
    assert!(
        root.validity()
            .is_valid_at(x509_parser::time::ASN1Time::from_timestamp(
                REFERENCE_TIME.as_secs() as i64
            )?)
    );
    Ok(())
}

fn parse_crl(der: &[u8]) -> Result<CertificateRevocationList<'_>> {
    Ok(CertificateRevocationList::from_der(der)?.1)
}

#[test]
fn pck_crl_lists_revoked_serials_and_is_signed_by_its_ca() -> Result<()> {
    let pki = TestPki::generate()?;
    let leaf = pki.issue_pck_leaf(&PckLeafSpec::processor())?;
    let spec = CrlSpec::around(REFERENCE_TIME).revoking(leaf.cert().serial());
    let crl = pki.pck_crl(PckCaKind::Processor, &spec)?;
    let parsed = parse_crl(crl.der())?;
    let ca = parse(pki.pck_ca(PckCaKind::Processor))?;
    assert_eq!(parsed.issuer().as_raw(), ca.subject().as_raw());
    let revoked: Vec<_> = parsed
        .iter_revoked_certificates()
        .map(|r| r.raw_serial().to_vec())
        .collect();
    assert_eq!(revoked, vec![leaf.cert().serial().to_vec()]);
    assert_eq!(
        parsed.last_update().timestamp() as u64,
        spec.window.not_before.as_secs()
    );
    assert_eq!(
        parsed.next_update().context("nextUpdate")?.timestamp() as u64,
        spec.window.not_after.as_secs()
    );
    verify_asn1(
        &cert_public_key(pki.pck_ca(PckCaKind::Processor).der())?,
        parsed.tbs_cert_list.as_ref(),
        &parsed.signature_value.data,
    )?;
    assert!(crl.pem().starts_with("-----BEGIN X509 CRL-----\n"));
    Ok(())
}

#[test]
fn root_crl_is_signed_by_the_root() -> Result<()> {
    let pki = TestPki::generate()?;
    let crl = pki.root_crl(&CrlSpec::default())?;
    let parsed = parse_crl(crl.der())?;
    assert_eq!(parsed.iter_revoked_certificates().count(), 0);
    assert_eq!(
        parsed.crl_number().map(|n| n.to_u64_digits()),
        Some(vec![1])
    );
    verify_asn1(
        &cert_public_key(pki.root_der())?,
        parsed.tbs_cert_list.as_ref(),
        &parsed.signature_value.data,
    )
}

#[test]
fn crl_with_next_update_before_this_update_is_refused() -> Result<()> {
    let pki = TestPki::generate()?;
    let spec = CrlSpec {
        window: Validity::new(REFERENCE_TIME, unix(REFERENCE_TIME.as_secs() - 1)),
        ..CrlSpec::default()
    };
    assert!(matches!(
        pki.root_crl(&spec),
        Err(attesto_testkit::Error::Certificate { .. })
    ));
    Ok(())
}

#[test]
fn pki_survives_a_directory_round_trip() -> Result<()> {
    let pki = TestPki::generate()?;
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "testkit-pki-{}",
        hex::encode(&pki.root().serial()[..8])
    ));
    pki.save_to_dir(&dir)?;
    let loaded = TestPki::load_from_dir(&dir)?;
    std::fs::remove_dir_all(&dir)?;
    assert_eq!(loaded.root_der(), pki.root_der());
    assert_eq!(loaded.tcb_signing().der(), pki.tcb_signing().der());
    // The loaded keys still issue certificates that chain to the same root.
    let leaf = loaded.issue_pck_leaf(&PckLeafSpec::platform())?;
    check_issued_by(leaf.cert(), pki.pck_ca(PckCaKind::Platform))
}

#[test]
fn pki_survives_a_serde_round_trip() -> Result<()> {
    let pki = TestPki::generate()?;
    let json = serde_json::to_string(&pki.to_bundle())?;
    assert!(json.contains("NOT TRUSTED"));
    let bundle: PkiBundle = serde_json::from_str(&json)?;
    let loaded = TestPki::from_bundle(&bundle)?;
    assert_eq!(loaded.to_bundle(), pki.to_bundle());
    Ok(())
}

#[test]
fn bundle_with_a_foreign_key_is_rejected() -> Result<()> {
    let pki = TestPki::generate()?;
    let mut bundle = pki.to_bundle();
    bundle.tcb_signing.private_key = TestKey::generate()?.to_pem();
    assert!(matches!(
        TestPki::from_bundle(&bundle),
        Err(attesto_testkit::Error::InvalidPersistedPki { .. })
    ));
    Ok(())
}

#[test]
fn bundle_with_an_intermediate_from_another_root_is_rejected() -> Result<()> {
    let (a, b) = (TestPki::generate()?, TestPki::generate()?);
    let mut bundle = a.to_bundle();
    bundle.pck_processor_ca = b.to_bundle().pck_processor_ca;
    assert!(TestPki::from_bundle(&bundle).is_err());
    Ok(())
}
