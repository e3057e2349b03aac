//! Attest request bodies: MAA's JSON in, the evidence and the client's data as bytes out.
//!
//! Shapes (maa-api.md §1.1, §2; member names match ignoring ASCII case, `null` = absent,
//! unknown members are ignored):
//!
//! ```text
//! 2020-10-01 and later   {"quote"|"report": b64, "runtimeData": {"data": b64, "dataType": "Binary"|"JSON"},
//!                         "initTimeData": {...}, "draftPolicyForAttestation": "<policy>", "nonce": "<text>"}
//! 2018-09-01-preview     {"Quote": b64, "EnclaveHeldData": b64, "DraftPolicyForAttestation": "<policy>"}
//! ```
//!
//! The evidence member is `quote` for `SgxEnclave` and `TdxVm`, `report` for `OpenEnclave`, and
//! `Quote` for every type in the legacy shape. Every base64 value may use the URL-safe or the
//! standard alphabet, with or without padding (one tolerant decoder:
//! [`attesto_jose::base64url::decode`]); anything else in it (whitespace, stray bytes) is an
//! error naming the offset.
//!
//! Decisions:
//! - **Open Enclave reports.** On `OpenEnclave` the 16-byte OE header (`{u32 version = 1,
//!   u32 type = 2, u64 size}`) is checked and stripped. A bare quote is accepted there too: the
//!   header carries no security-relevant information and the two forms cannot be confused (a
//!   quote starts with version 3..=5, a header with 1). On `SgxEnclave` and `TdxVm` an OE header
//!   is an error that names the right endpoint, rather than a confusing quote-version error.
//! - **A data object whose `data` is `null` or missing counts as absent.** The Python SDK 1.0.0
//!   sends `{"data": null, "dataType": "JSON"}` for init-time JSON; nothing is bound and no
//!   claim is emitted, so nothing is asserted that was not verified.
//! - **Members of the other API shape are errors**, not ignored: `EnclaveHeldData` in a
//!   2020-10-01+ body, or `runtimeData`/`initTimeData` in a 2018 body, would otherwise be
//!   dropped silently and the client would get a token without the binding it asked for.
//! - **A member spelled twice** (`quote` and `Quote`, or `quote` twice) is an error: which
//!   value is attested must not depend on a JSON library's choice.
//! - **JSON data must be a JSON object**: MAA documents `x-ms-runtime`/`x-ms-inittime` as
//!   objects, and the SDKs model them as dictionaries.
//! - **`nonce`** is read in every API version (MAA added it in 2022-08-01); echoing it is
//!   harmless and older clients never send it.

use std::fmt;
use std::str::FromStr;

use attesto_jose::Base64Problem;
use attesto_policy::AttestationType;
use attesto_quote::quote::{is_oe_report, parse_oe_report};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::json::{self, Members};

/// Largest evidence accepted, decoded: 64 KiB. Real quotes are 4-9 KiB (the PCK chain is most
/// of it); the cap bounds the work an unauthenticated request can cause.
pub const MAX_EVIDENCE_LEN: usize = 64 * 1024;
/// Largest runtime or init-time data accepted, decoded: 64 KiB. Enclaves bind a key or a small
/// JSON document (a JWK is under 1 KiB).
pub const MAX_DATA_LEN: usize = 64 * 1024;
/// Largest `nonce` accepted, in bytes: it is echoed into the token.
pub const MAX_NONCE_LEN: usize = 4 * 1024;
/// Largest draft policy accepted, in bytes: the policy parser's own limit.
pub const MAX_DRAFT_POLICY_LEN: usize = attesto_policy::limits::MAX_POLICY_BYTES;
/// Largest request body accepted: room for the limits above in base64 and JSON escapes. The
/// HTTP layer should cap bodies too; this keeps the parser safe on its own.
pub const MAX_BODY_LEN: usize = 1024 * 1024;

