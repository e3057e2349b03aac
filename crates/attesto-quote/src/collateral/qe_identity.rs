//! Typed QE identity (enclave identity v2 for the SGX QE and the TDX TD_QE).

use rustls_pki_types::UnixTime;
use serde::Deserialize;

use super::tcb_info::{IsvLevel, RawIsvLevel};
use super::{decode_hex_array, parse_date};
use crate::error::Error;

const FIELD: &str = "enclaveIdentity";

/// Which enclave a QE identity describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QeIdentityId {
    /// The SGX Quoting Enclave.
    Qe,
    /// The TDX Quoting Enclave.
    TdQe,
    /// The Quote Verification Enclave (not usable to verify quotes).
    Qve,
}

impl QeIdentityId {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Qe => "QE",
            Self::TdQe => "TD_QE",
            Self::Qve => "QVE",
        }
    }
}

/// A parsed QE identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QeIdentity {
    pub(crate) id: QeIdentityId,
    pub(crate) version: u32,
    pub(crate) issue_date: UnixTime,
    pub(crate) next_update: UnixTime,
    pub(crate) tcb_evaluation_data_number: u32,
    /// MISCSELECT as it appears in the report (little-endian bytes).
    pub(crate) miscselect: [u8; 4],
    pub(crate) miscselect_mask: [u8; 4],
    pub(crate) attributes: [u8; 16],
    pub(crate) attributes_mask: [u8; 16],
    pub(crate) mrsigner: [u8; 32],
    pub(crate) isvprodid: u16,
    /// Sorted by ISVSVN, highest first.
    pub(crate) levels: Vec<IsvLevel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawQeIdentity {
    id: String,
    version: u32,
    issue_date: String,
    next_update: String,
    tcb_evaluation_data_number: u32,
    miscselect: String,
    miscselect_mask: String,
    attributes: String,
    attributes_mask: String,
    mrsigner: String,
    isvprodid: u16,
    tcb_levels: Vec<RawIsvLevel>,
}

impl QeIdentity {
    pub(crate) fn parse(json: &str) -> Result<Self, Error> {
        let raw: RawQeIdentity =
            serde_json::from_str(json).map_err(|e| Error::collateral(FIELD, e.to_string()))?;
        let id = match raw.id.as_str() {
            "QE" => QeIdentityId::Qe,
            "TD_QE" => QeIdentityId::TdQe,
            "QVE" => QeIdentityId::Qve,
            other => return Err(Error::collateral(FIELD, format!("unknown id {other:?}"))),
        };
        if !(2..=3).contains(&raw.version) {
            return Err(Error::collateral(
                FIELD,
                format!("unsupported version {}", raw.version),
            ));
        }
        let mut levels = raw
            .tcb_levels
            .into_iter()
            .map(RawIsvLevel::into_level)
            .collect::<Result<Vec<_>, _>>()?;
        if levels.is_empty() {
            return Err(Error::collateral(FIELD, "no tcbLevels"));
        }
        levels.sort_by_key(|level| core::cmp::Reverse(level.isvsvn));
        Ok(Self {
            id,
            version: raw.version,
            issue_date: parse_date(&raw.issue_date, "enclaveIdentity.issueDate")?,
            next_update: parse_date(&raw.next_update, "enclaveIdentity.nextUpdate")?,
            tcb_evaluation_data_number: raw.tcb_evaluation_data_number,
            miscselect: decode_hex_array(&raw.miscselect, "enclaveIdentity.miscselect")?,
            miscselect_mask: decode_hex_array(
                &raw.miscselect_mask,
                "enclaveIdentity.miscselectMask",
            )?,
            attributes: decode_hex_array(&raw.attributes, "enclaveIdentity.attributes")?,
            attributes_mask: decode_hex_array(
                &raw.attributes_mask,
                "enclaveIdentity.attributesMask",
            )?,
            mrsigner: decode_hex_array(&raw.mrsigner, "enclaveIdentity.mrsigner")?,
            isvprodid: raw.isvprodid,
            levels,
        })
    }

    /// The highest level whose ISVSVN the QE meets.
    pub(crate) fn match_level(&self, isvsvn: u16) -> Option<&IsvLevel> {
        self.levels.iter().find(|level| isvsvn >= level.isvsvn)
    }
}
