//! Providers: validation, create/update/delete with their audit records, deleting everything a
//! provider owns, the default provider, and per-provider signing keys with rotation.

pub mod support;

use anyhow::Result;
use attesto_store::{
    AuditQuery, DEFAULT_PROVIDER, ProviderRecord, SigningIdentity, Store, StoreError, StoredPolicy,
    TrustModel, audit_action, is_valid_provider_name,
};
use support::{NOW, event, signing_key};

fn provider(name: &str, model: TrustModel, hosts: &[&str]) -> ProviderRecord {
    ProviderRecord {
        name: name.to_owned(),
        trust_model: model,
        token_lifetime_secs: Some(3600),
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        created_at: NOW,
    }
}

fn policy(n: i64) -> StoredPolicy {
    StoredPolicy {
        jws: format!("jws-{n}"),
        text: format!("version=1.0; authorizationrules{{=>permit();}}; // {n}"),
        signer_cert_der: None,
        updated_at: NOW + n,
    }
}

fn actions(store: &Store) -> Result<Vec<String>> {
    let mut entries = store.audit(&AuditQuery {
        limit: usize::MAX,
        ..AuditQuery::default()
    })?;
    entries.reverse();
    Ok(entries.into_iter().map(|e| e.event.action).collect())
}

#[test]
fn names_hosts_and_models_are_validated() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let create = |record: &ProviderRecord, signers: &[Vec<u8>]| {
        store.create_provider(
            record,
            signers,
            &event(&record.name, audit_action::PROVIDER_CREATE, None, NOW),
        )
    };
    let long = "a".repeat(63);
    assert!(is_valid_provider_name(&long));
    for bad in ["", "Acme", "a_b", "a.b", "a b", "ü", &"a".repeat(64)] {
        assert!(!is_valid_provider_name(bad), "{bad:?}");
        assert!(
            matches!(
                create(&provider(bad, TrustModel::Aad, &[]), &[]),
                Err(StoreError::Invalid { .. })
            ),
            "{bad:?}"
        );
    }
    for bad_host in ["Attest.Example.com", "a/b", "", "x y"] {
        assert!(matches!(
            create(&provider("h", TrustModel::Aad, &[bad_host]), &[]),
            Err(StoreError::Invalid { .. })
        ));
    }
    assert!(matches!(
        create(
            &provider("h", TrustModel::Aad, &["a.example", "a.example"]),
            &[]
        ),
        Err(StoreError::Invalid { .. })
    ));
    let mut zero = provider("z", TrustModel::Aad, &[]);
    zero.token_lifetime_secs = Some(0);
    assert!(matches!(
        create(&zero, &[]),
        Err(StoreError::Invalid { .. })
    ));
    // Isolated needs a signer.
    assert!(matches!(
        create(&provider("iso", TrustModel::Isolated, &[]), &[]),
        Err(StoreError::Invalid { .. })
    ));
    // Nothing was written by the refusals.
    assert!(store.providers()?.is_empty());
    assert!(actions(&store)?.is_empty());

    create(
        &provider("iso", TrustModel::Isolated, &["iso.example:8443"]),
        &[
            b"signer-1".to_vec(),
            b"signer-1".to_vec(),
            b"signer-2".to_vec(),
        ],
    )?;
    assert_eq!(
        store.policy_signers("iso")?,
        vec![b"signer-1".to_vec(), b"signer-2".to_vec()]
    );
    create(&provider(&long, TrustModel::Aad, &["[::1]:8443"]), &[])?;
    assert!(matches!(
        create(&provider("iso", TrustModel::Aad, &[]), &[]),
        Err(StoreError::AlreadyExists { .. })
    ));
    // A host selects one provider only.
    assert!(matches!(
        create(
            &provider("other", TrustModel::Aad, &["iso.example:8443"]),
            &[]
        ),
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(
        store
            .providers()?
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>(),
        vec![long.clone(), "iso".to_owned()]
    );
    assert_eq!(
        store.provider("iso")?,
        Some(provider("iso", TrustModel::Isolated, &["iso.example:8443"]))
    );
    assert_eq!(store.provider("nope")?, None);
    assert_eq!(actions(&store)?, vec!["provider.create", "provider.create"]);
    Ok(())
}

#[test]
fn update_keeps_name_and_creation_time_and_guards_isolation() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let update_event = event("a", audit_action::PROVIDER_UPDATE, None, NOW + 5);
    store.create_provider(
        &provider("a", TrustModel::Aad, &["a.example"]),
        &[],
        &event("a", audit_action::PROVIDER_CREATE, None, NOW),
    )?;
    store.create_provider(
        &provider("b", TrustModel::Aad, &["b.example"]),
        &[],
        &event("b", audit_action::PROVIDER_CREATE, None, NOW),
    )?;
    assert!(matches!(
        store.update_provider(&provider("nope", TrustModel::Aad, &[]), &update_event),
        Err(StoreError::NotFound { .. })
    ));
    // No signer yet: cannot become isolated.
    assert!(matches!(
        store.update_provider(&provider("a", TrustModel::Isolated, &[]), &update_event),
        Err(StoreError::Invalid { .. })
    ));
    assert!(matches!(
        store.update_provider(
            &provider("a", TrustModel::Aad, &["b.example"]),
            &update_event
        ),
        Err(StoreError::Invalid { .. })
    ));
    store.add_policy_signer("a", b"cert")?;
    let mut changed = provider("a", TrustModel::Isolated, &["a2.example", "a.example"]);
    changed.created_at = 1;
    changed.token_lifetime_secs = None;
    store.update_provider(&changed, &update_event)?;
    let stored = store
        .provider("a")?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert_eq!(stored.trust_model, TrustModel::Isolated);
    assert_eq!(stored.hosts, vec!["a2.example", "a.example"]);
    assert_eq!(stored.token_lifetime_secs, None);
    assert_eq!(stored.created_at, NOW, "creation time is kept");
    assert_eq!(
        actions(&store)?,
        vec!["provider.create", "provider.create", "provider.update"]
    );
    Ok(())
}