/// The `api-version` query parameter values MAA defines for attestation.
#[expect(
    non_camel_case_types,
    reason = "variant names spell the api-version values, whose '-preview' suffix needs an underscore"
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiVersion {
    /// `2018-09-01-preview`: the legacy `{Quote, EnclaveHeldData}` body; the answer is the bare
    /// JWT as a JSON string.
    V2018_09_01_Preview,
    /// `2020-10-01`: what the 1.0 SDKs send.
    V2020_10_01,
    /// `2022-08-01`: adds `nonce` and SEV-SNP.
    V2022_08_01,
    /// `2022-09-01`.
    V2022_09_01,
    /// `2025-06-01`: adds TDX VMs.
    V2025_06_01,
}

impl ApiVersion {
    /// Every version, oldest first.
    pub const ALL: [ApiVersion; 5] = [
        ApiVersion::V2018_09_01_Preview,
        ApiVersion::V2020_10_01,
        ApiVersion::V2022_08_01,
        ApiVersion::V2022_09_01,
        ApiVersion::V2025_06_01,
    ];

    /// The query-parameter spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V2018_09_01_Preview => "2018-09-01-preview",
            ApiVersion::V2020_10_01 => "2020-10-01",
            ApiVersion::V2022_08_01 => "2022-08-01",
            ApiVersion::V2022_09_01 => "2022-09-01",
            ApiVersion::V2025_06_01 => "2025-06-01",
        }
    }

    /// Whether requests use the 2018 `{Quote, EnclaveHeldData}` shape (and answers are a bare
    /// JWT string).
    #[must_use]
    pub const fn is_legacy(self) -> bool {
        matches!(self, ApiVersion::V2018_09_01_Preview)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `api-version` value this service does not speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported api-version '{0}'; supported: 2018-09-01-preview, 2020-10-01, 2022-08-01, 2022-09-01, 2025-06-01"
)]
pub struct UnsupportedApiVersion(pub String);

impl FromStr for ApiVersion {
    type Err = UnsupportedApiVersion;

    /// Exact values, ignoring ASCII case (`2018-09-01-Preview` is accepted).
    fn from_str(text: &str) -> Result<ApiVersion, UnsupportedApiVersion> {
        ApiVersion::ALL
            .into_iter()
            .find(|version| version.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnsupportedApiVersion(text.to_owned()))
    }
}

/// How the client wants its data interpreted (`dataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// Opaque bytes (the default when `dataType` is absent).
    Binary,
    /// A JSON object, emitted as `x-ms-runtime` / `x-ms-inittime`.
    Json,
}

impl DataType {
    /// MAA's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            DataType::Binary => "Binary",
            DataType::Json => "JSON",
        }
    }
}

/// Data the client bound into the evidence: runtime data (report data) or init-time data
/// (config ID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// The bytes exactly as sent (after base64 decoding): what is hashed for the binding.
    pub bytes: Vec<u8>,
    /// How the bytes are interpreted.
    pub data_type: DataType,
}

/// A parsed attest request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestRequest {
    /// The raw SGX or TDX quote (an Open Enclave header already stripped).
    pub evidence: Vec<u8>,
    /// Runtime data (`runtimeData`, or the legacy `EnclaveHeldData`): SHA-256 of it must be the
    /// first 32 bytes of the report data.
    pub runtime_data: Option<Data>,
    /// Init-time data (`initTimeData`): SHA-256 of it must be the first 32 bytes of the SGX
    /// config ID (TDX: MRCONFIGID).
    pub init_time_data: Option<Data>,
    /// `draftPolicyForAttestation`: evaluate this policy instead of the stored one and answer
    /// with an unsecured token.
    pub draft_policy: Option<String>,
    /// `nonce`, echoed into the token.
    pub nonce: Option<String>,
    /// The 2018-09-01-preview shape: the answer is the bare JWT as a JSON string.
    pub legacy: bool,
}

