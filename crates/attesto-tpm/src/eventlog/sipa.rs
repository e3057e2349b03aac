//! Windows boot configuration log (WBCL) tagged events: the data of `EV_EVENT_TAG` events
//! that Windows measures into PCRs 12-14 (and 17-22 for DRTM). The data is a sequence of
//! SIPA entries `{id u32 LE, size u32 LE, data}`; an id of the container type holds further
//! entries. Ids and payload types follow Microsoft's `wbcl.h`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::eventlog::uefi::decode_utf16le;
use crate::reader::Reader;

/// Containers nest at most this deep (Windows uses 3 levels).
const MAX_DEPTH: usize = 8;

/// SIPAEVENTTYPE_CONTAINER in the type nibble of an id.
const TYPE_MASK: u32 = 0x000F_0000;
const TYPE_CONTAINER: u32 = 0x0001_0000;

/// Well-known SIPA ids used by the claims.
pub mod ids {
    /// SIPAEVENT_TRUSTBOUNDARY.
    pub const TRUSTBOUNDARY: u32 = 0x4001_0001;
    /// SIPAEVENT_LOADEDMODULE_AGGREGATION.
    pub const LOADEDMODULE_AGGREGATION: u32 = 0x4001_0003;
    /// SIPAEVENT_BOOTCOUNTER.
    pub const BOOTCOUNTER: u32 = 0x0002_0002;
    /// SIPAEVENT_BITLOCKER_UNLOCK.
    pub const BITLOCKER_UNLOCK: u32 = 0x0002_0005;
    /// SIPAEVENT_BOOTDEBUGGING.
    pub const BOOTDEBUGGING: u32 = 0x0004_0001;
    /// SIPAEVENT_OSKERNELDEBUG.
    pub const OSKERNELDEBUG: u32 = 0x0005_0001;
    /// SIPAEVENT_CODEINTEGRITY.
    pub const CODEINTEGRITY: u32 = 0x0005_0002;
    /// SIPAEVENT_TESTSIGNING.
    pub const TESTSIGNING: u32 = 0x0005_0003;
    /// SIPAEVENT_DATAEXECUTIONPREVENTION.
    pub const DATAEXECUTIONPREVENTION: u32 = 0x0005_0004;
    /// SIPAEVENT_SAFEMODE.
    pub const SAFEMODE: u32 = 0x0005_0005;
    /// SIPAEVENT_WINPE.
    pub const WINPE: u32 = 0x0005_0006;
    /// SIPAEVENT_VSM_LAUNCH_TYPE.
    pub const VSM_LAUNCH_TYPE: u32 = 0x0005_0012;
    /// SIPAEVENT_HYPERVISOR_BOOT_DMA_PROTECTION.
    pub const HYPERVISOR_BOOT_DMA_PROTECTION: u32 = 0x0005_0030;
    /// SIPAEVENT_FILEPATH.
    pub const FILEPATH: u32 = 0x0007_0001;
    /// SIPAEVENT_IMAGEVALIDATED.
    pub const IMAGEVALIDATED: u32 = 0x0007_000A;
    /// SIPAEVENT_VBS_VSM_REQUIRED.
    pub const VBS_VSM_REQUIRED: u32 = 0x000A_0001;
    /// SIPAEVENT_VBS_IOMMU_REQUIRED.
    pub const VBS_IOMMU_REQUIRED: u32 = 0x000A_0003;
    /// SIPAEVENT_VBS_HVCI_POLICY.
    pub const VBS_HVCI_POLICY: u32 = 0x000A_0007;
}

/// One SIPA entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipaEntry {
    /// The SIPAEVENT id.
    pub id: u32,
    /// Its payload.
    pub value: SipaValue,
}

/// A SIPA payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SipaValue {
    /// A container's entries.
    Container(Vec<SipaEntry>),
    /// Raw data (decoded per id when converted to JSON).
    Data(Vec<u8>),
}

/// How a payload becomes JSON.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Container,
    /// One byte, JSON `true`/`false`.
    Bool,
    /// Little-endian integer of 1, 2, 4 or 8 bytes, JSON `{"Value": n}`.
    Int,
    /// UTF-16LE string, JSON string.
    Utf16,
    /// JSON `{"RawData": base64url}`.
    Raw,
    /// `{"String": ..., "Value": n}`.
    HvciPolicy,
}

