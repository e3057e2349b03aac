//! The Intel SGX extension of PCK certificates (OID 1.2.840.113741.1.13.1): the platform's
//! TCB components, PCESVN, CPUSVN, PCE-ID, FMSPC and SGX type. TCB matching uses these values,
//! not the report's CPUSVN.

use serde::Serialize;
use x509_parser::der_parser::ber::BerObject;
use x509_parser::der_parser::der::parse_der;

use crate::error::Error;

const OID_PPID: &str = "1.2.840.113741.1.13.1.1";
const OID_TCB: &str = "1.2.840.113741.1.13.1.2";
const OID_PCE_ID: &str = "1.2.840.113741.1.13.1.3";
const OID_FMSPC: &str = "1.2.840.113741.1.13.1.4";
const OID_SGX_TYPE: &str = "1.2.840.113741.1.13.1.5";
const OID_PLATFORM_INSTANCE_ID: &str = "1.2.840.113741.1.13.1.6";
const OID_CONFIGURATION: &str = "1.2.840.113741.1.13.1.7";
const OID_TCB_PREFIX: &str = "1.2.840.113741.1.13.1.2.";
const OID_CONFIGURATION_PREFIX: &str = "1.2.840.113741.1.13.1.7.";

/// Which Intel CA issued the PCK certificate; it selects the PCK CRL (`ca=processor|platform`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PckCaKind {
    /// "Intel SGX PCK Processor CA".
    Processor,
    /// "Intel SGX PCK Platform CA" (multi-package platforms).
    Platform,
}

impl PckCaKind {
    pub(crate) fn from_common_name(cn: &str) -> Option<Self> {
        match cn {
            "Intel SGX PCK Processor CA" => Some(Self::Processor),
            "Intel SGX PCK Platform CA" => Some(Self::Platform),
            _ => None,
        }
    }

    /// `"processor"` or `"platform"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Processor => "processor",
            Self::Platform => "platform",
        }
    }
}

/// The platform's SGX flavour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum SgxType {
    /// Client-style SGX with small EPC (0).
    Standard,
    /// Scalable SGX (1).
    Scalable,
    /// Scalable SGX with integrity protection (2).
    ScalableWithIntegrity,
}

impl SgxType {
    /// Intel's ENUMERATED value.
    #[must_use]
    pub fn number(self) -> u8 {
        match self {
            Self::Standard => 0,
            Self::Scalable => 1,
            Self::ScalableWithIntegrity => 2,
        }
    }
}

/// Platform configuration flags (Platform CA certificates only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlatformConfiguration {
    /// Whether the platform can add or remove packages.
    pub dynamic_platform: Option<bool>,
    /// Whether platform keys are cached by Intel.
    pub cached_keys: Option<bool>,
    /// Whether simultaneous multithreading is enabled.
    pub smt_enabled: Option<bool>,
}

/// What the PCK certificate says about the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PckFacts {
    /// Issuing CA.
    pub ca: PckCaKind,
    /// Platform provisioning ID.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub ppid: [u8; 16],
    /// SGX TCB components 1..=16.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub tcb_components: [u8; 16],
    /// PCE security version.
    pub pcesvn: u16,
    /// CPUSVN the certificate was issued for.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub cpusvn: [u8; 16],
    /// PCE identifier.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub pce_id: [u8; 2],
    /// Family-model-stepping-platform-customSKU: selects the TCB info.
    #[serde(serialize_with = "hex::serde::serialize")]
    pub fmspc: [u8; 6],
    /// SGX type.
    pub sgx_type: SgxType,
    /// Platform instance ID (Platform CA only).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_opt16"
    )]
    pub platform_instance_id: Option<[u8; 16]>,
    /// Platform configuration (Platform CA only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub configuration: Option<PlatformConfiguration>,
}

fn serialize_opt16<S: serde::Serializer>(v: &Option<[u8; 16]>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&hex::encode(v)),
        None => s.serialize_none(),
    }
}

fn malformed(field: &'static str, reason: &'static str) -> Error {
    Error::PckExtensionMalformed { field, reason }
}

/// `SEQUENCE { OID, value }` entries of a SEQUENCE.
fn entries<'a, 'b>(
    obj: &'b BerObject<'a>,
    field: &'static str,
) -> Result<Vec<(String, &'b BerObject<'a>)>, Error> {
    let seq = obj
        .as_sequence()
        .map_err(|_| malformed(field, "not a SEQUENCE"))?;
    seq.iter()
        .map(|entry| {
            let pair = entry
                .as_sequence()
                .map_err(|_| malformed(field, "entry is not a SEQUENCE"))?;
            match pair.as_slice() {
                [oid, value] => {
                    let oid = oid
                        .as_oid()
                        .map_err(|_| malformed(field, "entry does not start with an OID"))?;
                    Ok((oid.to_id_string(), value))
                }
                _ => Err(malformed(field, "entry is not an (OID, value) pair")),
            }
        })
        .collect()
}

