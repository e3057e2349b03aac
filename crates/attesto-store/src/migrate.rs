//! Moving a schema-1 database (plaintext JSON records, one signing identity, no versions) to
//! schema 2, and re-keying a schema-2 database under a new KEK.

use std::path::Path;
use std::sync::PoisonError;

use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction,
};

use crate::error::StoreError;
use crate::kek::{self, KdfParams, Kek, Keys};
use crate::records::{AuditEvent, SignerList, SigningIdentity, StoredPolicy, TlsIdentity, decode};
use crate::schema::{
    AUDIT, COLLATERAL, CRYPTO, CRYPTO_CHECK, CRYPTO_KDF, IDENTITIES, POLICIES, POLICY_SIGNERS,
    POLICY_VERSIONS, PROVIDERS, S_AUDIT, S_IDENTITIES, S_POLICIES, S_POLICY_SIGNERS,
    S_POLICY_VERSIONS, S_PROVIDERS, S_SIGNING_KEYS, SIGNING_KEYS, Spec, TLS_KEY,
};
use crate::{
    DB_FILE_NAME, DEFAULT_PROVIDER, KEK_FILE_NAME, Store, Tx, audit, existing, keys, open_database,
    policies, restrict_file, write_schema,
};

/// Schema-1 key of the signing identity in `identities`.
const V1_SIGNING_KEY: &str = "signing";

/// Migrates the schema-1 database `old` (open at `path`) into a fresh file that replaces it.
///
/// Writing a new file rather than rewriting in place means the plaintext private keys of the
/// old file are gone once the rename lands, not left behind in pages redb freed. The rename is
/// atomic: a crash before it leaves the old database untouched (the half-written temporary file
/// is discarded on the next attempt), a crash after it leaves the migrated one. The old file
/// stays locked until the new one is in place, so no other process can open either in between.
pub(crate) fn from_v1(
    old: Database,
    dir: &Path,
    path: &Path,
    keys: &Keys,
    kdf: Option<&KdfParams>,
) -> Result<Database, StoreError> {
    let tmp = dir.join(format!("{DB_FILE_NAME}.migrating"));
    let io = |source: std::io::Error, at: &Path| StoreError::Open {
        path: at.to_owned(),
        source: Box::new(redb::DatabaseError::Storage(redb::StorageError::Io(source))),
    };
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e, &tmp)),
    }
    let new = open_database(&tmp)?;
    let copied = restrict_file(&tmp).and_then(|()| {
        let read = old.begin_read()?;
        let mut txn = new.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        write_schema(&txn, keys, true, kdf)?;
        let mut tx = Tx {
            txn: &txn,
            keys,
            appended: Vec::new(),
        };
        copy_v1(&read, &mut tx)?;
        drop(tx);
        txn.commit()?;
        Ok(())
    });
    if let Err(e) = copied {
        drop(new);
        let _ignored = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| io(e, path))?;
    kek::sync_dir(dir).map_err(|e| io(e, dir))?;
    drop(old);
    tracing::info!(
        path = %path.display(),
        "migrated the database to schema 2: private keys encrypted, records integrity-protected"
    );
    Ok(new)
}

fn copy_v1(read: &ReadTransaction, tx: &mut Tx<'_>) -> Result<(), StoreError> {
    if let Some(table) = existing(read.open_table(IDENTITIES))? {
        for entry in table.iter()? {
            let (key, value) = entry?;
            let key = key.value();
            match key {
                V1_SIGNING_KEY => {
                    let identity: SigningIdentity = decode("identities", key, value.value())?;
                    let record = keys::identity_to_key(&identity);
                    let bytes =
                        S_SIGNING_KEYS.seal(tx.keys, &[DEFAULT_PROVIDER, &record.id], &record)?;
                    tx.txn
                        .open_table(SIGNING_KEYS)?
                        .insert((DEFAULT_PROVIDER, record.id.as_str()), bytes.as_slice())?;
                }
                TLS_KEY => {
                    let identity: TlsIdentity = decode("identities", key, value.value())?;
                    let bytes = S_IDENTITIES.seal(tx.keys, &[TLS_KEY], &identity)?;
                    tx.txn
                        .open_table(IDENTITIES)?
                        .insert(TLS_KEY, bytes.as_slice())?;
                }
                other => {
                    return Err(StoreError::Corrupt {
                        table: "identities",
                        key: other.to_owned(),
                        reason: "not a schema-1 identity".to_owned(),
                    });
                }
            }
        }
    }
    if let Some(table) = existing(read.open_table(POLICIES))? {
        for entry in table.iter()? {
            let (key, value) = entry?;
            let (provider, ty) = key.value();
            let policy: StoredPolicy =
                decode("policies", &format!("{provider}/{ty}"), value.value())?;
            policies::set_in(tx, provider, ty, &policy, None, None)?;
        }
    }
    if let Some(table) = existing(read.open_table(POLICY_SIGNERS))? {
        for entry in table.iter()? {
            let (key, value) = entry?;
            let provider = key.value();
            let list: SignerList = decode("policy_signers", provider, value.value())?;
            policies::write_signers(tx, provider, list.certs)?;
        }
    }
    if let Some(table) = existing(read.open_table(COLLATERAL))? {
        let mut out = tx.txn.open_table(COLLATERAL)?;
        for entry in table.iter()? {
            let (key, value) = entry?;
            out.insert(key.value(), value.value())?;
        }
    }
    Ok(())
}

