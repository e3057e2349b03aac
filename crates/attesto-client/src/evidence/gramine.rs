//! Gramine's attestation pseudo-files (an SGX enclave under Gramine with
//! `sgx.remote_attestation = "dcap"`):
//!
//! ```text
//! /dev/attestation/attestation_type   "dcap" | "epid" | "none"
//! /dev/attestation/user_report_data   write 64 bytes: the report data
//! /dev/attestation/quote              read: the DCAP quote over that report data
//! ```

use std::path::{Path, PathBuf};

use super::{
    Evidence, EvidenceError, EvidenceSource, checked_dcap_quote, read_limited, read_text,
    write_attribute,
};

/// Largest quote read; real SGX quotes with their PCK chain are about 5 KiB.
const MAX_QUOTE_BYTES: u64 = 64 * 1024;

/// An SGX enclave under Gramine. The root is configurable so tests can use a directory with
/// the same files.
#[derive(Debug, Clone)]
pub struct Gramine {
    root: PathBuf,
}

impl Gramine {
    /// Where Gramine mounts the interface.
    pub const DEFAULT_ROOT: &'static str = "/dev/attestation";

    /// The interface under `root`.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Whether the interface exists (this process runs inside Gramine with attestation).
    #[must_use]
    pub fn is_present(&self) -> bool {
        self.root.join("quote").exists()
    }

    /// The interface's root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl EvidenceSource for Gramine {
    fn describe(&self) -> String {
        format!("Gramine SGX enclave ({})", self.root.display())
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<Evidence, EvidenceError> {
        // Older Gramine versions lack the file; the quote parse below still rejects EPID.
        let type_file = self.root.join("attestation_type");
        if type_file.exists() {
            let found = read_text(&type_file)?;
            if found != "dcap" {
                return Err(EvidenceError::AttestationType { found });
            }
        }
        write_attribute(&self.root.join("user_report_data"), report_data)?;
        let quote = read_limited(&self.root.join("quote"), MAX_QUOTE_BYTES)?;
        checked_dcap_quote(&quote, report_data)
    }
}
