//! Minting Intel-style collateral (TCB Info, QE Identity, CRLs and issuer chains) signed by a
//! [`TestPki`].
//!
//! The TCB Info and QE Identity JSON is generated once as text, and the signature is computed
//! over exactly that text; the same text is then embedded unchanged in both output forms:
//!
//! - [`Collateral`]: the collateral JSON of `testdata/dcap/phala-dcap-qvl/*_collateral.json`
//!   (PEM chains, hex DER CRLs, JSON text strings, hex signatures);
//! - [`PcsCollateral`]: the raw bodies PCS serves (`{"tcbInfo":{...},"signature":"<hex>"}`,
//!   `{"enclaveIdentity":{...},"signature":"<hex>"}`), DER CRLs and issuer-chain PEM.

mod qe_identity;
mod status;
mod tcb_info;

use serde::{Deserialize, Serialize};

pub use qe_identity::{EnclaveIdentityId, INTEL_QE_ATTRIBUTES_MASK, QeIdentitySpec};
pub use status::{DEFAULT_TCB_DATE, EnclaveTcbLevel, TcbStatus};
pub use tcb_info::{
    TcbInfoId, TcbInfoSpec, TcbInfoVersion, TcbLevel, TdxModule, TdxModuleIdentity,
};

use crate::pki::{CrlSpec, PckCaKind};
use crate::time::{REFERENCE_TIME, collateral_window};
use crate::{Error, MintedQuote, TestKey, TestPki};

/// The `tcbEvaluationDataNumber` of default collateral.
pub const DEFAULT_TCB_EVALUATION_DATA_NUMBER: u32 = 17;

/// Collateral in the JSON format of `testdata/dcap/phala-dcap-qvl/*_collateral.json`.
///
/// The field names are that format's keys; `serde_json` writes them in this order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collateral {
    /// PCK CA then root, PEM.
    pub pck_crl_issuer_chain: String,
    /// Root CA CRL, DER (hex in JSON).
    #[serde(with = "hex")]
    pub root_ca_crl: Vec<u8>,
    /// PCK CRL of the quote's PCK CA, DER (hex in JSON).
    #[serde(with = "hex")]
    pub pck_crl: Vec<u8>,
    /// TCB signing certificate then root, PEM.
    pub tcb_info_issuer_chain: String,
    /// The exact signed TCB Info JSON text.
    pub tcb_info: String,
    /// ECDSA-P256 signature `r || s` over `tcb_info` (hex in JSON).
    #[serde(with = "hex")]
    pub tcb_info_signature: Vec<u8>,
    /// TCB signing certificate then root, PEM.
    pub qe_identity_issuer_chain: String,
    /// The exact signed QE Identity JSON text.
    pub qe_identity: String,
    /// ECDSA-P256 signature `r || s` over `qe_identity` (hex in JSON).
    #[serde(with = "hex")]
    pub qe_identity_signature: Vec<u8>,
    /// Optional PCK chain (leaf, CA, root), as some collateral sets carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pck_certificate_chain: Option<String>,
}

impl Collateral {
    /// The collateral JSON document (pretty-printed, like the files in `testdata/`).
    ///
    /// # Errors
    /// [`Error::Json`].
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self).map_err(Error::json("collateral"))
    }

    /// Parses a collateral JSON document.
    ///
    /// # Errors
    /// [`Error::Json`].
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(Error::json("collateral"))
    }

    /// The same collateral as PCS serves it.
    #[must_use]
    pub fn to_pcs(&self) -> PcsCollateral {
        PcsCollateral {
            tcb_info_body: format!(
                r#"{{"tcbInfo":{},"signature":"{}"}}"#,
                self.tcb_info,
                hex::encode(&self.tcb_info_signature)
            ),
            tcb_info_issuer_chain: self.tcb_info_issuer_chain.clone(),
            qe_identity_body: format!(
                r#"{{"enclaveIdentity":{},"signature":"{}"}}"#,
                self.qe_identity,
                hex::encode(&self.qe_identity_signature)
            ),
            qe_identity_issuer_chain: self.qe_identity_issuer_chain.clone(),
            root_ca_crl: self.root_ca_crl.clone(),
            pck_crl: self.pck_crl.clone(),
            pck_crl_issuer_chain: self.pck_crl_issuer_chain.clone(),
        }
    }
}

/// Collateral as Intel's PCS serves it: response bodies, DER CRLs, and the issuer chains PCS
/// sends (URL-encoded) in response headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcsCollateral {
    /// Body of `GET .../tcb?fmspc=`: `{"tcbInfo":{...},"signature":"<hex>"}`.
    pub tcb_info_body: String,
    /// Header `TCB-Info-Issuer-Chain` (here PEM, not URL-encoded).
    pub tcb_info_issuer_chain: String,
    /// Body of `GET .../qe/identity`: `{"enclaveIdentity":{...},"signature":"<hex>"}`.
    pub qe_identity_body: String,
    /// Header `SGX-Enclave-Identity-Issuer-Chain` (here PEM, not URL-encoded).
    pub qe_identity_issuer_chain: String,
    /// Root CA CRL, DER.
    pub root_ca_crl: Vec<u8>,
    /// Body of `GET .../pckcrl?ca=...&encoding=der`.
    pub pck_crl: Vec<u8>,
    /// Header `SGX-PCK-CRL-Issuer-Chain` (here PEM, not URL-encoded).
    pub pck_crl_issuer_chain: String,
}

