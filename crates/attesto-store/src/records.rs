//! The stored records and their on-disk encoding.
//!
//! Every value is a JSON object with a format version `"v": 1` next to the record's fields;
//! binary fields are standard base64. A reader refuses versions it does not know
//! ([`StoreError::UnsupportedVersion`]) rather than guessing, so a downgrade cannot misread data
//! written by a newer build.

use core::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// The record format version this build writes and reads.
pub const RECORD_VERSION: u64 = 1;

/// The service's token-signing identity: created once on first start, then reused so issued
/// tokens stay verifiable across restarts.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningIdentity {
    /// The private key, PKCS#8 DER.
    #[serde(with = "b64")]
    pub pkcs8_der: Vec<u8>,
    /// The self-signed certificate published in the JWKS, DER.
    #[serde(with = "b64")]
    pub cert_der: Vec<u8>,
    /// Unix seconds of creation.
    pub created_at: i64,
}

impl fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("pkcs8_der", &"<redacted>")
            .field("cert_der", &format_args!("{} bytes", self.cert_der.len()))
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// The server's TLS identity, kept so restarts present the same certificate (clients may pin
/// it or its CA).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsIdentity {
    /// The CA certificate that issued `cert_pem`, PEM.
    pub ca_cert_pem: String,
    /// The server certificate, PEM.
    pub cert_pem: String,
    /// The server private key, PEM.
    pub key_pem: String,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// An attestation policy as uploaded, with its text decoded for evaluation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPolicy {
    /// The policy JWS exactly as received (signed or unsecured).
    pub jws: String,
    /// The policy text (the `AttestationPolicy` claim, decoded).
    pub text: String,
    /// The certificate that signed the JWS, if it was signed.
    #[serde(with = "b64_opt", default, skip_serializing_if = "Option::is_none")]
    pub signer_cert_der: Option<Vec<u8>>,
    /// Unix seconds of the upload.
    pub updated_at: i64,
}

/// Collateral fetched for one key, as cached across restarts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCollateral {
    /// The collateral in the dcap-qvl JSON format (`attesto_quote::Collateral::from_json`).
    pub json: String,
    /// Unix seconds of the fetch.
    pub fetched_at: i64,
    /// Unix seconds of the earliest `nextUpdate` of its documents: when it must be replaced.
    pub next_update: i64,
    /// Where it came from (a URL, a file, `import`), for operators.
    pub source: String,
}

/// What [`crate::Store::remove_policy_signer`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoveSigner {
    /// The certificate was removed.
    Removed,
    /// The certificate was not in the list.
    Absent,
    /// The certificate is the only one left and `keep_last` was set: nothing changed. MAA
    /// refuses this so a provider in isolated mode can never lock itself out.
    LastOneRefused,
}

/// The trust model of an attestation provider, as MAA's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustModel {
    /// Administrative calls need an authenticated caller; policies may be unsigned.
    Aad,
    /// Every policy must be a JWS signed by one of the provider's policy signer certificates.
    Isolated,
}

impl TrustModel {
    /// `aad` or `isolated`, as written on disk and on the command line.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Aad => "aad",
            Self::Isolated => "isolated",
        }
    }
}

impl fmt::Display for TrustModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl core::str::FromStr for TrustModel {
    type Err = StoreError;

    /// `aad` or `isolated`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("aad") {
            Ok(Self::Aad)
        } else if s.eq_ignore_ascii_case("isolated") {
            Ok(Self::Isolated)
        } else {
            Err(StoreError::Invalid {
                reason: format!("unknown trust model {s:?} (expected aad or isolated)"),
            })
        }
    }
}

/// One attestation provider (tenant): its own attest URI, keys, policies and signers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderRecord {
    /// `[a-z0-9-]{1,63}`; the key of everything the provider owns.
    pub name: String,
    /// Who may change its policies.
    pub trust_model: TrustModel,
    /// Lifetime of its attestation tokens; `None` for the service default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_secs: Option<u64>,
    /// Host-header names (lowercase, optional `:port`) that select this provider.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Unix seconds of creation.
    pub created_at: i64,
}

