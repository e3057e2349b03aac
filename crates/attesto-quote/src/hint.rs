//! Lookup hints read from **unverified** input: which collateral a quote needs, and which key and
//! validity windows a collateral set has. A collateral cache uses them to pick and expire
//! entries; they decide nothing about trust. Full verification ([`crate::Verifier`]) follows and
//! re-checks every fact read here.

use rustls_pki_types::UnixTime;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::collateral::{Collateral, QeIdentity, TcbInfo, TcbInfoId};
use crate::error::{Artifact, Error};
use crate::pck::{PckCaKind, parse_sgx_extension};
use crate::quote::{Quote, TeeType};
use crate::x509::{Cert, Crl, pem_chain};

/// What selects the collateral of a quote: the TEE, the platform's FMSPC and the PCK CA (which
/// picks the PCK CRL). Read without checking any signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CollateralKeyHint {
    /// SGX or TDX: selects the TCB info and QE identity flavour.
    pub tee: TeeType,
    /// The FMSPC from the PCK certificate's SGX extension.
    pub fmspc: [u8; 6],
    /// The CA that issued the PCK certificate.
    pub ca: PckCaKind,
}

/// Reads the collateral key of a quote: the TEE type from the header, the FMSPC from the PCK
/// leaf's SGX extension (certification data type 5, inside type 6 for v4/v5) and the CA kind from
/// the PCK CA certificate's common name.
///
/// **Unverified**: a lookup hint only. A forged quote can name any key; it then fails full
/// verification against the collateral fetched for that key.
///
/// # Errors
/// The quote or its PCK chain does not parse, the CA is not an Intel PCK CA, or the SGX
/// extension is missing or malformed.
pub fn collateral_key_hint(quote: &[u8]) -> Result<CollateralKeyHint, Error> {
    let parsed = Quote::parse(quote)?;
    let ders = pem_chain(parsed.pck_chain_pem, Artifact::PckCertificate)?;
    let (Some(leaf_der), Some(ca_der)) = (ders.first(), ders.get(1)) else {
        return Err(Error::ChainLength {
            artifact: Artifact::PckCertificate,
            found: ders.len(),
        });
    };
    let leaf = Cert::parse(leaf_der, Artifact::PckCertificate)?;
    let ca = Cert::parse(ca_der, Artifact::PckCaCertificate)?;
    let ca_kind = ca
        .common_name
        .as_deref()
        .and_then(PckCaKind::from_common_name)
        .ok_or_else(|| Error::UnknownPckCa {
            subject: ca.subject_text.clone(),
        })?;
    let extension = leaf
        .sgx_extension
        .as_deref()
        .ok_or(Error::PckExtensionMalformed {
            field: "extension",
            reason: "missing",
        })?;
    let facts = parse_sgx_extension(extension, ca_kind)?;
    Ok(CollateralKeyHint {
        tee: parsed.tee(),
        fmspc: facts.fmspc,
        ca: ca_kind,
    })
}

/// A validity window `not_before ..= not_after` of one collateral document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DocumentWindow {
    /// `issueDate` / `thisUpdate`.
    pub not_before: UnixTime,
    /// `nextUpdate`.
    pub not_after: UnixTime,
}

/// What a collateral set is for and when it is usable, read without checking any signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CollateralSummary {
    /// The key it serves: TEE and FMSPC from the TCB info, CA kind from the PCK CRL issuer.
    pub key: CollateralKeyHint,
    /// The TCB info window.
    pub tcb_info: DocumentWindow,
    /// The QE identity window.
    pub qe_identity: DocumentWindow,
    /// The PCK CRL window.
    pub pck_crl: DocumentWindow,
    /// The root CA CRL window.
    pub root_ca_crl: DocumentWindow,
}

impl CollateralSummary {
    /// The latest start of the four windows: the collateral is not usable before it.
    #[must_use]
    pub fn not_before(&self) -> UnixTime {
        self.windows()
            .into_iter()
            .map(|w| w.not_before)
            .max_by_key(UnixTime::as_secs)
            .unwrap_or(self.tcb_info.not_before)
    }

    /// The earliest `nextUpdate` of the four documents: the collateral must be replaced then.
    #[must_use]
    pub fn not_after(&self) -> UnixTime {
        self.windows()
            .into_iter()
            .map(|w| w.not_after)
            .min_by_key(UnixTime::as_secs)
            .unwrap_or(self.tcb_info.not_after)
    }

    /// Whether every window contains `now` (bounds inclusive, as in verification).
    #[must_use]
    pub fn contains(&self, now: UnixTime) -> bool {
        self.not_before().as_secs() <= now.as_secs() && now.as_secs() <= self.not_after().as_secs()
    }

    fn windows(&self) -> [DocumentWindow; 4] {
        [
            self.tcb_info,
            self.qe_identity,
            self.pck_crl,
            self.root_ca_crl,
        ]
    }
}

