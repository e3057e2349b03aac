//! TCB statuses and the rules that combine them (Intel QVL semantics).

use core::fmt;

use serde::Serialize;

/// A TCB status, as Intel spells it in TCB info and QE identity, plus the two TD 1.5 results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum TcbStatus {
    /// Fully patched.
    UpToDate,
    /// Patched, but software mitigations (advisories) are needed in the enclave.
    SWHardeningNeeded,
    /// Patched, but the platform configuration needs changes (e.g. disable SMT).
    ConfigurationNeeded,
    /// Both of the above.
    ConfigurationAndSWHardeningNeeded,
    /// A newer TCB is available; the platform is vulnerable to known issues.
    OutOfDate,
    /// Out of date and needs configuration changes.
    OutOfDateConfigurationNeeded,
    /// TD 1.5: launched on an out-of-date TCB that has since been updated; relaunch the TD.
    TDRelaunchAdvised,
    /// As `TDRelaunchAdvised`, with configuration needed.
    TDRelaunchAdvisedConfigurationNeeded,
    /// Keys may be compromised; never accepted.
    Revoked,
}

impl TcbStatus {
    /// Intel's spelling (e.g. `"SWHardeningNeeded"`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UpToDate => "UpToDate",
            Self::SWHardeningNeeded => "SWHardeningNeeded",
            Self::ConfigurationNeeded => "ConfigurationNeeded",
            Self::ConfigurationAndSWHardeningNeeded => "ConfigurationAndSWHardeningNeeded",
            Self::OutOfDate => "OutOfDate",
            Self::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            Self::TDRelaunchAdvised => "TDRelaunchAdvised",
            Self::TDRelaunchAdvisedConfigurationNeeded => "TDRelaunchAdvisedConfigurationNeeded",
            Self::Revoked => "Revoked",
        }
    }

    /// Parses Intel's spelling.
    #[must_use]
    pub fn from_intel(text: &str) -> Option<Self> {
        ALL.iter().copied().find(|s| s.as_str() == text)
    }

    /// The `sgx_ql_qv_result_t` value Intel's QVL returns for this status.
    #[must_use]
    pub fn sgx_ql_qv_result(self) -> u32 {
        match self {
            Self::UpToDate => 0x0000,
            Self::ConfigurationNeeded => 0xA001,
            Self::OutOfDate => 0xA002,
            Self::OutOfDateConfigurationNeeded => 0xA003,
            Self::Revoked => 0xA005,
            Self::SWHardeningNeeded => 0xA007,
            Self::ConfigurationAndSWHardeningNeeded => 0xA008,
            Self::TDRelaunchAdvised => 0xA009,
            Self::TDRelaunchAdvisedConfigurationNeeded => 0xA00A,
        }
    }

    fn needs_configuration(self) -> bool {
        matches!(
            self,
            Self::ConfigurationNeeded
                | Self::OutOfDateConfigurationNeeded
                | Self::ConfigurationAndSWHardeningNeeded
                | Self::TDRelaunchAdvisedConfigurationNeeded
        )
    }
}

const ALL: [TcbStatus; 9] = [
    TcbStatus::UpToDate,
    TcbStatus::SWHardeningNeeded,
    TcbStatus::ConfigurationNeeded,
    TcbStatus::ConfigurationAndSWHardeningNeeded,
    TcbStatus::OutOfDate,
    TcbStatus::OutOfDateConfigurationNeeded,
    TcbStatus::TDRelaunchAdvised,
    TcbStatus::TDRelaunchAdvisedConfigurationNeeded,
    TcbStatus::Revoked,
];

/// Statuses a platform TCB level in TCB info may carry.
pub(crate) const PLATFORM_STATUSES: &[TcbStatus] = &[
    TcbStatus::UpToDate,
    TcbStatus::SWHardeningNeeded,
    TcbStatus::ConfigurationNeeded,
    TcbStatus::ConfigurationAndSWHardeningNeeded,
    TcbStatus::OutOfDate,
    TcbStatus::OutOfDateConfigurationNeeded,
    TcbStatus::Revoked,
];
/// Statuses a TDX module TCB level may carry.
pub(crate) const TDX_MODULE_STATUSES: &[TcbStatus] = &[
    TcbStatus::UpToDate,
    TcbStatus::OutOfDate,
    TcbStatus::Revoked,
];
/// Statuses a QE identity TCB level may carry (Intel: the first three; the configuration
/// values are tolerated as QVL's parser does).
pub(crate) const QE_STATUSES: &[TcbStatus] = &[
    TcbStatus::UpToDate,
    TcbStatus::OutOfDate,
    TcbStatus::Revoked,
    TcbStatus::ConfigurationNeeded,
    TcbStatus::OutOfDateConfigurationNeeded,
];