/// A token-signing key of a provider. Stored encrypted; `/certs` publishes the certificate of
/// the active key and of retired keys until they are pruned.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyRecord {
    /// The key id (`kid`) published in `/certs` and in token headers; unique per provider.
    pub id: String,
    /// The private key, PKCS#8 DER.
    #[serde(with = "b64")]
    pub pkcs8_der: Vec<u8>,
    /// The self-signed certificate, DER.
    #[serde(with = "b64")]
    pub cert_der: Vec<u8>,
    /// Unix seconds of creation.
    pub created_at: i64,
    /// Unix seconds of retirement; `None` for the active key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<i64>,
}

impl fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("id", &self.id)
            .field("pkcs8_der", &"<redacted>")
            .field("cert_der", &format_args!("{} bytes", self.cert_der.len()))
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// The local TLS certificate authority that issues the server certificate. Stored encrypted.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsCa {
    /// The CA certificate, PEM.
    pub cert_pem: String,
    /// The CA private key, PEM.
    pub key_pem: String,
}

impl fmt::Debug for TlsCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsCa")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// What a policy version did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyAction {
    /// A policy was set (uploaded or rolled back to).
    Set,
    /// The policy was removed: the built-in default applies from this version on.
    Reset,
}

impl fmt::Display for PolicyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Set => "set",
            Self::Reset => "reset",
        })
    }
}

/// One entry of a policy's history. Versions count 1, 2, 3... per provider and attestation
/// type and are never reused while the provider exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersion {
    /// The version number.
    pub version: u64,
    /// The policy JWS as received; empty for [`PolicyAction::Reset`].
    pub jws: String,
    /// The policy text; empty for [`PolicyAction::Reset`].
    pub text: String,
    /// The certificate that signed the JWS, if it was signed.
    #[serde(with = "b64_opt", default, skip_serializing_if = "Option::is_none")]
    pub signer_cert_der: Option<Vec<u8>>,
    /// Unix seconds of the change; 0 when it was made through the legacy
    /// [`crate::Store::remove_policy`], which has no time argument.
    pub at: i64,
    /// Set or reset.
    pub action: PolicyAction,
    /// Who made the change (the audit event's actor); `None` through the unaudited legacy API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// For a rollback: the version it restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<u64>,
}

impl PolicyVersion {
    /// The policy this version set, or `None` for a reset.
    #[must_use]
    pub fn policy(&self) -> Option<StoredPolicy> {
        (self.action == PolicyAction::Set).then(|| StoredPolicy {
            jws: self.jws.clone(),
            text: self.text.clone(),
            signer_cert_der: self.signer_cert_der.clone(),
            updated_at: self.at,
        })
    }
}

/// One administrative action, as written to the audit log: who did what, when, to which
/// provider and attestation type, the hash of the JWS involved, and the outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Unix seconds.
    pub at: i64,
    /// The authenticated caller (a token subject, `admin-token`, `cli:<user>`).
    pub actor: String,
    /// The provider acted on; `*` for service-wide actions such as a KEK rotation.
    pub provider: String,
    /// What was done; see [`crate::audit_action`].
    pub action: String,
    /// The attestation type, for policy actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation_type: Option<String>,
    /// base64url SHA-256 of the exact JWS received (MAA's `x-ms-policy-token-hash`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jws_sha256: Option<String>,
    /// `ok`, or `denied: <reason>`.
    pub result: String,
}

/// An audit event with its position in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Sequence number: 1 for the first event, increasing by one.
    pub seq: u64,
    /// The event.
    pub event: AuditEvent,
}

/// Which audit events [`crate::Store::audit`] returns, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only events of this provider.
    pub provider: Option<String>,
    /// Only events at or after these Unix seconds.
    pub since: Option<i64>,
    /// At most this many events.
    pub limit: usize,
}

impl Default for AuditQuery {
    /// Every provider, any time, the newest 100.
    fn default() -> Self {
        Self {
            provider: None,
            since: None,
            limit: 100,
        }
    }
}

/// The policy signers of one provider, in insertion order.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct SignerList {
    #[serde(with = "b64_list")]
    pub(crate) certs: Vec<Vec<u8>>,
}

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    v: u64,
    #[serde(flatten)]
    body: &'a T,
}

