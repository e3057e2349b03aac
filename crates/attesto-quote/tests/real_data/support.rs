//! Paths into `testdata/`, quote loading and time conversion.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use rustls_pki_types::UnixTime;

/// `testdata/` at the repository root.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

pub fn read(rel: &str) -> Result<Vec<u8>> {
    let path = testdata().join(rel);
    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
}

pub fn read_text(rel: &str) -> Result<String> {
    Ok(String::from_utf8(read(rel)?)?)
}

/// Quote bytes from a file that is raw binary or hex text.
pub fn read_quote(rel: &str, hex_encoded: bool) -> Result<Vec<u8>> {
    let bytes = read(rel)?;
    if !hex_encoded {
        return Ok(bytes);
    }
    let text = String::from_utf8(bytes)?;
    let text = text.trim();
    Ok(hex::decode(text.strip_prefix("0x").unwrap_or(text))?)
}

pub fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

pub fn rfc3339(text: &str) -> Result<u64> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)?;
    Ok(u64::try_from(t.unix_timestamp())?)
}

/// Every real quote in `testdata/dcap` (hex-decoded where needed).
pub fn all_real_quotes() -> Result<Vec<(String, Vec<u8>)>> {
    let files = [
        ("phala-dcap-qvl/sgx_quote", false),
        ("phala-dcap-qvl/tdx_quote", false),
        ("phala-dcap-qvl/tdx_quote_td15ex", false),
        ("phala-dcap-qvl/tdx_quote_outdated", false),
        ("automata-dcap-rs/quote_sgx_v3_00606a000000.hex", true),
        ("automata-dcap-rs/quote_tdx_00806f050000.dat", false),
        ("go-tdx-guest/tdx_prod_quote_SPR_E4.dat", false),
        ("go-tdx-guest/quote_v5_sample.dat", false),
    ];
    files
        .into_iter()
        .map(|(name, hex)| Ok((name.to_owned(), read_quote(&format!("dcap/{name}"), hex)?)))
        .collect()
}
