//! Private keys, all sealed with AES-256-GCM: the providers' token-signing keys and the TLS
//! identity. The legacy single signing identity is the active key of the `default` provider.

use redb::ReadableTable;

use crate::error::StoreError;
use crate::records::{AuditEvent, SigningIdentity, SigningKeyRecord, TlsCa, TlsIdentity};
use crate::schema::{
    IDENTITIES, PROVIDERS, S_IDENTITIES, S_SIGNING_KEYS, SIGNING_KEYS, TLS_CA_KEY, TLS_KEY,
};
use crate::{DEFAULT_PROVIDER, Rx, Store, Tx};

/// The signing keys of `provider`: active first, then retired ones, most recently retired
/// first.
fn read_keys(
    table: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    keys: &crate::kek::Keys,
    provider: &str,
) -> Result<Vec<SigningKeyRecord>, StoreError> {
    let mut out: Vec<SigningKeyRecord> = Vec::new();
    for entry in table.range((provider, "")..)? {
        let (key, value) = entry?;
        let (p, id) = key.value();
        if p != provider {
            break;
        }
        out.push(S_SIGNING_KEYS.open(keys, &[p, id], value.value())?);
    }
    out.sort_by(|a, b| {
        let order =
            |k: &SigningKeyRecord| (k.retired_at.is_some(), core::cmp::Reverse(k.retired_at));
        order(a)
            .cmp(&order(b))
            .then(b.created_at.cmp(&a.created_at))
            .then(a.id.cmp(&b.id))
    });
    Ok(out)
}

fn write_key(tx: &Tx<'_>, provider: &str, record: &SigningKeyRecord) -> Result<(), StoreError> {
    let bytes = S_SIGNING_KEYS.seal(tx.keys, &[provider, &record.id], record)?;
    tx.txn
        .open_table(SIGNING_KEYS)?
        .insert((provider, record.id.as_str()), bytes.as_slice())?;
    Ok(())
}

fn check_new_key(record: &SigningKeyRecord) -> Result<(), StoreError> {
    if record.id.is_empty() {
        return Err(StoreError::Invalid {
            reason: "a signing key needs an id".to_owned(),
        });
    }
    if record.retired_at.is_some() {
        return Err(StoreError::Invalid {
            reason: "a new signing key cannot be retired already".to_owned(),
        });
    }
    Ok(())
}

/// Stores `record` as the first active key of `provider` unless it has an active key already;
/// returns the active key.
fn insert_first_in(
    tx: &Tx<'_>,
    provider: &str,
    record: &SigningKeyRecord,
) -> Result<SigningKeyRecord, StoreError> {
    check_new_key(record)?;
    let existing = read_keys(&tx.txn.open_table(SIGNING_KEYS)?, tx.keys, provider)?;
    if let Some(active) = existing.into_iter().find(|k| k.retired_at.is_none()) {
        return Ok(active);
    }
    if tx
        .txn
        .open_table(SIGNING_KEYS)?
        .get((provider, record.id.as_str()))?
        .is_some()
    {
        return Err(StoreError::AlreadyExists {
            what: format!("signing key {:?} of provider {provider:?}", record.id),
        });
    }
    write_key(tx, provider, record)?;
    Ok(record.clone())
}

/// The key id recorded for a signing identity stored through the legacy API or migrated from
/// schema 1: MAA's `kid` of its certificate (what the server publishes), or, for a certificate
/// that does not parse, a hash of its bytes.
pub(crate) fn legacy_key_id(cert_der: &[u8]) -> String {
    match attesto_jose::Certificate::from_der(cert_der) {
        Ok(cert) => cert.maa_key_id(),
        Err(_) => {
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert_der);
            let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
            format!("sha256:{hex}")
        }
    }
}

pub(crate) fn identity_to_key(identity: &SigningIdentity) -> SigningKeyRecord {
    SigningKeyRecord {
        id: legacy_key_id(&identity.cert_der),
        pkcs8_der: identity.pkcs8_der.clone(),
        cert_der: identity.cert_der.clone(),
        created_at: identity.created_at,
        retired_at: None,
    }
}

fn key_to_identity(key: SigningKeyRecord) -> SigningIdentity {
    SigningIdentity {
        pkcs8_der: key.pkcs8_der,
        cert_der: key.cert_der,
        created_at: key.created_at,
    }
}

fn read_identity<T: serde::de::DeserializeOwned>(
    rx: &Rx<'_>,
    key: &str,
) -> Result<Option<T>, StoreError> {
    let table = rx.txn.open_table(IDENTITIES)?;
    let value = table.get(key)?;
    value
        .map(|v| S_IDENTITIES.open(rx.keys, &[key], v.value()))
        .transpose()
}

fn write_identity<T: serde::Serialize>(
    tx: &Tx<'_>,
    key: &str,
    value: &T,
) -> Result<(), StoreError> {
    let bytes = S_IDENTITIES.seal(tx.keys, &[key], value)?;
    tx.txn
        .open_table(IDENTITIES)?
        .insert(key, bytes.as_slice())?;
    Ok(())
}

impl Store {
    /// The token-signing identity of the `default` provider: its active key, decrypted.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Integrity`] for a record modified outside
    /// attesto, or [`StoreError::Corrupt`] / [`StoreError::UnsupportedVersion`] for an
    /// unreadable one.
    pub fn signing_identity(&self) -> Result<Option<SigningIdentity>, StoreError> {
        Ok(self
            .signing_keys(DEFAULT_PROVIDER)?
            .into_iter()
            .find(|k| k.retired_at.is_none())
            .map(key_to_identity))
    }

