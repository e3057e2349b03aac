//! Policy versions, rollback, audited signer changes, the audit log query and its export as
//! structured log events.

pub mod support;

use anyhow::Result;
use attesto_store::{
    AuditEvent, AuditQuery, PolicyAction, RemoveSigner, Store, StoreError, StoredPolicy,
    audit_action,
};
use base64::Engine as _;
use support::{NOW, event};

fn policy(n: i64) -> StoredPolicy {
    StoredPolicy {
        jws: format!("eyJhbGciOiJub25lIn0.{n}."),
        text: format!("version=1.0; authorizationrules{{=>permit();}}; // {n}"),
        signer_cert_der: (n % 2 == 0).then(|| vec![0x30, u8::try_from(n).unwrap_or(0)]),
        updated_at: NOW + n,
    }
}

fn set(store: &Store, ty: &str, n: i64) -> Result<u64> {
    let mut audit = event("p", audit_action::POLICY_SET, Some(ty), NOW + n);
    audit.actor = format!("admin-{n}");
    Ok(store.put_policy_audited("p", ty, &policy(n), &audit)?)
}

fn all_audit(store: &Store) -> Result<Vec<AuditEvent>> {
    Ok(store
        .audit(&AuditQuery {
            limit: usize::MAX,
            ..AuditQuery::default()
        })?
        .into_iter()
        .rev()
        .map(|e| e.event)
        .collect())
}

