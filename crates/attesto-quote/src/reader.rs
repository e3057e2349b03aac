//! A small bounds-checked little-endian reader. Every error names the field and its offset.

use crate::error::Error;

/// Reads fields front to back from a byte slice; never panics, never reads past the end.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    /// Offset of `data[0]` in the whole quote, so errors point into the original bytes.
    base: usize,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], base: usize) -> Self {
        Self { data, base, pos: 0 }
    }

    /// Absolute offset of the next byte.
    pub(crate) fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub(crate) fn bytes(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(len);
        match end.and_then(|end| self.data.get(self.pos..end).map(|s| (s, end))) {
            Some((slice, end)) => {
                self.pos = end;
                Ok(slice)
            }
            None => Err(Error::QuoteTruncated {
                field,
                offset: self.offset(),
                needed: len,
                available: self.remaining(),
            }),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Error> {
        let slice = self.bytes(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Error> {
        Ok(u8::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// A sub-reader over the next `len` bytes; this reader skips them.
    pub(crate) fn sub(&mut self, len: usize, field: &'static str) -> Result<Reader<'a>, Error> {
        let base = self.offset();
        let data = self.bytes(len, field)?;
        Ok(Reader::new(data, base))
    }

    /// Fails unless every byte has been read.
    pub(crate) fn finish(&self, field: &'static str) -> Result<(), Error> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(Error::QuoteMalformed {
                field,
                offset: self.offset(),
                reason: "unexpected bytes after the last field",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_reports_offsets() {
        let data = [1u8, 0, 2, 0, 0, 0, 9];
        let mut r = Reader::new(&data, 100);
        assert_eq!(r.u16("a").ok(), Some(1));
        assert_eq!(r.u32("b").ok(), Some(2));
        let err = r.u16("c").err();
        assert!(matches!(
            err,
            Some(Error::QuoteTruncated {
                field: "c",
                offset: 106,
                needed: 2,
                available: 1
            })
        ));
        assert!(r.bytes(usize::MAX, "huge").is_err());
        assert_eq!(r.u8("d").ok(), Some(9));
        assert!(r.finish("end").is_ok());
    }
}
