//! `attesto provider`, `audit`, `policy history|show-version|rollback|diff` and `kek rotate`
//! on a data directory, through the real binary.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use attesto_jose::{SigningCertificateParams, SigningKey};
use attesto_store::{
    AuditEvent, AuditQuery, KekSource, ProviderRecord, Store, StoredPolicy, TrustModel,
};
use rustls_pki_types::UnixTime;

fn attesto(dir: &Path, args: &[&str]) -> Result<Output> {
    attesto_env(dir, args, &[])
}

fn attesto_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_attesto"));
    command
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("ATTESTO_DATA_DIR")
        .env("USER", "tester");
    for (name, value) in env {
        command.env(name, value);
    }
    Ok(command.output()?)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn ok(output: &Output) -> Result<String> {
    ensure!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        stderr(output)
    );
    Ok(stdout(output))
}

fn json(output: &Output) -> Result<serde_json::Value> {
    Ok(serde_json::from_str(&ok(output)?)?)
}

/// A self-signed certificate as PEM, as a policy signer would have.
fn signer_pem(dir: &Path, name: &str) -> Result<(String, Vec<u8>)> {
    let key = SigningKey::generate_ec_p256()?;
    let der = attesto_jose::self_signed_certificate(
        &key,
        &SigningCertificateParams {
            issuer: format!("https://{name}.signer.example"),
            not_before: UnixTime::since_unix_epoch(Duration::from_secs(1_700_000_000)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(4_000_000_000)),
            extensions: Vec::new(),
        },
    )?;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let mut text = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        text.push_str(std::str::from_utf8(chunk)?);
        text.push('\n');
    }
    text.push_str("-----END CERTIFICATE-----\n");
    let path = dir.join(format!("{name}.pem"));
    std::fs::write(&path, text)?;
    Ok((path.display().to_string(), der))
}

fn actions(dir: &Path, extra: &[&str]) -> Result<Vec<String>> {
    let mut args = vec!["audit", "--json"];
    args.extend_from_slice(extra);
    let rows = json(&attesto(dir, &args)?)?;
    Ok(rows
        .as_array()
        .context("array")?
        .iter()
        .filter_map(|r| r.get("action").and_then(|a| a.as_str()).map(str::to_owned))
        .collect())
}