fn sha256_b64url(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

#[test]
fn every_change_is_a_version_and_rollback_restores_one() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    assert_eq!(set(&store, "SgxEnclave", 1)?, 1);
    assert_eq!(set(&store, "SgxEnclave", 2)?, 2);
    // Another type and another provider count on their own.
    assert_eq!(set(&store, "TdxVm", 3)?, 1);
    store.put_policy_audited(
        "q",
        "SgxEnclave",
        &policy(9),
        &event("q", audit_action::POLICY_SET, Some("SgxEnclave"), NOW),
    )?;
    let reset = event(
        "p",
        audit_action::POLICY_RESET,
        Some("SgxEnclave"),
        NOW + 50,
    );
    assert!(store.reset_policy_audited("p", "SgxEnclave", &reset)?);
    assert_eq!(store.policy("p", "SgxEnclave")?, None);
    // Nothing to reset: no version, but the accepted request is audited.
    assert!(!store.reset_policy_audited("p", "SgxEnclave", &reset)?);

    let versions = store.policy_versions("p", "SgxEnclave")?;
    assert_eq!(
        versions
            .iter()
            .map(|v| (v.version, v.action, v.actor.clone()))
            .collect::<Vec<_>>(),
        vec![
            (1, PolicyAction::Set, Some("admin-1".to_owned())),
            (2, PolicyAction::Set, Some("admin-2".to_owned())),
            (3, PolicyAction::Reset, Some("test-admin".to_owned())),
        ]
    );
    let v2 = store
        .policy_version("p", "SgxEnclave", 2)?
        .ok_or_else(|| anyhow::anyhow!("no v2"))?;
    assert_eq!(v2.policy(), Some(policy(2)));
    assert_eq!(v2.at, NOW + 2);
    assert_eq!(
        store
            .policy_version("p", "SgxEnclave", 3)?
            .and_then(|v| v.policy()),
        None
    );
    assert_eq!(store.policy_version("p", "SgxEnclave", 4)?, None);

    // Roll back to version 1.
    let rollback = event(
        "p",
        audit_action::POLICY_ROLLBACK,
        Some("SgxEnclave"),
        NOW + 60,
    );
    assert_eq!(store.rollback_policy("p", "SgxEnclave", 1, &rollback)?, 4);
    let current = store
        .policy("p", "SgxEnclave")?
        .ok_or_else(|| anyhow::anyhow!("none"))?;
    assert_eq!(current.jws, policy(1).jws);
    assert_eq!(current.text, policy(1).text);
    assert_eq!(current.updated_at, NOW + 60);
    let v4 = store
        .policy_version("p", "SgxEnclave", 4)?
        .ok_or_else(|| anyhow::anyhow!("no v4"))?;
    assert_eq!((v4.action, v4.rollback_of), (PolicyAction::Set, Some(1)));
    // Roll back to the reset: the default applies again.
    assert_eq!(store.rollback_policy("p", "SgxEnclave", 3, &rollback)?, 5);
    assert_eq!(store.policy("p", "SgxEnclave")?, None);
    // Unknown version: refused, nothing written.
    let audit_len = all_audit(&store)?.len();
    assert!(matches!(
        store.rollback_policy("p", "SgxEnclave", 99, &rollback),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(all_audit(&store)?.len(), audit_len);
    assert_eq!(store.policy_versions("p", "SgxEnclave")?.len(), 5);

    let audit = all_audit(&store)?;
    let sgx: Vec<(&str, Option<&str>)> = audit
        .iter()
        .filter(|e| e.provider == "p" && e.attestation_type.as_deref() == Some("SgxEnclave"))
        .map(|e| (e.action.as_str(), e.jws_sha256.as_deref()))
        .collect();
    let v1_hash = sha256_b64url(&policy(1).jws);
    assert_eq!(
        sgx,
        vec![
            ("policy.set", None),
            ("policy.set", None),
            ("policy.reset", None),
            ("policy.reset", None),
            ("policy.rollback", Some(v1_hash.as_str())),
            ("policy.rollback", None),
        ]
    );
    Ok(())
}

#[test]
fn legacy_writes_are_versioned_without_an_actor() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    store.put_policy("p", "SgxEnclave", &policy(1))?;
    assert!(store.remove_policy("p", "SgxEnclave")?);
    assert!(!store.remove_policy("p", "SgxEnclave")?);
    let versions = store.policy_versions("p", "SgxEnclave")?;
    assert_eq!(versions.len(), 2);
    assert!(versions.iter().all(|v| v.actor.is_none()));
    assert_eq!(
        versions.get(1).map(|v| (v.action, v.at)),
        Some((PolicyAction::Reset, 0))
    );
    assert!(
        all_audit(&store)?.is_empty(),
        "the legacy API writes no audit events"
    );
    Ok(())
}

#[test]
fn audited_signer_changes() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let add = event("p", audit_action::SIGNER_ADD, None, NOW);
    let remove = event("p", audit_action::SIGNER_REMOVE, None, NOW + 1);
    assert!(store.add_policy_signer_audited("p", b"a", &add)?);
    assert!(!store.add_policy_signer_audited("p", b"a", &add)?);
    assert_eq!(
        all_audit(&store)?.len(),
        2,
        "an accepted no-op is audited too"
    );
    assert_eq!(
        store.remove_policy_signer_audited("p", b"zz", true, &remove)?,
        RemoveSigner::Absent
    );
    assert_eq!(all_audit(&store)?.len(), 3);
    // The refused removal writes nothing: the caller records the denial.
    assert_eq!(
        store.remove_policy_signer_audited("p", b"a", true, &remove)?,
        RemoveSigner::LastOneRefused
    );
    assert_eq!(all_audit(&store)?.len(), 3);
    assert_eq!(store.policy_signers("p")?, vec![b"a".to_vec()]);
    let mut denied = remove.clone();
    denied.result = "denied: the last signer cannot be removed".to_owned();
    store.append_audit(&denied)?;
    assert!(store.add_policy_signer_audited("p", b"b", &add)?);
    assert_eq!(
        store.remove_policy_signer_audited("p", b"a", true, &remove)?,
        RemoveSigner::Removed
    );
    assert_eq!(store.policy_signers("p")?, vec![b"b".to_vec()]);
    let results: Vec<(String, String)> = all_audit(&store)?
        .into_iter()
        .map(|e| (e.action, e.result))
        .collect();
    assert_eq!(
        results.get(3),
        Some(&(
            "signer.remove".to_owned(),
            "denied: the last signer cannot be removed".to_owned()
        ))
    );
    assert_eq!(results.len(), 6);
    Ok(())
}

#[test]
fn audit_query_filters_newest_first() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    for i in 0..10i64 {
        let provider = if i % 2 == 0 { "even" } else { "odd" };
        let seq = store.append_audit(&event(provider, "policy.set", Some("TdxVm"), NOW + i))?;
        assert_eq!(seq, u64::try_from(i + 1)?);
    }
    let query = |provider: Option<&str>, since: Option<i64>, limit: usize| -> Result<Vec<u64>> {
        Ok(store
            .audit(&AuditQuery {
                provider: provider.map(str::to_owned),
                since,
                limit,
            })?
            .into_iter()
            .map(|e| e.seq)
            .collect())
    };
    assert_eq!(query(None, None, 3)?, vec![10, 9, 8]);
    assert_eq!(query(Some("even"), None, 100)?, vec![9, 7, 5, 3, 1]);
    assert_eq!(query(Some("odd"), Some(NOW + 5), 100)?, vec![10, 8, 6]);
    assert_eq!(query(Some("odd"), Some(NOW + 5), 2)?, vec![10, 8]);
    assert_eq!(query(Some("none"), None, 100)?, Vec::<u64>::new());
    assert_eq!(query(None, None, 0)?, Vec::<u64>::new());
    assert_eq!(AuditQuery::default().limit, 100);
    Ok(())
}
