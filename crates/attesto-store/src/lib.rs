//! Crash-safe embedded persistence for attesto: the token-signing and TLS identities, attestation
//! policies, policy-management signer certificates and cached collateral.
//!
//! One redb file, `<data_dir>/attesto.redb`. Every mutation is exactly one write transaction
//! committed with [`redb::Durability::Immediate`] (fsync before `commit` returns), and every
//! read-modify-write (insert-if-absent, signer lists) happens inside that transaction. redb is
//! copy-on-write with a checksummed commit slot, so a crash at any point leaves either the old or
//! the new committed state, never a mix; the crash test kills a writer with SIGKILL to show it.
//!
//! The API is synchronous and blocking (a commit waits for the disk): async callers run it on a
//! blocking thread (`tokio::task::spawn_blocking`). [`Store`] is `Clone + Send + Sync`; clones
//! share one database handle.
//!
//! What it does not do: read a clock (every timestamp is a field the caller sets), interpret
//! policies or collateral (it stores what it is given), or normalize keys (the caller decides
//! whether attestation types are case-insensitive).
//!
//! ```no_run
//! use attesto_store::{Store, StoredPolicy};
//! # fn demo() -> Result<(), attesto_store::StoreError> {
//! let store = Store::open(std::path::Path::new("/var/lib/attesto"))?;
//! store.put_policy("default", "sgxenclave", &StoredPolicy {
//!     jws: "eyJhbGciOiJub25lIn0.e30.".to_owned(),
//!     text: "version=1.0; authorizationrules{=>permit();};".to_owned(),
//!     signer_cert_der: None,
//!     updated_at: 1_751_328_000,
//! })?;
//! assert!(store.policy("default", "sgxenclave")?.is_some());
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod records;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    WriteTransaction,
};

pub use error::StoreError;
pub use records::{
    RECORD_VERSION, RemoveSigner, SigningIdentity, StoredCollateral, StoredPolicy, TlsIdentity,
};

use records::{SignerList, decode, encode};

/// File name of the database inside the data directory.
pub const DB_FILE_NAME: &str = "attesto.redb";

/// Schema version of the table layout. Bumped when tables are added incompatibly; a newer file
/// is refused by an older build ([`StoreError::UnsupportedSchema`]).
pub const SCHEMA_VERSION: u64 = 1;

const META: TableDefinition<'static, &str, u64> = TableDefinition::new("meta");
const IDENTITIES: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("identities");
const POLICIES: TableDefinition<'static, (&str, &str), &[u8]> = TableDefinition::new("policies");
const POLICY_SIGNERS: TableDefinition<'static, &str, &[u8]> =
    TableDefinition::new("policy_signers");
const COLLATERAL: TableDefinition<'static, &str, &[u8]> = TableDefinition::new("collateral");

const META_SCHEMA: &str = "schema_version";
const SIGNING_KEY: &str = "signing";
const TLS_KEY: &str = "tls";

