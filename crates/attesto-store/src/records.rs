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

mod b64 {
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
