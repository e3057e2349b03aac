//! Collateral as delivered by a source: parsed, in its storable JSON form, and with the unverified
//! key and windows the cache files and expires it by.

use attesto_quote::{Collateral, CollateralSummary, collateral_summary};

use crate::key::CollateralKey;

/// One collateral set ready for the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The collateral, for the verifier.
    pub collateral: Collateral,
    /// The same collateral in the dcap-qvl JSON format ([`Collateral::from_json`]): what the
    /// store keeps and what `attesto collateral import` reads.
    pub json: String,
    /// Key and validity windows, read without verifying signatures.
    pub summary: CollateralSummary,
    /// Where it came from (URL, file), for operators and logs.
    pub origin: String,
}

impl Fetched {
    /// Wraps parsed collateral, computing its JSON form and summary.
    ///
    /// # Errors
    /// A document or CRL does not parse ([`collateral_summary`]).
    pub fn new(
        collateral: Collateral,
        origin: impl Into<String>,
    ) -> Result<Self, attesto_quote::Error> {
        let summary = collateral_summary(&collateral)?;
        Ok(Self {
            json: to_json(&collateral),
            collateral,
            summary,
            origin: origin.into(),
        })
    }

    /// Parses a bundle in the dcap-qvl JSON format.
    ///
    /// # Errors
    /// The JSON, a document or a CRL does not parse.
    pub fn from_json(json: &str, origin: impl Into<String>) -> Result<Self, attesto_quote::Error> {
        Self::new(Collateral::from_json(json)?, origin)
    }

    /// The key this collateral serves (from its TCB info and PCK CRL issuer).
    #[must_use]
    pub fn key(&self) -> CollateralKey {
        self.summary.key.into()
    }
}

/// Writes collateral in the dcap-qvl JSON format: CRLs and signatures as lowercase hex, the
/// signed documents as the exact text that was signed.
#[must_use]
pub fn to_json(c: &Collateral) -> String {
    serde_json::json!({
        "pck_crl_issuer_chain": c.pck_crl_issuer_chain,
        "root_ca_crl": hex::encode(&c.root_ca_crl),
        "pck_crl": hex::encode(&c.pck_crl),
        "tcb_info_issuer_chain": c.tcb_info_issuer_chain,
        "tcb_info": c.tcb_info,
        "tcb_info_signature": hex::encode(&c.tcb_info_signature),
        "qe_identity_issuer_chain": c.qe_identity_issuer_chain,
        "qe_identity": c.qe_identity,
        "qe_identity_signature": hex::encode(&c.qe_identity_signature),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_every_real_bundle() -> Result<(), attesto_quote::Error> {
        let bundles = [
            include_str!("../../../testdata/dcap/phala-dcap-qvl/sgx_quote_collateral.json"),
            include_str!("../../../testdata/dcap/phala-dcap-qvl/tdx_quote_collateral.json"),
            include_str!("../../../testdata/dcap/automata-dcap-rs/derived_sgx_v3_collateral.json"),
        ];
        for text in bundles {
            let original = Collateral::from_json(text)?;
            let fetched = Fetched::new(original.clone(), "test")?;
            assert_eq!(Collateral::from_json(&fetched.json)?, original);
            assert_eq!(Fetched::from_json(&fetched.json, "test")?, fetched);
        }
        Ok(())
    }
}
