//! Round trips, persistence across reopen, first-writer-wins under threads, and typed errors for
//! records this build cannot read.

use std::path::Path;
use std::sync::{Arc, Barrier};

use anyhow::Result;
use attesto_store::{
    DB_FILE_NAME, RemoveSigner, SigningIdentity, Store, StoreError, StoredCollateral, StoredPolicy,
    TlsIdentity,
};
use redb::{Database, ReadableDatabase, TableDefinition};

fn policy(n: i64) -> StoredPolicy {
    StoredPolicy {
        jws: format!("header.payload{n}.sig"),
        text: format!("version=1.0; authorizationrules{{ => permit(); }}; // {n}"),
        signer_cert_der: (n % 2 == 0)
            .then(|| vec![0x30, 0x82, 0, u8::try_from(n % 256).unwrap_or(0)]),
        updated_at: 1_700_000_000 + n,
    }
}

fn signing(n: u8) -> SigningIdentity {
    SigningIdentity {
        pkcs8_der: vec![n; 138],
        cert_der: vec![n.wrapping_add(1); 400],
        created_at: i64::from(n),
    }
}

fn collateral(n: i64) -> StoredCollateral {
    StoredCollateral {
        json: format!("{{\"tcb_info\":\"{n}\"}}"),
        fetched_at: n,
        next_update: n + 3600,
        source: "https://pcs.example.invalid".to_owned(),
    }
}

#[test]
fn every_record_kind_round_trips_and_survives_reopen() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let tls = TlsIdentity {
        ca_cert_pem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".to_owned(),
        cert_pem: "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n".to_owned(),
        key_pem: "-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n".to_owned(),
    };
    {
        let store = Store::open(dir.path())?;
        assert_eq!(store.signing_identity()?, None);
        assert_eq!(store.tls_identity()?, None);
        assert_eq!(store.policy("p", "SgxEnclave")?, None);
        assert!(store.policy_signers("p")?.is_empty());
        assert_eq!(store.collateral("sgx/00a067110000/processor")?, None);
        assert!(store.collateral_entries()?.is_empty());

        assert_eq!(
            store.insert_signing_identity_if_absent(&signing(1))?,
            signing(1)
        );
        // Second insert keeps the first.
        assert_eq!(
            store.insert_signing_identity_if_absent(&signing(2))?,
            signing(1)
        );
        assert_eq!(store.insert_tls_identity_if_absent(&tls)?, tls);

        store.put_policy("p", "SgxEnclave", &policy(1))?;
        store.put_policy("p", "Tdx", &policy(2))?;
        store.put_policy("q", "SgxEnclave", &policy(3))?;
        store.put_policy("p", "SgxEnclave", &policy(4))?; // replaces
        assert!(store.remove_policy("q", "SgxEnclave")?);
        assert!(!store.remove_policy("q", "SgxEnclave")?);

        assert!(store.add_policy_signer("p", b"cert-a")?);
        assert!(store.add_policy_signer("p", b"cert-b")?);
        assert!(!store.add_policy_signer("p", b"cert-a")?);
        assert!(store.add_policy_signer("p", b"cert-c")?);

        store.put_collateral("sgx/00a067110000/processor", &collateral(1))?;
        store.put_collateral("tdx/b0c06f000000/platform", &collateral(2))?;
        store.put_collateral("sgx/00a067110000/processor", &collateral(3))?;
    }
    let store = Store::open(dir.path())?;
    assert_eq!(store.signing_identity()?, Some(signing(1)));
    assert_eq!(store.tls_identity()?, Some(tls));
    assert_eq!(store.policy("p", "SgxEnclave")?, Some(policy(4)));
    assert_eq!(store.policy("p", "Tdx")?, Some(policy(2)));
    assert_eq!(store.policy("q", "SgxEnclave")?, None);
    assert_eq!(
        store.policies()?,
        vec![
            ("p".to_owned(), "SgxEnclave".to_owned(), policy(4)),
            ("p".to_owned(), "Tdx".to_owned(), policy(2)),
        ]
    );
    assert_eq!(
        store.policy_signers("p")?,
        vec![b"cert-a".to_vec(), b"cert-b".to_vec(), b"cert-c".to_vec()]
    );
    assert!(store.policy_signers("q")?.is_empty());
    assert_eq!(
        store.collateral_entries()?,
        vec![
            ("sgx/00a067110000/processor".to_owned(), collateral(3)),
            ("tdx/b0c06f000000/platform".to_owned(), collateral(2)),
        ]
    );
    assert_eq!(
        store.collateral_keys()?,
        vec![
            "sgx/00a067110000/processor".to_owned(),
            "tdx/b0c06f000000/platform".to_owned()
        ]
    );
    assert!(store.remove_collateral("tdx/b0c06f000000/platform")?);
    assert_eq!(store.collateral("tdx/b0c06f000000/platform")?, None);
    Ok(())
}