/// `(id, MAA name, kind)`. MAA names are `EVENT_` + the `SIPAEVENT_` suffix, except
/// `EVENT_DRTM_SMM` (SIPAEVENT_DRTM_SMM_LEVEL), spelled as the MAA System Guard sample uses it.
const TABLE: &[(u32, &str, Kind)] = &[
    (0x4001_0001, "EVENT_TRUSTBOUNDARY", Kind::Container),
    (0x4001_0002, "EVENT_ELAM_AGGREGATION", Kind::Container),
    (
        0x4001_0003,
        "EVENT_LOADEDMODULE_AGGREGATION",
        Kind::Container,
    ),
    (0xC001_0004, "EVENT_TRUSTPOINT_AGGREGATION", Kind::Container),
    (0x4001_0005, "EVENT_KSR_AGGREGATION", Kind::Container),
    (
        0x4001_0006,
        "EVENT_KSR_SIGNED_MEASUREMENT_AGGREGATION",
        Kind::Container,
    ),
    (0x0003_0001, "ERROR_FIRMWAREFAILURE", Kind::Raw),
    (0x8003_0002, "ERROR_TPMFAILURE", Kind::Raw),
    (0x0003_0003, "ERROR_INTERNALFAILURE", Kind::Raw),
    (0x8003_0004, "ERROR_KSRFAILURE", Kind::Raw),
    (0x0002_0001, "EVENT_INFORMATION", Kind::Raw),
    (0x0002_0002, "EVENT_BOOTCOUNTER", Kind::Int),
    (0x0002_0003, "EVENT_TRANSFER_CONTROL", Kind::Int),
    (0x0002_0004, "EVENT_APPLICATION_RETURN", Kind::Int),
    (0x0002_0005, "EVENT_BITLOCKER_UNLOCK", Kind::Int),
    (0x0002_0006, "EVENT_EVENTCOUNTER", Kind::Int),
    (0x0002_0007, "EVENT_COUNTERID", Kind::Int),
    (0x0002_0008, "EVENT_MORBIT_NOT_CANCELABLE", Kind::Bool),
    (0x0002_0009, "EVENT_APPLICATION_SVN", Kind::Int),
    (0x0002_000A, "EVENT_SVN_CHAIN_STATUS", Kind::Int),
    (0x0002_000B, "EVENT_MORBIT_API_STATUS", Kind::Int),
    (0x0004_0001, "EVENT_BOOTDEBUGGING", Kind::Bool),
    (0x0004_0002, "EVENT_BOOT_REVOCATION_LIST", Kind::Raw),
    (0x0005_0001, "EVENT_OSKERNELDEBUG", Kind::Bool),
    (0x0005_0002, "EVENT_CODEINTEGRITY", Kind::Bool),
    (0x0005_0003, "EVENT_TESTSIGNING", Kind::Bool),
    (0x0005_0004, "EVENT_DATAEXECUTIONPREVENTION", Kind::Int),
    (0x0005_0005, "EVENT_SAFEMODE", Kind::Bool),
    (0x0005_0006, "EVENT_WINPE", Kind::Bool),
    (0x0005_0007, "EVENT_PHYSICALADDRESSEXTENSION", Kind::Bool),
    (0x0005_0008, "EVENT_OSDEVICE", Kind::Int),
    (0x0005_0009, "EVENT_SYSTEMROOT", Kind::Utf16),
    (0x0005_000A, "EVENT_HYPERVISOR_LAUNCH_TYPE", Kind::Int),
    (0x0005_000B, "EVENT_HYPERVISOR_PATH", Kind::Utf16),
    (0x0005_000C, "EVENT_HYPERVISOR_IOMMU_POLICY", Kind::Int),
    (0x0005_000D, "EVENT_HYPERVISOR_DEBUG", Kind::Bool),
    (0x0005_000E, "EVENT_DRIVER_LOAD_POLICY", Kind::Int),
    (0x0005_000F, "EVENT_SI_POLICY", Kind::Raw),
    (0x0005_0010, "EVENT_HYPERVISOR_MMIO_NX_POLICY", Kind::Int),
    (0x0005_0011, "EVENT_HYPERVISOR_MSR_FILTER_POLICY", Kind::Int),
    (0x0005_0012, "EVENT_VSM_LAUNCH_TYPE", Kind::Int),
    (0x0005_0013, "EVENT_OS_REVOCATION_LIST", Kind::Raw),
    (0x0005_0014, "EVENT_SMT_STATUS", Kind::Int),
    (0x0005_0020, "EVENT_VSM_IDK_INFO", Kind::Raw),
    (0x0005_0021, "EVENT_FLIGHTSIGNING", Kind::Bool),
    (0x0005_0022, "EVENT_PAGEFILE_ENCRYPTION_ENABLED", Kind::Bool),
    (0x0005_0023, "EVENT_VSM_IDKS_INFO", Kind::Raw),
    (0x0005_0024, "EVENT_HIBERNATION_DISABLED", Kind::Bool),
    (0x0005_0025, "EVENT_DUMPS_DISABLED", Kind::Bool),
    (0x0005_0026, "EVENT_DUMP_ENCRYPTION_ENABLED", Kind::Bool),
    (0x0005_0027, "EVENT_DUMP_ENCRYPTION_KEY_DIGEST", Kind::Raw),
    (0x0005_0028, "EVENT_LSAISO_CONFIG", Kind::Int),
    (0x0005_0029, "EVENT_SBCP_INFO", Kind::Raw),
    (
        0x0005_0030,
        "EVENT_HYPERVISOR_BOOT_DMA_PROTECTION",
        Kind::Bool,
    ),
    (0x0006_0001, "EVENT_NOAUTHORITY", Kind::Raw),
    (0x0006_0002, "EVENT_AUTHORITYPUBKEY", Kind::Raw),
    (0x0007_0001, "EVENT_FILEPATH", Kind::Utf16),
    (0x0007_0002, "EVENT_IMAGESIZE", Kind::Int),
    (0x0007_0003, "EVENT_HASHALGORITHMID", Kind::Int),
    (0x0007_0004, "EVENT_AUTHENTICODEHASH", Kind::Raw),
    (0x0007_0005, "EVENT_AUTHORITYISSUER", Kind::Utf16),
    (0x0007_0006, "EVENT_AUTHORITYSERIAL", Kind::Raw),
    (0x0007_0007, "EVENT_IMAGEBASE", Kind::Int),
    (0x0007_0008, "EVENT_AUTHORITYPUBLISHER", Kind::Utf16),
    (0x0007_0009, "EVENT_AUTHORITYSHA1THUMBPRINT", Kind::Raw),
    (0x0007_000A, "EVENT_IMAGEVALIDATED", Kind::Bool),
    (0x0007_000B, "EVENT_MODULE_SVN", Kind::Int),
    (0x8008_0001, "EVENT_QUOTE", Kind::Raw),
    (0x8008_0002, "EVENT_QUOTESIGNATURE", Kind::Raw),
    (0x8008_0003, "EVENT_AIKID", Kind::Raw),
    (0x8008_0004, "EVENT_AIKPUBDIGEST", Kind::Raw),
    (0x0009_0001, "EVENT_ELAM_KEYNAME", Kind::Utf16),
    (0x0009_0002, "EVENT_ELAM_CONFIGURATION", Kind::Raw),
    (0x0009_0003, "EVENT_ELAM_POLICY", Kind::Raw),
    (0x0009_0004, "EVENT_ELAM_MEASURED", Kind::Raw),
    (0x000A_0001, "EVENT_VBS_VSM_REQUIRED", Kind::Bool),
    (0x000A_0002, "EVENT_VBS_SECUREBOOT_REQUIRED", Kind::Bool),
    (0x000A_0003, "EVENT_VBS_IOMMU_REQUIRED", Kind::Bool),
    (0x000A_0004, "EVENT_VBS_MMIO_NX_REQUIRED", Kind::Bool),
    (0x000A_0005, "EVENT_VBS_MSR_FILTERING_REQUIRED", Kind::Bool),
    (0x000A_0006, "EVENT_VBS_MANDATORY_ENFORCEMENT", Kind::Bool),
    (0x000A_0007, "EVENT_VBS_HVCI_POLICY", Kind::HvciPolicy),
    (
        0x000A_0008,
        "EVENT_VBS_MICROSOFT_BOOT_CHAIN_REQUIRED",
        Kind::Bool,
    ),
    (0x000A_0009, "EVENT_VBS_DUMP_USES_AMEROOT", Kind::Bool),
    (0x000A_000A, "EVENT_VBS_VSM_NOSECRETS_ENFORCED", Kind::Bool),
    (0x000B_0001, "EVENT_KSR_SIGNATURE", Kind::Raw),
    (0x000C_0001, "EVENT_DRTM_STATE_AUTH", Kind::Raw),
    (0x000C_0002, "EVENT_DRTM_SMM", Kind::Int),
    (0x000C_0003, "EVENT_DRTM_AMD_SMM_HASH", Kind::Raw),
    (0x000C_0004, "EVENT_DRTM_AMD_SMM_SIGNER_KEY", Kind::Raw),
];

