//! Encryption at rest: no private key in the data directory, wrong and missing KEKs, KEK
//! rotation (also while writers run), tampered and moved records, and the migration of a
//! schema-1 data directory.

pub mod support;

use std::path::Path;

use anyhow::{Result, ensure};
use attesto_store::{
    AuditQuery, DB_FILE_NAME, DEFAULT_PROVIDER, KEK_FILE_NAME, Kek, KekSource, PolicyAction,
    ProviderRecord, SigningIdentity, Store, StoreError, StoredCollateral, StoredPolicy, TlsCa,
    TlsIdentity, TrustModel, audit_action,
};
use redb::{Database, ReadableDatabase, TableDefinition};
use support::{
    NOW, ec_key_pem, event, find_secrets, key_needles, read_raw, signing_key, write_raw,
};

fn policy(n: i64) -> StoredPolicy {
    StoredPolicy {
        jws: format!("eyJhbGciOiJub25lIn0.{n}."),
        text: format!("version=1.0; authorizationrules{{=>permit();}}; // {n}"),
        signer_cert_der: None,
        updated_at: NOW + n,
    }
}

fn isolated(name: &str) -> ProviderRecord {
    ProviderRecord {
        name: name.to_owned(),
        trust_model: TrustModel::Isolated,
        token_lifetime_secs: None,
        hosts: vec![format!("{name}.example")],
        created_at: NOW,
    }
}

fn key(n: u8) -> KekSource {
    KekSource::Key(Kek::from_bytes([n; 32]))
}

/// Everything a data directory can hold, with real private keys; returns the keys' DER.
fn populate(store: &Store) -> Result<Vec<Vec<u8>>> {
    let mut secrets = Vec::new();
    store.ensure_default_provider()?;
    store.create_provider(
        &isolated("acme"),
        &[b"signer-cert".to_vec()],
        &event("acme", audit_action::PROVIDER_CREATE, None, NOW),
    )?;
    for provider in [DEFAULT_PROVIDER, "acme"] {
        let first = signing_key(&format!("https://{provider}.example"), NOW)?;
        let second = signing_key(&format!("https://{provider}.example"), NOW + 1)?;
        store.insert_first_signing_key(provider, &first)?;
        store.rotate_signing_key(
            provider,
            &second,
            NOW + 1,
            &event(provider, audit_action::KEY_ROTATE, None, NOW + 1),
        )?;
        secrets.push(first.pkcs8_der);
        secrets.push(second.pkcs8_der);
        store.put_policy_audited(
            provider,
            "SgxEnclave",
            &policy(1),
            &event(provider, audit_action::POLICY_SET, Some("SgxEnclave"), NOW),
        )?;
    }
    let (ca_der, ca_pem) = ec_key_pem()?;
    let (server_der, server_pem) = ec_key_pem()?;
    store.put_tls(
        &TlsCa {
            cert_pem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".to_owned(),
            key_pem: ca_pem,
        },
        &TlsIdentity {
            ca_cert_pem: "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n".to_owned(),
            cert_pem: "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n".to_owned(),
            key_pem: server_pem,
        },
    )?;
    secrets.push(ca_der);
    secrets.push(server_der);
    Ok(secrets)
}

/// What [`populate`] wrote, as read back: compared before and after reopen or rotation.
fn snapshot(store: &Store) -> Result<String> {
    Ok(format!(
        "{}|{:?}",
        data_snapshot(store)?,
        store.audit(&AuditQuery {
            limit: usize::MAX,
            ..AuditQuery::default()
        })?,
    ))
}

/// [`snapshot`] without the audit log.
fn data_snapshot(store: &Store) -> Result<String> {
    Ok(format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        store.providers()?,
        store.policies()?,
        store.policy_versions("acme", "SgxEnclave")?,
        store.policy_signers("acme")?,
        store
            .signing_keys("acme")?
            .into_iter()
            .map(|k| (k.id, k.pkcs8_der, k.retired_at))
            .collect::<Vec<_>>(),
        store.signing_identity()?.map(|i| i.pkcs8_der),
        store.tls_identity()?.map(|t| t.key_pem),
        store.tls_ca()?.map(|t| t.key_pem),
    ))
}