#[test]
fn removing_signers_keeps_order_and_the_last_one_when_asked() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    for cert in [&b"a"[..], b"b", b"c"] {
        store.add_policy_signer("p", cert)?;
    }
    assert_eq!(
        store.remove_policy_signer("p", b"zzz", true)?,
        RemoveSigner::Absent
    );
    assert_eq!(
        store.remove_policy_signer("other", b"a", true)?,
        RemoveSigner::Absent
    );
    assert_eq!(
        store.remove_policy_signer("p", b"b", true)?,
        RemoveSigner::Removed
    );
    assert_eq!(
        store.policy_signers("p")?,
        vec![b"a".to_vec(), b"c".to_vec()]
    );
    assert_eq!(
        store.remove_policy_signer("p", b"a", true)?,
        RemoveSigner::Removed
    );
    assert_eq!(
        store.remove_policy_signer("p", b"c", true)?,
        RemoveSigner::LastOneRefused
    );
    assert_eq!(store.policy_signers("p")?, vec![b"c".to_vec()]);
    assert_eq!(
        store.remove_policy_signer("p", b"c", false)?,
        RemoveSigner::Removed
    );
    assert!(store.policy_signers("p")?.is_empty());
    // Re-adding after emptying starts a fresh list.
    assert!(store.add_policy_signer("p", b"d")?);
    assert_eq!(store.policy_signers("p")?, vec![b"d".to_vec()]);
    Ok(())
}

#[test]
fn concurrent_insert_if_absent_has_exactly_one_winner() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let threads = 8u8;
    let barrier = Arc::new(Barrier::new(usize::from(threads)));
    let handles: Vec<_> = (0..threads)
        .map(|n| {
            let store = store.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                store.insert_signing_identity_if_absent(&signing(n))
            })
        })
        .collect();
    let mut results = Vec::new();
    for handle in handles {
        let result = handle
            .join()
            .map_err(|_| anyhow::anyhow!("thread panicked"))??;
        results.push(result);
    }
    let winner = store
        .signing_identity()?
        .ok_or_else(|| anyhow::anyhow!("no identity"))?;
    assert!((0..threads).any(|n| signing(n) == winner));
    assert!(
        results.iter().all(|r| r == &winner),
        "every caller sees the winner"
    );
    Ok(())
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let _store = Store::open(dir.path())?;
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::AlreadyOpen { .. })
    ));
    Ok(())
}

#[cfg(unix)]
#[test]
fn directory_and_file_are_private() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir()?;
    let dir = parent.path().join("data/nested");
    let store = Store::open(&dir)?;
    let dir_mode = std::fs::metadata(&dir)?.permissions().mode() & 0o777;
    let file_mode = std::fs::metadata(store.path())?.permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    assert_eq!(file_mode & 0o077, 0, "file mode {file_mode:o}");
    Ok(())
}

/// Writes raw bytes into a table behind the store's back, as a damaged or tampered file would.
fn write_raw(dir: &Path, table: &str, key: &str, value: &[u8]) -> Result<()> {
    let db = Database::create(dir.join(DB_FILE_NAME))?;
    let txn = db.begin_write()?;
    {
        let def: TableDefinition<'_, &str, &[u8]> = TableDefinition::new(table);
        txn.open_table(def)?.insert(key, value)?;
    }
    txn.commit()?;
    Ok(())
}

