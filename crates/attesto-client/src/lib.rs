//! Client tools around an MAA-compatible attestation service: what `attesto genquote` and
//! `attesto validate` are made of, usable from any program.
//!
//! - [`sample`]: the enclave-info JSON files of Microsoft's MAA SGX sample (Intel SDK and Open
//!   Enclave variants), parsed and written byte for byte as the sample does.
//! - [`evidence`]: sources of quotes: a simulated enclave under the test PKI, Gramine's
//!   `/dev/attestation`, and the Linux configfs-tsm report interface.
//! - [`validate`]: post evidence, fetch `/certs`, check the token (kid, RS256 with `x5c[0]`,
//!   lifetime, `iss`, `jku`, signing certificate issuer) and compare its claims with the file.
//! - [`signing_cert_quote`]: verify the SGX quote an MAA signing certificate carries about the
//!   service itself.
//!
//! This crate is an edge: it reads files, talks HTTP and touches TEE device files. The checks
//! themselves ([`sample::EnclaveInfo::disagreements`], [`validate::judge`],
//! [`signing_cert_quote::check`]) take bytes and a time and never read a clock.
//!
//! ```text
//! genquote:  EHD ─► report_data_for ─► EvidenceSource ─► quote ─► EnclaveInfo::from_quote ─► JSON
//! validate:  JSON ─► EnclaveInfo ─► Client::attest ─► token ─┬─► judge ─► Report + exit status
//!                                   Client::signing_keys ────┘
//! ```
//!
//! # Example
//! ```
//! use attesto_client::evidence::{EvidenceSource, SimulatedEnclave, SimulatedIdentity};
//! use attesto_client::sample::{EnclaveInfo, Variant, report_data_for};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_767_225_600));
//! let enclave = SimulatedEnclave::new(
//!     attesto_testkit::TestPki::generate()?,
//!     SimulatedIdentity::default(),
//!     now,
//! );
//! let ehd = vec![1, 2, 3, 4, 5, 6];
//! let quote = enclave.evidence(&report_data_for(&ehd))?.bytes;
//! let info = EnclaveInfo::from_quote(Variant::IntelSdk, &quote, ehd)?;
//! assert!(info.disagreements()?.is_empty());
//! assert!(info.to_json().starts_with("{\n  \"Type\": 2,\n"));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod evidence;
pub mod sample;
pub mod signing_cert_quote;
pub mod validate;
