//! Minting DCAP quotes (v3, v4, v5; SGX and TDX) signed by a test PCK.
//!
//! ```text
//! header (48) | [v5: body_type u16, body_size u32] | report body
//!   | sig_data_len u32 | quote sig (64) | attestation key (64)
//!   | v3:    QE report (384) | QE report sig (64) | auth len u16 | auth | type 5 | size u32 | PEM chain
//!   | v4/v5: type 6 | size u32 | [QE report | QE sig | auth len | auth | type 5 | size | PEM chain]
//! ```

mod body;
mod writer;

use std::ops::Range;

use aws_lc_rs::digest::{SHA256, digest};

pub use body::{
    INTEL_QE_MRSIGNER, INTEL_TD_QE_MRSIGNER, ReportBody, SGX_ATTRIBUTE_DEBUG, SGX_REPORT_BODY_LEN,
    SgxReportBody, TD_ATTRIBUTE_DEBUG, TD_REPORT_10_LEN, TD_REPORT_15_EX_LEN, TD_REPORT_15_LEN,
    TdReport, TdReportExtension,
};
use writer::Out;

use crate::pki::{PckLeaf, PckLeafSpec};
use crate::{Error, TestKey, TestPki};

/// Length of the quote header.
pub const HEADER_LEN: usize = 48;
/// Attestation key type 2: ECDSA-256 with P-256.
pub const ATTESTATION_KEY_TYPE_ECDSA_P256: u16 = 2;
/// TEE type of SGX quotes.
pub const TEE_TYPE_SGX: u32 = 0x00;
/// TEE type of TDX quotes.
pub const TEE_TYPE_TDX: u32 = 0x81;
/// Intel's QE vendor ID, `939A7233F79C4CA9940A0DB3957F0607`.
pub const INTEL_QE_VENDOR_ID: [u8; 16] = [
    0x93, 0x9A, 0x72, 0x33, 0xF7, 0x9C, 0x4C, 0xA9, 0x94, 0x0A, 0x0D, 0xB3, 0x95, 0x7F, 0x06, 0x07,
];
/// Certification data type 5: PCK certificate chain, PEM, leaf first.
pub const CERT_DATA_PCK_CHAIN: u16 = 5;
/// Certification data type 6: QE report certification data (v4/v5).
pub const CERT_DATA_QE_REPORT: u16 = 6;

/// The quote format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuoteVersion {
    /// Version 3: SGX only, certification data type 5 directly after the QE report.
    V3,
    /// Version 4: SGX (tee_type 0) or TDX 1.0 (tee_type 0x81), certification data type 6.
    V4,
    /// Version 5: a typed, sized body (SGX, TD 1.0, TD 1.5, TD 1.5-Ex), certification data type 6.
    V5,
}

impl QuoteVersion {
    /// The number in the header.
    #[must_use]
    pub fn number(self) -> u16 {
        match self {
            Self::V3 => 3,
            Self::V4 => 4,
            Self::V5 => 5,
        }
    }
}

/// The 48-byte quote header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QuoteHeader {
    /// Version @0.
    pub version: u16,
    /// Attestation key type @2 (2 = ECDSA P-256).
    pub attestation_key_type: u16,
    /// TEE type @4 (reserved, zero, in v3).
    pub tee_type: u32,
    /// QE SVN @8 (v3; reserved in v4/v5).
    pub qe_svn: u16,
    /// PCE SVN @10 (v3; reserved in v4/v5).
    pub pce_svn: u16,
    /// QE vendor ID @12 (16).
    pub qe_vendor_id: [u8; 16],
    /// User data @28 (20); real QEs put a platform identifier here.
    pub user_data: [u8; 20],
}

impl QuoteHeader {
    /// The 48-byte encoding.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Out::with_capacity(HEADER_LEN);
        out.u16(self.version);
        out.u16(self.attestation_key_type);
        out.u32(self.tee_type);
        out.u16(self.qe_svn);
        out.u16(self.pce_svn);
        out.put(&self.qe_vendor_id);
        out.put(&self.user_data);
        out.into_bytes()
    }
}

