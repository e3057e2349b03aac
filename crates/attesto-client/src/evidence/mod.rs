//! Where quotes come from: a simulated enclave, a Gramine SGX enclave (`/dev/attestation`), or a
//! confidential VM through the Linux configfs-tsm report interface.
//!
//! Every source takes the 64 bytes of report data to bind and returns the evidence; the real
//! sources check that the evidence they read back carries exactly that report data, so a
//! concurrent writer to the same device can never hand this process someone else's quote.
//!
//! ```text
//! EHD ─► report_data_for ─► EvidenceSource::evidence ─► Evidence { kind, bytes }
//!          SHA256 || 0^32       Simulated | Gramine | ConfigfsTsm
//! ```

mod gramine;
mod simulated;
mod tsm;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use attesto_quote::{Quote, ReportBody};

pub use gramine::Gramine;
pub use simulated::{SimulatedEnclave, SimulatedIdentity, SimulatedQuote, load_or_create_pki};
pub use tsm::ConfigfsTsm;

/// What kind of evidence a source produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvidenceKind {
    /// An Intel SGX DCAP quote (v3 or later).
    SgxQuote,
    /// An Intel TDX DCAP quote.
    TdxQuote,
    /// An AMD SEV-SNP attestation report.
    SevSnpReport,
}

/// Evidence read from a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// What the bytes are.
    pub kind: EvidenceKind,
    /// The evidence, without trailing padding.
    pub bytes: Vec<u8>,
}

/// Why a source could not produce evidence.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// A file of the device interface could not be read, written or created.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file of the device interface is larger than any valid content.
    #[error("{path} is larger than {limit} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// Gramine runs without DCAP attestation (`none` or EPID), so it has no verifiable quote.
    #[error(
        "Gramine's attestation type is {found:?}; DCAP is required (set sgx.remote_attestation = \"dcap\")"
    )]
    AttestationType {
        /// The content of `attestation_type`.
        found: String,
    },
    /// configfs-tsm names a provider whose evidence attesto does not understand.
    #[error("configfs-tsm provider {provider:?} is not supported (tdx_guest and sev_guest are)")]
    UnsupportedProvider {
        /// The content of `provider`.
        provider: String,
    },
    /// Another writer changed the report entry while it was being read.
    #[error(
        "configfs-tsm generation changed from {before} to {after} while reading the report; retry"
    )]
    GenerationChanged {
        /// Generation after this process wrote `inblob`.
        before: u64,
        /// Generation after this process read `outblob`.
        after: u64,
    },
    /// The evidence does not parse.
    #[error("the evidence does not parse: {0}")]
    Quote(#[from] attesto_quote::Error),
    /// The evidence is shorter than its format.
    #[error("the {kind:?} evidence is {len} bytes, too short")]
    Truncated {
        /// The expected kind.
        kind: EvidenceKind,
        /// Its length.
        len: usize,
    },
    /// The evidence does not carry the report data this process asked for: another process
    /// wrote the device between this process's write and read.
    #[error(
        "the evidence carries other report data than requested ({found}); another writer raced this one"
    )]
    ReportDataMismatch {
        /// Hex of the report data found.
        found: String,
    },
    /// Minting a simulated quote or its collateral failed.
    #[error("simulated enclave: {0}")]
    Simulation(#[from] attesto_testkit::Error),
}

/// A source of evidence for given report data.
pub trait EvidenceSource: Send + Sync {
    /// A short description for logs (`Gramine /dev/attestation`, ...).
    fn describe(&self) -> String;

    /// Produces evidence binding `report_data`.
    ///
    /// # Errors
    /// Device I/O, an unsupported TEE, or evidence that does not bind `report_data`.
    fn evidence(&self, report_data: &[u8; 64]) -> Result<Evidence, EvidenceError>;
}

/// The first real TEE interface present on this machine: Gramine's `/dev/attestation` (SGX),
/// then configfs-tsm (TDX, SEV-SNP). `None` outside a TEE.
#[must_use]
pub fn detect() -> Option<Box<dyn EvidenceSource>> {
    let gramine = Gramine::new(Gramine::DEFAULT_ROOT);
    if gramine.is_present() {
        return Some(Box::new(gramine));
    }
    let tsm = ConfigfsTsm::new(ConfigfsTsm::DEFAULT_ROOT);
    if tsm.is_present() {
        return Some(Box::new(tsm));
    }
    None
}

/// A DCAP quote (SGX or TDX) whose report data is `SHA256(key PEM) || 0^32`, for the signing
/// certificate extension MAA relying parties check. `None` for evidence that is not a DCAP
/// quote (SEV-SNP reports cannot be checked with the DCAP verifier).
///
/// # Errors
/// As [`EvidenceSource::evidence`].
pub fn dcap_quote_for_key_hash(
    source: &dyn EvidenceSource,
    key_hash: &[u8; 32],
) -> Result<Option<Vec<u8>>, EvidenceError> {
    let mut report_data = [0u8; 64];
    report_data[..32].copy_from_slice(key_hash);
    let evidence = source.evidence(&report_data)?;
    Ok(match evidence.kind {
        EvidenceKind::SgxQuote | EvidenceKind::TdxQuote => Some(evidence.bytes),
        EvidenceKind::SevSnpReport => None,
    })
}

/// Parses a DCAP quote read from a device, checks it binds `report_data`, and returns it
/// without padding.
fn checked_dcap_quote(bytes: &[u8], report_data: &[u8; 64]) -> Result<Evidence, EvidenceError> {
    let quote = Quote::parse(bytes)?;
    let found = quote.body.report_data();
    if found != report_data {
        return Err(EvidenceError::ReportDataMismatch {
            found: hex::encode(found),
        });
    }
    let kind = match quote.body {
        ReportBody::Sgx(_) => EvidenceKind::SgxQuote,
        ReportBody::Td(_) => EvidenceKind::TdxQuote,
    };
    Ok(Evidence {
        kind,
        bytes: quote.raw.to_vec(),
    })
}

fn io_error(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> EvidenceError {
    let path = path.to_path_buf();
    move |source| EvidenceError::Io { op, path, source }
}

/// Reads at most `limit` bytes; more is an error (device files are small; a huge one is not
/// the interface this code expects).
fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, EvidenceError> {
    let file = std::fs::File::open(path).map_err(io_error("opening", path))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io_error("reading", path))?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(EvidenceError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

/// Writes `bytes` to an existing device attribute in one `write` call, as sysfs-like
/// interfaces require.
fn write_attribute(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(io_error("opening", path))?;
    file.write_all(bytes).map_err(io_error("writing", path))
}

fn read_text(path: &Path) -> Result<String, EvidenceError> {
    let bytes = read_limited(path, 4096)?;
    Ok(String::from_utf8_lossy(&bytes)
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .to_owned())
}
