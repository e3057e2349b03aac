//! `attesto genquote`: what the MAA sample's `genquote_host` does. Get a quote whose report data
//! is SHA-256 of the enclave-held data, and write the sample's enclave-info JSON file.
//!
//! Quotes come from a real TEE (Gramine's `/dev/attestation`, or configfs-tsm on TDX/SEV-SNP
//! guests), or with `--simulate` from a simulated enclave under a test PKI that only a server
//! started with `--trust-test-root` accepts.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use attesto_client::evidence::{
    self, ConfigfsTsm, EvidenceKind, EvidenceSource, Gramine, SimulatedEnclave, SimulatedIdentity,
    dcap_quote_for_key_hash, load_or_create_pki,
};
use attesto_client::sample::{EnclaveInfo, Variant, enclave_held_data_for_key, report_data_for};
use attesto_server::SigningCertQuoteProvider;
use clap::{Args, ValueEnum};
use rustls_pki_types::UnixTime;

/// The Intel sample's enclave-held data, used when none is given.
const DEFAULT_EHD: [u8; 6] = [1, 2, 3, 4, 5, 6];

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The Intel SGX SDK sample's file (raw quote; posted to attest/SgxEnclave).
    Sgx,
    /// The Open Enclave sample's file (OE report; posted to attest/OpenEnclave).
    Oe,
    /// The evidence bytes alone (any TEE, e.g. a TDX quote or SEV-SNP report).
    Raw,
}

/// `attesto genquote` flags.
#[derive(Debug, Args)]
pub struct GenquoteArgs {
    /// Where to write the file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// File format.
    #[arg(long, value_enum, default_value_t = Format::Sgx)]
    format: Format,
    /// Enclave-held data: the PEM text of this key's public key (a PUBLIC KEY or PKCS#8 PRIVATE
    /// KEY file), NUL-padded to 512 bytes in the OE format, as the samples' enclaves do.
    #[arg(long, value_name = "KEY.pem", conflicts_with = "ehd_hex")]
    ehd_key: Option<PathBuf>,
    /// Enclave-held data as hex (default: the Intel sample's 010203040506).
    #[arg(long, value_name = "HEX")]
    ehd_hex: Option<String>,
    /// Read quotes from Gramine's attestation files under this directory (default when present:
    /// /dev/attestation).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["simulate", "tsm_root"])]
    gramine_root: Option<PathBuf>,
    /// Read evidence from the configfs-tsm report interface under this directory (default when
    /// present: /sys/kernel/config/tsm/report).
    #[arg(long, value_name = "DIR", conflicts_with = "simulate")]
    tsm_root: Option<PathBuf>,
    /// Use this existing configfs-tsm entry instead of creating one.
    #[arg(long, value_name = "NAME", requires = "tsm_root")]
    tsm_entry: Option<String>,
    /// Simulate an SGX enclave: quotes under a test PKI, NOT trusted by anything by default.
    #[arg(long)]
    simulate: bool,
    /// Simulated MRENCLAVE (64 hex digits).
    #[arg(long, value_name = "HEX", requires = "simulate")]
    mrenclave: Option<String>,
    /// Simulated MRSIGNER (64 hex digits).
    #[arg(long, value_name = "HEX", requires = "simulate")]
    mrsigner: Option<String>,
    /// Simulated ISVPRODID.
    #[arg(long, value_name = "N", requires = "simulate", default_value_t = 1)]
    isv_prod_id: u16,
    /// Simulated ISVSVN.
    #[arg(long, value_name = "N", requires = "simulate", default_value_t = 1)]
    isv_svn: u16,
    /// Simulate a debug enclave.
    #[arg(long, requires = "simulate")]
    debug: bool,
    /// Where the simulation's test PKI lives (created on first use, reused after, so a server
    /// started once with its root keeps accepting new quotes).
    #[arg(long, value_name = "DIR", default_value = "attesto-sim/pki")]
    pki_dir: PathBuf,
    /// Where to write the simulated quote's collateral (serve it with an offline collateral
    /// source).
    #[arg(long, value_name = "DIR", default_value = "attesto-sim/collateral")]
    collateral_out: PathBuf,
}