#[test]
fn providers_are_created_shown_rotated_and_deleted() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");

    // A mistyped data directory is an error, not a new empty store.
    let output = attesto(&dir, &["provider", "list"])?;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("holds no attesto database"),
        "{}",
        stderr(&output)
    );
    assert!(!dir.exists());

    // Isolated needs a signer.
    let output = attesto(
        &dir,
        &["provider", "create", "acme", "--trust-model", "isolated"],
    )?;
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("at least one --signer"));

    let (signer, signer_der) = signer_pem(tmp.path(), "acme")?;
    let out = ok(&attesto(
        &dir,
        &[
            "provider",
            "create",
            "acme",
            "--trust-model",
            "isolated",
            "--signer",
            &signer,
            "--host",
            "Acme.Example:8443",
            "--token-lifetime",
            "600",
        ],
    )?)?;
    assert!(
        out.contains("created provider acme (isolated, 1 signer(s))"),
        "{out}"
    );
    // Names and hosts are checked by the store.
    let output = attesto(
        &dir,
        &["provider", "create", "Bad_Name", "--trust-model", "aad"],
    )?;
    assert_eq!(output.status.code(), Some(2));
    let output = attesto(
        &dir,
        &[
            "provider",
            "create",
            "other",
            "--trust-model",
            "aad",
            "--host",
            "acme.example:8443",
        ],
    )?;
    assert!(
        stderr(&output).contains("already selects provider"),
        "{}",
        stderr(&output)
    );
    ok(&attesto(
        &dir,
        &["provider", "create", "beta", "--trust-model", "aad"],
    )?)?;

    let list = json(&attesto(&dir, &["provider", "list", "--json"])?)?;
    let names: Vec<&str> = list
        .as_array()
        .context("array")?
        .iter()
        .filter_map(|p| p.get("name").and_then(|n| n.as_str()))
        .collect();
    assert_eq!(names, vec!["acme", "beta", "default"]);

    let shown = json(&attesto(&dir, &["provider", "show", "acme", "--json"])?)?;
    assert_eq!(shown["trust_model"], "isolated");
    assert_eq!(shown["hosts"][0], "acme.example:8443");
    assert_eq!(shown["token_lifetime_secs"], 600);
    let thumbprint = attesto_jose::Certificate::from_der(&signer_der)?.thumbprint();
    assert_eq!(
        shown["policy_signers"][0]["thumbprint"],
        thumbprint.as_str()
    );
    assert_eq!(shown["signing_keys"].as_array().map(Vec::len), Some(0));

    // Key rotation: the issuer comes from the first host; the old key stays, retired.
    let out = ok(&attesto(&dir, &["provider", "rotate-key", "acme"])?)?;
    assert!(
        out.contains("for issuer https://acme.example:8443"),
        "{out}"
    );
    ok(&attesto(&dir, &["provider", "rotate-key", "acme"])?)?;
    let shown = json(&attesto(&dir, &["provider", "show", "acme", "--json"])?)?;
    let keys = shown["signing_keys"].as_array().context("keys")?;
    assert_eq!(keys.len(), 2);
    assert!(keys[0]["retired_at"].is_null());
    assert!(keys[1]["retired_at"].is_string());
    assert_eq!(keys[0]["subject"], "CN=https://acme.example:8443");
    assert_ne!(keys[0]["kid"], keys[1]["kid"]);
    let text = ok(&attesto(&dir, &["provider", "show", "acme"])?)?;
    assert!(
        text.contains("trust model   isolated") && text.contains("active"),
        "{text}"
    );

    // The default provider has no host: the issuer must be given.
    let output = attesto(&dir, &["provider", "rotate-key", "default"])?;
    assert!(stderr(&output).contains("--issuer"), "{}", stderr(&output));
    ok(&attesto(
        &dir,
        &[
            "provider",
            "rotate-key",
            "default",
            "--issuer",
            "https://attest.example/",
        ],
    )?)?;

    let output = attesto(&dir, &["provider", "delete", "default"])?;
    assert!(stderr(&output).contains("cannot be deleted"));
    ok(&attesto(&dir, &["provider", "delete", "acme"])?)?;
    let output = attesto(&dir, &["provider", "show", "acme"])?;
    assert_eq!(output.status.code(), Some(2));
    let output = attesto(&dir, &["provider", "delete", "acme"])?;
    assert!(
        stderr(&output).contains("does not exist"),
        "{}",
        stderr(&output)
    );

    assert_eq!(
        actions(&dir, &["--provider", "acme"])?,
        vec![
            "provider.delete",
            "key.rotate",
            "key.rotate",
            "provider.create"
        ]
    );
    let rows = json(&attesto(&dir, &["audit", "--json", "--limit", "1"])?)?;
    assert_eq!(rows.as_array().map(Vec::len), Some(1));
    assert_eq!(rows[0]["actor"], "cli:tester");
    assert_eq!(rows[0]["result"], "ok");
    assert_eq!(
        actions(&dir, &["--since", "2999-01-01T00:00:00Z"])?,
        Vec::<String>::new()
    );
    let output = attesto(&dir, &["audit", "--since", "yesterday"])?;
    assert_eq!(output.status.code(), Some(2));
    let text = ok(&attesto(&dir, &["audit"])?)?;
    assert!(
        text.lines()
            .any(|l| l.contains("acme  provider.create  cli:tester  ok")),
        "{text}"
    );
    Ok(())
}

fn stored(n: u32, signer: Option<Vec<u8>>) -> StoredPolicy {
    StoredPolicy {
        jws: format!("eyJhbGciOiJub25lIn0.payload{n}."),
        text: format!(
            "version=1.0;\nauthorizationrules\n{{\n    => permit();\n}};\n// revision {n}\n"
        ),
        signer_cert_der: signer,
        updated_at: 1_751_328_000 + i64::from(n),
    }
}

fn event(provider: &str) -> AuditEvent {
    AuditEvent {
        at: 1_751_328_000,
        actor: "server-admin".to_owned(),
        provider: provider.to_owned(),
        action: "policy.set".to_owned(),
        attestation_type: Some("SgxEnclave".to_owned()),
        jws_sha256: None,
        result: "ok".to_owned(),
    }
}

