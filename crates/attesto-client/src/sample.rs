//! The enclave-info JSON files of Microsoft's MAA SGX sample (`genquote_host` writes them,
//! `validatequotes` reads them), in both variants:
//!
//! | | Intel SGX SDK | Open Enclave SDK |
//! |---|---|---|
//! | `QuoteHex` | raw `sgx_quote3_t` | OE report: 16-byte header + `sgx_quote3_t` |
//! | `Attributes` | SGX `ATTRIBUTES.FLAGS` (7 debug, 5 release) | OE attributes (3 debug, 2 release) |
//! | endpoint | `attest/SgxEnclave` | `attest/OpenEnclave` |
//!
//! The writer reproduces the sample's hand-written format byte for byte (fixed key order,
//! two-space indent, uppercase hex, trailing newline), so files written here and files written
//! by the sample are interchangeable. The reader follows the sample's: exact-case member names,
//! hex of even length in either case, unknown members ignored.

use std::fmt::Write as _;

use attesto_quote::quote::{OE_HEADER_LEN, is_oe_report, parse_oe_report};
use attesto_quote::{Quote, ReportBody};
use aws_lc_rs::digest::{SHA256, digest};
use serde::Deserialize;

/// `Type` of every file: `OE_ENCLAVE_TYPE_SGX` (the Intel variant hard-codes it too).
pub const ENCLAVE_TYPE_SGX: u32 = 2;
/// SGX `ATTRIBUTES.FLAGS.DEBUG`.
const SGX_FLAG_DEBUG: u64 = 0x02;
/// `OE_REPORT_ATTRIBUTES_DEBUG`.
const OE_ATTRIBUTE_DEBUG: u64 = 0x01;
/// `OE_REPORT_ATTRIBUTES_REMOTE`: set on every remotely attestable OE report.
const OE_ATTRIBUTE_REMOTE: u64 = 0x02;
/// OE report header: `version = 1`, `type = OE_REPORT_TYPE_SGX_REMOTE (2)`.
const OE_REPORT_VERSION: u32 = 1;
const OE_REPORT_TYPE_SGX_REMOTE: u32 = 2;

/// Which SDK's conventions a file follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Intel SGX SDK: raw quote, SGX attribute flags, `attest/SgxEnclave`.
    IntelSdk,
    /// Open Enclave SDK: OE report, OE attribute bits, `attest/OpenEnclave`.
    OpenEnclave,
}

impl Variant {
    /// The MAA attestation type the evidence is posted to.
    #[must_use]
    pub fn attestation_type(self) -> &'static str {
        match self {
            Self::IntelSdk => "SgxEnclave",
            Self::OpenEnclave => "OpenEnclave",
        }
    }

    /// The request member carrying the evidence (`quote` or `report`).
    #[must_use]
    pub fn evidence_member(self) -> &'static str {
        match self {
            Self::IntelSdk => "quote",
            Self::OpenEnclave => "report",
        }
    }

    /// The sample's debug rule for `Attributes`: Intel `(a & 2) != 0`, OE `(a & 1) == 1`.
    #[must_use]
    pub fn is_debuggable(self, attributes: u64) -> bool {
        match self {
            Self::IntelSdk => attributes & SGX_FLAG_DEBUG != 0,
            Self::OpenEnclave => attributes & OE_ATTRIBUTE_DEBUG == OE_ATTRIBUTE_DEBUG,
        }
    }
}