    /// Stores `identity` as the `default` provider's active signing key unless it has one, and
    /// returns the active one. The first writer wins, so servers racing on first start all end
    /// up with the same key.
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn insert_signing_identity_if_absent(
        &self,
        identity: &SigningIdentity,
    ) -> Result<SigningIdentity, StoreError> {
        let record = identity_to_key(identity);
        self.write(|tx| insert_first_in(tx, DEFAULT_PROVIDER, &record))
            .map(key_to_identity)
    }

    /// The token-signing keys of `provider`, decrypted: the active key first, then retired keys
    /// (most recently retired first) until they are pruned.
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn signing_keys(&self, provider: &str) -> Result<Vec<SigningKeyRecord>, StoreError> {
        self.read(|rx| read_keys(&rx.txn.open_table(SIGNING_KEYS)?, rx.keys, provider))
    }

    /// Stores `record` as the active signing key of `provider` unless it already has an active
    /// key, and returns the active key: the first writer wins.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an empty id or a retired record,
    /// [`StoreError::AlreadyExists`] if a retired key has the same id; otherwise as
    /// [`Store::signing_identity`].
    pub fn insert_first_signing_key(
        &self,
        provider: &str,
        record: &SigningKeyRecord,
    ) -> Result<SigningKeyRecord, StoreError> {
        self.write(|tx| insert_first_in(tx, provider, record))
    }

    /// Makes `new` the active signing key of `provider`, retires the previous one at `now`, and
    /// appends `audit`, in one transaction. Retired keys stay listed (so `/certs` keeps them for
    /// tokens already issued) until [`Store::prune_retired_keys`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown provider, [`StoreError::AlreadyExists`] for an
    /// id in use, [`StoreError::Invalid`] as for [`Store::insert_first_signing_key`]; otherwise
    /// as [`Store::signing_identity`].
    pub fn rotate_signing_key(
        &self,
        provider: &str,
        new: &SigningKeyRecord,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        check_new_key(new)?;
        self.write(|tx| {
            if tx.txn.open_table(PROVIDERS)?.get(provider)?.is_none() {
                return Err(StoreError::NotFound {
                    what: format!("provider {provider:?}"),
                });
            }
            let existing = read_keys(&tx.txn.open_table(SIGNING_KEYS)?, tx.keys, provider)?;
            if existing.iter().any(|k| k.id == new.id) {
                return Err(StoreError::AlreadyExists {
                    what: format!("signing key {:?} of provider {provider:?}", new.id),
                });
            }
            for mut active in existing.into_iter().filter(|k| k.retired_at.is_none()) {
                active.retired_at = Some(now);
                write_key(tx, provider, &active)?;
            }
            write_key(tx, provider, new)?;
            tx.append_audit(audit)?;
            Ok(())
        })
    }

    /// Deletes the retired keys of `provider` retired before `older_than` (Unix seconds): once
    /// every token they signed has expired, relying parties no longer need them. Returns how
    /// many were deleted. The active key is never deleted.
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn prune_retired_keys(&self, provider: &str, older_than: i64) -> Result<usize, StoreError> {
        self.write(|tx| {
            let existing = read_keys(&tx.txn.open_table(SIGNING_KEYS)?, tx.keys, provider)?;
            let mut table = tx.txn.open_table(SIGNING_KEYS)?;
            let mut pruned = 0;
            for key in existing {
                if key.retired_at.is_some_and(|at| at < older_than) {
                    table.remove((provider, key.id.as_str()))?;
                    pruned += 1;
                }
            }
            Ok(pruned)
        })
    }

    /// The TLS identity, decrypted, if one was stored.
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn tls_identity(&self) -> Result<Option<TlsIdentity>, StoreError> {
        self.read(|rx| read_identity(rx, TLS_KEY))
    }

    /// Stores `identity` unless one exists, and returns the stored one (first writer wins).
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn insert_tls_identity_if_absent(
        &self,
        identity: &TlsIdentity,
    ) -> Result<TlsIdentity, StoreError> {
        self.write(|tx| {
            let existing: Option<TlsIdentity> = {
                let table = tx.txn.open_table(IDENTITIES)?;
                let value = table.get(TLS_KEY)?;
                value
                    .map(|v| S_IDENTITIES.open(tx.keys, &[TLS_KEY], v.value()))
                    .transpose()?
            };
            if let Some(existing) = existing {
                return Ok(existing);
            }
            write_identity(tx, TLS_KEY, identity)?;
            Ok(identity.clone())
        })
    }

    /// The local TLS certificate authority, decrypted, if one was stored.
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn tls_ca(&self) -> Result<Option<TlsCa>, StoreError> {
        self.read(|rx| read_identity(rx, TLS_CA_KEY))
    }

    /// Replaces the local CA and the server identity together (a new CA invalidates the old
    /// server certificate), in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn put_tls(&self, ca: &TlsCa, identity: &TlsIdentity) -> Result<(), StoreError> {
        self.write(|tx| {
            write_identity(tx, TLS_CA_KEY, ca)?;
            write_identity(tx, TLS_KEY, identity)
        })
    }

    /// Replaces the server identity (a renewed certificate under the same CA).
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn put_tls_identity(&self, identity: &TlsIdentity) -> Result<(), StoreError> {
        self.write(|tx| write_identity(tx, TLS_KEY, identity))
    }
}
