//! Policy management and policy signers over HTTP, in both trust models, with MAA's answers.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use attesto_jose::{Algorithm, Header, SigningCertificateParams, SigningKey, maa, sign_jws};
use attesto_store::{AuditQuery, ProviderRecord, TrustModel};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::UnixTime;
use serde_json::{Value, json};

use crate::common::{self, Options, TestServer};

const PERMIT: &str = "version=1.0; authorizationrules{=> permit();}; issuancerules{};";
const NOW: u64 = 1_751_328_000;

/// A self-signed policy signer.
struct Signer {
    key: SigningKey,
    cert_der: Vec<u8>,
}

fn signer(name: &str, not_after: u64) -> Result<Signer> {
    let key = SigningKey::generate_rsa(attesto_jose::RsaBits::B2048)?;
    let cert_der = attesto_jose::self_signed_certificate(
        &key,
        &SigningCertificateParams {
            issuer: name.to_owned(),
            not_before: UnixTime::since_unix_epoch(Duration::from_secs(NOW - 86_400)),
            not_after: UnixTime::since_unix_epoch(Duration::from_secs(not_after)),
            extensions: Vec::new(),
        },
    )?;
    Ok(Signer { key, cert_der })
}

/// A JWS signed the way the Python SDK does: `alg` RSA256, certificate in `jwk.x5c`.
fn signed(signer: &Signer, payload: &str) -> Result<String> {
    let mut header = Header::new(Algorithm::Rs256);
    header.x5c = Some(vec![STANDARD.encode(&signer.cert_der)]);
    Ok(sign_jws(&header, payload.as_bytes(), &signer.key)?)
}

fn policy_payload(text: &str) -> String {
    maa::stored_policy_payload(text)
}

fn cert_payload(cert_der: &[u8]) -> String {
    json!({"policyCertificate": {"kty": "RSA", "x5c": [STANDARD.encode(cert_der)]}}).to_string()
}

async fn admin_server(at: u64) -> Result<(TestServer, String)> {
    let server = common::start(at, Options::default()).await?;
    let token = server
        .server
        .initial_admin_token()
        .context("first start prints an admin token")?
        .to_owned();
    Ok((server, token))
}

impl TestServer {
    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Result<(u16, Value)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "text/plain").body(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    fn create_provider(&self, name: &str, model: TrustModel, signers: &[&Signer]) -> Result<()> {
        let store = &self.server.state().store;
        let record = ProviderRecord {
            name: name.to_owned(),
            trust_model: model,
            token_lifetime_secs: None,
            hosts: Vec::new(),
            created_at: 0,
        };
        let ders: Vec<Vec<u8>> = signers.iter().map(|s| s.cert_der.clone()).collect();
        store.create_provider(
            &record,
            &ders,
            &attesto_store::AuditEvent {
                at: 0,
                actor: "test".into(),
                provider: name.into(),
                action: "provider.create".into(),
                attestation_type: None,
                jws_sha256: None,
                result: "ok".into(),
            },
        )?;
        Ok(())
    }
}

async fn claims_of(server: &TestServer, base_path: &str, value: &Value) -> Result<Value> {
    let token = value["token"]
        .as_str()
        .with_context(|| format!("no token in {value}"))?;
    server.verify_token_at(base_path, token).await
}