/// Gets a quote and writes the file.
///
/// # Errors
/// Unreadable key or bad hex, no TEE found, a TEE error, or an unwritable output.
pub fn run(args: GenquoteArgs) -> Result<ExitCode> {
    let variant = match args.format {
        Format::Oe => Variant::OpenEnclave,
        Format::Sgx | Format::Raw => Variant::IntelSdk,
    };
    let ehd = match (&args.ehd_key, &args.ehd_hex) {
        (Some(path), _) => {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            enclave_held_data_for_key(&pem, variant)?
        }
        (None, Some(text)) => hex::decode(text).context("--ehd-hex is not hex of even length")?,
        (None, None) => DEFAULT_EHD.to_vec(),
    };
    let report_data = report_data_for(&ehd);

    let evidence = if args.simulate {
        simulate(&args, &report_data)?
    } else {
        let source = real_source(&args)?;
        eprintln!("attesto: quoting with {}", source.describe());
        source.evidence(&report_data)?
    };

    let (what, written) = match args.format {
        Format::Raw => ("Evidence", std::fs::write(&args.out, &evidence.bytes)),
        Format::Sgx | Format::Oe => {
            if evidence.kind != EvidenceKind::SgxQuote {
                bail!(
                    "the TEE produced {:?} evidence; the sample's file describes SGX enclaves \
                     (use --format raw)",
                    evidence.kind
                );
            }
            let info = EnclaveInfo::from_quote(variant, &evidence.bytes, ehd)?;
            ("JSON", std::fs::write(&args.out, info.to_json()))
        }
    };
    written.with_context(|| format!("writing {}", args.out.display()))?;
    println!("    {what} file created: {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn simulate(args: &GenquoteArgs, report_data: &[u8; 64]) -> Result<evidence::Evidence> {
    let hex32 = |text: &Option<String>, flag: &str, default: [u8; 32]| -> Result<[u8; 32]> {
        match text {
            None => Ok(default),
            Some(text) => hex::decode(text)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .with_context(|| format!("{flag} must be 64 hex digits")),
        }
    };
    let defaults = SimulatedIdentity::default();
    let identity = SimulatedIdentity {
        mrenclave: hex32(&args.mrenclave, "--mrenclave", defaults.mrenclave)?,
        mrsigner: hex32(&args.mrsigner, "--mrsigner", defaults.mrsigner)?,
        isv_prod_id: args.isv_prod_id,
        isv_svn: args.isv_svn,
        debug: args.debug,
    };
    let pki = load_or_create_pki(&args.pki_dir)?;
    let enclave = SimulatedEnclave::new(pki, identity, UnixTime::now());
    let minted = enclave.mint(report_data)?;
    let collateral = minted.write_collateral(&args.collateral_out)?;
    eprintln!(
        "attesto: SIMULATED enclave (test PKI, not trusted by default)\n\
         attesto:   test root:  {}\n\
         attesto:   collateral: {}\n\
         attesto: a server accepts these quotes only when started with\n\
         attesto:   --trust-test-root {} and an offline collateral source on {}",
        args.pki_dir.join("test-root-ca.crt.pem").display(),
        collateral.display(),
        args.pki_dir.join("test-root-ca.crt.pem").display(),
        args.collateral_out.display(),
    );
    Ok(evidence::Evidence {
        kind: EvidenceKind::SgxQuote,
        bytes: minted.quote,
    })
}

fn real_source(args: &GenquoteArgs) -> Result<Box<dyn EvidenceSource>> {
    if let Some(root) = &args.gramine_root {
        return Ok(Box::new(Gramine::new(root)));
    }
    if let Some(root) = &args.tsm_root {
        let mut tsm = ConfigfsTsm::new(root);
        if let Some(entry) = &args.tsm_entry {
            tsm = tsm.with_shared_entry(entry);
        }
        return Ok(Box::new(tsm));
    }
    evidence::detect().context(
        "no TEE found (neither /dev/attestation nor /sys/kernel/config/tsm/report); \
         use --simulate for a simulated enclave",
    )
}

/// When `attesto serve` runs in a TEE this machine can quote from (Gramine, or configfs-tsm on
/// a TDX guest), a provider of quotes for the service's signing certificates; `None` elsewhere.
/// Failures are reported and leave the certificate without a quote: the service still works,
/// it just cannot prove where it runs.
#[must_use]
pub fn tee_signing_cert_quote() -> Option<SigningCertQuoteProvider> {
    let source: Arc<dyn EvidenceSource> = Arc::from(evidence::detect()?);
    eprintln!(
        "attesto: signing certificates will carry a quote from {}",
        source.describe()
    );
    Some(Arc::new(
        move |key_hash: &[u8; 32]| match dcap_quote_for_key_hash(source.as_ref(), key_hash) {
            Ok(Some(quote)) => Some(quote),
            Ok(None) => {
                eprintln!(
                    "attesto: {} gives no DCAP quote; the signing certificate has none",
                    source.describe()
                );
                None
            }
            Err(error) => {
                eprintln!("attesto: no quote for the signing certificate: {error}");
                None
            }
        },
    ))
}
