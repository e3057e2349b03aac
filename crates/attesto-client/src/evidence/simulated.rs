//! A simulated SGX enclave: structurally real v3 quotes and matching collateral, signed by the
//! test PKI of `attesto-testkit` (test root → PCK CA → PCK → QE → attestation key).
//!
//! Nothing minted here verifies against Intel's root. A server accepts it only when started
//! with the test root explicitly (`attesto serve --trust-test-root`), and its tokens then say
//! `x-attesto-non-intel-roots: true`.

use std::path::{Path, PathBuf};

use attesto_testkit::quote::SGX_ATTRIBUTE_DEBUG;
use attesto_testkit::{CollateralBuilder, QuoteBuilder, TestPki};
use rustls_pki_types::UnixTime;

use super::{Evidence, EvidenceError, EvidenceKind, EvidenceSource};

/// The enclave identity a simulated quote reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulatedIdentity {
    /// MRENCLAVE.
    pub mrenclave: [u8; 32],
    /// MRSIGNER.
    pub mrsigner: [u8; 32],
    /// ISVPRODID.
    pub isv_prod_id: u16,
    /// ISVSVN.
    pub isv_svn: u16,
    /// Whether `ATTRIBUTES.FLAGS.DEBUG` is set.
    pub debug: bool,
}

impl Default for SimulatedIdentity {
    /// Recognisable placeholder measurements (`E1…`, `51…`), product 1, SVN 1, production mode.
    fn default() -> Self {
        Self {
            mrenclave: [0xE1; 32],
            mrsigner: [0x51; 32],
            isv_prod_id: 1,
            isv_svn: 1,
            debug: false,
        }
    }
}

/// A simulated quote and the collateral that verifies it.
#[derive(Debug, Clone)]
pub struct SimulatedQuote {
    /// The SGX quote v3.
    pub quote: Vec<u8>,
    /// Collateral in the dcap-qvl JSON format the offline collateral source reads.
    pub collateral_json: String,
    /// The FMSPC of the simulated platform (lowercase hex), which keys the collateral.
    pub fmspc: String,
}

impl SimulatedQuote {
    /// Writes the collateral as `<dir>/simulated-<fmspc>.json` (creating `dir`) and returns the
    /// path. One file per platform: a later run replaces it, so an offline source never sees
    /// two bundles for one key.
    ///
    /// # Errors
    /// [`EvidenceError::Io`].
    pub fn write_collateral(&self, dir: &Path) -> Result<PathBuf, EvidenceError> {
        std::fs::create_dir_all(dir).map_err(super::io_error("creating", dir))?;
        let path = dir.join(format!("simulated-{}.json", self.fmspc));
        std::fs::write(&path, &self.collateral_json).map_err(super::io_error("writing", &path))?;
        Ok(path)
    }
}

/// A simulated SGX enclave.
#[derive(Debug, Clone)]
pub struct SimulatedEnclave {
    pki: TestPki,
    identity: SimulatedIdentity,
    now: UnixTime,
}

/// Loads the test PKI saved in `dir`, or generates one and saves it there. Keeping one PKI
/// across runs lets a server started once with its root accept every later simulated quote.
///
/// # Errors
/// [`EvidenceError::Simulation`] for unreadable or inconsistent PKI files.
pub fn load_or_create_pki(dir: &Path) -> Result<TestPki, EvidenceError> {
    if dir.join("test-root-ca.crt.pem").is_file() {
        return Ok(TestPki::load_from_dir(dir)?);
    }
    let pki = TestPki::generate()?;
    pki.save_to_dir(dir)?;
    Ok(pki)
}

impl SimulatedEnclave {
    /// An enclave with `identity` whose quotes chain to `pki` and whose collateral is valid
    /// around `now` (issued a day before, next update 29 days after).
    #[must_use]
    pub fn new(pki: TestPki, identity: SimulatedIdentity, now: UnixTime) -> Self {
        Self { pki, identity, now }
    }

    /// DER of the test root a verifier must trust, explicitly, to accept these quotes.
    #[must_use]
    pub fn root_der(&self) -> &[u8] {
        self.pki.root_der()
    }

    /// PEM of the test root (what `--trust-test-root` reads).
    #[must_use]
    pub fn root_pem(&self) -> &str {
        self.pki.root().pem()
    }

    /// Mints a quote over `report_data` and its collateral.
    ///
    /// # Errors
    /// [`EvidenceError::Simulation`] if signing fails.
    pub fn mint(&self, report_data: &[u8; 64]) -> Result<SimulatedQuote, EvidenceError> {
        let identity = self.identity;
        let quote = QuoteBuilder::sgx_v3()
            .edit_sgx_body(|body| {
                body.mrenclave = identity.mrenclave;
                body.mrsigner = identity.mrsigner;
                body.isvprodid = identity.isv_prod_id;
                body.isvsvn = identity.isv_svn;
                if identity.debug {
                    body.attributes[0] |= SGX_ATTRIBUTE_DEBUG;
                } else {
                    body.attributes[0] &= !SGX_ATTRIBUTE_DEBUG;
                }
                body.report_data = *report_data;
            })
            .build(&self.pki)?;
        let collateral = CollateralBuilder::for_quote(&self.pki, &quote)
            .at(self.now)
            .build()?;
        Ok(SimulatedQuote {
            fmspc: hex::encode(quote.pck_leaf.extension().fmspc),
            collateral_json: collateral.to_json()?,
            quote: quote.bytes,
        })
    }
}

impl EvidenceSource for SimulatedEnclave {
    fn describe(&self) -> String {
        "simulated SGX enclave (test PKI, NOT TRUSTED)".to_owned()
    }

    fn evidence(&self, report_data: &[u8; 64]) -> Result<Evidence, EvidenceError> {
        Ok(Evidence {
            kind: EvidenceKind::SgxQuote,
            bytes: self.mint(report_data)?.quote,
        })
    }
}