/// Writes raw bytes under a `(provider, id)` key, as [`write_raw`] does.
fn write_raw_pair(dir: &Path, table: &str, key: (&str, &str), value: &[u8]) -> Result<()> {
    let db = Database::create(dir.join(DB_FILE_NAME))?;
    let txn = db.begin_write()?;
    {
        let def: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new(table);
        txn.open_table(def)?.insert(key, value)?;
    }
    txn.commit()?;
    Ok(())
}

#[test]
fn unreadable_records_are_typed_errors_and_are_not_overwritten() -> Result<()> {
    let dir = tempfile::tempdir()?;
    drop(Store::open(dir.path())?);
    write_raw_pair(
        dir.path(),
        "signing_keys",
        ("default", "kid"),
        b"\x01S\x00\xffnot a sealed key",
    )?;
    // Plaintext JSON where a sealed record belongs: injected, not written by attesto.
    write_raw(
        dir.path(),
        "identities",
        "tls",
        br#"{"v":1,"ca_cert_pem":"","cert_pem":"","key_pem":""}"#,
    )?;
    // A frame from a newer build.
    write_raw(
        dir.path(),
        "identities",
        "tls_ca",
        b"\x02S0123456789abcdefghijklmnop",
    )?;
    write_raw(dir.path(), "collateral", "k", br#"{"v":1,"json":42}"#)?;
    write_raw(
        dir.path(),
        "policy_signers",
        "p",
        br#"{"v":1,"certs":["%%%"]}"#,
    )?;

    let store = Store::open(dir.path())?;
    assert!(matches!(
        store.signing_identity(),
        Err(StoreError::Integrity {
            table: "signing_keys",
            ..
        })
    ));
    // insert-if-absent must not replace an unreadable identity with a new key.
    assert!(matches!(
        store.insert_signing_identity_if_absent(&signing(9)),
        Err(StoreError::Integrity { .. })
    ));
    assert!(matches!(
        store.tls_identity(),
        Err(StoreError::Integrity {
            table: "identities",
            ..
        })
    ));
    assert!(matches!(
        store.tls_ca(),
        Err(StoreError::UnsupportedVersion {
            found: 2,
            supported: 1,
            ..
        })
    ));
    assert!(matches!(
        store.collateral("k"),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        store.collateral_entries(),
        Err(StoreError::Corrupt { .. })
    ));
    // Keys stay listable, so a cache can skip the one bad entry.
    assert_eq!(store.collateral_keys()?, vec!["k".to_owned()]);
    assert!(matches!(
        store.policy_signers("p"),
        Err(StoreError::Integrity { .. })
    ));
    assert!(matches!(
        store.add_policy_signer("p", b"x"),
        Err(StoreError::Integrity { .. })
    ));
    drop(store);

    // The bad record is still there, byte for byte.
    let db = Database::create(dir.path().join(DB_FILE_NAME))?;
    let txn = db.begin_read()?;
    let def: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("signing_keys");
    let table = txn.open_table(def)?;
    let raw = table.get(("default", "kid"))?.map(|v| v.value().to_vec());
    assert_eq!(raw.as_deref(), Some(&b"\x01S\x00\xffnot a sealed key"[..]));
    Ok(())
}

#[test]
fn a_newer_schema_is_refused() -> Result<()> {
    let dir = tempfile::tempdir()?;
    drop(Store::open(dir.path())?);
    {
        let db = Database::create(dir.path().join(DB_FILE_NAME))?;
        let txn = db.begin_write()?;
        {
            let def: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
            txn.open_table(def)?.insert("schema_version", 99)?;
        }
        txn.commit()?;
    }
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::UnsupportedSchema {
            found: 99,
            supported: 2
        })
    ));
    Ok(())
}

#[test]
fn a_file_that_is_not_a_database_is_an_open_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join(DB_FILE_NAME), vec![0x5a; 8192])?;
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::Open { .. })
    ));
    Ok(())
}
