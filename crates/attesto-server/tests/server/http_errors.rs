//! Bad requests get MAA's error shape and the right status, and the server keeps serving.
//! Quotes here are minted by the test PKI, which the server trusts only because the test says so.

use anyhow::{Context, Result, ensure};
use attesto_testkit::time::REFERENCE_TIME;
use attesto_testkit::{CollateralBuilder, QuoteBuilder, TestPki};
use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Value, json};

use crate::common::{self, Options, TestServer, b64url};

const ATTEST: &str = "/attest/SgxEnclave?api-version=2022-08-01";
const RUNTIME: &[u8] = br#"{"jwk":{"kty":"EC","crv":"P-256"}}"#;

struct Minted {
    server: TestServer,
    quote: Vec<u8>,
}

/// A server trusting a fresh test PKI, and an SGX quote whose report data binds `RUNTIME`.
async fn minted(max_body: Option<usize>) -> Result<Minted> {
    let pki = TestPki::generate()?;
    let mut report_data = [0u8; 64];
    report_data[..32].copy_from_slice(digest(&SHA256, RUNTIME).as_ref());
    let quote = QuoteBuilder::sgx_v3()
        .edit_sgx_body(|body| body.report_data = report_data)
        .build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .build()?
        .to_json()?;
    let server = common::start(
        REFERENCE_TIME.as_secs(),
        Options {
            collateral: vec![collateral],
            extra_root: Some(pki.root_der().to_vec()),
            max_body_bytes: max_body,
            admin: None,
        },
    )
    .await?;
    Ok(Minted {
        server,
        quote: quote.bytes.clone(),
    })
}

fn error_of(value: &Value) -> (&str, &str) {
    (
        value["error"]["code"].as_str().unwrap_or("<no code>"),
        value["error"]["message"].as_str().unwrap_or("<no message>"),
    )
}

async fn still_serving(server: &TestServer) -> Result<()> {
    let (status, _) = server.get("/health").await?;
    ensure!(status == 200, "server stopped answering");
    Ok(())
}

#[tokio::test]
async fn minted_quote_with_bound_runtime_data_gets_a_token() -> Result<()> {
    let m = minted(None).await?;
    let body = json!({
        "quote": b64url(&m.quote),
        "runtimeData": {"data": b64url(RUNTIME), "dataType": "JSON"},
        "nonce": "n-123",
    });
    let (status, value) = m.server.post(ATTEST, body.to_string()).await?;
    ensure!(status == 200, "{status} {value}");
    let claims = m
        .server
        .verify_token(value["token"].as_str().context("token")?)
        .await?;
    ensure!(claims["x-ms-runtime"]["jwk"]["crv"] == "P-256", "{claims}");
    ensure!(claims["x-ms-sgx-ehd"] == b64url(RUNTIME));
    ensure!(claims["nonce"] == "n-123");
    // The test root is not Intel's; the token must say so.
    ensure!(claims["x-attesto-non-intel-roots"] == true, "{claims}");
    Ok(())
}

#[tokio::test]
async fn wrong_runtime_data_is_400() -> Result<()> {
    let m = minted(None).await?;
    let body = json!({
        "quote": b64url(&m.quote),
        "runtimeData": {"data": b64url(b"something else"), "dataType": "Binary"},
    });
    let (status, value) = m.server.post(ATTEST, body.to_string()).await?;
    let (code, message) = error_of(&value);
    ensure!(
        status == 400 && code == "DataBindingMismatch",
        "{status} {value}"
    );
    ensure!(message.to_lowercase().contains("runtime"), "{message}");
    still_serving(&m.server).await
}

#[tokio::test]
async fn tampered_quote_is_400() -> Result<()> {
    let m = minted(None).await?;
    let mut quote = m.quote.clone();
    // A bit in MRENCLAVE (header 48 bytes + 64 into the report body): signed, so the
    // signature check must fail.
    if let Some(byte) = quote.get_mut(48 + 64) {
        *byte ^= 1;
    }
    let (status, value) = m
        .server
        .post(ATTEST, json!({"quote": b64url(&quote)}).to_string())
        .await?;
    let (code, _) = error_of(&value);
    ensure!(
        status == 400 && code == "InvalidEvidence",
        "{status} {value}"
    );
    still_serving(&m.server).await
}