/// Byte ranges of every part of a [`MintedQuote`], so negative tests can flip exactly one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteOffsets {
    /// The 48-byte header.
    pub header: Range<usize>,
    /// v5 only: `body_type u16, body_size u32`.
    pub body_descriptor: Option<Range<usize>>,
    /// The report body itself.
    pub body: Range<usize>,
    /// What the quote signature covers: header through body (v5: including the descriptor).
    pub signed: Range<usize>,
    /// The `u32` signature data length.
    pub signature_data_len: Range<usize>,
    /// The signature data the length covers.
    pub signature_data: Range<usize>,
    /// ECDSA quote signature, `r || s`.
    pub quote_signature: Range<usize>,
    /// Attestation public key, `x || y`.
    pub attestation_key: Range<usize>,
    /// The `u16` type of the outermost certification data (v3: 5, v4/v5: 6).
    pub certification_data_type: Range<usize>,
    /// The `u32` size of the outermost certification data.
    pub certification_data_size: Range<usize>,
    /// The outermost certification data payload (v3: the PEM chain; v4/v5: the QE report
    /// certification data).
    pub certification_data: Range<usize>,
    /// QE report (384).
    pub qe_report: Range<usize>,
    /// QE report signature by the PCK key, `r || s`.
    pub qe_report_signature: Range<usize>,
    /// The `u16` QE authentication data length.
    pub qe_auth_data_len: Range<usize>,
    /// QE authentication data.
    pub qe_auth_data: Range<usize>,
    /// The `u16` type of the PCK chain certification data (5); in v3 the same bytes as
    /// `certification_data_type`.
    pub pck_chain_type: Range<usize>,
    /// The `u32` size of the PCK chain certification data.
    pub pck_chain_size: Range<usize>,
    /// The PEM chain (leaf, CA, root, NUL).
    pub pck_chain: Range<usize>,
}

/// A minted quote: its bytes, where everything is, and what went into it.
#[derive(Clone, Debug)]
pub struct MintedQuote {
    /// The quote.
    pub bytes: Vec<u8>,
    /// Where each field is in `bytes`.
    pub offsets: QuoteOffsets,
    /// The layout version.
    pub version: QuoteVersion,
    /// The header as written.
    pub header: QuoteHeader,
    /// The report body as written.
    pub body: ReportBody,
    /// The QE report as written (REPORTDATA included).
    pub qe_report: SgxReportBody,
    /// The QE authentication data as written.
    pub qe_auth_data: Vec<u8>,
    /// The attestation key that signed the quote.
    pub attestation_key: TestKey,
    /// The PCK leaf that signed the QE report.
    pub pck_leaf: PckLeaf,
}

impl MintedQuote {
    /// A copy of the quote with bit `bit` (0..8) of byte `offset` flipped; `None` if `offset`
    /// is past the end.
    #[must_use]
    pub fn with_bit_flipped(&self, offset: usize, bit: u8) -> Option<Vec<u8>> {
        let mut bytes = self.bytes.clone();
        let byte = bytes.get_mut(offset)?;
        *byte ^= 1u8.checked_shl(u32::from(bit))?;
        Some(bytes)
    }
}

/// Where the PCK leaf comes from.
#[derive(Clone, Debug)]
enum PckSource {
    Issue(PckLeafSpec),
    Use(Box<PckLeaf>),
}

/// Builds a quote. Start from a constructor (`sgx_v3`, `tdx_v4`, ...), adjust, then
/// [`build`](Self::build) with the PKI that issues the PCK leaf.
///
/// Defaults: a production enclave or TD with placeholder measurements, Intel's QE (or TD QE)
/// identity values, a fresh attestation key, 32 bytes of QE authentication data `00..1F`, and
/// a fresh PCK leaf (Processor CA for SGX, Platform CA for TDX).
#[derive(Clone, Debug)]
#[must_use]
pub struct QuoteBuilder {
    version: QuoteVersion,
    header: QuoteHeader,
    body: ReportBody,
    qe_report: SgxReportBody,
    qe_report_data: Option<[u8; 64]>,
    qe_auth_data: Vec<u8>,
    attestation_key: Option<TestKey>,
    pck: PckSource,
    pck_chain: Option<Vec<u8>>,
    certification_data_type: Option<u16>,
    pck_chain_type: u16,
    body_mismatch: Option<&'static str>,
}

