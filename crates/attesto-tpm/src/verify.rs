//! Quote verification: one attestation (quote, signature, PCR values, logs, AIK) against a
//! challenge, trust anchors and a time.

use std::collections::BTreeMap;

use rustls_pki_types::UnixTime;

use crate::aik::{AikEvidence, TrustAnchors, VerifiedAik, verify_aik};
use crate::alg::HashAlg;
use crate::error::Error;
use crate::replay::{MeasurementLog, PCR_COUNT, Replay};
use crate::tpm2::{Attest, PcrSelection, Signature, TPM_ST_ATTEST_QUOTE};

/// MAA's default `required_pcr_mask`: PCRs 0-23 must all be quoted.
pub const DEFAULT_REQUIRED_PCR_MASK: u32 = 0x00FF_FFFF;

/// Largest PCR index a selection may name (a 4-byte sizeofSelect).
const MAX_PCR: u32 = 31;

/// PCR values as the client reports them (MAA's `pcrs`: per bank, index → digest). They are
/// only believed once they hash to the signed pcrDigest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PcrValues {
    values: BTreeMap<(HashAlg, u32), Vec<u8>>,
}

impl PcrValues {
    /// No values.
    #[must_use]
    pub fn new() -> PcrValues {
        PcrValues::default()
    }

    /// Adds a value (replacing an earlier one for the same bank and index).
    ///
    /// # Errors
    /// [`Error::PcrIndexOutOfRange`] beyond PCR 31, [`Error::PcrValueLength`] if the digest
    /// does not have the bank's length.
    pub fn insert(&mut self, bank: HashAlg, pcr: u32, digest: Vec<u8>) -> Result<(), Error> {
        if pcr > MAX_PCR {
            return Err(Error::PcrIndexOutOfRange { pcr, max: MAX_PCR });
        }
        if digest.len() != bank.digest_len() {
            return Err(Error::PcrValueLength {
                bank,
                pcr,
                expected: bank.digest_len(),
                found: digest.len(),
            });
        }
        self.values.insert((bank, pcr), digest);
        Ok(())
    }

    /// A value.
    #[must_use]
    pub fn get(&self, bank: HashAlg, pcr: u32) -> Option<&[u8]> {
        self.values.get(&(bank, pcr)).map(Vec::as_slice)
    }

    /// Every value, ordered by bank then index.
    pub fn iter(&self) -> impl Iterator<Item = (HashAlg, u32, &[u8])> {
        self.values
            .iter()
            .map(|((bank, pcr), value)| (*bank, *pcr, value.as_slice()))
    }

    /// Whether there are no values.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// One attestation as sent: MAA's `current_attestation` or `boot_attestation`.
#[derive(Debug, Clone, Copy)]
pub struct QuoteEvidence<'a> {
    /// TPMS_ATTEST bytes.
    pub quote: &'a [u8],
    /// TPMT_SIGNATURE bytes.
    pub signature: &'a [u8],
    /// The PCR values the quote covers.
    pub pcrs: &'a PcrValues,
    /// The measurement logs, in measurement order.
    pub logs: &'a [MeasurementLog],
    /// The AIK.
    pub aik: &'a AikEvidence,
}

/// What the verifier requires. Build with [`VerifyOptions::new`], then adjust the public
/// fields; the defaults are MAA's.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifyOptions<'a> {
    /// The qualifying data the quote must carry (the challenge, or its binding with the request
    /// key; see [`crate::keys::quote_key_binding`]).
    pub qualifying_data: &'a [u8],
    /// The verification time (for certificate validity). Passed in, never read.
    pub time: UnixTime,
    /// TPM roots for the AIK certificate.
    pub trust_anchors: &'a TrustAnchors,
    /// MAA `require_valid_aik_cert` (default true): fail unless the AIK certificate chains to
    /// a trust anchor. When false, a missing or invalid certificate yields
    /// `aikValidated = false` instead.
    pub require_valid_aik_cert: bool,
    /// MAA `required_pcr_mask` (default 0xFFFFFF): bit n set = PCR n must be in the quote's
    /// selection (in at least one bank).
    pub required_pcr_mask: u32,
    /// Bit n set = quoted PCR n must be explained by the logs: extended by at least one event,
    /// or at its reset value. Default 0: a PCR no supplied log touches (PCR 10 without an IMA
    /// log) may hold any value; its events are then simply absent from the claims.
    pub replay_required_mask: u32,
}