/// Why a request body was rejected. Messages name the member and say what was expected, for
/// the client developer reading a 400 answer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The attestation type has no quote-based evidence this service verifies.
    #[error(
        "attestation type {kind} is not supported by this service (supported: SgxEnclave, OpenEnclave, TdxVm)"
    )]
    UnsupportedAttestationType {
        /// The type from the path.
        kind: AttestationType,
    },
    /// The body exceeds [`MAX_BODY_LEN`].
    #[error("the request body is {len} bytes; at most {limit} are accepted")]
    BodyTooLarge {
        /// Body length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON (or not UTF-8).
    #[error("the request body is not valid JSON: {reason}")]
    NotJson {
        /// The parser's explanation, with line and column.
        reason: String,
    },
    /// The body is JSON but not an object.
    #[error("the request body must be a JSON object, found {found}")]
    NotAnObject {
        /// What it is instead.
        found: &'static str,
    },
    /// A member appears twice (names compare ignoring ASCII case).
    #[error("member '{field}' appears twice (as '{first}' and '{second}'); send it once")]
    DuplicateField {
        /// The member, with its parent (`runtimeData.data`).
        field: String,
        /// The first spelling.
        first: String,
        /// The second spelling.
        second: String,
    },
    /// The evidence member is missing.
    #[error("member '{field}' is required: the base64url-encoded evidence for {kind}")]
    MissingEvidence {
        /// The member expected.
        field: &'static str,
        /// The attestation type.
        kind: AttestationType,
    },
    /// The evidence came in the member of another attestation type (`quote` for
    /// `OpenEnclave`, `report` for `SgxEnclave`).
    #[error("{kind} evidence goes in member '{expected}', not '{found}'")]
    EvidenceInWrongField {
        /// The attestation type.
        kind: AttestationType,
        /// The member expected.
        expected: &'static str,
        /// The member sent.
        found: &'static str,
    },
    /// A member of the other API shape was sent.
    #[error("member '{field}' is not part of api-version {api_version}; {hint}")]
    FieldNotInVersion {
        /// The member.
        field: &'static str,
        /// The requested version.
        api_version: ApiVersion,
        /// What to send instead.
        hint: &'static str,
    },
    /// A member has the wrong JSON type.
    #[error("member '{field}' must be {expected}, found {found}")]
    WrongType {
        /// The member, with its parent.
        field: String,
        /// The JSON type expected.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A member is not valid base64/base64url.
    #[error("member '{field}' is not valid base64url (or base64): {problem}")]
    Base64 {
        /// The member.
        field: &'static str,
        /// What is wrong, with the offset.
        problem: Base64Problem,
    },
    /// A member decodes to nothing.
    #[error("member '{field}' is empty")]
    Empty {
        /// The member.
        field: &'static str,
    },
    /// A member exceeds its size limit.
    #[error("member '{field}' is {len} bytes; at most {limit} are accepted")]
    TooLarge {
        /// The member.
        field: &'static str,
        /// Its (decoded, or for base64 text estimated decoded) length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// `dataType` is neither `Binary` nor `JSON`.
    #[error("member '{field}' must be \"Binary\" or \"JSON\", found {value:?}")]
    UnknownDataType {
        /// The member.
        field: &'static str,
        /// The value sent.
        value: String,
    },
    /// Data declared `JSON` does not parse as JSON.
    #[error("member '{field}' has dataType JSON but its decoded bytes are not JSON: {reason}")]
    InvalidJsonData {
        /// The member.
        field: &'static str,
        /// The parser's explanation.
        reason: String,
    },
    /// Data declared `JSON` is JSON but not an object.
    #[error("member '{field}' has dataType JSON and must decode to a JSON object, found {found}")]
    JsonDataNotObject {
        /// The member.
        field: &'static str,
        /// What it is instead.
        found: &'static str,
    },
    /// The `OpenEnclave` report header is malformed.
    #[error("member '{field}' is not a valid Open Enclave report: {reason}")]
    OpenEnclaveReport {
        /// The member.
        field: &'static str,
        /// What is wrong with the header.
        reason: String,
    },
    /// An Open Enclave report (with its 16-byte header) was sent to another endpoint.
    #[error(
        "member '{field}' holds an Open Enclave report (16-byte OE header), but {kind} expects a bare quote; send it to /attest/OpenEnclave as 'report', or strip the header"
    )]
    OpenEnclaveReportNotExpected {
        /// The member.
        field: &'static str,
        /// The attestation type.
        kind: AttestationType,
    },
}

/// The member names of one API shape.
struct Shape {
    evidence: &'static str,
    runtime: &'static str,
    draft_policy: &'static str,
}

