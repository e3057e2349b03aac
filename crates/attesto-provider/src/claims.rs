//! Incoming claims: what a verified quote and the client's bound data say, under MAA's claim
//! names, ready for policy evaluation ([`IncomingClaims::claim_set`]) and for the token
//! ([`crate::token`]).
//!
//! Before any claim is built, the bindings are checked: SHA-256 of the runtime data must equal
//! the first 32 bytes of the report data (SGX and TDX, as MAA does), and SHA-256 of the
//! init-time data must equal the first 32 bytes of the SGX CONFIGID or, for TDX, of the 48-byte
//! MRCONFIGID (MAA documents init-time data for SGX only; MRCONFIGID is TDX's software-defined
//! configuration field, so attesto binds it the same way).
//!
//! Two sets are built:
//! - **service claims**, emitted in every token whatever the policy says: the `x-ms-*` claims
//!   (SGX) or `tdx_*` EAT claims (TDX), the deprecated copies MAA still emits for SGX (`maa-ehd`,
//!   `aas-ehd`, `maa-attestationcollateral`), and attesto's TCB facts under `x-attesto-*` (they
//!   are not MAA names, so they live in attesto's namespace);
//! - **input aliases**, visible to policies only: the `$`-prefixed names of 2018-era policies
//!   (`$is-debuggable`, `$sgx-mrsigner`, ...). `attesto-policy` maps no aliases itself.
//!
//! `OpenEnclave` evidence is an SGX quote and gets exactly the SGX claim set, including
//! `x-ms-attestation-type: "sgx"`, as MAA's OE tokens do.
//!
//! SGX config and KSS claims (`x-ms-sgx-config-id`, `x-ms-sgx-config-svn`,
//! `x-ms-sgx-isv-extended-product-id`, `x-ms-sgx-isv-family-id`) are emitted, all four
//! together, when the enclave has Key Separation and Sharing enabled (ATTRIBUTES bit 7) or any
//! of them is non-zero: MAA emits them only for KSS enclaves, and outside KSS the CPU forces
//! them to zero, so they would carry no information.

use std::sync::Arc;

use attesto_policy::{AttestationType, Claim, ClaimSet, ClaimValue, JsonValue};
use attesto_quote::quote::{SgxReportBody, TdReport};
use attesto_quote::{TeeType, VerifiedQuote};
use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Map, Value};

use crate::request::{AttestRequest, Data, DataType, RequestError, check_json_object};

/// `x-ms-ver`: the claim-set version MAA emits.
pub const MAA_CLAIMS_VERSION: &str = "1.0";
/// `eat_profile` of MAA's TDX tokens.
pub const TDX_EAT_PROFILE: &str = "https://aka.ms/maa-eat-profile-tdxvm";

/// SGX `ATTRIBUTES.FLAGS` bit 7: Key Separation and Sharing.
const SGX_FLAG_KSS: u8 = 0x80;

/// TDX `TDATTRIBUTES` bits MAA reports as booleans (bit number, claim suffix).
const TD_ATTRIBUTE_FLAGS: [(u32, &str); 5] = [
    (0, "debug"),
    (28, "septve_disable"),
    (30, "protection_keys"),
    (31, "key_locker"),
    (63, "perfmon"),
];

/// Why claims could not be built from a verified quote and its request.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// The attestation type has no quote-based evidence this service verifies.
    #[error(
        "attestation type {kind} is not supported by this service (supported: SgxEnclave, OpenEnclave, TdxVm)"
    )]
    UnsupportedAttestationType {
        /// The type from the path.
        kind: AttestationType,
    },
    /// The quote's TEE does not match the endpoint (an SGX quote on `/attest/TdxVm` or a TDX
    /// quote on `/attest/SgxEnclave`).
    #[error(
        "{kind} expects {expected} evidence, but the quote is a {found} quote; send it to /attest/{endpoint}"
    )]
    WrongTee {
        /// The type from the path.
        kind: AttestationType,
        /// The TEE that type takes.
        expected: &'static str,
        /// The TEE of the quote.
        found: &'static str,
        /// Where the quote belongs.
        endpoint: &'static str,
    },
    /// SHA-256 of the runtime data is not the first 32 bytes of the report data: the data was
    /// not bound by this enclave or TD (or was re-encoded by the client).
    #[error(
        "runtime data does not match the quote: SHA-256 of the runtime data is {expected}, but report_data[0..32] is {actual}"
    )]
    RuntimeDataMismatch {
        /// Lowercase hex SHA-256 of the runtime data as sent.
        expected: String,
        /// Lowercase hex of `report_data[0..32]`.
        actual: String,
    },
    /// SHA-256 of the init-time data is not the first 32 bytes of the configuration field.
    #[error(
        "init-time data does not match the quote: SHA-256 of the init-time data is {expected}, but {field}[0..32] is {actual}"
    )]
    InitTimeDataMismatch {
        /// `config_id` (SGX) or `mrconfigid` (TDX).
        field: &'static str,
        /// Lowercase hex SHA-256 of the init-time data as sent.
        expected: String,
        /// Lowercase hex of the field's first 32 bytes.
        actual: String,
    },
    /// Data declared JSON is not a JSON object (only possible for a hand-built request).
    #[error(transparent)]
    Data(#[from] RequestError),
    /// The verified quote's report body does not match its TEE type (a hand-built
    /// `VerifiedQuote`; the verifier never produces one).
    #[error("the verified quote carries no {expected} report body")]
    MissingReportBody {
        /// The body expected.
        expected: &'static str,
    },
}