/// The persistent store. Cheap to clone; all clones share one database.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) `<dir>/attesto.redb`, creating `dir` with mode 0700 on Unix if it does
    /// not exist. The database file is made owner-only (0600) because it holds private keys.
    ///
    /// redb recovers from an interrupted commit by itself on open.
    ///
    /// # Errors
    /// [`StoreError::CreateDir`], [`StoreError::Permissions`], [`StoreError::AlreadyOpen`] when
    /// another process or `Store` holds the file, [`StoreError::Open`],
    /// [`StoreError::UnsupportedSchema`] for a file written by a newer build.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        create_private_dir(dir)?;
        let path = dir.join(DB_FILE_NAME);
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => {
                StoreError::AlreadyOpen { path: path.clone() }
            }
            other => StoreError::Open {
                path: path.clone(),
                source: Box::new(other),
            },
        })?;
        restrict_file(&path)?;
        let store = Self {
            inner: Arc::new(Inner { db, path }),
        };
        store.init_schema()?;
        Ok(store)
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Creates every table (so reads never meet a missing table) and checks the schema version.
    fn init_schema(&self) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut meta = txn.open_table(META)?;
            let found = meta.get(META_SCHEMA)?.map(|v| v.value());
            match found {
                None => {
                    meta.insert(META_SCHEMA, SCHEMA_VERSION)?;
                }
                Some(found) if found > SCHEMA_VERSION => {
                    return Err(StoreError::UnsupportedSchema {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
                Some(_) => {}
            }
            drop(meta);
            txn.open_table(IDENTITIES)?;
            txn.open_table(POLICIES)?;
            txn.open_table(POLICY_SIGNERS)?;
            txn.open_table(COLLATERAL)?;
            Ok(())
        })
    }

    /// Runs `f` in one write transaction and commits it durably. If `f` fails, nothing is
    /// written.
    fn write<R>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut txn = self.inner.db.begin_write()?;
        // Immediate is redb's default; set it explicitly because losing a committed policy or
        // signing key after a crash is the one thing this crate must not do.
        txn.set_durability(Durability::Immediate)?;
        match f(&txn) {
            Ok(out) => {
                txn.commit()?;
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

    fn read<R>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let txn = self.inner.db.begin_read()?;
        f(&txn)
    }

    fn get_identity<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(IDENTITIES)?;
            let value = table.get(key)?;
            value
                .map(|v| decode("identities", key, v.value()))
                .transpose()
        })
    }

    fn insert_identity_if_absent<T>(&self, key: &str, value: &T) -> Result<T, StoreError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Clone,
    {
        let bytes = encode("identities", key, value)?;
        self.write(|txn| {
            let mut table = txn.open_table(IDENTITIES)?;
            if let Some(existing) = table.get(key)? {
                return decode("identities", key, existing.value());
            }
            table.insert(key, bytes.as_slice())?;
            Ok(value.clone())
        })
    }

    /// The token-signing identity, if one was created.
    ///
    /// # Errors
    /// [`StoreError::Database`], or [`StoreError::Corrupt`] / [`StoreError::UnsupportedVersion`]
    /// for an unreadable record.
    pub fn signing_identity(&self) -> Result<Option<SigningIdentity>, StoreError> {
        self.get_identity(SIGNING_KEY)
    }

    /// Stores `identity` unless one exists, and returns the stored one. The first writer wins,
    /// so servers racing on first start all end up with the same key.
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn insert_signing_identity_if_absent(
        &self,
        identity: &SigningIdentity,
    ) -> Result<SigningIdentity, StoreError> {
        self.insert_identity_if_absent(SIGNING_KEY, identity)
    }

    /// The TLS identity, if one was created.
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn tls_identity(&self) -> Result<Option<TlsIdentity>, StoreError> {
        self.get_identity(TLS_KEY)
    }

    /// Stores `identity` unless one exists, and returns the stored one (first writer wins).
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn insert_tls_identity_if_absent(
        &self,
        identity: &TlsIdentity,
    ) -> Result<TlsIdentity, StoreError> {
        self.insert_identity_if_absent(TLS_KEY, identity)
    }

    /// The policy of `provider` for `attestation_type`.
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn policy(
        &self,
        provider: &str,
        attestation_type: &str,
    ) -> Result<Option<StoredPolicy>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(POLICIES)?;
            let value = table.get((provider, attestation_type))?;
            value
                .map(|v| {
                    decode(
                        "policies",
                        &policy_key(provider, attestation_type),
                        v.value(),
                    )
                })
                .transpose()
        })
    }

    /// Sets (or replaces) the policy of `provider` for `attestation_type`.
    ///
    /// # Errors
    /// [`StoreError::Database`] (nothing was written).
    pub fn put_policy(
        &self,
        provider: &str,
        attestation_type: &str,
        policy: &StoredPolicy,
    ) -> Result<(), StoreError> {
        let bytes = encode("policies", &policy_key(provider, attestation_type), policy)?;
        self.write(|txn| {
            txn.open_table(POLICIES)?
                .insert((provider, attestation_type), bytes.as_slice())?;
            Ok(())
        })
    }

    /// Removes the policy; `true` if there was one. The server then falls back to its default.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn remove_policy(
        &self,
        provider: &str,
        attestation_type: &str,
    ) -> Result<bool, StoreError> {
        self.write(|txn| {
            let removed = txn
                .open_table(POLICIES)?
                .remove((provider, attestation_type))?
                .is_some();
            Ok(removed)
        })
    }

    /// Every stored policy as `(provider, attestation_type, policy)`, sorted by key.
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn policies(&self) -> Result<Vec<(String, String, StoredPolicy)>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(POLICIES)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (key, value) = entry?;
                let (provider, ty) = key.value();
                let policy = decode("policies", &policy_key(provider, ty), value.value())?;
                out.push((provider.to_owned(), ty.to_owned(), policy));
            }
            Ok(out)
        })
    }

    /// The policy-management certificates (DER) of `provider`, in the order they were added.
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn policy_signers(&self, provider: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(POLICY_SIGNERS)?;
            let value = table.get(provider)?;
            let list: Option<SignerList> = value
                .map(|v| decode("policy_signers", provider, v.value()))
                .transpose()?;
            Ok(list.map(|l| l.certs).unwrap_or_default())
        })
    }

    /// Appends a policy-management certificate; `false` if the same DER is already listed.
    ///
    /// # Errors
    /// As [`Store::signing_identity`]; an unreadable existing list is reported, never replaced.
    pub fn add_policy_signer(&self, provider: &str, cert_der: &[u8]) -> Result<bool, StoreError> {
        self.write(|txn| {
            let mut table = txn.open_table(POLICY_SIGNERS)?;
            let mut list: SignerList = match table.get(provider)? {
                Some(v) => decode("policy_signers", provider, v.value())?,
                None => SignerList::default(),
            };
            if list.certs.iter().any(|c| c == cert_der) {
                return Ok(false);
            }
            list.certs.push(cert_der.to_vec());
            let bytes = encode("policy_signers", provider, &list)?;
            table.insert(provider, bytes.as_slice())?;
            Ok(true)
        })
    }

    /// Removes a policy-management certificate. With `keep_last`, removing the only remaining
    /// certificate is refused ([`RemoveSigner::LastOneRefused`]), as MAA does for isolated
    /// providers.
    ///
    /// # Errors
    /// As [`Store::add_policy_signer`].
    pub fn remove_policy_signer(
        &self,
        provider: &str,
        cert_der: &[u8],
        keep_last: bool,
    ) -> Result<RemoveSigner, StoreError> {
        self.write(|txn| {
            let mut table = txn.open_table(POLICY_SIGNERS)?;
            let mut list: SignerList = match table.get(provider)? {
                Some(v) => decode("policy_signers", provider, v.value())?,
                None => return Ok(RemoveSigner::Absent),
            };
            let Some(index) = list.certs.iter().position(|c| c == cert_der) else {
                return Ok(RemoveSigner::Absent);
            };
            if keep_last && list.certs.len() == 1 {
                return Ok(RemoveSigner::LastOneRefused);
            }
            list.certs.remove(index);
            if list.certs.is_empty() {
                table.remove(provider)?;
            } else {
                let bytes = encode("policy_signers", provider, &list)?;
                table.insert(provider, bytes.as_slice())?;
            }
            Ok(RemoveSigner::Removed)
        })
    }

    /// Cached collateral under `key` (the key format belongs to the collateral crate).
    ///
    /// # Errors
    /// As [`Store::signing_identity`].
    pub fn collateral(&self, key: &str) -> Result<Option<StoredCollateral>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(COLLATERAL)?;
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
        self.write(|txn| {
            txn.open_table(COLLATERAL)?.insert(key, bytes.as_slice())?;
            Ok(())
        })
    }

    /// Removes cached collateral; `true` if there was some.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn remove_collateral(&self, key: &str) -> Result<bool, StoreError> {
        self.write(|txn| Ok(txn.open_table(COLLATERAL)?.remove(key)?.is_some()))
    }

    /// The keys of every cached collateral entry, sorted. Lets a caller load entries one by one
    /// and skip an unreadable one instead of failing the whole listing.
    ///
    /// # Errors
    /// [`StoreError::Database`].
    pub fn collateral_keys(&self) -> Result<Vec<String>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(COLLATERAL)?;
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
    /// As [`Store::signing_identity`]: one unreadable entry fails the whole listing, so a
    /// corrupt record is noticed rather than skipped.
    pub fn collateral_entries(&self) -> Result<Vec<(String, StoredCollateral)>, StoreError> {
        self.read(|txn| {
            let table = txn.open_table(COLLATERAL)?;
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

/// The key of a policy record in error messages.
fn policy_key(provider: &str, attestation_type: &str) -> String {
    format!("{provider}/{attestation_type}")
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

/// Makes the database file owner-only: it holds the token-signing and TLS private keys.
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