#[test]
fn deleting_a_provider_removes_everything_it_owns_and_nothing_else() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    for name in ["acme", "acme-2", "b"] {
        store.create_provider(
            &provider(name, TrustModel::Isolated, &[]),
            &[format!("signer-{name}").into_bytes()],
            &event(name, audit_action::PROVIDER_CREATE, None, NOW),
        )?;
        for ty in ["SgxEnclave", "TdxVm"] {
            store.put_policy_audited(
                name,
                ty,
                &policy(1),
                &event(name, audit_action::POLICY_SET, Some(ty), NOW),
            )?;
            store.put_policy_audited(
                name,
                ty,
                &policy(2),
                &event(name, audit_action::POLICY_SET, Some(ty), NOW),
            )?;
        }
        let first = signing_key(&format!("https://{name}.example"), NOW)?;
        store.insert_first_signing_key(name, &first)?;
        store.rotate_signing_key(
            name,
            &signing_key(&format!("https://{name}.example"), NOW + 1)?,
            NOW + 1,
            &event(name, audit_action::KEY_ROTATE, None, NOW + 1),
        )?;
    }
    let audit_before = store.audit(&AuditQuery {
        limit: usize::MAX,
        ..AuditQuery::default()
    })?;

    assert!(matches!(
        store.delete_provider(
            "nope",
            &event("nope", audit_action::PROVIDER_DELETE, None, NOW)
        ),
        Err(StoreError::NotFound { .. })
    ));
    store.delete_provider(
        "acme",
        &event("acme", audit_action::PROVIDER_DELETE, None, NOW + 9),
    )?;
    let gone = |store: &Store, name: &str| -> Result<bool> {
        Ok(store.provider(name)?.is_none()
            && store.policy(name, "SgxEnclave")?.is_none()
            && store.policy(name, "TdxVm")?.is_none()
            && store.policy_versions(name, "SgxEnclave")?.is_empty()
            && store.policy_versions(name, "TdxVm")?.is_empty()
            && store.policy_signers(name)?.is_empty()
            && store.signing_keys(name)?.is_empty())
    };
    assert!(gone(&store, "acme")?);
    // A provider whose name extends the deleted one's is untouched, as is any other.
    for name in ["acme-2", "b"] {
        assert!(store.provider(name)?.is_some());
        assert_eq!(store.policy(name, "TdxVm")?, Some(policy(2)));
        assert_eq!(store.policy_versions(name, "SgxEnclave")?.len(), 2);
        assert_eq!(store.policy_signers(name)?.len(), 1);
        assert_eq!(store.signing_keys(name)?.len(), 2);
    }
    assert!(store.policies()?.iter().all(|(p, _, _)| p != "acme"));
    // The audit log keeps the deleted provider's history and records the deletion.
    let audit_after = store.audit(&AuditQuery {
        limit: usize::MAX,
        ..AuditQuery::default()
    })?;
    assert_eq!(audit_after.len(), audit_before.len() + 1);
    assert_eq!(
        audit_after.first().map(|e| e.event.action.as_str()),
        Some("provider.delete")
    );

    // Survives a reopen; a recreated provider starts a fresh history.
    drop(store);
    let store = Store::open(dir.path())?;
    assert!(gone(&store, "acme")?);
    store.create_provider(
        &provider("acme", TrustModel::Aad, &[]),
        &[],
        &event("acme", audit_action::PROVIDER_CREATE, None, NOW + 10),
    )?;
    let version = store.put_policy_audited(
        "acme",
        "SgxEnclave",
        &policy(3),
        &event(
            "acme",
            audit_action::POLICY_SET,
            Some("SgxEnclave"),
            NOW + 10,
        ),
    )?;
    assert_eq!(version, 1);
    Ok(())
}