/// Why a file or a quote could not become an [`EnclaveInfo`].
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The text is not JSON of the expected shape (a member missing or of the wrong type).
    #[error("not an enclave-info file: {reason}")]
    Json {
        /// serde's description, naming the member.
        reason: String,
    },
    /// A `...Hex` member is not hex of even length.
    #[error("{field} is not hex of even length: {reason}")]
    Hex {
        /// The member.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A fixed-size member has another size.
    #[error("{field} must be {expected} bytes, found {found}")]
    Length {
        /// The member.
        field: &'static str,
        /// Required size.
        expected: usize,
        /// Size found.
        found: usize,
    },
    /// The evidence does not parse as an SGX quote (or OE report).
    #[error("QuoteHex: {0}")]
    Quote(#[from] attesto_quote::Error),
    /// The quote is a TDX quote; the sample format describes SGX enclaves only.
    #[error("QuoteHex holds a TDX quote; the sample's format describes SGX enclaves only")]
    NotSgx,
    /// A key file for the enclave-held data is not a PEM public key or PKCS#8 private key.
    #[error("enclave-held-data key: {reason}")]
    Key {
        /// What is wrong.
        reason: String,
    },
}

/// One enclave-info file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnclaveInfo {
    /// `Type`: [`ENCLAVE_TYPE_SGX`] in every file the sample writes.
    pub enclave_type: u32,
    /// `MrEnclaveHex`.
    pub mr_enclave: [u8; 32],
    /// `MrSignerHex`.
    pub mr_signer: [u8; 32],
    /// `ProductIdHex`: ISVPRODID little-endian, then 14 zero bytes.
    pub product_id: [u8; 16],
    /// `SecurityVersion`: ISVSVN.
    pub security_version: u32,
    /// `Attributes`, whose meaning depends on the [`Variant`].
    pub attributes: u64,
    /// `QuoteHex`: the evidence exactly as it is sent (an OE report keeps its header).
    pub quote: Vec<u8>,
    /// `EnclaveHeldDataHex`: the bytes whose SHA-256 is the report data's first half.
    pub enclave_held_data: Vec<u8>,
}

/// The members as the sample's reader sees them (System.Text.Json: exact case, extras ignored).
#[derive(Deserialize)]
struct RawInfo {
    #[serde(rename = "Type")]
    enclave_type: u32,
    #[serde(rename = "MrEnclaveHex")]
    mr_enclave: String,
    #[serde(rename = "MrSignerHex")]
    mr_signer: String,
    #[serde(rename = "ProductIdHex")]
    product_id: String,
    #[serde(rename = "SecurityVersion")]
    security_version: u32,
    #[serde(rename = "Attributes")]
    attributes: u64,
    #[serde(rename = "QuoteHex")]
    quote: String,
    #[serde(rename = "EnclaveHeldDataHex")]
    enclave_held_data: String,
}

/// A member of the file that can disagree with the quote it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `Type` is not 2.
    Type,
    /// `MrEnclaveHex` differs from the quote's MRENCLAVE.
    MrEnclave,
    /// `MrSignerHex` differs from the quote's MRSIGNER.
    MrSigner,
    /// `ProductIdHex` differs from the quote's ISVPRODID.
    ProductId,
    /// `SecurityVersion` differs from the quote's ISVSVN.
    SecurityVersion,
    /// `Attributes` disagrees with the quote's attribute flags (Intel: equal flags; OE: same
    /// debug bit).
    Attributes,
    /// SHA-256 of `EnclaveHeldDataHex` is not the report data's first half, or its second half
    /// is not zero.
    EnclaveHeldData,
}

/// Hex as the sample's HexHelper accepts it: even length, either case, nothing else.
fn parse_hex(field: &'static str, text: &str) -> Result<Vec<u8>, SampleError> {
    hex::decode(text).map_err(|e| SampleError::Hex {
        field,
        reason: e.to_string(),
    })
}

fn parse_fixed<const N: usize>(field: &'static str, text: &str) -> Result<[u8; N], SampleError> {
    let bytes = parse_hex(field, text)?;
    let found = bytes.len();
    bytes.try_into().map_err(|_| SampleError::Length {
        field,
        expected: N,
        found,
    })
}

/// `SHA256(ehd) || 0^32`: the report data that binds the enclave-held data, as the sample's
/// enclaves compute it and as MAA checks it.
#[must_use]
pub fn report_data_for(enclave_held_data: &[u8]) -> [u8; 64] {
    let mut report_data = [0u8; 64];
    report_data[..32].copy_from_slice(digest(&SHA256, enclave_held_data).as_ref());
    report_data
}

