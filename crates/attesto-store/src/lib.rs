//! Crash-safe embedded persistence for attesto: attestation providers, their token-signing keys,
//! policies (with every version) and policy-management signers, the TLS identity, the audit log,
//! and cached collateral. Private keys are encrypted at rest and everything that decides what
//! the service trusts is integrity-protected.
//!
//! One redb file, `<data_dir>/attesto.redb`. Every mutation is exactly one write transaction
//! committed with [`redb::Durability::Immediate`] (fsync before `commit` returns), and every
//! read-modify-write (insert-if-absent, signer lists, version numbers, the audit record of a
//! change) happens inside that transaction. redb is copy-on-write with a checksummed commit
//! slot, so a crash at any point leaves either the old or the new committed state, never a mix;
//! the crash test kills a writer with SIGKILL to show it.
//!
//! **Encryption at rest.** A key-encryption key ([`Kek`], from a [`KekSource`]) protects the
//! database: private keys (token-signing keys, the TLS CA and server keys) are sealed with
//! AES-256-GCM (random 96-bit nonce; the table, record key and format version are the
//! authenticated data), and providers, policies, policy versions, signer lists and audit events
//! carry an HMAC-SHA256 tag, checked on every read ([`StoreError::Integrity`]). Both keys are
//! derived from the KEK with HKDF. A check value in the database turns a wrong KEK into
//! [`StoreError::WrongKek`] at open instead of garbage. [`Store::rotate_kek`] re-encrypts and
//! re-tags everything in one transaction. What this does not cover: an attacker who can write
//! the file can still delete records or put back an older copy of the whole file (or of one
//! record under the same key); and after a KEK rotation, pages freed by redb may hold records
//! under the old KEK until they are reused.
//!
//! The API is synchronous and blocking (a commit waits for the disk): async callers run it on a
//! blocking thread (`tokio::task::spawn_blocking`). [`Store`] is `Clone + Send + Sync`; clones
//! share one database handle.
//!
//! What it does not do: read a clock (every timestamp is a field the caller sets; the one
//! exception is the creation time of the default provider, see
//! [`Store::ensure_default_provider`]), interpret policies or collateral (it stores what it is
//! given), or normalize keys (the caller decides whether attestation types are
//! case-insensitive).
//!
//! ```no_run
//! use attesto_store::{AuditEvent, KekSource, Store, StoredPolicy, audit_action};
//! # fn demo() -> Result<(), attesto_store::StoreError> {
//! let store = Store::open_with(
//!     std::path::Path::new("/var/lib/attesto"),
//!     KekSource::File("/run/secrets/attesto-kek".into()),
//! )?;
//! store.ensure_default_provider()?;
//! let policy = StoredPolicy {
//!     jws: "eyJhbGciOiJub25lIn0.e30.".to_owned(),
//!     text: "version=1.0; authorizationrules{=>permit();};".to_owned(),
//!     signer_cert_der: None,
//!     updated_at: 1_751_328_000,
//! };
//! let event = AuditEvent {
//!     at: 1_751_328_000,
//!     actor: "admin-token".to_owned(),
//!     provider: "default".to_owned(),
//!     action: audit_action::POLICY_SET.to_owned(),
//!     attestation_type: Some("SgxEnclave".to_owned()),
//!     jws_sha256: None,
//!     result: "ok".to_owned(),
//! };
//! let version = store.put_policy_audited("default", "SgxEnclave", &policy, &event)?;
//! assert_eq!(store.policy_version("default", "SgxEnclave", version)?.map(|v| v.jws), Some(policy.jws));
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod audit;
mod error;
mod kek;
mod keys;
mod migrate;
mod policies;
mod providers;
mod records;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, TableError,
    WriteTransaction,
};

pub use error::StoreError;
pub use kek::{KEK_LEN, Kek, KekSource, MIN_PASSPHRASE_LEN, PBKDF2_ITERATIONS};
pub use providers::is_valid_provider_name;
pub use records::{
    AuditEntry, AuditEvent, AuditQuery, PolicyAction, PolicyVersion, ProviderRecord,
    RECORD_VERSION, RemoveSigner, SigningIdentity, SigningKeyRecord, StoredCollateral,
    StoredPolicy, TlsCa, TlsIdentity, TrustModel,
};

use kek::{KdfParams, Keys};
use records::{decode, encode};
use schema::{
    AUDIT, COLLATERAL, CRYPTO, CRYPTO_CHECK, CRYPTO_KDF, IDENTITIES, META, META_SCHEMA, POLICIES,
    POLICY_SIGNERS, POLICY_VERSIONS, PROVIDERS, S_POLICIES, SIGNING_KEYS,
};

