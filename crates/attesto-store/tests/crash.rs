//! Crash safety: a child process writes in a loop and is killed with SIGKILL at a random moment;
//! the database must reopen and hold every record the child reported as committed, intact, and
//! the audit log and policy history must agree exactly with the data they describe.
//!
//! The child is this test binary re-invoked on `crash_child_writer` with
//! `ATTESTO_STORE_CRASH_DIR` set; without it that test does nothing. A SIGKILL loses no data the
//! kernel already has, so this shows redb's commit protocol survives a process dying mid-commit
//! (torn multi-page updates, a half-written commit slot); fsync on commit covers power loss.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use attesto_store::{
    AuditEvent, AuditQuery, PolicyAction, ProviderRecord, Store, StoredCollateral, StoredPolicy,
    TrustModel, audit_action,
};

const DIR_VAR: &str = "ATTESTO_STORE_CRASH_DIR";
const PROVIDER: &str = "crash";
const ROUNDS: u32 = 6;

fn expected_policy(i: u64) -> StoredPolicy {
    // Large enough to span several pages, different for every record.
    let text = format!("record {i};").repeat(usize::try_from(i % 7).unwrap_or(0) * 300 + 50);
    StoredPolicy {
        jws: format!("jws-{i}"),
        text,
        signer_cert_der: Some(i.to_be_bytes().to_vec()),
        updated_at: i64::try_from(i).unwrap_or(i64::MAX),
    }
}

fn expected_collateral(i: u64) -> StoredCollateral {
    StoredCollateral {
        json: format!("{{\"n\":{i}}}").repeat(100),
        fetched_at: i64::try_from(i).unwrap_or(i64::MAX),
        next_update: i64::try_from(i).unwrap_or(i64::MAX).saturating_add(1),
        source: "crash-test".to_owned(),
    }
}

fn at(i: u64) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}

fn provider_event() -> AuditEvent {
    AuditEvent {
        at: 0,
        actor: "crash-writer".to_owned(),
        provider: PROVIDER.to_owned(),
        action: audit_action::PROVIDER_CREATE.to_owned(),
        attestation_type: None,
        jws_sha256: None,
        result: "ok".to_owned(),
    }
}

fn policy_event(i: u64) -> AuditEvent {
    AuditEvent {
        at: at(i),
        action: audit_action::POLICY_SET.to_owned(),
        attestation_type: Some(policy_type(i)),
        jws_sha256: Some(format!("hash-{i}")),
        ..provider_event()
    }
}

fn signer_event(i: u64) -> AuditEvent {
    AuditEvent {
        at: at(i),
        action: audit_action::SIGNER_ADD.to_owned(),
        ..provider_event()
    }
}

fn policy_type(i: u64) -> String {
    format!("t{i:08}")
}

fn collateral_key(i: u64) -> String {
    format!("k{i:08}")
}

/// The writer. Runs only when re-invoked by [`sigkill_at_random_points_loses_no_committed_record`].
#[test]
fn crash_child_writer() -> Result<()> {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return Ok(());
    };
    let store = Store::open(std::path::Path::new(&dir))?;
    if store.provider(PROVIDER)?.is_none() {
        store.create_provider(
            &ProviderRecord {
                name: PROVIDER.to_owned(),
                trust_model: TrustModel::Aad,
                token_lifetime_secs: None,
                hosts: Vec::new(),
                created_at: 0,
            },
            &[],
            &provider_event(),
        )?;
    }
    // Resume after the last complete record; a record the previous child left half-written
    // (policy and maybe signer, no collateral) is completed, not redone, so every change is in
    // the history and the audit log exactly once.
    let start = u64::try_from(store.collateral_entries()?.len())?;
    let mut out = std::io::stdout().lock();
    // Starts on a fresh line: libtest has printed "test crash_child_writer ... " without one.
    writeln!(out, "\nready {start}")?;
    out.flush()?;
    // Bounded so an orphaned child stops by itself.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = start;
    while Instant::now() < deadline {
        let resuming = i == start;
        if !resuming || store.policy(PROVIDER, &policy_type(i))?.is_none() {
            store.put_policy_audited(
                PROVIDER,
                &policy_type(i),
                &expected_policy(i),
                &policy_event(i),
            )?;
        }
        if !resuming || u64::try_from(store.policy_signers(PROVIDER)?.len())? <= i {
            store.add_policy_signer_audited(PROVIDER, &i.to_be_bytes(), &signer_event(i))?;
        }
        store.put_collateral(&collateral_key(i), &expected_collateral(i))?;
        // Reported only after all three commits returned.
        writeln!(out, "ack {i}")?;
        out.flush()?;
        i += 1;
    }
    Ok(())
}

