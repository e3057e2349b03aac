//! TCB statuses and the `{tcb:{isvsvn}, tcbDate, tcbStatus, advisoryIDs}` levels shared by QE
//! Identity and TDX module identities.

use rustls_pki_types::UnixTime;
use serde::Serialize;

use crate::Error;
use crate::time::{json_date, unix};

/// The `tcbDate` every default level carries: 2025-11-01T00:00:00Z.
pub const DEFAULT_TCB_DATE: UnixTime = unix(1_761_955_200);

/// A `tcbStatus` value from Intel's set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcbStatus {
    /// `UpToDate`.
    UpToDate,
    /// `SWHardeningNeeded`.
    SwHardeningNeeded,
    /// `ConfigurationNeeded`.
    ConfigurationNeeded,
    /// `ConfigurationAndSWHardeningNeeded`.
    ConfigurationAndSwHardeningNeeded,
    /// `OutOfDate`.
    OutOfDate,
    /// `OutOfDateConfigurationNeeded`.
    OutOfDateConfigurationNeeded,
    /// `Revoked`.
    Revoked,
}

impl TcbStatus {
    /// Every status, in Intel's order (best first).
    pub const ALL: [Self; 7] = [
        Self::UpToDate,
        Self::SwHardeningNeeded,
        Self::ConfigurationNeeded,
        Self::ConfigurationAndSwHardeningNeeded,
        Self::OutOfDate,
        Self::OutOfDateConfigurationNeeded,
        Self::Revoked,
    ];

    /// The exact string Intel writes.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UpToDate => "UpToDate",
            Self::SwHardeningNeeded => "SWHardeningNeeded",
            Self::ConfigurationNeeded => "ConfigurationNeeded",
            Self::ConfigurationAndSwHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            Self::OutOfDate => "OutOfDate",
            Self::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            Self::Revoked => "Revoked",
        }
    }
}

impl Serialize for TcbStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A TCB level keyed by an enclave ISVSVN (QE Identity levels, TDX module identity levels).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnclaveTcbLevel {
    /// `tcb.isvsvn`: the level applies to reports with ISVSVN >= this.
    pub isvsvn: u16,
    /// `tcbDate`.
    pub tcb_date: UnixTime,
    /// `tcbStatus`.
    pub status: TcbStatus,
    /// `advisoryIDs` (omitted from the JSON when empty, as Intel does).
    pub advisory_ids: Vec<String>,
}

impl EnclaveTcbLevel {
    /// A level dated [`DEFAULT_TCB_DATE`] with no advisories.
    #[must_use]
    pub fn new(isvsvn: u16, status: TcbStatus) -> Self {
        Self {
            isvsvn,
            tcb_date: DEFAULT_TCB_DATE,
            status,
            advisory_ids: Vec::new(),
        }
    }

    /// The same level with these advisory IDs.
    #[must_use]
    pub fn with_advisories(mut self, ids: &[&str]) -> Self {
        self.advisory_ids = ids.iter().map(|id| (*id).to_owned()).collect();
        self
    }

    pub(crate) fn json(&self) -> Result<EnclaveTcbLevelJson<'_>, Error> {
        Ok(EnclaveTcbLevelJson {
            tcb: IsvSvn {
                isvsvn: self.isvsvn,
            },
            tcb_date: json_date(self.tcb_date, "tcbDate")?,
            tcb_status: self.status,
            advisory_ids: &self.advisory_ids,
        })
    }
}

#[derive(Serialize)]
pub(crate) struct IsvSvn {
    isvsvn: u16,
}

#[derive(Serialize)]
pub(crate) struct EnclaveTcbLevelJson<'a> {
    tcb: IsvSvn,
    #[serde(rename = "tcbDate")]
    tcb_date: String,
    #[serde(rename = "tcbStatus")]
    tcb_status: TcbStatus,
    #[serde(rename = "advisoryIDs", skip_serializing_if = "<[String]>::is_empty")]
    advisory_ids: &'a [String],
}
