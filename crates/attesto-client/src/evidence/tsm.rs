//! The Linux configfs-tsm report interface (TDX and SEV-SNP guests, Linux 6.7+):
//!
//! ```text
//! /sys/kernel/config/tsm/report/<entry>/   mkdir creates an entry, rmdir removes it
//!     inblob       write up to 64 bytes: the report data
//!     outblob      read: the quote (tdx_guest) or attestation report (sev_guest)
//!     provider     read: "tdx_guest", "sev_guest", ...
//!     generation   read: counts writes to the entry's attributes
//! ```
//!
//! An entry can be private (created and removed here) or shared (created beforehand, for
//! example by root for an unprivileged service). Either way the evidence read back must carry
//! the report data written, and the generation must not move between the write and the read.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{
    Evidence, EvidenceError, EvidenceKind, EvidenceSource, checked_dcap_quote, io_error,
    read_limited, read_text, write_attribute,
};

/// Largest outblob read; TDX quotes are about 5-8 KiB, SNP reports 1184 bytes.
const MAX_OUTBLOB_BYTES: u64 = 256 * 1024;
/// SEV-SNP ATTESTATION_REPORT: REPORT_DATA at 0x50, 64 bytes (AMD SEV-SNP ABI, table 21).
const SNP_REPORT_DATA: std::ops::Range<usize> = 0x50..0x90;
/// SEV-SNP attestation reports are 0x4A0 bytes.
const SNP_REPORT_LEN: usize = 0x4A0;

/// Distinguishes entries created by concurrent calls in one process.
static NEXT_ENTRY: AtomicU64 = AtomicU64::new(0);

/// A confidential VM's configfs-tsm report interface. The root is configurable so tests can
/// use a directory with the same files.
#[derive(Debug, Clone)]
pub struct ConfigfsTsm {
    root: PathBuf,
    shared_entry: Option<String>,
}

impl ConfigfsTsm {
    /// Where the kernel exposes the interface.
    pub const DEFAULT_ROOT: &'static str = "/sys/kernel/config/tsm/report";

    /// The interface under `root`; each call creates a private entry and removes it after.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            shared_entry: None,
        }
    }

    /// Uses the existing entry `name` (never created or removed here), e.g. one root created
    /// and handed to this service's user.
    #[must_use]
    pub fn with_shared_entry(mut self, name: impl Into<String>) -> Self {
        self.shared_entry = Some(name.into());
        self
    }

    /// Whether the interface exists (this process runs in a TDX or SEV-SNP guest with
    /// configfs mounted).
    #[must_use]
    pub fn is_present(&self) -> bool {
        self.root.is_dir()
    }

    fn read_entry(&self, entry: &Path, report_data: &[u8; 64]) -> Result<Evidence, EvidenceError> {
        write_attribute(&entry.join("inblob"), report_data)?;
        let before = read_generation(entry)?;
        let outblob = read_limited(&entry.join("outblob"), MAX_OUTBLOB_BYTES)?;
        let provider = read_text(&entry.join("provider"))?;
        let after = read_generation(entry)?;
        if before != after {
            return Err(EvidenceError::GenerationChanged { before, after });
        }
        match provider.as_str() {
            "tdx_guest" => checked_dcap_quote(&outblob, report_data),
            "sev_guest" => checked_snp_report(outblob, report_data),
            _ => Err(EvidenceError::UnsupportedProvider { provider }),
        }
    }
}

fn read_generation(entry: &Path) -> Result<u64, EvidenceError> {
    let path = entry.join("generation");
    let text = read_text(&path)?;
    text.parse().map_err(|_| EvidenceError::Io {
        op: "parsing",
        path,
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a number"),
    })
}

fn checked_snp_report(
    mut report: Vec<u8>,
    report_data: &[u8; 64],
) -> Result<Evidence, EvidenceError> {
    let found = report
        .get(SNP_REPORT_DATA)
        .filter(|_| report.len() >= SNP_REPORT_LEN)
        .ok_or(EvidenceError::Truncated {
            kind: EvidenceKind::SevSnpReport,
            len: report.len(),
        })?;
    if found != report_data {
        return Err(EvidenceError::ReportDataMismatch {
            found: hex::encode(found),
        });
    }
    report.truncate(SNP_REPORT_LEN);
    Ok(Evidence {
        kind: EvidenceKind::SevSnpReport,
        bytes: report,
    })
}

impl EvidenceSource for ConfigfsTsm {
    fn describe(&self) -> String {
        format!("configfs-tsm ({})", self.root.display())
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<Evidence, EvidenceError> {
        if let Some(name) = &self.shared_entry {
            return self.read_entry(&self.root.join(name), report_data);
        }
        let name = format!(
            "attesto-{}-{}",
            std::process::id(),
            NEXT_ENTRY.fetch_add(1, Ordering::Relaxed)
        );
        let entry = self.root.join(name);
        std::fs::create_dir(&entry).map_err(io_error("creating report entry", &entry))?;
        let result = self.read_entry(&entry, report_data);
        // configfs removes the attribute files with the directory. Failing to remove it leaks
        // one kernel object until reboot, which is no reason to fail the call.
        let _ = std::fs::remove_dir(&entry);
        result
    }
}