fn octets<const N: usize>(obj: &BerObject<'_>, field: &'static str) -> Result<[u8; N], Error> {
    obj.as_slice()
        .ok()
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| malformed(field, "not an OCTET STRING of the expected length"))
}

fn integer<T: TryFrom<u64>>(obj: &BerObject<'_>, field: &'static str) -> Result<T, Error> {
    obj.as_u64()
        .ok()
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| malformed(field, "not an INTEGER in range"))
}

struct Tcb {
    components: [u8; 16],
    pcesvn: u16,
    cpusvn: [u8; 16],
}

fn parse_tcb(obj: &BerObject<'_>) -> Result<Tcb, Error> {
    let mut components = [None::<u8>; 16];
    let mut pcesvn = None;
    let mut cpusvn = None;
    for (oid, value) in entries(obj, "tcb")? {
        let Some(suffix) = oid.strip_prefix(OID_TCB_PREFIX) else {
            return Err(malformed("tcb", "entry OID outside the TCB arc"));
        };
        match suffix.parse::<usize>() {
            Ok(n @ 1..=16) => {
                let slot = components
                    .get_mut(n.saturating_sub(1))
                    .ok_or_else(|| malformed("tcb", "component index"))?;
                *slot = Some(integer(value, "tcb.component")?);
            }
            Ok(17) => pcesvn = Some(integer(value, "tcb.pcesvn")?),
            Ok(18) => cpusvn = Some(octets(value, "tcb.cpusvn")?),
            _ => return Err(malformed("tcb", "unknown TCB entry")),
        }
    }
    let mut out = [0u8; 16];
    for (slot, value) in out.iter_mut().zip(components) {
        *slot = value.ok_or_else(|| malformed("tcb", "missing SGX TCB component"))?;
    }
    Ok(Tcb {
        components: out,
        pcesvn: pcesvn.ok_or_else(|| malformed("tcb.pcesvn", "missing"))?,
        cpusvn: cpusvn.ok_or_else(|| malformed("tcb.cpusvn", "missing"))?,
    })
}

fn parse_configuration(obj: &BerObject<'_>) -> Result<PlatformConfiguration, Error> {
    let mut config = PlatformConfiguration::default();
    for (oid, value) in entries(obj, "configuration")? {
        let flag = value
            .as_bool()
            .map_err(|_| malformed("configuration", "flag is not a BOOLEAN"))?;
        match oid.strip_prefix(OID_CONFIGURATION_PREFIX) {
            Some("1") => config.dynamic_platform = Some(flag),
            Some("2") => config.cached_keys = Some(flag),
            Some("3") => config.smt_enabled = Some(flag),
            _ => return Err(malformed("configuration", "unknown flag")),
        }
    }
    Ok(config)
}

/// Parses the extension value (DER) of a PCK certificate issued by `ca`.
pub(crate) fn parse_sgx_extension(value: &[u8], ca: PckCaKind) -> Result<PckFacts, Error> {
    let (rest, obj) = parse_der(value).map_err(|_| malformed("extension", "not DER"))?;
    if !rest.is_empty() {
        return Err(malformed("extension", "trailing bytes"));
    }
    let mut ppid = None;
    let mut tcb = None;
    let mut pce_id = None;
    let mut fmspc = None;
    let mut sgx_type = None;
    let mut platform_instance_id = None;
    let mut configuration = None;
    for (oid, value) in entries(&obj, "extension")? {
        match oid.as_str() {
            OID_PPID => ppid = Some(octets(value, "ppid")?),
            OID_TCB => tcb = Some(parse_tcb(value)?),
            OID_PCE_ID => pce_id = Some(octets(value, "pceid")?),
            OID_FMSPC => fmspc = Some(octets(value, "fmspc")?),
            OID_SGX_TYPE => {
                sgx_type = Some(match integer::<u8>(value, "sgx_type")? {
                    0 => SgxType::Standard,
                    1 => SgxType::Scalable,
                    2 => SgxType::ScalableWithIntegrity,
                    _ => return Err(malformed("sgx_type", "unknown value")),
                });
            }
            OID_PLATFORM_INSTANCE_ID => {
                platform_instance_id = Some(octets(value, "platform_instance_id")?);
            }
            OID_CONFIGURATION => configuration = Some(parse_configuration(value)?),
            // Later Intel additions are ignored, as Intel's own verifier does.
            _ => {}
        }
    }
    let tcb = tcb.ok_or_else(|| malformed("tcb", "missing"))?;
    Ok(PckFacts {
        ca,
        ppid: ppid.ok_or_else(|| malformed("ppid", "missing"))?,
        tcb_components: tcb.components,
        pcesvn: tcb.pcesvn,
        cpusvn: tcb.cpusvn,
        pce_id: pce_id.ok_or_else(|| malformed("pceid", "missing"))?,
        fmspc: fmspc.ok_or_else(|| malformed("fmspc", "missing"))?,
        sgx_type: sgx_type.ok_or_else(|| malformed("sgx_type", "missing"))?,
        platform_instance_id,
        configuration,
    })
}
