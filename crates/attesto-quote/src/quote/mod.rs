//! The DCAP quote binary format (v3, v4, v5), parsed without any verification.
//!
//! ```text
//! header (48) | [v5: body_type u16 | body_size u32] | report body (384 / 584 / 648 / 885)
//!   | sig_data_len u32 | signature data:
//!       quote sig (64) | attestation key (64)
//!       v3:    QE report (384) | QE sig (64) | auth len u16 | auth | type 5 | size u32 | PEM chain
//!       v4/v5: type 6 | size u32 | [QE report | QE sig | auth len | auth | type 5 | size | PEM chain]
//! ```
//! Bytes after the signature data (quote files are often zero-padded) are ignored.

mod body;
mod oe;

use serde::Serialize;

pub use body::{
    ReportBody, SGX_REPORT_BODY_LEN, SgxReportBody, TD_REPORT_10_LEN, TD_REPORT_15_EX_LEN,
    TD_REPORT_15_LEN, TdReport, TdReportExtension,
};
pub use oe::{OE_HEADER_LEN, is_oe_report, parse_oe_report};

use crate::error::Error;
use crate::reader::Reader;

/// Length of the quote header.
pub const HEADER_LEN: usize = 48;
/// Intel's Quoting Enclave vendor ID.
pub const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07,
];
/// Attestation key type 2: ECDSA-256 with P-256, the only one Intel's QE produces.
pub const ATTESTATION_KEY_ECDSA_P256: u16 = 2;
const TEE_TYPE_SGX: u32 = 0x00;
const TEE_TYPE_TDX: u32 = 0x81;
const CERT_DATA_PCK_CHAIN: u16 = 5;
const CERT_DATA_QE_REPORT: u16 = 6;

/// The trusted execution environment that produced the quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TeeType {
    /// Intel SGX enclave.
    Sgx,
    /// Intel TDX trust domain.
    Tdx,
}

impl TeeType {
    /// `"sgx"` or `"tdx"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sgx => "sgx",
            Self::Tdx => "tdx",
        }
    }
}

/// The kind of report body (v5 names them; v3/v4 imply them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyType {
    /// SGX enclave report (v5 type 1).
    Sgx,
    /// TD report 1.0 (v5 type 2).
    Td10,
    /// TD report 1.5 (v5 type 3).
    Td15,
    /// TD report 1.5 with extension (v5 type 4).
    Td15Ex,
}

impl BodyType {
    /// The v5 body type number.
    #[must_use]
    pub fn number(self) -> u16 {
        match self {
            Self::Sgx => 1,
            Self::Td10 => 2,
            Self::Td15 => 3,
            Self::Td15Ex => 4,
        }
    }

    fn len(self) -> usize {
        match self {
            Self::Sgx => SGX_REPORT_BODY_LEN,
            Self::Td10 => TD_REPORT_10_LEN,
            Self::Td15 => TD_REPORT_15_LEN,
            Self::Td15Ex => TD_REPORT_15_EX_LEN,
        }
    }
}

/// The 48-byte quote header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QuoteHeader {
    /// 3, 4 or 5.
    pub version: u16,
    /// Always 2 (ECDSA P-256) for accepted quotes.
    pub attestation_key_type: u16,
    /// SGX or TDX (v3 quotes are SGX).
    pub tee_type: TeeType,
    /// QE security version (v3; reserved in v4/v5).
    pub qe_svn: u16,
    /// PCE security version (v3; reserved in v4/v5).
    pub pce_svn: u16,
    /// Intel's QE vendor ID.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub qe_vendor_id: [u8; 16],
    /// Data the QE put in (the first 16 bytes are the platform's QE ID).
    #[serde(serialize_with = "hex::serde::serialize")]
    pub user_data: [u8; 20],
}

