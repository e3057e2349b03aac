//! Independent readers for what the testkit writes: a quote parser written from the spec
//! (`/work/shared/docs/dcap.md` section 2), a PEM chain splitter and signature checks.
//! They share no code with the crate, so they check it rather than echo it.

use std::ops::Range;

use anyhow::{Context, Result, anyhow, bail, ensure};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

/// A quote as read from bytes, with the ranges of its parts.
#[derive(Debug)]
pub struct ParsedQuote {
    pub version: u16,
    pub key_type: u16,
    pub tee_type: u32,
    pub vendor_id: [u8; 16],
    pub body_type: Option<u16>,
    pub body: Range<usize>,
    pub signed: Range<usize>,
    pub quote_signature: Range<usize>,
    pub attestation_key: Range<usize>,
    pub outer_cert_type: u16,
    pub qe_report: Range<usize>,
    pub qe_report_signature: Range<usize>,
    pub qe_auth_data: Range<usize>,
    pub chain_type: u16,
    pub chain: Range<usize>,
    /// Where the signature data ends (trailing bytes after it are padding).
    pub end: usize,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<Range<usize>> {
        let end = self.pos.checked_add(n).context("overflow")?;
        ensure!(
            end <= self.bytes.len(),
            "truncated at {what} (@{})",
            self.pos
        );
        let r = self.pos..end;
        self.pos = end;
        Ok(r)
    }
    fn u16(&mut self, what: &str) -> Result<u16> {
        let r = self.take(2, what)?;
        Ok(u16::from_le_bytes(self.bytes[r].try_into()?))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        let r = self.take(4, what)?;
        Ok(u32::from_le_bytes(self.bytes[r].try_into()?))
    }
}

pub fn parse_quote(bytes: &[u8]) -> Result<ParsedQuote> {
    let mut c = Cursor { bytes, pos: 0 };
    let version = c.u16("version")?;
    let key_type = c.u16("key type")?;
    let tee_type = c.u32("tee type")?;
    c.take(4, "svns")?;
    let vendor = c.take(16, "vendor")?;
    c.take(20, "user data")?;
    let (body_type, body_len) = match (version, tee_type) {
        (3, _) | (4, 0) => (None, 384),
        (4, 0x81) => (None, 584),
        (5, _) => {
            let t = c.u16("body type")?;
            let size = c.u32("body size")? as usize;
            let expected = match t {
                1 => 384,
                2 => 584,
                3 => 648,
                4 => 885,
                other => bail!("unknown body type {other}"),
            };
            ensure!(size == expected, "body size {size} for type {t}");
            (Some(t), size)
        }
        other => bail!("unknown version/tee {other:?}"),
    };
    let body = c.take(body_len, "body")?;
    let signed = 0..body.end;
    let sig_len = c.u32("sig data len")? as usize;
    let end = c.pos + sig_len;
    ensure!(end <= bytes.len(), "signature data length past the end");
    let quote_signature = c.take(64, "quote sig")?;
    let attestation_key = c.take(64, "attestation key")?;
    let qe_section = |c: &mut Cursor<'_>| -> Result<_> {
        let qe_report = c.take(384, "qe report")?;
        let qe_report_signature = c.take(64, "qe sig")?;
        let auth_len = c.u16("auth len")? as usize;
        let qe_auth_data = c.take(auth_len, "auth data")?;
        let chain_type = c.u16("cert type")?;
        let chain_len = c.u32("cert size")? as usize;
        let chain = c.take(chain_len, "cert data")?;
        Ok((
            qe_report,
            qe_report_signature,
            qe_auth_data,
            chain_type,
            chain,
        ))
    };
    let (outer_cert_type, (qe_report, qe_report_signature, qe_auth_data, chain_type, chain)) =
        if version == 3 {
            let section = qe_section(&mut c)?;
            (section.3, section)
        } else {
            let outer = c.u16("outer cert type")?;
            ensure!(outer == 6, "outer certification data type {outer}");
            let size = c.u32("outer cert size")? as usize;
            let start = c.pos;
            let section = qe_section(&mut c)?;
            ensure!(
                c.pos - start == size,
                "type 6 size {size} != content {}",
                c.pos - start
            );
            (outer, section)
        };
    ensure!(
        c.pos == end,
        "signature data length {sig_len} does not end at the cert data"
    );
    Ok(ParsedQuote {
        version,
        key_type,
        tee_type,
        vendor_id: bytes[vendor].try_into()?,
        body_type,
        body,
        signed,
        quote_signature,
        attestation_key,
        outer_cert_type,
        qe_report,
        qe_report_signature,
        qe_auth_data,
        chain_type,
        chain,
        end,
    })
}

/// DER of each certificate in a PEM chain (NUL terminator tolerated).
pub fn pem_chain_ders(pem: &[u8]) -> Result<Vec<Vec<u8>>> {
    let text = std::str::from_utf8(pem)?.trim_end_matches('\0');
    x509_parser::pem::Pem::iter_from_buffer(text.as_bytes())
        .map(|p| Ok(p?.contents))
        .collect()
}

/// The uncompressed P-256 point in a certificate.
pub fn cert_public_key(der: &[u8]) -> Result<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)?;
    Ok(cert.public_key().subject_public_key.data.to_vec())
}

pub fn verify_fixed(public_sec1: &[u8], message: &[u8], sig: &[u8]) -> Result<()> {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_sec1)
        .verify(message, sig)
        .map_err(|_| anyhow!("ECDSA (r||s) signature does not verify"))
}

pub fn verify_asn1(public_sec1: &[u8], message: &[u8], sig: &[u8]) -> Result<()> {
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_sec1)
        .verify(message, sig)
        .map_err(|_| anyhow!("ECDSA (DER) signature does not verify"))
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// Top-level keys of a JSON object, in document order.
pub fn keys_in_order(json: &str) -> Result<Vec<String>> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut keys = Vec::new();
            while let Some((k, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                keys.push(k);
            }
            Ok(keys)
        }
    }
    Ok(serde_json::Deserializer::from_str(json).deserialize_map(Keys)?)
}

/// The raw JSON text of `object[key]` (for nested objects whose order matters).
pub fn raw_member(json: &str, key: &str) -> Result<String> {
    let map: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_str(json)?;
    Ok(map.get(key).context("missing key")?.get().to_owned())
}

/// The raw JSON text of `object[key][index]`.
pub fn raw_element(json: &str, key: &str, index: usize) -> Result<String> {
    let array: Vec<Box<serde_json::value::RawValue>> =
        serde_json::from_str(&raw_member(json, key)?)?;
    Ok(array
        .get(index)
        .context("missing element")?
        .get()
        .to_owned())
}

pub fn testdata(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(path)
}