#[tokio::test]
async fn policy_denial_is_400() -> Result<()> {
    let m = minted(None).await?;
    let deny = "version=1.0; authorizationrules { c:[type==\"x-ms-sgx-is-debuggable\", value==true] => permit(); }; issuancerules {};";
    let body = json!({"quote": b64url(&m.quote), "draftPolicyForAttestation": deny});
    let (status, value) = m.server.post(ATTEST, body.to_string()).await?;
    let (code, _) = error_of(&value);
    ensure!(
        status == 400 && code == "PolicyEvaluationFailed",
        "{status} {value}"
    );

    // The same draft mechanism with a permitting policy gives an unsecured token, as MAA does.
    let permit = "version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"custom\", value=\"yes\"); };";
    let body = json!({"quote": b64url(&m.quote), "draftPolicyForAttestation": permit});
    let (status, value) = m.server.post(ATTEST, body.to_string()).await?;
    ensure!(status == 200, "{status} {value}");
    let token = value["token"].as_str().context("token")?;
    let header = token.split('.').next().context("header")?;
    ensure!(
        header == "eyJhbGciOiJub25lIn0",
        "draft tokens are unsecured: {header}"
    );
    ensure!(token.ends_with('.'), "empty signature");
    still_serving(&m.server).await
}

#[tokio::test]
async fn malformed_requests_are_400_in_maa_shape() -> Result<()> {
    let m = minted(None).await?;
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (ATTEST, "{not json".to_owned(), 400, "InvalidParameter"),
        (
            ATTEST,
            json!({"quote": "***"}).to_string(),
            400,
            "InvalidParameter",
        ),
        (
            ATTEST,
            json!({"runtimeData": {"data": "AA"}}).to_string(),
            400,
            "InvalidParameter",
        ),
        (
            ATTEST,
            json!({"quote": 17}).to_string(),
            400,
            "InvalidParameter",
        ),
        (
            ATTEST,
            json!({"quote": b64url(b"short")}).to_string(),
            400,
            "InvalidEvidence",
        ),
        (
            "/attest/SgxEnclave?api-version=1999-01-01",
            json!({"quote": b64url(&m.quote)}).to_string(),
            400,
            "UnsupportedApiVersion",
        ),
        (
            "/attest/SgxEnclave",
            json!({"quote": b64url(&m.quote)}).to_string(),
            400,
            "UnsupportedApiVersion",
        ),
        (
            "/attest/NoSuchType?api-version=2022-08-01",
            json!({"quote": b64url(&m.quote)}).to_string(),
            404,
            "NotFound",
        ),
        ("/no/such/path", "{}".to_owned(), 404, "NotFound"),
    ];
    for (path, body, want_status, want_code) in cases {
        let (status, value) = m.server.post(path, body.clone()).await?;
        let (code, message) = error_of(&value);
        ensure!(
            status == want_status && code == want_code,
            "{path} {body}: got {status} {value}, want {want_status} {want_code}"
        );
        ensure!(!message.is_empty());
    }
    // Wrong method on a known path.
    let response = m
        .server
        .client
        .get(format!("{}{ATTEST}", m.server.base))
        .send()
        .await?;
    ensure!(response.status().as_u16() == 405);
    let value: Value = response.json().await?;
    ensure!(error_of(&value).0 == "MethodNotAllowed", "{value}");
    still_serving(&m.server).await
}

#[tokio::test]
async fn oversized_body_is_413() -> Result<()> {
    let m = minted(Some(64 * 1024)).await?;
    let huge = json!({"quote": "A".repeat(200 * 1024)}).to_string();
    let (status, value) = m.server.post(ATTEST, huge).await?;
    ensure!(
        status == 413 && error_of(&value).0 == "PayloadTooLarge",
        "{status} {value}"
    );
    still_serving(&m.server).await
}

