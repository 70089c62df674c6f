//! The fixed 32-byte blob header (see `FORMAT.md`).

use crate::crc32::crc32;
use crate::Error;

/// The four bytes every blob starts with.
pub const MAGIC: [u8; 4] = *b"MOTE";
/// The format version this runtime reads and the exporter writes.
pub const FORMAT_VERSION: u16 = 1;
/// Length of the fixed header; the manifest starts right after it.
pub const HEADER_LEN: usize = 32;
/// Tensor sections start at multiples of this, counted from the start of the blob.
pub const SECTION_ALIGN: usize = 16;
/// The CRC covers the blob from this offset to its end.
pub const CRC_START: usize = 16;

/// The decoded header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Format version (always [`FORMAT_VERSION`] after a successful parse).
    pub version: u16,
    /// Flag bits; none are defined in version 1, so this is 0.
    pub flags: u16,
    /// Length of the whole blob, header included.
    pub total_len: u32,
    /// CRC-32 of `blob[16..total_len]`.
    pub crc: u32,
    /// Length of the postcard manifest that follows the header.
    pub manifest_len: u32,
}

impl Header {
    /// Reads and checks the header of `blob`: magic, version, flags, length and CRC.
    pub fn parse(blob: &[u8]) -> Result<Header, Error> {
        let head = blob.get(..HEADER_LEN).ok_or(Error::TruncatedHeader)?;
        if head.get(0..4) != Some(&MAGIC[..]) {
            return Err(Error::BadMagic);
        }
        let header = Header {
            version: u16_at(head, 4),
            flags: u16_at(head, 6),
            total_len: u32_at(head, 8),
            crc: u32_at(head, 12),
            manifest_len: u32_at(head, 16),
        };
        if header.version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion);
        }
        if header.flags != 0 {
            return Err(Error::UnknownFlags);
        }
        if header.total_len as usize != blob.len() {
            return Err(Error::LengthMismatch);
        }
        let body = blob.get(CRC_START..).ok_or(Error::TruncatedHeader)?;
        if crc32(body) != header.crc {
            return Err(Error::ChecksumMismatch);
        }
        // The 12 reserved bytes, as three words: a byte loop unrolls to ~100 bytes of flash.
        if u32_at(head, 20) | u32_at(head, 24) | u32_at(head, 28) != 0 {
            return Err(Error::UnknownFlags);
        }
        Ok(header)
    }

    /// Writes this header into the first [`HEADER_LEN`] bytes of `out` (the CRC field as is).
    pub fn write(&self, out: &mut [u8; HEADER_LEN]) {
        out.fill(0);
        out[0..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&self.version.to_le_bytes());
        out[6..8].copy_from_slice(&self.flags.to_le_bytes());
        out[8..12].copy_from_slice(&self.total_len.to_le_bytes());
        out[12..16].copy_from_slice(&self.crc.to_le_bytes());
        out[16..20].copy_from_slice(&self.manifest_len.to_le_bytes());
    }

    /// Offset of the first byte after the manifest, rounded up to [`SECTION_ALIGN`]: where the
    /// tensor sections may begin.
    pub fn data_start(&self) -> usize {
        align_up(HEADER_LEN + self.manifest_len as usize)
    }
}

/// Rounds `n` up to the next multiple of [`SECTION_ALIGN`].
pub const fn align_up(n: usize) -> usize {
    n.div_ceil(SECTION_ALIGN) * SECTION_ALIGN
}

fn u16_at(head: &[u8], at: usize) -> u16 {
    let mut b = [0u8; 2];
    if let Some(src) = head.get(at..at + 2) {
        b.copy_from_slice(src);
    }
    u16::from_le_bytes(b)
}

fn u32_at(head: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(src) = head.get(at..at + 4) {
        b.copy_from_slice(src);
    }
    u32::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob of a header and 8 zero bytes with a correct CRC, `reserved_byte` set if given.
    fn blob_with(reserved_byte: Option<usize>) -> [u8; HEADER_LEN + 8] {
        let mut blob = [0u8; HEADER_LEN + 8];
        let header = Header {
            version: FORMAT_VERSION,
            flags: 0,
            total_len: blob.len() as u32,
            crc: 0,
            manifest_len: 8,
        };
        let mut head = [0u8; HEADER_LEN];
        header.write(&mut head);
        blob[..HEADER_LEN].copy_from_slice(&head);
        if let Some(at) = reserved_byte {
            blob[at] = 0x80;
        }
        let crc = crc32(&blob[CRC_START..]);
        blob[12..16].copy_from_slice(&crc.to_le_bytes());
        blob
    }

    #[test]
    fn a_header_with_zero_reserved_bytes_parses() {
        let header = Header::parse(&blob_with(None)).unwrap();
        assert_eq!(header.manifest_len, 8);
        assert_eq!(header.total_len as usize, HEADER_LEN + 8);
    }

    #[test]
    fn any_nonzero_reserved_byte_is_refused() {
        for at in 20..HEADER_LEN {
            assert_eq!(
                Header::parse(&blob_with(Some(at))),
                Err(Error::UnknownFlags),
                "reserved byte {at}"
            );
        }
    }
}