fn shape(kind: AttestationType, legacy: bool) -> Result<Shape, RequestError> {
    let evidence = match (kind, legacy) {
        (
            AttestationType::SgxEnclave | AttestationType::OpenEnclave | AttestationType::TdxVm,
            true,
        ) => "Quote",
        (AttestationType::SgxEnclave | AttestationType::TdxVm, false) => "quote",
        (AttestationType::OpenEnclave, false) => "report",
        (AttestationType::Tpm | AttestationType::SevSnpVm, _) => {
            return Err(RequestError::UnsupportedAttestationType { kind });
        }
    };
    Ok(if legacy {
        Shape {
            evidence,
            runtime: "EnclaveHeldData",
            draft_policy: "DraftPolicyForAttestation",
        }
    } else {
        Shape {
            evidence,
            runtime: "runtimeData",
            draft_policy: "draftPolicyForAttestation",
        }
    })
}

/// Parses an attest request body for attestation type `kind` (from the path) and `version`
/// (from `api-version`).
///
/// Only `SgxEnclave`, `OpenEnclave` and `TdxVm` are accepted. The evidence is returned as a
/// bare quote, ready for `attesto_quote::Verifier::verify`.
///
/// # Errors
/// A [`RequestError`] naming the member at fault.
pub fn parse(
    kind: AttestationType,
    version: ApiVersion,
    body: &[u8],
) -> Result<AttestRequest, RequestError> {
    let legacy = version.is_legacy();
    let shape = shape(kind, legacy)?;
    if body.len() > MAX_BODY_LEN {
        return Err(RequestError::BodyTooLarge {
            len: body.len(),
            limit: MAX_BODY_LEN,
        });
    }
    let raw: &RawValue = serde_json::from_slice(body).map_err(|error| RequestError::NotJson {
        reason: error.to_string(),
    })?;
    let members = Members::parse(raw.get(), "")?;

    // Members that belong to the other shape.
    let foreign: &[(&'static str, &'static str)] = if legacy {
        &[
            (
                "runtimeData",
                "send the runtime data as 'EnclaveHeldData', or use api-version 2020-10-01 or later",
            ),
            (
                "initTimeData",
                "init-time data needs api-version 2020-10-01 or later",
            ),
        ]
    } else {
        &[(
            "EnclaveHeldData",
            "send it as runtimeData: {\"data\": ..., \"dataType\": \"Binary\"}, or use api-version 2018-09-01-preview",
        )]
    };
    for (field, hint) in foreign {
        if members.has(field) {
            return Err(RequestError::FieldNotInVersion {
                field,
                api_version: version,
                hint,
            });
        }
    }

    let evidence = evidence(kind, &shape, &members)?;
    let (runtime_data, init_time_data) = if legacy {
        let runtime = match members.get(shape.runtime, "")? {
            Some(raw) => Some(Data {
                bytes: decode(
                    &json::string(raw, shape.runtime)?,
                    shape.runtime,
                    MAX_DATA_LEN,
                )?,
                data_type: DataType::Binary,
            }),
            None => None,
        };
        (runtime, None)
    } else {
        (
            data(&members, DataField::RUNTIME)?,
            data(&members, DataField::INIT_TIME)?,
        )
    };
    let draft_policy = bounded_string(&members, shape.draft_policy, MAX_DRAFT_POLICY_LEN)?;
    let nonce = bounded_string(&members, "nonce", MAX_NONCE_LEN)?;
    Ok(AttestRequest {
        evidence,
        runtime_data,
        init_time_data,
        draft_policy,
        nonce,
        legacy,
    })
}

