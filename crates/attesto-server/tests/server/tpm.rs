//! MAA's TPM protocol (`POST /attest/Tpm`) over real HTTPS.
//!
//! - The recorded GCE attestation end to end in all three banks. Its quotes carry the nonce
//!   0x9009 and cannot be re-signed, so these servers are told (test-only hooks) to issue that
//!   challenge and to accept a request key without TPM binding; every other check runs.
//! - Synthetic quotes (an ECDSA AK certified by a test root, over the real GCE log's PCR
//!   values) through the unmodified protocol: random challenge, request key bound by the quote
//!   or certified by the AIK.
//! - One negative case per check: flipped bytes, another selection, wrong challenge, expired,
//!   altered, foreign and reused contexts, untrusted AIKs, policy configuration rules.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use attesto_jose::{Algorithm, Header, Jwk, RsaBits, SigningKey, maa, sign_jws};
use attesto_server::Clock;
use attesto_server::routes::tpm::TestHooks;
use attesto_store::{AuditEvent, ProviderRecord, TrustModel};
use attesto_tpm::{EventLog, HashAlg, MeasurementLog, Replay};
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls_pki_types::UnixTime;
use serde_json::{Value, json};

use crate::common::{self, Options, TestServer, TpmOptions, b64url, testdata};

/// Inside the GCE AK certificate's validity (2021-12-20).
const GCE_TIME: u64 = 1_640_000_000;
/// Any time for the synthetic PKI (2025-07-01).
const SYNTH_TIME: u64 = 1_751_328_000;
const GCE: &str = "tpm/go-tpm-tools-gce-cos85";
const API: &str = "?api-version=2022-08-01";
const GCE_NONCE: [u8; 2] = [0x90, 0x09];

fn read(relative: &str) -> Result<Vec<u8>> {
    let path = testdata().join(relative);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

fn b64url_decode(text: &str) -> Result<Vec<u8>> {
    Ok(URL_SAFE_NO_PAD.decode(text.trim_end_matches('='))?)
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    digest(&SHA256, &parts.concat()).as_ref().to_vec()
}

// ---- the client side of the protocol -------------------------------------------------------

/// A request key and the exact JWK text the request carries (the quote binding hashes it).
struct RequestKey {
    key: SigningKey,
    jwk_text: String,
    jwk: Value,
}

impl RequestKey {
    fn new() -> Result<RequestKey> {
        let key = SigningKey::generate_rsa(RsaBits::B2048)?;
        let jwk = serde_json::to_value(Jwk::from_public_key(key.public_key()))?;
        Ok(RequestKey {
            key,
            jwk_text: jwk.to_string(),
            jwk,
        })
    }

    /// The quote binding: SHA-256(jwk text || 0x00 || challenge).
    fn binding(&self, challenge: &[u8]) -> Vec<u8> {
        sha256(&[self.jwk_text.as_bytes(), &[0], challenge])
    }

    fn modulus(&self) -> Result<Vec<u8>> {
        b64url_decode(self.jwk["n"].as_str().context("n")?)
    }
}

/// One attestation object (MAA's `current_attestation`).
#[derive(Clone)]
struct Evidence {
    logs: Vec<Vec<u8>>,
    aik_cert: Option<Vec<u8>>,
    bank: HashAlg,
    pcrs: Vec<(u32, Vec<u8>)>,
    quote: Vec<u8>,
    signature: Vec<u8>,
}

impl Evidence {
    fn to_json(&self) -> Value {
        let mut object = json!({
            "logs": self.logs.iter().map(|log| json!({"type": "TCG", "log": b64url(log)})).collect::<Vec<_>>(),
            "pcrs": [{
                "algorithm": self.bank.tpm_alg_id(),
                "values": self.pcrs.iter().map(|(index, digest)| json!({"index": index, "digest": b64url(digest)})).collect::<Vec<_>>(),
            }],
            "quote": b64url(&self.quote),
            "signature": b64url(&self.signature),
        });
        if let (Some(cert), Some(map)) = (&self.aik_cert, object.as_object_mut()) {
            map.insert("aik_cert".to_owned(), Value::from(b64url(cert)));
        }
        object
    }
}

/// What goes into one request JWS.
struct Request<'a> {
    key: &'a RequestKey,
    info: Option<Value>,
    challenge: &'a [u8],
    context: &'a str,
    current: Value,
    boot: Option<Value>,
    typ: &'a str,
    alg: Algorithm,
    /// Signs instead of the request key.
    signer: Option<&'a SigningKey>,
}

impl<'a> Request<'a> {
    fn new(key: &'a RequestKey, challenge: &'a [u8], context: &'a str, current: &Evidence) -> Self {
        Request {
            key,
            info: None,
            challenge,
            context,
            current: current.to_json(),
            boot: None,
            typ: "attReqV2",
            alg: Algorithm::Ps256,
            signer: None,
        }
    }

    fn info(mut self, info: Value) -> Self {
        self.info = Some(info);
        self
    }

    /// The compact JWS; the payload is written by hand so the JWK text is exactly
    /// `key.jwk_text`.
    fn jws(&self) -> Result<String> {
        let info = self
            .info
            .as_ref()
            .map(|info| format!(",\"info\":{info}"))
            .unwrap_or_default();
        let boot = self
            .boot
            .as_ref()
            .map(|boot| format!(",\"boot_attestation\":{boot}"))
            .unwrap_or_default();
        let payload = format!(
            "{{\"att_type\":\"basic\",\"att_data\":{{\"rp_data\":\"cnBkYXRh\",\"challenge\":{},\
             \"tpm_att_data\":{{\"current_attestation\":{}{}}},\"request_key\":{{\"jwk\":{}{}}},\
             \"other_keys\":[],\"custom_claims\":[],\"service_context\":{}}}}}",
            Value::from(b64url(self.challenge)),
            self.current,
            boot,
            self.key.jwk_text,
            info,
            Value::from(self.context),
        );
        let mut header = Header::new(self.alg);
        header.typ = Some(self.typ.to_owned());
        Ok(sign_jws(
            &header,
            payload.as_bytes(),
            self.signer.unwrap_or(&self.key.key),
        )?)
    }
}

