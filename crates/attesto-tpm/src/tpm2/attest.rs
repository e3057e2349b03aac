//! TPMS_ATTEST (Part 2, 10.12.12) and TPML_PCR_SELECTION (10.9.7).

use crate::alg::HashAlg;
use crate::error::Error;
use crate::reader::Reader;
use crate::tpm2::read_hash;

/// TPM_GENERATED_VALUE: a TPM puts it in front of everything it signs with a restricted key
/// and refuses to sign external data that starts with it. That is what makes a signed
/// TPMS_ATTEST trustworthy.
pub const TPM_GENERATED_VALUE: u32 = 0xff54_4347;
/// TPM_ST_ATTEST_CERTIFY.
pub const TPM_ST_ATTEST_CERTIFY: u16 = 0x8017;
/// TPM_ST_ATTEST_QUOTE.
pub const TPM_ST_ATTEST_QUOTE: u16 = 0x8018;
/// TPM_ST_ATTEST_CREATION.
pub const TPM_ST_ATTEST_CREATION: u16 = 0x801A;

/// Upper bound on TPML_PCR_SELECTION entries (HASH_COUNT in the reference implementation).
const MAX_SELECTIONS: u32 = 16;
/// Upper bound on sizeofSelect: 4 bytes = PCRs 0..=31 (PC Client TPMs have 24).
const MAX_SELECT_BYTES: u8 = 4;

/// One TPMS_PCR_SELECTION: a bank and the PCRs selected in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcrSelection {
    /// The bank.
    pub hash: HashAlg,
    /// Bit n set = PCR n selected.
    pub pcrs: u32,
}

impl PcrSelection {
    /// The selected PCR indexes, ascending (the order the TPM concatenates them in).
    pub fn indexes(&self) -> impl Iterator<Item = u32> + '_ {
        (0..32u32).filter(|i| self.pcrs & (1u32 << i) != 0)
    }

    /// Reads a TPML_PCR_SELECTION.
    pub(crate) fn read_list(r: &mut Reader<'_>) -> Result<Vec<PcrSelection>, Error> {
        let count_at = r.offset();
        let count = r.u32_be("TPML_PCR_SELECTION.count")?;
        if count > MAX_SELECTIONS {
            return Err(r.error_at(
                "TPML_PCR_SELECTION.count",
                count_at,
                format!("{count} selections (at most {MAX_SELECTIONS})"),
            ));
        }
        let mut out: Vec<PcrSelection> = Vec::new();
        for _ in 0..count {
            let hash_at = r.offset();
            let hash = read_hash(r, "TPMS_PCR_SELECTION.hash")?;
            let size_at = r.offset();
            let size = r.u8("TPMS_PCR_SELECTION.sizeofSelect")?;
            if size > MAX_SELECT_BYTES {
                return Err(r.error_at(
                    "TPMS_PCR_SELECTION.sizeofSelect",
                    size_at,
                    format!("{size} bytes (at most {MAX_SELECT_BYTES})"),
                ));
            }
            let bitmap = r.bytes(usize::from(size), "TPMS_PCR_SELECTION.pcrSelect")?;
            // PCR i is bit i%8 of byte i/8.
            let pcrs = bitmap
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, byte)| acc | (u32::from(*byte) << (8 * i)));
            if out.iter().any(|s| s.hash == hash) {
                return Err(r.error_at(
                    "TPMS_PCR_SELECTION.hash",
                    hash_at,
                    format!("the {hash} bank is selected twice"),
                ));
            }
            out.push(PcrSelection { hash, pcrs });
        }
        Ok(out)
    }
}

/// TPMS_CLOCK_INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockInfo {
    /// Milliseconds the TPM has been powered.
    pub clock: u64,
    /// TPM resets since the last TPM2_Clear.
    pub reset_count: u32,
    /// TPM2_Shutdown/Startup cycles since the last reset (hibernate/resume counts).
    pub restart_count: u32,
    /// Whether `clock` is known not to have gone backwards.
    pub safe: bool,
}

/// TPMS_QUOTE_INFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteInfo {
    /// The quoted banks and PCRs, in the order the TPM hashed them.
    pub pcr_select: Vec<PcrSelection>,
    /// Hash (with the signing scheme's hash) of the selected PCR values.
    pub pcr_digest: Vec<u8>,
}

/// TPMS_CERTIFY_INFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifyInfo {
    /// Name of the certified object (nameAlg || H(TPMT_PUBLIC)).
    pub name: Vec<u8>,
    /// Its qualified name.
    pub qualified_name: Vec<u8>,
}

