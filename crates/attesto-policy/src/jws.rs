//! Policy upload bodies: the JWS MAA's `PUT /policies/{type}` takes, decoded without checking
//! signatures (signature checks belong to the JOSE crate and the service's trust model).

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::Value;

use crate::error::JwsError;

/// Extracts the policy text from a policy JWS (`header.payload.signature`, payload
/// `{"AttestationPolicy": "<base64url(text)>"}`). Does NOT verify the signature. Surrounding
/// whitespace is ignored. If `AttestationPolicy` is not base64url (a documentation sample puts the
/// raw text there) the value is taken as the policy text itself.
///
/// # Errors
/// [`JwsError`] when the body is not a JWS with a JSON header carrying `alg` and a JSON payload
/// carrying an `AttestationPolicy` string.
pub fn policy_text_from_jws(body: &str) -> Result<String, JwsError> {
    let body = body.trim();
    let mut parts = body.split('.');
    let (Some(header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed {
            parts: body.split('.').count(),
        });
    };
    let header = decode_json(header, "header")?;
    if !header.get("alg").is_some_and(Value::is_string) {
        return Err(JwsError::MissingAlgorithm);
    }
    let payload = decode_json(payload, "payload")?;
    let Some(policy) = payload.get("AttestationPolicy").and_then(Value::as_str) else {
        return Err(JwsError::MissingPolicy);
    };
    match decode_base64url(policy) {
        Some(bytes) => String::from_utf8(bytes).map_err(|_| JwsError::PolicyNotUtf8),
        None => Ok(policy.to_owned()),
    }
}

/// Whether `body` looks like a compact JWS rather than policy text: policy text always contains
/// `=` and `;`, which base64url never does.
#[must_use]
pub fn looks_like_jws(body: &str) -> bool {
    let body = body.trim();
    body.split('.').count() == 3
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !body.is_empty()
}

/// Accepts either form of a policy upload: a JWS (decoded with [`policy_text_from_jws`]) or the
/// raw policy text (returned unchanged).
///
/// # Errors
/// [`JwsError`] when the body looks like a JWS but cannot be decoded.
pub fn policy_text_from_upload(body: &str) -> Result<String, JwsError> {
    if looks_like_jws(body) {
        policy_text_from_jws(body)
    } else {
        Ok(body.to_owned())
    }
}

fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .ok()
}

fn decode_json(part: &str, name: &'static str) -> Result<Value, JwsError> {
    let bytes = decode_base64url(part).ok_or(JwsError::InvalidBase64 { part: name })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|error| JwsError::InvalidJson {
        part: name,
        reason: error.to_string(),
    })?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(JwsError::InvalidJson {
            part: name,
            reason: "not an object".to_owned(),
        })
    }
}
