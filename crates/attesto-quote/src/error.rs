//! The one error type of this crate, grouped by cause.

use core::fmt;

use rustls_pki_types::UnixTime;

use crate::tcb::TcbStatus;
use crate::time::Rfc3339Time;

/// A signed or dated object taking part in verification. Errors name it so the caller learns
/// *what* failed, not only *how*.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Artifact {
    /// The quote itself (header and report body, signed by the attestation key).
    Quote,
    /// The Quoting Enclave report inside the quote, signed by the PCK.
    QeReport,
    /// The trusted Intel SGX Root CA (or an explicitly configured test root).
    RootCaCertificate,
    /// The PCK Processor or Platform CA certificate from the quote.
    PckCaCertificate,
    /// The PCK leaf certificate from the quote.
    PckCertificate,
    /// The PCK CA certificate from the PCK CRL issuer chain.
    PckCrlIssuerCertificate,
    /// The TCB signing certificate from the TCB info issuer chain.
    TcbInfoSigningCertificate,
    /// The TCB signing certificate from the QE identity issuer chain.
    QeIdentitySigningCertificate,
    /// The root CA CRL.
    RootCaCrl,
    /// The PCK CRL.
    PckCrl,
    /// The signed TCB info.
    TcbInfo,
    /// The signed QE identity.
    QeIdentity,
}

impl fmt::Display for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Quote => "quote",
            Self::QeReport => "QE report",
            Self::RootCaCertificate => "root CA certificate",
            Self::PckCaCertificate => "PCK CA certificate",
            Self::PckCertificate => "PCK certificate",
            Self::PckCrlIssuerCertificate => "PCK CRL issuer certificate",
            Self::TcbInfoSigningCertificate => "TCB info signing certificate",
            Self::QeIdentitySigningCertificate => "QE identity signing certificate",
            Self::RootCaCrl => "root CA CRL",
            Self::PckCrl => "PCK CRL",
            Self::TcbInfo => "TCB info",
            Self::QeIdentity => "QE identity",
        })
    }
}

/// Which TCB evaluation produced a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TcbSource {
    /// The platform TCB level from the TCB info.
    Platform,
    /// The Quoting Enclave TCB level from the QE identity.
    QuotingEnclave,
    /// The TDX module TCB level from the TCB info's module identities.
    TdxModule,
    /// The current (post-update) TCB of a TD 1.5 (`TEE_TCB_SVN2`).
    TdCurrent,
}

impl fmt::Display for TcbSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Platform => "platform",
            Self::QuotingEnclave => "quoting enclave",
            Self::TdxModule => "TDX module",
            Self::TdCurrent => "current TD TCB",
        })
    }
}

