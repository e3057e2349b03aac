//! The TCG PC Client Platform Firmware Profile event log, in both formats:
//!
//! - **legacy (SHA-1)**: every event is a TCG_PCClientPCREvent
//!   `{pcrIndex u32, eventType u32, digest[20], eventDataSize u32, event}`;
//! - **crypto-agile**: the first event is a legacy-format `EV_NO_ACTION` whose data is the
//!   TCG_EfiSpecIdEvent (`Spec ID Event03`), declaring the digest algorithms and sizes; every
//!   later event is a TCG_PCR_EVENT2
//!   `{pcrIndex u32, eventType u32, TPML_DIGEST_VALUES, eventSize u32, event}`.
//!
//! All fields are little-endian (unlike TPM structures). Parsing checks structure only; what
//! the events mean is checked by [replay](crate::replay) against a quote.

pub mod sipa;
mod types;
pub mod uefi;

pub use types::EventType;

use crate::alg::HashAlg;
use crate::error::Error;
use crate::reader::Reader;

const SPEC_ID_AGILE: &[u8; 16] = b"Spec ID Event03\0";
const STARTUP_LOCALITY: &[u8; 16] = b"StartupLocality\0";
/// TPM2 HASH_COUNT: more algorithms than this in a Spec ID event is nonsense.
const MAX_ALGORITHMS: u32 = 16;
/// Largest digest any TPM algorithm produces (SHA-512).
const MAX_DIGEST_SIZE: u16 = 64;

/// Which of the two TCG log formats a log uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// TCG 1.2 style: one SHA-1 digest per event.
    Sha1Legacy,
    /// TCG 2.0 crypto-agile: one digest per algorithm of the Spec ID event.
    CryptoAgile,
}

/// An algorithm and its digest size, as declared by the Spec ID event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlgorithmSize {
    /// TPM_ALG_ID.
    pub alg_id: u16,
    /// Digest size in bytes.
    pub digest_size: u16,
}

/// TCG_EfiSpecIdEvent (the header of a crypto-agile log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecIdEvent {
    /// 0 = client, 1 = server.
    pub platform_class: u32,
    /// Spec version major.
    pub spec_version_major: u8,
    /// Spec version minor.
    pub spec_version_minor: u8,
    /// Spec errata.
    pub spec_errata: u8,
    /// Size of UINTN in the firmware (1 = 32-bit, 2 = 64-bit).
    pub uintn_size: u8,
    /// The digest algorithms every event carries.
    pub algorithms: Vec<AlgorithmSize>,
    /// Vendor information.
    pub vendor_info: Vec<u8>,
}

/// One digest of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// TPM_ALG_ID.
    pub alg_id: u16,
    /// The digest.
    pub value: Vec<u8>,
}

impl Digest {
    /// The algorithm, if this crate supports it.
    #[must_use]
    pub fn hash_alg(&self) -> Option<HashAlg> {
        HashAlg::from_tpm_alg_id(self.alg_id)
    }
}

/// How strongly an event's digests bind its data (see [`Event::data_binding`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataBinding {
    /// Every digest is the hash of the whole event data: the data is what was measured.
    Full,
    /// A UEFI variable event whose digests hash only VariableData (EDK2 and shim do this for
    /// boot variables and MokList): the variable content is bound, its name and GUID are not.
    VariableDataOnly,
    /// The digests hash something else (an image, a file): the data is only a description.
    None,
}

/// One event of a TCG log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the log (the header event is 0).
    pub index: usize,
    /// Byte offset in the log.
    pub offset: usize,
    /// PCR index.
    pub pcr: u32,
    /// Event type.
    pub event_type: EventType,
    /// One digest per bank (one SHA-1 digest in a legacy log).
    pub digests: Vec<Digest>,
    /// Event data.
    pub data: Vec<u8>,
}

impl Event {
    /// The digest for a bank.
    #[must_use]
    pub fn digest(&self, alg: HashAlg) -> Option<&[u8]> {
        self.digests
            .iter()
            .find(|d| d.alg_id == alg.tpm_alg_id())
            .map(|d| d.value.as_slice())
    }

    /// Whether this event is extended into a PCR (everything but `EV_NO_ACTION`).
    #[must_use]
    pub fn is_measured(&self) -> bool {
        self.event_type != EventType::EV_NO_ACTION
    }

