//! The sample's eight real enclave-info files: they parse, are written back byte for byte, are
//! rebuilt from their own quotes, and their quotes, EHD and fields agree.

use anyhow::{Context, Result, ensure};
use attesto_client::sample::{EnclaveInfo, Field, Variant, report_data_for};
use attesto_quote::{Quote, TrustAnchors, verify_signatures_and_chain};

use crate::common::{sample_files, unix};

/// Inside both sets' PCK chain validity (maa-sample.md §5).
const CHAIN_TIME: u64 = 1_717_200_000; // 2024-06-01

fn load(path: &std::path::Path) -> Result<(String, EnclaveInfo)> {
    let text = std::fs::read_to_string(path)?;
    let info = EnclaveInfo::parse(&text).with_context(|| path.display().to_string())?;
    Ok((text, info))
}

#[test]
fn all_eight_files_parse_and_agree_with_their_quotes() -> Result<()> {
    let files = sample_files()?;
    ensure!(files.len() == 8, "expected 8 sample files, found {files:?}");
    for path in &files {
        let (_, info) = load(path)?;
        let name = path.display().to_string();
        let expected_variant = if name.contains("oe.sdk") {
            Variant::OpenEnclave
        } else {
            Variant::IntelSdk
        };
        ensure!(info.variant() == expected_variant, "{name}: variant");
        ensure!(
            info.disagreements()?.is_empty(),
            "{name}: {:?}",
            info.disagreements()?
        );

        // The same facts, read independently of `disagreements`.
        let quote = Quote::parse(info.sgx_quote()?)?;
        let body = quote.body.as_sgx().context("SGX body")?;
        ensure!(body.mrenclave == info.mr_enclave && body.mrsigner == info.mr_signer);
        ensure!(u64::from(body.isvprodid) == info.product_id_u64());
        ensure!(u32::from(body.isvsvn) == info.security_version);
        ensure!(
            body.is_debuggable() == info.is_debuggable(),
            "{name}: debug"
        );
        ensure!(
            body.is_debuggable() == name.contains(".debug."),
            "{name}: debug file"
        );
        ensure!(body.report_data == report_data_for(&info.enclave_held_data));

        // Both signatures and the PCK chain to Intel's root.
        verify_signatures_and_chain(info.sgx_quote()?, &TrustAnchors::intel(), unix(CHAIN_TIME))
            .with_context(|| format!("{name}: quote verification"))?;
    }
    Ok(())
}

#[test]
fn files_are_written_back_byte_for_byte() -> Result<()> {
    for path in sample_files()? {
        let (text, info) = load(&path)?;
        ensure!(info.to_json() == text, "{}", path.display());
    }
    Ok(())
}

#[test]
fn files_are_rebuilt_from_their_own_quotes() -> Result<()> {
    for path in sample_files()? {
        let (text, info) = load(&path)?;
        let rebuilt = EnclaveInfo::from_quote(
            info.variant(),
            info.sgx_quote()?,
            info.enclave_held_data.clone(),
        )?;
        ensure!(rebuilt == info, "{}", path.display());
        ensure!(rebuilt.to_json() == text, "{}", path.display());
    }
    Ok(())
}

#[test]
fn the_documented_values_of_the_intel_debug_file() -> Result<()> {
    let path = sample_files()?
        .into_iter()
        .find(|p| {
            p.to_string_lossy()
                .contains("intel.sdk/genquotes/out/enclave.info.debug")
        })
        .context("intel debug file")?;
    let (_, info) = load(&path)?;
    ensure!(
        hex::encode(info.mr_enclave)
            == "3e2df98fc7fd042b842121cae6a8086d546e7970db55103725cc1dcbc2c48814"
    );
    ensure!(info.attributes == 7 && info.is_debuggable());
    ensure!(info.enclave_held_data == [1, 2, 3, 4, 5, 6]);
    ensure!(
        hex::encode(&report_data_for(&info.enclave_held_data)[..32])
            == "7192385c3c0605de55bb9476ce1d90748190ecb32a8eed7f5207b30cf6a1fe89"
    );
    Ok(())
}

#[test]
fn edited_files_are_caught() -> Result<()> {
    let path = sample_files()?.into_iter().next().context("a file")?;
    let (_, info) = load(&path)?;

    let mut edited = info.clone();
    edited.mr_enclave[0] ^= 1;
    ensure!(edited.disagreements()? == [Field::MrEnclave]);

    let mut edited = info.clone();
    edited.enclave_held_data.push(0);
    ensure!(edited.disagreements()? == [Field::EnclaveHeldData]);

    let mut edited = info.clone();
    edited.product_id[0] ^= 1;
    edited.security_version += 1;
    ensure!(edited.disagreements()? == [Field::ProductId, Field::SecurityVersion]);

    let mut edited = info.clone();
    edited.attributes ^= 2;
    edited.enclave_type = 3;
    ensure!(edited.disagreements()? == [Field::Type, Field::Attributes]);

    let mut edited = info;
    edited.quote.truncate(100);
    ensure!(edited.disagreements().is_err());
    Ok(())
}

#[test]
fn hex_is_read_in_either_case_and_written_upper() -> Result<()> {
    let path = sample_files()?.into_iter().next().context("a file")?;
    let (text, info) = load(&path)?;
    let lower = EnclaveInfo::parse(&text.to_lowercase().replace("\"type\"", "\"Type\""));
    // Member names are exact-case, as System.Text.Json reads them.
    ensure!(lower.is_err(), "lower-cased member names must not parse");
    let mut relaxed = text.clone();
    let upper = hex::encode_upper(info.mr_enclave);
    relaxed = relaxed.replace(&upper, &upper.to_lowercase());
    ensure!(EnclaveInfo::parse(&relaxed)? == info);
    ensure!(EnclaveInfo::parse(&relaxed)?.to_json() == text);
    Ok(())
}

#[test]
fn oe_enclave_held_data_is_the_padded_pem_of_the_enclave_key() -> Result<()> {
    use attesto_client::sample::{OE_EHD_LEN, enclave_held_data_for_key};
    let mut checked = 0;
    for path in sample_files()? {
        let (_, info) = load(&path)?;
        if info.variant() != Variant::OpenEnclave {
            continue;
        }
        ensure!(info.enclave_held_data.len() == OE_EHD_LEN);
        let text: Vec<u8> = info
            .enclave_held_data
            .iter()
            .copied()
            .take_while(|&b| b != 0)
            .collect();
        ensure!(
            text.len() == 451,
            "{}: {} bytes of PEM",
            path.display(),
            text.len()
        );
        // Rebuilt from the key alone, for both variants.
        ensure!(enclave_held_data_for_key(&text, Variant::OpenEnclave)? == info.enclave_held_data);
        ensure!(enclave_held_data_for_key(&text, Variant::IntelSdk)? == text);
        checked += 1;
    }
    ensure!(checked == 4);
    ensure!(
        enclave_held_data_for_key(
            b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
            Variant::IntelSdk
        )
        .is_err()
    );
    Ok(())
}