impl TestServer {
    /// Posts one TPM message; a 200 answer comes back decoded from `data`.
    async fn tpm_post(&self, prefix: &str, message: &Value) -> Result<(u16, Value)> {
        let body = json!({ "data": b64url(message.to_string().as_bytes()) });
        let (status, value) = self
            .post(&format!("{prefix}/attest/Tpm{API}"), body.to_string())
            .await?;
        if status != 200 {
            return Ok((status, value));
        }
        let data = b64url_decode(value["data"].as_str().context("data")?)?;
        Ok((status, serde_json::from_slice(&data)?))
    }

    /// The challenge step: (challenge, service_context).
    async fn tpm_challenge(&self, prefix: &str) -> Result<(Vec<u8>, String)> {
        let (status, answer) = self.tpm_post(prefix, &json!({"type": "aikcert"})).await?;
        ensure!(status == 200, "challenge step: {status} {answer}");
        let challenge = b64url_decode(answer["challenge"].as_str().context("challenge")?)?;
        let context = answer["service_context"]
            .as_str()
            .context("service_context")?
            .to_owned();
        Ok((challenge, context))
    }

    /// The request step: (200, the verified report's claims) or (status, error body).
    async fn tpm_request(&self, prefix: &str, jws: &str) -> Result<(u16, Value)> {
        let (status, answer) = self.tpm_post(prefix, &json!({ "request": jws })).await?;
        if status != 200 {
            return Ok((status, answer));
        }
        let report = answer["report"].as_str().context("report")?;
        Ok((status, self.verify_token_at(prefix, report).await?))
    }

    /// Both steps with a key that the quote does not bind (GCE servers accept that).
    async fn tpm_attest(
        &self,
        prefix: &str,
        key: &RequestKey,
        evidence: &Evidence,
    ) -> Result<(u16, Value)> {
        let (challenge, context) = self.tpm_challenge(prefix).await?;
        let jws = Request::new(key, &challenge, &context, evidence).jws()?;
        self.tpm_request(prefix, &jws).await
    }

    async fn put_tpm_policy(&self, prefix: &str, text: &str) -> Result<()> {
        let token = self
            .server
            .initial_admin_token()
            .context("admin token")?
            .to_owned();
        let response = self
            .client
            .put(format!("{}{prefix}/policies/Tpm{API}", self.base))
            .bearer_auth(token)
            .header("content-type", "text/plain")
            .body(maa::unsecured_policy_jws(text))
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.text().await?;
        ensure!(status == 200, "setting the Tpm policy: {status} {body}");
        Ok(())
    }

