//! Typed TCB info (v2 and v3, SGX and TDX) and TCB level matching.

use std::collections::BTreeMap;

use rustls_pki_types::UnixTime;
use serde::Deserialize;

use super::{decode_hex_array, parse_date};
use crate::error::Error;
use crate::tcb::TcbStatus;

const FIELD: &str = "tcbInfo";

/// Which TEE a TCB info describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TcbInfoId {
    Sgx,
    Tdx,
}

impl TcbInfoId {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Sgx => "SGX",
            Self::Tdx => "TDX",
        }
    }
}

/// Expected signer and attributes of a TDX module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TdxModule {
    pub(crate) mrsigner: [u8; 48],
    pub(crate) attributes: [u8; 8],
    pub(crate) attributes_mask: [u8; 8],
}

/// A TCB level of an enclave-like component (TDX module, QE): one ISVSVN threshold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IsvLevel {
    pub(crate) isvsvn: u16,
    pub(crate) tcb_date: UnixTime,
    pub(crate) status: TcbStatus,
    pub(crate) advisory_ids: Vec<String>,
}

/// A TDX module identity `TDX_%02X` with its own TCB levels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TdxModuleIdentity {
    pub(crate) id: String,
    pub(crate) module: TdxModule,
    pub(crate) levels: Vec<IsvLevel>,
}

/// One platform TCB level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TcbLevel {
    pub(crate) sgx_components: [u8; 16],
    pub(crate) pcesvn: u16,
    pub(crate) tdx_components: Option<[u8; 16]>,
    pub(crate) tcb_date: UnixTime,
    pub(crate) status: TcbStatus,
    pub(crate) advisory_ids: Vec<String>,
}

impl TcbLevel {
    /// Whether a platform with these SVNs is at or above this level. For TDX, when a module
    /// version is present (`tee_tcb_svn[1] > 0`) bytes 0 and 1 are judged by the module
    /// identity instead.
    pub(crate) fn is_met_by(
        &self,
        sgx_components: &[u8; 16],
        pcesvn: u16,
        tee_tcb_svn: Option<&[u8; 16]>,
    ) -> bool {
        let sgx_ok = sgx_components
            .iter()
            .zip(&self.sgx_components)
            .all(|(have, need)| have >= need);
        if !sgx_ok || pcesvn < self.pcesvn {
            return false;
        }
        match (tee_tcb_svn, &self.tdx_components) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(svn), Some(need)) => {
                let skip = if svn[1] > 0 { 2 } else { 0 };
                svn.iter()
                    .zip(need)
                    .skip(skip)
                    .all(|(have, need)| have >= need)
            }
        }
    }
}

/// A parsed TCB info (the content of the signed `tcbInfo` JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TcbInfo {
    pub(crate) id: TcbInfoId,
    pub(crate) version: u32,
    pub(crate) issue_date: UnixTime,
    pub(crate) next_update: UnixTime,
    pub(crate) fmspc: [u8; 6],
    pub(crate) pce_id: [u8; 2],
    pub(crate) tcb_evaluation_data_number: u32,
    pub(crate) tdx_module: Option<TdxModule>,
    pub(crate) tdx_module_identities: Vec<TdxModuleIdentity>,
    /// Sorted from the highest level down, so the first match is the best one.
    pub(crate) levels: Vec<TcbLevel>,
}

impl TcbInfo {
    /// The first (highest) level the platform meets.
    pub(crate) fn match_level(
        &self,
        sgx_components: &[u8; 16],
        pcesvn: u16,
        tee_tcb_svn: Option<&[u8; 16]>,
    ) -> Option<&TcbLevel> {
        self.levels
            .iter()
            .find(|level| level.is_met_by(sgx_components, pcesvn, tee_tcb_svn))
    }

    pub(crate) fn module_identity(&self, id: &str) -> Option<&TdxModuleIdentity> {
        self.tdx_module_identities
            .iter()
            .find(|m| m.id.eq_ignore_ascii_case(id))
    }

