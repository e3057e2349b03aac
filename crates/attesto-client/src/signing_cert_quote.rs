//! The SGX quote an MAA signing certificate carries about the service itself.
//!
//! MAA runs in SGX and puts a quote from its own enclave into its self-signed token signing
//! certificate, binding the certificate's key: `report_data[0..32]` is SHA-256 of the public key
//! written as PEM text plus a terminating NUL (what Open Enclave's
//! `oe_verify_attestation_certificate` checks). A relying party that verifies this quote knows
//! the tokens were signed inside the enclave the quote describes. validatequotes.net makes this
//! check; so does `attesto validate --check-signing-cert-quote`.
//!
//! The extension value is a DER OCTET STRING holding the raw quote (seen on MAA's 2020
//! certificates under OID 1.2.840.113556.10.1.1; current MAA uses 1.3.6.1.4.1.311.105.1).
//! A raw quote without the OCTET STRING wrapper is accepted too.

use attesto_jose::cert::public_key_pem_hash;
use attesto_quote::{Collateral, ReportBody, TcbStatus, TrustAnchors, Verifier};
use rustls_pki_types::UnixTime;
use x509_parser::prelude::{FromDer as _, X509Certificate};

/// Current MAA's quote extension.
pub const QUOTE_EXTENSION_OID: &str = "1.3.6.1.4.1.311.105.1";
/// The extension on MAA's older certificates (and in Open Enclave's verifier).
pub const LEGACY_QUOTE_EXTENSION_OID: &str = "1.2.840.113556.10.1.1";
/// [`QUOTE_EXTENSION_OID`] as arcs, for writing certificates.
pub const QUOTE_EXTENSION_ARCS: [u64; 9] = [1, 3, 6, 1, 4, 1, 311, 105, 1];

/// What to verify the embedded quote against.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions<'a> {
    /// Roots the quote's PCK chain must reach (Intel's unless a test root is wanted).
    pub anchors: &'a TrustAnchors,
    /// Collateral for the quote's platform. With it the quote is verified completely (CRLs,
    /// TCB status, QE identity); without it only the PCK chain and both signatures.
    pub collateral: Option<&'a Collateral>,
    /// The verification time.
    pub time: UnixTime,
}

/// The result of looking for and verifying the quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertQuote {
    /// The certificate has no quote extension (validatequotes.net reports this and goes on).
    Absent {
        /// The certificate subject, for the report.
        subject: String,
    },
    /// The quote verified and binds the certificate's key.
    Verified(Box<VerifiedCertQuote>),
}

/// A verified embedded quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCertQuote {
    /// Which extension held it.
    pub oid: &'static str,
    /// The enclave (or TD) report of the service.
    pub report: ReportBody,
    /// The platform's TCB status, when collateral was given.
    pub tcb_status: Option<TcbStatus>,
    /// SHA-256 of the certificate key's PEM text plus NUL (equal to `report_data[0..32]`).
    pub key_hash: [u8; 32],
}

/// Why the embedded quote is not acceptable.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CertQuoteError {
    /// The certificate does not parse.
    #[error("the signing certificate does not parse: {reason}")]
    Certificate {
        /// The parser's message.
        reason: String,
    },
    /// The quote failed verification.
    #[error("the embedded quote does not verify: {0}")]
    Quote(#[from] attesto_quote::Error),
    /// The quote does not bind this certificate's key.
    #[error(
        "the embedded quote's report data {found} is not SHA-256 of the certificate key's PEM ({expected})"
    )]
    KeyNotBound {
        /// Hex of `SHA256(PEM || NUL)`.
        expected: String,
        /// Hex of `report_data[0..32]`.
        found: String,
    },
    /// The report data's second half is not zero, so it holds more than the key binding.
    #[error("the embedded quote's report data has non-zero bytes after the key hash")]
    ReportDataTail,
}

