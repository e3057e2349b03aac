//! Synthetic TPM evidence signed with keys generated here, for cases no real quote covers
//! (other selections, ECDSA and RSA-PSS AIKs, certify). The encodings follow TPM 2.0 Part 2
//! and are checked against the real quotes by the parser tests.

use attesto_tpm::HashAlg;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};

/// TPMA_OBJECT of a typical AK: fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth |
/// restricted | sign.
pub const AK_ATTRIBUTES: u32 = 0x0005_0072;

pub fn tpm2b(bytes: &[u8]) -> Vec<u8> {
    let mut out = u16::try_from(bytes.len())
        .expect("fits")
        .to_be_bytes()
        .to_vec();
    out.extend_from_slice(bytes);
    out
}

/// TPML_PCR_SELECTION of `(bank, mask)` pairs, 3-byte bitmaps.
pub fn selection(banks: &[(HashAlg, u32)]) -> Vec<u8> {
    let mut out = u32::try_from(banks.len())
        .expect("fits")
        .to_be_bytes()
        .to_vec();
    for (bank, mask) in banks {
        out.extend_from_slice(&bank.tpm_alg_id().to_be_bytes());
        out.push(3);
        out.extend_from_slice(&mask.to_le_bytes()[..3]);
    }
    out
}

fn attest_header(tag: u16, extra_data: &[u8]) -> Vec<u8> {
    let mut out = 0xff54_4347u32.to_be_bytes().to_vec();
    out.extend_from_slice(&tag.to_be_bytes());
    out.extend_from_slice(&tpm2b(&[0x00, 0x0b, 0xaa, 0xbb]));
    out.extend_from_slice(&tpm2b(extra_data));
    out.extend_from_slice(&1234u64.to_be_bytes()); // clock
    out.extend_from_slice(&5u32.to_be_bytes()); // resetCount
    out.extend_from_slice(&0u32.to_be_bytes()); // restartCount
    out.push(1); // safe
    out.extend_from_slice(&0x2016_0511_0016_2800u64.to_be_bytes());
    out
}

/// A TPMS_ATTEST quote.
pub fn quote(extra_data: &[u8], banks: &[(HashAlg, u32)], pcr_digest: &[u8]) -> Vec<u8> {
    let mut out = attest_header(0x8018, extra_data);
    out.extend_from_slice(&selection(banks));
    out.extend_from_slice(&tpm2b(pcr_digest));
    out
}

/// A TPMS_ATTEST certification of an object `name`.
pub fn certify(extra_data: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = attest_header(0x8017, extra_data);
    out.extend_from_slice(&tpm2b(name));
    out.extend_from_slice(&tpm2b(name));
    out
}

/// pcrDigest over values in selection order.
pub fn pcr_digest(hash: HashAlg, values: &[&[u8]]) -> Vec<u8> {
    hash.digest_parts(values)
}

/// An ECDSA P-256 attestation key.
pub struct EcdsaAk {
    pub pair: EcdsaKeyPair,
}

impl EcdsaAk {
    pub fn generate() -> EcdsaAk {
        EcdsaAk {
            pair: EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                .expect("keygen"),
        }
    }

    /// TPMT_PUBLIC with the given attributes.
    pub fn tpmt_public(&self, attributes: u32) -> Vec<u8> {
        let point = self.pair.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        let mut out = 0x0023u16.to_be_bytes().to_vec(); // TPM_ALG_ECC
        out.extend_from_slice(&0x000bu16.to_be_bytes()); // nameAlg SHA-256
        out.extend_from_slice(&attributes.to_be_bytes());
        out.extend_from_slice(&tpm2b(&[]));
        out.extend_from_slice(&0x0010u16.to_be_bytes()); // symmetric NULL
        out.extend_from_slice(&0x0018u16.to_be_bytes()); // ECDSA
        out.extend_from_slice(&0x000bu16.to_be_bytes()); // SHA-256
        out.extend_from_slice(&0x0003u16.to_be_bytes()); // NIST P-256
        out.extend_from_slice(&0x0010u16.to_be_bytes()); // kdf NULL
        out.extend_from_slice(&tpm2b(x));
        out.extend_from_slice(&tpm2b(y));
        out
    }

    /// TPMT_SIGNATURE (ECDSA, SHA-256) over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig = self.pair.sign(&SystemRandom::new(), message).expect("sign");
        let (r, s) = sig.as_ref().split_at(32);
        let mut out = 0x0018u16.to_be_bytes().to_vec();
        out.extend_from_slice(&0x000bu16.to_be_bytes());
        out.extend_from_slice(&tpm2b(r));
        out.extend_from_slice(&tpm2b(s));
        out
    }
}

/// An RSA-2048 attestation key signing with RSASSA or RSAPSS (SHA-256).
pub struct RsaAk {
    pub pair: RsaKeyPair,
}

impl RsaAk {
    pub fn generate() -> RsaAk {
        RsaAk {
            pair: RsaKeyPair::generate(KeySize::Rsa2048).expect("keygen"),
        }
    }

    pub fn modulus(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec()
    }

    pub fn tpmt_public(&self, attributes: u32) -> Vec<u8> {
        let mut out = 0x0001u16.to_be_bytes().to_vec(); // TPM_ALG_RSA
        out.extend_from_slice(&0x000bu16.to_be_bytes());
        out.extend_from_slice(&attributes.to_be_bytes());
        out.extend_from_slice(&tpm2b(&[]));
        out.extend_from_slice(&0x0010u16.to_be_bytes()); // symmetric NULL
        out.extend_from_slice(&0x0010u16.to_be_bytes()); // scheme NULL (any)
        out.extend_from_slice(&2048u16.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes()); // exponent 0 = 65537
        out.extend_from_slice(&tpm2b(&self.modulus()));
        out
    }

    /// TPMT_SIGNATURE over `message`; `pss` selects RSAPSS instead of RSASSA.
    pub fn sign(&self, message: &[u8], pss: bool) -> Vec<u8> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        let (scheme, padding): (u16, &'static dyn signature::RsaEncoding) = if pss {
            (0x0016, &signature::RSA_PSS_SHA256)
        } else {
            (0x0014, &signature::RSA_PKCS1_SHA256)
        };
        self.pair
            .sign(padding, &SystemRandom::new(), message, &mut sig)
            .expect("sign");
        let mut out = scheme.to_be_bytes().to_vec();
        out.extend_from_slice(&0x000bu16.to_be_bytes());
        out.extend_from_slice(&tpm2b(&sig));
        out
    }
}