    /// Whether the digests vouch for the data. Only bound data may feed claims: the replay
    /// proves the digests, and an attacker could otherwise pair real digests with invented
    /// data. Digests of algorithms this crate cannot compute are ignored; an event with no
    /// computable digest is unbound.
    #[must_use]
    pub fn data_binding(&self) -> DataBinding {
        if self.all_digests_match(&self.data) {
            return DataBinding::Full;
        }
        if self.event_type.is_efi_variable()
            && self.event_type != EventType::EV_EFI_VARIABLE_DRIVER_CONFIG
            && let Ok(variable) = uefi::UefiVariableData::parse(&self.data)
            && self.all_digests_match(&variable.data)
        {
            return DataBinding::VariableDataOnly;
        }
        DataBinding::None
    }

    fn all_digests_match(&self, data: &[u8]) -> bool {
        let mut any = false;
        for digest in &self.digests {
            if let Some(alg) = digest.hash_alg() {
                if alg.digest(data) != digest.value {
                    return false;
                }
                any = true;
            }
        }
        any
    }

    /// The locality of a `StartupLocality` event (`EV_NO_ACTION` on PCR 0 whose data is
    /// `"StartupLocality\0"` and one byte), which sets PCR 0's initial value.
    #[must_use]
    pub fn startup_locality(&self) -> Option<u8> {
        if self.event_type != EventType::EV_NO_ACTION || self.pcr != 0 {
            return None;
        }
        match self.data.strip_prefix(STARTUP_LOCALITY.as_slice()) {
            Some([locality]) => Some(*locality),
            _ => None,
        }
    }
}

/// A parsed TCG event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLog {
    /// The format.
    pub format: LogFormat,
    /// The Spec ID header of a crypto-agile log.
    pub spec_id: Option<SpecIdEvent>,
    /// Every event in log order, the header event first.
    pub events: Vec<Event>,
}

impl EventLog {
    /// Parses a log. Every event must be complete; a crypto-agile event must carry exactly one
    /// digest for each algorithm of the Spec ID event (otherwise a bank could not be replayed).
    ///
    /// # Errors
    /// [`Error::Truncated`] or [`Error::Malformed`], naming the event's offset.
    pub fn parse(bytes: &[u8]) -> Result<EventLog, Error> {
        let mut r = Reader::new(bytes, "TCG event log");
        if r.is_empty() {
            return Err(r.error_at("header", 0, "the log is empty"));
        }
        let first = read_legacy_event(&mut r, 0)?;
        let spec_id = if first.event_type == EventType::EV_NO_ACTION
            && first.data.starts_with(SPEC_ID_AGILE)
        {
            Some(parse_spec_id(&first.data, first.offset)?)
        } else {
            None
        };
        let mut events = vec![first];
        match &spec_id {
            Some(spec) => {
                while !r.is_empty() {
                    let event = read_agile_event(&mut r, events.len(), &spec.algorithms)?;
                    events.push(event);
                }
            }
            None => {
                while !r.is_empty() {
                    let event = read_legacy_event(&mut r, events.len())?;
                    events.push(event);
                }
            }
        }
        Ok(EventLog {
            format: if spec_id.is_some() {
                LogFormat::CryptoAgile
            } else {
                LogFormat::Sha1Legacy
            },
            spec_id,
            events,
        })
    }

    /// The banks this log can replay: the supported algorithms it carries digests for.
    #[must_use]
    pub fn banks(&self) -> Vec<HashAlg> {
        match &self.spec_id {
            Some(spec) => spec
                .algorithms
                .iter()
                .filter_map(|a| HashAlg::from_tpm_alg_id(a.alg_id))
                .collect(),
            None => vec![HashAlg::Sha1],
        }
    }

    /// The measured events (everything after the header that is not `EV_NO_ACTION`).
    pub fn measured_events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(|e| e.is_measured())
    }
}

fn read_legacy_event(r: &mut Reader<'_>, index: usize) -> Result<Event, Error> {
    let offset = r.offset();
    let pcr = r.u32_le("pcrIndex")?;
    let event_type = EventType(r.u32_le("eventType")?);
    let digest = r.bytes(20, "digest")?.to_vec();
    let size = r.u32_le("eventDataSize")?;
    let data = r.bytes_u64(u64::from(size), "event")?.to_vec();
    Ok(Event {
        index,
        offset,
        pcr,
        event_type,
        digests: vec![Digest {
            alg_id: HashAlg::Sha1.tpm_alg_id(),
            value: digest,
        }],
        data,
    })
}