#[test]
fn stored_policy_versions_can_be_listed_shown_diffed_and_rolled_back() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let (_, trusted) = signer_pem(tmp.path(), "trusted")?;
    let (_, untrusted) = signer_pem(tmp.path(), "gone")?;
    {
        // What the server would have stored.
        let store = Store::open(&dir)?;
        store.ensure_default_provider()?;
        store.put_policy_audited("default", "SgxEnclave", &stored(1, None), &event("default"))?;
        store.put_policy_audited("default", "SgxEnclave", &stored(2, None), &event("default"))?;
        store.create_provider(
            &ProviderRecord {
                name: "iso".to_owned(),
                trust_model: TrustModel::Isolated,
                token_lifetime_secs: None,
                hosts: Vec::new(),
                created_at: 0,
            },
            std::slice::from_ref(&trusted),
            &event("iso"),
        )?;
        store.put_policy_audited(
            "iso",
            "SgxEnclave",
            &stored(1, Some(untrusted)),
            &event("iso"),
        )?;
        store.put_policy_audited(
            "iso",
            "SgxEnclave",
            &stored(2, Some(trusted)),
            &event("iso"),
        )?;
        store.put_policy_audited("iso", "SgxEnclave", &stored(3, None), &event("iso"))?;
    }

    let history = ok(&attesto(
        &dir,
        &["policy", "history", "--type", "sgxenclave"],
    )?)?;
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2, "{history}");
    assert!(
        lines[0].starts_with("v1  2025-07-01T00:00:01Z  set    server-admin  policy-hash "),
        "{history}"
    );
    let empty = ok(&attesto(&dir, &["policy", "history", "--type", "TdxVm"])?)?;
    assert!(empty.contains("the default applies"), "{empty}");
    let output = attesto(&dir, &["policy", "history", "--type", "NoSuchType"])?;
    assert_eq!(output.status.code(), Some(2));

    let text = ok(&attesto(
        &dir,
        &[
            "policy",
            "show-version",
            "--type",
            "SgxEnclave",
            "--version",
            "1",
        ],
    )?)?;
    assert_eq!(text.trim_end(), stored(1, None).text.trim_end());
    let jws = ok(&attesto(
        &dir,
        &[
            "policy",
            "show-version",
            "--type",
            "SgxEnclave",
            "--version",
            "2",
            "--jws",
        ],
    )?)?;
    assert_eq!(jws.trim(), stored(2, None).jws);
    let output = attesto(
        &dir,
        &[
            "policy",
            "show-version",
            "--type",
            "SgxEnclave",
            "--version",
            "9",
        ],
    )?;
    assert!(
        stderr(&output).contains("no version 9"),
        "{}",
        stderr(&output)
    );

    let output = attesto(
        &dir,
        &[
            "policy",
            "diff",
            "--type",
            "SgxEnclave",
            "--from",
            "1",
            "--to",
            "2",
        ],
    )?;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let diff = stdout(&output);
    assert!(diff.contains("--- v1\n+++ v2\n"), "{diff}");
    assert!(diff.contains("-// revision 1\n+// revision 2\n"), "{diff}");
    let same = attesto(
        &dir,
        &[
            "policy",
            "diff",
            "--type",
            "SgxEnclave",
            "--from",
            "2",
            "--to",
            "2",
        ],
    )?;
    assert_eq!(same.status.code(), Some(0));
    assert!(stdout(&same).is_empty());

    let out = ok(&attesto(
        &dir,
        &[
            "policy",
            "rollback",
            "--type",
            "SgxEnclave",
            "--version",
            "1",
        ],
    )?)?;
    assert!(out.contains("current again as v3"), "{out}");

    // Isolated: a version whose signer is no longer trusted (or that is unsigned) is refused
    // without --force; one signed by a trusted signer is restored.
    for version in ["1", "3"] {
        let output = attesto(
            &dir,
            &[
                "policy",
                "rollback",
                "--provider",
                "iso",
                "--type",
                "SgxEnclave",
                "--version",
                version,
            ],
        )?;
        assert_eq!(output.status.code(), Some(2));
        assert!(stderr(&output).contains("--force"), "{}", stderr(&output));
    }
    ok(&attesto(
        &dir,
        &[
            "policy",
            "rollback",
            "--provider",
            "iso",
            "--type",
            "SgxEnclave",
            "--version",
            "2",
        ],
    )?)?;
    ok(&attesto(
        &dir,
        &[
            "policy",
            "rollback",
            "--provider",
            "iso",
            "--type",
            "SgxEnclave",
            "--version",
            "1",
            "--force",
        ],
    )?)?;
    let output = attesto(
        &dir,
        &[
            "policy",
            "history",
            "--provider",
            "nope",
            "--type",
            "SgxEnclave",
        ],
    )?;
    assert!(
        stderr(&output).contains("no provider"),
        "{}",
        stderr(&output)
    );

    let store = Store::open(&dir)?;
    assert_eq!(
        store.policy("default", "SgxEnclave")?.map(|p| p.text),
        Some(stored(1, None).text)
    );
    let versions = store.policy_versions("default", "SgxEnclave")?;
    assert_eq!(versions.last().and_then(|v| v.rollback_of), Some(1));
    assert_eq!(
        versions.last().and_then(|v| v.actor.clone()),
        Some("cli:tester".to_owned())
    );
    assert_eq!(store.policy_versions("iso", "SgxEnclave")?.len(), 5);
    let rollbacks = store
        .audit(&AuditQuery::default())?
        .into_iter()
        .filter(|e| e.event.action == "policy.rollback")
        .count();
    assert_eq!(rollbacks, 3);
    Ok(())
}