#[tokio::test]
async fn aad_model_set_get_reset_with_maa_answers() -> Result<()> {
    let (server, admin) = admin_server(NOW).await?;
    let path = "/policies/SgxEnclave?api-version=2022-08-01";

    // No credential, wrong credential.
    let (status, value) = server.admin(reqwest::Method::GET, path, None, None).await?;
    ensure!(
        status == 401 && value["error"]["code"] == "Unauthorized",
        "{status} {value}"
    );
    let (status, _) = server
        .admin(
            reqwest::Method::GET,
            path,
            Some("attesto-admin-wrong"),
            None,
        )
        .await?;
    ensure!(status == 401);

    // The default policy comes back as an unsecured StoredAttestationPolicy JWS.
    let (status, value) = server
        .admin(reqwest::Method::GET, path, Some(&admin), None)
        .await?;
    ensure!(status == 200, "{status} {value}");
    let claims = claims_of(&server, "", &value).await?;
    let stored = claims["x-ms-policy"].as_str().context("x-ms-policy")?;
    let jws = attesto_jose::Jws::parse(stored)?;
    let text = maa::decode_stored_policy(jws.payload())?.text;
    ensure!(text == attesto_policy::default_policy(attesto_policy::AttestationType::SgxEnclave));

    // Set an unsigned policy, JSON-quoted as some clients send it.
    let body = maa::unsecured_policy_jws(PERMIT);
    let (status, value) = server
        .admin(
            reqwest::Method::PUT,
            path,
            Some(&admin),
            Some(format!("\"{body}\"")),
        )
        .await?;
    ensure!(status == 200, "{status} {value}");
    let claims = claims_of(&server, "", &value).await?;
    ensure!(claims["x-ms-policy-result"] == "Updated");
    ensure!(claims["x-ms-policy-token-hash"] == maa::policy_token_hash(body.as_bytes()));
    ensure!(claims.get("x-ms-policy-signer").is_none());
    let (_, value) = server
        .admin(reqwest::Method::GET, path, Some(&admin), None)
        .await?;
    ensure!(claims_of(&server, "", &value).await?["x-ms-policy"] == body.as_str());

    // A policy that does not parse is refused with line and column; the old one stays.
    let broken =
        maa::unsecured_policy_jws("version=1.0; authorizationrules{=> permit()}; issuancerules{};");
    let (status, value) = server
        .admin(reqwest::Method::PUT, path, Some(&admin), Some(broken))
        .await?;
    ensure!(
        status == 400 && value["error"]["code"] == "PolicyParsingError",
        "{status} {value}"
    );
    ensure!(
        value["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("line")),
        "{value}"
    );
    let (_, value) = server
        .admin(reqwest::Method::GET, path, Some(&admin), None)
        .await?;
    ensure!(claims_of(&server, "", &value).await?["x-ms-policy"] == body.as_str());

    // Malformed JWS.
    let (status, value) = server
        .admin(
            reqwest::Method::PUT,
            path,
            Some(&admin),
            Some("not.a-jws".into()),
        )
        .await?;
    ensure!(
        status == 400 && value["error"]["code"] == "InvalidParameter",
        "{status} {value}"
    );

    // Reset.
    let reset = "eyJhbGciOiJub25lIn0..".to_owned();
    let (status, value) = server
        .admin(
            reqwest::Method::POST,
            "/policies/SgxEnclave:reset?api-version=2022-08-01",
            Some(&admin),
            Some(reset.clone()),
        )
        .await?;
    ensure!(status == 200, "{status} {value}");
    let claims = claims_of(&server, "", &value).await?;
    ensure!(claims["x-ms-policy-result"] == "Removed");
    ensure!(claims["x-ms-policy-token-hash"] == maa::policy_token_hash(reset.as_bytes()));

    // Every change, including the refused one, is in the audit log.
    let events = server.server.state().store.audit(&AuditQuery {
        provider: Some("default".into()),
        since: None,
        limit: 10,
    })?;
    let actions: Vec<(&str, bool)> = events
        .iter()
        .map(|e| (e.event.action.as_str(), e.event.result == "ok"))
        .collect();
    ensure!(actions.contains(&("policy.set", true)), "{actions:?}");
    ensure!(actions.contains(&("policy.set", false)), "{actions:?}");
    ensure!(actions.contains(&("policy.reset", true)), "{actions:?}");
    Ok(())
}

#[tokio::test]
async fn isolated_model_requires_trusted_signers() -> Result<()> {
    let (server, admin) = admin_server(NOW).await?;
    let trusted = signer("trusted", NOW + 86_400)?;
    let stranger = signer("stranger", NOW + 86_400)?;
    let expired = signer("expired", NOW - 3600)?;
    server.create_provider("iso", TrustModel::Isolated, &[&trusted, &expired])?;
    let path = "/providers/iso/policies/SgxEnclave?api-version=2022-08-01";
    let put = |body: String| server.admin(reqwest::Method::PUT, path, Some(&admin), Some(body));

    for (what, body) in [
        ("unsigned", maa::unsecured_policy_jws(PERMIT)),
        (
            "untrusted signer",
            signed(&stranger, &policy_payload(PERMIT))?,
        ),
        ("expired signer", signed(&expired, &policy_payload(PERMIT))?),
    ] {
        let (status, value) = put(body).await?;
        ensure!(
            status == 400 && value["error"]["code"] == "InvalidOperation",
            "{what}: {status} {value}"
        );
    }
    // A tampered signature never gets as far as the trust check.
    let good = signed(&trusted, &policy_payload(PERMIT))?;
    let mut tampered = good.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let (status, value) = put(String::from_utf8(tampered)?).await?;
    ensure!(
        status == 400 && value["error"]["code"] == "InvalidParameter",
        "{status} {value}"
    );
    // Nothing changed.
    let (_, value) = server
        .admin(reqwest::Method::GET, path, Some(&admin), None)
        .await?;
    let claims = claims_of(&server, "/providers/iso", &value).await?;
    ensure!(
        claims["x-ms-policy"]
            .as_str()
            .is_some_and(|p| p.starts_with("eyJhbGciOiJub25lIn0"))
    );

    let (status, value) = put(good.clone()).await?;
    ensure!(status == 200, "{status} {value}");
    let claims = claims_of(&server, "/providers/iso", &value).await?;
    ensure!(claims["x-ms-policy-result"] == "Updated");
    ensure!(claims["x-ms-policy-signer"]["x5c"][0] == STANDARD.encode(&trusted.cert_der));

    // The default provider is untouched.
    let (_, value) = server
        .admin(
            reqwest::Method::GET,
            "/policies/SgxEnclave?api-version=2022-08-01",
            Some(&admin),
            None,
        )
        .await?;
    let claims = claims_of(&server, "", &value).await?;
    ensure!(claims["x-ms-policy"] != good.as_str());

    // An authenticated admin still cannot reset without a trusted signature.
    let (status, value) = server
        .admin(
            reqwest::Method::POST,
            "/providers/iso/policies/SgxEnclave:reset?api-version=2022-08-01",
            Some(&admin),
            Some("eyJhbGciOiJub25lIn0..".into()),
        )
        .await?;
    ensure!(
        status == 400 && value["error"]["code"] == "InvalidOperation",
        "{status} {value}"
    );
    Ok(())
}

#[tokio::test]
async fn policy_signers_are_managed_by_signed_requests() -> Result<()> {
    let (server, admin) = admin_server(NOW).await?;
    let first = signer("first", NOW + 86_400)?;
    let second = signer("second", NOW + 86_400)?;
    server.create_provider("iso", TrustModel::Isolated, &[&first])?;
    let q = "?api-version=2022-08-01";
    let post = |path: &str, body: String| {
        let url = format!("/providers/iso{path}{q}");
        let server = &server;
        let admin = admin.clone();
        async move {
            server
                .admin(
                    reqwest::Method::POST,
                    &url,
                    Some(&admin),
                    Some(format!("\"{body}\"")),
                )
                .await
        }
    };

    // Adding needs a current signer's signature.
    let (status, value) = post(
        "/certificates:add",
        signed(&second, &cert_payload(&second.cert_der))?,
    )
    .await?;
    ensure!(
        status == 400 && value["error"]["code"] == "InvalidOperation",
        "{status} {value}"
    );
    let (status, value) = post(
        "/certificates:add",
        signed(&first, &cert_payload(&second.cert_der))?,
    )
    .await?;
    ensure!(status == 200, "{status} {value}");
    let claims = claims_of(&server, "/providers/iso", &value).await?;
    ensure!(claims["x-ms-policycertificates-result"] == "IsPresent");
    let thumbprint = attesto_jose::cert::certificate_thumbprint(&second.cert_der);
    ensure!(
        claims["x-ms-certificate-thumbprint"] == thumbprint.as_str(),
        "{claims}"
    );

    let (status, value) = server
        .admin(
            reqwest::Method::GET,
            &format!("/providers/iso/certificates{q}"),
            Some(&admin),
            None,
        )
        .await?;
    ensure!(status == 200);
    let claims = claims_of(&server, "/providers/iso", &value).await?;
    ensure!(
        claims["x-ms-policy-certificates"]["keys"]
            .as_array()
            .map(Vec::len)
            == Some(2)
    );

    // The new signer can now sign policies; then remove the first, and the last is kept.
    let (status, value) = post(
        "/certificates:remove",
        signed(&second, &cert_payload(&first.cert_der))?,
    )
    .await?;
    ensure!(status == 200, "{status} {value}");
    ensure!(
        claims_of(&server, "/providers/iso", &value).await?["x-ms-policycertificates-result"]
            == "IsAbsent"
    );
    let (status, value) = post(
        "/certificates:remove",
        signed(&second, &cert_payload(&second.cert_der))?,
    )
    .await?;
    ensure!(
        status == 400 && value["error"]["code"] == "InvalidOperation",
        "{status} {value}"
    );
    let signers = server.server.state().store.policy_signers("iso")?;
    ensure!(signers == vec![second.cert_der.clone()]);

    // Signers do not exist in the AAD model.
    let (status, value) = server
        .admin(
            reqwest::Method::POST,
            &format!("/certificates:add{q}"),
            Some(&admin),
            Some(signed(&first, &cert_payload(&second.cert_der))?),
        )
        .await?;
    ensure!(
        status == 400 && value["error"]["code"] == "InvalidOperation",
        "{status} {value}"
    );
    Ok(())
}

#[tokio::test]
async fn the_real_signed_upload_is_accepted_only_when_its_signer_is_trusted() -> Result<()> {
    let body = std::fs::read_to_string(
        common::testdata().join("policies/jws/signed_jwt_sgx_policy_2.txt"),
    )?;
    let body = body.trim().to_owned();
    let jws = attesto_jose::Jws::parse(&body)?;
    let chain = jws.header().signer_chain()?;
    let cert_der = chain.signer().der().to_vec();
    // Inside the signer certificate's validity (2020-11-23 .. 2021-11-23).
    let at = 1_622_505_600; // 2021-06-01
    let (server, admin) = admin_server(at).await?;
    let owner = Signer {
        key: SigningKey::generate_ec_p256()?,
        cert_der,
    };
    server.create_provider("owner", TrustModel::Isolated, &[&owner])?;
    let other = signer("other", at + 86_400)?;
    server.create_provider("other", TrustModel::Isolated, &[&other])?;
    let (status, value) = server
        .admin(
            reqwest::Method::PUT,
            "/providers/owner/policies/SgxEnclave?api-version=2020-10-01",
            Some(&admin),
            Some(body.clone()),
        )
        .await?;
    ensure!(status == 200, "{status} {value}");
    let (status, value) = server
        .admin(
            reqwest::Method::PUT,
            "/providers/other/policies/SgxEnclave?api-version=2020-10-01",
            Some(&admin),
            Some(body),
        )
        .await?;
    ensure!(
        status == 400 && value["error"]["code"] == "InvalidOperation",
        "{status} {value}"
    );
    Ok(())
}

#[tokio::test]
async fn providers_have_their_own_keys_and_issuers() -> Result<()> {
    let (server, _admin) = admin_server(NOW).await?;
    server.create_provider("tenant", TrustModel::Aad, &[])?;
    let (_, default_jwks) = server.get("/certs").await?;
    let (status, tenant_jwks) = server.get("/providers/tenant/certs").await?;
    ensure!(status == 200);
    ensure!(default_jwks["keys"][0]["kid"] != tenant_jwks["keys"][0]["kid"]);
    let (_, openid) = server
        .get("/providers/tenant/.well-known/openid-configuration")
        .await?;
    ensure!(openid["issuer"] == format!("{}/providers/tenant", server.base));
    let (status, value) = server.get("/providers/nobody/certs").await?;
    ensure!(
        status == 404 && value["error"]["code"] == "NotFound",
        "{status} {value}"
    );
    Ok(())
}

#[tokio::test]
async fn the_data_directory_holds_no_plaintext_private_key() -> Result<()> {
    let (server, _admin) = admin_server(NOW).await?;
    server.create_provider("tenant", TrustModel::Aad, &[])?;
    let (status, _) = server.get("/providers/tenant/certs").await?;
    ensure!(status == 200);
    let store = &server.server.state().store;
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for provider in ["default", "tenant"] {
        for key in store.signing_keys(provider)? {
            secrets.push(key.pkcs8_der.clone());
        }
    }
    let tls = store.tls_identity()?.context("TLS identity")?;
    secrets.push(tls.key_pem.clone().into_bytes());
    ensure!(secrets.len() >= 3);
    let data_dir = store.path().parent().context("data dir")?.to_path_buf();
    let mut files = 0;
    let mut stack = vec![data_dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path)?;
            ensure!(
                !bytes.windows(11).any(|w| w == b"PRIVATE KEY"),
                "{} contains a PEM private key",
                path.display()
            );
            for secret in &secrets {
                ensure!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_slice()),
                    "{} contains a private key in the clear",
                    path.display()
                );
            }
        }
    }
    ensure!(files >= 2, "scanned {files} files");
    Ok(())
}