#[test]
fn the_data_directory_holds_no_private_key() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let secrets = populate(&store)?;
    // They are all readable through the store...
    assert_eq!(store.signing_keys("acme")?.len(), 2);
    assert!(
        store
            .tls_ca()?
            .is_some_and(|ca| ca.key_pem.contains("PRIVATE KEY"))
    );
    drop(store);
    // ...and none of them is in any file.
    let refs: Vec<&[u8]> = secrets.iter().map(Vec::as_slice).collect();
    let needles = key_needles(&refs);
    let hits = find_secrets(dir.path(), &needles)?;
    ensure!(
        hits.is_empty(),
        "private key material in the data directory: {hits:?}"
    );

    // The scanner does find them where they are (a plaintext copy elsewhere).
    let control = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let tls = store
        .tls_identity()?
        .ok_or_else(|| anyhow::anyhow!("no tls"))?;
    std::fs::write(control.path().join("leak.pem"), tls.key_pem.as_bytes())?;
    std::fs::write(
        control.path().join("leak.der"),
        secrets.first().cloned().unwrap_or_default(),
    )?;
    assert!(find_secrets(control.path(), &needles)?.len() >= 2);

    // The generated KEK file is private and holds 64 hex digits.
    let kek = std::fs::read_to_string(dir.path().join(KEK_FILE_NAME))?;
    assert_eq!(kek.trim().len(), 64);
    assert!(kek.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEK_FILE_NAME))?
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    Ok(())
}

#[test]
fn a_wrong_or_missing_kek_is_a_clear_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let before = {
        let store = Store::open_with(dir.path(), key(1))?;
        populate(&store)?;
        snapshot(&store)?
    };
    assert!(matches!(
        Store::open_with(dir.path(), key(2)),
        Err(StoreError::WrongKek)
    ));
    let wrong_file = dir.path().join("other.kek");
    std::fs::write(&wrong_file, "22".repeat(32))?;
    assert!(matches!(
        Store::open_with(dir.path(), KekSource::File(wrong_file)),
        Err(StoreError::WrongKek)
    ));
    // Not created from a passphrase.
    assert!(matches!(
        Store::open_with(
            dir.path(),
            KekSource::Passphrase("some passphrase".to_owned())
        ),
        Err(StoreError::WrongKek)
    ));
    // The default file is absent: never silently replaced by a new KEK.
    let error = Store::open(dir.path()).err();
    assert!(
        matches!(error, Some(StoreError::KekMissing { .. })),
        "{error:?}"
    );
    assert!(!dir.path().join(KEK_FILE_NAME).exists());
    // A KEK file with the right key, as hex.
    let right_file = dir.path().join("right.kek");
    std::fs::write(&right_file, format!("{}\n", "01".repeat(32)))?;
    let store = Store::open_with(dir.path(), KekSource::File(right_file))?;
    assert_eq!(snapshot(&store)?, before);
    let message = StoreError::WrongKek.to_string();
    assert!(message.contains("key-encryption key"), "{message}");
    Ok(())
}

#[test]
fn a_passphrase_kek_uses_a_stored_salt() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let pass = || KekSource::Passphrase("correct horse battery staple".to_owned());
    let before = {
        let store = Store::open_with(dir.path(), pass())?;
        populate(&store)?;
        snapshot(&store)?
    };
    assert!(matches!(
        Store::open_with(
            dir.path(),
            KekSource::Passphrase("wrong horse battery staple".to_owned())
        ),
        Err(StoreError::WrongKek)
    ));
    assert!(matches!(
        Store::open_with(dir.path(), KekSource::Passphrase("short".to_owned())),
        Err(StoreError::KekInvalid { .. })
    ));
    assert!(!dir.path().join(KEK_FILE_NAME).exists());
    let store = Store::open_with(dir.path(), pass())?;
    assert_eq!(snapshot(&store)?, before);
    Ok(())
}

