//! The key collateral is fetched and cached under.

use core::fmt;
use core::str::FromStr;

use attesto_quote::{CollateralKeyHint, PckCaKind, TeeType};

/// Which collateral a quote needs: the TEE (TCB info and QE identity flavour), the platform's
/// FMSPC (which TCB info) and the PCK CA (which PCK CRL).
///
/// Its string form, used as the store key and in messages, is
/// `"{sgx|tdx}/{fmspc, 12 lowercase hex digits}/{processor|platform}"`, e.g.
/// `sgx/00a067110000/processor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CollateralKey {
    /// SGX or TDX.
    pub tee: TeeType,
    /// Family-model-stepping-platform-customSKU of the platform.
    pub fmspc: [u8; 6],
    /// The CA that issued the platform's PCK certificate.
    pub ca: PckCaKind,
}

impl From<CollateralKeyHint> for CollateralKey {
    fn from(h: CollateralKeyHint) -> Self {
        Self {
            tee: h.tee,
            fmspc: h.fmspc,
            ca: h.ca,
        }
    }
}

impl CollateralKey {
    /// The key of a quote, read from the quote without verifying it
    /// ([`attesto_quote::collateral_key_hint`]): a lookup hint; full verification follows.
    ///
    /// # Errors
    /// The quote or its PCK certificate chain does not parse.
    pub fn from_quote(quote: &[u8]) -> Result<Self, attesto_quote::Error> {
        attesto_quote::collateral_key_hint(quote).map(Self::from)
    }

    /// The FMSPC as PCS spells it in URLs: 12 uppercase hex digits.
    #[must_use]
    pub fn fmspc_hex(&self) -> String {
        hex::encode_upper(self.fmspc)
    }
}

impl fmt::Display for CollateralKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.tee.as_str(),
            hex::encode(self.fmspc),
            self.ca.as_str()
        )
    }
}

/// A string that is not `tee/fmspc/ca`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a collateral key (expected sgx|tdx/<12 hex digits>/processor|platform): {0:?}")]
pub struct ParseKeyError(pub String);

impl FromStr for CollateralKey {
    type Err = ParseKeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseKeyError(s.to_owned());
        let mut parts = s.split('/');
        let (Some(tee), Some(fmspc), Some(ca), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err());
        };
        let tee = match tee {
            "sgx" => TeeType::Sgx,
            "tdx" => TeeType::Tdx,
            _ => return Err(err()),
        };
        let ca = match ca {
            "processor" => PckCaKind::Processor,
            "platform" => PckCaKind::Platform,
            _ => return Err(err()),
        };
        let mut bytes = [0u8; 6];
        hex::decode_to_slice(fmspc, &mut bytes).map_err(|_| err())?;
        Ok(Self {
            tee,
            fmspc: bytes,
            ca,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_form_round_trips() {
        let key = CollateralKey {
            tee: TeeType::Tdx,
            fmspc: [0xb0, 0xc0, 0x6f, 0, 0, 0],
            ca: PckCaKind::Platform,
        };
        assert_eq!(key.to_string(), "tdx/b0c06f000000/platform");
        assert_eq!(key.fmspc_hex(), "B0C06F000000");
        assert_eq!("tdx/b0c06f000000/platform".parse(), Ok(key));
        assert_eq!("tdx/B0C06F000000/platform".parse(), Ok(key));
        for bad in [
            "",
            "tdx/b0c06f000000",
            "tdx/b0c06f000000/platform/x",
            "tpm/b0c06f000000/platform",
            "tdx/b0c06f0000/platform",
            "tdx/b0c06f00000g/platform",
            "tdx/b0c06f000000/root",
        ] {
            assert!(bad.parse::<CollateralKey>().is_err(), "{bad}");
        }
    }
}