fn read_agile_event(
    r: &mut Reader<'_>,
    index: usize,
    algorithms: &[AlgorithmSize],
) -> Result<Event, Error> {
    let offset = r.offset();
    let pcr = r.u32_le("pcrIndex")?;
    let event_type = EventType(r.u32_le("eventType")?);
    let count_at = r.offset();
    let count = r.u32_le("digests.count")?;
    if usize::try_from(count).ok() != Some(algorithms.len()) {
        return Err(r.error_at(
            "digests.count",
            count_at,
            format!(
                "event {index} has {count} digests, the Spec ID event declares {}",
                algorithms.len()
            ),
        ));
    }
    let mut digests: Vec<Digest> = Vec::with_capacity(algorithms.len());
    for _ in 0..count {
        let alg_at = r.offset();
        let alg_id = r.u16_le("digests.hashAlg")?;
        let Some(size) = algorithms
            .iter()
            .find(|a| a.alg_id == alg_id)
            .map(|a| a.digest_size)
        else {
            return Err(r.error_at(
                "digests.hashAlg",
                alg_at,
                format!("algorithm 0x{alg_id:04x} is not declared in the Spec ID event"),
            ));
        };
        if digests.iter().any(|d| d.alg_id == alg_id) {
            return Err(r.error_at(
                "digests.hashAlg",
                alg_at,
                format!("algorithm 0x{alg_id:04x} appears twice in event {index}"),
            ));
        }
        let value = r.bytes(usize::from(size), "digests.digest")?.to_vec();
        digests.push(Digest { alg_id, value });
    }
    let size = r.u32_le("eventSize")?;
    let data = r.bytes_u64(u64::from(size), "event")?.to_vec();
    Ok(Event {
        index,
        offset,
        pcr,
        event_type,
        digests,
        data,
    })
}

fn parse_spec_id(data: &[u8], base: usize) -> Result<SpecIdEvent, Error> {
    // The header event's data starts after its 32-byte legacy header.
    let mut r = Reader::with_base(data, base.saturating_add(32), "TCG_EfiSpecIdEvent");
    r.bytes(16, "signature")?;
    let platform_class = r.u32_le("platformClass")?;
    let spec_version_minor = r.u8("specVersionMinor")?;
    let spec_version_major = r.u8("specVersionMajor")?;
    let spec_errata = r.u8("specErrata")?;
    let uintn_size = r.u8("uintnSize")?;
    let count_at = r.offset();
    let count = r.u32_le("numberOfAlgorithms")?;
    if count == 0 || count > MAX_ALGORITHMS {
        return Err(r.error_at(
            "numberOfAlgorithms",
            count_at,
            format!("{count} algorithms (1..={MAX_ALGORITHMS} allowed)"),
        ));
    }
    let mut algorithms: Vec<AlgorithmSize> = Vec::new();
    for _ in 0..count {
        let at = r.offset();
        let alg_id = r.u16_le("digestSizes.algorithmId")?;
        let digest_size = r.u16_le("digestSizes.digestSize")?;
        if let Some(alg) = HashAlg::from_tpm_alg_id(alg_id)
            && usize::from(digest_size) != alg.digest_len()
        {
            return Err(r.error_at(
                "digestSizes.digestSize",
                at,
                format!("{alg} declared with {digest_size} bytes"),
            ));
        }
        if digest_size == 0 || digest_size > MAX_DIGEST_SIZE {
            return Err(r.error_at(
                "digestSizes.digestSize",
                at,
                format!("digest size {digest_size}"),
            ));
        }
        if algorithms.iter().any(|a| a.alg_id == alg_id) {
            return Err(r.error_at(
                "digestSizes.algorithmId",
                at,
                format!("algorithm 0x{alg_id:04x} declared twice"),
            ));
        }
        algorithms.push(AlgorithmSize {
            alg_id,
            digest_size,
        });
    }
    let vendor_size = r.u8("vendorInfoSize")?;
    let vendor_info = r.bytes(usize::from(vendor_size), "vendorInfo")?.to_vec();
    // Some firmware pads the header; extra bytes carry no meaning and are not part of a
    // digest, so they are ignored rather than rejected.
    Ok(SpecIdEvent {
        platform_class,
        spec_version_major,
        spec_version_minor,
        spec_errata,
        uintn_size,
        algorithms,
        vendor_info,
    })
}