/// The claims of one verified attestation.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingClaims {
    kind: AttestationType,
    service: Map<String, Value>,
    aliases: Map<String, Value>,
}

impl IncomingClaims {
    /// The attestation type the claims were built for.
    #[must_use]
    pub fn attestation_type(&self) -> AttestationType {
        self.kind
    }

    /// Claims the service emits in every token, policy or not.
    #[must_use]
    pub fn service_claims(&self) -> &Map<String, Value> {
        &self.service
    }

    /// Deprecated `$`-names, visible to policies but never emitted.
    #[must_use]
    pub fn input_aliases(&self) -> &Map<String, Value> {
        &self.aliases
    }

    /// A claim by name: service claims first, then input aliases.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.service.get(name).or_else(|| self.aliases.get(name))
    }

    /// The claim set a policy is evaluated against: every service claim and input alias
    /// (issuer `AttestationService`), plus `x-ms-policy-hash` when given (MAA lists it among
    /// the incoming claims). Objects and arrays become [`ClaimValue::Json`].
    #[must_use]
    pub fn claim_set(&self, policy_hash: Option<&str>) -> ClaimSet {
        let mut set: ClaimSet = self
            .service
            .iter()
            .chain(&self.aliases)
            .map(|(name, value)| Claim::evidence(name.as_str(), claim_value(value)))
            .collect();
        if let Some(hash) = policy_hash {
            set.push(Claim::evidence("x-ms-policy-hash", hash));
        }
        set
    }
}

/// A token/JSON value as a policy claim value. Total: numbers outside `i64` (none are built
/// here) are carried as JSON.
fn claim_value(value: &Value) -> ClaimValue {
    match value {
        Value::String(text) => ClaimValue::String(Arc::from(text.as_str())),
        Value::Bool(flag) => ClaimValue::Boolean(*flag),
        Value::Number(number) => number.as_i64().map_or_else(
            || ClaimValue::Json(JsonValue::new(value.clone())),
            ClaimValue::Integer,
        ),
        Value::Null | Value::Array(_) | Value::Object(_) => {
            ClaimValue::Json(JsonValue::new(value.clone()))
        }
    }
}

/// Builds the incoming claims for a quote verified from `request.evidence`, after checking
/// that the request's runtime and init-time data are bound into it.
///
/// # Errors
/// [`ClaimsError::WrongTee`] when the quote does not fit the endpoint, the binding mismatches,
/// [`ClaimsError::UnsupportedAttestationType`] for TPM and SEV-SNP.
pub fn incoming(
    kind: AttestationType,
    verified: &VerifiedQuote,
    request: &AttestRequest,
) -> Result<IncomingClaims, ClaimsError> {
    let expected_tee = match kind {
        AttestationType::SgxEnclave | AttestationType::OpenEnclave => TeeType::Sgx,
        AttestationType::TdxVm => TeeType::Tdx,
        AttestationType::Tpm | AttestationType::SevSnpVm => {
            return Err(ClaimsError::UnsupportedAttestationType { kind });
        }
    };
    if verified.tee != expected_tee {
        return Err(ClaimsError::WrongTee {
            kind,
            expected: tee_name(expected_tee),
            found: tee_name(verified.tee),
            endpoint: match verified.tee {
                TeeType::Sgx => "SgxEnclave",
                TeeType::Tdx => "TdxVm",
            },
        });
    }
    let runtime_json = json_object(request.runtime_data.as_ref(), "runtimeData.data")?;
    let init_json = json_object(request.init_time_data.as_ref(), "initTimeData.data")?;
    check_runtime_binding(verified.report.report_data(), request.runtime_data.as_ref())?;

    let mut claims = Builder::default();
    match expected_tee {
        TeeType::Sgx => {
            let body = verified
                .report
                .as_sgx()
                .ok_or(ClaimsError::MissingReportBody { expected: "SGX" })?;
            check_init_binding(&body.configid, "config_id", request.init_time_data.as_ref())?;
            sgx_claims(&mut claims, verified, body, request.runtime_data.as_ref());
        }
        TeeType::Tdx => {
            let body = verified
                .report
                .as_td()
                .ok_or(ClaimsError::MissingReportBody { expected: "TDX" })?;
            check_init_binding(
                &body.mrconfigid,
                "mrconfigid",
                request.init_time_data.as_ref(),
            )?;
            tdx_claims(&mut claims, verified, body);
        }
    }
    if let Some(runtime) = runtime_json {
        claims.service("x-ms-runtime", Value::Object(runtime));
    }
    if let Some(init) = init_json {
        claims.service("x-ms-inittime", Value::Object(init));
    }
    claims.service("x-ms-ver", MAA_CLAIMS_VERSION);
    tcb_facts(&mut claims, verified);
    Ok(IncomingClaims {
        kind,
        service: claims.service,
        aliases: claims.aliases,
    })
}