impl QuoteBuilder {
    /// A quote of `version` carrying `body`. Combinations a version cannot carry (TDX in v3,
    /// TD 1.5 in v4) are reported by [`build`](Self::build).
    pub fn new(version: QuoteVersion, body: ReportBody) -> Self {
        let tdx = body.is_tdx();
        let qe_report = if tdx {
            SgxReportBody::intel_td_qe()
        } else {
            SgxReportBody::intel_qe()
        };
        let pck = if tdx {
            PckLeafSpec::platform()
        } else {
            PckLeafSpec::processor()
        };
        let v3 = version == QuoteVersion::V3;
        let header = QuoteHeader {
            version: version.number(),
            attestation_key_type: ATTESTATION_KEY_TYPE_ECDSA_P256,
            tee_type: if tdx { TEE_TYPE_TDX } else { TEE_TYPE_SGX },
            qe_svn: if v3 { qe_report.isvsvn } else { 0 },
            pce_svn: if v3 { pck.extension.tcb.pcesvn } else { 0 },
            qe_vendor_id: INTEL_QE_VENDOR_ID,
            user_data: [
                0xA7, 0x7E, 0x57, 0x70, 0xA7, 0x7E, 0x57, 0x70, 0xA7, 0x7E, 0x57, 0x70, 0xA7, 0x7E,
                0x57, 0x70, 0, 0, 0, 0,
            ],
        };
        Self {
            version,
            header,
            body,
            qe_report,
            qe_report_data: None,
            qe_auth_data: (0u8..32).collect(),
            attestation_key: None,
            pck: PckSource::Issue(pck),
            pck_chain: None,
            certification_data_type: None,
            pck_chain_type: CERT_DATA_PCK_CHAIN,
            body_mismatch: None,
        }
    }

    /// SGX quote v3, the format of every SGX quote Intel's QE has produced so far.
    pub fn sgx_v3() -> Self {
        Self::new(QuoteVersion::V3, ReportBody::Sgx(SgxReportBody::default()))
    }

    /// SGX quote in v4 form (tee_type 0).
    pub fn sgx_v4() -> Self {
        Self::new(QuoteVersion::V4, ReportBody::Sgx(SgxReportBody::default()))
    }

    /// SGX quote in v5 form (body type 1).
    pub fn sgx_v5() -> Self {
        Self::new(QuoteVersion::V5, ReportBody::Sgx(SgxReportBody::default()))
    }

    /// TDX quote v4 (TD report 1.0).
    pub fn tdx_v4() -> Self {
        Self::new(QuoteVersion::V4, ReportBody::Td10(TdReport::default()))
    }

    /// TDX quote v5 with a TD 1.0 body (body type 2).
    pub fn tdx_v5_td10() -> Self {
        Self::new(QuoteVersion::V5, ReportBody::Td10(TdReport::default()))
    }

    /// TDX quote v5 with a TD 1.5 body (body type 3, 648 bytes).
    pub fn tdx_v5_td15() -> Self {
        Self::new(QuoteVersion::V5, ReportBody::Td15(TdReport::default()))
    }

    /// TDX quote v5 with a TD 1.5-Ex body (body type 4, 885 bytes).
    pub fn tdx_v5_td15ex() -> Self {
        Self::new(QuoteVersion::V5, ReportBody::Td15Ex(TdReport::default()))
    }

    /// Replaces the report body (and the header's TEE type to match).
    pub fn body(mut self, body: ReportBody) -> Self {
        self.header.tee_type = if body.is_tdx() {
            TEE_TYPE_TDX
        } else {
            TEE_TYPE_SGX
        };
        self.body = body;
        self
    }

    /// Edits the SGX report body. [`build`](Self::build) fails if the body is a TD report.
    pub fn edit_sgx_body(mut self, edit: impl FnOnce(&mut SgxReportBody)) -> Self {
        match &mut self.body {
            ReportBody::Sgx(body) => edit(body),
            _ => self.body_mismatch = Some("SGX"),
        }
        self
    }

    /// Edits the TD report. [`build`](Self::build) fails if the body is an SGX report.
    pub fn edit_td_report(mut self, edit: impl FnOnce(&mut TdReport)) -> Self {
        match &mut self.body {
            ReportBody::Td10(td) | ReportBody::Td15(td) | ReportBody::Td15Ex(td) => edit(td),
            ReportBody::Sgx(_) => self.body_mismatch = Some("TD"),
        }
        self
    }

    /// Edits the header as it will be written (version, key type, TEE type, vendor ID, ...).
    /// Nothing is re-derived afterwards: a v3 header with version 6 stays version 6.
    pub fn edit_header(mut self, edit: impl FnOnce(&mut QuoteHeader)) -> Self {
        edit(&mut self.header);
        self
    }