/// Builds collateral for a quote. [`for_quote`](Self::for_quote) derives everything from the
/// quote so that the result verifies as `UpToDate`; the other methods then change one thing.
#[derive(Clone, Debug)]
#[must_use]
pub struct CollateralBuilder<'a> {
    pki: &'a TestPki,
    pck_ca: PckCaKind,
    tcb_info: TcbInfoSpec,
    qe_identity: QeIdentitySpec,
    root_crl: CrlSpec,
    pck_crl: CrlSpec,
    signing_key: Option<TestKey>,
    pck_certificate_chain: Option<String>,
}

impl<'a> CollateralBuilder<'a> {
    /// Collateral matching `quote` exactly, valid around [`REFERENCE_TIME`]:
    ///
    /// - TCB Info v3 (`SGX` or `TDX`) for the PCK leaf's FMSPC and PCE-ID, with one `UpToDate`
    ///   level equal to the PCK TCB (and, for TDX, to TEE_TCB_SVN); for TDX also `tdxModule`
    ///   from MRSIGNERSEAM/SEAMATTRIBUTES and, when `TEE_TCB_SVN[1]` > 0, the `TDX_%02X` module
    ///   identity with an `UpToDate` level at the module SVN;
    /// - QE Identity v2 (`QE` or `TD_QE`) from the QE report: MISCSELECT, ATTRIBUTES under
    ///   Intel's mask, MRSIGNER, ISVPRODID, one `UpToDate` level at its ISVSVN;
    /// - empty root and PCK CRLs.
    pub fn for_quote(pki: &'a TestPki, quote: &MintedQuote) -> Self {
        let window = collateral_window(REFERENCE_TIME);
        let ext = quote.pck_leaf.extension();
        let td = quote.body.as_td();
        let level = match td {
            Some(td) => TcbLevel::tdx(
                ext.tcb.comp_svns,
                ext.tcb.pcesvn,
                td.tee_tcb_svn,
                TcbStatus::UpToDate,
            ),
            None => TcbLevel::sgx(ext.tcb.comp_svns, ext.tcb.pcesvn, TcbStatus::UpToDate),
        };
        let all_ones = [0xFF; 8];
        let tdx_module = td.map(|td| TdxModule {
            mrsigner: td.mrsignerseam,
            attributes: td.seam_attributes,
            attributes_mask: all_ones,
        });
        let tdx_module_identities = td
            .filter(|td| td.tee_tcb_svn[1] > 0)
            .map(|td| TdxModuleIdentity {
                id: format!("TDX_{:02X}", td.tee_tcb_svn[1]),
                mrsigner: td.mrsignerseam,
                attributes: td.seam_attributes,
                attributes_mask: all_ones,
                tcb_levels: vec![EnclaveTcbLevel::new(
                    u16::from(td.tee_tcb_svn[0]),
                    TcbStatus::UpToDate,
                )],
            })
            .into_iter()
            .collect();
        let tcb_info = TcbInfoSpec {
            version: TcbInfoVersion::V3,
            id: if td.is_some() {
                TcbInfoId::Tdx
            } else {
                TcbInfoId::Sgx
            },
            issue_date: window.not_before,
            next_update: window.not_after,
            fmspc: ext.fmspc,
            pce_id: ext.pce_id,
            tcb_type: 0,
            tcb_evaluation_data_number: DEFAULT_TCB_EVALUATION_DATA_NUMBER,
            tdx_module,
            tdx_module_identities,
            tcb_levels: vec![level],
        };
        let qe = &quote.qe_report;
        let mut attributes = qe.attributes;
        for (byte, mask) in attributes.iter_mut().zip(INTEL_QE_ATTRIBUTES_MASK) {
            *byte &= mask;
        }
        let qe_identity = QeIdentitySpec {
            id: if td.is_some() {
                EnclaveIdentityId::TdQe
            } else {
                EnclaveIdentityId::Qe
            },
            version: 2,
            issue_date: window.not_before,
            next_update: window.not_after,
            tcb_evaluation_data_number: DEFAULT_TCB_EVALUATION_DATA_NUMBER,
            miscselect: qe.miscselect,
            miscselect_mask: u32::MAX,
            attributes,
            attributes_mask: INTEL_QE_ATTRIBUTES_MASK,
            mrsigner: qe.mrsigner,
            isvprodid: qe.isvprodid,
            tcb_levels: vec![EnclaveTcbLevel::new(qe.isvsvn, TcbStatus::UpToDate)],
        };
        Self::new(pki, quote.pck_leaf.ca(), tcb_info, qe_identity)
    }