#[derive(Deserialize)]
struct EnvelopeIn<T> {
    v: u64,
    #[serde(flatten)]
    body: T,
}

#[derive(Deserialize)]
struct VersionOnly {
    v: Option<u64>,
}

/// Encodes a record with its format version.
pub(crate) fn encode<T: Serialize>(
    table: &'static str,
    key: &str,
    value: &T,
) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(&EnvelopeOut {
        v: RECORD_VERSION,
        body: value,
    })
    .map_err(|e| StoreError::Encode {
        table,
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// Decodes a record, checking its format version first so a newer record is reported as such
/// and not as corrupt.
pub(crate) fn decode<T: DeserializeOwned>(
    table: &'static str,
    key: &str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        table,
        key: key.to_owned(),
        reason,
    };
    let version: VersionOnly = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    match version.v {
        Some(RECORD_VERSION) => {}
        Some(found) => {
            return Err(StoreError::UnsupportedVersion {
                table,
                key: key.to_owned(),
                found,
                supported: RECORD_VERSION,
            });
        }
        None => return Err(corrupt("missing format version \"v\"".to_owned())),
    }
    let envelope: EnvelopeIn<T> =
        serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    debug_assert_eq!(envelope.v, RECORD_VERSION);
    Ok(envelope.body)
}

pub(crate) mod b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

mod b64_opt {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(
        bytes: &Option<Vec<u8>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(bytes) => s.serialize_str(&STANDARD.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        let text = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        text.map(|t| STANDARD.decode(t.as_bytes()))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

mod b64_list {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(list: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(list.len()))?;
        for bytes in list {
            seq.serialize_element(&STANDARD.encode(bytes))?;
        }
        seq.end()
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let texts = <Vec<String>>::deserialize(d)?;
        texts
            .iter()
            .map(|t| STANDARD.decode(t.as_bytes()))
            .collect::<Result<_, _>>()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trip_and_version_checks() {
        let policy = StoredPolicy {
            jws: "a.b.c".to_owned(),
            text: "version=1.0;".to_owned(),
            signer_cert_der: Some(vec![0, 1, 2, 255]),
            updated_at: 42,
        };
        let bytes = encode("policies", "k", &policy).expect("encode");
        let text = String::from_utf8(bytes.clone()).expect("utf8");
        assert!(text.contains("\"v\":1"), "{text}");
        assert!(text.contains("AAEC/w=="), "{text}");
        let back: StoredPolicy = decode("policies", "k", &bytes).expect("decode");
        assert_eq!(back, policy);

        let newer = text.replace("\"v\":1", "\"v\":2");
        assert!(matches!(
            decode::<StoredPolicy>("policies", "k", newer.as_bytes()),
            Err(StoreError::UnsupportedVersion { found: 2, .. })
        ));
        let unversioned = text.replace("\"v\":1,", "");
        assert!(matches!(
            decode::<StoredPolicy>("policies", "k", unversioned.as_bytes()),
            Err(StoreError::Corrupt { .. })
        ));
        let bad_b64 = text.replace("AAEC/w==", "!!");
        assert!(matches!(
            decode::<StoredPolicy>("policies", "k", bad_b64.as_bytes()),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn unsigned_policy_omits_signer() {
        let policy = StoredPolicy {
            jws: "a..".to_owned(),
            text: String::new(),
            signer_cert_der: None,
            updated_at: 0,
        };
        let bytes = encode("policies", "k", &policy).expect("encode");
        assert!(!String::from_utf8_lossy(&bytes).contains("signer"));
        assert_eq!(
            decode::<StoredPolicy>("policies", "k", &bytes).ok(),
            Some(policy)
        );
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let id = SigningIdentity {
            pkcs8_der: b"SECRET".to_vec(),
            cert_der: vec![1],
            created_at: 1,
        };
        assert!(!format!("{id:?}").contains("83, 69"));
        let tls = TlsIdentity {
            ca_cert_pem: "ca".to_owned(),
            cert_pem: "cert".to_owned(),
            key_pem: "SECRET KEY".to_owned(),
        };
        assert!(!format!("{tls:?}").contains("SECRET"));
    }
}