impl Store {
    /// Re-encrypts and re-tags every protected record under `new`, replaces the KEK check value
    /// and appends `audit`, in one transaction; from then on the store uses `new`, and the
    /// database must be opened with it. Every record is verified under the old KEK first: a
    /// tampered record aborts the rotation ([`StoreError::Integrity`]) rather than being
    /// re-tagged as genuine.
    ///
    /// If the store was opened with [`crate::KekSource::DataDir`], the now stale
    /// `<data_dir>/kek` is deleted after the commit: supply the new KEK explicitly from then on.
    /// Pages redb freed may still hold records under the old KEK until reused, so after a
    /// suspected KEK compromise rotate the signing keys too.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Integrity`] / [`StoreError::Corrupt`] for a bad
    /// record (nothing changed).
    pub fn rotate_kek(&self, new: Kek, audit: &AuditEvent) -> Result<(), StoreError> {
        self.rekey(&new, None, audit)
    }

    /// As [`Store::rotate_kek`], with a KEK derived from `passphrase` and a fresh salt, which is
    /// stored in the same transaction. Open with [`crate::KekSource::Passphrase`] afterwards.
    ///
    /// # Errors
    /// As [`Store::rotate_kek`], and [`StoreError::KekInvalid`] for a too short passphrase.
    pub fn rotate_kek_to_passphrase(
        &self,
        passphrase: &str,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let params = KdfParams::generate()?;
        let new = params.derive(passphrase)?;
        self.rekey(&new, Some(&params), audit)
    }

    fn rekey(
        &self,
        new: &Kek,
        kdf: Option<&KdfParams>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        let new_keys = Keys::derive(new)?;
        // Held across the transaction: no other transaction can run with the old keys once
        // the new ones are committed.
        let mut current = self
            .inner
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut txn = self.inner.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let rekeyed = (|| {
            reframe_all(&txn, &current, &new_keys)?;
            let mut crypto = txn.open_table(CRYPTO)?;
            crypto.insert(CRYPTO_CHECK, new_keys.check_value().as_slice())?;
            match kdf {
                Some(kdf) => {
                    let bytes = crate::records::encode("crypto", CRYPTO_KDF, kdf)?;
                    crypto.insert(CRYPTO_KDF, bytes.as_slice())?;
                }
                None => {
                    crypto.remove(CRYPTO_KDF)?;
                }
            }
            drop(crypto);
            let mut tx = Tx {
                txn: &txn,
                keys: &new_keys,
                appended: Vec::new(),
            };
            tx.append_audit(audit)?;
            Ok::<_, StoreError>(tx.appended)
        })();
        let appended = match rekeyed {
            Ok(appended) => appended,
            Err(e) => {
                let _aborted = txn.abort();
                return Err(e);
            }
        };
        txn.commit()?;
        *current = new_keys;
        drop(current);
        audit::emit(&appended);
        if self.inner.kek_in_data_dir {
            let path = self.inner.dir.join(KEK_FILE_NAME);
            match std::fs::remove_file(&path) {
                Ok(()) => {
                    let _synced = kek::sync_dir(&self.inner.dir);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "the KEK was rotated but the old KEK file could not be deleted; delete it"
                ),
            }
        }
        Ok(())
    }
}

/// Re-frames every protected record of every table under `new`.
fn reframe_all(txn: &WriteTransaction, old: &Keys, new: &Keys) -> Result<(), StoreError> {
    for (definition, spec) in [
        (IDENTITIES, &S_IDENTITIES),
        (PROVIDERS, &S_PROVIDERS),
        (POLICY_SIGNERS, &S_POLICY_SIGNERS),
    ] {
        let mut table = txn.open_table(definition)?;
        let mut updated = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            let key = key.value();
            updated.push((
                key.to_owned(),
                spec.reframe(old, new, &[key], value.value())?,
            ));
        }
        for (key, bytes) in updated {
            table.insert(key.as_str(), bytes.as_slice())?;
        }
    }
    for (definition, spec) in [(SIGNING_KEYS, &S_SIGNING_KEYS), (POLICIES, &S_POLICIES)] {
        reframe_pairs(txn, definition, spec, old, new)?;
    }
    {
        let mut table = txn.open_table(POLICY_VERSIONS)?;
        let mut updated = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            let (provider, ty, version) = key.value();
            let bytes = S_POLICY_VERSIONS.reframe(
                old,
                new,
                &[provider, ty, &version.to_string()],
                value.value(),
            )?;
            updated.push((provider.to_owned(), ty.to_owned(), version, bytes));
        }
        for (provider, ty, version, bytes) in updated {
            table.insert((provider.as_str(), ty.as_str(), version), bytes.as_slice())?;
        }
    }
    {
        let mut table = txn.open_table(AUDIT)?;
        let mut updated = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            let seq = key.value();
            updated.push((
                seq,
                S_AUDIT.reframe(old, new, &[&seq.to_string()], value.value())?,
            ));
        }
        for (seq, bytes) in updated {
            table.insert(seq, bytes.as_slice())?;
        }
    }
    Ok(())
}

fn reframe_pairs(
    txn: &WriteTransaction,
    definition: redb::TableDefinition<'static, (&'static str, &'static str), &'static [u8]>,
    spec: &Spec,
    old: &Keys,
    new: &Keys,
) -> Result<(), StoreError> {
    let mut table = txn.open_table(definition)?;
    let mut updated = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        let (a, b) = key.value();
        let bytes = spec.reframe(old, new, &[a, b], value.value())?;
        updated.push((a.to_owned(), b.to_owned(), bytes));
    }
    for (a, b, bytes) in updated {
        table.insert((a.as_str(), b.as_str()), bytes.as_slice())?;
    }
    Ok(())
}