/// Size of the Open Enclave sample's enclave-held data: the PEM public key NUL-padded to 512.
pub const OE_EHD_LEN: usize = 512;

/// A public key as PEM `PUBLIC KEY` text (64-column lines, LF endings), the form the sample's
/// enclaves publish as enclave-held data and MAA hashes for its key ids.
#[must_use]
pub fn public_key_pem(spki_der: &[u8]) -> String {
    let b64 = attesto_jose::base64url::encode_std(spki_der);
    let mut pem = String::with_capacity(b64.len() + b64.len() / 64 + 60);
    pem.push_str("-----BEGIN PUBLIC KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    pem
}

/// The enclave-held data for a key, as the sample's enclaves make it: the public key's PEM
/// text; for the Open Enclave variant NUL-padded to [`OE_EHD_LEN`] bytes. `key_pem` is a
/// `PUBLIC KEY` (SPKI) or `PRIVATE KEY` (PKCS#8, RSA or EC) PEM file.
///
/// # Errors
/// [`SampleError::Key`] for other PEM, an unsupported key, or a PEM longer than 512 bytes for
/// the OE variant.
pub fn enclave_held_data_for_key(key_pem: &[u8], variant: Variant) -> Result<Vec<u8>, SampleError> {
    use rustls_pki_types::pem::PemObject as _;
    use rustls_pki_types::{PrivatePkcs8KeyDer, SubjectPublicKeyInfoDer};
    let key_error = |reason: String| SampleError::Key { reason };
    let spki = match SubjectPublicKeyInfoDer::from_pem_slice(key_pem) {
        Ok(spki) => {
            // Refuse anything that is not a key attesto can use, as the private-key path does.
            attesto_jose::PublicKey::from_spki_der(spki.as_ref())
                .map_err(|e| key_error(e.to_string()))?;
            spki.as_ref().to_vec()
        }
        Err(_) => {
            let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(key_pem).map_err(|_| {
                key_error("neither a PUBLIC KEY nor a (PKCS#8) PRIVATE KEY PEM".to_owned())
            })?;
            attesto_jose::SigningKey::from_pkcs8_der(pkcs8.secret_pkcs8_der())
                .and_then(|key| key.public_key_spki_der())
                .map_err(|e| key_error(e.to_string()))?
        }
    };
    let mut ehd = public_key_pem(&spki).into_bytes();
    if variant == Variant::OpenEnclave {
        if ehd.len() > OE_EHD_LEN {
            return Err(key_error(format!(
                "its PEM is {} bytes; the Open Enclave format holds {OE_EHD_LEN}",
                ehd.len()
            )));
        }
        ehd.resize(OE_EHD_LEN, 0);
    }
    Ok(ehd)
}

/// Wraps an SGX quote in an Open Enclave report header, as `oe_get_report` returns it.
#[must_use]
pub fn oe_report(sgx_quote: &[u8]) -> Vec<u8> {
    let mut report = Vec::with_capacity(OE_HEADER_LEN + sgx_quote.len());
    report.extend_from_slice(&OE_REPORT_VERSION.to_le_bytes());
    report.extend_from_slice(&OE_REPORT_TYPE_SGX_REMOTE.to_le_bytes());
    // usize always fits in u64 on supported targets.
    report.extend_from_slice(
        &u64::try_from(sgx_quote.len())
            .unwrap_or(u64::MAX)
            .to_le_bytes(),
    );
    report.extend_from_slice(sgx_quote);
    report
}

impl EnclaveInfo {
    /// Parses a file's text.
    ///
    /// # Errors
    /// [`SampleError::Json`] for a missing member or wrong type, [`SampleError::Hex`] or
    /// [`SampleError::Length`] for a malformed hex member. The quote itself is not parsed here.
    pub fn parse(text: &str) -> Result<Self, SampleError> {
        let raw: RawInfo = serde_json::from_str(text).map_err(|e| SampleError::Json {
            reason: e.to_string(),
        })?;
        Ok(Self {
            enclave_type: raw.enclave_type,
            mr_enclave: parse_fixed("MrEnclaveHex", &raw.mr_enclave)?,
            mr_signer: parse_fixed("MrSignerHex", &raw.mr_signer)?,
            product_id: parse_fixed("ProductIdHex", &raw.product_id)?,
            security_version: raw.security_version,
            attributes: raw.attributes,
            quote: parse_hex("QuoteHex", &raw.quote)?,
            enclave_held_data: parse_hex("EnclaveHeldDataHex", &raw.enclave_held_data)?,
        })
    }

    /// The file text, exactly as the sample's `genquote_host` writes it.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out =
            String::with_capacity(256 + 2 * (self.quote.len() + self.enclave_held_data.len()));
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{{\n  \"Type\": {},\n  \"MrEnclaveHex\": \"{}\",\n  \"MrSignerHex\": \"{}\",\n  \
             \"ProductIdHex\": \"{}\",\n  \"SecurityVersion\": {},\n  \"Attributes\": {},\n  \
             \"QuoteHex\": \"{}\",\n  \"EnclaveHeldDataHex\": \"{}\"\n}}\n",
            self.enclave_type,
            hex::encode_upper(self.mr_enclave),
            hex::encode_upper(self.mr_signer),
            hex::encode_upper(self.product_id),
            self.security_version,
            self.attributes,
            hex::encode_upper(&self.quote),
            hex::encode_upper(&self.enclave_held_data),
        );
        out
    }

    /// The variant, told by the evidence: an OE report starts with its header (`u32 1`), a
    /// quote never does.
    #[must_use]
    pub fn variant(&self) -> Variant {
        if is_oe_report(&self.quote) {
            Variant::OpenEnclave
        } else {
            Variant::IntelSdk
        }
    }

    /// The SGX quote inside the evidence (the OE header removed).
    ///
    /// # Errors
    /// [`SampleError::Quote`] for a malformed OE header.
    pub fn sgx_quote(&self) -> Result<&[u8], SampleError> {
        match self.variant() {
            Variant::IntelSdk => Ok(&self.quote),
            Variant::OpenEnclave => Ok(parse_oe_report(&self.quote)?),
        }
    }

    /// Whether the file says the enclave is debuggable (the variant's rule on `Attributes`).
    #[must_use]
    pub fn is_debuggable(&self) -> bool {
        self.variant().is_debuggable(self.attributes)
    }

    /// The product id as the sample compares it: the first 8 bytes of `ProductIdHex`,
    /// little-endian.
    #[must_use]
    pub fn product_id_u64(&self) -> u64 {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.product_id[..8]);
        u64::from_le_bytes(first)
    }

    /// Builds the file a `genquote_host` of `variant` would write for an enclave whose SGX
    /// quote is `sgx_quote` and whose held data is `enclave_held_data`. Every identity member
    /// is read from the quote; bytes after the quote (padding) are dropped.
    ///
    /// # Errors
    /// [`SampleError::Quote`] if the quote does not parse, [`SampleError::NotSgx`] for a TDX
    /// quote.
    pub fn from_quote(
        variant: Variant,
        sgx_quote: &[u8],
        enclave_held_data: Vec<u8>,
    ) -> Result<Self, SampleError> {
        let parsed = Quote::parse(sgx_quote)?;
        let ReportBody::Sgx(body) = &parsed.body else {
            return Err(SampleError::NotSgx);
        };
        let mut product_id = [0u8; 16];
        product_id[..2].copy_from_slice(&body.isvprodid.to_le_bytes());
        let attributes = match variant {
            Variant::IntelSdk => sgx_flags(&body.attributes),
            Variant::OpenEnclave if body.is_debuggable() => {
                OE_ATTRIBUTE_DEBUG | OE_ATTRIBUTE_REMOTE
            }
            Variant::OpenEnclave => OE_ATTRIBUTE_REMOTE,
        };
        let quote = match variant {
            Variant::IntelSdk => parsed.raw.to_vec(),
            Variant::OpenEnclave => oe_report(parsed.raw),
        };
        Ok(Self {
            enclave_type: ENCLAVE_TYPE_SGX,
            mr_enclave: body.mrenclave,
            mr_signer: body.mrsigner,
            product_id,
            security_version: u32::from(body.isvsvn),
            attributes,
            quote,
            enclave_held_data,
        })
    }

    /// The members that disagree with the quote the file carries, the checks the sample's
    /// own tests make: identity members equal the quote body, the debug rule matches, and the
    /// report data binds the enclave-held data. Empty when the file is consistent. Nothing
    /// here verifies a signature.
    ///
    /// # Errors
    /// [`SampleError::Quote`] if the evidence does not parse, [`SampleError::NotSgx`] for a
    /// TDX quote.
    pub fn disagreements(&self) -> Result<Vec<Field>, SampleError> {
        let parsed = Quote::parse(self.sgx_quote()?)?;
        let ReportBody::Sgx(body) = &parsed.body else {
            return Err(SampleError::NotSgx);
        };
        let mut out = Vec::new();
        if self.enclave_type != ENCLAVE_TYPE_SGX {
            out.push(Field::Type);
        }
        if self.mr_enclave != body.mrenclave {
            out.push(Field::MrEnclave);
        }
        if self.mr_signer != body.mrsigner {
            out.push(Field::MrSigner);
        }
        let mut product_id = [0u8; 16];
        product_id[..2].copy_from_slice(&body.isvprodid.to_le_bytes());
        if self.product_id != product_id {
            out.push(Field::ProductId);
        }
        if self.security_version != u32::from(body.isvsvn) {
            out.push(Field::SecurityVersion);
        }
        let attributes_agree = match self.variant() {
            Variant::IntelSdk => self.attributes == sgx_flags(&body.attributes),
            Variant::OpenEnclave => self.is_debuggable() == body.is_debuggable(),
        };
        if !attributes_agree {
            out.push(Field::Attributes);
        }
        if report_data_for(&self.enclave_held_data) != body.report_data {
            out.push(Field::EnclaveHeldData);
        }
        Ok(out)
    }
}