#[test]
fn the_default_provider_is_created_once() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let first = store.ensure_default_provider()?;
    assert_eq!(first.name, DEFAULT_PROVIDER);
    assert_eq!(first.trust_model, TrustModel::Aad);
    assert!(first.hosts.is_empty());
    assert!(first.created_at > NOW, "stamped with the current time");
    // An operator's change is kept by later calls.
    store.update_provider(
        &ProviderRecord {
            hosts: vec!["attest.example".to_owned()],
            ..first.clone()
        },
        &event(DEFAULT_PROVIDER, audit_action::PROVIDER_UPDATE, None, NOW),
    )?;
    drop(store);
    let store = Store::open(dir.path())?;
    let again = store.ensure_default_provider()?;
    assert_eq!(again.created_at, first.created_at);
    assert_eq!(again.hosts, vec!["attest.example"]);
    assert_eq!(store.providers()?.len(), 1);
    Ok(())
}

#[test]
fn signing_keys_rotate_retire_and_prune() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let issuer = "https://acme.example";
    let k1 = signing_key(issuer, NOW)?;
    let k2 = signing_key(issuer, NOW + 100)?;
    let k3 = signing_key(issuer, NOW + 200)?;
    let rotate = |key: &attesto_store::SigningKeyRecord, at: i64| {
        store.rotate_signing_key(
            "acme",
            key,
            at,
            &event("acme", audit_action::KEY_ROTATE, None, at),
        )
    };
    // Rotation is an administrative change of an existing provider.
    assert!(matches!(
        rotate(&k2, NOW + 100),
        Err(StoreError::NotFound { .. })
    ));
    store.create_provider(
        &provider("acme", TrustModel::Aad, &[]),
        &[],
        &event("acme", audit_action::PROVIDER_CREATE, None, NOW),
    )?;

    let mut retired = k1.clone();
    retired.retired_at = Some(NOW);
    assert!(matches!(
        store.insert_first_signing_key("acme", &retired),
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(store.insert_first_signing_key("acme", &k1)?, k1);
    // First writer wins.
    assert_eq!(store.insert_first_signing_key("acme", &k2)?, k1);
    assert_eq!(store.signing_keys("acme")?, vec![k1.clone()]);

    rotate(&k2, NOW + 100)?;
    assert!(matches!(
        rotate(&k2, NOW + 150),
        Err(StoreError::AlreadyExists { .. })
    ));
    rotate(&k3, NOW + 200)?;
    let keys = store.signing_keys("acme")?;
    let summary: Vec<(String, Option<i64>)> =
        keys.iter().map(|k| (k.id.clone(), k.retired_at)).collect();
    assert_eq!(
        summary,
        vec![
            (k3.id.clone(), None),
            (k2.id.clone(), Some(NOW + 200)),
            (k1.id.clone(), Some(NOW + 100)),
        ]
    );
    assert_eq!(
        keys.first().map(|k| k.pkcs8_der.clone()),
        Some(k3.pkcs8_der.clone())
    );
    // Other providers have their own keys.
    assert!(store.signing_keys("other")?.is_empty());

    assert_eq!(store.prune_retired_keys("acme", NOW + 100)?, 0);
    assert_eq!(store.prune_retired_keys("acme", NOW + 101)?, 1);
    assert_eq!(
        store
            .signing_keys("acme")?
            .iter()
            .map(|k| k.id.clone())
            .collect::<Vec<_>>(),
        vec![k3.id.clone(), k2.id.clone()]
    );
    // The active key is never pruned.
    assert_eq!(store.prune_retired_keys("acme", i64::MAX)?, 1);
    assert_eq!(store.signing_keys("acme")?, vec![k3]);
    assert_eq!(
        actions(&store)?,
        vec!["provider.create", "key.rotate", "key.rotate"]
    );
    Ok(())
}

#[test]
fn the_legacy_signing_identity_is_the_default_providers_active_key() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    store.ensure_default_provider()?;
    let first = signing_key("https://localhost:8443", NOW)?;
    let legacy = SigningIdentity {
        pkcs8_der: first.pkcs8_der.clone(),
        cert_der: first.cert_der.clone(),
        created_at: NOW,
    };
    assert_eq!(store.insert_signing_identity_if_absent(&legacy)?, legacy);
    // Recorded under the certificate's MAA key id, as the server publishes it.
    assert_eq!(store.signing_keys(DEFAULT_PROVIDER)?, vec![first.clone()]);
    let next = signing_key("https://localhost:8443", NOW + 1)?;
    store.rotate_signing_key(
        DEFAULT_PROVIDER,
        &next,
        NOW + 1,
        &event(DEFAULT_PROVIDER, audit_action::KEY_ROTATE, None, NOW + 1),
    )?;
    let current = store
        .signing_identity()?
        .ok_or_else(|| anyhow::anyhow!("none"))?;
    assert_eq!(current.pkcs8_der, next.pkcs8_der);
    assert_eq!(store.insert_signing_identity_if_absent(&legacy)?, current);
    Ok(())
}
