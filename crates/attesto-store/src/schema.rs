//! The table layout (schema version 2) and the typed access to protected records.
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | name | `schema_version` |
//! | `crypto` | name | `kek_check` (derived check value), `kdf` (passphrase salt, iterations) |
//! | `identities` | `tls`, `tls_ca` | sealed [`crate::TlsIdentity`], [`crate::TlsCa`] |
//! | `providers` | name | MAC'd [`crate::ProviderRecord`] |
//! | `signing_keys` | (provider, key id) | sealed [`crate::SigningKeyRecord`] |
//! | `policies` | (provider, type) | MAC'd [`crate::StoredPolicy`] |
//! | `policy_versions` | (provider, type, version) | MAC'd [`crate::PolicyVersion`] |
//! | `policy_signers` | provider | MAC'd signer list |
//! | `audit` | sequence number | MAC'd [`crate::AuditEvent`] |
//! | `collateral` | collateral key | plain JSON [`crate::StoredCollateral`] |
//!
//! Collateral is not protected: it is public, and every piece of it carries Intel's signature,
//! which is verified each time it is used.

use redb::TableDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StoreError;
use crate::kek::{Keys, Protection};
use crate::records::{decode, encode};

pub(crate) const META: TableDefinition<'static, &str, u64> = TableDefinition::new("meta");
pub(crate) const CRYPTO: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("crypto");
pub(crate) const IDENTITIES: TableDefinition<'static, &str, &[u8]> =
    TableDefinition::new("identities");
pub(crate) const PROVIDERS: TableDefinition<'static, &str, &[u8]> =
    TableDefinition::new("providers");
pub(crate) const SIGNING_KEYS: TableDefinition<'static, (&str, &str), &[u8]> =
    TableDefinition::new("signing_keys");
pub(crate) const POLICIES: TableDefinition<'static, (&str, &str), &[u8]> =
    TableDefinition::new("policies");
pub(crate) const POLICY_VERSIONS: TableDefinition<'static, (&str, &str, u64), &[u8]> =
    TableDefinition::new("policy_versions");
pub(crate) const POLICY_SIGNERS: TableDefinition<'static, &str, &[u8]> =
    TableDefinition::new("policy_signers");
pub(crate) const AUDIT: TableDefinition<'static, u64, &[u8]> = TableDefinition::new("audit");
pub(crate) const COLLATERAL: TableDefinition<'static, &str, &[u8]> =
    TableDefinition::new("collateral");

pub(crate) const META_SCHEMA: &str = "schema_version";
pub(crate) const CRYPTO_CHECK: &str = "kek_check";
pub(crate) const CRYPTO_KDF: &str = "kdf";
pub(crate) const TLS_KEY: &str = "tls";
pub(crate) const TLS_CA_KEY: &str = "tls_ca";

/// A protected table: its name (bound into every record's authenticated context) and how its
/// records are protected.
pub(crate) struct Spec {
    pub(crate) name: &'static str,
    pub(crate) protection: Protection,
}

pub(crate) const S_IDENTITIES: Spec = Spec {
    name: "identities",
    protection: Protection::Sealed,
};
pub(crate) const S_SIGNING_KEYS: Spec = Spec {
    name: "signing_keys",
    protection: Protection::Sealed,
};
pub(crate) const S_PROVIDERS: Spec = Spec {
    name: "providers",
    protection: Protection::Mac,
};
pub(crate) const S_POLICIES: Spec = Spec {
    name: "policies",
    protection: Protection::Mac,
};
pub(crate) const S_POLICY_VERSIONS: Spec = Spec {
    name: "policy_versions",
    protection: Protection::Mac,
};
pub(crate) const S_POLICY_SIGNERS: Spec = Spec {
    name: "policy_signers",
    protection: Protection::Mac,
};
pub(crate) const S_AUDIT: Spec = Spec {
    name: "audit",
    protection: Protection::Mac,
};

impl Spec {
    /// Encodes `value` (the versioned JSON record) and frames it for `parts`.
    pub(crate) fn seal<T: Serialize>(
        &self,
        keys: &Keys,
        parts: &[&str],
        value: &T,
    ) -> Result<Vec<u8>, StoreError> {
        let inner = zeroize::Zeroizing::new(encode(self.name, &parts.join("/"), value)?);
        keys.protect(self.protection, self.name, parts, &inner)
    }

    /// Checks the frame of a stored value and decodes the record.
    pub(crate) fn open<T: DeserializeOwned>(
        &self,
        keys: &Keys,
        parts: &[&str],
        bytes: &[u8],
    ) -> Result<T, StoreError> {
        let inner = keys.unprotect(self.protection, self.name, parts, bytes)?;
        decode(self.name, &parts.join("/"), &inner)
    }

    /// Re-frames a stored value under other keys (KEK rotation), checking it first: a record
    /// that fails its check is reported, never laundered under the new key.
    pub(crate) fn reframe(
        &self,
        old: &Keys,
        new: &Keys,
        parts: &[&str],
        bytes: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let inner = old.unprotect(self.protection, self.name, parts, bytes)?;
        new.protect(self.protection, self.name, parts, &inner)
    }
}