/// Members that are arrays even when they occur once, so queries such as
/// `EVENT_LOADEDMODULE_AGGREGATION[]` have one shape. Any other member becomes an array only
/// when it repeats within one container.
const ALWAYS_ARRAY: &[&str] = &[
    "EVENT_LOADEDMODULE_AGGREGATION",
    "EVENT_ELAM_AGGREGATION",
    "EVENT_SI_POLICY",
    "EVENT_AUTHORITYPUBKEY",
];

/// Parses SIPA entries.
///
/// # Errors
/// [`Error::Truncated`] or [`Error::Malformed`] (nesting deeper than 8 containers).
pub fn parse(data: &[u8]) -> Result<Vec<SipaEntry>, Error> {
    let mut r = Reader::new(data, "SIPA event");
    read_entries(&mut r, 0)
}

fn read_entries(r: &mut Reader<'_>, depth: usize) -> Result<Vec<SipaEntry>, Error> {
    let mut entries = Vec::new();
    while !r.is_empty() {
        let at = r.offset();
        let id = r.u32_le("id")?;
        let size = r.u32_le("size")?;
        let len = usize::try_from(size).unwrap_or(usize::MAX);
        let value = if id & TYPE_MASK == TYPE_CONTAINER {
            if depth >= MAX_DEPTH {
                return Err(r.error_at("id", at, "containers nest too deeply"));
            }
            let mut inner = r.sub(len, "data", "SIPA event")?;
            SipaValue::Container(read_entries(&mut inner, depth.saturating_add(1))?)
        } else {
            SipaValue::Data(r.bytes(len, "data")?.to_vec())
        };
        entries.push(SipaEntry { id, value });
    }
    Ok(entries)
}