/// `ATTRIBUTES.FLAGS`: the first 8 bytes of ATTRIBUTES, little-endian.
fn sgx_flags(attributes: &[u8; 16]) -> u64 {
    let mut flags = [0u8; 8];
    flags.copy_from_slice(&attributes[..8]);
    u64::from_le_bytes(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_rules_follow_the_sample_reader() {
        assert_eq!(parse_hex("f", "0aBc").ok(), Some(vec![0x0A, 0xBC]));
        assert!(parse_hex("f", "abc").is_err());
        assert!(parse_hex("f", "0x00").is_err());
        assert!(parse_hex("f", "00 11").is_err());
        assert!(matches!(
            parse_fixed::<4>("f", "0011"),
            Err(SampleError::Length {
                expected: 4,
                found: 2,
                ..
            })
        ));
    }

    #[test]
    fn debug_rules_per_variant() {
        assert!(Variant::IntelSdk.is_debuggable(7));
        assert!(!Variant::IntelSdk.is_debuggable(5));
        assert!(Variant::OpenEnclave.is_debuggable(3));
        assert!(!Variant::OpenEnclave.is_debuggable(2));
    }

    #[test]
    fn oe_header_round_trips() -> Result<(), SampleError> {
        let report = oe_report(&[3, 0, 2, 0]);
        assert_eq!(report.len(), OE_HEADER_LEN + 4);
        assert!(is_oe_report(&report));
        assert_eq!(parse_oe_report(&report)?, &[3, 0, 2, 0]);
        Ok(())
    }

    #[test]
    fn missing_member_is_named() {
        let err = EnclaveInfo::parse(r#"{"Type": 2}"#).err();
        assert!(
            matches!(&err, Some(SampleError::Json { reason }) if reason.contains("MrEnclaveHex")),
            "{err:?}"
        );
    }
}
