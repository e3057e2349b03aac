//! TCB Info: the platform TCB levels of one FMSPC, in Intel's v2 (SGX only) and v3 (SGX and
//! TDX) formats.

use rustls_pki_types::UnixTime;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::status::{DEFAULT_TCB_DATE, EnclaveTcbLevel, EnclaveTcbLevelJson, TcbStatus};
use crate::Error;
use crate::time::json_date;

/// The TCB Info format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcbInfoVersion {
    /// v2: no `id`; each level's `tcb` is `{sgxtcbcomp01svn..sgxtcbcomp16svn, pcesvn}`. SGX
    /// only. PCS served it from API v3; some verifiers (dcap-qvl) do not accept it.
    V2,
    /// v3: `id`, `tcb` is `{sgxtcbcomponents:[{svn}..16], pcesvn[, tdxtcbcomponents]}`.
    V3,
}

/// The `id` of a v3 TCB Info.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcbInfoId {
    /// `SGX`.
    Sgx,
    /// `TDX`.
    Tdx,
}

/// One platform TCB level.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TcbLevel {
    /// The 16 SGX TCB component SVNs, compared with the PCK certificate's.
    pub sgx_components: [u8; 16],
    /// PCESVN, compared with the PCK certificate's.
    pub pcesvn: u16,
    /// TDX only: the 16 TDX TCB component SVNs, compared with the report's TEE_TCB_SVN.
    pub tdx_components: Option<[u8; 16]>,
    /// `tcbDate`.
    pub tcb_date: UnixTime,
    /// `tcbStatus`.
    pub status: TcbStatus,
    /// `advisoryIDs` (omitted when empty).
    pub advisory_ids: Vec<String>,
}

impl TcbLevel {
    /// An SGX level dated [`DEFAULT_TCB_DATE`] with no advisories.
    #[must_use]
    pub fn sgx(sgx_components: [u8; 16], pcesvn: u16, status: TcbStatus) -> Self {
        Self {
            sgx_components,
            pcesvn,
            tdx_components: None,
            tcb_date: DEFAULT_TCB_DATE,
            status,
            advisory_ids: Vec::new(),
        }
    }

    /// A TDX level (SGX components, PCESVN and TDX components).
    #[must_use]
    pub fn tdx(
        sgx_components: [u8; 16],
        pcesvn: u16,
        tdx_components: [u8; 16],
        status: TcbStatus,
    ) -> Self {
        Self {
            tdx_components: Some(tdx_components),
            ..Self::sgx(sgx_components, pcesvn, status)
        }
    }

    /// The same level with these advisory IDs.
    #[must_use]
    pub fn with_advisories(mut self, ids: &[&str]) -> Self {
        self.advisory_ids = ids.iter().map(|id| (*id).to_owned()).collect();
        self
    }
}

/// `tdxModule`: the identity of the TDX module when `TEE_TCB_SVN[1]` is 0.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TdxModule {
    /// `mrsigner` (48 bytes), compared with MRSIGNERSEAM.
    pub mrsigner: [u8; 48],
    /// `attributes` (8 bytes), compared with SEAMATTRIBUTES under the mask.
    pub attributes: [u8; 8],
    /// `attributesMask`.
    pub attributes_mask: [u8; 8],
}

/// One entry of `tdxModuleIdentities`, selected by `TDX_%02X` of `TEE_TCB_SVN[1]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TdxModuleIdentity {
    /// `id`, for example `TDX_01`.
    pub id: String,
    /// `mrsigner`.
    pub mrsigner: [u8; 48],
    /// `attributes`.
    pub attributes: [u8; 8],
    /// `attributesMask`.
    pub attributes_mask: [u8; 8],
    /// `tcbLevels`, keyed by the module SVN (`TEE_TCB_SVN[0]`).
    pub tcb_levels: Vec<EnclaveTcbLevel>,
}

/// The content of a TCB Info document.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TcbInfoSpec {
    /// The format.
    pub version: TcbInfoVersion,
    /// `id` (v3 only; v2 has none and is always SGX).
    pub id: TcbInfoId,
    /// `issueDate`.
    pub issue_date: UnixTime,
    /// `nextUpdate`.
    pub next_update: UnixTime,
    /// `fmspc` (v3 writes upper-case hex, v2 lower-case, as PCS did).
    pub fmspc: [u8; 6],
    /// `pceId`.
    pub pce_id: [u8; 2],
    /// `tcbType` (0).
    pub tcb_type: u8,
    /// `tcbEvaluationDataNumber`.
    pub tcb_evaluation_data_number: u32,
    /// `tdxModule` (TDX only).
    pub tdx_module: Option<TdxModule>,
    /// `tdxModuleIdentities` (TDX only; omitted when empty).
    pub tdx_module_identities: Vec<TdxModuleIdentity>,
    /// `tcbLevels`, best first.
    pub tcb_levels: Vec<TcbLevel>,
}