/// A parsed quote. Borrowed parts point into the quote bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quote<'a> {
    /// The header.
    pub header: QuoteHeader,
    /// Which body layout.
    pub body_type: BodyType,
    /// The enclave or TD report.
    pub body: ReportBody,
    /// Signature of header || body by the attestation key (r || s).
    #[serde(serialize_with = "hex::serde::serialize")]
    pub signature: [u8; 64],
    /// The attestation public key (x || y).
    #[serde(serialize_with = "hex::serde::serialize")]
    pub attestation_key: [u8; 64],
    /// The QE report, raw (what the PCK signed).
    #[serde(serialize_with = "hex::serde::serialize")]
    pub qe_report_raw: [u8; SGX_REPORT_BODY_LEN],
    /// The QE report, parsed.
    pub qe_report: SgxReportBody,
    /// Signature of the QE report by the PCK key (r || s).
    #[serde(serialize_with = "hex::serde::serialize")]
    pub qe_report_signature: [u8; 64],
    /// QE authentication data, hashed into the QE report data.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub qe_auth_data: &'a [u8],
    /// The PCK certificate chain (PEM text, leaf first; may end with NUL bytes).
    #[serde(serialize_with = "serialize_pem")]
    pub pck_chain_pem: &'a [u8],
    /// Header || body: what the attestation key signed.
    #[serde(skip)]
    pub signed_region: &'a [u8],
    /// The quote bytes without trailing padding.
    #[serde(skip)]
    pub raw: &'a [u8],
}

fn serialize_pem<S: serde::Serializer>(pem: &&[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(String::from_utf8_lossy(pem).trim_end_matches('\0'))
}

impl<'a> Quote<'a> {
    /// Parses a quote. Bytes after the signature data (file padding) are ignored.
    ///
    /// # Errors
    /// A parse error naming the field and offset, or an `Unsupported*` error for versions, key
    /// types, TEE types, body types or certification data this crate does not verify.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(bytes, 0);
        let header = read_header(&mut r)?;
        let body_type = match header.version {
            3 | 4 => match header.tee_type {
                TeeType::Sgx => BodyType::Sgx,
                TeeType::Tdx => BodyType::Td10,
            },
            _ => read_v5_body_type(&mut r, header.tee_type)?,
        };
        let body = match body_type {
            BodyType::Sgx => ReportBody::Sgx(SgxReportBody::read(&mut r)?),
            other => ReportBody::Td(TdReport::read(&mut r, other.len())?),
        };
        let signed_len = r.offset();
        let signed_region = bytes.get(..signed_len).unwrap_or_default();

        let sig_len = r.u32("signature_data_len")?;
        let sig_len = usize::try_from(sig_len).map_err(|_| Error::QuoteMalformed {
            field: "signature_data_len",
            offset: signed_len,
            reason: "too large",
        })?;
        let mut sig = r.sub(sig_len, "signature_data")?;
        // Anything after the signature data (file padding, test trailers) is not part of the
        // quote; Intel's parser ignores it too.
        let end = r.offset();
        let signature = sig.array("signature")?;
        let attestation_key = sig.array("attestation_key")?;
        let qe = if header.version == 3 {
            let qe = read_qe_certification(&mut sig)?;
            sig.finish("signature_data")?;
            qe
        } else {
            let type_offset = sig.offset();
            let cert_type = sig.u16("certification_data.type")?;
            if cert_type != CERT_DATA_QE_REPORT {
                return Err(Error::UnsupportedCertificationDataType {
                    cert_type,
                    offset: type_offset,
                });
            }
            let size = usize::try_from(sig.u32("certification_data.size")?).unwrap_or(usize::MAX);
            let mut inner = sig.sub(size, "certification_data")?;
            sig.finish("signature_data")?;
            let qe = read_qe_certification(&mut inner)?;
            inner.finish("certification_data")?;
            qe
        };
        Ok(Self {
            header,
            body_type,
            body,
            signature,
            attestation_key,
            qe_report_raw: qe.report_raw,
            qe_report: qe.report,
            qe_report_signature: qe.signature,
            qe_auth_data: qe.auth_data,
            pck_chain_pem: qe.pck_chain_pem,
            signed_region,
            raw: bytes.get(..end).unwrap_or_default(),
        })
    }

    /// The TEE that produced the quote.
    #[must_use]
    pub fn tee(&self) -> TeeType {
        self.header.tee_type
    }
}