/// Reads the key and validity windows of a collateral set.
///
/// **Unverified**: signatures and chains are not checked; use it to index and expire cached
/// collateral, never to trust it.
///
/// # Errors
/// A document or CRL does not parse, or the PCK CRL issuer is not an Intel PCK CA.
pub fn collateral_summary(collateral: &Collateral) -> Result<CollateralSummary, Error> {
    let tcb_info = TcbInfo::parse(&collateral.tcb_info)?;
    let qe_identity = QeIdentity::parse(&collateral.qe_identity)?;
    let pck_crl = Crl::parse(&collateral.pck_crl, Artifact::PckCrl)?;
    let root_ca_crl = Crl::parse(&collateral.root_ca_crl, Artifact::RootCaCrl)?;
    let (_, raw_pck_crl) = CertificateRevocationList::from_der(&collateral.pck_crl)
        .map_err(|e| Error::cert(Artifact::PckCrl, e.to_string()))?;
    let ca = raw_pck_crl
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .and_then(PckCaKind::from_common_name)
        .ok_or_else(|| Error::UnknownPckCa {
            subject: pck_crl.issuer_text.clone(),
        })?;
    let tee = match tcb_info.id {
        TcbInfoId::Sgx => TeeType::Sgx,
        TcbInfoId::Tdx => TeeType::Tdx,
    };
    Ok(CollateralSummary {
        key: CollateralKeyHint {
            tee,
            fmspc: tcb_info.fmspc,
            ca,
        },
        tcb_info: DocumentWindow {
            not_before: tcb_info.issue_date,
            not_after: tcb_info.next_update,
        },
        qe_identity: DocumentWindow {
            not_before: qe_identity.issue_date,
            not_after: qe_identity.next_update,
        },
        pck_crl: DocumentWindow {
            not_before: pck_crl.window.not_before,
            not_after: pck_crl.window.not_after,
        },
        root_ca_crl: DocumentWindow {
            not_before: root_ca_crl.window.not_before,
            not_after: root_ca_crl.window.not_after,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SGX_QUOTE: &[u8] = include_bytes!("../../../testdata/dcap/phala-dcap-qvl/sgx_quote");
    const TDX_QUOTE: &[u8] = include_bytes!("../../../testdata/dcap/phala-dcap-qvl/tdx_quote");
    const TDX_V5_QUOTE: &[u8] =
        include_bytes!("../../../testdata/dcap/phala-dcap-qvl/tdx_quote_td15ex");
    const SGX_COLLATERAL: &str =
        include_str!("../../../testdata/dcap/phala-dcap-qvl/sgx_quote_collateral.json");
    const TDX_COLLATERAL: &str =
        include_str!("../../../testdata/dcap/phala-dcap-qvl/tdx_quote_collateral.json");

    #[test]
    fn key_hints_of_real_quotes() -> Result<(), Error> {
        // Expected values from testdata/dcap/expected.json.
        let sgx = collateral_key_hint(SGX_QUOTE)?;
        assert_eq!(sgx.tee, TeeType::Sgx);
        assert_eq!(hex::encode(sgx.fmspc), "00a067110000");
        assert_eq!(sgx.ca, PckCaKind::Processor);
        let tdx = collateral_key_hint(TDX_QUOTE)?;
        assert_eq!(tdx.tee, TeeType::Tdx);
        assert_eq!(hex::encode(tdx.fmspc), "b0c06f000000");
        assert_eq!(tdx.ca, PckCaKind::Platform);
        // v5: the chain sits inside type-6 certification data.
        let v5 = collateral_key_hint(TDX_V5_QUOTE)?;
        assert_eq!(v5.tee, TeeType::Tdx);
        assert_eq!(hex::encode(v5.fmspc), "b0c06f000000");
        Ok(())
    }

    #[test]
    fn key_hint_rejects_garbage_without_panicking() {
        for len in [0, 1, 47, 48, 100, 600, 1000, SGX_QUOTE.len() - 1] {
            let cut = SGX_QUOTE.get(..len).unwrap_or_default();
            assert!(collateral_key_hint(cut).is_err(), "prefix of {len} bytes");
        }
    }

    #[test]
    fn summaries_match_the_quotes_and_windows() -> Result<(), Error> {
        let sgx = collateral_summary(&Collateral::from_json(SGX_COLLATERAL)?)?;
        assert_eq!(sgx.key, collateral_key_hint(SGX_QUOTE)?);
        // expected.json window for this set: 2025-06-19T10:56:11Z ..= 2025-07-19T10:01:18Z.
        assert_eq!(sgx.not_before().as_secs(), 1_750_330_571);
        assert_eq!(sgx.not_after().as_secs(), 1_752_919_278);
        assert!(
            sgx.contains(UnixTime::since_unix_epoch(core::time::Duration::from_secs(
                1_751_328_000
            )))
        );
        assert!(
            !sgx.contains(UnixTime::since_unix_epoch(core::time::Duration::from_secs(
                1_752_919_279
            )))
        );
        let tdx = collateral_summary(&Collateral::from_json(TDX_COLLATERAL)?)?;
        assert_eq!(tdx.key, collateral_key_hint(TDX_QUOTE)?);
        Ok(())
    }
}