#[test]
fn rotating_the_kek_re_encrypts_everything() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    populate(&store)?;
    let before = data_snapshot(&store)?;
    store.rotate_kek(
        Kek::from_bytes([7; 32]),
        &event("*", audit_action::KEK_ROTATE, None, NOW + 100),
    )?;
    assert_eq!(data_snapshot(&store)?, before);
    // The open store goes on with the new key.
    store.put_policy("acme", "TdxVm", &policy(5))?;
    let after = snapshot(&store)?;
    assert!(after.contains("kek.rotate"));
    drop(store);
    // The stale default KEK file is gone; the old KEK no longer opens the database.
    assert!(!dir.path().join(KEK_FILE_NAME).exists());
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::KekMissing { .. })
    ));
    let store = Store::open_with(dir.path(), key(7))?;
    assert_eq!(snapshot(&store)?, after);
    assert_eq!(store.policy("acme", "TdxVm")?, Some(policy(5)));

    // To a passphrase and back.
    store.rotate_kek_to_passphrase(
        "a long enough passphrase",
        &event("*", audit_action::KEK_ROTATE, None, NOW + 200),
    )?;
    drop(store);
    assert!(matches!(
        Store::open_with(dir.path(), key(7)),
        Err(StoreError::WrongKek)
    ));
    let store = Store::open_with(
        dir.path(),
        KekSource::Passphrase("a long enough passphrase".to_owned()),
    )?;
    store.rotate_kek(
        Kek::from_bytes([8; 32]),
        &event("*", audit_action::KEK_ROTATE, None, NOW + 300),
    )?;
    drop(store);
    // The passphrase salt went with it.
    assert!(matches!(
        Store::open_with(
            dir.path(),
            KekSource::Passphrase("a long enough passphrase".to_owned())
        ),
        Err(StoreError::WrongKek)
    ));
    let store = Store::open_with(dir.path(), key(8))?;
    assert_eq!(store.policy("acme", "TdxVm")?, Some(policy(5)));
    let rotations = store
        .audit(&AuditQuery::default())?
        .into_iter()
        .filter(|e| e.event.action == "kek.rotate")
        .count();
    assert_eq!(rotations, 3);
    Ok(())
}

#[test]
fn kek_rotation_while_writers_run_loses_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open_with(dir.path(), key(1))?;
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let store = store.clone();
            std::thread::spawn(move || -> Result<()> {
                for i in 0..40i64 {
                    store.put_policy_audited(
                        &format!("w{w}"),
                        &format!("t{i:03}"),
                        &policy(i),
                        &event(&format!("w{w}"), audit_action::POLICY_SET, None, NOW + i),
                    )?;
                }
                Ok(())
            })
        })
        .collect();
    for n in 2..5u8 {
        store.rotate_kek(
            Kek::from_bytes([n; 32]),
            &event("*", audit_action::KEK_ROTATE, None, NOW),
        )?;
    }
    for writer in writers {
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("writer panicked"))??;
    }
    drop(store);
    let store = Store::open_with(dir.path(), key(4))?;
    assert_eq!(store.policies()?.len(), 120);
    assert_eq!(
        store
            .audit(&AuditQuery {
                limit: 1000,
                ..AuditQuery::default()
            })?
            .len(),
        123
    );
    Ok(())
}

