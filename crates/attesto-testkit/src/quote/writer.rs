//! An append-only byte buffer that reports where each field landed.

use std::ops::Range;

#[derive(Default)]
pub(crate) struct Out {
    bytes: Vec<u8>,
}

impl Out {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn put(&mut self, data: &[u8]) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(data);
        start..self.bytes.len()
    }

    pub(crate) fn u16(&mut self, value: u16) -> Range<usize> {
        self.put(&value.to_le_bytes())
    }

    pub(crate) fn u32(&mut self, value: u32) -> Range<usize> {
        self.put(&value.to_le_bytes())
    }

    pub(crate) fn zeros(&mut self, count: usize) -> Range<usize> {
        let start = self.bytes.len();
        self.bytes.resize(start + count, 0);
        start..self.bytes.len()
    }

    /// Overwrites a `u32` written earlier (a length known only once its content is written).
    pub(crate) fn patch_u32(&mut self, at: &Range<usize>, value: u32) {
        if let Some(slot) = self.bytes.get_mut(at.clone())
            && slot.len() == 4
        {
            slot.copy_from_slice(&value.to_le_bytes());
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}