/// Calls `f(id, data)` for every data entry, depth first, in log order.
pub fn for_each_data(entries: &[SipaEntry], f: &mut dyn FnMut(u32, &[u8])) {
    for entry in entries {
        match &entry.value {
            SipaValue::Container(children) => for_each_data(children, f),
            SipaValue::Data(data) => f(entry.id, data),
        }
    }
}

/// A one-byte boolean payload.
pub(crate) fn as_bool(data: &[u8]) -> Option<bool> {
    match data {
        [byte] => Some(*byte != 0),
        _ => None,
    }
}

/// A little-endian integer payload of 1, 2, 4 or 8 bytes.
pub(crate) fn as_int(data: &[u8]) -> Option<u64> {
    match data.len() {
        1 | 2 | 4 | 8 => Some(
            data.iter()
                .rev()
                .fold(0u64, |acc, byte| (acc << 8) | u64::from(*byte)),
        ),
        _ => None,
    }
}

fn lookup(id: u32) -> (String, Kind) {
    match TABLE.iter().find(|(known, _, _)| *known == id) {
        Some((_, name, kind)) => ((*name).to_owned(), *kind),
        None if id & TYPE_MASK == TYPE_CONTAINER => {
            (format!("EVENT_UNKNOWN_0x{id:08X}"), Kind::Container)
        }
        None => (format!("EVENT_UNKNOWN_0x{id:08X}"), Kind::Raw),
    }
}

fn raw(data: &[u8]) -> Value {
    let mut object = Map::new();
    object.insert(
        "RawData".to_owned(),
        Value::String(URL_SAFE_NO_PAD.encode(data)),
    );
    Value::Object(object)
}

fn data_json(kind: Kind, data: &[u8]) -> Value {
    match kind {
        Kind::Bool => as_bool(data).map_or_else(|| raw(data), Value::Bool),
        Kind::Int => as_int(data).map_or_else(
            || raw(data),
            |n| {
                let mut object = Map::new();
                object.insert("Value".to_owned(), Value::from(n));
                Value::Object(object)
            },
        ),
        Kind::Utf16 => decode_utf16le(data).map_or_else(|| raw(data), Value::String),
        Kind::HvciPolicy => as_int(data).map_or_else(
            || raw(data),
            |n| {
                let mut object = Map::new();
                let name = if n & 1 == 1 {
                    "HypervisorEnforcedCodeIntegrityEnable"
                } else {
                    "HypervisorEnforcedCodeIntegrityDisable"
                };
                object.insert("String".to_owned(), Value::String(name.to_owned()));
                object.insert("Value".to_owned(), Value::from(n));
                Value::Object(object)
            },
        ),
        Kind::Raw | Kind::Container => raw(data),
    }
}

/// The `ProcessedData` object of an `EV_EVENT_TAG` event: one member per entry, named
/// `EVENT_*`, containers as objects.
#[must_use]
pub fn to_json(entries: &[SipaEntry]) -> Map<String, Value> {
    let mut object = Map::new();
    for entry in entries {
        let (name, kind) = lookup(entry.id);
        let value = match &entry.value {
            SipaValue::Container(children) => Value::Object(to_json(children)),
            SipaValue::Data(data) => data_json(kind, data),
        };
        let always_array = ALWAYS_ARRAY.contains(&name.as_str());
        match object.get_mut(&name) {
            Some(Value::Array(items)) if always_array => items.push(value),
            Some(existing) => {
                // A repeated member: keep every occurrence, in order. Payload values are
                // never arrays, so an array here was built from earlier repeats.
                *existing = match existing.take() {
                    Value::Array(mut items) => {
                        items.push(value);
                        Value::Array(items)
                    }
                    first => Value::Array(vec![first, value]),
                };
            }
            None => {
                let value = if always_array {
                    Value::Array(vec![value])
                } else {
                    value
                };
                object.insert(name, value);
            }
        }
    }
    object
}