#[test]
fn tampered_and_moved_records_fail_their_integrity_check() -> Result<()> {
    let dir = tempfile::tempdir()?;
    {
        let store = Store::open_with(dir.path(), key(1))?;
        store.put_policy("a", "SgxEnclave", &policy(1))?;
        store.put_policy("a", "TdxVm", &policy(2))?;
        store.add_policy_signer("a", b"trusted-by-a")?;
        store.add_policy_signer("b", b"trusted-by-b")?;
        store.insert_first_signing_key("a", &signing_key("https://a.example", NOW)?)?;
    }
    // Edit the policy text in place: same length, valid JSON, different rule.
    let raw = read_raw::<(&str, &str)>(dir.path(), "policies", ("a", "SgxEnclave"))?
        .ok_or_else(|| anyhow::anyhow!("no record"))?;
    let at = raw
        .windows(8)
        .position(|w| w == b"permit()")
        .ok_or_else(|| anyhow::anyhow!("policies are readable, not encrypted"))?;
    let mut edited = raw.clone();
    edited.splice(at..at + 8, b"deny!()!".iter().copied());
    ensure!(edited.len() == raw.len());
    write_raw::<(&str, &str)>(dir.path(), "policies", ("a", "SgxEnclave"), &edited)?;
    // Move a's signer list to b: a signer trusted for one provider must not become trusted
    // for another.
    let a_signers = read_raw::<&str>(dir.path(), "policy_signers", "a")?
        .ok_or_else(|| anyhow::anyhow!("no signers"))?;
    write_raw::<&str>(dir.path(), "policy_signers", "b", &a_signers)?;

    let store = Store::open_with(dir.path(), key(1))?;
    assert!(matches!(
        store.policy("a", "SgxEnclave"),
        Err(StoreError::Integrity {
            table: "policies",
            ..
        })
    ));
    assert!(matches!(
        store.policies(),
        Err(StoreError::Integrity { .. })
    ));
    assert_eq!(store.policy("a", "TdxVm")?, Some(policy(2)));
    assert!(matches!(
        store.policy_signers("b"),
        Err(StoreError::Integrity {
            table: "policy_signers",
            ..
        })
    ));
    assert_eq!(store.policy_signers("a")?, vec![b"trusted-by-a".to_vec()]);
    // A tampered record is reported, never re-tagged as genuine by a KEK rotation.
    assert!(matches!(
        store.rotate_kek(
            Kek::from_bytes([2; 32]),
            &event("*", "kek.rotate", None, NOW)
        ),
        Err(StoreError::Integrity { .. })
    ));
    drop(store);
    let store = Store::open_with(dir.path(), key(1))?;
    assert_eq!(store.policy("a", "TdxVm")?, Some(policy(2)));
    drop(store);

    // A sealed key with one flipped bit.
    let kid = {
        let store = Store::open_with(dir.path(), key(1))?;
        store
            .signing_keys("a")?
            .first()
            .map(|k| k.id.clone())
            .unwrap_or_default()
    };
    let mut sealed = read_raw::<(&str, &str)>(dir.path(), "signing_keys", ("a", &kid))?
        .ok_or_else(|| anyhow::anyhow!("no key"))?;
    if let Some(byte) = sealed.last_mut() {
        *byte ^= 0x80;
    }
    write_raw::<(&str, &str)>(dir.path(), "signing_keys", ("a", &kid), &sealed)?;
    let store = Store::open_with(dir.path(), key(1))?;
    assert!(matches!(
        store.signing_keys("a"),
        Err(StoreError::Integrity {
            table: "signing_keys",
            ..
        })
    ));
    Ok(())
}

/// Writes a schema-1 data directory exactly as the previous build did: plaintext JSON records
/// with `"v": 1`.
fn write_v1(dir: &Path, signing: &SigningIdentity, tls: &TlsIdentity) -> Result<()> {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    std::fs::create_dir_all(dir)?;
    let db = Database::create(dir.join(DB_FILE_NAME))?;
    let txn = db.begin_write()?;
    {
        let meta: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
        txn.open_table(meta)?.insert("schema_version", 1)?;
        let identities: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("identities");
        let mut table = txn.open_table(identities)?;
        let signing_json = serde_json::json!({
            "v": 1,
            "pkcs8_der": b64(&signing.pkcs8_der),
            "cert_der": b64(&signing.cert_der),
            "created_at": signing.created_at,
        });
        table.insert("signing", serde_json::to_vec(&signing_json)?.as_slice())?;
        let tls_json = serde_json::json!({
            "v": 1,
            "ca_cert_pem": tls.ca_cert_pem,
            "cert_pem": tls.cert_pem,
            "key_pem": tls.key_pem,
        });
        table.insert("tls", serde_json::to_vec(&tls_json)?.as_slice())?;
        let policies: TableDefinition<'_, (&str, &str), &[u8]> = TableDefinition::new("policies");
        let mut table = txn.open_table(policies)?;
        for (provider, ty, n) in [("default", "SgxEnclave", 1), ("default", "TdxVm", 2)] {
            let p = policy(n);
            let json = serde_json::json!({
                "v": 1, "jws": p.jws, "text": p.text, "updated_at": p.updated_at,
            });
            table.insert((provider, ty), serde_json::to_vec(&json)?.as_slice())?;
        }
        let signers: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("policy_signers");
        txn.open_table(signers)?.insert(
            "default",
            serde_json::to_vec(&serde_json::json!({"v": 1, "certs": [b64(b"cert-1")]}))?.as_slice(),
        )?;
        let collateral: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("collateral");
        let record = serde_json::json!({
            "v": 1, "json": "{}", "fetched_at": 1, "next_update": 2, "source": "import",
        });
        txn.open_table(collateral)?.insert(
            "sgx/00a067110000/processor",
            serde_json::to_vec(&record)?.as_slice(),
        )?;
    }
    txn.commit()?;
    Ok(())
}

