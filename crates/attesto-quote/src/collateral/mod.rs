//! Collateral: the Intel-signed documents a quote is judged against, in the two input formats
//! this crate reads, and their verified, parsed form.
//!
//! Format (a) is a JSON object with `pck_crl_issuer_chain`, `root_ca_crl`, `pck_crl`,
//! `tcb_info_issuer_chain`, `tcb_info`, `tcb_info_signature`, `qe_identity_issuer_chain`,
//! `qe_identity` and `qe_identity_signature` ([`Collateral::from_json`]). Format (b) is the raw
//! Intel PCS v4 responses with their issuer-chain headers ([`Collateral::from_pcs`]).

mod qe_identity;
mod tcb_info;
pub(crate) mod verified;

use aws_lc_rs::digest::{SHA256, digest};
use serde::Deserialize;
use serde_json::value::RawValue;

pub(crate) use qe_identity::{QeIdentity, QeIdentityId};
pub(crate) use tcb_info::{IsvLevel, TcbInfo, TcbInfoId, TdxModule};
pub use verified::VerifiedCollateral;

use crate::error::Error;
use crate::time;
use crate::x509::decode_crl;

/// Collateral as received, before any check. CRLs are DER; the TCB info and QE identity are the
/// exact JSON text Intel signed; signatures are 64 bytes `r || s`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Collateral {
    /// PEM chain of the CA that signed the PCK CRL (PCK CA, then root).
    pub pck_crl_issuer_chain: String,
    /// DER of the Intel SGX Root CA CRL.
    pub root_ca_crl: Vec<u8>,
    /// DER of the PCK CRL (processor or platform CA).
    pub pck_crl: Vec<u8>,
    /// PEM chain of the TCB info signer (TCB signing certificate, then root).
    pub tcb_info_issuer_chain: String,
    /// The signed `tcbInfo` JSON value, byte for byte.
    pub tcb_info: String,
    /// ECDSA P-256 signature over `tcb_info`.
    pub tcb_info_signature: Vec<u8>,
    /// PEM chain of the QE identity signer.
    pub qe_identity_issuer_chain: String,
    /// The signed `enclaveIdentity` JSON value, byte for byte.
    pub qe_identity: String,
    /// ECDSA P-256 signature over `qe_identity`.
    pub qe_identity_signature: Vec<u8>,
}

/// Raw Intel PCS v4 responses: bodies and the issuer-chain header values.
#[derive(Clone, Copy, Debug)]
pub struct PcsResponses<'a> {
    /// Body of `GET /tcb`: `{"tcbInfo":{...},"signature":"..."}`.
    pub tcb_info: &'a str,
    /// `TCB-Info-Issuer-Chain` header (URL-encoded PEM; plain PEM also accepted).
    pub tcb_info_issuer_chain: &'a str,
    /// Body of `GET /qe/identity`: `{"enclaveIdentity":{...},"signature":"..."}`.
    pub qe_identity: &'a str,
    /// `SGX-Enclave-Identity-Issuer-Chain` header.
    pub qe_identity_issuer_chain: &'a str,
    /// Body of `GET /pckcrl` (DER, PEM or hex).
    pub pck_crl: &'a [u8],
    /// `SGX-PCK-CRL-Issuer-Chain` header.
    pub pck_crl_issuer_chain: &'a str,
    /// The root CA CRL (DER, PEM or hex).
    pub root_ca_crl: &'a [u8],
}

#[derive(Deserialize)]
struct JsonCollateral {
    pck_crl_issuer_chain: String,
    root_ca_crl: String,
    pck_crl: String,
    tcb_info_issuer_chain: String,
    tcb_info: String,
    tcb_info_signature: String,
    qe_identity_issuer_chain: String,
    qe_identity: String,
    qe_identity_signature: String,
}

#[derive(Deserialize)]
struct SignedTcbInfo<'a> {
    #[serde(rename = "tcbInfo", borrow)]
    tcb_info: &'a RawValue,
    signature: String,
}

#[derive(Deserialize)]
struct SignedQeIdentity<'a> {
    #[serde(rename = "enclaveIdentity", borrow)]
    enclave_identity: &'a RawValue,
    signature: String,
}

