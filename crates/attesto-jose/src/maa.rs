//! MAA request and payload helpers: policy upload bodies, signer-management bodies, and the
//! hashes and thumbprints MAA puts in its answers.

use aws_lc_rs::digest;
use serde_json::{Map, Value};

use crate::base64url;
use crate::error::Error;
use crate::jwk::Jwk;
use crate::jws::Limits;
use crate::sign::unsecured_jws;

pub use crate::cert::certificate_thumbprint;

/// The claim names a policy-certificate management body may use for the certificate. The 2020+
/// SDKs send `policyCertificate`; docs use `maa-policyCertificate`; the troubleshooting guide
/// says `x-ms-policyCertificate`; the 2018 preview used `aas-policyCertificate`.
pub const POLICY_CERTIFICATE_CLAIMS: [&str; 4] = [
    "policyCertificate",
    "maa-policyCertificate",
    "x-ms-policyCertificate",
    "aas-policyCertificate",
];

/// How the `AttestationPolicy` value of a stored policy was written.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyEncoding {
    /// Base64url of the UTF-8 policy text, as the SDKs write it.
    Base64Url,
    /// The policy text itself, as one documentation sample writes it.
    RawText,
}

/// The policy carried by a StoredAttestationPolicy payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPolicy {
    /// The policy text.
    pub text: String,
    /// How it was encoded in the payload.
    pub encoding: PolicyEncoding,
}

/// Turns an HTTP request body into the JWS text it carries.
///
/// MAA clients send the JWS raw (`text/plain`, policy PUT and reset) or as a JSON string
/// literal (`application/json`, `certificates:add`/`remove`): both are accepted, and surrounding
/// ASCII whitespace (a trailing newline from `curl -d @file`) is ignored. The result still has
/// to be parsed with [`crate::Jws::parse`]; an empty body gives MAA's "could not find first
/// period" error there.
///
/// # Errors
/// [`Error::TooLarge`] beyond [`Limits::max_token_len`] (plus room for JSON escapes),
/// [`Error::RequestBody`] for non-UTF-8 bodies and broken JSON strings.
pub fn normalize_request_body(body: &[u8]) -> Result<String, Error> {
    // A JSON-quoted JWS has two quotes and no escapes (JWS text needs none); allow a little slack
    // for whitespace and harmless escapes.
    let limit = Limits::DEFAULT.max_token_len.saturating_add(1024);
    if body.len() > limit {
        return Err(Error::TooLarge {
            what: "request body",
            len: body.len(),
            limit,
        });
    }
    let text = std::str::from_utf8(body).map_err(|e| Error::RequestBody {
        reason: format!("not UTF-8: {e}"),
    })?;
    let text = text.trim_ascii();
    if text.starts_with('"') {
        let inner: String = serde_json::from_str(text).map_err(|e| Error::RequestBody {
            reason: format!("not a JSON string: {e}"),
        })?;
        Ok(inner.trim_ascii().to_owned())
    } else {
        Ok(text.to_owned())
    }
}

/// `x-ms-policy-token-hash`: base64url of SHA-256 over the policy JWS exactly as received.
///
/// Hash the bytes of the request, not a re-encoding: clients compare this value with their own
/// hash of what they sent.
#[must_use]
pub fn policy_token_hash(exact_jws: &[u8]) -> String {
    base64url::encode(digest::digest(&digest::SHA256, exact_jws).as_ref())
}

/// `x-ms-policy-hash`: base64url(SHA-256(UTF-8(base64url(UTF-8(policy text))))) per the MAA
/// documentation.
#[must_use]
pub fn policy_hash(policy_text: &str) -> String {
    let encoded = base64url::encode(policy_text.as_bytes());
    base64url::encode(digest::digest(&digest::SHA256, encoded.as_bytes()).as_ref())
}

/// The StoredAttestationPolicy payload for a policy text:
/// `{"AttestationPolicy":"<base64url(text)>"}`.
#[must_use]
pub fn stored_policy_payload(policy_text: &str) -> String {
    let mut object = Map::new();
    object.insert(
        "AttestationPolicy".into(),
        Value::String(base64url::encode(policy_text.as_bytes())),
    );
    Value::Object(object).to_string()
}

/// The unsecured policy JWS MAA clients upload, and that MAA returns in `x-ms-policy` for a
/// policy that was set unsigned.
#[must_use]
pub fn unsecured_policy_jws(policy_text: &str) -> String {
    unsecured_jws(stored_policy_payload(policy_text).as_bytes())
}

/// Reads the policy from a StoredAttestationPolicy payload.
///
/// The value is base64url-decoded; if it does not decode, or decodes to bytes that are not
/// UTF-8, it is taken as the raw policy text (a documented MAA sample sends it that way; a real
/// policy always contains spaces or `;`, which base64url cannot, so the two never collide).
///
/// # Errors
/// [`Error::PayloadJson`] if the payload is not a JSON object,
/// [`Error::MissingAttestationPolicy`] if the member is absent or not a string.
pub fn decode_stored_policy(payload: &[u8]) -> Result<StoredPolicy, Error> {
    let object: Map<String, Value> =
        serde_json::from_slice(payload).map_err(|e| Error::PayloadJson {
            reason: e.to_string(),
        })?;
    let value = object
        .get("AttestationPolicy")
        .and_then(Value::as_str)
        .ok_or(Error::MissingAttestationPolicy)?;
    let decoded = base64url::decode(value)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    Ok(match decoded {
        Some(text) => StoredPolicy {
            text,
            encoding: PolicyEncoding::Base64Url,
        },
        None => StoredPolicy {
            text: value.to_owned(),
            encoding: PolicyEncoding::RawText,
        },
    })
}

/// The payload of a policy-certificate management request:
/// `{"policyCertificate": <JWK>}`.
#[must_use]
pub fn policy_certificate_payload(jwk: &Jwk) -> String {
    // Written by hand around the JWK's own serialization so its member order (kty, kid, x5c,
    // ...) survives; a JSON map would sort the members.
    let jwk_json = serde_json::to_string(jwk).unwrap_or_else(|_| "null".to_owned());
    format!(r#"{{"policyCertificate":{jwk_json}}}"#)
}

/// Reads the JWK from a policy-certificate management payload, under any of
/// [`POLICY_CERTIFICATE_CLAIMS`] (first match in that order).
///
/// # Errors
/// [`Error::PayloadJson`] if the payload or the JWK is malformed,
/// [`Error::MissingPolicyCertificate`] if no known claim is present.
pub fn decode_policy_certificate(payload: &[u8]) -> Result<Jwk, Error> {
    let object: Map<String, Value> =
        serde_json::from_slice(payload).map_err(|e| Error::PayloadJson {
            reason: e.to_string(),
        })?;
    let value = POLICY_CERTIFICATE_CLAIMS
        .iter()
        .find_map(|name| object.get(*name))
        .ok_or(Error::MissingPolicyCertificate)?;
    serde_json::from_value(value.clone()).map_err(|e| Error::PayloadJson {
        reason: format!("policy certificate: {e}"),
    })
}