impl<'a> VerifyOptions<'a> {
    /// MAA's defaults: a valid AIK certificate required, PCRs 0-23 required.
    #[must_use]
    pub fn new(
        qualifying_data: &'a [u8],
        time: UnixTime,
        trust_anchors: &'a TrustAnchors,
    ) -> VerifyOptions<'a> {
        VerifyOptions {
            qualifying_data,
            time,
            trust_anchors,
            require_valid_aik_cert: true,
            required_pcr_mask: DEFAULT_REQUIRED_PCR_MASK,
            replay_required_mask: 0,
        }
    }
}

/// A verified quote: everything in it is backed by the AIK's signature, the replay and (if
/// validated) the AIK certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedQuote {
    /// The parsed quote.
    pub attest: Attest,
    /// The hash of the signature and of pcrDigest.
    pub signature_hash: HashAlg,
    /// The AIK.
    pub aik: VerifiedAik,
    /// The quote's selection, in quote order.
    pub selection: Vec<PcrSelection>,
    /// The quoted PCR values (proved by pcrDigest).
    pub pcrs: PcrValues,
    /// The replayed values.
    pub replay: Replay,
    /// The logs, as given.
    pub logs: Vec<MeasurementLog>,
    /// Bit n set: PCR n is quoted and its logged events replay to the quoted value in some
    /// bank. Only events on these PCRs feed claims.
    pub verified_pcrs: u32,
    /// Quoted PCRs with a non-reset value that no log explains, per bank.
    pub unlogged_pcrs: Vec<(HashAlg, u32)>,
}

impl VerifiedQuote {
    /// Whether events on `pcr` are backed by the quote.
    #[must_use]
    pub fn is_verified_pcr(&self, pcr: u32) -> bool {
        pcr < 32 && self.verified_pcrs & (1u32 << pcr) != 0
    }
}

/// Verifies one TPM quote end to end, in this order (each failure is a typed [`Error`]):
///
/// 1. parse the TPMS_ATTEST (TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE) and the TPMT_SIGNATURE;
/// 2. the AIK: TPMT_PUBLIC attributes, certificate/key match, chain to the trust anchors at
///    `time` (required unless `require_valid_aik_cert` is false);
/// 3. the signature over the raw TPMS_ATTEST with the AIK;
/// 4. extraData equals the expected qualifying data;
/// 5. the supplied PCR values match the selection exactly and hash (with the signature's
///    hash, not the bank's) to pcrDigest;
/// 6. `required_pcr_mask`;
/// 7. the logs replay, and every quoted PCR that the logs extend equals its replayed value in
///    that bank; PCRs in `replay_required_mask` must be explained by the logs.
///
/// # Errors
/// The first failed check.
pub fn verify_quote(
    evidence: &QuoteEvidence<'_>,
    options: &VerifyOptions<'_>,
) -> Result<VerifiedQuote, Error> {
    let attest = Attest::parse(evidence.quote)?;
    if attest.attest_type != TPM_ST_ATTEST_QUOTE {
        return Err(Error::WrongAttestationType {
            expected: TPM_ST_ATTEST_QUOTE,
            found: attest.attest_type,
        });
    }
    let signature = Signature::parse(evidence.signature)?;
    let aik = verify_aik(
        evidence.aik,
        options.trust_anchors,
        options.require_valid_aik_cert,
        options.time,
    )?;
    aik.key.verify(&signature, attest.raw(), "quote")?;
    if attest.extra_data != options.qualifying_data {
        return Err(Error::QualifyingDataMismatch {
            expected: options.qualifying_data.to_vec(),
            found: attest.extra_data.clone(),
        });
    }
    let Some(info) = attest.quote() else {
        return Err(Error::WrongAttestationType {
            expected: TPM_ST_ATTEST_QUOTE,
            found: attest.attest_type,
        });
    };
    let selection = info.pcr_select.clone();
    let signature_hash = signature.hash();
    check_pcr_digest(&selection, evidence.pcrs, signature_hash, &info.pcr_digest)?;

    let quoted_any = selection.iter().fold(0u32, |acc, s| acc | s.pcrs);
    let missing = options.required_pcr_mask & !quoted_any;
    if missing != 0 {
        return Err(Error::RequiredPcrNotQuoted {
            pcr: missing.trailing_zeros(),
            mask: options.required_pcr_mask,
        });
    }

    let replay = Replay::run(evidence.logs)?;
    let (verified_pcrs, unlogged_pcrs) = compare_replay(
        &selection,
        evidence.pcrs,
        &replay,
        !evidence.logs.is_empty(),
        options.replay_required_mask,
    )?;

    Ok(VerifiedQuote {
        attest,
        signature_hash,
        aik,
        selection,
        pcrs: evidence.pcrs.clone(),
        replay,
        logs: evidence.logs.to_vec(),
        verified_pcrs,
        unlogged_pcrs,
    })
}

