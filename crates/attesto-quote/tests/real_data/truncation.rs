//! Every prefix of every real quote fails to parse, without panicking; the v5 sample parses.

use anyhow::{Result, ensure};
use attesto_quote::{BodyType, Quote, TeeType};

use crate::support::all_real_quotes;

#[test]
fn every_prefix_of_every_real_quote_is_a_parse_error() -> Result<()> {
    for (name, bytes) in all_real_quotes()? {
        let full = Quote::parse(&bytes)?;
        let len = full.raw.len();
        ensure!(len <= bytes.len(), "{name}");
        for cut in 0..len {
            let prefix = &bytes[..cut];
            match Quote::parse(prefix) {
                Ok(_) => anyhow::bail!("{name}: prefix of {cut} bytes parsed"),
                Err(e) => ensure!(e.is_parse_error(), "{name}: {cut}: {e:?}"),
            }
        }
        // Sampled prefixes through the whole pipeline too (fuzz entry point: no panic).
        for cut in (0..len).step_by(97) {
            attesto_quote::fuzzing::parse_and_verify(&bytes[..cut]);
        }
    }
    Ok(())
}

#[test]
fn go_tdx_guest_v5_sample_parses_as_td15() -> Result<()> {
    let bytes = crate::support::read("dcap/go-tdx-guest/quote_v5_sample.dat")?;
    let quote = Quote::parse(&bytes)?;
    ensure!(quote.header.version == 5, "version");
    ensure!(quote.tee() == TeeType::Tdx, "tee");
    ensure!(
        quote.body_type == BodyType::Td15,
        "body type {:?}",
        quote.body_type
    );
    ensure!(quote.body_type.number() == 3, "number");
    let td = quote
        .body
        .as_td()
        .ok_or_else(|| anyhow::anyhow!("TD body"))?;
    ensure!(
        td.tee_tcb_svn2.is_some() && td.mrservicetd.is_some(),
        "TD 1.5 fields"
    );
    ensure!(td.extension.is_none(), "no 1.5-Ex extension");
    // The JSON form of a parsed quote is available for `attesto quote parse`.
    let json = serde_json::to_value(&quote)?;
    ensure!(json["body"]["kind"] == "td", "{json}");
    Ok(())
}

#[test]
fn td15ex_and_padding_are_handled() -> Result<()> {
    let td15ex = crate::support::read("dcap/phala-dcap-qvl/tdx_quote_td15ex")?;
    let quote = Quote::parse(&td15ex)?;
    ensure!(quote.body_type == BodyType::Td15Ex, "body type");
    ensure!(
        quote
            .body
            .as_td()
            .and_then(|t| t.extension.as_ref())
            .is_some(),
        "extension"
    );
    let padded = crate::support::read("dcap/automata-dcap-rs/quote_tdx_00806f050000.dat")?;
    let quote = Quote::parse(&padded)?;
    ensure!(
        padded.len() == 8000 && quote.raw.len() < 8000,
        "padding is not part of the quote"
    );
    Ok(())
}