    /// Collateral from explicit documents, with empty CRLs valid over the TCB Info's
    /// `issueDate..nextUpdate`.
    pub fn new(
        pki: &'a TestPki,
        pck_ca: PckCaKind,
        tcb_info: TcbInfoSpec,
        qe_identity: QeIdentitySpec,
    ) -> Self {
        let crl = CrlSpec {
            window: crate::time::Validity::new(tcb_info.issue_date, tcb_info.next_update),
            ..CrlSpec::default()
        };
        Self {
            pki,
            pck_ca,
            tcb_info,
            qe_identity,
            root_crl: crl.clone(),
            pck_crl: crl,
            signing_key: None,
            pck_certificate_chain: None,
        }
    }

    /// Moves every window (TCB Info, QE Identity, both CRLs) to [`collateral_window`] around
    /// `t`: issued a day before, next update 29 days after. TCB dates and revoked serials stay.
    pub fn at(mut self, t: rustls_pki_types::UnixTime) -> Self {
        let window = collateral_window(t);
        self.tcb_info.issue_date = window.not_before;
        self.tcb_info.next_update = window.not_after;
        self.qe_identity.issue_date = window.not_before;
        self.qe_identity.next_update = window.not_after;
        self.root_crl.window = window;
        self.pck_crl.window = window;
        self
    }

    /// Edits the TCB Info before it is serialized and signed.
    pub fn edit_tcb_info(mut self, edit: impl FnOnce(&mut TcbInfoSpec)) -> Self {
        edit(&mut self.tcb_info);
        self
    }

    /// Edits the QE Identity before it is serialized and signed.
    pub fn edit_qe_identity(mut self, edit: impl FnOnce(&mut QeIdentitySpec)) -> Self {
        edit(&mut self.qe_identity);
        self
    }

    /// Gives every platform TCB level this status and these advisories. With the single level
    /// of [`for_quote`](Self::for_quote) this makes the platform verify to exactly `status`.
    pub fn platform_status(mut self, status: TcbStatus, advisory_ids: &[&str]) -> Self {
        for level in &mut self.tcb_info.tcb_levels {
            level.status = status;
            level.advisory_ids = advisory_ids.iter().map(|id| (*id).to_owned()).collect();
        }
        self
    }

    /// Gives every QE Identity level this status and these advisories.
    pub fn qe_status(mut self, status: TcbStatus, advisory_ids: &[&str]) -> Self {
        for level in &mut self.qe_identity.tcb_levels {
            level.status = status;
            level.advisory_ids = advisory_ids.iter().map(|id| (*id).to_owned()).collect();
        }
        self
    }

    /// Uses this root CA CRL.
    pub fn root_crl(mut self, spec: CrlSpec) -> Self {
        self.root_crl = spec;
        self
    }

    /// Uses this PCK CRL (issued by the quote's PCK CA).
    pub fn pck_crl(mut self, spec: CrlSpec) -> Self {
        self.pck_crl = spec;
        self
    }

    /// Lists `serial` (for example `quote.pck_leaf.cert().serial()`) in the PCK CRL.
    pub fn revoke_pck(mut self, serial: &[u8]) -> Self {
        self.pck_crl.revoked_serials.push(serial.to_vec());
        self
    }

    /// Signs TCB Info and QE Identity with `key` instead of the TCB signing key, while still
    /// sending the real TCB signing chain: the "wrong signer" case.
    pub fn sign_with(mut self, key: TestKey) -> Self {
        self.signing_key = Some(key);
        self
    }

    /// Adds `pck_certificate_chain` to the collateral JSON.
    pub fn pck_certificate_chain(mut self, chain_pem: impl Into<String>) -> Self {
        self.pck_certificate_chain = Some(chain_pem.into());
        self
    }

    /// Serializes, signs and assembles the collateral.
    ///
    /// # Errors
    /// [`Error::UnsupportedTcbInfo`], [`Error::TimeOutOfRange`], [`Error::Json`],
    /// [`Error::Certificate`] (CRL windows), [`Error::Key`].
    pub fn build(self) -> Result<Collateral, Error> {
        let signer = self
            .signing_key
            .as_ref()
            .unwrap_or_else(|| self.pki.tcb_signing().key());
        let tcb_info = self.tcb_info.to_json()?;
        let qe_identity = self.qe_identity.to_json()?;
        let tcb_chain = self.pki.tcb_issuer_chain_pem();
        Ok(Collateral {
            pck_crl_issuer_chain: self.pki.pck_crl_issuer_chain_pem(self.pck_ca),
            root_ca_crl: self.pki.root_crl(&self.root_crl)?.der().to_vec(),
            pck_crl: self.pki.pck_crl(self.pck_ca, &self.pck_crl)?.der().to_vec(),
            tcb_info_issuer_chain: tcb_chain.clone(),
            tcb_info_signature: signer.sign(tcb_info.as_bytes())?.to_vec(),
            tcb_info,
            qe_identity_issuer_chain: tcb_chain,
            qe_identity_signature: signer.sign(qe_identity.as_bytes())?.to_vec(),
            qe_identity,
            pck_certificate_chain: self.pck_certificate_chain,
        })
    }
}