/// The supplied values must be exactly the selected ones, and hash to pcrDigest.
fn check_pcr_digest(
    selection: &[PcrSelection],
    pcrs: &PcrValues,
    hash: HashAlg,
    quoted: &[u8],
) -> Result<(), Error> {
    for (bank, pcr, _) in pcrs.iter() {
        let selected = selection
            .iter()
            .any(|s| s.hash == bank && pcr < 32 && s.pcrs & (1u32 << pcr) != 0);
        if !selected {
            return Err(Error::PcrValueNotQuoted { bank, pcr });
        }
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for s in selection {
        for pcr in s.indexes() {
            let value = pcrs
                .get(s.hash, pcr)
                .ok_or(Error::PcrValueMissing { bank: s.hash, pcr })?;
            parts.push(value);
        }
    }
    let computed = hash.digest_parts(&parts);
    if computed != quoted {
        return Err(Error::PcrDigestMismatch {
            hash,
            computed,
            quoted: quoted.to_vec(),
        });
    }
    Ok(())
}

fn compare_replay(
    selection: &[PcrSelection],
    pcrs: &PcrValues,
    replay: &Replay,
    have_logs: bool,
    replay_required_mask: u32,
) -> Result<(u32, Vec<(HashAlg, u32)>), Error> {
    let mut verified = 0u32;
    let mut unlogged = Vec::new();
    for s in selection {
        if !replay.has_bank(s.hash) {
            if have_logs {
                return Err(Error::BankNotInLog { bank: s.hash });
            }
            // No logs at all: nothing to compare, nothing verified.
            unlogged.extend(s.indexes().map(|pcr| (s.hash, pcr)));
            continue;
        }
        let extended = replay.extended_mask(s.hash);
        for pcr in s.indexes() {
            let quoted = pcrs
                .get(s.hash, pcr)
                .ok_or(Error::PcrValueMissing { bank: s.hash, pcr })?;
            let required = replay_required_mask & (1u32 << pcr) != 0;
            if pcr >= PCR_COUNT {
                if required {
                    return Err(Error::PcrNotLogged { bank: s.hash, pcr });
                }
                unlogged.push((s.hash, pcr));
                continue;
            }
            if extended & (1u32 << pcr) != 0 {
                let replayed = replay.value(s.hash, pcr).unwrap_or_default();
                if replayed != quoted {
                    return Err(Error::PcrReplayMismatch {
                        bank: s.hash,
                        pcr,
                        quoted: quoted.to_vec(),
                        replayed: replayed.to_vec(),
                    });
                }
                verified |= 1u32 << pcr;
            } else if quoted != replay.value(s.hash, pcr).unwrap_or_default() {
                if required {
                    return Err(Error::PcrNotLogged { bank: s.hash, pcr });
                }
                unlogged.push((s.hash, pcr));
            }
        }
    }
    Ok((verified, unlogged))
}
