//! The one error type of this crate.

use std::path::PathBuf;

/// Why a store operation failed.
///
/// Groups: the data directory or file could not be prepared (`CreateDir`, `Permissions`,
/// `AlreadyOpen`, `Open`), the database engine failed (`Database`), or a stored record is not
/// what this build can read (`Corrupt`, `UnsupportedVersion`, `UnsupportedSchema`). The first two
/// groups are operational (disk, permissions, a second server on the same directory); the last
/// needs an operator to look at the file, so nothing is silently overwritten.
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
    /// one writer process per file; run one server per data directory.
    #[error("database {path} is already open by another process or store")]
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