#[tokio::test]
async fn metrics_count_requests_and_denials() -> Result<()> {
    let m = minted(None).await?;
    let deny = "version=1.0; authorizationrules { => deny(); }; issuancerules {};";
    let body = json!({"quote": b64url(&m.quote), "draftPolicyForAttestation": deny});
    let _ = m.server.post(ATTEST, body.to_string()).await?;
    let _ = m
        .server
        .post(ATTEST, json!({"quote": b64url(&m.quote)}).to_string())
        .await?;
    let text = m
        .server
        .client
        .get(format!("{}/metrics", m.server.base))
        .send()
        .await?
        .text()
        .await?;
    ensure!(
        text.contains("attesto_policy_denials_total{evidence=\"SgxEnclave\"} 1"),
        "{text}"
    );
    ensure!(
        text.contains("attesto_tokens_issued_total{evidence=\"SgxEnclave\"} 1"),
        "{text}"
    );
    ensure!(
        text.contains("attesto_http_request_duration_seconds"),
        "{text}"
    );
    ensure!(text.contains("endpoint=\"/attest/{type}\""), "{text}");
    Ok(())
}

#[tokio::test]
async fn open_enclave_report_gets_the_sgx_claim_set() -> Result<()> {
    let m = minted(None).await?;
    let mut report = Vec::new();
    report.extend_from_slice(&1u32.to_le_bytes());
    report.extend_from_slice(&2u32.to_le_bytes());
    report.extend_from_slice(&u64::try_from(m.quote.len())?.to_le_bytes());
    report.extend_from_slice(&m.quote);
    let body = json!({
        "report": b64url(&report),
        "runtimeData": {"data": b64url(RUNTIME), "dataType": "Binary"},
    });
    let (status, value) = m
        .server
        .post(
            "/attest/OpenEnclave?api-version=2020-10-01",
            body.to_string(),
        )
        .await?;
    ensure!(status == 200, "{status} {value}");
    let claims = m
        .server
        .verify_token(value["token"].as_str().context("token")?)
        .await?;
    ensure!(claims["x-ms-attestation-type"] == "sgx", "{claims}");
    ensure!(claims["x-ms-sgx-ehd"] == b64url(RUNTIME), "{claims}");
    ensure!(claims["maa-ehd"] == b64url(RUNTIME) && claims["aas-ehd"] == b64url(RUNTIME));
    // The default SGX policy issues the deprecated aliases.
    ensure!(
        claims["sgx-mrenclave"] == claims["x-ms-sgx-mrenclave"],
        "{claims}"
    );
    Ok(())
}

#[tokio::test]
async fn tdx_quote_binds_runtime_data_on_tdxvm() -> Result<()> {
    let pki = TestPki::generate()?;
    let mut report_data = [0u8; 64];
    report_data[..32].copy_from_slice(digest(&SHA256, RUNTIME).as_ref());
    let quote = QuoteBuilder::tdx_v4()
        .edit_td_report(|td| td.report_data = report_data)
        .build(&pki)?;
    let collateral = CollateralBuilder::for_quote(&pki, &quote)
        .build()?
        .to_json()?;
    let server = common::start(
        REFERENCE_TIME.as_secs(),
        Options {
            collateral: vec![collateral],
            extra_root: Some(pki.root_der().to_vec()),
            max_body_bytes: None,
            admin: None,
        },
    )
    .await?;
    let path = "/attest/TdxVm?api-version=2025-06-01";
    let good = json!({
        "quote": b64url(&quote.bytes),
        "runtimeData": {"data": b64url(RUNTIME), "dataType": "JSON"},
    });
    let (status, value) = server.post(path, good.to_string()).await?;
    ensure!(status == 200, "{status} {value}");
    let claims = server
        .verify_token(value["token"].as_str().context("token")?)
        .await?;
    ensure!(claims["x-ms-attestation-type"] == "tdxvm", "{claims}");
    ensure!(
        claims["tdx_report_data"] == hex::encode(report_data),
        "{claims}"
    );
    ensure!(claims["x-ms-runtime"]["jwk"]["kty"] == "EC", "{claims}");

    let bad = json!({
        "quote": b64url(&quote.bytes),
        "runtimeData": {"data": b64url(b"other"), "dataType": "Binary"},
    });
    let (status, value) = server.post(path, bad.to_string()).await?;
    ensure!(
        status == 400 && error_of(&value).0 == "DataBindingMismatch",
        "{status} {value}"
    );

    // A TDX quote on the SGX endpoint is refused with a pointer to the right one.
    let (status, value) = server
        .post(ATTEST, json!({"quote": b64url(&quote.bytes)}).to_string())
        .await?;
    ensure!(status == 400, "{status} {value}");
    ensure!(error_of(&value).1.contains("TdxVm"), "{value}");
    Ok(())
}
