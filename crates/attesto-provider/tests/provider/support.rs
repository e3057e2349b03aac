//! Test data paths, request bodies and small helpers.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use attesto_policy::{AttestationType, Policy, default_policy, policy_hash};
use attesto_provider::token::{TokenInputs, attestation_payload};
use attesto_provider::{IncomingClaims, request};
use aws_lc_rs::digest::{SHA256, digest};
use rustls_pki_types::UnixTime;
use serde_json::{Map, Value, json};

/// `testdata/` at the repository root.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

pub fn read(rel: &str) -> Result<Vec<u8>> {
    let path = testdata().join(rel);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

pub fn read_text(rel: &str) -> Result<String> {
    Ok(String::from_utf8(read(rel)?)?)
}

pub fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

pub fn rfc3339(text: &str) -> Result<u64> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)?;
    Ok(u64::try_from(t.unix_timestamp())?)
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes).as_ref())
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Base64url without padding, as the SDKs send.
pub fn b64(bytes: &[u8]) -> String {
    attesto_jose::base64url::encode(bytes)
}

/// A modern attest body: evidence under `field`, optional runtime and init-time data.
pub fn body(
    field: &str,
    evidence: &[u8],
    runtime: Option<(&[u8], &str)>,
    init: Option<(&[u8], &str)>,
) -> Vec<u8> {
    let mut object = Map::new();
    object.insert(field.to_owned(), Value::from(b64(evidence)));
    if let Some((data, data_type)) = runtime {
        object.insert(
            "runtimeData".to_owned(),
            json!({"data": b64(data), "dataType": data_type}),
        );
    }
    if let Some((data, data_type)) = init {
        object.insert(
            "initTimeData".to_owned(),
            json!({"data": b64(data), "dataType": data_type}),
        );
    }
    Value::Object(object).to_string().into_bytes()
}

/// The evidence member for a type.
pub fn evidence_field(kind: AttestationType) -> &'static str {
    match kind {
        AttestationType::OpenEnclave => "report",
        _ => "quote",
    }
}

/// Parses a modern (2022-08-01) body.
pub fn parse(kind: AttestationType, body: &[u8]) -> Result<request::AttestRequest> {
    Ok(request::parse(
        kind,
        request::ApiVersion::V2022_08_01,
        body,
    )?)
}

/// Evaluates the type's default policy on `incoming` and builds the token payload at `now`.
pub fn default_policy_payload(
    incoming: &IncomingClaims,
    now: UnixTime,
) -> Result<Map<String, Value>> {
    let text = default_policy(incoming.attestation_type());
    let hash = policy_hash(text);
    let evaluation = Policy::parse(text)?.evaluate(&incoming.claim_set(Some(&hash)))?;
    anyhow::ensure!(evaluation.permitted, "default policy denied");
    Ok(attestation_payload(&TokenInputs {
        incoming,
        issued: &evaluation.issued_claims,
        policy_hash: &hash,
        iss: "https://attest.example",
        now,
        lifetime: Duration::from_secs(8 * 3600),
        jti: [0x5A; 32],
        nonce: None,
        extra: None,
    })?)
}

/// A claim as a string (fails the test when absent or not a string).
pub fn str_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    claims.get(name).and_then(Value::as_str).with_context(|| {
        format!(
            "claim {name} missing or not a string: {:?}",
            claims.get(name)
        )
    })
}
