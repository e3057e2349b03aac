//! The one error type of this crate, grouped by cause.

use crate::{Algorithm, KeyKind, cert::TrustFailure};

/// Why a token, key, certificate or payload was rejected, or why signing failed.
///
/// Variants are grouped by cause: malformed compact serialization, malformed header, signer
/// certificates, signatures, keys and signing, client-side token validation, and MAA payloads.
/// Each carries the facts needed to explain the failure to whoever sent the input. Messages for
/// input that is not a JWS at all follow the wording MAA uses ("Malformed JWT: ...").
#[non_exhaustive]
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    // ----- Malformed compact serialization -----
    /// The input is longer than the configured [`Limits`](crate::Limits) allow. Raise the limit
    /// only if a legitimate peer really sends bigger tokens.
    #[error("Malformed JWT: the {what} is {len} bytes, the limit is {limit} bytes")]
    TooLarge {
        /// Which input: "token", "header", "request body".
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The input contains a byte that cannot appear in a compact JWS (they are ASCII only).
    #[error("Malformed JWT: byte {byte:#04x} at offset {offset} is not ASCII")]
    NotAscii {
        /// Offset of the first offending byte.
        offset: usize,
        /// The byte itself.
        byte: u8,
    },
    /// There is no `.` at all: the input is not a compact JWS.
    #[error("Malformed JWT: could not find first period in the token")]
    MissingFirstPeriod,
    /// There is one `.` only: a compact JWS has three parts, even when unsecured (`h.p.`).
    #[error("Malformed JWT: could not find second period in the token")]
    MissingSecondPeriod,
    /// There are more than two `.`: perhaps a JWE (five parts) or two tokens glued together.
    #[error("Malformed JWT: found {periods} periods, a compact JWS has exactly 2")]
    TooManyPeriods {
        /// How many periods the input contains.
        periods: usize,
    },
    /// A base64url field does not decode.
    #[error("Malformed JWT: the {field} is not valid base64url: {problem}")]
    Base64 {
        /// Which field: "header", "payload", "signature", "AttestationPolicy", "jwk.n", ...
        field: &'static str,
        /// What is wrong with it.
        problem: Base64Problem,
    },

    // ----- Malformed header or payload -----
    /// The decoded header is not a JSON object of the expected shape (includes a missing `alg`,
    /// a wrongly typed member and duplicate members).
    #[error("Malformed JWT: the header is not a valid JOSE header: {reason}")]
    HeaderJson {
        /// The JSON parser's explanation, with line and column.
        reason: String,
    },
    /// `alg` names an algorithm attesto does not accept (HMAC, EdDSA, unknown names...).
    #[error("unsupported JWS algorithm {alg:?}")]
    UnsupportedAlgorithm {
        /// The `alg` value as written in the header.
        alg: String,
    },
    /// The header lists critical extensions (`crit`); attesto implements none, and RFC 7515
    /// §4.1.11 requires rejecting a JWS whose critical extensions are not understood.
    #[error("the JWS header marks {names:?} as critical; no header extension is supported")]
    CriticalHeader {
        /// The names listed in `crit`.
        names: Vec<String>,
    },
    /// An unsecured JWS (`alg: none`) carries a signature; RFC 7518 §3.6 requires it empty.
    #[error("an unsecured JWS (alg none) must have an empty signature, found {len} bytes")]
    UnsecuredWithSignature {
        /// Length of the decoded signature.
        len: usize,
    },
    /// The payload is not the JSON the caller asked for.
    #[error("the JWS payload is not valid JSON of the expected shape: {reason}")]
    PayloadJson {
        /// The JSON parser's explanation, with line and column.
        reason: String,
    },

    // ----- Signer certificates -----
    /// A signed JWS names no signer certificate: neither `x5c` nor `jwk.x5c` is present.
    #[error("the JWS header carries no signer certificate (neither x5c nor jwk.x5c)")]
    MissingSigner,
    /// The header carries both `x5c` and `jwk.x5c` and they name different certificates.
    #[error("the JWS header carries both x5c and jwk.x5c and they differ")]
    ConflictingSigners,
    /// A certificate chain (`x5c`) is empty or longer than the limit.
    #[error("the x5c chain has {count} certificates; between 1 and {limit} are accepted")]
    ChainLength {
        /// Number of certificates found.
        count: usize,
        /// The largest accepted number.
        limit: usize,
    },
    /// An `x5c` entry is not base64 (standard alphabet expected, base64url tolerated).
    #[error("x5c[{index}] is not valid base64: {problem}")]
    CertificateBase64 {
        /// Position in the chain, 0 = signer.
        index: usize,
        /// What is wrong with it.
        problem: Base64Problem,
    },
    /// Bytes that should be a DER X.509 certificate are not one.
    #[error("certificate {index} is not a DER X.509 certificate: {reason}")]
    CertificateParse {
        /// Position in the chain or list the certificate came from.
        index: usize,
        /// The parser's explanation.
        reason: String,
    },
    /// The certificate is not valid yet at the verification time.
    #[error("the certificate {subject:?} is not valid before {not_before}, it is now {now}")]
    CertificateNotYetValid {
        /// Subject DN of the certificate.
        subject: String,
        /// Its notBefore, Unix seconds.
        not_before: i64,
        /// The verification time, Unix seconds.
        now: u64,
    },
    /// The certificate expired before the verification time.
    #[error("the certificate {subject:?} expired at {not_after}, it is now {now}")]
    CertificateExpired {
        /// Subject DN of the certificate.
        subject: String,
        /// Its notAfter, Unix seconds.
        not_after: i64,
        /// The verification time, Unix seconds.
        now: u64,
    },
    /// The signer is neither one of the trusted certificates nor issued by one of them through
    /// the chain it presented.
    #[error("the signer {subject:?} (issuer {issuer:?}) is not trusted: {reason}")]
    UntrustedSigner {
        /// Subject DN of the signer certificate.
        subject: String,
        /// Issuer DN of the last certificate of the presented chain that was examined.
        issuer: String,
        /// Which check failed.
        reason: TrustFailure,
    },

    // ----- Keys and signatures -----
    /// A public key in a certificate or JWK is of a type or size attesto does not verify with.
    #[error("unsupported public key: {what}")]
    UnsupportedKey {
        /// What the key is, for example "RSA 1024 bits" or "EC curve 1.3.132.0.35".
        what: String,
    },
    /// The JWS `alg` does not match the type of the key it is verified with or signed by.
    #[error("the algorithm {alg} cannot be used with a {key} key")]
    KeyMismatch {
        /// The algorithm from the header.
        alg: Algorithm,
        /// The key type at hand.
        key: KeyKind,
    },
    /// The signature does not verify with the given key: the token was altered or signed by
    /// someone else.
    #[error("the JWS signature does not verify ({alg} with a {key} key)")]
    BadSignature {
        /// The algorithm from the header.
        alg: Algorithm,
        /// The key the signature was checked against.
        key: KeyKind,
    },
    /// The token is unsecured (`alg: none`) and the caller did not accept unsecured tokens.
    #[error("the JWS is unsecured (alg none) and unsecured tokens are not accepted here")]
    UnsecuredNotAllowed,
    /// A JWK is missing a member or has an invalid one.
    #[error("invalid JWK: {field}: {reason}")]
    Jwk {
        /// The member at fault ("kty", "n", "x5c", ...).
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A private key could not be generated, imported or used.
    #[error("private key: {what}")]
    Key {
        /// What failed.
        what: &'static str,
    },
    /// The certificate handed to a token signer does not hold the signer's public key.
    #[error("the certificate's public key does not belong to the signing key")]
    CertificateKeyMismatch,
    /// rcgen refused to build a certificate (bad parameters or extension).
    #[error("could not build the certificate: {reason}")]
    CertificateGeneration {
        /// rcgen's explanation.
        reason: String,
    },

    // ----- Client-side token validation -----
    /// No key in the key set has the token's `kid` (or, without `kid`, none verified it).
    #[error("no key in the key set matches kid {kid:?}")]
    UnknownKid {
        /// The header `kid`, if any.
        kid: Option<String>,
    },
    /// A claim required for validation is absent.
    #[error("the token has no {claim:?} claim")]
    MissingClaim {
        /// Claim name.
        claim: &'static str,
    },
    /// A claim has the wrong JSON type (for example `exp` as a string).
    #[error("the {claim:?} claim must be {expected}")]
    ClaimType {
        /// Claim name.
        claim: &'static str,
        /// The expected type.
        expected: &'static str,
    },
    /// The token's payload is not a JSON object.
    #[error("the token payload is not a JSON object")]
    ClaimsNotObject,
    /// `exp` plus the allowed slack is in the past.
    #[error("the token expired at {exp}, it is now {now} (slack {slack_secs} s)")]
    Expired {
        /// The `exp` claim, Unix seconds.
        exp: i64,
        /// The validation time, Unix seconds.
        now: u64,
        /// Allowed clock skew, seconds.
        slack_secs: u64,
    },
    /// `nbf` minus the allowed slack is in the future.
    #[error("the token is not valid before {nbf}, it is now {now} (slack {slack_secs} s)")]
    NotYetValid {
        /// The `nbf` claim, Unix seconds.
        nbf: i64,
        /// The validation time, Unix seconds.
        now: u64,
        /// Allowed clock skew, seconds.
        slack_secs: u64,
    },
    /// `iss` is not exactly the expected issuer.
    #[error("issuer mismatch: expected {expected:?}, the token says {found:?}")]
    IssuerMismatch {
        /// The issuer the caller expects.
        expected: String,
        /// The token's `iss`, if any.
        found: Option<String>,
    },
    /// The header `jku` is not exactly the expected key-set URL.
    #[error("jku mismatch: expected {expected:?}, the token says {found:?}")]
    JkuMismatch {
        /// The URL the caller expects.
        expected: String,
        /// The header's `jku`, if any.
        found: Option<String>,
    },

    // ----- MAA payloads -----
    /// A request body is neither a JWS nor a JSON string holding one.
    #[error("the request body is not a JWS or a JSON string holding one: {reason}")]
    RequestBody {
        /// What is wrong.
        reason: String,
    },
    /// A policy payload lacks the `AttestationPolicy` member.
    #[error("Could not find \"AttestationPolicy\" claim in policy token")]
    MissingAttestationPolicy,
    /// A policy-certificate management payload lacks the certificate claim (MAA wording).
    #[error("Could not find \"maa-policyCertificate\" claim in policy token")]
    MissingPolicyCertificate,
}

/// What is wrong with a base64 or base64url field.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Base64Problem {
    /// A byte outside both alphabets, or padding in the middle.
    #[error("invalid byte {byte:#04x} at offset {offset}")]
    InvalidByte {
        /// Offset in the encoded text.
        offset: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The length leaves a single dangling symbol (length mod 4 == 1).
    #[error("invalid length {length}")]
    InvalidLength {
        /// Length of the encoded text without padding.
        length: usize,
    },
    /// The last symbol carries non-zero bits that no encoder would produce.
    #[error("non-canonical last symbol {byte:#04x} at offset {offset}")]
    InvalidLastSymbol {
        /// Offset in the encoded text.
        offset: usize,
        /// The offending symbol.
        byte: u8,
    },
    /// The `=` padding is malformed.
    #[error("malformed padding")]
    InvalidPadding,
}

impl From<base64::DecodeError> for Base64Problem {
    fn from(error: base64::DecodeError) -> Self {
        match error {
            base64::DecodeError::InvalidByte(offset, byte) => Self::InvalidByte { offset, byte },
            base64::DecodeError::InvalidLength(length) => Self::InvalidLength { length },
            base64::DecodeError::InvalidLastSymbol(offset, byte) => {
                Self::InvalidLastSymbol { offset, byte }
            }
            base64::DecodeError::InvalidPadding => Self::InvalidPadding,
        }
    }
}
