//! MAA's TPM claim set from a verified quote (shapes documented in the crate docs).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::alg::HashAlg;
use crate::eventlog::sipa::{self, ids};
use crate::eventlog::uefi::{Guid, UefiVariableData, decode_utf16le};
use crate::eventlog::{DataBinding, Event, EventType};
use crate::ima::ImaEntry;
use crate::keys::AttestedKey;
use crate::replay::MeasurementLog;
use crate::verify::VerifiedQuote;

/// `tpmVersion`: only TPM 2.0 quotes exist here.
pub const TPM_VERSION: i64 = 2;

/// The boot-state booleans MAA derives from the log. Each needs positive evidence from
/// replay-verified, data-bound events; absence means `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BootProperties {
    /// `secureBootEnabled`: the `SecureBoot` variable (EFI global GUID) measured into PCR 7
    /// as driver configuration, every such measurement exactly `01`.
    pub secure_boot_enabled: bool,
    /// `bootDebuggingDisabled`: Windows measured `EVENT_BOOTDEBUGGING`, never true.
    pub boot_debugging_disabled: bool,
    /// `notSafeMode`: Windows measured `EVENT_SAFEMODE`, never true.
    pub not_safe_mode: bool,
    /// `notWinPE`: Windows measured `EVENT_WINPE`, never true.
    pub not_win_pe: bool,
    /// `vbsEnabled`: `EVENT_VSM_LAUNCH_TYPE` non-zero or `EVENT_VBS_VSM_REQUIRED` true.
    pub vbs_enabled: bool,
    /// `iommuEnabled`: `EVENT_VBS_IOMMU_REQUIRED` or `EVENT_HYPERVISOR_BOOT_DMA_PROTECTION`
    /// true.
    pub iommu_enabled: bool,
}