    fn add_aad_provider(&self, name: &str) -> Result<()> {
        let record = ProviderRecord {
            name: name.to_owned(),
            trust_model: TrustModel::Aad,
            token_lifetime_secs: None,
            hosts: Vec::new(),
            created_at: 0,
        };
        self.server.state().store.create_provider(
            &record,
            &[],
            &AuditEvent {
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

fn expect_error(status: u16, body: &Value, code: &str, needle: &str) -> Result<()> {
    let message = body["error"]["message"].as_str().unwrap_or_default();
    ensure!(
        status == 400 && body["error"]["code"] == code && message.contains(needle),
        "expected 400 {code} mentioning {needle:?}, got {status} {body}"
    );
    Ok(())
}

// ---- the recorded GCE attestation ----------------------------------------------------------

fn gce_evidence(bank: HashAlg) -> Result<Evidence> {
    let name = match bank {
        HashAlg::Sha1 => "sha1",
        HashAlg::Sha256 => "sha256",
        _ => "sha384",
    };
    let decoded: Value =
        serde_json::from_slice(&read(&format!("{GCE}/gce-cos-85-nonce9009.decoded.json"))?)?;
    let entry = decoded["quotes"]
        .as_array()
        .context("quotes")?
        .iter()
        .find(|q| q["pcrs"]["hash"].as_u64() == Some(u64::from(bank.tpm_alg_id())))
        .context("quote for the bank")?;
    let mut pcrs = Vec::new();
    for (index, value) in entry["pcrs"]["pcrs"].as_object().context("pcrs")? {
        pcrs.push((index.parse()?, hex::decode(value.as_str().context("hex")?)?));
    }
    pcrs.sort_by_key(|(index, _)| *index);
    Ok(Evidence {
        logs: vec![read(&format!("{GCE}/eventlog.bin"))?],
        aik_cert: Some(read(&format!("{GCE}/ak_cert.der"))?),
        bank,
        pcrs,
        quote: read(&format!("{GCE}/quote_{name}_nonce9009.tpms_attest"))?,
        signature: read(&format!("{GCE}/quote_{name}_nonce9009.tpmt_signature"))?,
    })
}

fn gce_pcr(bank: HashAlg, index: u32) -> Result<String> {
    let evidence = gce_evidence(bank)?;
    let (_, value) = evidence
        .pcrs
        .iter()
        .find(|(i, _)| *i == index)
        .context("PCR")?;
    Ok(hex::encode(value))
}

/// base64 (standard, padded) of SHA-256 over the AK certificate's SubjectPublicKeyInfo,
/// computed independently of the server.
fn gce_aik_pub_hash() -> Result<String> {
    let der = read(&format!("{GCE}/ak_cert.der"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)?;
    Ok(STANDARD.encode(sha256(&[cert.public_key().raw])))
}

async fn gce_server(challenge: &[u8], roots: &[&str]) -> Result<TestServer> {
    gce_server_with(challenge, roots, None).await
}

async fn gce_server_with(
    challenge: &[u8],
    roots: &[&str],
    clock: Option<Arc<dyn Clock>>,
) -> Result<TestServer> {
    common::start_with_tpm(
        GCE_TIME,
        Options::default(),
        TpmOptions {
            tpm_roots: roots
                .iter()
                .map(|root| read(&format!("{GCE}/certs/{root}")))
                .collect::<Result<_>>()?,
            tpm_intermediates: vec![read(&format!("{GCE}/certs/tpm_ek_intermediate_2.crt"))?],
            tpm_hooks: Some(
                TestHooks::fixed_challenge(challenge.to_vec()).allow_unbound_request_key(),
            ),
            clock,
        },
    )
    .await
}

#[tokio::test]
async fn gce_attestations_verify_over_http_in_every_bank() -> Result<()> {
    let server = gce_server(&GCE_NONCE, &["tpm_ek_root_1.cer"]).await?;
    let key = RequestKey::new()?;
    let default_hash = attesto_policy::policy_hash(attesto_policy::default_policy(
        attesto_policy::AttestationType::Tpm,
    ));
    for bank in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384] {
        let (status, claims) = server.tpm_attest("", &key, &gce_evidence(bank)?).await?;
        ensure!(status == 200, "{bank}: {status} {claims}");
        assert_eq!(claims["iss"], server.base.as_str());
        assert_eq!(claims["iat"], GCE_TIME);
        assert_eq!(claims["nbf"], GCE_TIME);
        assert_eq!(claims["exp"], GCE_TIME + 8 * 3600);
        assert_eq!(claims["jti"].as_str().map(str::len), Some(64));
        assert_eq!(claims["x-ms-attestation-type"], "tpm");
        assert_eq!(claims["x-ms-ver"], "1.0");
        assert_eq!(claims["x-ms-policy-hash"], default_hash.as_str());
        assert_eq!(claims["aikValidated"], true, "{bank}");
        assert_eq!(claims["aikPubHash"], gce_aik_pub_hash()?.as_str());
        assert_eq!(claims["tpmVersion"], 2);
        // A Linux shielded VM: secure boot on, no Windows boot configuration to report.
        assert_eq!(claims["secureBootEnabled"], true, "{bank}");
        for absent in [
            "bootDebuggingDisabled",
            "notSafeMode",
            "notWinPE",
            "vbsEnabled",
            "iommuEnabled",
        ] {
            assert_eq!(claims[absent], false, "{absent}");
        }
        assert_eq!(claims["cnf"], json!({ "jwk": key.jwk }));
        assert_eq!(claims["rp_data"], "cnBkYXRh");
        // Policy inputs only, and no binding to report for an unbound key.
        for input in ["events", "bootEvents", "pcrs", "x-ms-tpm-request-key"] {
            assert!(claims.get(input).is_none(), "{input} in the report");
        }
    }
    Ok(())
}

#[tokio::test]
async fn gce_claims_drive_the_sample_policies() -> Result<()> {
    let server = gce_server(&GCE_NONCE, &["tpm_ek_root_1.cer"]).await?;
    let key = RequestKey::new()?;
    let evidence = gce_evidence(HashAlg::Sha256)?;
    let sample = |name: &str| std::fs::read_to_string(testdata().join("policies").join(name));

    server
        .put_tpm_policy("", &sample("tpm-v1.0-simple-secureboot.txt")?)
        .await?;
    let (status, claims) = server.tpm_attest("", &key, &evidence).await?;
    ensure!(status == 200, "{status} {claims}");
    assert_eq!(claims["PlatformAttested"], true);

    // Golden PCR values, read from the pcrs claim through JmesPath.
    let golden = |pcr0: &str, pcr7: &str| {
        format!(
            "version=1.2; authorizationrules {{
               c:[type==\"pcrs\", issuer==\"AttestationService\"] => add(type=\"pcr0ok\", value=JsonToClaimValue(JmesPath(c.value, \"PCRs[? Index == `0`].Digests.SHA256 | @[0] == '{pcr0}'\")));
               c:[type==\"pcrs\", issuer==\"AttestationService\"] => add(type=\"pcr7ok\", value=JsonToClaimValue(JmesPath(c.value, \"PCRs[? Index == `7`].Digests.SHA256 | @[0] == '{pcr7}'\")));
               [type==\"pcr0ok\", value==true] && [type==\"pcr7ok\", value==true] => permit();
             }}; issuancerules {{ }};"
        )
    };
    let pcr0 = gce_pcr(HashAlg::Sha256, 0)?;
    let pcr7 = gce_pcr(HashAlg::Sha256, 7)?;
    server.put_tpm_policy("", &golden(&pcr0, &pcr7)).await?;
    let (status, claims) = server.tpm_attest("", &key, &evidence).await?;
    ensure!(status == 200, "golden PCRs: {status} {claims}");
    server.put_tpm_policy("", &golden(&pcr0, &pcr0)).await?;
    let (status, body) = server.tpm_attest("", &key, &evidence).await?;
    expect_error(
        status,
        &body,
        "PolicyEvaluationFailed",
        "denied by the Tpm policy",
    )?;

    // The events claim, issued by MAA's sample.
    server
        .put_tpm_policy("", &sample("tpm-v1.2-issue-all-events.txt")?)
        .await?;
    let (status, claims) = server.tpm_attest("", &key, &evidence).await?;
    ensure!(status == 200, "{status} {claims}");
    let events = claims["outputEvents"]["Events"]
        .as_array()
        .context("outputEvents.Events")?;
    ensure!(events.len() > 20, "{} events", events.len());
    assert!(
        events
            .iter()
            .all(|e| e["PcrIndex"].as_u64().is_some_and(|pcr| pcr < 10)),
        "only events on replay-verified PCRs"
    );
    let secure_boot = events
        .iter()
        .find(|e| e["ProcessedData"]["UnicodeName"] == "SecureBoot")
        .context("SecureBoot event")?;
    assert_eq!(
        secure_boot["EventTypeString"],
        "EV_EFI_VARIABLE_DRIVER_CONFIG"
    );
    assert_eq!(secure_boot["PcrIndex"], 7);
    assert_eq!(secure_boot["ProcessedData"]["VariableData"], "AQ");
    assert!(
        claims.get("outputBootEvents").is_none(),
        "no boot attestation sent"
    );
    Ok(())
}

/// Flips one bit of `bytes[index]`.
fn flip(bytes: &mut [u8], index: usize) -> Result<()> {
    *bytes.get_mut(index).context("index")? ^= 0x01;
    Ok(())
}

#[tokio::test]
async fn flipped_bytes_and_other_selections_are_rejected() -> Result<()> {
    let server = gce_server(&GCE_NONCE, &["tpm_ek_root_1.cer"]).await?;
    let key = RequestKey::new()?;
    let good = gce_evidence(HashAlg::Sha256)?;

    // Log: one byte of the first PCR 0 event's SHA-256 digest.
    let log = EventLog::parse(&good.logs[0])?;
    let event = log
        .measured_events()
        .find(|e| e.pcr == 0)
        .context("a PCR 0 event")?;
    let logged = event.digest(HashAlg::Sha256).context("SHA-256 digest")?;
    let at = good.logs[0]
        .windows(logged.len())
        .position(|w| w == logged)
        .context("digest in the raw log")?;
    let mut altered = good.clone();
    flip(&mut altered.logs[0], at + 5)?;
    let (status, body) = server.tpm_attest("", &key, &altered).await?;
    expect_error(status, &body, "InvalidEvidence", "PCR 0 (SHA-256)")?;

    // Quote: a byte of the pcrDigest (the last 32 bytes).
    let mut altered = good.clone();
    let last = altered.quote.len() - 1;
    flip(&mut altered.quote, last)?;
    let (status, body) = server.tpm_attest("", &key, &altered).await?;
    expect_error(
        status,
        &body,
        "InvalidEvidence",
        "signature does not verify",
    )?;

    // Signature.
    let mut altered = good.clone();
    let last = altered.signature.len() - 1;
    flip(&mut altered.signature, last)?;
    let (status, body) = server.tpm_attest("", &key, &altered).await?;
    expect_error(
        status,
        &body,
        "InvalidEvidence",
        "signature does not verify",
    )?;

    // A PCR value.
    let mut altered = good.clone();
    flip(&mut altered.pcrs[5].1, 0)?;
    let (status, body) = server.tpm_attest("", &key, &altered).await?;
    expect_error(status, &body, "InvalidEvidence", "pcrDigest mismatch")?;

    // Values for another selection than the quote's: one PCR short, or another bank.
    let mut altered = good.clone();
    altered.pcrs.pop();
    let (status, body) = server.tpm_attest("", &key, &altered).await?;
    expect_error(
        status,
        &body,
        "InvalidEvidence",
        "no value supplied for quoted PCR 23",
    )?;
    let mut altered = good.clone();
    altered.pcrs = gce_evidence(HashAlg::Sha1)?.pcrs;
    altered.bank = HashAlg::Sha1;
    let (status, body) = server.tpm_attest("", &key, &altered).await?;
    expect_error(
        status,
        &body,
        "InvalidEvidence",
        "which the quote does not select",
    )?;

    // The untouched evidence still verifies.
    let (status, body) = server.tpm_attest("", &key, &good).await?;
    ensure!(status == 200, "{status} {body}");
    Ok(())
}

#[tokio::test]
async fn a_wrong_challenge_is_rejected() -> Result<()> {
    let key = RequestKey::new()?;
    let evidence = gce_evidence(HashAlg::Sha256)?;

    // The service challenged with 0x900a; the quote answers 0x9009.
    let server = gce_server(&[0x90, 0x0a], &["tpm_ek_root_1.cer"]).await?;
    let (status, body) = server.tpm_attest("", &key, &evidence).await?;
    expect_error(
        status,
        &body,
        "InvalidEvidence",
        "qualifying data 9009 does not match",
    )?;

    // att_data.challenge must be the one sealed in the context.
    let server = gce_server(&GCE_NONCE, &["tpm_ek_root_1.cer"]).await?;
    let (_, context) = server.tpm_challenge("").await?;
    let jws = Request::new(&key, &[0x90, 0x0a], &context, &evidence).jws()?;
    let (status, body) = server.tpm_request("", &jws).await?;
    expect_error(
        status,
        &body,
        "InvalidParameter",
        "not the challenge issued",
    )?;
    Ok(())
}

/// A clock tests can move.
struct StepClock(AtomicU64);

impl Clock for StepClock {
    fn now(&self) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(self.0.load(Ordering::SeqCst)))
    }
}

#[tokio::test]
async fn expired_altered_foreign_and_reused_contexts_are_rejected() -> Result<()> {
    let clock = Arc::new(StepClock(AtomicU64::new(GCE_TIME)));
    let server = gce_server_with(
        &GCE_NONCE,
        &["tpm_ek_root_1.cer"],
        Some(Arc::clone(&clock) as Arc<dyn Clock>),
    )
    .await?;
    server.add_aad_provider("other")?;
    let key = RequestKey::new()?;
    let evidence = gce_evidence(HashAlg::Sha256)?;

    // Expired: the default lifetime is 300 s.
    let (challenge, context) = server.tpm_challenge("").await?;
    let jws = Request::new(&key, &challenge, &context, &evidence).jws()?;
    clock.0.fetch_add(299, Ordering::SeqCst);
    let in_time = jws.clone();
    clock.0.fetch_add(2, Ordering::SeqCst);
    let (status, body) = server.tpm_request("", &jws).await?;
    expect_error(status, &body, "InvalidParameter", "expired")?;
    clock.0.fetch_sub(2, Ordering::SeqCst);
    let (status, body) = server.tpm_request("", &in_time).await?;
    ensure!(status == 200, "just in time: {status} {body}");

    // Used once already.
    let (status, body) = server.tpm_request("", &in_time).await?;
    expect_error(status, &body, "InvalidParameter", "already used")?;

    // Altered.
    let (challenge, context) = server.tpm_challenge("").await?;
    let mut bytes = b64url_decode(&context)?;
    flip(&mut bytes, 20)?;
    let jws = Request::new(&key, &challenge, &b64url(&bytes), &evidence).jws()?;
    let (status, body) = server.tpm_request("", &jws).await?;
    expect_error(
        status,
        &body,
        "InvalidParameter",
        "not issued by this service",
    )?;

    // Issued by another provider: refused here, accepted there (with its issuer).
    let (challenge, context) = server.tpm_challenge("/providers/other").await?;
    let jws = Request::new(&key, &challenge, &context, &evidence).jws()?;
    let (status, body) = server.tpm_request("", &jws).await?;
    expect_error(
        status,
        &body,
        "InvalidParameter",
        "provider 'other', not 'default'",
    )?;
    let (status, claims) = server.tpm_request("/providers/other", &jws).await?;
    ensure!(status == 200, "{status} {claims}");
    assert_eq!(claims["iss"], format!("{}/providers/other", server.base));

    // From another server (another sealing key).
    let elsewhere = gce_server(&GCE_NONCE, &["tpm_ek_root_1.cer"]).await?;
    let (challenge, context) = elsewhere.tpm_challenge("").await?;
    let jws = Request::new(&key, &challenge, &context, &evidence).jws()?;
    let (status, body) = server.tpm_request("", &jws).await?;
    expect_error(
        status,
        &body,
        "InvalidParameter",
        "not issued by this service",
    )?;
    Ok(())
}

#[tokio::test]
async fn an_aik_that_does_not_chain_to_a_trusted_root_is_rejected() -> Result<()> {
    let key = RequestKey::new()?;
    let evidence = gce_evidence(HashAlg::Sha256)?;
    for roots in [&["gcp_ek_ak_ca_root.crt"][..], &[]] {
        let server = gce_server(&GCE_NONCE, roots).await?;
        let (status, body) = server.tpm_attest("", &key, &evidence).await?;
        expect_error(
            status,
            &body,
            "InvalidEvidence",
            "does not chain to a trusted TPM root",
        )?;

        // A policy may waive the requirement (MAA's configuration sample): the report then
        // says the AIK is not validated, and the sample's rules see it.
        let text =
            std::fs::read_to_string(testdata().join("policies/tpm-v1.1-configurationrules.txt"))?;
        server.put_tpm_policy("", &text).await?;
        let (status, claims) = server.tpm_attest("", &key, &evidence).await?;
        ensure!(status == 200, "{status} {claims}");
        assert_eq!(claims["aikValidated"], false);
        assert_eq!(claims["secureBootEnabled"], true);
        assert!(claims.get("PlatformAttested").is_none(), "{claims}");
    }
    Ok(())
}

#[tokio::test]
async fn protocol_errors_are_explained() -> Result<()> {
    let server = gce_server(&GCE_NONCE, &["tpm_ek_root_1.cer"]).await?;
    let key = RequestKey::new()?;
    let evidence = gce_evidence(HashAlg::Sha256)?;

    // The REST sample's wrapping comes back wrapped; the static route wins over /attest/{type}.
    let (status, answer) = server
        .tpm_post(
            "",
            &json!({"payload": {"type": "aikcert"}, "metadata": {"os_ver": "10.0"}}),
        )
        .await?;
    ensure!(status == 200, "{status} {answer}");
    assert_eq!(answer["payload"]["challenge"], b64url(&GCE_NONCE));
    assert!(answer["payload"]["service_context"].is_string());

    let (status, body) = server.tpm_post("", &json!({"type": "ekcert"})).await?;
    expect_error(
        status,
        &body,
        "InvalidParameter",
        "only type is \"aikcert\"",
    )?;
    let (status, body) = server.tpm_post("", &json!({"hello": 1})).await?;
    expect_error(status, &body, "InvalidParameter", "neither `type`")?;
    let (status, body) = server
        .post(&format!("/attest/Tpm{API}"), r#"{"quote": "AAAA"}"#)
        .await?;
    expect_error(status, &body, "InvalidParameter", "{\"data\"")?;
    let (status, body) = server
        .post("/attest/Tpm", json!({"data": b64url(b"{}")}).to_string())
        .await?;
    expect_error(status, &body, "UnsupportedApiVersion", "api-version")?;

    let (challenge, context) = server.tpm_challenge("").await?;
    let mut v1 = Request::new(&key, &challenge, &context, &evidence);
    v1.typ = "attReq";
    let (status, body) = server.tpm_request("", &v1.jws()?).await?;
    expect_error(
        status,
        &body,
        "InvalidParameter",
        "v1 (typ attReq) is not supported",
    )?;

    let mut rs256 = Request::new(&key, &challenge, &context, &evidence);
    rs256.alg = Algorithm::Rs256;
    let (status, body) = server.tpm_request("", &rs256.jws()?).await?;
    expect_error(status, &body, "InvalidParameter", "PS256")?;

    let stranger = SigningKey::generate_rsa(RsaBits::B2048)?;
    let mut forged = Request::new(&key, &challenge, &context, &evidence);
    forged.signer = Some(&stranger);
    let (status, body) = server.tpm_request("", &forged.jws()?).await?;
    expect_error(
        status,
        &body,
        "InvalidParameter",
        "does not verify with request_key.jwk",
    )?;

    let unknown = Request::new(&key, &challenge, &context, &evidence)
        .info(json!({"tpm_quote": {"hash_alg": "md5"}}));
    let (status, body) = server.tpm_request("", &unknown.jws()?).await?;
    expect_error(status, &body, "InvalidParameter", "hash_alg 'md5'")?;

    // Without the test override, an unbound request key is refused, as MAA's protocol says.
    let strict = common::start_with_tpm(
        GCE_TIME,
        Options::default(),
        TpmOptions {
            tpm_roots: vec![read(&format!("{GCE}/certs/tpm_ek_root_1.cer"))?],
            ..TpmOptions::default()
        },
    )
    .await?;
    let (status, body) = strict.tpm_attest("", &key, &evidence).await?;
    expect_error(
        status,
        &body,
        "InvalidParameter",
        "request_key must be bound",
    )?;
    Ok(())
}

// ---- synthetic evidence through the unmodified protocol --------------------------------------

fn tpm2b(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = u16::try_from(bytes.len())?.to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    Ok(out)
}

/// TPMS_ATTEST up to the type-specific part.
fn attest_header(tag: u16, extra_data: &[u8]) -> Result<Vec<u8>> {
    let mut out = 0xff54_4347u32.to_be_bytes().to_vec();
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(&tpm2b(&[0x00, 0x0b, 0xaa, 0xbb])?);
    out.extend_from_slice(&tpm2b(extra_data)?);
    out.extend_from_slice(&1234u64.to_be_bytes()); // clock
    out.extend_from_slice(&5u32.to_be_bytes()); // resetCount
    out.extend_from_slice(&0u32.to_be_bytes()); // restartCount
    out.push(1); // safe
    out.extend_from_slice(&0x2016_0511_0016_2800u64.to_be_bytes());
    Ok(out)
}

/// A test TPM: an ECDSA P-256 AK whose certificate chains to a test root.
struct TestTpm {
    root_der: Vec<u8>,
    ak_cert: Vec<u8>,
    ak: EcdsaKeyPair,
}

impl TestTpm {
    fn new() -> Result<TestTpm> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let root_key = KeyPair::generate()?;
        let mut root = CertificateParams::default();
        root.distinguished_name
            .push(DnType::CommonName, "attesto test TPM root");
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let root_cert = root.self_signed(&root_key)?;
        let issuer = Issuer::new(root, root_key);
        let ak_key = KeyPair::generate()?;
        let mut leaf = CertificateParams::default();
        leaf.distinguished_name.push(DnType::CommonName, "test AK");
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let ak_cert = leaf.signed_by(&ak_key, &issuer)?;
        let ak =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &ak_key.serialize_der())
                .map_err(|e| anyhow::anyhow!("AK key: {e}"))?;
        Ok(TestTpm {
            root_der: root_cert.der().to_vec(),
            ak_cert: ak_cert.der().to_vec(),
            ak,
        })
    }

    /// TPMT_SIGNATURE (ECDSA, SHA-256).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let sig = self
            .ak
            .sign(&SystemRandom::new(), message)
            .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
        let (r, s) = sig.as_ref().split_at(32);
        let mut out = 0x0018u16.to_be_bytes().to_vec();
        out.extend_from_slice(&0x000bu16.to_be_bytes());
        out.extend_from_slice(&tpm2b(r)?);
        out.extend_from_slice(&tpm2b(s)?);
        Ok(out)
    }

    /// A SHA-256 quote over the PCRs of `mask`, holding the values the GCE log replays to.
    fn quote(&self, extra_data: &[u8], mask: u32) -> Result<Evidence> {
        let log = read(&format!("{GCE}/eventlog.bin"))?;
        let replay = Replay::run(&[MeasurementLog::Tcg(EventLog::parse(&log)?)])?;
        let pcrs: Vec<(u32, Vec<u8>)> = (0..24u32)
            .filter(|pcr| mask & (1 << pcr) != 0)
            .map(|pcr| {
                let value = replay.value(HashAlg::Sha256, pcr).map_or_else(
                    || attesto_tpm::replay::reset_value(HashAlg::Sha256, pcr),
                    <[u8]>::to_vec,
                );
                (pcr, value)
            })
            .collect();
        let values: Vec<&[u8]> = pcrs.iter().map(|(_, v)| v.as_slice()).collect();
        let mut quote = attest_header(0x8018, extra_data)?;
        quote.extend_from_slice(&1u32.to_be_bytes());
        quote.extend_from_slice(&HashAlg::Sha256.tpm_alg_id().to_be_bytes());
        quote.push(3);
        quote.extend_from_slice(&mask.to_le_bytes()[..3]);
        quote.extend_from_slice(&tpm2b(&sha256(&values))?);
        Ok(Evidence {
            logs: vec![log],
            aik_cert: Some(self.ak_cert.clone()),
            bank: HashAlg::Sha256,
            pcrs,
            signature: self.sign(&quote)?,
            quote,
        })
    }

    /// `info.tpm_certify` for an RSA request key with object attributes `attributes`,
    /// certified over `extra_data`.
    fn certify(&self, key: &RequestKey, attributes: u32, extra_data: &[u8]) -> Result<Value> {
        let mut public = 0x0001u16.to_be_bytes().to_vec(); // TPM_ALG_RSA
        public.extend_from_slice(&0x000bu16.to_be_bytes()); // nameAlg SHA-256
        public.extend_from_slice(&attributes.to_be_bytes());
        public.extend_from_slice(&tpm2b(&[])?); // authPolicy
        public.extend_from_slice(&0x0010u16.to_be_bytes()); // symmetric NULL
        public.extend_from_slice(&0x0010u16.to_be_bytes()); // scheme NULL
        public.extend_from_slice(&2048u16.to_be_bytes());
        public.extend_from_slice(&0u32.to_be_bytes()); // exponent 65537
        public.extend_from_slice(&tpm2b(&key.modulus()?)?);
        let mut name = 0x000bu16.to_be_bytes().to_vec();
        name.extend_from_slice(&sha256(&[&public]));
        let mut certification = attest_header(0x8017, extra_data)?;
        certification.extend_from_slice(&tpm2b(&name)?);
        certification.extend_from_slice(&tpm2b(&name)?);
        Ok(json!({"tpm_certify": {
            "public": b64url(&public),
            "certification": b64url(&certification),
            "signature": b64url(&self.sign(&certification)?),
        }}))
    }
}

async fn synthetic_server(tpm: &TestTpm) -> Result<TestServer> {
    common::start_with_tpm(
        SYNTH_TIME,
        Options::default(),
        TpmOptions {
            tpm_roots: vec![tpm.root_der.clone()],
            ..TpmOptions::default()
        },
    )
    .await
}

const ALL_PCRS: u32 = 0x00ff_ffff;

#[tokio::test]
async fn a_quote_bound_to_the_request_key_attests_through_the_full_protocol() -> Result<()> {
    let tpm = TestTpm::new()?;
    let server = synthetic_server(&tpm).await?;
    let key = RequestKey::new()?;
    let info = json!({"tpm_quote": {"hash_alg": "sha-256"}});

    let (challenge, context) = server.tpm_challenge("").await?;
    let (other_challenge, other_context) = server.tpm_challenge("").await?;
    assert_eq!(challenge.len(), 16);
    assert_ne!(challenge, other_challenge, "challenges are random");
    let evidence = tpm.quote(&key.binding(&challenge), ALL_PCRS)?;

    // The context of another challenge, with either challenge.
    let jws = Request::new(&key, &challenge, &other_context, &evidence)
        .info(info.clone())
        .jws()?;
    let (status, body) = server.tpm_request("", &jws).await?;
    expect_error(
        status,
        &body,
        "InvalidParameter",
        "not the challenge issued",
    )?;
    let jws = Request::new(&key, &other_challenge, &other_context, &evidence)
        .info(info.clone())
        .jws()?;
    let (status, body) = server.tpm_request("", &jws).await?;
    expect_error(status, &body, "InvalidEvidence", "qualifying data")?;

    // A binding with another hash than the quote's.
    let jws = Request::new(&key, &challenge, &context, &evidence)
        .info(json!({"tpm_quote": {"hash_alg": "sha-384"}}))
        .jws()?;
    let (status, body) = server.tpm_request("", &jws).await?;
    expect_error(status, &body, "InvalidEvidence", "qualifying data")?;

    // The real thing.
    let jws = Request::new(&key, &challenge, &context, &evidence)
        .info(info.clone())
        .jws()?;
    let (status, claims) = server.tpm_request("", &jws).await?;
    ensure!(status == 200, "{status} {claims}");
    assert_eq!(claims["aikValidated"], true);
    assert_eq!(claims["secureBootEnabled"], true);
    assert_eq!(
        claims["x-ms-tpm-request-key"],
        json!({"jwk": key.jwk, "info": info})
    );
    assert_eq!(claims["cnf"], json!({ "jwk": key.jwk }));
    let spki = x509_parser::parse_x509_certificate(&tpm.ak_cert)?
        .1
        .public_key()
        .raw
        .to_vec();
    assert_eq!(claims["aikPubHash"], STANDARD.encode(sha256(&[&spki])));
    Ok(())
}

#[tokio::test]
async fn a_request_key_certified_by_the_aik_passes_maas_key_attestation_sample() -> Result<()> {
    let tpm = TestTpm::new()?;
    let server = synthetic_server(&tpm).await?;
    let sample =
        std::fs::read_to_string(testdata().join("policies/tpm-v1.2-key-attestation-authz.txt"))?;
    server.put_tpm_policy("", &sample).await?;
    let key = RequestKey::new()?;
    // fixedTPM | fixedParent | sensitiveDataOrigin, the sample's expected attributes.
    let attributes = 0x32;

    let (challenge, context) = server.tpm_challenge("").await?;
    let evidence = tpm.quote(&challenge, ALL_PCRS)?;
    let info = tpm.certify(&key, attributes, &challenge)?;
    let jws = Request::new(&key, &challenge, &context, &evidence)
        .info(info)
        .jws()?;
    let (status, claims) = server.tpm_request("", &jws).await?;
    ensure!(status == 200, "{status} {claims}");
    assert_eq!(claims["requestKeyType"], "RSA");
    assert_eq!(claims["requestKeyCertifyObjAttrVerified"], true);
    let certify = &claims["x-ms-tpm-request-key"]["info"]["tpm_certify"];
    assert_eq!(certify["obj_attr"], attributes);
    assert_eq!(certify["name_alg"], 11);

    // Other attributes: the sample does not permit.
    let (challenge, context) = server.tpm_challenge("").await?;
    let evidence = tpm.quote(&challenge, ALL_PCRS)?;
    let info = tpm.certify(&key, 0x0004_0072, &challenge)?;
    let jws = Request::new(&key, &challenge, &context, &evidence)
        .info(info)
        .jws()?;
    let (status, body) = server.tpm_request("", &jws).await?;
    expect_error(status, &body, "PolicyEvaluationFailed", "denied")?;

    // A certification over another challenge, and one of another key.
    let (challenge, context) = server.tpm_challenge("").await?;
    let evidence = tpm.quote(&challenge, ALL_PCRS)?;
    let stale = tpm.certify(&key, attributes, b"another challenge")?;
    let jws = Request::new(&key, &challenge, &context, &evidence)
        .info(stale)
        .jws()?;
    let (status, body) = server.tpm_request("", &jws).await?;
    expect_error(status, &body, "InvalidEvidence", "qualifying data")?;
    let someone_else = tpm.certify(&RequestKey::new()?, attributes, &challenge)?;
    let jws = Request::new(&key, &challenge, &context, &evidence)
        .info(someone_else)
        .jws()?;
    let (status, body) = server.tpm_request("", &jws).await?;
    expect_error(
        status,
        &body,
        "InvalidEvidence",
        "does not match the certified TPM key",
    )?;
    Ok(())
}

#[tokio::test]
async fn required_pcr_mask_comes_from_the_policy() -> Result<()> {
    let tpm = TestTpm::new()?;
    let server = synthetic_server(&tpm).await?;
    let key = RequestKey::new()?;
    let info = json!({"tpm_quote": {"hash_alg": "sha-256"}});
    let attest = || async {
        let (challenge, context) = server.tpm_challenge("").await?;
        let evidence = tpm.quote(&key.binding(&challenge), 0x3ff)?;
        let jws = Request::new(&key, &challenge, &context, &evidence)
            .info(info.clone())
            .jws()?;
        server.tpm_request("", &jws).await
    };

    // MAA's default mask wants PCRs 0-23; this quote covers 0-9.
    let (status, body) = attest().await?;
    expect_error(status, &body, "InvalidEvidence", "PCR 10 is required")?;
    server
        .put_tpm_policy(
            "",
            "version=1.1; configurationrules { => issueproperty(type=\"required_pcr_mask\", \
             value=1023); }; authorizationrules { => permit(); }; issuancerules { };",
        )
        .await?;
    let (status, claims) = attest().await?;
    ensure!(status == 200, "{status} {claims}");
    assert_eq!(claims["secureBootEnabled"], true);
    Ok(())
}

#[tokio::test]
async fn a_boot_attestation_from_the_same_aik_and_boot_yields_boot_events() -> Result<()> {
    let tpm = TestTpm::new()?;
    let server = synthetic_server(&tpm).await?;
    let sample =
        std::fs::read_to_string(testdata().join("policies/tpm-v1.2-issue-all-events.txt"))?;
    server.put_tpm_policy("", &sample).await?;
    let key = RequestKey::new()?;
    let info = json!({"tpm_quote": {"hash_alg": "sha-256"}});
    // Saved before hibernation: its qualifying data predates the challenge.
    let boot = tpm.quote(b"before hibernation", ALL_PCRS)?;

    let (challenge, context) = server.tpm_challenge("").await?;
    let current = tpm.quote(&key.binding(&challenge), ALL_PCRS)?;
    let mut request = Request::new(&key, &challenge, &context, &current).info(info.clone());
    request.boot = Some(boot.to_json());
    let (status, claims) = server.tpm_request("", &request.jws()?).await?;
    ensure!(status == 200, "{status} {claims}");
    let events = claims["outputEvents"]["Events"]
        .as_array()
        .context("events")?;
    let boot_events = claims["outputBootEvents"]["Events"]
        .as_array()
        .context("bootEvents")?;
    ensure!(!boot_events.is_empty() && boot_events.len() == events.len());

    // Quoted by another TPM (whose root is trusted too): refused.
    let stranger = TestTpm::new()?;
    let server = common::start_with_tpm(
        SYNTH_TIME,
        Options::default(),
        TpmOptions {
            tpm_roots: vec![stranger.root_der.clone(), tpm.root_der.clone()],
            ..TpmOptions::default()
        },
    )
    .await?;
    let (challenge, context) = server.tpm_challenge("").await?;
    let current = stranger.quote(&key.binding(&challenge), ALL_PCRS)?;
    let mut request = Request::new(&key, &challenge, &context, &current).info(info);
    request.boot = Some(boot.to_json());
    let (status, body) = server.tpm_request("", &request.jws()?).await?;
    expect_error(
        status,
        &body,
        "InvalidEvidence",
        "boot_attestation: quoted by another AIK",
    )?;
    Ok(())
}