    /// Edits the QE report (MRSIGNER, ISVPRODID, ISVSVN, ATTRIBUTES, ...). Its REPORTDATA is
    /// overwritten at build time with `SHA256(attestation key || auth data) || 0^32` unless
    /// [`qe_report_data`](Self::qe_report_data) is set. The v3 header's QE SVN keeps the
    /// default QE's value (verifiers do not read it); set it with
    /// [`edit_header`](Self::edit_header) if it matters.
    pub fn edit_qe_report(mut self, edit: impl FnOnce(&mut SgxReportBody)) -> Self {
        edit(&mut self.qe_report);
        self
    }

    /// Writes this REPORTDATA into the QE report instead of the correct binding (to test the
    /// binding check).
    pub fn qe_report_data(mut self, report_data: [u8; 64]) -> Self {
        self.qe_report_data = Some(report_data);
        self
    }

    /// The QE authentication data (at most 65535 bytes).
    pub fn qe_auth_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.qe_auth_data = data.into();
        self
    }

    /// Signs with this attestation key instead of a fresh one.
    pub fn attestation_key(mut self, key: TestKey) -> Self {
        self.attestation_key = Some(key);
        self
    }

    /// Issues the PCK leaf from this spec (serial, validity, CA, SGX extension).
    pub fn pck_leaf_spec(mut self, spec: PckLeafSpec) -> Self {
        self.pck = PckSource::Issue(spec);
        self
    }

    /// Uses an already issued PCK leaf (its key signs the QE report).
    pub fn pck_leaf(mut self, leaf: PckLeaf) -> Self {
        self.pck = PckSource::Use(Box::new(leaf));
        self
    }

    /// Writes these bytes as the PCK chain certification data instead of
    /// `leaf || CA || root || NUL` (PEM).
    pub fn pck_chain_bytes(mut self, chain: impl Into<Vec<u8>>) -> Self {
        self.pck_chain = Some(chain.into());
        self
    }

    /// Writes this type for the outermost certification data (default 5 in v3, 6 in v4/v5).
    pub fn certification_data_type(mut self, cert_type: u16) -> Self {
        self.certification_data_type = Some(cert_type);
        self
    }

    /// Writes this type for the inner PCK chain certification data of a v4/v5 quote
    /// (default 5). In v3 use [`certification_data_type`](Self::certification_data_type).
    pub fn pck_chain_type(mut self, cert_type: u16) -> Self {
        self.pck_chain_type = cert_type;
        self
    }

    /// Mints the quote, issuing a PCK leaf from `pki` unless one was given.
    ///
    /// # Errors
    /// [`Error::UnsupportedLayout`] for a body the version cannot carry or an `edit_*` call
    /// that did not match the body; [`Error::TooLong`] for oversized auth data or chain;
    /// [`Error::Key`] / [`Error::Certificate`] from signing.
    pub fn build(self, pki: &TestPki) -> Result<MintedQuote, Error> {
        let version = self.version;
        let supported = match (version, &self.body) {
            (QuoteVersion::V3, body) => !body.is_tdx(),
            (QuoteVersion::V4, body) => matches!(body, ReportBody::Sgx(_) | ReportBody::Td10(_)),
            (QuoteVersion::V5, _) => true,
        };
        if !supported || self.body_mismatch.is_some() {
            return Err(Error::UnsupportedLayout {
                version: version.number(),
                body: self.body_mismatch.unwrap_or(self.body.kind_name()),
            });
        }
        let pck_leaf = match self.pck {
            PckSource::Issue(spec) => pki.issue_pck_leaf(&spec)?,
            PckSource::Use(leaf) => *leaf,
        };
        let attestation_key = match self.attestation_key {
            Some(key) => key,
            None => TestKey::generate()?,
        };
        let attestation_xy = attestation_key.public_key_xy();
        let auth_len = checked_u16("QE authentication data", self.qe_auth_data.len())?;

        let mut qe_report = self.qe_report;
        qe_report.report_data = match self.qe_report_data {
            Some(data) => data,
            None => qe_report_data(&attestation_xy, &self.qe_auth_data),
        };
        let qe_report_bytes = qe_report.to_bytes();
        let qe_report_sig = pck_leaf.cert().key().sign(&qe_report_bytes)?;
        let chain = match self.pck_chain {
            Some(chain) => chain,
            None => {
                let mut pem = pck_leaf.chain_pem(pki).into_bytes();
                pem.push(0);
                pem
            }
        };
        let chain_len = checked_u32("PCK certificate chain", chain.len())?;

        let mut out = Out::default();
        let header = out.put(&self.header.to_bytes());
        let body_bytes = self.body.to_bytes();
        let body_descriptor = (version == QuoteVersion::V5).then(|| {
            let start = out.len();
            out.u16(self.body.v5_body_type());
            // Body lengths are at most 885, so this never saturates.
            out.u32(u32::try_from(body_bytes.len()).unwrap_or(u32::MAX));
            start..out.len()
        });
        let body = out.put(&body_bytes);
        let signed = header.start..body.end;
        let quote_sig = attestation_key.sign(out.as_bytes())?;

        let signature_data_len = out.u32(0);
        let quote_signature = out.put(&quote_sig);
        let attestation_key_range = out.put(&attestation_xy);
        let qe_section = |out: &mut Out, pck_type: u16| {
            let qe_report = out.put(&qe_report_bytes);
            let qe_report_signature = out.put(&qe_report_sig);
            let qe_auth_data_len = out.u16(auth_len);
            let qe_auth_data = out.put(&self.qe_auth_data);
            let pck_chain_type = out.u16(pck_type);
            let pck_chain_size = out.u32(chain_len);
            let pck_chain = out.put(&chain);
            QeSection {
                qe_report,
                qe_report_signature,
                qe_auth_data_len,
                qe_auth_data,
                pck_chain_type,
                pck_chain_size,
                pck_chain,
            }
        };
        let (certification_data_type, certification_data_size, certification_data, qe) = if version
            == QuoteVersion::V3
        {
            let qe = qe_section(
                &mut out,
                self.certification_data_type.unwrap_or(CERT_DATA_PCK_CHAIN),
            );
            (
                qe.pck_chain_type.clone(),
                qe.pck_chain_size.clone(),
                qe.pck_chain.clone(),
                qe,
            )
        } else {
            let outer_type = out.u16(self.certification_data_type.unwrap_or(CERT_DATA_QE_REPORT));
            let outer_size = out.u32(0);
            let qe = qe_section(&mut out, self.pck_chain_type);
            let payload = outer_size.end..out.len();
            out.patch_u32(
                &outer_size,
                checked_u32("QE report certification data", payload.len())?,
            );
            (outer_type, outer_size, payload, qe)
        };
        let signature_data = signature_data_len.end..out.len();
        out.patch_u32(
            &signature_data_len,
            checked_u32("signature data", signature_data.len())?,
        );

        Ok(MintedQuote {
            bytes: out.into_bytes(),
            offsets: QuoteOffsets {
                header,
                body_descriptor,
                body,
                signed,
                signature_data_len,
                signature_data,
                quote_signature,
                attestation_key: attestation_key_range,
                certification_data_type,
                certification_data_size,
                certification_data,
                qe_report: qe.qe_report,
                qe_report_signature: qe.qe_report_signature,
                qe_auth_data_len: qe.qe_auth_data_len,
                qe_auth_data: qe.qe_auth_data,
                pck_chain_type: qe.pck_chain_type,
                pck_chain_size: qe.pck_chain_size,
                pck_chain: qe.pck_chain,
            },
            version,
            header: self.header,
            body: self.body,
            qe_report,
            qe_auth_data: self.qe_auth_data,
            attestation_key,
            pck_leaf,
        })
    }
}

