//! Every case of testdata/dcap/expected.json through the real HTTP API: tokens verified with an
//! independent JWT library against `/certs`, every claim checked against the expected values.

use anyhow::{Context, Result, ensure};
use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Value, json};

use crate::common::{self, Options, b64url, read_quote, testdata};

struct Case {
    raw: Value,
}

impl Case {
    fn str(&self, key: &str) -> Option<&str> {
        self.raw[key].as_str()
    }
    fn name(&self) -> String {
        format!(
            "{}/{}",
            self.str("set").unwrap_or("?"),
            self.str("quote").unwrap_or("?")
        )
    }
    fn is_tdx(&self) -> bool {
        self.str("tee") == Some("TDX")
    }
    fn verify_time(&self) -> Result<u64> {
        self.raw["verify_time"].as_u64().context("verify_time")
    }
    fn quote(&self) -> Result<Vec<u8>> {
        let dir = testdata()
            .join("dcap")
            .join(self.str("set").context("set")?);
        read_quote(&dir.join(self.str("quote").context("quote")?))
    }
    fn collateral(&self) -> Result<String> {
        let dir = testdata()
            .join("dcap")
            .join(self.str("set").context("set")?);
        Ok(std::fs::read_to_string(
            dir.join(self.str("collateral").context("collateral")?),
        )?)
    }
}

fn cases() -> Result<Vec<Case>> {
    let text = std::fs::read_to_string(testdata().join("dcap/expected.json"))?;
    let all: Value = serde_json::from_str(&text)?;
    Ok(all["cases"]
        .as_array()
        .context("cases")?
        .iter()
        .map(|raw| Case { raw: raw.clone() })
        .collect())
}

fn hex_sha256(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes))
}

async fn attest(case: &Case) -> Result<(common::TestServer, u16, Value)> {
    let server = common::start(
        case.verify_time()?,
        Options {
            collateral: vec![case.collateral()?],
            ..Options::default()
        },
    )
    .await?;
    let path = if case.is_tdx() {
        "/attest/TdxVm?api-version=2025-06-01"
    } else {
        "/attest/SgxEnclave?api-version=2022-08-01"
    };
    let body = json!({ "quote": b64url(&case.quote()?) });
    let (status, value) = server.post(path, body.to_string()).await?;
    Ok((server, status, value))
}

fn check_sgx(case: &Case, claims: &Value, quote: &[u8]) -> Result<()> {
    let name = case.name();
    for (claim, key) in [
        ("x-ms-sgx-mrenclave", "mrenclave"),
        ("x-ms-sgx-mrsigner", "mrsigner"),
        ("sgx-mrenclave", "mrenclave"),
        ("sgx-mrsigner", "mrsigner"),
    ] {
        ensure!(
            claims[claim].as_str() == case.str(key),
            "{name}: {claim} = {} but expected {:?}",
            claims[claim],
            case.str(key)
        );
    }
    for (claim, key) in [
        ("x-ms-sgx-product-id", "isvprodid"),
        ("x-ms-sgx-svn", "isvsvn"),
        ("product-id", "isvprodid"),
        ("svn", "isvsvn"),
    ] {
        ensure!(
            claims[claim] == case.raw[key],
            "{name}: {claim} = {}",
            claims[claim]
        );
    }
    if let Some(report_data) = case.str("report_data") {
        ensure!(
            claims["x-ms-sgx-report-data"] == report_data,
            "{name}: report data"
        );
    }
    // attributes byte 0 bit 1 is DEBUG.
    let attributes = hex::decode(case.str("attributes").context("attributes")?)?;
    let debug = attributes.first().is_some_and(|b| b & 0x02 != 0);
    ensure!(
        claims["x-ms-sgx-is-debuggable"] == debug,
        "{name}: debuggable"
    );
    ensure!(
        claims["is-debuggable"] == debug,
        "{name}: is-debuggable alias"
    );
    ensure!(claims["x-ms-attestation-type"] == "sgx", "{name}: type");
    ensure!(claims["tee"] == "sgx", "{name}: tee alias");
    let collateral = &claims["x-ms-sgx-collateral"];
    ensure!(
        collateral["quotehash"] == hex_sha256(quote),
        "{name}: quotehash {}",
        collateral["quotehash"]
    );
    ensure!(
        claims["maa-attestationcollateral"] == *collateral,
        "{name}: deprecated collateral copy"
    );
    Ok(())
}

fn check_tdx(case: &Case, claims: &Value) -> Result<()> {
    let name = case.name();
    for (claim, key) in [
        ("tdx_mrtd", "mrtd"),
        ("tdx_rtmr0", "rtmr0"),
        ("tdx_mrseam", "mrseam"),
        ("tdx_report_data", "report_data"),
        ("tdx_xfam", "xfam"),
        ("tdx_td_attributes", "td_attributes"),
        ("tdx_tee_tcb_svn", "tee_tcb_svn"),
    ] {
        if let Some(expected) = case.str(key) {
            ensure!(
                claims[claim] == expected,
                "{name}: {claim} = {} but expected {expected}",
                claims[claim]
            );
        }
    }
    ensure!(claims["x-ms-attestation-type"] == "tdxvm", "{name}: type");
    ensure!(
        claims["attester_tcb_status"] == case.str("status").context("status")?,
        "{name}: attester_tcb_status {}",
        claims["attester_tcb_status"]
    );
    Ok(())
}

