//! The real-TEE sources against directory trees with the same files as the devices.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use attesto_client::evidence::{
    ConfigfsTsm, EvidenceError, EvidenceKind, EvidenceSource, Gramine, SimulatedIdentity,
    dcap_quote_for_key_hash,
};
use attesto_client::sample::report_data_for;
use attesto_testkit::{QuoteBuilder, TestPki};

use crate::common::simulated;

fn report_data(tag: u8) -> [u8; 64] {
    report_data_for(&[tag; 6])
}

/// A Gramine `/dev/attestation` tree whose `quote` holds a quote over `quote_over`.
fn gramine_tree(dir: &Path, attestation_type: &str, quote_over: &[u8; 64]) -> Result<Vec<u8>> {
    let enclave = simulated(SimulatedIdentity::default())?;
    let quote = enclave.mint(quote_over)?.quote;
    fs::write(
        dir.join("attestation_type"),
        format!("{attestation_type}\n"),
    )?;
    fs::write(dir.join("user_report_data"), [0u8; 64])?;
    // Devices may hand out a zero-padded buffer; the source must trim it.
    let mut padded = quote.clone();
    padded.extend_from_slice(&[0; 100]);
    fs::write(dir.join("quote"), padded)?;
    Ok(quote)
}

#[test]
fn gramine_writes_report_data_and_returns_the_bound_quote() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let wanted = report_data(1);
    let quote = gramine_tree(dir.path(), "dcap", &wanted)?;
    let gramine = Gramine::new(dir.path());
    ensure!(gramine.is_present());
    let evidence = gramine.evidence(&wanted)?;
    ensure!(evidence.kind == EvidenceKind::SgxQuote);
    ensure!(evidence.bytes == quote, "padding must be trimmed");
    ensure!(fs::read(dir.path().join("user_report_data"))? == wanted);
    Ok(())
}

#[test]
fn gramine_refuses_a_quote_over_other_report_data() -> Result<()> {
    let dir = tempfile::tempdir()?;
    gramine_tree(dir.path(), "dcap", &report_data(1))?;
    let result = Gramine::new(dir.path()).evidence(&report_data(2));
    ensure!(
        matches!(result, Err(EvidenceError::ReportDataMismatch { .. })),
        "{result:?}"
    );
    Ok(())
}

#[test]
fn gramine_without_dcap_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    gramine_tree(dir.path(), "epid", &report_data(1))?;
    let result = Gramine::new(dir.path()).evidence(&report_data(1));
    ensure!(
        matches!(&result, Err(EvidenceError::AttestationType { found }) if found == "epid"),
        "{result:?}"
    );
    let missing = Gramine::new(dir.path().join("nothing"));
    ensure!(!missing.is_present());
    ensure!(matches!(
        missing.evidence(&report_data(1)),
        Err(EvidenceError::Io { .. })
    ));
    Ok(())
}

/// A configfs-tsm entry `name` under `root` as the kernel would populate it.
fn tsm_entry(root: &Path, name: &str, provider: &str, outblob: &[u8]) -> Result<()> {
    let entry = root.join(name);
    fs::create_dir_all(&entry)?;
    fs::write(entry.join("provider"), format!("{provider}\n"))?;
    fs::write(entry.join("generation"), "7\n")?;
    fs::write(entry.join("inblob"), [])?;
    fs::write(entry.join("outblob"), outblob)?;
    Ok(())
}

fn tdx_quote(report_data: &[u8; 64]) -> Result<Vec<u8>> {
    let pki = TestPki::generate()?;
    Ok(QuoteBuilder::tdx_v4()
        .edit_td_report(|td| td.report_data = *report_data)
        .build(&pki)?
        .bytes)
}

/// An SEV-SNP attestation report: 0x4A0 bytes, REPORT_DATA at 0x50.
fn snp_report(report_data: &[u8; 64]) -> Vec<u8> {
    let mut report = vec![0u8; 0x4A0];
    report[0] = 2; // version
    report[0x50..0x90].copy_from_slice(report_data);
    report
}