/// File name of the database inside the data directory.
pub const DB_FILE_NAME: &str = "attesto.redb";

/// File name of the generated key-encryption key inside the data directory
/// ([`KekSource::DataDir`]).
pub const KEK_FILE_NAME: &str = "kek";

/// Schema version of the table layout. Version 1 (plaintext records, one signing identity) is
/// migrated on open; a newer file is refused by an older build ([`StoreError::UnsupportedSchema`]).
pub const SCHEMA_VERSION: u64 = 2;

/// The provider that serves requests naming no other; see [`Store::ensure_default_provider`].
pub const DEFAULT_PROVIDER: &str = "default";

/// The `action` strings of [`AuditEvent`]s written by attesto.
pub mod audit_action {
    /// A policy was set.
    pub const POLICY_SET: &str = "policy.set";
    /// A policy was reset to the default.
    pub const POLICY_RESET: &str = "policy.reset";
    /// A policy was rolled back to an earlier version.
    pub const POLICY_ROLLBACK: &str = "policy.rollback";
    /// A policy signer certificate was added.
    pub const SIGNER_ADD: &str = "signer.add";
    /// A policy signer certificate was removed.
    pub const SIGNER_REMOVE: &str = "signer.remove";
    /// A provider was created.
    pub const PROVIDER_CREATE: &str = "provider.create";
    /// A provider's settings were changed.
    pub const PROVIDER_UPDATE: &str = "provider.update";
    /// A provider and everything it owned were deleted.
    pub const PROVIDER_DELETE: &str = "provider.delete";
    /// A provider's token-signing key was rotated.
    pub const KEY_ROTATE: &str = "key.rotate";
    /// The key-encryption key was rotated.
    pub const KEK_ROTATE: &str = "kek.rotate";
}

/// The persistent store. Cheap to clone; all clones share one database.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    path: PathBuf,
    dir: PathBuf,
    /// Read-locked by every transaction, write-locked by a KEK rotation, so no transaction
    /// mixes keys.
    keys: RwLock<Keys>,
    /// Opened with [`KekSource::DataDir`]: a KEK rotation removes the then stale file.
    kek_in_data_dir: bool,
}

/// A write transaction with the record keys, collecting the audit events it appends so they
/// are logged once the commit has succeeded.
pub(crate) struct Tx<'a> {
    pub(crate) txn: &'a WriteTransaction,
    pub(crate) keys: &'a Keys,
    pub(crate) appended: Vec<AuditEntry>,
}

/// A read transaction with the record keys.
pub(crate) struct Rx<'a> {
    pub(crate) txn: &'a ReadTransaction,
    pub(crate) keys: &'a Keys,
}

/// What is in a database before this build touches it.
struct DbState {
    schema: Option<u64>,
    check: Option<Vec<u8>>,
    kdf: Option<KdfParams>,
}