#[tokio::test]
async fn every_expected_case_over_http() -> Result<()> {
    let mut checked = 0;
    for case in cases()? {
        let name = case.name();
        let (server, status, body) = attest(&case).await?;
        if let Some(error) = case.str("expect_error") {
            ensure!(status == 400, "{name}: expected 400, got {status}: {body}");
            ensure!(body["error"]["code"] == "InvalidEvidence", "{name}: {body}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            let expected_head = error.split(" (").next().unwrap_or(error);
            ensure!(
                message
                    .to_lowercase()
                    .contains(&expected_head.to_lowercase()),
                "{name}: message {message:?} does not say {expected_head:?}"
            );
        } else {
            ensure!(status == 200, "{name}: status {status}: {body}");
            let token = body["token"].as_str().context("token")?;
            let claims = server.verify_token(token).await?;
            let quote = case.quote()?;
            if case.is_tdx() {
                check_tdx(&case, &claims)?;
            } else {
                check_sgx(&case, &claims, &quote)?;
            }
            ensure!(
                claims["x-attesto-tcb-status"] == case.str("status").context("status")?,
                "{name}: tcb status {}",
                claims["x-attesto-tcb-status"]
            );
            let advisories: Vec<&str> = case.raw["advisory_ids"]
                .as_array()
                .context("advisory_ids")?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            ensure!(
                claims["x-attesto-advisory-ids"] == json!(advisories),
                "{name}: advisories {}",
                claims["x-attesto-advisory-ids"]
            );
            ensure!(claims["x-ms-ver"] == "1.0", "{name}: x-ms-ver");
            let iat = claims["iat"].as_i64().context("iat")?;
            ensure!(
                iat == i64::try_from(case.verify_time()?)?,
                "{name}: iat is the pinned time"
            );
            ensure!(claims["nbf"] == iat, "{name}: nbf");
            ensure!(
                claims["exp"].as_i64() == Some(iat + 28_800),
                "{name}: 8 h lifetime"
            );
            let jti = claims["jti"].as_str().context("jti")?;
            ensure!(
                jti.len() == 64 && jti.bytes().all(|b| b.is_ascii_hexdigit()),
                "{name}: jti {jti}"
            );
            ensure!(
                claims.get("x-attesto-non-intel-roots").is_none(),
                "{name}: Intel only"
            );
            ensure!(
                claims.get("x-attesto-collateral-grace").is_none(),
                "{name}: no grace"
            );
            let policy_hash = claims["x-ms-policy-hash"].as_str().context("policy hash")?;
            ensure!(!policy_hash.is_empty(), "{name}: policy hash");
        }
        server.server.shutdown().await;
        checked += 1;
    }
    ensure!(checked >= 7, "only {checked} cases ran");
    Ok(())
}

#[tokio::test]
async fn one_second_after_the_collateral_window_is_503() -> Result<()> {
    let case = cases()?
        .into_iter()
        .find(|c| c.str("quote") == Some("sgx_quote"))
        .context("sgx case")?;
    let end = case.raw["window"][1].as_str().context("window end")?;
    let end = time::OffsetDateTime::parse(end, &time::format_description::well_known::Rfc3339)?;
    let after = u64::try_from(end.unix_timestamp())? + 1;
    let server = common::start(
        after,
        Options {
            collateral: vec![case.collateral()?],
            ..Options::default()
        },
    )
    .await?;
    let body = json!({ "quote": b64url(&case.quote()?) });
    let (status, value) = server
        .post(
            "/attest/SgxEnclave?api-version=2022-08-01",
            body.to_string(),
        )
        .await?;
    ensure!(status == 503, "{status}: {value}");
    ensure!(value["error"]["code"] == "CollateralUnavailable", "{value}");
    let message = value["error"]["message"].as_str().unwrap_or_default();
    ensure!(
        message.contains("00a067110000"),
        "message names the FMSPC: {message}"
    );
    Ok(())
}

#[tokio::test]
async fn legacy_preview_api_returns_a_bare_jwt_string() -> Result<()> {
    let case = cases()?
        .into_iter()
        .find(|c| c.str("quote") == Some("sgx_quote"))
        .context("sgx case")?;
    let server = common::start(
        case.verify_time()?,
        Options {
            collateral: vec![case.collateral()?],
            ..Options::default()
        },
    )
    .await?;
    let quote = case.quote()?;
    for path in [
        "/attest/SgxEnclave?api-version=2018-09-01-preview",
        "/attest/Tee/SgxEnclave?api-version=2018-09-01-preview",
    ] {
        let body = json!({ "Quote": b64url(&quote) });
        let (status, value) = server.post(path, body.to_string()).await?;
        ensure!(status == 200, "{path}: {status} {value}");
        let token = value.as_str().context("the body is a JSON string")?;
        let claims = server.verify_token(token).await?;
        ensure!(claims["x-ms-sgx-mrenclave"] == case.str("mrenclave").context("mrenclave")?);
    }
    Ok(())
}

#[tokio::test]
async fn metadata_endpoints_need_no_api_version() -> Result<()> {
    let server = common::start(1_751_328_000, Options::default()).await?;
    for path in ["/certs", "/certs/", "/certs?api-version=2020-10-01"] {
        let (status, jwks) = server.get(path).await?;
        ensure!(status == 200, "{path}: {status}");
        let keys = jwks["keys"].as_array().context("keys")?;
        ensure!(!keys.is_empty());
        for key in keys {
            ensure!(key["kty"] == "RSA" && key["kid"].is_string() && key["x5c"].is_array());
        }
    }
    let (status, openid) = server.get("/.well-known/openid-configuration").await?;
    ensure!(status == 200);
    ensure!(openid["issuer"] == server.base.as_str());
    ensure!(openid["jwks_uri"] == format!("{}/certs", server.base));
    ensure!(
        openid["claims_supported"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    );
    let (status, health) = server.get("/health").await?;
    ensure!(status == 200 && health["status"] == "healthy", "{health}");
    Ok(())
}
