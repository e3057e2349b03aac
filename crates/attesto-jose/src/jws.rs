//! Compact JWS (RFC 7515 §7.1): `BASE64URL(header) . BASE64URL(payload) . BASE64URL(signature)`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::base64url;
use crate::cert::SignerChain;
use crate::error::Error;
use crate::jwk::Jwk;

/// Size limits applied before any decoding, so hostile input cannot make attesto allocate or
/// parse more than this.
///
/// The defaults fit every real MAA artefact with a wide margin: policy uploads are a few KiB,
/// MAA signing certificates with an embedded SGX quote about 5 KiB each, attestation tokens
/// with runtime claims some tens of KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest compact JWS accepted, in bytes. Default 1 MiB.
    pub max_token_len: usize,
    /// Longest encoded header accepted, in bytes. Default 64 KiB (room for an eight-certificate
    /// `x5c` chain of MAA-sized certificates).
    pub max_header_len: usize,
}

impl Limits {
    /// The default limits (see the field docs).
    pub const DEFAULT: Self = Self {
        max_token_len: 1 << 20,
        max_header_len: 64 << 10,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A JOSE header (RFC 7515 §4). Registered members attesto uses are typed; every other member
/// is kept in `extra`, and [`Jws::header_json`] gives the exact decoded text.
///
/// Serialized members come in the order `alg, jku, kid, typ, cty, x5c, jwk, crit`, then extras;
/// `alg` is always written with its registered name (`RS256`, never the alias `RSA256`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Header {
    /// Signature algorithm (aliases already resolved).
    pub alg: Algorithm,
    /// URL of the signer's JWK Set; MAA sets `<instance>/certs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jku: Option<String>,
    /// Key id of the signer within the `jku` set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Media type of the whole token, `JWT` for MAA tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Media type of the payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cty: Option<String>,
    /// Signer certificate chain, standard base64 DER, signer first (JS SDK, signed policies).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x5c: Option<Vec<String>>,
    /// Signer key; the MAA Python SDK puts its certificate chain in `jwk.x5c`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwk: Option<Jwk>,
    /// Critical extensions. Parsing refuses a header that has any (none are implemented), so
    /// this is only ever set by callers building headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crit: Option<Vec<String>>,
    /// Every other member, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The header as it is on the wire, before `alg` is resolved to a typed value.
#[derive(Deserialize)]
struct WireHeader {
    alg: String,
    #[serde(default)]
    jku: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    cty: Option<String>,
    #[serde(default)]
    x5c: Option<Vec<String>>,
    #[serde(default)]
    jwk: Option<Jwk>,
    #[serde(default)]
    crit: Option<Vec<String>>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl Header {
    /// A header with just `alg`.
    #[must_use]
    pub fn new(alg: Algorithm) -> Self {
        Self {
            alg,
            jku: None,
            kid: None,
            typ: None,
            cty: None,
            x5c: None,
            jwk: None,
            crit: None,
            extra: Map::new(),
        }
    }

    /// The header's JSON text.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Strings, vectors and JSON maps always serialize.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The signer certificate chain from `x5c`, or else from `jwk.x5c`.
    ///
    /// # Errors
    /// [`Error::MissingSigner`] if neither is present, [`Error::ConflictingSigners`] if both are
    /// present and differ, certificate errors otherwise.
    pub fn signer_chain(&self) -> Result<SignerChain, Error> {
        let top = self.x5c.as_ref();
        let nested = self.jwk.as_ref().and_then(|jwk| jwk.x5c.as_ref());
        let x5c = match (top, nested) {
            (Some(a), Some(b)) if a != b => return Err(Error::ConflictingSigners),
            (Some(chain), _) | (None, Some(chain)) => chain,
            (None, None) => return Err(Error::MissingSigner),
        };
        SignerChain::from_x5c(x5c)
    }
}

/// A parsed compact JWS. Parsing checks the shape only; see the `verify` functions for
/// signatures.
#[derive(Debug, Clone, PartialEq)]
pub struct Jws {
    compact: String,
    header: Header,
    header_json: String,
    payload: Vec<u8>,
    signature: Vec<u8>,
    signing_input_len: usize,
}

impl Jws {
    /// Parses a compact JWS with the default [`Limits`].
    ///
    /// # Errors
    /// See [`Jws::parse_with_limits`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_with_limits(text, &Limits::DEFAULT)
    }

    /// Parses a compact JWS.
    ///
    /// The text must be exactly the token: strip JSON quoting and whitespace first (see
    /// [`crate::maa::normalize_request_body`]). An empty payload is allowed (MAA policy reset);
    /// an unsecured token must have an empty signature.
    ///
    /// # Errors
    /// [`Error::TooLarge`], [`Error::NotAscii`], [`Error::MissingFirstPeriod`],
    /// [`Error::MissingSecondPeriod`], [`Error::TooManyPeriods`], [`Error::Base64`],
    /// [`Error::HeaderJson`], [`Error::UnsupportedAlgorithm`], [`Error::CriticalHeader`],
    /// [`Error::UnsecuredWithSignature`].
    pub fn parse_with_limits(text: &str, limits: &Limits) -> Result<Self, Error> {
        if text.len() > limits.max_token_len {
            return Err(Error::TooLarge {
                what: "token",
                len: text.len(),
                limit: limits.max_token_len,
            });
        }
        if let Some((offset, byte)) = text.bytes().enumerate().find(|(_, b)| !b.is_ascii()) {
            return Err(Error::NotAscii { offset, byte });
        }
        let mut parts = text.split('.');
        let header_b64 = parts.next().unwrap_or_default();
        let payload_b64 = parts.next().ok_or(Error::MissingFirstPeriod)?;
        let signature_b64 = parts.next().ok_or(Error::MissingSecondPeriod)?;
        let extra_parts = parts.count();
        if extra_parts > 0 {
            return Err(Error::TooManyPeriods {
                periods: extra_parts.saturating_add(2),
            });
        }
        if header_b64.len() > limits.max_header_len {
            return Err(Error::TooLarge {
                what: "header",
                len: header_b64.len(),
                limit: limits.max_header_len,
            });
        }

        let header_bytes = base64url::decode_field(header_b64, "header")?;
        let header_json = String::from_utf8(header_bytes).map_err(|e| Error::HeaderJson {
            reason: format!("not UTF-8: {e}"),
        })?;
        let header = parse_header(&header_json)?;
        let payload = base64url::decode_field(payload_b64, "payload")?;
        let signature = base64url::decode_field(signature_b64, "signature")?;
        if header.alg.is_unsecured() && !signature.is_empty() {
            return Err(Error::UnsecuredWithSignature {
                len: signature.len(),
            });
        }
        // header_b64 + '.' + payload_b64, both ASCII, so this is a char boundary.
        let signing_input_len = header_b64
            .len()
            .saturating_add(1)
            .saturating_add(payload_b64.len());
        Ok(Self {
            compact: text.to_owned(),
            header,
            header_json,
            payload,
            signature,
            signing_input_len,
        })
    }

    /// The compact text exactly as parsed.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.compact
    }

    /// The typed header.
    #[must_use]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The decoded header JSON, exactly as the signer wrote it.
    #[must_use]
    pub fn header_json(&self) -> &str {
        &self.header_json
    }

    /// The header's algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.header.alg
    }