fn tee_name(tee: TeeType) -> &'static str {
    match tee {
        TeeType::Sgx => "SGX",
        TeeType::Tdx => "TDX",
    }
}

/// The parsed object of JSON data, `None` for absent or binary data.
fn json_object(
    data: Option<&Data>,
    field: &'static str,
) -> Result<Option<Map<String, Value>>, ClaimsError> {
    match data {
        Some(data) if data.data_type == DataType::Json => {
            Ok(Some(check_json_object(&data.bytes, field)?))
        }
        _ => Ok(None),
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// SHA-256(runtime data) must equal `report_data[0..32]`; the rest of the report data is the
/// enclave's own business (MAA checks only the first half).
fn check_runtime_binding(
    report_data: &[u8; 64],
    runtime: Option<&Data>,
) -> Result<(), ClaimsError> {
    let Some(runtime) = runtime else {
        return Ok(());
    };
    let expected = sha256(&runtime.bytes);
    let actual = report_data.first_chunk::<32>().copied().unwrap_or_default();
    if expected == actual {
        return Ok(());
    }
    Err(ClaimsError::RuntimeDataMismatch {
        expected: hex::encode(expected),
        actual: hex::encode(actual),
    })
}

/// SHA-256(init-time data) must equal the first 32 bytes of `config` (CONFIGID or MRCONFIGID).
fn check_init_binding(
    config: &[u8],
    field: &'static str,
    init: Option<&Data>,
) -> Result<(), ClaimsError> {
    let Some(init) = init else {
        return Ok(());
    };
    let expected = sha256(&init.bytes);
    let actual = config.get(..32).unwrap_or_default();
    if expected.as_slice() == actual {
        return Ok(());
    }
    Err(ClaimsError::InitTimeDataMismatch {
        field,
        expected: hex::encode(expected),
        actual: hex::encode(actual),
    })
}

/// Collects the two claim maps.
#[derive(Default)]
struct Builder {
    service: Map<String, Value>,
    aliases: Map<String, Value>,
}

impl Builder {
    fn service(&mut self, name: &str, value: impl Into<Value>) {
        self.service.insert(name.to_owned(), value.into());
    }

    fn alias(&mut self, name: &str, value: impl Into<Value>) {
        self.aliases.insert(name.to_owned(), value.into());
    }
}

fn sgx_claims(
    claims: &mut Builder,
    verified: &VerifiedQuote,
    body: &SgxReportBody,
    runtime: Option<&Data>,
) {
    let debuggable = body.is_debuggable();
    let mrsigner = hex::encode(body.mrsigner);
    let mrenclave = hex::encode(body.mrenclave);
    let collateral = collateral_object(verified);

    claims.service("x-ms-attestation-type", "sgx");
    claims.service("x-ms-sgx-is-debuggable", debuggable);
    claims.service("x-ms-sgx-product-id", body.isvprodid);
    claims.service("x-ms-sgx-svn", body.isvsvn);
    claims.service("x-ms-sgx-mrsigner", mrsigner.clone());
    claims.service("x-ms-sgx-mrenclave", mrenclave.clone());
    claims.service("x-ms-sgx-report-data", hex::encode(body.report_data));
    claims.service("x-ms-sgx-collateral", collateral.clone());
    claims.service("maa-attestationcollateral", collateral.clone());

    let kss = body.attributes[0] & SGX_FLAG_KSS != 0
        || body.configid != [0; 64]
        || body.configsvn != 0
        || body.isvextprodid != [0; 16]
        || body.isvfamilyid != [0; 16];
    if kss {
        claims.service("x-ms-sgx-config-id", hex::encode(body.configid));
        claims.service("x-ms-sgx-config-svn", body.configsvn);
        claims.service(
            "x-ms-sgx-isv-extended-product-id",
            hex::encode(body.isvextprodid),
        );
        claims.service("x-ms-sgx-isv-family-id", hex::encode(body.isvfamilyid));
    }

    claims.alias("$is-debuggable", debuggable);
    claims.alias("$sgx-mrsigner", mrsigner);
    claims.alias("$sgx-mrenclave", mrenclave);
    claims.alias("$product-id", body.isvprodid);
    claims.alias("$svn", body.isvsvn);
    claims.alias("$tee", "sgx");
    claims.alias("$maa-attestationcollateral", collateral);

    if let Some(runtime) = runtime {
        // Binary or JSON alike: MAA emits the bytes as sent.
        let ehd = attesto_jose::base64url::encode(&runtime.bytes);
        claims.service("x-ms-sgx-ehd", ehd.clone());
        claims.service("maa-ehd", ehd.clone());
        claims.service("aas-ehd", ehd.clone());
        claims.alias("$maa-ehd", ehd.clone());
        claims.alias("$aas-ehd", ehd);
    }
}

/// `x-ms-sgx-collateral`: the seven lowercase-hex SHA-256 values.
fn collateral_object(verified: &VerifiedQuote) -> Value {
    let hashes = &verified.collateral_hashes;
    let mut object = Map::new();
    for (name, value) in [
        ("qeidcertshash", &hashes.qeidcertshash),
        ("qeidcrlhash", &hashes.qeidcrlhash),
        ("qeidhash", &hashes.qeidhash),
        ("quotehash", &hashes.quotehash),
        ("tcbinfocertshash", &hashes.tcbinfocertshash),
        ("tcbinfocrlhash", &hashes.tcbinfocrlhash),
        ("tcbinfohash", &hashes.tcbinfohash),
    ] {
        object.insert(name.to_owned(), Value::String(value.clone()));
    }
    Value::Object(object)
}

fn tdx_claims(claims: &mut Builder, verified: &VerifiedQuote, body: &TdReport) {
    let attributes = u64::from_le_bytes(body.td_attributes);
    let debug = attributes & 1 != 0;

    claims.service("x-ms-attestation-type", "tdxvm");
    claims.service("eat_profile", TDX_EAT_PROFILE);
    claims.service("intuse", "generic");
    claims.service("dbgstat", if debug { "enabled" } else { "disabled" });
    claims.service("attester_tcb_status", verified.status.as_str());
    claims.service("tdx_mrtd", hex::encode(body.mrtd));
    for (index, rtmr) in body.rtmr.iter().enumerate() {
        claims.service(&format!("tdx_rtmr{index}"), hex::encode(rtmr));
    }
    claims.service("tdx_mrseam", hex::encode(body.mrseam));
    claims.service("tdx_mrsignerseam", hex::encode(body.mrsignerseam));
    claims.service("tdx_mrconfigid", hex::encode(body.mrconfigid));
    claims.service("tdx_mrowner", hex::encode(body.mrowner));
    claims.service("tdx_mrownerconfig", hex::encode(body.mrownerconfig));
    claims.service("tdx_report_data", hex::encode(body.report_data));
    claims.service("tdx_seam_attributes", hex::encode(body.seam_attributes));
    claims.service(
        "tdx_seamsvn",
        u16::from_le_bytes([body.tee_tcb_svn[0], body.tee_tcb_svn[1]]),
    );
    claims.service("tdx_td_attributes", hex::encode(body.td_attributes));
    for (bit, suffix) in TD_ATTRIBUTE_FLAGS {
        claims.service(
            &format!("tdx_td_attributes_{suffix}"),
            attributes >> bit & 1 == 1,
        );
    }
    claims.service("tdx_tee_tcb_svn", hex::encode(body.tee_tcb_svn));
    claims.service("tdx_xfam", hex::encode(body.xfam));
}

/// attesto's TCB facts, namespaced because MAA has no names for them.
fn tcb_facts(claims: &mut Builder, verified: &VerifiedQuote) {
    claims.service("x-attesto-tcb-status", verified.status.as_str());
    claims.service(
        "x-attesto-advisory-ids",
        Value::Array(
            verified
                .advisory_ids
                .iter()
                .map(|id| Value::String(id.clone()))
                .collect(),
        ),
    );
    claims.service(
        "x-attesto-tcb-date",
        attesto_quote::time::format_rfc3339(verified.tcb_date),
    );
    claims.service(
        "x-attesto-tcb-evaluation-data-number",
        verified.tcb_evaluation_data_number,
    );
    claims.service("x-attesto-fmspc", hex::encode(verified.pck.fmspc));
    claims.service(
        "x-attesto-collateral-expiry",
        verified.earliest_expiry.as_secs(),
    );
}
