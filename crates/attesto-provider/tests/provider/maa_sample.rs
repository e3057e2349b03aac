//! Microsoft's public MAA SGX sample (`testdata/maa-sample`): real request bodies and quotes
//! from real enclaves, with their enclave-held data, and the token real MAA answered in 2020.
//!
//! No Intel collateral exists for these quotes, so they are verified up to the signatures and
//! PCK chain (`verify_signatures_and_chain`) and the TCB facts are placeholders; everything
//! the request and the quote determine (OE header, binding, measurements, ehd) is real.

use anyhow::{Context, Result, ensure};
use attesto_policy::AttestationType::{self, OpenEnclave, SgxEnclave};
use attesto_provider::claims::{self, IncomingClaims};
use attesto_provider::request::{self, ApiVersion};
use attesto_quote::{CollateralHashes, SignedQuote, TcbStatus, VerifiedQuote, Verifier};
use serde_json::{Value, json};

use crate::support::{at, body, default_policy_payload, read_text, str_claim};

/// A verified quote from signature-only verification, with placeholder collateral facts.
fn as_verified(signed: SignedQuote) -> VerifiedQuote {
    let placeholder = "00".repeat(32);
    VerifiedQuote {
        tee: signed.tee,
        quote_version: signed.quote_version,
        body_type: signed.body_type,
        header: signed.header,
        report: signed.report,
        pck: signed.pck,
        qe: signed.qe,
        status: TcbStatus::UpToDate,
        platform_status: TcbStatus::UpToDate,
        qe_status: TcbStatus::UpToDate,
        tdx_module: None,
        td_current_status: None,
        advisory_ids: Vec::new(),
        tcb_date: signed.earliest_expiry,
        tcb_evaluation_data_number: 0,
        earliest_expiry: signed.earliest_expiry,
        collateral_hashes: CollateralHashes {
            quotehash: placeholder.clone(),
            tcbinfohash: placeholder.clone(),
            tcbinfocertshash: placeholder.clone(),
            tcbinfocrlhash: placeholder.clone(),
            qeidhash: placeholder.clone(),
            qeidcertshash: placeholder.clone(),
            qeidcrlhash: placeholder,
        },
    }
}

fn claims_for(
    kind: AttestationType,
    version: ApiVersion,
    body: &[u8],
    time: u64,
) -> Result<IncomingClaims> {
    let request = request::parse(kind, version, body)?;
    let signed = Verifier::new().verify_signatures_and_chain(&request.evidence, at(time))?;
    Ok(claims::incoming(kind, &as_verified(signed), &request)?)
}

/// The 2020 sample: a legacy `{Quote, EnclaveHeldData}` body carrying an Open Enclave report,
/// and the token real MAA issued for it (`post.attest.response.jwt.body.json`: the header
/// object, then the payload object).
#[test]
fn legacy_open_enclave_request_gives_the_claims_real_maa_gave() -> Result<()> {
    let dir = "maa-sample/sgx.attest.sample.oe.sdk/validatequotes.net/samples";
    let body = read_text(&format!("{dir}/post.attest.body.json"))?;
    let token_text = read_text(&format!("{dir}/post.attest.response.jwt.body.json"))?;
    let token: Vec<Value> = serde_json::Deserializer::from_str(&token_text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()?;
    let maa = token.get(1).context("token payload")?;
    let iat = maa["iat"].as_u64().context("iat")?;

    let incoming = claims_for(
        OpenEnclave,
        ApiVersion::V2018_09_01_Preview,
        body.as_bytes(),
        iat,
    )?;
    let payload = default_policy_payload(&incoming, at(iat))?;
    for name in [
        "sgx-mrenclave",
        "sgx-mrsigner",
        "product-id",
        "svn",
        "is-debuggable",
        "tee",
        "maa-ehd",
    ] {
        ensure!(
            payload.get(name) == maa.get(name),
            "{name}: attesto {:?}, MAA {:?}",
            payload.get(name),
            maa.get(name)
        );
    }
    ensure!(payload["svn"] == json!(8888), "the sample's ISVSVN");
    ensure!(
        payload["x-ms-sgx-ehd"] == maa["maa-ehd"],
        "x-ms-sgx-ehd is the same value"
    );
    ensure!(payload["exp"].as_u64() == Some(iat + 8 * 3600), "exp");
    Ok(())
}

/// The sample's `genquote_host` output: quotes from the Intel SGX SDK (SgxEnclave) and Open
/// Enclave reports (OpenEnclave), with enclave-held data bound into the report data.
#[test]
fn sample_enclaves_bind_their_held_data() -> Result<()> {
    for (dir, kind) in [
        (
            "maa-sample/sgx.attest.sample.intel.sdk/genquotes/out",
            SgxEnclave,
        ),
        (
            "maa-sample/sgx.attest.sample.oe.sdk/genquotes/quotes",
            OpenEnclave,
        ),
    ] {
        for variant in ["release", "debug", "prodid", "securityversion"] {
            let name = format!("{dir}/enclave.info.{variant}.json");
            let info: Value = serde_json::from_str(&read_text(&name)?)?;
            let text = |key: &str| info[key].as_str().with_context(|| format!("{name}: {key}"));
            let evidence = hex::decode(text("QuoteHex")?)?;
            let ehd = hex::decode(text("EnclaveHeldDataHex")?)?;
            let field = if kind == OpenEnclave {
                "report"
            } else {
                "quote"
            };
            let request_body = body(field, &evidence, Some((&ehd, "Binary")), None);
            // Inside both samples' PCK chain windows (2023-02-27..2030-02-27, 2021-02-22..2028-02-22).
            let incoming = claims_for(kind, ApiVersion::V2020_10_01, &request_body, 1_735_689_600)?;
            let claims = incoming.service_claims();

            ensure!(
                str_claim(claims, "x-ms-sgx-mrenclave")?
                    == text("MrEnclaveHex")?.to_ascii_lowercase(),
                "{name}: mrenclave"
            );
            ensure!(
                str_claim(claims, "x-ms-sgx-mrsigner")?
                    == text("MrSignerHex")?.to_ascii_lowercase(),
                "{name}: mrsigner"
            );
            let product_id = hex::decode(text("ProductIdHex")?)?;
            let product_id = u64::from(product_id[0]) | u64::from(product_id[1]) << 8;
            ensure!(
                claims["x-ms-sgx-product-id"] == json!(product_id),
                "{name}: product id"
            );
            ensure!(
                claims["x-ms-sgx-svn"] == info["SecurityVersion"],
                "{name}: svn"
            );
            let attributes = info["Attributes"].as_u64().context("Attributes")?;
            // The Intel sample writes SGX flags (DEBUG = 2), the OE sample OE flags (DEBUG = 1).
            let debug = match kind {
                OpenEnclave => attributes & 1 == 1,
                _ => attributes & 2 != 0,
            };
            ensure!(
                claims["x-ms-sgx-is-debuggable"] == json!(debug),
                "{name}: debug"
            );
            ensure!(debug == (variant == "debug"), "{name}: sample variant");
            let claimed = attesto_jose::base64url::decode(str_claim(claims, "x-ms-sgx-ehd")?)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            ensure!(claimed == ehd, "{name}: ehd");
        }
    }
    Ok(())
}