#[test]
fn the_kek_can_be_rotated_and_must_then_be_supplied() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    ok(&attesto(
        &dir,
        &["provider", "create", "acme", "--trust-model", "aad"],
    )?)?;
    ok(&attesto(
        &dir,
        &[
            "provider",
            "rotate-key",
            "acme",
            "--issuer",
            "https://acme.example",
        ],
    )?)?;
    let new_kek = tmp.path().join("new.kek");
    std::fs::write(&new_kek, "ab".repeat(32))?;
    let bad_kek = tmp.path().join("bad.kek");
    std::fs::write(&bad_kek, "not a key")?;
    let new_kek_arg = new_kek.display().to_string();

    // A bad new key changes nothing.
    let output = attesto(
        &dir,
        &[
            "kek",
            "rotate",
            "--new-kek-file",
            &bad_kek.display().to_string(),
        ],
    )?;
    assert_eq!(output.status.code(), Some(2));
    assert!(dir.join("kek").exists());
    let output = attesto(&dir, &["kek", "rotate"])?;
    assert_eq!(
        output.status.code(),
        Some(2),
        "a new KEK source is required"
    );

    let out = ok(&attesto(
        &dir,
        &["kek", "rotate", "--new-kek-file", &new_kek_arg],
    )?)?;
    assert!(out.contains("was deleted"), "{out}");
    assert!(!dir.join("kek").exists());
    let output = attesto(&dir, &["provider", "list"])?;
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--kek-file"),
        "{}",
        stderr(&output)
    );
    let list = ok(&attesto(
        &dir,
        &["provider", "list", "--kek-file", &new_kek_arg],
    )?)?;
    assert!(list.contains("acme"), "{list}");

    // Then to a passphrase from the environment.
    let pass = [("ATTESTO_TEST_PASSPHRASE", "correct horse battery staple")];
    ok(&attesto_env(
        &dir,
        &[
            "kek",
            "rotate",
            "--kek-file",
            &new_kek_arg,
            "--new-passphrase-env",
            "ATTESTO_TEST_PASSPHRASE",
        ],
        &pass,
    )?)?;
    let output = attesto(&dir, &["provider", "list", "--kek-file", &new_kek_arg])?;
    assert!(
        stderr(&output).contains("does not match"),
        "{}",
        stderr(&output)
    );
    let shown = json(&attesto_env(
        &dir,
        &[
            "provider",
            "show",
            "acme",
            "--json",
            "--passphrase-env",
            "ATTESTO_TEST_PASSPHRASE",
        ],
        &pass,
    )?)?;
    assert_eq!(shown["signing_keys"].as_array().map(Vec::len), Some(1));

    // And back to a key from an environment variable.
    let hex = "cd".repeat(32);
    let env = [
        ("ATTESTO_TEST_PASSPHRASE", "correct horse battery staple"),
        ("ATTESTO_TEST_KEK", hex.as_str()),
    ];
    ok(&attesto_env(
        &dir,
        &[
            "kek",
            "rotate",
            "--passphrase-env",
            "ATTESTO_TEST_PASSPHRASE",
            "--new-kek-env",
            "ATTESTO_TEST_KEK",
        ],
        &env,
    )?)?;
    let store = Store::open_with(&dir, KekSource::Env("ATTESTO_TEST_KEK_UNSET".to_owned()));
    assert!(store.is_err());
    let rows = json(&attesto_env(
        &dir,
        &[
            "audit",
            "--json",
            "--provider",
            "*",
            "--kek-env",
            "ATTESTO_TEST_KEK",
        ],
        &env,
    )?)?;
    assert_eq!(rows.as_array().map(Vec::len), Some(3));
    assert_eq!(rows[0]["action"], "kek.rotate");
    Ok(())
}

#[test]
fn a_running_server_is_reported_as_such() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("data");
    let _server = Store::open(&dir)?;
    let output = attesto(&dir, &["provider", "list"])?;
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("is the server running?") && err.contains("stop the server first"),
        "{err}"
    );
    Ok(())
}
