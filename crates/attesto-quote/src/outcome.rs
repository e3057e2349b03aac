//! What a successful verification returns.

use rustls_pki_types::UnixTime;
use serde::Serialize;

use crate::pck::PckFacts;
use crate::quote::{BodyType, QuoteHeader, ReportBody, SgxReportBody, TeeType};
use crate::tcb::TcbStatus;
use crate::time::rfc3339_serde;

/// Hashes of the evidence and collateral, for MAA's `x-ms-sgx-collateral` claim: lowercase hex
/// SHA-256 of the bytes exactly as received. MAA does not document which bytes it hashes; this
/// crate hashes the quote (without file padding or Open Enclave header), the signed JSON text of
/// the TCB info and QE identity (the `tcbInfo` / `enclaveIdentity` value, not the PCS envelope),
/// the issuer-chain PEM text as given, and the root CA CRL DER (it is the CRL for both
/// documents' signer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CollateralHashes {
    /// The quote.
    pub quotehash: String,
    /// The TCB info JSON text.
    pub tcbinfohash: String,
    /// The TCB info issuer chain PEM text.
    pub tcbinfocertshash: String,
    /// The CRL covering the TCB info signer (root CA CRL DER).
    pub tcbinfocrlhash: String,
    /// The QE identity JSON text.
    pub qeidhash: String,
    /// The QE identity issuer chain PEM text.
    pub qeidcertshash: String,
    /// The CRL covering the QE identity signer (root CA CRL DER).
    pub qeidcrlhash: String,
}

/// The Quoting Enclave's identity as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QeFacts {
    /// QE MRENCLAVE.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub mrenclave: [u8; 32],
    /// QE MRSIGNER.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub mrsigner: [u8; 32],
    /// QE ISVPRODID.
    pub isvprodid: u16,
    /// QE ISVSVN.
    pub isvsvn: u16,
}

impl From<&SgxReportBody> for QeFacts {
    fn from(report: &SgxReportBody) -> Self {
        Self {
            mrenclave: report.mrenclave,
            mrsigner: report.mrsigner,
            isvprodid: report.isvprodid,
            isvsvn: report.isvsvn,
        }
    }
}

/// The TDX module identity used and its TCB status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TdxModuleStatus {
    /// `TDX_%02X` (module major version), or `None` when the base `tdxModule` was used.
    pub id: Option<String>,
    /// Status of the module's TCB level (`None` when the base `tdxModule` was used).
    pub status: Option<TcbStatus>,
}

/// A quote whose signatures and PCK chain verified, without any collateral
/// ([`crate::verify_signatures_and_chain`]). No TCB status: that needs collateral.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SignedQuote {
    /// SGX or TDX.
    pub tee: TeeType,
    /// 3, 4 or 5.
    pub quote_version: u16,
    /// Body layout.
    pub body_type: BodyType,
    /// Header fields.
    pub header: QuoteHeader,
    /// The enclave or TD report.
    pub report: ReportBody,
    /// What the PCK certificate says about the platform.
    pub pck: PckFacts,
    /// The Quoting Enclave.
    pub qe: QeFacts,
    /// Earliest end of the PCK chain windows.
    #[serde(serialize_with = "rfc3339_serde::serialize")]
    pub earliest_expiry: UnixTime,
}

/// A fully verified quote: everything the attestation service turns into claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VerifiedQuote {
    /// SGX or TDX.
    pub tee: TeeType,
    /// 3, 4 or 5.
    pub quote_version: u16,
    /// Body layout.
    pub body_type: BodyType,
    /// Header fields (QE SVN and PCE SVN are meaningful in v3 only).
    pub header: QuoteHeader,
    /// The enclave or TD report.
    pub report: ReportBody,
    /// What the PCK certificate says about the platform.
    pub pck: PckFacts,
    /// The Quoting Enclave.
    pub qe: QeFacts,
    /// The converged TCB status: platform, TDX module, QE, and TD 1.5 relaunch advice.
    pub status: TcbStatus,
    /// Status of the matched platform TCB level alone.
    pub platform_status: TcbStatus,
    /// Status of the matched QE TCB level.
    pub qe_status: TcbStatus,
    /// TDX only: the module identity and its status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tdx_module: Option<TdxModuleStatus>,
    /// TD 1.5 only: the converged status of the current TCB (`TEE_TCB_SVN2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub td_current_status: Option<TcbStatus>,
    /// Intel security advisories that apply: platform (and TDX module) first, then QE.
    pub advisory_ids: Vec<String>,
    /// Date of the matched platform TCB level (the older one if a TDX module level applied).
    #[serde(serialize_with = "rfc3339_serde::serialize")]
    pub tcb_date: UnixTime,
    /// The lower of the TCB info's and QE identity's `tcbEvaluationDataNumber`.
    pub tcb_evaluation_data_number: u32,
    /// When the first certificate, CRL or collateral document used here expires.
    #[serde(serialize_with = "rfc3339_serde::serialize")]
    pub earliest_expiry: UnixTime,
    /// Hashes for MAA's `x-ms-sgx-collateral` claim.
    pub collateral_hashes: CollateralHashes,
}

impl VerifiedQuote {
    /// The `sgx_ql_qv_result_t` value Intel's QVL would return.
    #[must_use]
    pub fn sgx_ql_qv_result(&self) -> u32 {
        self.status.sgx_ql_qv_result()
    }
}
