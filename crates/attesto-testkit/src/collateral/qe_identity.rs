//! QE Identity v2 (`enclaveIdentity`): what a genuine Quoting Enclave's report looks like.

use rustls_pki_types::UnixTime;
use serde::Serialize;

use super::status::{EnclaveTcbLevel, EnclaveTcbLevelJson};
use crate::Error;
use crate::time::json_date;

/// The `id` of an enclave identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnclaveIdentityId {
    /// `QE`: the SGX Quoting Enclave (SGX quotes).
    Qe,
    /// `TD_QE`: the TD Quoting Enclave (TDX quotes).
    TdQe,
    /// `QVE`: the Quote Verification Enclave (not used by quote verification).
    Qve,
}

impl EnclaveIdentityId {
    /// The exact string Intel writes.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qe => "QE",
            Self::TdQe => "TD_QE",
            Self::Qve => "QVE",
        }
    }
}

/// The attributes mask Intel publishes for its QEs: every flag but MODE64BIT (bit 2), no XFRM.
pub const INTEL_QE_ATTRIBUTES_MASK: [u8; 16] = [
    0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// The content of a QE Identity v2 document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QeIdentitySpec {
    /// `id`.
    pub id: EnclaveIdentityId,
    /// `version` (2).
    pub version: u8,
    /// `issueDate`.
    pub issue_date: UnixTime,
    /// `nextUpdate`.
    pub next_update: UnixTime,
    /// `tcbEvaluationDataNumber`.
    pub tcb_evaluation_data_number: u32,
    /// `miscselect`, written as 8 hex digits of the value.
    pub miscselect: u32,
    /// `miscselectMask`.
    pub miscselect_mask: u32,
    /// `attributes` (16 bytes, in report byte order).
    pub attributes: [u8; 16],
    /// `attributesMask`.
    pub attributes_mask: [u8; 16],
    /// `mrsigner`.
    pub mrsigner: [u8; 32],
    /// `isvprodid`.
    pub isvprodid: u16,
    /// `tcbLevels`, best first.
    pub tcb_levels: Vec<EnclaveTcbLevel>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QeIdentityJson<'a> {
    id: &'static str,
    version: u8,
    issue_date: String,
    next_update: String,
    tcb_evaluation_data_number: u32,
    miscselect: String,
    miscselect_mask: String,
    attributes: String,
    attributes_mask: String,
    mrsigner: String,
    isvprodid: u16,
    tcb_levels: Vec<EnclaveTcbLevelJson<'a>>,
}

impl QeIdentitySpec {
    /// The exact JSON text that gets signed (compact, Intel's key order, upper-case hex).
    ///
    /// # Errors
    /// [`Error::TimeOutOfRange`] or [`Error::Json`].
    pub fn to_json(&self) -> Result<String, Error> {
        let json = QeIdentityJson {
            id: self.id.as_str(),
            version: self.version,
            issue_date: json_date(self.issue_date, "issueDate")?,
            next_update: json_date(self.next_update, "nextUpdate")?,
            tcb_evaluation_data_number: self.tcb_evaluation_data_number,
            miscselect: format!("{:08X}", self.miscselect),
            miscselect_mask: format!("{:08X}", self.miscselect_mask),
            attributes: hex::encode_upper(self.attributes),
            attributes_mask: hex::encode_upper(self.attributes_mask),
            mrsigner: hex::encode_upper(self.mrsigner),
            isvprodid: self.isvprodid,
            tcb_levels: self
                .tcb_levels
                .iter()
                .map(EnclaveTcbLevel::json)
                .collect::<Result<_, _>>()?,
        };
        serde_json::to_string(&json).map_err(Error::json("QE Identity"))
    }
}
