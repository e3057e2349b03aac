//! UEFI event data: EFI_GUID and UEFI_VARIABLE_DATA (TCG PC Client PFP, 10.2.6).

use core::fmt;

use crate::error::Error;
use crate::reader::Reader;

/// An EFI_GUID as it is stored: the first three fields little-endian, the rest as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// EFI_GLOBAL_VARIABLE: SecureBoot, PK, KEK, Boot####, BootOrder.
    pub const EFI_GLOBAL_VARIABLE: Guid = Guid([
        0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b,
        0x8c,
    ]);
    /// EFI_IMAGE_SECURITY_DATABASE_GUID: db, dbx.
    pub const EFI_IMAGE_SECURITY_DATABASE: Guid = Guid([
        0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45, 0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65,
        0x6f,
    ]);
}

impl fmt::Display for Guid {
    /// Canonical upper-case form (`8BE4DF61-93CA-11D2-AA0D-00E098032B8C`), as MAA policies
    /// compare it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
            b[3],
            b[2],
            b[1],
            b[0],
            b[5],
            b[4],
            b[7],
            b[6],
            b[8],
            b[9],
            b[10],
            b[11],
            b[12],
            b[13],
            b[14],
            b[15]
        )
    }
}

/// UEFI_VARIABLE_DATA: which variable and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UefiVariableData {
    /// VariableName (the vendor GUID).
    pub guid: Guid,
    /// UnicodeName, decoded from UTF-16LE.
    pub name: String,
    /// VariableData.
    pub data: Vec<u8>,
}

impl UefiVariableData {
    /// Parses the data of an `EV_EFI_VARIABLE_*` event exactly.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::TrailingBytes`], or [`Error::Malformed`] for a name that
    /// is not UTF-16.
    pub fn parse(bytes: &[u8]) -> Result<UefiVariableData, Error> {
        let mut r = Reader::new(bytes, "UEFI_VARIABLE_DATA");
        let guid = Guid(r.array("VariableName")?);
        let name_len = r.u64_le("UnicodeNameLength")?;
        let data_len = r.u64_le("VariableDataLength")?;
        let name_at = r.offset();
        let name_bytes = r.bytes_u64(name_len.saturating_mul(2), "UnicodeName")?;
        let name = decode_utf16le(name_bytes)
            .ok_or_else(|| r.error_at("UnicodeName", name_at, "not UTF-16"))?;
        let data = r.bytes_u64(data_len, "VariableData")?.to_vec();
        r.finish()?;
        Ok(UefiVariableData { guid, name, data })
    }
}

/// UTF-16LE to a string, stopping at the first NUL; `None` if not valid UTF-16 or odd length.
pub(crate) fn decode_utf16le(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units = bytes
        .chunks_exact(2)
        .map(|pair| {
            u16::from_le_bytes([
                pair.first().copied().unwrap_or(0),
                pair.get(1).copied().unwrap_or(0),
            ])
        })
        .take_while(|unit| *unit != 0);
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}
