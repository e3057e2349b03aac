//! One small bounds-checked reader for every binary format here. TPM structures are
//! big-endian, TCG/IMA logs little-endian; every error names the structure, the field and the
//! offset. Never panics, never reads past the end.

use crate::error::Error;

pub(crate) struct Reader<'a> {
    data: &'a [u8],
    /// Offset of `data[0]` in the whole input, so errors point into the original bytes.
    base: usize,
    pos: usize,
    structure: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], structure: &'static str) -> Reader<'a> {
        Reader {
            data,
            base: 0,
            pos: 0,
            structure,
        }
    }

    /// A reader over `data`, which starts at `base` in the whole input.
    pub(crate) fn with_base(data: &'a [u8], base: usize, structure: &'static str) -> Reader<'a> {
        Reader {
            data,
            base,
            pos: 0,
            structure,
        }
    }

    /// Absolute offset of the next byte.
    pub(crate) fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    pub(crate) fn bytes(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], Error> {
        let slice = self
            .pos
            .checked_add(len)
            .and_then(|end| self.data.get(self.pos..end));
        match slice {
            Some(slice) => {
                self.pos = self.pos.saturating_add(len);
                Ok(slice)
            }
            None => Err(Error::Truncated {
                structure: self.structure,
                field,
                offset: self.offset(),
                needed: len,
                available: self.remaining(),
            }),
        }
    }

    /// `len` given as a wire integer; lengths beyond `usize` are simply truncation.
    pub(crate) fn bytes_u64(&mut self, len: u64, field: &'static str) -> Result<&'a [u8], Error> {
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.bytes(len, field)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Error> {
        let slice = self.bytes(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Error> {
        Ok(u8::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u16_be(&mut self, field: &'static str) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u32_be(&mut self, field: &'static str) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u64_be(&mut self, field: &'static str) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u16_le(&mut self, field: &'static str) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u32_le(&mut self, field: &'static str) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u64_le(&mut self, field: &'static str) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// A TPM2B: a big-endian u16 size and that many bytes.
    pub(crate) fn tpm2b(&mut self, field: &'static str) -> Result<&'a [u8], Error> {
        let size = self.u16_be(field)?;
        self.bytes(usize::from(size), field)
    }

    /// A sub-reader over the next `len` bytes (this reader skips them); offsets stay absolute.
    pub(crate) fn sub(
        &mut self,
        len: usize,
        field: &'static str,
        structure: &'static str,
    ) -> Result<Reader<'a>, Error> {
        let base = self.offset();
        let data = self.bytes(len, field)?;
        Ok(Reader {
            data,
            base,
            pos: 0,
            structure,
        })
    }

    /// An error about the field that starts at `offset`.
    pub(crate) fn error_at(
        &self,
        field: &'static str,
        offset: usize,
        reason: impl Into<String>,
    ) -> Error {
        Error::malformed(self.structure, field, offset, reason)
    }

    /// Fails unless every byte has been read.
    pub(crate) fn finish(&self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes {
                structure: self.structure,
                offset: self.offset(),
                count: self.remaining(),
            })
        }
    }
}