/// xorshift64*, seeded from the clock: different kill points on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn sigkill_at_random_points_loses_no_committed_record() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let seed = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let mut rng = Rng(u64::try_from(seed % u128::from(u64::MAX))?.max(1));
    let exe = std::env::current_exe()?;
    let mut acked: Option<u64> = None;

    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                "crash_child_writer",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().context("child stdout")?;
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the child to have the database open, then kill it somewhere in its loop.
        let ready = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(10))
                .context("child did not start")?;
            if let Some(start) = line.strip_prefix("ready ") {
                break start.parse::<u64>()?;
            }
        };
        let delay = Duration::from_millis(rng.next() % 250);
        std::thread::sleep(delay);
        child.kill()?; // SIGKILL on Unix
        child.wait()?;
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("reader panicked"))?;
        let mut round_acks = Vec::new();
        for line in rx.try_iter() {
            if let Some(n) = line.strip_prefix("ack ") {
                round_acks.push(n.parse::<u64>()?);
            }
        }
        if let Some(&last) = round_acks.last() {
            acked = Some(acked.map_or(last, |a| a.max(last)));
        }

        let store = Store::open(dir.path())
            .with_context(|| format!("reopen after kill in round {round} ({delay:?})"))?;
        verify(&store, acked).with_context(|| {
            format!("round {round}: child started at record {ready}, killed after {delay:?}")
        })?;
    }
    let Some(acked) = acked else {
        bail!("the child never committed anything: the test did not exercise the store");
    };
    assert!(acked > 0);
    Ok(())
}

/// Every acknowledged record is present and intact; records beyond it (committed but killed
/// before the ack) are intact too; the tables agree with each other, and the policy history and
/// audit log describe exactly the committed changes, in order.
fn verify(store: &Store, acked: Option<u64>) -> Result<()> {
    let policies = store.policies()?;
    let signers = store.policy_signers(PROVIDER)?;
    let collateral = store.collateral_entries()?;
    for (n, (provider, ty, policy)) in (0u64..).zip(&policies) {
        if provider != PROVIDER || ty != &policy_type(n) || policy != &expected_policy(n) {
            bail!("policy {n} is not intact: {provider}/{ty}");
        }
        let versions = store.policy_versions(PROVIDER, ty)?;
        let [version] = versions.as_slice() else {
            bail!("policy {n} has {} versions, expected 1", versions.len());
        };
        if version.version != 1
            || version.action != PolicyAction::Set
            || version.policy().as_ref() != Some(policy)
            || version.actor.as_deref() != Some("crash-writer")
        {
            bail!("the history of policy {n} does not match it");
        }
    }
    for (n, der) in (0u64..).zip(&signers) {
        if der.as_slice() != n.to_be_bytes() {
            bail!("signer {n} is not intact");
        }
    }
    for (n, (key, value)) in (0u64..).zip(&collateral) {
        if key != &collateral_key(n) || value != &expected_collateral(n) {
            bail!("collateral {n} is not intact");
        }
    }
    let committed = u64::try_from(policies.len())?;
    if let Some(acked) = acked
        && committed <= acked
    {
        bail!("acknowledged record {acked} is missing: only {committed} policies");
    }
    // The writer commits policy, then signer, then collateral: each later table trails by at
    // most one record, and never leads.
    let (p, s, c) = (policies.len(), signers.len(), collateral.len());
    if !(s <= p && c <= s && p - c <= 1) {
        bail!("tables disagree: {p} policies, {s} signers, {c} collateral");
    }
    // The audit log: the provider's creation, then one policy.set and one signer.add per
    // record, each committed with its change.
    let mut audit = store.audit(&AuditQuery {
        provider: None,
        since: None,
        limit: usize::MAX,
    })?;
    audit.reverse();
    let provider_exists = store.provider(PROVIDER)?.is_some();
    let mut expected = Vec::new();
    if provider_exists {
        expected.push(provider_event());
    } else if p > 0 {
        bail!("policies without their provider");
    }
    for n in 0..u64::try_from(p)? {
        expected.push(policy_event(n));
        if n < u64::try_from(s)? {
            expected.push(signer_event(n));
        }
    }
    let events: Vec<AuditEvent> = audit.iter().map(|e| e.event.clone()).collect();
    if events != expected {
        bail!(
            "audit log disagrees with the data: {} events for {p} policies and {s} signers",
            events.len()
        );
    }
    if !audit
        .iter()
        .zip(1u64..)
        .all(|(entry, seq)| entry.seq == seq)
    {
        bail!("audit sequence numbers have gaps");
    }
    Ok(())
}