/// A claim-worthy event: measured, on a verified PCR.
enum ClaimEvent<'a> {
    Tcg(&'a Event),
    Ima(&'a ImaEntry),
}

/// Iterates the events whose PCR the quote verified, with their `EventSeq` (position across
/// all logs, counting every entry, so gaps show what was left out).
fn verified_events(quote: &VerifiedQuote) -> Vec<(usize, ClaimEvent<'_>)> {
    let mut out = Vec::new();
    let mut seq = 0usize;
    for log in &quote.logs {
        match log {
            MeasurementLog::Tcg(tcg) => {
                for event in &tcg.events {
                    if event.is_measured() && quote.is_verified_pcr(event.pcr) {
                        out.push((seq, ClaimEvent::Tcg(event)));
                    }
                    seq = seq.saturating_add(1);
                }
            }
            MeasurementLog::Ima(ima) => {
                for entry in &ima.entries {
                    if quote.is_verified_pcr(entry.pcr) {
                        out.push((seq, ClaimEvent::Ima(entry)));
                    }
                    seq = seq.saturating_add(1);
                }
            }
        }
    }
    out
}

fn hex_digests(digests: impl Iterator<Item = (HashAlg, Vec<u8>)>) -> Value {
    let mut map = Map::new();
    for (alg, value) in digests {
        map.insert(alg.name().to_owned(), Value::String(hex::encode(value)));
    }
    Value::Object(map)
}

/// The SIPA entries of a bound `EV_EVENT_TAG` event.
fn sipa_entries(event: &Event) -> Option<Vec<sipa::SipaEntry>> {
    if event.event_type != EventType::EV_EVENT_TAG || event.data_binding() != DataBinding::Full {
        return None;
    }
    sipa::parse(&event.data).ok()
}

fn text_of(data: &[u8]) -> Option<String> {
    let trimmed = data.strip_suffix(&[0]).unwrap_or(data);
    std::str::from_utf8(trimmed).ok().map(str::to_owned)
}

/// `ProcessedData` for a TCG event, when its data is bound and decodable.
fn tcg_processed_data(event: &Event) -> Option<Map<String, Value>> {
    let binding = event.data_binding();
    if binding == DataBinding::None {
        return None;
    }
    let mut object = Map::new();
    match event.event_type {
        t if t.is_efi_variable() => {
            let variable = UefiVariableData::parse(&event.data).ok()?;
            object.insert(
                "VariableGuid".to_owned(),
                Value::String(variable.guid.to_string()),
            );
            object.insert("UnicodeName".to_owned(), Value::String(variable.name));
            object.insert(
                "VariableData".to_owned(),
                Value::String(URL_SAFE_NO_PAD.encode(&variable.data)),
            );
        }
        _ if binding != DataBinding::Full => return None,
        EventType::EV_EVENT_TAG => {
            return sipa_entries(event).map(|entries| sipa::to_json(&entries));
        }
        EventType::EV_SEPARATOR => {
            let value = sipa::as_int(&event.data)?;
            object.insert("Value".to_owned(), Value::from(value));
        }
        EventType::EV_S_CRTM_VERSION => {
            let text = decode_utf16le(&event.data).or_else(|| text_of(&event.data))?;
            object.insert("String".to_owned(), Value::String(text));
        }
        EventType::EV_ACTION
        | EventType::EV_EFI_ACTION
        | EventType::EV_IPL
        | EventType::EV_POST_CODE
        | EventType::EV_OMIT_BOOT_DEVICE_EVENTS => {
            object.insert("String".to_owned(), Value::String(text_of(&event.data)?));
        }
        _ => return None,
    }
    Some(object)
}

fn ima_processed_data(entry: &ImaEntry) -> Map<String, Value> {
    let mut object = Map::new();
    object.insert(
        "TemplateName".to_owned(),
        Value::String(entry.template_name.clone()),
    );
    if entry.is_violation() {
        object.insert("Violation".to_owned(), Value::Bool(true));
    }
    if let Some((algorithm, digest)) = entry.file_digest() {
        object.insert("FileDigestAlgorithm".to_owned(), Value::String(algorithm));
        object.insert("FileDigest".to_owned(), Value::String(hex::encode(digest)));
    }
    let name = entry.file_name();
    if let Some(name) = &name {
        object.insert("FileName".to_owned(), Value::String(name.clone()));
    }
    match (entry.template_name.as_str(), entry.third_field()) {
        ("ima-sig", Some(sig)) if !sig.is_empty() => {
            object.insert(
                "Signature".to_owned(),
                Value::String(URL_SAFE_NO_PAD.encode(sig)),
            );
        }
        ("ima-buf", Some(buffer)) => {
            object.insert(
                "Buffer".to_owned(),
                Value::String(URL_SAFE_NO_PAD.encode(buffer)),
            );
            match name.as_deref() {
                Some("kernel_version") => {
                    if let Some(version) = text_of(buffer) {
                        object.insert("KernelVersion".to_owned(), Value::String(version));
                    }
                }
                Some(keyring) if keyring.starts_with('.') => {
                    object.insert("Keyring".to_owned(), Value::String(keyring.to_owned()));
                    if let Ok((_, cert)) = x509_parser::parse_x509_certificate(buffer) {
                        object.insert(
                            "CertificateSubject".to_owned(),
                            Value::String(cert.subject().to_string()),
                        );
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
    object
}

/// MAA's `events` JSON for one verified quote: `{"Events": [...]}`, one object per measured
/// event on a verified PCR (see the crate docs for every member).
#[must_use]
pub fn events_json(quote: &VerifiedQuote) -> Value {
    let mut events = Vec::new();
    for (seq, event) in verified_events(quote) {
        let mut object = Map::new();
        object.insert("EventSeq".to_owned(), Value::from(seq));
        match event {
            ClaimEvent::Tcg(event) => {
                object.insert("PcrIndex".to_owned(), Value::from(event.pcr));
                object.insert("EventType".to_owned(), Value::from(event.event_type.0));
                object.insert(
                    "EventTypeString".to_owned(),
                    Value::String(event.event_type.name_or_hex()),
                );
                object.insert(
                    "Digests".to_owned(),
                    hex_digests(
                        event
                            .digests
                            .iter()
                            .filter_map(|d| d.hash_alg().map(|alg| (alg, d.value.clone()))),
                    ),
                );
                if let Some(data) = tcg_processed_data(event) {
                    object.insert("ProcessedData".to_owned(), Value::Object(data));
                }
            }
            ClaimEvent::Ima(entry) => {
                object.insert("PcrIndex".to_owned(), Value::from(entry.pcr));
                object.insert(
                    "EventTypeString".to_owned(),
                    Value::String("IMA_MEASUREMENT_EVENT".to_owned()),
                );
                object.insert(
                    "Digests".to_owned(),
                    hex_digests(std::iter::once((
                        HashAlg::Sha1,
                        entry.template_hash.to_vec(),
                    ))),
                );
                object.insert(
                    "ProcessedData".to_owned(),
                    Value::Object(ima_processed_data(entry)),
                );
            }
        }
        events.push(Value::Object(object));
    }
    let mut root = Map::new();
    root.insert("Events".to_owned(), Value::Array(events));
    Value::Object(root)
}

/// MAA's `pcrs` JSON: `{"PCRs": [{"Index": n, "Digests": {"SHA1": hex, "SHA256": hex}}]}`,
/// one entry per quoted PCR (ascending), one member per quoted bank; lowercase hex.
#[must_use]
pub fn pcrs_json(quote: &VerifiedQuote) -> Value {
    let quoted = quote.selection.iter().fold(0u32, |acc, s| acc | s.pcrs);
    let mut entries = Vec::new();
    for pcr in (0..32u32).filter(|i| quoted & (1u32 << i) != 0) {
        let digests = HashAlg::ALL.iter().filter_map(|bank| {
            quote
                .pcrs
                .get(*bank, pcr)
                .map(|value| (*bank, value.to_vec()))
        });
        let mut entry = Map::new();
        entry.insert("Index".to_owned(), Value::from(pcr));
        entry.insert("Digests".to_owned(), hex_digests(digests));
        entries.push(Value::Object(entry));
    }
    let mut root = Map::new();
    root.insert("PCRs".to_owned(), Value::Array(entries));
    Value::Object(root)
}

/// The boot-state booleans of one verified quote.
#[must_use]
pub fn boot_properties(quote: &VerifiedQuote) -> BootProperties {
    let mut secure_boot: Option<bool> = None;
    let mut flags = SipaFlags::default();
    for (_, event) in verified_events(quote) {
        let ClaimEvent::Tcg(event) = event else {
            continue;
        };
        if event.pcr == 7
            && event.event_type == EventType::EV_EFI_VARIABLE_DRIVER_CONFIG
            && event.data_binding() == DataBinding::Full
            && let Ok(variable) = UefiVariableData::parse(&event.data)
            && variable.guid == Guid::EFI_GLOBAL_VARIABLE
            && variable.name == "SecureBoot"
        {
            let on = variable.data == [1];
            secure_boot = Some(secure_boot.unwrap_or(true) && on);
        }
        if let Some(entries) = sipa_entries(event) {
            sipa::for_each_data(&entries, &mut |id, data| flags.record(id, data));
        }
    }
    BootProperties {
        secure_boot_enabled: secure_boot.unwrap_or(false),
        boot_debugging_disabled: flags.boot_debugging == Some(false),
        not_safe_mode: flags.safe_mode == Some(false),
        not_win_pe: flags.win_pe == Some(false),
        vbs_enabled: flags.vbs,
        iommu_enabled: flags.iommu,
    }
}

/// `Some(any true)` once a boolean was seen.
#[derive(Default)]
struct SipaFlags {
    boot_debugging: Option<bool>,
    safe_mode: Option<bool>,
    win_pe: Option<bool>,
    vbs: bool,
    iommu: bool,
}

impl SipaFlags {
    fn record(&mut self, id: u32, data: &[u8]) {
        let any = |slot: &mut Option<bool>, value: Option<bool>| {
            if let Some(value) = value {
                *slot = Some(slot.unwrap_or(false) || value);
            } else {
                // Undecodable: treat as "enabled" so the property fails closed.
                *slot = Some(true);
            }
        };
        match id {
            ids::BOOTDEBUGGING => any(&mut self.boot_debugging, sipa::as_bool(data)),
            ids::SAFEMODE => any(&mut self.safe_mode, sipa::as_bool(data)),
            ids::WINPE => any(&mut self.win_pe, sipa::as_bool(data)),
            ids::VSM_LAUNCH_TYPE => self.vbs |= sipa::as_int(data).is_some_and(|v| v != 0),
            ids::VBS_VSM_REQUIRED => self.vbs |= sipa::as_bool(data) == Some(true),
            ids::VBS_IOMMU_REQUIRED | ids::HYPERVISOR_BOOT_DMA_PROTECTION => {
                self.iommu |= sipa::as_bool(data) == Some(true);
            }
            _ => {}
        }
    }
}

/// The whole TPM claim set, as the policy engine's incoming claims (issuer
/// `AttestationService`): `aikValidated`, `aikPubHash`, `tpmVersion`, the boot booleans,
/// `pcrs`, `events`, `bootEvents` (from the boot attestation, when given) and the
/// `x-ms-tpm-*` key claims (when keys are given).
#[must_use]
pub fn tpm_claims(
    current: &VerifiedQuote,
    boot: Option<&VerifiedQuote>,
    request_key: Option<&AttestedKey>,
    other_keys: &[AttestedKey],
) -> Map<String, Value> {
    let properties = boot_properties(current);
    let mut claims = Map::new();
    claims.insert(
        "aikValidated".to_owned(),
        Value::Bool(current.aik.validated()),
    );
    claims.insert(
        "aikPubHash".to_owned(),
        Value::String(current.aik.key.pub_hash()),
    );
    claims.insert("tpmVersion".to_owned(), Value::from(TPM_VERSION));
    for (name, value) in [
        ("secureBootEnabled", properties.secure_boot_enabled),
        ("bootDebuggingDisabled", properties.boot_debugging_disabled),
        ("notSafeMode", properties.not_safe_mode),
        ("notWinPE", properties.not_win_pe),
        ("vbsEnabled", properties.vbs_enabled),
        ("iommuEnabled", properties.iommu_enabled),
    ] {
        claims.insert(name.to_owned(), Value::Bool(value));
    }
    claims.insert("pcrs".to_owned(), pcrs_json(current));
    claims.insert("events".to_owned(), events_json(current));
    if let Some(boot) = boot {
        claims.insert("bootEvents".to_owned(), events_json(boot));
    }
    if let Some(key) = request_key {
        claims.insert("x-ms-tpm-request-key".to_owned(), key.to_claim());
    }
    if !other_keys.is_empty() {
        claims.insert(
            "x-ms-tpm-other-keys".to_owned(),
            Value::Array(other_keys.iter().map(AttestedKey::to_claim).collect()),
        );
    }
    claims
}
