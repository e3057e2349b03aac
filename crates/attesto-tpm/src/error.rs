//! The one error type of this crate, grouped by cause: malformed input, a failed check of the
//! quote, a PCR that the log does not explain, the AIK and its certificate chain, key binding.

use core::fmt;

use rustls_pki_types::UnixTime;

use crate::alg::HashAlg;

/// A certificate taking part in AIK validation. Errors name it so the caller learns *which*
/// certificate failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertRole {
    /// The AIK certificate (the leaf).
    AikCertificate,
    /// The n-th (0-based) intermediate the client sent.
    Intermediate(usize),
    /// The n-th (0-based) configured trust anchor.
    TrustAnchor(usize),
}

impl fmt::Display for CertRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AikCertificate => f.write_str("AIK certificate"),
            Self::Intermediate(n) => write!(f, "intermediate certificate #{n}"),
            Self::TrustAnchor(n) => write!(f, "trust anchor #{n}"),
        }
    }
}

/// Hex for byte strings in messages.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(empty)");
        }
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// RFC 3339 for times in messages.
struct Time(UnixTime);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::time::format_rfc3339(self.0))
    }
}

/// Everything that can go wrong, each variant naming what failed. `#[non_exhaustive]`: new
/// checks add variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- malformed input -------------------------------------------------------------------
    /// A structure ended before a field was complete. The input is truncated or a length field
    /// lies; the client must resend the evidence.
    #[error(
        "{structure}: truncated at {field} (offset {offset}: {needed} bytes needed, {available} left)"
    )]
    Truncated {
        /// The structure being read (`TPMS_ATTEST`, `TCG_PCR_EVENT2`, ...).
        structure: &'static str,
        /// The field being read.
        field: &'static str,
        /// Byte offset of the field in the input.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A field holds a value the format does not allow.
    #[error("{structure}: invalid {field} at offset {offset}: {reason}")]
    Malformed {
        /// The structure being read.
        structure: &'static str,
        /// The offending field.
        field: &'static str,
        /// Byte offset of the field in the input.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// Bytes follow the last field of a structure that must be exact.
    #[error("{structure}: {count} unexpected bytes after the last field (offset {offset})")]
    TrailingBytes {
        /// The structure that should have ended.
        structure: &'static str,
        /// Offset of the first extra byte.
        offset: usize,
        /// How many bytes are left over.
        count: usize,
    },
    /// A TPM algorithm identifier this crate does not implement (SM3, SHA-3, ECDAA, ...).
    #[error("{context}: unsupported algorithm 0x{alg:04x}")]
    UnsupportedAlgorithm {
        /// Where the algorithm appeared.
        context: &'static str,
        /// The TPM_ALG_ID.
        alg: u16,
    },
    /// A structure type this crate does not implement.
    #[error("unsupported {what}")]
    Unsupported {
        /// What is unsupported, with its value.
        what: String,
    },

    // ---- the quote -------------------------------------------------------------------------
    /// The attestation does not start with TPM_GENERATED_VALUE, so the TPM did not produce it.
    #[error("attestation magic 0x{magic:08x} is not TPM_GENERATED_VALUE (0xff544347)")]
    NotTpmGenerated {
        /// The magic found.
        magic: u32,
    },
    /// The attestation is of another kind (for example a certification where a quote is needed).
    #[error("attestation type 0x{found:04x} where 0x{expected:04x} is required")]
    WrongAttestationType {
        /// The TPM_ST tag required.
        expected: u16,
        /// The TPM_ST tag found.
        found: u16,
    },
    /// The signature scheme cannot be used with the key (an ECDSA signature for an RSA key,
    /// a curve without the hash, ...).
    #[error("signature scheme {scheme} cannot be verified with a {key} key")]
    SchemeKeyMismatch {
        /// The TPMT_SIGNATURE scheme.
        scheme: &'static str,
        /// The key type.
        key: String,
    },
    /// The signature over the attestation does not verify with the AIK: the attestation, the
    /// signature or the key was altered, or the wrong key was sent.
    #[error("{what} signature does not verify with the AIK")]
    BadSignature {
        /// What was signed (`quote`, `certification`).
        what: &'static str,
    },
    /// The attestation's qualifying data (extraData) is not the expected challenge binding:
    /// a replay, or a quote made for another challenge or key.
    #[error(
        "qualifying data {} does not match the expected {}",
        Hex(found),
        Hex(expected)
    )]
    QualifyingDataMismatch {
        /// What the verifier expected.
        expected: Vec<u8>,
        /// What the attestation carries.
        found: Vec<u8>,
    },
    /// The quote's pcrDigest is not the hash of the supplied PCR values: a PCR value was
    /// altered or belongs to another quote.
    #[error(
        "pcrDigest mismatch ({hash}): the supplied PCR values hash to {}, the quote says {}",
        Hex(computed),
        Hex(quoted)
    )]
    PcrDigestMismatch {
        /// The hash the digest was computed with (the signature scheme's hash).
        hash: HashAlg,
        /// The digest of the supplied values.
        computed: Vec<u8>,
        /// The digest in the signed quote.
        quoted: Vec<u8>,
    },
    /// The quote selects a PCR for which no value was supplied.
    #[error("no value supplied for quoted PCR {pcr} in the {bank} bank")]
    PcrValueMissing {
        /// The bank.
        bank: HashAlg,
        /// The PCR index.
        pcr: u32,
    },
    /// A PCR value was supplied that the quote does not select, so nothing vouches for it.
    #[error(
        "a value was supplied for PCR {pcr} in the {bank} bank, which the quote does not select"
    )]
    PcrValueNotQuoted {
        /// The bank.
        bank: HashAlg,
        /// The PCR index.
        pcr: u32,
    },
    /// A supplied PCR value has the wrong length for its bank.
    #[error("PCR {pcr} value in the {bank} bank is {found} bytes, expected {expected}")]
    PcrValueLength {
        /// The bank.
        bank: HashAlg,
        /// The PCR index.
        pcr: u32,
        /// The bank's digest length.
        expected: usize,
        /// The supplied length.
        found: usize,
    },
    /// A PCR index outside 0..=31.
    #[error("PCR index {pcr} is out of range (0..={max})")]
    PcrIndexOutOfRange {
        /// The index.
        pcr: u32,
        /// The largest index allowed here.
        max: u32,
    },
    /// `required_pcr_mask` names a PCR the quote does not cover (in any bank).
    #[error(
        "PCR {pcr} is required (required_pcr_mask 0x{mask:06x}) but not in the quote's selection"
    )]
    RequiredPcrNotQuoted {
        /// The first missing PCR.
        pcr: u32,
        /// The mask in force.
        mask: u32,
    },
    /// Replaying the logs gives another value than the quoted one: the log was altered,
    /// truncated, or belongs to another boot.
    #[error(
        "PCR {pcr} ({bank}): the quote says {}, the replayed log gives {}",
        Hex(quoted),
        Hex(replayed)
    )]
    PcrReplayMismatch {
        /// The bank.
        bank: HashAlg,
        /// The PCR index.
        pcr: u32,
        /// The quoted (signed) value.
        quoted: Vec<u8>,
        /// The value the log replays to.
        replayed: Vec<u8>,
    },
    /// A quoted PCR that the verifier requires to be explained by the logs has no events and
    /// is not at its reset value.
    #[error("PCR {pcr} ({bank}) is quoted but no supplied log explains its value")]
    PcrNotLogged {
        /// The bank.
        bank: HashAlg,
        /// The PCR index.
        pcr: u32,
    },
    /// The quote covers a bank for which the logs carry no digests, so it cannot be replayed.
    #[error("the logs carry no {bank} digests, the bank the quote covers")]
    BankNotInLog {
        /// The quoted bank.
        bank: HashAlg,
    },

    // ---- logs ------------------------------------------------------------------------------
    /// An IMA entry's template hash is not the SHA-1 of its template data: the entry was altered.
    #[error("IMA entry {entry}: template hash does not match the template data")]
    ImaTemplateHash {
        /// 0-based entry number.
        entry: usize,
    },

    // ---- the AIK ---------------------------------------------------------------------------
    /// Neither an AIK public key nor an AIK certificate was supplied.
    #[error("no AIK public key or certificate supplied")]
    NoAikKey,
    /// The AIK's TPMT_PUBLIC lacks an attribute an attestation key must have; a key without
    /// them could sign forged attestations.
    #[error("AIK object attributes 0x{attributes:08x}: {reason}")]
    AikAttributes {
        /// TPMA_OBJECT.
        attributes: u32,
        /// The missing or forbidden attribute.
        reason: &'static str,
    },
    /// The AIK certificate certifies another key than the AIK public key sent with it.
    #[error("the AIK certificate's public key differs from the AIK public key")]
    AikKeyMismatch,
    /// The policy requires a valid AIK certificate (`require_valid_aik_cert`) and none was sent.
    #[error("a valid AIK certificate is required and none was supplied")]
    AikCertificateRequired,
    /// A certificate could not be parsed or breaks a profile rule.
    #[error("{role}: {reason}")]
    Certificate {
        /// Which certificate.
        role: CertRole,
        /// What is wrong.
        reason: String,
    },
    /// A certificate uses a signature algorithm this crate does not accept.
    #[error("{role}: unsupported signature algorithm {algorithm}")]
    CertificateAlgorithm {
        /// Which certificate.
        role: CertRole,
        /// The algorithm OID.
        algorithm: String,
    },
    /// A certificate's signature does not verify with its issuer's key.
    #[error("{role}: signature does not verify with the issuer's key")]
    CertificateSignature {
        /// Which certificate.
        role: CertRole,
    },
    /// A certificate had expired at the verification time.
    #[error("{role} expired at {} (verification time {})", Time(*not_after), Time(*time))]
    CertificateExpired {
        /// Which certificate.
        role: CertRole,
        /// Its notAfter.
        not_after: UnixTime,
        /// The verification time.
        time: UnixTime,
    },
    /// A certificate was not yet valid at the verification time.
    #[error("{role} is not valid before {} (verification time {})", Time(*not_before), Time(*time))]
    CertificateNotYetValid {
        /// Which certificate.
        role: CertRole,
        /// Its notBefore.
        not_before: UnixTime,
        /// The verification time.
        time: UnixTime,
    },
    /// No chain leads from the AIK certificate to a configured TPM root.
    #[error("the AIK certificate does not chain to a trusted TPM root (issuer: {issuer})")]
    UntrustedAik {
        /// The issuer the search stopped at.
        issuer: String,
    },

    // ---- key binding -----------------------------------------------------------------------
    /// The TPM2_Certify attestation is about another object than the public area sent.
    #[error("the certification names another object than the supplied public area")]
    CertifiedNameMismatch,
    /// The request key's JWK is not the key the TPM certified.
    #[error("the request key JWK does not match the certified TPM key: {reason}")]
    JwkMismatch {
        /// What differs.
        reason: String,
    },
}

impl Error {
    pub(crate) fn malformed(
        structure: &'static str,
        field: &'static str,
        offset: usize,
        reason: impl Into<String>,
    ) -> Error {
        Error::Malformed {
            structure,
            field,
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn cert(role: CertRole, reason: impl Into<String>) -> Error {
        Error::Certificate {
            role,
            reason: reason.into(),
        }
    }
}