#[test]
fn a_schema_1_directory_is_migrated_and_its_plaintext_keys_are_gone() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let key = signing_key("https://localhost:8443", NOW)?;
    let signing = SigningIdentity {
        pkcs8_der: key.pkcs8_der.clone(),
        cert_der: key.cert_der.clone(),
        created_at: NOW,
    };
    let (tls_der, tls_pem) = ec_key_pem()?;
    let tls = TlsIdentity {
        ca_cert_pem: "ca".to_owned(),
        cert_pem: "cert".to_owned(),
        key_pem: tls_pem,
    };
    write_v1(dir.path(), &signing, &tls)?;
    let needles = key_needles(&[&key.pkcs8_der, &tls_der]);
    ensure!(
        !find_secrets(dir.path(), &needles)?.is_empty(),
        "the v1 file holds plaintext keys"
    );

    let store = Store::open(dir.path())?;
    assert_eq!(store.signing_identity()?, Some(signing.clone()));
    assert_eq!(store.signing_keys(DEFAULT_PROVIDER)?, vec![key.clone()]);
    assert_eq!(store.tls_identity()?, Some(tls.clone()));
    assert_eq!(store.policy("default", "SgxEnclave")?, Some(policy(1)));
    assert_eq!(store.policy("default", "TdxVm")?, Some(policy(2)));
    let versions = store.policy_versions("default", "TdxVm")?;
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.action, v.at))
            .collect::<Vec<_>>(),
        vec![(1, PolicyAction::Set, NOW + 2)]
    );
    assert_eq!(store.policy_signers("default")?, vec![b"cert-1".to_vec()]);
    assert_eq!(
        store.collateral("sgx/00a067110000/processor")?,
        Some(StoredCollateral {
            json: "{}".to_owned(),
            fetched_at: 1,
            next_update: 2,
            source: "import".to_owned(),
        })
    );
    // Still one process at a time, on the migrated file.
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::AlreadyOpen { .. })
    ));
    drop(store);

    let hits = find_secrets(dir.path(), &needles)?;
    ensure!(
        hits.is_empty(),
        "plaintext key material left after migration: {hits:?}"
    );
    let names: Vec<String> = support::files(dir.path())?
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![DB_FILE_NAME.to_owned(), KEK_FILE_NAME.to_owned()]
    );

    // Reopening does not migrate again; the data stays.
    let store = Store::open(dir.path())?;
    assert_eq!(store.policy_versions("default", "SgxEnclave")?.len(), 1);
    assert_eq!(store.signing_identity()?, Some(signing));
    Ok(())
}

#[test]
fn a_schema_1_record_that_cannot_be_read_stops_the_migration_and_changes_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let key = signing_key("https://localhost:8443", NOW)?;
    let signing = SigningIdentity {
        pkcs8_der: key.pkcs8_der,
        cert_der: key.cert_der,
        created_at: NOW,
    };
    let tls = TlsIdentity {
        ca_cert_pem: String::new(),
        cert_pem: String::new(),
        key_pem: String::new(),
    };
    write_v1(dir.path(), &signing, &tls)?;
    write_raw::<(&str, &str)>(dir.path(), "policies", ("default", "Broken"), b"{not json")?;
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::Corrupt {
            table: "policies",
            ..
        })
    ));
    // The old file is still the schema-1 database, with its records; no temporary file left.
    assert_eq!(
        read_raw::<(&str, &str)>(dir.path(), "policies", ("default", "Broken"))?.as_deref(),
        Some(&b"{not json"[..])
    );
    assert!(read_raw::<&str>(dir.path(), "identities", "signing")?.is_some());
    let db = Database::create(dir.path().join(DB_FILE_NAME))?;
    let txn = db.begin_read()?;
    let meta: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");
    assert_eq!(
        txn.open_table(meta)?
            .get("schema_version")?
            .map(|v| v.value()),
        Some(1)
    );
    let names: Vec<String> = support::files(dir.path())?
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| n != KEK_FILE_NAME)
        .collect();
    assert_eq!(names, vec![DB_FILE_NAME.to_owned()]);
    Ok(())
}
