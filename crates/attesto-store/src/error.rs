//! The one error type of this crate.

use std::path::PathBuf;

/// Why a store operation failed.
///
/// Groups: the data directory or file could not be prepared (`CreateDir`, `Permissions`,
/// `AlreadyOpen`, `Open`), the database engine failed (`Database`), the key-encryption key is
/// wrong, missing or malformed (`WrongKek`, `KekMissing`, `KekInvalid`, `KekIo`, `Crypto`), a
/// stored record is not what this build can read or was modified outside attesto (`Corrupt`,
/// `UnsupportedVersion`, `UnsupportedSchema`, `Integrity`), or the caller asked for something the
/// store refuses (`AlreadyExists`, `NotFound`, `Invalid`). Operational problems (disk,
/// permissions, a second server on the same directory, the KEK) are for the operator; unreadable
/// or tampered records are never overwritten automatically.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The permissions of the data directory or database file could not be read or tightened.
    #[error("cannot secure permissions of {path}: {source}")]
    Permissions {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another process (or another `Store` in this process) has the database open. redb allows
    /// one writer process per file; run one server per data directory, and stop the server
    /// before running offline commands on its data directory.
    #[error(
        "database {path} is already open by another process or store (is the server running? \
         stop it first: the store allows one process at a time)"
    )]
    AlreadyOpen {
        /// The database file.
        path: PathBuf,
    },
    /// The database file could not be opened or created (I/O error, not a redb file, needs an
    /// upgrade this build cannot do).
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The engine's error.
        source: Box<redb::DatabaseError>,
    },
    /// A transaction, table or commit failed (usually an I/O error on the data disk).
    #[error("database error: {0}")]
    Database(#[source] Box<redb::Error>),
    /// A stored record could not be decoded. Nothing is overwritten automatically: the record
    /// stays for an operator to inspect.
    #[error("corrupt {table} record {key:?}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The record's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A stored record was written by a newer build (format version above what this one reads).
    #[error(
        "{table} record {key:?} has format version {found}; this build reads version {supported}"
    )]
    UnsupportedVersion {
        /// The table.
        table: &'static str,
        /// The record's key.
        key: String,
        /// The record's `v`.
        found: u64,
        /// The version this build writes and reads.
        supported: u64,
    },
    /// The database as a whole was written by a newer build.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    UnsupportedSchema {
        /// The schema version in the file.
        found: u64,
        /// The version this build writes and reads.
        supported: u64,
    },
    /// A protected record failed its integrity check: its MAC or AES-GCM tag does not verify for
    /// its table and key, or an unprotected value sits where a protected one belongs. The record
    /// was modified (or moved) outside attesto. It is left as it is for an operator; restore it
    /// from a backup or remove it through attesto.
    #[error(
        "integrity check failed for {table} record {key:?}: it was modified outside attesto \
         (or moved from another key)"
    )]
    Integrity {
        /// The table.
        table: &'static str,
        /// The record's key.
        key: String,
    },
    /// The key-encryption key does not match the check value stored in the database: it is not
    /// the key the database was created or last rotated with. Nothing was read or written.
    #[error(
        "the key-encryption key does not match this database; supply the KEK it was created or \
         last rotated with"
    )]
    WrongKek,
    /// The database is encrypted under a KEK but the default `<data_dir>/kek` file that should
    /// hold it is missing (deleted, or the KEK lives elsewhere: supply it explicitly). A new KEK
    /// is only generated for a database that has none.
    #[error(
        "{path} is missing but the database is already encrypted under a key-encryption key; \
         restore the file or supply the KEK (file, environment variable or passphrase)"
    )]
    KekMissing {
        /// The expected KEK file.
        path: PathBuf,
    },
    /// A key-encryption key source held something that is not a key (wrong length, not hex, an
    /// empty passphrase, an unset variable).
    #[error("invalid key-encryption key from {origin}: {reason}")]
    KekInvalid {
        /// Where it came from (a path, `environment variable NAME`, `passphrase`).
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A key-encryption key file could not be read or written.
    #[error("key-encryption key file {path}: {source}")]
    KekIo {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The cryptographic library failed (no randomness, key setup). Not expected in practice.
    #[error("cryptographic failure: {reason}")]
    Crypto {
        /// What failed.
        reason: &'static str,
    },
    /// The object to create exists already (a provider name, a signing key id).
    #[error("{what} already exists")]
    AlreadyExists {
        /// What, e.g. `provider "acme"`.
        what: String,
    },
    /// The object to change does not exist (a provider, a policy version).
    #[error("{what} does not exist")]
    NotFound {
        /// What, e.g. `provider "acme"`.
        what: String,
    },
    /// The request breaks a rule of the store: a malformed provider name or host, a host used by
    /// another provider, an isolated provider without policy signers, a new key already retired.
    #[error("invalid request: {reason}")]
    Invalid {
        /// The rule broken.
        reason: String,
    },
    /// A record could not be serialized (a bug, not a disk problem).
    #[error("cannot encode {table} record {key:?}: {reason}")]
    Encode {
        /// The table.
        table: &'static str,
        /// The record's key.
        key: String,
        /// The serializer's message.
        reason: String,
    },
}

macro_rules! from_redb {
    ($($ty:ty),*) => {$(
        impl From<$ty> for StoreError {
            fn from(e: $ty) -> Self {
                Self::Database(Box::new(redb::Error::from(e)))
            }
        }
    )*};
}

from_redb!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);
