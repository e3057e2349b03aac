//! Base64url as JOSE writes it, and the tolerant reading MAA clients need.
//!
//! Encoding always produces the RFC 7515 §2 form: URL-safe alphabet, no padding. Decoding accepts
//! what real clients send: padding present or absent, and the standard alphabet (`+`, `/`) as well
//! as the URL-safe one (msrest, older SDKs and hand-written tools mix them up). It stays strict
//! about everything else: whitespace, stray bytes, a dangling symbol and non-canonical last
//! symbols are errors, so every decoded value has exactly one accepted spelling per alphabet and
//! padding choice.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::error::{Base64Problem, Error};

/// URL-safe alphabet, padding optional on input, never written on output.
const TOLERANT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Encodes bytes as base64url without padding (RFC 7515 §2).
#[must_use]
pub fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Encodes bytes as standard base64 with padding, the form `x5c` entries use (RFC 7517 §4.7).
#[must_use]
pub fn encode_std(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes base64url or standard base64, with or without padding.
///
/// # Errors
/// A [`Base64Problem`] naming the offending offset and byte.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Problem> {
    // Mapping the standard alphabet onto the URL-safe one is one byte for one byte, so offsets
    // in errors still point into the caller's text.
    if text.bytes().any(|b| b == b'+' || b == b'/') {
        let translated: String = text
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                other => other,
            })
            .collect();
        TOLERANT_URL_SAFE
            .decode(translated)
            .map_err(Base64Problem::from)
    } else {
        TOLERANT_URL_SAFE.decode(text).map_err(Base64Problem::from)
    }
}

/// [`decode`], naming the field in the error.
pub(crate) fn decode_field(text: &str, field: &'static str) -> Result<Vec<u8>, Error> {
    decode(text).map_err(|problem| Error::Base64 { field, problem })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_without_padding_in_the_url_alphabet() {
        assert_eq!(encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(encode_std(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn decodes_padding_optional_and_both_alphabets() {
        for text in ["-_8", "-_8=", "+/8", "+/8="] {
            assert_eq!(decode(text), Ok(vec![0xfb, 0xff]), "{text}");
        }
        assert_eq!(decode(""), Ok(vec![]));
    }

    #[test]
    fn rejects_garbage_with_its_offset() {
        assert_eq!(
            decode("ab c"),
            Err(Base64Problem::InvalidByte {
                offset: 2,
                byte: b' '
            })
        );
        assert_eq!(
            decode("abcde"),
            Err(Base64Problem::InvalidLength { length: 5 })
        );
        // "-_9" has non-zero trailing bits: no encoder writes it.
        assert!(matches!(
            decode("-_9"),
            Err(Base64Problem::InvalidLastSymbol { offset: 2, .. })
        ));
    }
}