impl TcbInfoSpec {
    /// The exact JSON text that gets signed (compact, Intel's key order).
    ///
    /// # Errors
    /// [`Error::UnsupportedTcbInfo`] for TDX content in v2, [`Error::TimeOutOfRange`],
    /// [`Error::Json`].
    pub fn to_json(&self) -> Result<String, Error> {
        let v2 = self.version == TcbInfoVersion::V2;
        if v2 {
            let tdx_content = self.id == TcbInfoId::Tdx
                || self.tdx_module.is_some()
                || !self.tdx_module_identities.is_empty()
                || self.tcb_levels.iter().any(|l| l.tdx_components.is_some());
            if tdx_content {
                return Err(Error::UnsupportedTcbInfo {
                    version: "v2",
                    what: "TDX content",
                });
            }
        }
        let json = TcbInfoJson {
            id: match (v2, self.id) {
                (true, _) => None,
                (false, TcbInfoId::Sgx) => Some("SGX"),
                (false, TcbInfoId::Tdx) => Some("TDX"),
            },
            version: if v2 { 2 } else { 3 },
            issue_date: json_date(self.issue_date, "issueDate")?,
            next_update: json_date(self.next_update, "nextUpdate")?,
            fmspc: if v2 {
                hex::encode(self.fmspc)
            } else {
                hex::encode_upper(self.fmspc)
            },
            pce_id: hex::encode_upper(self.pce_id),
            tcb_type: self.tcb_type,
            tcb_evaluation_data_number: self.tcb_evaluation_data_number,
            tdx_module: self.tdx_module.as_ref().map(|m| TdxModuleJson {
                mrsigner: hex::encode_upper(m.mrsigner),
                attributes: hex::encode_upper(m.attributes),
                attributes_mask: hex::encode_upper(m.attributes_mask),
            }),
            tdx_module_identities: self
                .tdx_module_identities
                .iter()
                .map(|m| {
                    Ok(TdxModuleIdentityJson {
                        id: &m.id,
                        mrsigner: hex::encode_upper(m.mrsigner),
                        attributes: hex::encode_upper(m.attributes),
                        attributes_mask: hex::encode_upper(m.attributes_mask),
                        tcb_levels: m
                            .tcb_levels
                            .iter()
                            .map(EnclaveTcbLevel::json)
                            .collect::<Result<_, Error>>()?,
                    })
                })
                .collect::<Result<_, Error>>()?,
            tcb_levels: self
                .tcb_levels
                .iter()
                .map(|level| {
                    Ok(TcbLevelJson {
                        tcb: TcbJson {
                            level,
                            version: self.version,
                        },
                        tcb_date: json_date(level.tcb_date, "tcbDate")?,
                        tcb_status: level.status,
                        advisory_ids: &level.advisory_ids,
                    })
                })
                .collect::<Result<_, Error>>()?,
        };
        serde_json::to_string(&json).map_err(Error::json("TCB Info"))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TcbInfoJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'static str>,
    version: u8,
    issue_date: String,
    next_update: String,
    fmspc: String,
    pce_id: String,
    tcb_type: u8,
    tcb_evaluation_data_number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    tdx_module: Option<TdxModuleJson>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tdx_module_identities: Vec<TdxModuleIdentityJson<'a>>,
    tcb_levels: Vec<TcbLevelJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TdxModuleJson {
    mrsigner: String,
    attributes: String,
    attributes_mask: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TdxModuleIdentityJson<'a> {
    id: &'a str,
    mrsigner: String,
    attributes: String,
    attributes_mask: String,
    tcb_levels: Vec<EnclaveTcbLevelJson<'a>>,
}

#[derive(Serialize)]
struct TcbLevelJson<'a> {
    tcb: TcbJson<'a>,
    #[serde(rename = "tcbDate")]
    tcb_date: String,
    #[serde(rename = "tcbStatus")]
    tcb_status: TcbStatus,
    #[serde(rename = "advisoryIDs", skip_serializing_if = "<[String]>::is_empty")]
    advisory_ids: &'a [String],
}

/// The `tcb` object, whose shape is what differs between v2 and v3.
struct TcbJson<'a> {
    level: &'a TcbLevel,
    version: TcbInfoVersion,
}

#[derive(Serialize)]
struct Svn {
    svn: u8,
}

impl Serialize for TcbJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let level = self.level;
        let mut map = serializer.serialize_map(None)?;
        match self.version {
            TcbInfoVersion::V2 => {
                for (index, svn) in (1..).zip(level.sgx_components) {
                    let key: String = format!("sgxtcbcomp{index:02}svn");
                    map.serialize_entry(&key, &svn)?;
                }
                map.serialize_entry("pcesvn", &level.pcesvn)?;
            }
            TcbInfoVersion::V3 => {
                let svns = |c: [u8; 16]| c.map(|svn| Svn { svn });
                map.serialize_entry("sgxtcbcomponents", &svns(level.sgx_components))?;
                map.serialize_entry("pcesvn", &level.pcesvn)?;
                if let Some(tdx) = level.tdx_components {
                    map.serialize_entry("tdxtcbcomponents", &svns(tdx))?;
                }
            }
        }
        map.end()
    }
}