    pub(crate) fn parse(json: &str) -> Result<Self, Error> {
        let raw: RawTcbInfo =
            serde_json::from_str(json).map_err(|e| Error::collateral(FIELD, e.to_string()))?;
        let id = match (raw.id.as_deref(), raw.version) {
            // TCB info v2 has no id and is SGX only.
            (None | Some("SGX"), 2 | 3) => TcbInfoId::Sgx,
            (Some("TDX"), 3) => TcbInfoId::Tdx,
            (id, version) => {
                return Err(Error::collateral(
                    FIELD,
                    format!("unsupported id {id:?} version {version}"),
                ));
            }
        };
        let mut levels = raw
            .tcb_levels
            .into_iter()
            .map(|level| level.into_level(raw.version, id))
            .collect::<Result<Vec<_>, _>>()?;
        if levels.is_empty() {
            return Err(Error::collateral(FIELD, "no tcbLevels"));
        }
        // Intel serves levels highest first; sort anyway so matching never depends on it.
        levels.sort_by(|a, b| {
            b.sgx_components
                .cmp(&a.sgx_components)
                .then(b.pcesvn.cmp(&a.pcesvn))
                .then(b.tdx_components.cmp(&a.tdx_components))
        });
        let tdx_module = raw.tdx_module.map(RawTdxModule::into_module).transpose()?;
        if id == TcbInfoId::Tdx && tdx_module.is_none() {
            return Err(Error::collateral(FIELD, "TDX TCB info without tdxModule"));
        }
        let tdx_module_identities = raw
            .tdx_module_identities
            .into_iter()
            .map(|m| {
                let module = RawTdxModule {
                    mrsigner: m.mrsigner,
                    attributes: m.attributes,
                    attributes_mask: m.attributes_mask,
                }
                .into_module()?;
                let mut levels = m
                    .tcb_levels
                    .into_iter()
                    .map(RawIsvLevel::into_level)
                    .collect::<Result<Vec<_>, _>>()?;
                levels.sort_by_key(|level| core::cmp::Reverse(level.isvsvn));
                Ok(TdxModuleIdentity {
                    id: m.id,
                    module,
                    levels,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Self {
            id,
            version: raw.version,
            issue_date: parse_date(&raw.issue_date, "tcbInfo.issueDate")?,
            next_update: parse_date(&raw.next_update, "tcbInfo.nextUpdate")?,
            fmspc: decode_hex_array(&raw.fmspc, "tcbInfo.fmspc")?,
            pce_id: decode_hex_array(&raw.pce_id, "tcbInfo.pceId")?,
            tcb_evaluation_data_number: raw.tcb_evaluation_data_number,
            tdx_module,
            tdx_module_identities,
            levels,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTcbInfo {
    id: Option<String>,
    version: u32,
    issue_date: String,
    next_update: String,
    fmspc: String,
    pce_id: String,
    tcb_evaluation_data_number: u32,
    tdx_module: Option<RawTdxModule>,
    #[serde(default)]
    tdx_module_identities: Vec<RawTdxModuleIdentity>,
    tcb_levels: Vec<RawTcbLevel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTdxModule {
    mrsigner: String,
    attributes: String,
    attributes_mask: String,
}

impl RawTdxModule {
    fn into_module(self) -> Result<TdxModule, Error> {
        Ok(TdxModule {
            mrsigner: decode_hex_array(&self.mrsigner, "tcbInfo.tdxModule.mrsigner")?,
            attributes: decode_hex_array(&self.attributes, "tcbInfo.tdxModule.attributes")?,
            attributes_mask: decode_hex_array(
                &self.attributes_mask,
                "tcbInfo.tdxModule.attributesMask",
            )?,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTdxModuleIdentity {
    id: String,
    mrsigner: String,
    attributes: String,
    attributes_mask: String,
    tcb_levels: Vec<RawIsvLevel>,
}

#[derive(Deserialize)]
pub(super) struct RawIsvTcb {
    isvsvn: u16,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawIsvLevel {
    tcb: RawIsvTcb,
    tcb_date: String,
    tcb_status: String,
    #[serde(rename = "advisoryIDs", default)]
    advisory_ids: Vec<String>,
}

impl RawIsvLevel {
    pub(super) fn into_level(self) -> Result<IsvLevel, Error> {
        Ok(IsvLevel {
            isvsvn: self.tcb.isvsvn,
            tcb_date: parse_date(&self.tcb_date, "tcbLevels.tcbDate")?,
            status: parse_status(&self.tcb_status)?,
            advisory_ids: self.advisory_ids,
        })
    }
}

pub(super) fn parse_status(text: &str) -> Result<TcbStatus, Error> {
    TcbStatus::from_intel(text)
        .ok_or_else(|| Error::collateral("tcbLevels.tcbStatus", format!("unknown status {text:?}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTcbLevel {
    tcb: RawTcb,
    tcb_date: String,
    tcb_status: String,
    #[serde(rename = "advisoryIDs", default)]
    advisory_ids: Vec<String>,
}

#[derive(Deserialize)]
struct RawComponent {
    svn: u8,
}

#[derive(Deserialize)]
struct RawTcb {
    sgxtcbcomponents: Option<Vec<RawComponent>>,
    tdxtcbcomponents: Option<Vec<RawComponent>>,
    pcesvn: u16,
    /// v2 spells the components `sgxtcbcomp01svn` .. `sgxtcbcomp16svn`.
    #[serde(flatten)]
    v2: BTreeMap<String, serde_json::Value>,
}

fn components(list: Option<Vec<RawComponent>>, field: &'static str) -> Result<[u8; 16], Error> {
    let list = list.ok_or_else(|| Error::collateral(field, "missing"))?;
    let svns: Vec<u8> = list.iter().map(|c| c.svn).collect();
    <[u8; 16]>::try_from(svns).map_err(|_| Error::collateral(field, "not 16 components"))
}

impl RawTcbLevel {
    fn into_level(self, version: u32, id: TcbInfoId) -> Result<TcbLevel, Error> {
        let sgx_components = if version == 2 {
            let mut out = [0u8; 16];
            for (i, slot) in (1..=16).zip(out.iter_mut()) {
                *slot = self
                    .tcb
                    .v2
                    .get(&format!("sgxtcbcomp{i:02}svn"))
                    .and_then(serde_json::Value::as_u64)
                    .and_then(|v| u8::try_from(v).ok())
                    .ok_or_else(|| Error::collateral("tcb.sgxtcbcompNNsvn", "missing or > 255"))?;
            }
            out
        } else {
            components(self.tcb.sgxtcbcomponents, "tcb.sgxtcbcomponents")?
        };
        let tdx_components = match id {
            TcbInfoId::Tdx => Some(components(
                self.tcb.tdxtcbcomponents,
                "tcb.tdxtcbcomponents",
            )?),
            TcbInfoId::Sgx => None,
        };
        Ok(TcbLevel {
            sgx_components,
            pcesvn: self.tcb.pcesvn,
            tdx_components,
            tcb_date: parse_date(&self.tcb_date, "tcbLevels.tcbDate")?,
            status: parse_status(&self.tcb_status)?,
            advisory_ids: self.advisory_ids,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn level(sgx: [u8; 16], pcesvn: u16, tdx: Option<[u8; 16]>) -> TcbLevel {
        TcbLevel {
            sgx_components: sgx,
            pcesvn,
            tdx_components: tdx,
            tcb_date: UnixTime::since_unix_epoch(core::time::Duration::ZERO),
            status: TcbStatus::UpToDate,
            advisory_ids: Vec::new(),
        }
    }

    #[test]
    fn v2_and_v3_formats_parse_to_the_same_levels() {
        let v2 = r#"{"version":2,"issueDate":"2025-01-01T00:00:00Z","nextUpdate":"2025-02-01T00:00:00Z","fmspc":"00606A000000","pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":17,"tcbLevels":[{"tcb":{"sgxtcbcomp01svn":1,"sgxtcbcomp02svn":2,"sgxtcbcomp03svn":3,"sgxtcbcomp04svn":4,"sgxtcbcomp05svn":5,"sgxtcbcomp06svn":6,"sgxtcbcomp07svn":7,"sgxtcbcomp08svn":8,"sgxtcbcomp09svn":9,"sgxtcbcomp10svn":10,"sgxtcbcomp11svn":11,"sgxtcbcomp12svn":12,"sgxtcbcomp13svn":13,"sgxtcbcomp14svn":14,"sgxtcbcomp15svn":15,"sgxtcbcomp16svn":16,"pcesvn":13},"tcbDate":"2024-01-01T00:00:00Z","tcbStatus":"SWHardeningNeeded","advisoryIDs":["INTEL-SA-1"]}]}"#;
        let comps: Vec<String> = (1..=16).map(|i| format!(r#"{{"svn":{i}}}"#)).collect();
        let v3 = format!(
            r#"{{"id":"SGX","version":3,"issueDate":"2025-01-01T00:00:00Z","nextUpdate":"2025-02-01T00:00:00Z","fmspc":"00606a000000","pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":17,"tcbLevels":[{{"tcb":{{"sgxtcbcomponents":[{}],"pcesvn":13}},"tcbDate":"2024-01-01T00:00:00Z","tcbStatus":"SWHardeningNeeded","advisoryIDs":["INTEL-SA-1"]}}]}}"#,
            comps.join(",")
        );
        let a = TcbInfo::parse(v2).map_err(|e| e.to_string());
        let b = TcbInfo::parse(&v3).map_err(|e| e.to_string());
        assert!(a.is_ok(), "{a:?}");
        assert_eq!(a.as_ref().map(|t| &t.levels), b.as_ref().map(|t| &t.levels));
        assert_eq!(a.map(|t| t.fmspc), Ok([0x00, 0x60, 0x6a, 0, 0, 0]));
        // A TDX TCB info must have TDX components in every level.
        let tdx = v3.replace(r#""id":"SGX""#, r#""id":"TDX""#);
        assert!(TcbInfo::parse(&tdx).is_err());
        assert!(TcbInfo::parse(&v3.replace("SWHardeningNeeded", "Fine")).is_err());
    }

    #[test]
    fn tdx_skips_module_bytes_when_a_module_version_is_present() {
        let l = level(
            [1; 16],
            5,
            Some([3, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        );
        let sgx = [1; 16];
        // Module SVN 0 < 3, but with a module version (byte 1 > 0) bytes 0/1 are skipped.
        let with_version = [0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(l.is_met_by(&sgx, 5, Some(&with_version)));
        let without_version = [9, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(!l.is_met_by(&sgx, 5, Some(&without_version)));
        let low_comp2 = [0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(!l.is_met_by(&sgx, 5, Some(&low_comp2)));
        // A level without TDX components never matches a TDX platform.
        assert!(!level([0; 16], 0, None).is_met_by(&sgx, 5, Some(&with_version)));
    }

    proptest! {
        /// A level is met exactly when every component (and PCESVN) is at least the level's:
        /// component-wise, never lexicographic.
        #[test]
        fn sgx_match_is_componentwise(
            have in prop::array::uniform16(any::<u8>()),
            need in prop::array::uniform16(any::<u8>()),
            have_pce in any::<u16>(),
            need_pce in any::<u16>(),
        ) {
            let expected = have.iter().zip(&need).all(|(h, n)| h >= n) && have_pce >= need_pce;
            prop_assert_eq!(level(need, need_pce, None).is_met_by(&have, have_pce, None), expected);
        }

        /// The platform always meets its own level, and raising any one component of the level
        /// above the platform's value makes it unmet.
        #[test]
        fn own_level_matches_and_higher_does_not(
            have in prop::array::uniform16(0u8..255),
            index in 0usize..16,
        ) {
            prop_assert!(level(have, 3, None).is_met_by(&have, 3, None));
            let mut higher = have;
            if let Some(c) = higher.get_mut(index) {
                *c = c.saturating_add(1);
            }
            prop_assert!(!level(higher, 3, None).is_met_by(&have, 3, None));
        }

        /// Matching returns the first level in descending order that is met.
        #[test]
        fn first_met_level_wins(have in prop::array::uniform16(any::<u8>())) {
            let info = TcbInfo {
                id: TcbInfoId::Sgx,
                version: 3,
                issue_date: UnixTime::since_unix_epoch(core::time::Duration::ZERO),
                next_update: UnixTime::since_unix_epoch(core::time::Duration::ZERO),
                fmspc: [0; 6],
                pce_id: [0; 2],
                tcb_evaluation_data_number: 1,
                tdx_module: None,
                tdx_module_identities: Vec::new(),
                levels: vec![level([200; 16], 0, None), level([100; 16], 0, None), level([0; 16], 0, None)],
            };
            let matched = info.match_level(&have, 0, None).map(|l| l.sgx_components[0]);
            let expected = if have.iter().all(|&c| c >= 200) { 200 } else if have.iter().all(|&c| c >= 100) { 100 } else { 0 };
            prop_assert_eq!(matched, Some(expected));
        }
    }
}