#[test]
fn configfs_tsm_tdx_entry() -> Result<()> {
    let root = tempfile::tempdir()?;
    let wanted = report_data(3);
    let quote = tdx_quote(&wanted)?;
    tsm_entry(root.path(), "shared", "tdx_guest", &quote)?;
    let tsm = ConfigfsTsm::new(root.path()).with_shared_entry("shared");
    ensure!(tsm.is_present());
    let evidence = tsm.evidence(&wanted)?;
    ensure!(evidence.kind == EvidenceKind::TdxQuote);
    ensure!(evidence.bytes == quote);
    ensure!(fs::read(root.path().join("shared/inblob"))? == wanted);
    // The shared entry is left in place.
    ensure!(root.path().join("shared").is_dir());
    // TDX quotes are DCAP quotes: usable for the signing certificate.
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&wanted[..32]);
    ensure!(dcap_quote_for_key_hash(&tsm, &hash)? == Some(quote));

    let result = tsm.evidence(&report_data(4));
    ensure!(
        matches!(result, Err(EvidenceError::ReportDataMismatch { .. })),
        "{result:?}"
    );
    Ok(())
}

#[test]
fn configfs_tsm_sev_snp_entry() -> Result<()> {
    let root = tempfile::tempdir()?;
    let wanted = report_data(5);
    tsm_entry(root.path(), "snp", "sev_guest", &snp_report(&wanted))?;
    let tsm = ConfigfsTsm::new(root.path()).with_shared_entry("snp");
    let evidence = tsm.evidence(&wanted)?;
    ensure!(evidence.kind == EvidenceKind::SevSnpReport);
    ensure!(evidence.bytes == snp_report(&wanted));
    // SNP reports are not DCAP quotes: nothing for the signing certificate.
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&wanted[..32]);
    ensure!(dcap_quote_for_key_hash(&tsm, &hash)?.is_none());

    ensure!(matches!(
        tsm.evidence(&report_data(6)),
        Err(EvidenceError::ReportDataMismatch { .. })
    ));
    tsm_entry(
        root.path(),
        "short",
        "sev_guest",
        &snp_report(&wanted)[..0x80],
    )?;
    let result = ConfigfsTsm::new(root.path())
        .with_shared_entry("short")
        .evidence(&wanted);
    ensure!(
        matches!(result, Err(EvidenceError::Truncated { .. })),
        "{result:?}"
    );
    Ok(())
}

#[test]
fn configfs_tsm_unknown_provider_is_refused() -> Result<()> {
    let root = tempfile::tempdir()?;
    tsm_entry(root.path(), "cca", "arm_cca_guest", b"token")?;
    let result = ConfigfsTsm::new(root.path())
        .with_shared_entry("cca")
        .evidence(&report_data(1));
    match result {
        Err(EvidenceError::UnsupportedProvider { provider }) => {
            ensure!(provider == "arm_cca_guest");
        }
        other => bail!("{other:?}"),
    }
    Ok(())
}

#[test]
fn configfs_tsm_private_entry_is_created_under_the_root() -> Result<()> {
    // A plain directory does not populate new entries the way configfs does, so reading the
    // outblob fails; what matters is that the entry was created under the root and the error
    // names the file.
    let root = tempfile::tempdir()?;
    let result = ConfigfsTsm::new(root.path()).evidence(&report_data(1));
    let Err(EvidenceError::Io { path, .. }) = result else {
        bail!("{result:?}");
    };
    let entry = path.parent().context("entry")?;
    ensure!(entry.parent() == Some(root.path()), "{}", path.display());
    ensure!(
        entry
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("attesto-")),
        "{}",
        path.display()
    );
    ensure!(!ConfigfsTsm::new(root.path().join("absent")).is_present());
    Ok(())
}

#[test]
fn simulated_quotes_bind_the_report_data() -> Result<()> {
    let enclave = simulated(SimulatedIdentity {
        debug: true,
        isv_prod_id: 9999,
        isv_svn: 8888,
        ..SimulatedIdentity::default()
    })?;
    let wanted = report_data(7);
    let evidence = enclave.evidence(&wanted)?;
    let quote = attesto_quote::Quote::parse(&evidence.bytes)?;
    let body = quote.body.as_sgx().context("SGX")?;
    ensure!(body.report_data == wanted);
    ensure!(body.is_debuggable() && body.isvprodid == 9999 && body.isvsvn == 8888);
    Ok(())
}
