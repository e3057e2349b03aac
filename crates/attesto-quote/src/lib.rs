//! Intel SGX/TDX DCAP quote parsing and verification: quote bytes, collateral and a time in, a
//! typed verdict out.
//!
//! This crate does everything Intel's Quote Verification Library does for ECDSA quotes (v3, v4,
//! v5; SGX and TDX 1.0/1.5): the PCK chain to the Intel SGX Root CA, both CRLs, the TCB info
//! and QE identity signatures and windows, the QE report signature and binding, the QE identity,
//! the quote signature, and the TCB appraisal (platform, TDX module, QE, TD relaunch).
//!
//! It does **no I/O**: it never reads a clock, a file, the network or the environment. The
//! caller passes the verification time and the collateral (fetching it is someone else's job).
//! Only the Intel SGX Root CA is trusted unless the caller passes other [`TrustAnchors`].
//!
//! ```no_run
//! use attesto_quote::{Collateral, Verifier};
//! use std::time::Duration;
//! use rustls_pki_types::UnixTime;
//! # fn demo(quote: &[u8], collateral_json: &str) -> Result<(), attesto_quote::Error> {
//! let collateral = Collateral::from_json(collateral_json)?;
//! let verifier = Verifier::new(); // share one per process: it caches collateral and PCK chains
//! let time = UnixTime::since_unix_epoch(Duration::from_secs(1_751_328_000)); // passed in, never read
//! let verified = verifier.verify(quote, &collateral, time)?;
//! println!("{} {:?}", verified.status, verified.advisory_ids);
//! # Ok(()) }
//! ```
//!
//! ```text
//! Quote::parse ─► VerifiedCollateral (cached) ─► VerifiedPckChain (cached)
//!     ─► windows + CRLs at T ─► QE report sig + binding ─► QE identity ─► quote sig
//!     ─► platform / TDX module / QE TCB levels ─► converged TcbStatus ─► VerifiedQuote
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod appraise;
pub mod collateral;
mod error;
mod hint;
mod outcome;
pub mod pck;
mod pck_chain;
pub mod quote;
mod reader;
mod tcb;
pub mod time;
mod verifier;
mod verify;
mod x509;

#[doc(hidden)]
pub mod fuzzing;

pub use collateral::{Collateral, PcsResponses, VerifiedCollateral};
pub use error::{Artifact, Error, TcbSource};
pub use hint::{
    CollateralKeyHint, CollateralSummary, DocumentWindow, collateral_key_hint, collateral_summary,
};
pub use outcome::{CollateralHashes, QeFacts, SignedQuote, TdxModuleStatus, VerifiedQuote};
pub use pck::{PckCaKind, PckFacts, SgxType};
pub use quote::{BodyType, Quote, ReportBody, TeeType};
pub use tcb::{TcbStatus, check_for_relaunch, converge};
pub use verifier::{DEFAULT_COLLATERAL_CAPACITY, DEFAULT_PCK_CHAIN_CAPACITY, Verifier};
pub use verify::{verify, verify_signatures_and_chain, verify_with_anchors};
pub use x509::TrustAnchors;
pub use x509::anchors::INTEL_SGX_ROOT_CA_DER;