impl fmt::Display for TcbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Combines a platform status with a component's (QE or TDX module): only a Revoked or
/// OutOfDate component changes the platform status.
#[must_use]
pub fn converge(platform: TcbStatus, component: TcbStatus) -> TcbStatus {
    use TcbStatus::*;
    match (component, platform) {
        (Revoked, _) => Revoked,
        (OutOfDate, UpToDate | SWHardeningNeeded) => OutOfDate,
        (OutOfDate, ConfigurationNeeded | ConfigurationAndSWHardeningNeeded) => {
            OutOfDateConfigurationNeeded
        }
        _ => platform,
    }
}

/// TD 1.5: if the TD launched on an out-of-date TCB but the current TCB is no longer out of
/// date, advise a relaunch.
#[must_use]
pub fn check_for_relaunch(launch: TcbStatus, current: TcbStatus) -> TcbStatus {
    use TcbStatus::*;
    let launch_outdated = matches!(launch, OutOfDate | OutOfDateConfigurationNeeded);
    let current_fixed = matches!(
        current,
        UpToDate | SWHardeningNeeded | ConfigurationNeeded | ConfigurationAndSWHardeningNeeded
    );
    if !(launch_outdated && current_fixed) {
        return launch;
    }
    if launch.needs_configuration() || current.needs_configuration() {
        TDRelaunchAdvisedConfigurationNeeded
    } else {
        TDRelaunchAdvised
    }
}

/// Appends advisory IDs not yet present, keeping order.
pub(crate) fn union_advisories(into: &mut Vec<String>, more: &[String]) {
    for id in more {
        if !into.contains(id) {
            into.push(id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TcbStatus::*;
    use super::*;

    #[test]
    fn intel_spellings_round_trip() {
        for status in ALL {
            assert_eq!(TcbStatus::from_intel(status.as_str()), Some(status));
        }
        assert_eq!(TcbStatus::from_intel("uptodate"), None);
        assert_eq!(SWHardeningNeeded.sgx_ql_qv_result(), 0xA007);
    }

    #[test]
    fn convergence_table() {
        let cases = [
            (UpToDate, UpToDate, UpToDate),
            (UpToDate, OutOfDate, OutOfDate),
            (SWHardeningNeeded, OutOfDate, OutOfDate),
            (ConfigurationNeeded, OutOfDate, OutOfDateConfigurationNeeded),
            (
                ConfigurationAndSWHardeningNeeded,
                OutOfDate,
                OutOfDateConfigurationNeeded,
            ),
            (OutOfDate, OutOfDate, OutOfDate),
            (ConfigurationNeeded, UpToDate, ConfigurationNeeded),
            (UpToDate, Revoked, Revoked),
            (Revoked, UpToDate, Revoked),
            (
                OutOfDateConfigurationNeeded,
                OutOfDate,
                OutOfDateConfigurationNeeded,
            ),
        ];
        for (platform, component, expected) in cases {
            assert_eq!(
                converge(platform, component),
                expected,
                "{platform} + {component}"
            );
        }
    }

    #[test]
    fn relaunch_table() {
        let cases = [
            (OutOfDate, UpToDate, TDRelaunchAdvised),
            (OutOfDate, SWHardeningNeeded, TDRelaunchAdvised),
            (
                OutOfDate,
                ConfigurationNeeded,
                TDRelaunchAdvisedConfigurationNeeded,
            ),
            (
                OutOfDateConfigurationNeeded,
                UpToDate,
                TDRelaunchAdvisedConfigurationNeeded,
            ),
            (OutOfDate, OutOfDate, OutOfDate),
            (UpToDate, UpToDate, UpToDate),
            (SWHardeningNeeded, UpToDate, SWHardeningNeeded),
        ];
        for (launch, current, expected) in cases {
            assert_eq!(check_for_relaunch(launch, current), expected);
        }
    }

    #[test]
    fn advisories_union_keeps_order_without_duplicates() {
        let mut ids = vec!["A".to_owned(), "B".to_owned()];
        union_advisories(&mut ids, &["B".to_owned(), "C".to_owned(), "A".to_owned()]);
        assert_eq!(ids, ["A", "B", "C"]);
    }
}