impl Collateral {
    /// Reads format (a): CRLs as hex DER (or PEM), signatures as hex, documents as the exact
    /// signed JSON text.
    ///
    /// # Errors
    /// [`Error::CollateralMalformed`] naming the field.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let raw: JsonCollateral = serde_json::from_str(text)
            .map_err(|e| Error::collateral("collateral", e.to_string()))?;
        Ok(Self {
            pck_crl_issuer_chain: raw.pck_crl_issuer_chain,
            root_ca_crl: decode_crl(raw.root_ca_crl.as_bytes(), "root_ca_crl")?,
            pck_crl: decode_crl(raw.pck_crl.as_bytes(), "pck_crl")?,
            tcb_info_issuer_chain: raw.tcb_info_issuer_chain,
            tcb_info: raw.tcb_info,
            tcb_info_signature: decode_hex(&raw.tcb_info_signature, "tcb_info_signature")?,
            qe_identity_issuer_chain: raw.qe_identity_issuer_chain,
            qe_identity: raw.qe_identity,
            qe_identity_signature: decode_hex(&raw.qe_identity_signature, "qe_identity_signature")?,
        })
    }

    /// Reads format (b), the raw PCS responses. The signed documents are cut out of the bodies
    /// byte for byte; nothing is re-serialized.
    ///
    /// # Errors
    /// [`Error::CollateralMalformed`] naming the field.
    pub fn from_pcs(pcs: &PcsResponses<'_>) -> Result<Self, Error> {
        let tcb: SignedTcbInfo<'_> = serde_json::from_str(pcs.tcb_info)
            .map_err(|e| Error::collateral("tcb_info", e.to_string()))?;
        let qe: SignedQeIdentity<'_> = serde_json::from_str(pcs.qe_identity)
            .map_err(|e| Error::collateral("qe_identity", e.to_string()))?;
        Ok(Self {
            pck_crl_issuer_chain: header_chain(pcs.pck_crl_issuer_chain, "pck_crl_issuer_chain")?,
            root_ca_crl: decode_crl(pcs.root_ca_crl, "root_ca_crl")?,
            pck_crl: decode_crl(pcs.pck_crl, "pck_crl")?,
            tcb_info_issuer_chain: header_chain(
                pcs.tcb_info_issuer_chain,
                "tcb_info_issuer_chain",
            )?,
            tcb_info: tcb.tcb_info.get().to_owned(),
            tcb_info_signature: decode_hex(&tcb.signature, "tcb_info_signature")?,
            qe_identity_issuer_chain: header_chain(
                pcs.qe_identity_issuer_chain,
                "qe_identity_issuer_chain",
            )?,
            qe_identity: qe.enclave_identity.get().to_owned(),
            qe_identity_signature: decode_hex(&qe.signature, "qe_identity_signature")?,
        })
    }

    /// SHA-256 over every field, length-prefixed: the cache key of verified collateral.
    #[must_use]
    pub fn content_hash(&self) -> [u8; 32] {
        let fields: [&[u8]; 9] = [
            self.pck_crl_issuer_chain.as_bytes(),
            &self.root_ca_crl,
            &self.pck_crl,
            self.tcb_info_issuer_chain.as_bytes(),
            self.tcb_info.as_bytes(),
            &self.tcb_info_signature,
            self.qe_identity_issuer_chain.as_bytes(),
            self.qe_identity.as_bytes(),
            &self.qe_identity_signature,
        ];
        let mut ctx = aws_lc_rs::digest::Context::new(&SHA256);
        for field in fields {
            ctx.update(&(field.len() as u64).to_le_bytes());
            ctx.update(field);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }
}

/// Lowercase hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes))
}

/// An issuer-chain header value: URL-encoded PEM as Intel's PCS sends it (which leaves `-`
/// unencoded, so the text still contains `-----BEGIN`), or plain PEM. PEM never contains `%`,
/// so any `%` means the value is encoded.
fn header_chain(value: &str, field: &'static str) -> Result<String, Error> {
    let value = value.trim();
    if !value.contains('%') {
        return Ok(value.to_owned());
    }
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::collateral(field, "URL-decoded chain is not UTF-8"))
}

fn decode_hex(text: &str, field: &'static str) -> Result<Vec<u8>, Error> {
    hex::decode(text.trim()).map_err(|e| Error::collateral(field, format!("hex: {e}")))
}

/// Hex (any case) of exactly `N` bytes.
pub(crate) fn decode_hex_array<const N: usize>(
    text: &str,
    field: &'static str,
) -> Result<[u8; N], Error> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out)
        .map_err(|e| Error::collateral(field, format!("expected {N} hex bytes: {e}")))?;
    Ok(out)
}

pub(crate) fn parse_date(
    text: &str,
    field: &'static str,
) -> Result<rustls_pki_types::UnixTime, Error> {
    time::parse_rfc3339(text)
        .ok_or_else(|| Error::collateral(field, format!("not an RFC 3339 time: {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::header_chain;

    #[test]
    fn issuer_chain_headers_decode_in_every_form() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        // What Intel's PCS sends: `-` left as is, spaces and newlines encoded.
        let pcs = "-----BEGIN%20CERTIFICATE-----%0AMIIB%0A-----END%20CERTIFICATE-----%0A";
        let full = "%2D%2D%2D%2D%2DBEGIN%20CERTIFICATE%2D%2D%2D%2D%2D%0AMIIB%0A%2D%2D%2D%2D%2DEND%20CERTIFICATE%2D%2D%2D%2D%2D%0A";
        // Plain values are trimmed; encoded ones decode to the exact text, newline included.
        assert_eq!(header_chain(pem, "chain").ok().as_deref(), Some(pem.trim()));
        for value in [pcs, full] {
            assert_eq!(header_chain(value, "chain").ok().as_deref(), Some(pem));
        }
    }
}