#[tokio::test]
async fn legacy_preview_policy_paths() -> Result<()> {
    let (server, admin) = admin_server(NOW).await?;
    let path = "/operations/policy/current?api-version=2018-09-01-preview&tee=SgxEnclave";
    let (status, value) = server
        .admin(reqwest::Method::GET, path, Some(&admin), None)
        .await?;
    ensure!(status == 200, "{status} {value}");
    let policy_token = value["policy"].as_str().context("policy member")?;
    let claims = server.verify_token(policy_token).await?;
    ensure!(claims["x-ms-policy"].is_string());

    let body = maa::unsecured_policy_jws(PERMIT);
    let (status, _) = server
        .admin(reqwest::Method::PUT, path, Some(&admin), Some(body.clone()))
        .await?;
    ensure!(status == 200);
    let (_, value) = server
        .admin(reqwest::Method::GET, path, Some(&admin), None)
        .await?;
    let claims = server
        .verify_token(value["policy"].as_str().context("policy")?)
        .await?;
    ensure!(claims["x-ms-policy"] == body.as_str());
    let (status, _) = server.admin(reqwest::Method::GET, path, None, None).await?;
    ensure!(status == 401);
    Ok(())
}

#[tokio::test]
async fn a_host_name_selects_its_provider() -> Result<()> {
    let (server, _admin) = admin_server(NOW).await?;
    let store = &server.server.state().store;
    let record = ProviderRecord {
        name: "hosted".into(),
        trust_model: TrustModel::Aad,
        token_lifetime_secs: Some(600),
        hosts: vec!["tenant.attest.test".into()],
        created_at: 0,
    };
    store.create_provider(
        &record,
        &[],
        &attesto_store::AuditEvent {
            at: 0,
            actor: "test".into(),
            provider: "hosted".into(),
            action: "provider.create".into(),
            attestation_type: None,
            jws_sha256: None,
            result: "ok".into(),
        },
    )?;
    server.server.state().providers.reindex_hosts()?;
    // HTTP/1.1 so the Host header is the one we set.
    let ca = std::fs::read(server.server.ca_file().context("CA")?)?;
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca)?])
        .http1_only()
        .build()?;
    let by_host: Value = client
        .get(format!("{}/.well-known/openid-configuration", server.base))
        .header("host", "tenant.attest.test")
        .send()
        .await?
        .json()
        .await?;
    ensure!(
        by_host["issuer"] == "https://tenant.attest.test",
        "{by_host}"
    );
    let (_, by_path) = server
        .get("/providers/hosted/.well-known/openid-configuration")
        .await?;
    ensure!(
        by_path["issuer"] == "https://tenant.attest.test",
        "{by_path}"
    );
    let (_, default) = server.get("/.well-known/openid-configuration").await?;
    ensure!(default["issuer"] == server.base.as_str());
    Ok(())
}

