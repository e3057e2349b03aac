//! Test PKI for attesto: mints SGX/TDX quotes and Intel-style collateral under a test root.
//!
//! Real Intel-signed vectors cannot cover revoked PCKs, wrong signers, expired certificates,
//! every TCB status or SGX quotes in v4/v5 form. This crate produces all of those from a
//! [`TestPki`] whose root it generates itself, so a verifier can be tested on every path.
//! It is an independent producer of the DCAP formats: it shares no code with attesto's
//! verifier, and its tests check the output against real Intel data and against a second,
//! third-party verifier.
//!
//! **Nothing here is trusted by default.** The root is called "attesto TEST SGX Root CA - NOT
//! TRUSTED"; a verifier accepts minted data only when explicitly configured with
//! [`TestPki::root_der`]. The PCK CAs and TCB signer carry Intel's common names on purpose
//! (verifiers pick the PCK CRL by the issuer CN), with the organisation
//! [`pki::TEST_ORGANIZATION`] instead of Intel's.
//!
//! ```text
//! TestPki::generate()            root CA, PCK Processor/Platform CAs, TCB signing cert
//!   └─ QuoteBuilder::sgx_v3()    ── build(&pki) ─→ MintedQuote { bytes, offsets, .. }
//!        (v3/v4/v5, SGX/TDX)                          │ issues a PCK leaf with the SGX extension
//!   └─ CollateralBuilder::for_quote(&pki, &quote) ─→ Collateral  (dcap-qvl JSON form)
//!                                                      └─ to_pcs() ─→ PcsCollateral (PCS bodies)
//! ```
//!
//! What it does not do: verify anything, read a clock (every time is an argument; defaults are
//! built around [`time::REFERENCE_TIME`]), or touch the network. The only I/O is the explicit
//! [`TestPki::save_to_dir`] / [`TestPki::load_from_dir`] pair.
//!
//! # Example
//!
//! ```
//! use attesto_testkit::{CollateralBuilder, QuoteBuilder, TcbStatus, TestPki};
//! use attesto_testkit::time::REFERENCE_TIME;
//!
//! # fn main() -> Result<(), attesto_testkit::Error> {
//! let pki = TestPki::generate()?;
//! let quote = QuoteBuilder::sgx_v3()
//!     .edit_sgx_body(|body| body.mrenclave = [0x42; 32])
//!     .build(&pki)?;
//! let collateral = CollateralBuilder::for_quote(&pki, &quote)
//!     .platform_status(TcbStatus::SwHardeningNeeded, &["INTEL-SA-00615"])
//!     .build()?;
//!
//! // A verifier configured with `pki.root_der()` and verifying `quote.bytes` against
//! // `collateral` at REFERENCE_TIME reports SWHardeningNeeded with INTEL-SA-00615.
//! assert_eq!(quote.bytes[0..2], [3, 0]);
//! assert!(collateral.tcb_info.contains(r#""tcbStatus":"SWHardeningNeeded""#));
//! let json = collateral.to_json()?; // same format as testdata/dcap/phala-dcap-qvl/*_collateral.json
//! # let _ = (json, REFERENCE_TIME);
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod collateral;
mod error;
mod key;
pub mod pki;
pub mod quote;
pub mod time;

pub use collateral::{Collateral, CollateralBuilder, PcsCollateral, TcbStatus};
pub use error::Error;
pub use key::TestKey;
pub use pki::{PkiOptions, TestCert, TestPki};
pub use quote::{MintedQuote, QuoteBuilder};

/// PEM with LF line endings and a trailing newline, the way PCS serves certificates.
pub(crate) fn pem_encode(tag: &str, der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}