fn read_header(r: &mut Reader<'_>) -> Result<QuoteHeader, Error> {
    let version = r.u16("header.version")?;
    if !(3..=5).contains(&version) {
        return Err(Error::UnsupportedQuoteVersion { version });
    }
    let attestation_key_type = r.u16("header.attestation_key_type")?;
    if attestation_key_type != ATTESTATION_KEY_ECDSA_P256 {
        return Err(Error::UnsupportedAttestationKeyType {
            key_type: attestation_key_type,
        });
    }
    let raw_tee_type = r.u32("header.tee_type")?;
    let tee_type = match (version, raw_tee_type) {
        // v3 has a reserved field here; v3 quotes are always SGX.
        (3, 0) | (4 | 5, TEE_TYPE_SGX) => TeeType::Sgx,
        (4 | 5, TEE_TYPE_TDX) => TeeType::Tdx,
        _ => {
            return Err(Error::UnsupportedTeeType {
                version,
                tee_type: raw_tee_type,
            });
        }
    };
    let qe_svn = r.u16("header.qe_svn")?;
    let pce_svn = r.u16("header.pce_svn")?;
    let qe_vendor_id = r.array("header.qe_vendor_id")?;
    if qe_vendor_id != INTEL_QE_VENDOR_ID {
        return Err(Error::UnknownQeVendor {
            vendor_id: qe_vendor_id,
        });
    }
    let user_data = r.array("header.user_data")?;
    Ok(QuoteHeader {
        version,
        attestation_key_type,
        tee_type,
        qe_svn,
        pce_svn,
        qe_vendor_id,
        user_data,
    })
}

fn read_v5_body_type(r: &mut Reader<'_>, tee: TeeType) -> Result<BodyType, Error> {
    let body_type = r.u16("body.type")?;
    let body_size = r.u32("body.size")?;
    let parsed = match body_type {
        1 => BodyType::Sgx,
        2 => BodyType::Td10,
        3 => BodyType::Td15,
        4 => BodyType::Td15Ex,
        _ => {
            return Err(Error::UnsupportedBodyType {
                body_type,
                body_size,
            });
        }
    };
    if usize::try_from(body_size).ok() != Some(parsed.len()) {
        return Err(Error::UnsupportedBodyType {
            body_type,
            body_size,
        });
    }
    let fits = matches!(
        (tee, parsed),
        (TeeType::Sgx, BodyType::Sgx)
            | (
                TeeType::Tdx,
                BodyType::Td10 | BodyType::Td15 | BodyType::Td15Ex
            )
    );
    if !fits {
        return Err(Error::UnsupportedTeeType {
            version: 5,
            tee_type: match tee {
                TeeType::Sgx => TEE_TYPE_SGX,
                TeeType::Tdx => TEE_TYPE_TDX,
            },
        });
    }
    Ok(parsed)
}

struct QeCertification<'a> {
    report_raw: [u8; SGX_REPORT_BODY_LEN],
    report: SgxReportBody,
    signature: [u8; 64],
    auth_data: &'a [u8],
    pck_chain_pem: &'a [u8],
}

/// QE report, its signature, QE auth data and the type-5 PCK chain (the v3 tail, and the
/// content of v4/v5 type-6 certification data).
fn read_qe_certification<'a>(r: &mut Reader<'a>) -> Result<QeCertification<'a>, Error> {
    let report_offset = r.offset();
    let report_raw: [u8; SGX_REPORT_BODY_LEN] = r.array("qe_report")?;
    let report = SgxReportBody::parse(&report_raw, report_offset)?;
    let signature = r.array("qe_report_signature")?;
    let auth_len = r.u16("qe_auth_data.len")?;
    let auth_data = r.bytes(usize::from(auth_len), "qe_auth_data")?;
    let type_offset = r.offset();
    let cert_type = r.u16("pck_certification_data.type")?;
    if cert_type != CERT_DATA_PCK_CHAIN {
        return Err(Error::UnsupportedCertificationDataType {
            cert_type,
            offset: type_offset,
        });
    }
    let size = usize::try_from(r.u32("pck_certification_data.size")?).unwrap_or(usize::MAX);
    let pck_chain_pem = r.bytes(size, "pck_certification_data")?;
    Ok(QeCertification {
        report_raw,
        report,
        signature,
        auth_data,
        pck_chain_pem,
    })
}