#[tokio::test]
async fn after_key_rotation_certs_lists_new_and_previous_keys() -> Result<()> {
    let (server, admin) = admin_server(NOW).await?;
    let state = server.server.state();
    // A token signed with the first key.
    let (_, value) = server
        .admin(
            reqwest::Method::GET,
            "/policies/SgxEnclave?api-version=2022-08-01",
            Some(&admin),
            None,
        )
        .await?;
    let old_token = value["token"].as_str().context("token")?.to_owned();
    let (_, before) = server.get("/certs").await?;
    ensure!(before["keys"].as_array().map(Vec::len) == Some(1));

    let new_key = attesto_server::providers::new_signing_key(
        &server.base,
        UnixTime::since_unix_epoch(Duration::from_secs(NOW)),
        None,
    )?;
    state.store.rotate_signing_key(
        "default",
        &new_key,
        i64::try_from(NOW)?,
        &attesto_store::AuditEvent {
            at: i64::try_from(NOW)?,
            actor: "test".into(),
            provider: "default".into(),
            action: "key.rotate".into(),
            attestation_type: None,
            jws_sha256: None,
            result: "ok".into(),
        },
    )?;
    state.providers.invalidate("default");

    let (_, after) = server.get("/certs").await?;
    let kids: Vec<&str> = after["keys"]
        .as_array()
        .context("keys")?
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    ensure!(kids.len() == 2 && kids[0] == new_key.id, "{kids:?}");
    // Old tokens still verify against /certs; new ones use the new key.
    server.verify_token(&old_token).await?;
    let (_, value) = server
        .admin(
            reqwest::Method::GET,
            "/policies/SgxEnclave?api-version=2022-08-01",
            Some(&admin),
            None,
        )
        .await?;
    let token = value["token"].as_str().context("token")?;
    ensure!(jsonwebtoken::decode_header(token)?.kid.as_deref() == Some(new_key.id.as_str()));
    server.verify_token(token).await?;
    Ok(())
}
