//! Replaying measurement logs into PCR values, per bank.
//!
//! A PCR starts at its reset value (PCRs 0-16 and 23 all zeros; 17-22, the DRTM PCRs, all
//! ones) and every measured event extends it: `new = H(old || digest)`. `EV_NO_ACTION` events
//! are not extended. A `StartupLocality` event sets PCR 0's initial value to the locality byte
//! (`00..03` after a locality-3 startup, `00..04` for an H-CRTM). Several logs (SRTM, resume,
//! IMA) are replayed in the order given; the values at the end are what a quote must show.

use std::collections::BTreeMap;

use crate::alg::HashAlg;
use crate::error::Error;
use crate::eventlog::EventLog;
use crate::ima::ImaLog;

/// PCRs of a PC Client TPM.
pub const PCR_COUNT: u32 = 24;

/// One log in a measurement sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MeasurementLog {
    /// A TCG PC Client event log (MAA `"type": "TCG"`).
    Tcg(EventLog),
    /// A Linux IMA measurement list (MAA `"type": "IMA"`).
    Ima(ImaLog),
}

impl MeasurementLog {
    /// Parses a log given MAA's type name (`TCG` or `IMA`, ignoring ASCII case).
    ///
    /// # Errors
    /// [`Error::Unsupported`] for another type, or the log's parse error.
    pub fn parse(kind: &str, bytes: &[u8]) -> Result<MeasurementLog, Error> {
        if kind.eq_ignore_ascii_case("TCG") {
            EventLog::parse(bytes).map(MeasurementLog::Tcg)
        } else if kind.eq_ignore_ascii_case("IMA") {
            ImaLog::parse(bytes).map(MeasurementLog::Ima)
        } else {
            Err(Error::Unsupported {
                what: format!("log type \"{kind}\""),
            })
        }
    }
}

/// The value a PCR has after a TPM reset.
#[must_use]
pub fn reset_value(bank: HashAlg, pcr: u32) -> Vec<u8> {
    let fill = if (17..=22).contains(&pcr) { 0xff } else { 0x00 };
    vec![fill; bank.digest_len()]
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Bank {
    values: Vec<Vec<u8>>,
    /// Bit n: PCR n was extended by at least one event.
    extended: u32,
}

/// The PCR values the logs replay to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    banks: BTreeMap<HashAlg, Bank>,
    startup_locality: Option<u8>,
}

impl Replay {
    /// Replays `logs` in order. The banks replayed are those every TCG log carries (a bank
    /// missing from one log cannot be reconstructed); with IMA logs only, every supported bank.
    ///
    /// # Errors
    /// [`Error::PcrIndexOutOfRange`] for an event on a PCR beyond 23, [`Error::Malformed`]
    /// for a misplaced or invalid `StartupLocality` event.
    pub fn run(logs: &[MeasurementLog]) -> Result<Replay, Error> {
        let mut banks: Vec<HashAlg> = HashAlg::ALL.to_vec();
        for log in logs {
            if let MeasurementLog::Tcg(tcg) = log {
                let carried = tcg.banks();
                banks.retain(|b| carried.contains(b));
            }
        }
        let mut replay = Replay {
            banks: banks
                .into_iter()
                .map(|bank| {
                    let values = (0..PCR_COUNT).map(|pcr| reset_value(bank, pcr)).collect();
                    (
                        bank,
                        Bank {
                            values,
                            extended: 0,
                        },
                    )
                })
                .collect(),
            startup_locality: None,
        };
        for log in logs {
            match log {
                MeasurementLog::Tcg(tcg) => replay.apply_tcg(tcg)?,
                MeasurementLog::Ima(ima) => replay.apply_ima(ima)?,
            }
        }
        Ok(replay)
    }

    fn apply_tcg(&mut self, log: &EventLog) -> Result<(), Error> {
        for event in &log.events {
            if let Some(locality) = event.startup_locality() {
                self.set_locality(locality, event.offset)?;
                continue;
            }
            if !event.is_measured() {
                continue;
            }
            check_pcr(event.pcr)?;
            for (bank, state) in &mut self.banks {
                let digest = event.digest(*bank).ok_or_else(|| {
                    Error::malformed(
                        "TCG event log",
                        "digests",
                        event.offset,
                        format!("event {} has no {bank} digest", event.index),
                    )
                })?;
                extend(*bank, state, event.pcr, digest);
            }
        }
        Ok(())
    }

    fn apply_ima(&mut self, log: &ImaLog) -> Result<(), Error> {
        for entry in &log.entries {
            check_pcr(entry.pcr)?;
            for (bank, state) in &mut self.banks {
                let digest = entry.extend_digest(*bank);
                extend(*bank, state, entry.pcr, &digest);
            }
        }
        Ok(())
    }

    fn set_locality(&mut self, locality: u8, offset: usize) -> Result<(), Error> {
        let problem = if self.startup_locality.is_some() {
            Some("a second StartupLocality event")
        } else if self.banks.values().any(|b| b.extended & 1 != 0) {
            Some("StartupLocality after PCR 0 was extended")
        } else if locality > 4 {
            Some("StartupLocality is not 0, 3 or 4")
        } else {
            None
        };
        if let Some(reason) = problem {
            return Err(Error::malformed(
                "TCG event log",
                "StartupLocality",
                offset,
                reason,
            ));
        }
        self.startup_locality = Some(locality);
        for (bank, state) in &mut self.banks {
            let mut value = vec![0u8; bank.digest_len()];
            if let Some(last) = value.last_mut() {
                *last = locality;
            }
            if let Some(pcr0) = state.values.first_mut() {
                *pcr0 = value;
            }
        }
        Ok(())
    }

    /// The replayed banks.
    pub fn banks(&self) -> impl Iterator<Item = HashAlg> + '_ {
        self.banks.keys().copied()
    }

    /// Whether `bank` was replayed.
    #[must_use]
    pub fn has_bank(&self, bank: HashAlg) -> bool {
        self.banks.contains_key(&bank)
    }

    /// A PCR's replayed value.
    #[must_use]
    pub fn value(&self, bank: HashAlg, pcr: u32) -> Option<&[u8]> {
        let index = usize::try_from(pcr).ok()?;
        self.banks.get(&bank)?.values.get(index).map(Vec::as_slice)
    }

    /// Bit n set: PCR n was extended by some event in `bank`.
    #[must_use]
    pub fn extended_mask(&self, bank: HashAlg) -> u32 {
        self.banks.get(&bank).map_or(0, |b| b.extended)
    }

    /// The locality of the `StartupLocality` event, if the logs had one.
    #[must_use]
    pub fn startup_locality(&self) -> Option<u8> {
        self.startup_locality
    }
}

fn check_pcr(pcr: u32) -> Result<(), Error> {
    if pcr < PCR_COUNT {
        Ok(())
    } else {
        Err(Error::PcrIndexOutOfRange {
            pcr,
            max: PCR_COUNT.saturating_sub(1),
        })
    }
}

fn extend(bank: HashAlg, state: &mut Bank, pcr: u32, digest: &[u8]) {
    let Some(slot) = usize::try_from(pcr)
        .ok()
        .and_then(|i| state.values.get_mut(i))
    else {
        return;
    };
    *slot = bank.digest_parts(&[slot.as_slice(), digest]);
    state.extended |= 1u32 << pcr;
}