/// Reads, decodes and unwraps the evidence.
fn evidence(
    kind: AttestationType,
    shape: &Shape,
    members: &Members<'_>,
) -> Result<Vec<u8>, RequestError> {
    let field = shape.evidence;
    let Some(raw) = members.get(field, "")? else {
        // A modern body with the other type's member gets a pointed message.
        let other = match field {
            "quote" => "report",
            "report" => "quote",
            _ => "",
        };
        if !other.is_empty() && members.has(other) {
            return Err(RequestError::EvidenceInWrongField {
                kind,
                expected: field,
                found: other,
            });
        }
        return Err(RequestError::MissingEvidence { field, kind });
    };
    let bytes = decode(&json::string(raw, field)?, field, MAX_EVIDENCE_LEN)?;
    if bytes.is_empty() {
        return Err(RequestError::Empty { field });
    }
    if !is_oe_report(&bytes) {
        return Ok(bytes);
    }
    if kind != AttestationType::OpenEnclave {
        return Err(RequestError::OpenEnclaveReportNotExpected { field, kind });
    }
    let quote = parse_oe_report(&bytes).map_err(|error| RequestError::OpenEnclaveReport {
        field,
        reason: match error {
            attesto_quote::Error::OeReportMalformed { reason } => reason.to_owned(),
            other => other.to_string(),
        },
    })?;
    if quote.is_empty() {
        return Err(RequestError::Empty { field });
    }
    Ok(quote.to_vec())
}

/// Member names of a `{data, dataType}` object, for errors.
struct DataField {
    name: &'static str,
    data: &'static str,
    data_type: &'static str,
}

impl DataField {
    const RUNTIME: DataField = DataField {
        name: "runtimeData",
        data: "runtimeData.data",
        data_type: "runtimeData.dataType",
    };
    const INIT_TIME: DataField = DataField {
        name: "initTimeData",
        data: "initTimeData.data",
        data_type: "initTimeData.dataType",
    };
}

/// Reads a `{"data": b64, "dataType": "Binary"|"JSON"}` member.
fn data(members: &Members<'_>, field: DataField) -> Result<Option<Data>, RequestError> {
    let Some(raw) = members.get(field.name, "")? else {
        return Ok(None);
    };
    let object = Members::parse(raw.get(), field.name)?;
    let Some(data) = object.get("data", field.name)? else {
        return Ok(None);
    };
    let text = json::string(data, field.data)?;
    let data_type = match object.get("dataType", field.name)? {
        None => DataType::Binary,
        Some(raw) => {
            let value = json::string(raw, field.data_type)?;
            if value.eq_ignore_ascii_case("binary") {
                DataType::Binary
            } else if value.eq_ignore_ascii_case("json") {
                DataType::Json
            } else {
                return Err(RequestError::UnknownDataType {
                    field: field.data_type,
                    value,
                });
            }
        }
    };
    let bytes = decode(&text, field.data, MAX_DATA_LEN)?;
    if data_type == DataType::Json {
        check_json_object(&bytes, field.data)?;
    }
    Ok(Some(Data { bytes, data_type }))
}

/// JSON data must be a JSON object.
pub(crate) fn check_json_object(
    bytes: &[u8],
    field: &'static str,
) -> Result<serde_json::Map<String, Value>, RequestError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(RequestError::JsonDataNotObject {
            field,
            found: json::kind(&other),
        }),
        Err(error) => Err(RequestError::InvalidJsonData {
            field,
            reason: error.to_string(),
        }),
    }
}

/// An optional string member of at most `limit` bytes.
fn bounded_string(
    members: &Members<'_>,
    field: &'static str,
    limit: usize,
) -> Result<Option<String>, RequestError> {
    let Some(raw) = members.get(field, "")? else {
        return Ok(None);
    };
    let text = json::string(raw, field)?;
    if text.len() > limit {
        return Err(RequestError::TooLarge {
            field,
            len: text.len(),
            limit,
        });
    }
    Ok(Some(text))
}

/// Tolerant base64 decoding with a decoded-size limit checked before decoding.
fn decode(text: &str, field: &'static str, limit: usize) -> Result<Vec<u8>, RequestError> {
    // Four symbols carry three bytes; reject oversize text before allocating for it.
    let estimated = text.len().saturating_mul(3) / 4;
    if estimated > limit.saturating_add(2) {
        return Err(RequestError::TooLarge {
            field,
            len: estimated,
            limit,
        });
    }
    let bytes = attesto_jose::base64url::decode(text)
        .map_err(|problem| RequestError::Base64 { field, problem })?;
    if bytes.len() > limit {
        return Err(RequestError::TooLarge {
            field,
            len: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}