struct QeSection {
    qe_report: Range<usize>,
    qe_report_signature: Range<usize>,
    qe_auth_data_len: Range<usize>,
    qe_auth_data: Range<usize>,
    pck_chain_type: Range<usize>,
    pck_chain_size: Range<usize>,
    pck_chain: Range<usize>,
}

/// The QE report's REPORTDATA that binds the attestation key:
/// `SHA256(attestation key x||y || QE auth data) || 32 zero bytes`.
#[must_use]
pub fn qe_report_data(attestation_key_xy: &[u8; 64], qe_auth_data: &[u8]) -> [u8; 64] {
    let mut input = Vec::with_capacity(64 + qe_auth_data.len());
    input.extend_from_slice(attestation_key_xy);
    input.extend_from_slice(qe_auth_data);
    let hash = digest(&SHA256, &input);
    let mut data = [0u8; 64];
    data[..32].copy_from_slice(hash.as_ref());
    data
}

fn checked_u16(field: &'static str, len: usize) -> Result<u16, Error> {
    u16::try_from(len).map_err(|_| Error::TooLong {
        field,
        len,
        max: usize::from(u16::MAX),
    })
}

fn checked_u32(field: &'static str, len: usize) -> Result<u32, Error> {
    u32::try_from(len).map_err(|_| Error::TooLong {
        field,
        len,
        max: usize::try_from(u32::MAX).unwrap_or(usize::MAX),
    })
}