/// Finds the quote in `cert_der`, verifies it, and checks it binds the certificate's key.
///
/// # Errors
/// [`CertQuoteError`]; a certificate without the extension is `Ok(CertQuote::Absent)`.
pub fn check(cert_der: &[u8], options: &CheckOptions<'_>) -> Result<CertQuote, CertQuoteError> {
    let (_, cert) =
        X509Certificate::from_der(cert_der).map_err(|e| CertQuoteError::Certificate {
            reason: e.to_string(),
        })?;
    let Some((oid, value)) = find_extension(&cert) else {
        return Ok(CertQuote::Absent {
            subject: cert.subject().to_string(),
        });
    };
    let quote = unwrap_octet_string(value);
    let verifier = Verifier::with_trust_anchors(options.anchors.clone());
    let (report, tcb_status) = match options.collateral {
        Some(collateral) => {
            let verified = verifier.verify(quote, collateral, options.time)?;
            (verified.report, Some(verified.status))
        }
        None => {
            let signed = verifier.verify_signatures_and_chain(quote, options.time)?;
            (signed.report, None)
        }
    };
    let key_hash = public_key_pem_hash(cert.public_key().raw);
    let (bound, tail) = report.report_data().split_at(32);
    if bound != key_hash {
        return Err(CertQuoteError::KeyNotBound {
            expected: hex::encode(key_hash),
            found: hex::encode(bound),
        });
    }
    if tail.iter().any(|&b| b != 0) {
        return Err(CertQuoteError::ReportDataTail);
    }
    Ok(CertQuote::Verified(Box::new(VerifiedCertQuote {
        oid,
        report,
        tcb_status,
        key_hash,
    })))
}

/// The quote extension's value, preferring the current OID.
fn find_extension<'a>(cert: &'a X509Certificate<'_>) -> Option<(&'static str, &'a [u8])> {
    [QUOTE_EXTENSION_OID, LEGACY_QUOTE_EXTENSION_OID]
        .into_iter()
        .find_map(|wanted| {
            cert.extensions()
                .iter()
                .find(|ext| ext.oid.to_id_string() == wanted)
                .map(|ext| (wanted, ext.value))
        })
}

/// The content of a DER OCTET STRING spanning all of `value`, or `value` itself when it is not
/// one (a raw quote starts with its version, 3..=5, never with a matching OCTET STRING).
fn unwrap_octet_string(value: &[u8]) -> &[u8] {
    let Some((&0x04, rest)) = value.split_first() else {
        return value;
    };
    let Some((&first, rest)) = rest.split_first() else {
        return value;
    };
    let (len, content) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return value;
        }
        let (len_bytes, content) = rest.split_at(count);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, content)
    };
    if len == content.len() { content } else { value }
}

/// The extension value written by attesto: the quote as a DER OCTET STRING.
#[must_use]
pub fn extension_value(quote: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(quote.len() + 6);
    out.push(0x04);
    let len = quote.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0));
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octet_string_wrapping_round_trips() {
        for len in [0usize, 1, 127, 128, 255, 256, 4584, 70_000] {
            let quote: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let wrapped = extension_value(&quote);
            assert_eq!(unwrap_octet_string(&wrapped), quote.as_slice(), "len {len}");
        }
    }

    #[test]
    fn raw_quotes_are_left_alone() {
        // A v4 quote starts 04 00: an OCTET STRING of length 0 that does not span the value.
        let v4 = [4u8, 0, 2, 0, 0x81, 0, 0, 0];
        assert_eq!(unwrap_octet_string(&v4), &v4);
        let v3 = [3u8, 0, 2, 0];
        assert_eq!(unwrap_octet_string(&v3), &v3);
        assert_eq!(unwrap_octet_string(&[4]), &[4]);
        assert_eq!(
            unwrap_octet_string(&[4, 0x85, 1, 1, 1, 1, 1]),
            &[4, 0x85, 1, 1, 1, 1, 1]
        );
    }
}