/// TPMS_CREATION_INFO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreationInfo {
    /// Name of the created object.
    pub object_name: Vec<u8>,
    /// creationHash.
    pub creation_hash: Vec<u8>,
}

/// The type-specific part of a TPMS_ATTEST.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attested {
    /// TPM2_Quote.
    Quote(QuoteInfo),
    /// TPM2_Certify.
    Certify(CertifyInfo),
    /// TPM2_CertifyCreation.
    Creation(CreationInfo),
}

/// A parsed TPMS_ATTEST. The raw bytes are kept: signatures are over them, not over a
/// re-encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attest {
    /// TPM_ST_ATTEST_* tag.
    pub attest_type: u16,
    /// Qualified name of the signing key.
    pub qualified_signer: Vec<u8>,
    /// extraData: the caller's qualifying data (nonce or key binding).
    pub extra_data: Vec<u8>,
    /// Clock state when signed.
    pub clock_info: ClockInfo,
    /// Vendor firmware version.
    pub firmware_version: u64,
    /// Type-specific content.
    pub attested: Attested,
    raw: Vec<u8>,
}

impl Attest {
    /// Parses a TPMS_ATTEST (exactly; no trailing bytes). Rejects anything that does not start
    /// with [`TPM_GENERATED_VALUE`] and attestation types other than quote, certify and
    /// creation.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::Malformed`], [`Error::TrailingBytes`],
    /// [`Error::NotTpmGenerated`], [`Error::Unsupported`], [`Error::UnsupportedAlgorithm`].
    pub fn parse(bytes: &[u8]) -> Result<Attest, Error> {
        let mut r = Reader::new(bytes, "TPMS_ATTEST");
        let magic = r.u32_be("magic")?;
        if magic != TPM_GENERATED_VALUE {
            return Err(Error::NotTpmGenerated { magic });
        }
        let attest_type = r.u16_be("type")?;
        let qualified_signer = r.tpm2b("qualifiedSigner")?.to_vec();
        let extra_data = r.tpm2b("extraData")?.to_vec();
        let clock_info = ClockInfo {
            clock: r.u64_be("clockInfo.clock")?,
            reset_count: r.u32_be("clockInfo.resetCount")?,
            restart_count: r.u32_be("clockInfo.restartCount")?,
            safe: {
                let at = r.offset();
                match r.u8("clockInfo.safe")? {
                    0 => false,
                    1 => true,
                    other => {
                        return Err(r.error_at(
                            "clockInfo.safe",
                            at,
                            format!("TPMI_YES_NO is {other}"),
                        ));
                    }
                }
            },
        };
        let firmware_version = r.u64_be("firmwareVersion")?;
        let attested = match attest_type {
            TPM_ST_ATTEST_QUOTE => {
                let pcr_select = PcrSelection::read_list(&mut r)?;
                let pcr_digest = r.tpm2b("pcrDigest")?.to_vec();
                Attested::Quote(QuoteInfo {
                    pcr_select,
                    pcr_digest,
                })
            }
            TPM_ST_ATTEST_CERTIFY => Attested::Certify(CertifyInfo {
                name: r.tpm2b("certify.name")?.to_vec(),
                qualified_name: r.tpm2b("certify.qualifiedName")?.to_vec(),
            }),
            TPM_ST_ATTEST_CREATION => Attested::Creation(CreationInfo {
                object_name: r.tpm2b("creation.objectName")?.to_vec(),
                creation_hash: r.tpm2b("creation.creationHash")?.to_vec(),
            }),
            other => {
                return Err(Error::Unsupported {
                    what: format!("attestation type 0x{other:04x}"),
                });
            }
        };
        r.finish()?;
        Ok(Attest {
            attest_type,
            qualified_signer,
            extra_data,
            clock_info,
            firmware_version,
            attested,
            raw: bytes.to_vec(),
        })
    }

    /// Parses a TPM2B_ATTEST: a big-endian u16 size, then exactly that TPMS_ATTEST.
    ///
    /// # Errors
    /// As [`Attest::parse`].
    pub fn parse_tpm2b(bytes: &[u8]) -> Result<Attest, Error> {
        let mut r = Reader::new(bytes, "TPM2B_ATTEST");
        let inner = r.tpm2b("size")?;
        r.finish()?;
        Attest::parse(inner)
    }

    /// The signed bytes.
    #[must_use]
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The quote part, if this is a quote.
    #[must_use]
    pub fn quote(&self) -> Option<&QuoteInfo> {
        match &self.attested {
            Attested::Quote(info) => Some(info),
            Attested::Certify(_) | Attested::Creation(_) => None,
        }
    }
}