impl Store {
    /// Opens (or creates) `<dir>/attesto.redb` with the KEK in `<dir>/kek`
    /// ([`KekSource::DataDir`]), generating it on first open. Production should supply the KEK
    /// from elsewhere with [`Store::open_with`]: a key next to the data only protects copies of
    /// the database file.
    ///
    /// # Errors
    /// As [`Store::open_with`].
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, KekSource::DataDir)
    }

    /// Opens (or creates) `<dir>/attesto.redb`, creating `dir` with mode 0700 on Unix if it does
    /// not exist; the database file is made owner-only (0600). The KEK comes from `source`; a
    /// new database records a check value for it (and, for a passphrase, the PBKDF2 salt).
    ///
    /// A schema-1 database (written before encryption at rest) is migrated: its records are
    /// sealed or tagged and written to a fresh file that atomically replaces the old one, so no
    /// plaintext private key survives in freed pages. redb recovers from an interrupted commit
    /// by itself on open.
    ///
    /// # Errors
    /// [`StoreError::CreateDir`], [`StoreError::Permissions`], [`StoreError::AlreadyOpen`] when
    /// another process or `Store` holds the file (a running server), [`StoreError::Open`],
    /// [`StoreError::UnsupportedSchema`] for a file written by a newer build,
    /// [`StoreError::WrongKek`], [`StoreError::KekMissing`], [`StoreError::KekInvalid`],
    /// [`StoreError::KekIo`], and during a migration any error reading the old records.
    pub fn open_with(dir: &Path, source: KekSource) -> Result<Self, StoreError> {
        create_private_dir(dir)?;
        let path = dir.join(DB_FILE_NAME);
        let db = open_database(&path)?;
        restrict_file(&path)?;
        let state = read_state(&db)?;
        match state.schema {
            Some(found) if found > SCHEMA_VERSION || found == 0 => {
                return Err(StoreError::UnsupportedSchema {
                    found,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(SCHEMA_VERSION) if state.check.is_none() => {
                return Err(StoreError::Corrupt {
                    table: "crypto",
                    key: CRYPTO_CHECK.to_owned(),
                    reason: "the KEK check value is missing".to_owned(),
                });
            }
            _ => {}
        }
        let kek_in_data_dir = matches!(source, KekSource::DataDir);
        let (kek, new_kdf) = resolve_kek(dir, source, &state)?;
        let keys = Keys::derive(&kek)?;
        drop(kek);
        if let Some(check) = &state.check
            && !keys.check_matches(check)
        {
            return Err(StoreError::WrongKek);
        }
        let db = if state.schema == Some(1) {
            migrate::from_v1(db, dir, &path, &keys, new_kdf.as_ref())?
        } else {
            init_schema(&db, &keys, state.schema.is_none(), new_kdf.as_ref())?;
            db
        };
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                path,
                dir: dir.to_owned(),
                keys: RwLock::new(keys),
                kek_in_data_dir,
            }),
        })
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` in one write transaction and commits it durably, then logs the audit events it
    /// appended. If `f` fails, nothing is written.
    pub(crate) fn write<R>(
        &self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let keys = self
            .inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut txn = self.inner.db.begin_write()?;
        // Immediate is redb's default; set it explicitly because losing a committed policy or
        // signing key after a crash is the one thing this crate must not do.
        txn.set_durability(Durability::Immediate)?;
        let mut tx = Tx {
            txn: &txn,
            keys: &keys,
            appended: Vec::new(),
        };
        match f(&mut tx) {
            Ok(out) => {
                let appended = tx.appended;
                txn.commit()?;
                audit::emit(&appended);
                Ok(out)
            }
            Err(e) => {
                // The caller's error is the one worth reporting; an abort failure only means the
                // transaction was already unusable, and nothing of it was committed either way.
                let _aborted = txn.abort();
                Err(e)
            }
        }
    }

    pub(crate) fn read<R>(
        &self,
        f: impl FnOnce(&Rx<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let keys = self
            .inner
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let txn = self.inner.db.begin_read()?;
        f(&Rx {
            txn: &txn,
            keys: &keys,
        })
    }

    /// The policy of `provider` for `attestation_type`.
    ///
    /// # Errors
    /// [`StoreError::Database`], [`StoreError::Integrity`] for a record modified outside
    /// attesto, [`StoreError::Corrupt`] / [`StoreError::UnsupportedVersion`] for an unreadable
    /// one.
    pub fn policy(
        &self,
        provider: &str,
        attestation_type: &str,
    ) -> Result<Option<StoredPolicy>, StoreError> {
        self.read(|rx| {
            let table = rx.txn.open_table(POLICIES)?;
            let value = table.get((provider, attestation_type))?;
            value
                .map(|v| S_POLICIES.open(rx.keys, &[provider, attestation_type], v.value()))
                .transpose()
        })
    }

    /// Sets (or replaces) the policy of `provider` for `attestation_type`, and appends a
    /// [`PolicyVersion`] without an actor. Prefer [`Store::put_policy_audited`].
    ///
    /// # Errors
    /// [`StoreError::Database`] (nothing was written).
    pub fn put_policy(
        &self,
        provider: &str,
        attestation_type: &str,
        policy: &StoredPolicy,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            policies::set_in(tx, provider, attestation_type, policy, None, None).map(|_| ())
        })
    }

    /// Removes the policy; `true` if there was one, in which case a reset [`PolicyVersion`]
    /// (time 0, no actor) is appended. The server then falls back to its default. Prefer
    /// [`Store::reset_policy_audited`].
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn remove_policy(
        &self,
        provider: &str,
        attestation_type: &str,
    ) -> Result<bool, StoreError> {
        self.write(|tx| policies::reset_in(tx, provider, attestation_type, 0, None, None))
    }

    /// Every stored policy as `(provider, attestation_type, policy)`, sorted by key.
    ///
    /// # Errors
    /// As [`Store::policy`].
    pub fn policies(&self) -> Result<Vec<(String, String, StoredPolicy)>, StoreError> {
        self.read(|rx| {
            let table = rx.txn.open_table(POLICIES)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (key, value) = entry?;
                let (provider, ty) = key.value();
                let policy = S_POLICIES.open(rx.keys, &[provider, ty], value.value())?;
                out.push((provider.to_owned(), ty.to_owned(), policy));
            }
            Ok(out)
        })
    }

    /// The policy-management certificates (DER) of `provider`, in the order they were added.
    ///
    /// # Errors
    /// As [`Store::policy`].
    pub fn policy_signers(&self, provider: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(|rx| {
            let table = rx.txn.open_table(POLICY_SIGNERS)?;
            policies::read_signers(&table, rx.keys, provider)
        })
    }

    /// Appends a policy-management certificate; `false` if the same DER is already listed.
    /// Prefer [`Store::add_policy_signer_audited`].
    ///
    /// # Errors
    /// As [`Store::policy`]; an unreadable existing list is reported, never replaced.
    pub fn add_policy_signer(&self, provider: &str, cert_der: &[u8]) -> Result<bool, StoreError> {
        self.write(|tx| policies::add_signer_in(tx, provider, cert_der))
    }

    /// Removes a policy-management certificate. With `keep_last`, removing the only remaining
    /// certificate is refused ([`RemoveSigner::LastOneRefused`]), as MAA does for isolated
    /// providers. Prefer [`Store::remove_policy_signer_audited`].
    ///
    /// # Errors
    /// As [`Store::add_policy_signer`].
    pub fn remove_policy_signer(
        &self,
        provider: &str,
        cert_der: &[u8],
        keep_last: bool,
    ) -> Result<RemoveSigner, StoreError> {
        self.write(|tx| policies::remove_signer_in(tx, provider, cert_der, keep_last))
    }

    /// Cached collateral under `key` (the key format belongs to the collateral crate).
    ///
    /// # Errors
    /// [`StoreError::Database`], or [`StoreError::Corrupt`] / [`StoreError::UnsupportedVersion`]
    /// for an unreadable record.
    pub fn collateral(&self, key: &str) -> Result<Option<StoredCollateral>, StoreError> {
        self.read(|rx| {
            let table = rx.txn.open_table(COLLATERAL)?;
            let value = table.get(key)?;
            value
                .map(|v| decode("collateral", key, v.value()))
                .transpose()
        })
    }

    /// Stores (or replaces) cached collateral under `key`.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn put_collateral(
        &self,
        key: &str,
        collateral: &StoredCollateral,
    ) -> Result<(), StoreError> {
        let bytes = encode("collateral", key, collateral)?;
        self.write(|tx| {
            tx.txn
                .open_table(COLLATERAL)?
                .insert(key, bytes.as_slice())?;
            Ok(())
        })
    }

    /// Removes cached collateral; `true` if there was some.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn remove_collateral(&self, key: &str) -> Result<bool, StoreError> {
        self.write(|tx| Ok(tx.txn.open_table(COLLATERAL)?.remove(key)?.is_some()))
    }

    /// The keys of every cached collateral entry, sorted. Lets a caller load entries one by one
    /// and skip an unreadable one instead of failing the whole listing.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn collateral_keys(&self) -> Result<Vec<String>, StoreError> {
        self.read(|rx| {
            let table = rx.txn.open_table(COLLATERAL)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (key, _) = entry?;
                out.push(key.value().to_owned());
            }
            Ok(out)
        })
    }

    /// Every cached collateral entry, sorted by key.
    ///
    /// # Errors
    /// As [`Store::collateral`]: one unreadable entry fails the whole listing, so a corrupt
    /// record is noticed rather than skipped.
    pub fn collateral_entries(&self) -> Result<Vec<(String, StoredCollateral)>, StoreError> {
        self.read(|rx| {
            let table = rx.txn.open_table(COLLATERAL)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (key, value) = entry?;
                let key = key.value();
                out.push((key.to_owned(), decode("collateral", key, value.value())?));
            }
            Ok(out)
        })
    }
}

fn open_database(path: &Path) -> Result<Database, StoreError> {
    Database::create(path).map_err(|e| match e {
        redb::DatabaseError::DatabaseAlreadyOpen => StoreError::AlreadyOpen {
            path: path.to_owned(),
        },
        other => StoreError::Open {
            path: path.to_owned(),
            source: Box::new(other),
        },
    })
}

/// `Ok(None)` for a table that does not exist yet (a new or older file).
fn existing<T>(opened: Result<T, TableError>) -> Result<Option<T>, StoreError> {
    match opened {
        Ok(table) => Ok(Some(table)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn read_state(db: &Database) -> Result<DbState, StoreError> {
    let txn = db.begin_read()?;
    let schema = match existing(txn.open_table(META))? {
        Some(meta) => meta.get(META_SCHEMA)?.map(|v| v.value()),
        None => None,
    };
    let (check, kdf) = match existing(txn.open_table(CRYPTO))? {
        Some(crypto) => {
            let check = crypto.get(CRYPTO_CHECK)?.map(|v| v.value().to_vec());
            let kdf = crypto
                .get(CRYPTO_KDF)?
                .map(|v| decode::<KdfParams>("crypto", CRYPTO_KDF, v.value()))
                .transpose()?;
            (check, kdf)
        }
        None => (None, None),
    };
    Ok(DbState { schema, check, kdf })
}

/// The KEK from `source`, and KDF parameters to record if a passphrase KEK is new.
fn resolve_kek(
    dir: &Path,
    source: KekSource,
    state: &DbState,
) -> Result<(Kek, Option<KdfParams>), StoreError> {
    let protected = state.check.is_some();
    match source {
        KekSource::DataDir => {
            let path = dir.join(KEK_FILE_NAME);
            match Kek::from_file(&path) {
                Ok(kek) => Ok((kek, None)),
                Err(StoreError::KekIo { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    if protected {
                        return Err(StoreError::KekMissing { path });
                    }
                    let kek = Kek::generate()?;
                    kek::write_new_kek_file(&path, &kek)?;
                    Ok((kek, None))
                }
                Err(e) => Err(e),
            }
        }
        KekSource::File(path) => Ok((Kek::from_file(&path)?, None)),
        KekSource::Env(var) => Ok((Kek::from_env(&var)?, None)),
        KekSource::Key(kek) => Ok((kek, None)),
        KekSource::Passphrase(passphrase) => match &state.kdf {
            Some(params) => Ok((params.derive(&passphrase)?, None)),
            // Protected under a KEK that is not passphrase-derived.
            None if protected => Err(StoreError::WrongKek),
            None => {
                let params = KdfParams::generate()?;
                let kek = params.derive(&passphrase)?;
                Ok((kek, Some(params)))
            }
        },
    }
}

/// Creates every table (so reads never meet a missing table) and, for a new database, records
/// the schema version and the KEK check value.
fn init_schema(
    db: &Database,
    keys: &Keys,
    new: bool,
    kdf: Option<&KdfParams>,
) -> Result<(), StoreError> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    write_schema(&txn, keys, new, kdf)?;
    txn.commit()?;
    Ok(())
}

/// The schema-2 tables and, if `new`, the schema version and KEK check value.
fn write_schema(
    txn: &WriteTransaction,
    keys: &Keys,
    new: bool,
    kdf: Option<&KdfParams>,
) -> Result<(), StoreError> {
    if new {
        txn.open_table(META)?.insert(META_SCHEMA, SCHEMA_VERSION)?;
        txn.open_table(CRYPTO)?
            .insert(CRYPTO_CHECK, keys.check_value().as_slice())?;
    }
    if let Some(kdf) = kdf {
        let bytes = encode("crypto", CRYPTO_KDF, kdf)?;
        txn.open_table(CRYPTO)?
            .insert(CRYPTO_KDF, bytes.as_slice())?;
    }
    txn.open_table(META)?;
    txn.open_table(CRYPTO)?;
    txn.open_table(IDENTITIES)?;
    txn.open_table(PROVIDERS)?;
    txn.open_table(SIGNING_KEYS)?;
    txn.open_table(POLICIES)?;
    txn.open_table(POLICY_VERSIONS)?;
    txn.open_table(POLICY_SIGNERS)?;
    txn.open_table(AUDIT)?;
    txn.open_table(COLLATERAL)?;
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::CreateDir {
            path: dir.to_owned(),
            source,
        })
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
        path: dir.to_owned(),
        source,
    })
}

/// Makes the database file owner-only: even encrypted, it is nobody else's business.
#[cfg(unix)]
fn restrict_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let err = |source| StoreError::Permissions {
        path: path.to_owned(),
        source,
    };
    let mode = std::fs::metadata(path).map_err(err)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_file(_path: &Path) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<Store>();
        fn check_err<T: Send + Sync + std::error::Error + 'static>() {}
        check_err::<StoreError>();
    }
}