/// Why a quote or its collateral was rejected. Verification stops at the first failure.
///
/// Groups: malformed input (`Quote*`, `Unsupported*`, `*Malformed`), bad signatures
/// (`InvalidSignature`, `QeReportDataMismatch`), broken chains (`UntrustedIssuer`, `IssuerMismatch`,
/// `NotACa`, `AnchorMismatch`, `PckCrlIssuerMismatch`), revocation (`Revoked`), time
/// (`Expired`, `NotYetValid`), collateral that does not fit the quote (`CollateralMismatch`),
/// QE identity (`QeIdentityMismatch`, `QeDebug`) and TCB appraisal (`NoMatchingTcbLevel`, ...).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- malformed quote ----
    /// The quote ends before `field` (at `offset`) could be read.
    #[error("quote truncated: {field} at offset {offset} needs {needed} bytes, {available} left")]
    QuoteTruncated {
        /// The field being read.
        field: &'static str,
        /// Its offset in the quote.
        offset: usize,
        /// Bytes needed.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A quote field has an impossible value.
    #[error("malformed quote: {field} at offset {offset}: {reason}")]
    QuoteMalformed {
        /// The field.
        field: &'static str,
        /// Its offset in the quote.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// Only quote versions 3, 4 and 5 exist.
    #[error("unsupported quote version {version}")]
    UnsupportedQuoteVersion {
        /// The version in the header.
        version: u16,
    },
    /// Only ECDSA-256 with P-256 (type 2) attestation keys are supported.
    #[error("unsupported attestation key type {key_type}")]
    UnsupportedAttestationKeyType {
        /// The key type in the header.
        key_type: u16,
    },
    /// The TEE type is not SGX (0) or TDX (0x81), or does not fit the version / body type.
    #[error("unsupported TEE type {tee_type:#x} for quote version {version}")]
    UnsupportedTeeType {
        /// Quote version.
        version: u16,
        /// TEE type in the header.
        tee_type: u32,
    },
    /// A v5 body type outside 1..=4, or a body size that does not fit the type.
    #[error("unsupported quote v5 body type {body_type} of {body_size} bytes")]
    UnsupportedBodyType {
        /// The body type.
        body_type: u16,
        /// The declared body size.
        body_size: u32,
    },
    /// Certification data other than type 5 (PCK chain) and type 6 (QE report data).
    #[error("unsupported certification data type {cert_type} at offset {offset}")]
    UnsupportedCertificationDataType {
        /// The type found.
        cert_type: u16,
        /// Its offset in the quote.
        offset: usize,
    },
    /// The quote was not produced by Intel's Quoting Enclave.
    #[error("unknown QE vendor ID {}", hex::encode(vendor_id))]
    UnknownQeVendor {
        /// The vendor ID in the header.
        vendor_id: [u8; 16],
    },
    /// An Open Enclave report header is wrong.
    #[error("malformed Open Enclave report: {reason}")]
    OeReportMalformed {
        /// What is wrong.
        reason: &'static str,
    },

    // ---- malformed certificates and collateral ----
    /// A certificate or CRL could not be parsed or lacks a required part.
    #[error("malformed {artifact}: {reason}")]
    CertificateMalformed {
        /// Which certificate or CRL.
        artifact: Artifact,
        /// What is wrong.
        reason: String,
    },
    /// The Intel SGX extension of the PCK certificate is missing or malformed.
    #[error("malformed PCK certificate SGX extension: {field}: {reason}")]
    PckExtensionMalformed {
        /// The extension field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A collateral field could not be decoded.
    #[error("malformed collateral {field}: {reason}")]
    CollateralMalformed {
        /// The collateral field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A signature or key algorithm other than ECDSA P-256 with SHA-256.
    #[error("unsupported algorithm in {artifact}: {algorithm}")]
    UnsupportedAlgorithm {
        /// Where.
        artifact: Artifact,
        /// The algorithm OID or name.
        algorithm: String,
    },

    // ---- signatures ----
    /// A signature does not verify.
    #[error("invalid signature on the {artifact}")]
    InvalidSignature {
        /// What was signed.
        artifact: Artifact,
    },
    /// The QE report data is not SHA-256(attestation key || QE auth data) followed by 32 zeros,
    /// so the attestation key is not bound to the Quoting Enclave.
    #[error("QE report data does not bind the attestation key")]
    QeReportDataMismatch,

    // ---- chains ----
    /// No trusted anchor or chain certificate issued this certificate or CRL.
    #[error("{artifact} is not issued by a trusted root (issuer {issuer})")]
    UntrustedIssuer {
        /// The certificate or CRL.
        artifact: Artifact,
        /// Its issuer name.
        issuer: String,
    },
    /// A chain is not in order: the issuer named by a certificate is not the next certificate.
    #[error("{artifact} issuer {issuer} does not match the next certificate {next}")]
    IssuerMismatch {
        /// The certificate.
        artifact: Artifact,
        /// Its issuer name.
        issuer: String,
        /// The subject of the next certificate in the chain.
        next: String,
    },
    /// A certificate used as an issuer is not a CA.
    #[error("{artifact} is not a CA certificate")]
    NotACa {
        /// The certificate.
        artifact: Artifact,
    },
    /// A chain has the wrong number of certificates.
    #[error("{artifact} chain has {found} certificates")]
    ChainLength {
        /// The chain's first certificate.
        artifact: Artifact,
        /// How many certificates were found.
        found: usize,
    },
    /// The PCK CA is not an Intel PCK Processor or Platform CA.
    #[error("unknown PCK CA {subject}")]
    UnknownPckCa {
        /// The CA subject.
        subject: String,
    },
    /// Two chains of one verification end at different trust anchors.
    #[error("{artifact} chains to a different root than the root CA CRL")]
    AnchorMismatch {
        /// The chain's certificate.
        artifact: Artifact,
    },
    /// The PCK CRL was issued by a different CA than the one that issued the PCK certificate.
    #[error("PCK CRL issuer {crl_issuer} is not the PCK CA {pck_ca}")]
    PckCrlIssuerMismatch {
        /// Subject of the quote's PCK CA.
        pck_ca: String,
        /// Issuer of the PCK CRL.
        crl_issuer: String,
    },

    // ---- revocation ----
    /// A certificate is listed in its issuer's CRL.
    #[error("{artifact} revoked (serial {serial})")]
    Revoked {
        /// The revoked certificate.
        artifact: Artifact,
        /// Its serial number, hex.
        serial: String,
    },

    // ---- time ----
    /// The verification time is after the end of a validity window.
    #[error("{artifact} expired at {}", Rfc3339Time(*not_after))]
    Expired {
        /// What expired.
        artifact: Artifact,
        /// End of its window.
        not_after: UnixTime,
        /// The verification time.
        time: UnixTime,
    },
    /// The verification time is before the start of a validity window.
    #[error("{artifact} not valid before {}", Rfc3339Time(*not_before))]
    NotYetValid {
        /// What is not yet valid.
        artifact: Artifact,
        /// Start of its window.
        not_before: UnixTime,
        /// The verification time.
        time: UnixTime,
    },

    // ---- collateral does not fit the quote ----
    /// A collateral field does not match the quote or PCK certificate (FMSPC, PCE-ID, TEE kind).
    #[error("collateral mismatch: {field} is {found}, expected {expected}")]
    CollateralMismatch {
        /// The collateral field, e.g. `tcbInfo.fmspc`.
        field: &'static str,
        /// What the quote needs.
        expected: String,
        /// What the collateral holds.
        found: String,
    },

    // ---- QE identity ----
    /// The QE report does not match the QE identity.
    #[error("QE report does not match the QE identity: {field}")]
    QeIdentityMismatch {
        /// The mismatching field (`mrsigner`, `isvprodid`, `miscselect`, `attributes`).
        field: &'static str,
    },
    /// The Quoting Enclave runs in debug mode.
    #[error("the Quoting Enclave is a debug enclave")]
    QeDebug,
    /// The QE ISVSVN is below every QE identity TCB level.
    #[error("no matching QE TCB level for QE ISVSVN {isvsvn}")]
    NoMatchingQeTcbLevel {
        /// The QE's ISVSVN.
        isvsvn: u16,
    },

    // ---- TCB appraisal ----
    /// The platform TCB is below every TCB level (Intel QVL: `TCB_NOT_SUPPORTED`).
    #[error("no matching TCB level")]
    NoMatchingTcbLevel {
        /// PCK SGX TCB components.
        sgx_components: [u8; 16],
        /// PCK PCESVN.
        pcesvn: u16,
        /// TEE_TCB_SVN for TDX.
        tee_tcb_svn: Option<[u8; 16]>,
    },
    /// The TCB info has no module identity `TDX_%02X` for the quote's module version.
    #[error("no TDX module identity {id} in the TCB info")]
    NoTdxModuleIdentity {
        /// The identity looked for.
        id: String,
    },
    /// MRSIGNERSEAM or SEAM attributes do not match the TDX module identity.
    #[error("TDX module does not match its identity: {field}")]
    TdxModuleMismatch {
        /// `mrsigner` or `attributes`.
        field: &'static str,
    },
    /// The TDX module SVN is below every module TCB level.
    #[error("no matching TDX module TCB level for module SVN {isvsvn}")]
    NoMatchingTdxModuleLevel {
        /// `TEE_TCB_SVN[0]`.
        isvsvn: u8,
    },
    /// A TCB level is Revoked: the platform or enclave keys may be compromised.
    #[error("TCB status Revoked ({origin})")]
    TcbRevoked {
        /// Which evaluation gave Revoked.
        origin: TcbSource,
    },
    /// A matched level carries a status that its collateral structure may not use.
    #[error("TCB status {status} is not valid in the {artifact}")]
    InvalidTcbStatus {
        /// The collateral.
        artifact: Artifact,
        /// The status.
        status: TcbStatus,
    },
}

impl Error {
    /// True for the two time-window errors ([`Error::Expired`], [`Error::NotYetValid`]).
    #[must_use]
    pub fn is_time_window(&self) -> bool {
        matches!(self, Self::Expired { .. } | Self::NotYetValid { .. })
    }

    /// True when the bytes could not be parsed as a quote (as opposed to failing verification).
    #[must_use]
    pub fn is_parse_error(&self) -> bool {
        matches!(
            self,
            Self::QuoteTruncated { .. }
                | Self::QuoteMalformed { .. }
                | Self::UnsupportedQuoteVersion { .. }
                | Self::UnsupportedAttestationKeyType { .. }
                | Self::UnsupportedTeeType { .. }
                | Self::UnsupportedBodyType { .. }
                | Self::UnsupportedCertificationDataType { .. }
                | Self::UnknownQeVendor { .. }
                | Self::OeReportMalformed { .. }
        )
    }

    pub(crate) fn collateral(field: &'static str, reason: impl Into<String>) -> Self {
        Self::CollateralMalformed {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn cert(artifact: Artifact, reason: impl Into<String>) -> Self {
        Self::CertificateMalformed {
            artifact,
            reason: reason.into(),
        }
    }
}
