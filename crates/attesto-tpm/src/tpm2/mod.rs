//! TPM 2.0 structures (TPM 2.0 Library, Part 2): TPMS_ATTEST, TPMT_SIGNATURE, TPMT_PUBLIC,
//! TPML_PCR_SELECTION. All big-endian; hand-written parsers over one bounds-checked reader,
//! rejecting trailing bytes.

mod attest;
mod public;
mod signature;

pub use attest::{
    Attest, Attested, CertifyInfo, ClockInfo, CreationInfo, PcrSelection, QuoteInfo,
    TPM_GENERATED_VALUE, TPM_ST_ATTEST_CERTIFY, TPM_ST_ATTEST_CREATION, TPM_ST_ATTEST_QUOTE,
};
pub use public::{EccCurve, ObjectType, Public, PublicDetail, tpma};
pub use signature::Signature;

use crate::alg::HashAlg;
use crate::error::Error;
use crate::reader::Reader;

/// TPM_ALG_NULL.
pub(crate) const TPM_ALG_NULL: u16 = 0x0010;

/// Reads a TPMI_ALG_HASH that must be a supported hash.
pub(crate) fn read_hash(r: &mut Reader<'_>, field: &'static str) -> Result<HashAlg, Error> {
    let id = r.u16_be(field)?;
    HashAlg::from_tpm_alg_id(id).ok_or(Error::UnsupportedAlgorithm {
        context: field,
        alg: id,
    })
}
