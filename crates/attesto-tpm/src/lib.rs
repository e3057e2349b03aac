//! TPM 2.0 attestation, the pure core of MAA's TPM workflow: parse the evidence, verify a quote
//! against its AIK and the measurement logs, and turn the verified log into MAA's TPM claims.
//!
//! What it does:
//! - parses TPM structures ([`tpm2`]: TPMS_ATTEST/TPM2B_ATTEST, TPMT_SIGNATURE, TPMT_PUBLIC,
//!   TPML_PCR_SELECTION), TCG PC Client event logs in the legacy SHA-1 and crypto-agile
//!   formats ([`eventlog`], with UEFI variable data and Windows SIPA/WBCL tagged events) and
//!   Linux IMA lists ([`ima`]);
//! - replays logs per bank ([`Replay`]), honouring `StartupLocality`;
//! - verifies a quote ([`verify_quote`]): the AIK signature, pcrDigest, qualifying data, the
//!   AIK certificate chain to caller-supplied TPM roots at a given time, `required_pcr_mask`,
//!   and every quoted PCR against the replay;
//! - builds MAA's TPM claim set ([`tpm_claims`]) for the policy engine, and verifies MAA v2 key
//!   bindings ([`keys`]).
//!
//! What it does not do: no I/O, no clock (the verification time is an argument), no HTTP, no
//! JSON request parsing, no JWS. Nothing is trusted by default: TPM roots are passed in.
//!
//! ```no_run
//! use std::time::Duration;
//! use attesto_tpm::{
//!     AikEvidence, EventLog, MeasurementLog, PcrValues, QuoteEvidence, TrustAnchors,
//!     VerifyOptions, HashAlg, tpm_claims, verify_quote,
//! };
//! use rustls_pki_types::UnixTime;
//! # fn demo(quote: &[u8], sig: &[u8], log: &[u8], ak_cert: Vec<u8>, root: &[u8],
//! #         pcr0: Vec<u8>, challenge: &[u8]) -> Result<(), attesto_tpm::Error> {
//! let anchors = TrustAnchors::from_der([root])?;
//! let aik = AikEvidence::new().with_certificate(ak_cert);
//! let logs = [MeasurementLog::Tcg(EventLog::parse(log)?)];
//! let mut pcrs = PcrValues::new();
//! pcrs.insert(HashAlg::Sha256, 0, pcr0)?; // ... every quoted PCR
//! let time = UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)); // passed in
//! let options = VerifyOptions::new(challenge, time, &anchors);
//! let evidence = QuoteEvidence { quote, signature: sig, pcrs: &pcrs, logs: &logs, aik: &aik };
//! let verified = verify_quote(&evidence, &options)?;
//! let claims = tpm_claims(&verified, None, None, &[]); // serde_json::Map for the policy
//! assert!(claims.contains_key("events"));
//! # Ok(()) }
//! ```
//!
//! ```text
//! quote ─Attest::parse─┐   signature ─Signature::parse─┐   AIK cert + roots + time ─chain─┐
//!                      └──────────────┬────────────────┘                                  │
//!                         signature over TPMS_ATTEST with the AIK key ◀───────────────────┘
//!                         extraData == qualifying data; pcrDigest == H_sig(PCR values)
//! logs ─EventLog/ImaLog::parse─▶ Replay ─▶ quoted PCR == replayed PCR (per bank)
//!                                             │
//!                     VerifiedQuote ─▶ tpm_claims ─▶ {aikValidated, …, pcrs, events}
//! ```
//!
//! # Intended server flow (`POST /attest/Tpm`, MAA v2)
//!
//! The HTTP layer, the `service_context` seal and the JWS belong to the server; this crate is
//! called once the request JWS is verified and `service_context` has yielded the challenge:
//!
//! 1. For each attestation object (`current_attestation`, optional `boot_attestation`):
//!    base64url-decode `quote`, `signature`, `aik_cert`; convert `aik_pub` (JWK) with
//!    [`keys::key_from_jwk`] into an [`AikEvidence`]; parse each `logs[]` entry with
//!    [`MeasurementLog::parse`] (`type` `TCG` or `IMA`); fill [`PcrValues`] from `pcrs`
//!    (`algorithm` is a TPM_ALG_ID: [`HashAlg::from_tpm_alg_id`]).
//! 2. Work out the qualifying data: with `request_key.info.tpm_quote`,
//!    [`keys::quote_key_binding`] over the JWK text exactly as received; with
//!    `info.tpm_certify`, the challenge itself, after [`keys::verify_certify`] with the AIK.
//! 3. [`verify_quote`] with [`VerifyOptions`] from the provider's policy configuration
//!    (`require_valid_aik_cert`, `required_pcr_mask`, TPM roots) and the request time.
//!    `boot_attestation` is verified the same way and must come from the same boot.
//! 4. [`tpm_claims`] → incoming claims (`attesto_policy::ClaimSet::from_json`) → policy.
//!
//! # Claims and their JSON shapes
//!
//! MAA does not publish the schema of `events` and `pcrs`; these shapes follow the queries in
//! MAA's sample TPM policies and are pinned by this crate's tests.
//!
//! - `aikValidated` (bool): the AIK certificate chains to a configured root at the time and
//!   certifies the quoting key. `aikPubHash` (string): standard base64 (padded) of SHA-256 over
//!   the AIK's DER SubjectPublicKeyInfo. `tpmVersion` (int): 2.
//! - `secureBootEnabled`, `bootDebuggingDisabled`, `notSafeMode`, `notWinPE`, `vbsEnabled`,
//!   `iommuEnabled` (bool): see [`BootProperties`]; each needs positive evidence from
//!   replay-verified, data-bound events, so a log that says nothing yields `false` (Linux logs
//!   have no Windows boot configuration, so only `secureBootEnabled` can be true there).
//! - `pcrs`: `{"PCRs": [{"Index": 0, "Digests": {"SHA1": "<hex>", "SHA256": "<hex>"}}]}`: every
//!   quoted PCR, ascending, with one member per quoted bank (`SHA1`, `SHA256`, `SHA384`,
//!   `SHA512`). Digests are **lowercase hex** (the golden-PCR sample compares SHA256 with hex;
//!   the docs' other example with a base64url SHA1 is inconsistent with it).
//! - `events` (and `bootEvents` for the boot attestation): `{"Events": [...]}`, one object per
//!   measured event whose PCR the quote verified (events on unquoted PCRs, or PCRs no bank
//!   replays, are left out: only replay-verified events feed claims). `EV_NO_ACTION` events are
//!   not measured and are left out. Members:
//!   - `EventSeq` (int): position across all logs of the attestation (0 = the first log's
//!     header; every entry counts, so gaps show omitted events);
//!   - `PcrIndex` (int), `EventType` (int, TCG events only), `EventTypeString` (`EV_*`,
//!     `EV_UNKNOWN_0x…` for unknown types, `IMA_MEASUREMENT_EVENT` for IMA);
//!   - `Digests`: `{"SHA1": hex, "SHA256": hex, ...}` as logged (IMA: the SHA-1 template hash);
//!   - `ProcessedData` (object), only where the event data is bound by its digests
//!     ([`eventlog::DataBinding`]) and decodable:
//!     - `EV_EFI_VARIABLE_*`: `VariableGuid` (upper-case canonical GUID), `UnicodeName`,
//!       `VariableData` (base64url, no padding: `AQ` = `01`). For boot/authority variables whose
//!       firmware hashed only VariableData, name and GUID are shown as logged but only the data
//!       is bound.
//!     - `EV_EVENT_TAG` (Windows SIPA): one member per entry, `EVENT_` + the `wbcl.h` suffix
//!       (`EVENT_TRUSTBOUNDARY`, `EVENT_CODEINTEGRITY`, …; `EVENT_DRTM_SMM` for
//!       SIPAEVENT_DRTM_SMM_LEVEL as MAA's sample spells it). Containers are objects; one-byte
//!       booleans are JSON booleans; integers are `{"Value": n}`; UTF-16 strings (`EVENT_FILEPATH`,
//!       `EVENT_SYSTEMROOT`, …) are strings; anything else is `{"RawData": base64url}`;
//!       `EVENT_VBS_HVCI_POLICY` is `{"String": "HypervisorEnforcedCodeIntegrityEnable",
//!       "Value": n}` (`…Disable` when bit 0 of n is clear; n is the raw policy flags). `EVENT_LOADEDMODULE_AGGREGATION`,
//!       `EVENT_ELAM_AGGREGATION`, `EVENT_SI_POLICY` and `EVENT_AUTHORITYPUBKEY` are always
//!       arrays; any other member becomes an array only if it repeats within one container.
//!       `EVENT_DRTM_STATE_AUTH` is raw: its signature is not verified here, so no
//!       `SignatureValid` member is produced (System Guard policies then see no valid DRTM).
//!     - `EV_SEPARATOR`: `{"Value": n}`; `EV_S_CRTM_VERSION`, `EV_ACTION`, `EV_EFI_ACTION`,
//!       `EV_IPL`, `EV_POST_CODE`: `{"String": text}`.
//!     - IMA: `TemplateName`, `FileName`, `FileDigestAlgorithm`, `FileDigest` (hex),
//!       `Violation`, `Signature` (ima-sig), `Buffer` (ima-buf), and for ima-buf entries
//!       `KernelVersion` (`kernel_version`) or `Keyring` + `CertificateSubject` (a key
//!       measured into a `.keyring`).
//! - `x-ms-tpm-request-key`, `x-ms-tpm-other-keys`: see [`keys::AttestedKey::to_claim`].
//!
//! # Decisions
//!
//! - **Unlogged PCRs**: a quoted PCR that no supplied log extends may hold any value unless
//!   [`VerifyOptions::replay_required_mask`] says otherwise (GCE quotes cover PCR 10, the IMA
//!   PCR, without an IMA log). Its value is still signed and appears in `pcrs`; no events come
//!   from it. A PCR the logs do extend must match exactly.
//! - **Banks**: every quoted bank must be present in the logs (when logs are given); the
//!   pcrDigest hash is the signature scheme's, whatever the bank.
//! - **AIK attributes**: a TPMT_PUBLIC AIK must be a restricted, fixedTPM signing key (not a
//!   decryption key). With only a JWK or certificate this cannot be checked; the certificate
//!   authority vouches for it.
//! - **DRTM**: PCRs 17-22 replay from their reset value (all ones); a DRTM launch that resets
//!   them to zero is not modelled (no real DRTM log was available to test against).
//! - **IMA**: SHA-1 template hashes only (the classic `binary_runtime_measurements`); other
//!   banks replay with the bank hash of the template data (kernels from 5.11).
//! - **Certificates**: see [`aik`] for the chain profile (no revocation, no EKU requirement).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod aik;
mod alg;
pub mod claims;
mod der;
mod error;
pub mod eventlog;
pub mod ima;
pub mod keys;
mod reader;
pub mod replay;
mod time;
pub mod tpm2;
mod verify;

#[doc(hidden)]
pub mod fuzzing;

pub use aik::{AikEvidence, AikPublicKey, AikStatus, TrustAnchors, VerifiedAik};
pub use alg::HashAlg;
pub use claims::{BootProperties, boot_properties, events_json, pcrs_json, tpm_claims};
pub use error::{CertRole, Error};
pub use eventlog::{EventLog, EventType};
pub use ima::ImaLog;
pub use replay::{MeasurementLog, Replay};
pub use verify::{
    DEFAULT_REQUIRED_PCR_MASK, PcrValues, QuoteEvidence, VerifiedQuote, VerifyOptions, verify_quote,
};