    /// True for `alg: none`.
    #[must_use]
    pub fn is_unsecured(&self) -> bool {
        self.header.alg.is_unsecured()
    }

    /// The decoded payload bytes (empty for an MAA policy reset).
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload parsed as JSON into `T`.
    ///
    /// # Errors
    /// [`Error::PayloadJson`].
    pub fn payload_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.payload).map_err(|e| Error::PayloadJson {
            reason: e.to_string(),
        })
    }

    /// The decoded signature bytes (empty when unsecured).
    #[must_use]
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The JWS signing input: the first two encoded parts and the period between them, exactly
    /// as received (RFC 7515 §5.2 step 8). Signatures are checked over these bytes, never over a
    /// re-encoding.
    #[must_use]
    pub fn signing_input(&self) -> &str {
        self.compact
            .get(..self.signing_input_len)
            .unwrap_or_default()
    }
}

/// Parses and checks a decoded header.
fn parse_header(json: &str) -> Result<Header, Error> {
    let wire: WireHeader = serde_json::from_str(json).map_err(|e| Error::HeaderJson {
        reason: e.to_string(),
    })?;
    if let Some(names) = wire.crit {
        return Err(Error::CriticalHeader { names });
    }
    Ok(Header {
        alg: Algorithm::from_name(&wire.alg)?,
        jku: wire.jku,
        kid: wire.kid,
        typ: wire.typ,
        cty: wire.cty,
        x5c: wire.x5c,
        jwk: wire.jwk,
        crit: None,
        extra: wire.extra,
    })
}
