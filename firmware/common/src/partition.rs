//! The model partition: a small header, the `.mote` blob and the int8 input rows, written by the
//! host at the flash address the board's `memory.x` reserves (layout in `firmware/README.md`).
//!
//! Everything here is checked arithmetic on a byte slice: a corrupt, truncated or missing
//! partition gives a [`PartitionError`], never a fault.

use mote_runtime::crc32::crc32;

/// The four bytes a partition starts with.
pub const MAGIC: [u8; 4] = *b"MOTP";
/// The partition layout version this firmware reads.
pub const VERSION: u16 = 1;
/// Length of the partition header.
pub const HEADER_LEN: usize = 32;
/// The blob and the rows start at multiples of this, counted from the partition start.
pub const ALIGN: usize = 16;

/// Why a partition was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, defmt::Format)]
pub enum PartitionError {
    /// The partition region is smaller than the header.
    TooSmall,
    /// No magic `MOTP`: nothing was written there (erased or zeroed flash) or it is not a partition.
    Missing,
    /// The layout version is not one this firmware reads.
    UnsupportedVersion,
    /// A flag bit is set that this firmware does not know.
    UnknownFlags,
    /// The blob or the rows lie outside the partition, overlap, or are misaligned.
    OutOfBounds,
    /// The CRC-32 over the header and the rows does not match.
    ChecksumMismatch,
    /// There are no input rows.
    NoRows,
}

/// A checked partition: the blob and the input rows, borrowed in place.
#[derive(Debug, Clone, Copy)]
pub struct Partition<'a> {
    /// The `.mote` blob.
    pub blob: &'a [u8],
    /// `row_count · row_len` int8 inputs, row after row.
    pub rows: &'a [u8],
    /// Number of input rows.
    pub row_count: u32,
    /// Elements per row.
    pub row_len: u32,
}

impl<'a> Partition<'a> {
    /// Reads and checks the partition at the start of `region`.
    pub fn parse(region: &'a [u8]) -> Result<Partition<'a>, PartitionError> {
        let head = region.get(..HEADER_LEN).ok_or(PartitionError::TooSmall)?;
        if head.get(0..4) != Some(&MAGIC[..]) {
            return Err(PartitionError::Missing);
        }
        if u16_at(head, 4) != VERSION {
            return Err(PartitionError::UnsupportedVersion);
        }
        if u16_at(head, 6) != 0 {
            return Err(PartitionError::UnknownFlags);
        }
        let blob_offset = u32_at(head, 8) as usize;
        let blob_len = u32_at(head, 12) as usize;
        let rows_offset = u32_at(head, 16) as usize;
        let row_count = u32_at(head, 20);
        let row_len = u32_at(head, 24);
        let crc = u32_at(head, 28);

        let blob_end = blob_offset
            .checked_add(blob_len)
            .ok_or(PartitionError::OutOfBounds)?;
        let rows_len = (row_count as usize)
            .checked_mul(row_len as usize)
            .ok_or(PartitionError::OutOfBounds)?;
        let rows_end = rows_offset
            .checked_add(rows_len)
            .ok_or(PartitionError::OutOfBounds)?;
        if blob_offset < HEADER_LEN
            || !blob_offset.is_multiple_of(ALIGN)
            || !rows_offset.is_multiple_of(ALIGN)
            || rows_offset < blob_end
        {
            return Err(PartitionError::OutOfBounds);
        }
        let blob = region
            .get(blob_offset..blob_end)
            .ok_or(PartitionError::OutOfBounds)?;
        let rows = region
            .get(rows_offset..rows_end)
            .ok_or(PartitionError::OutOfBounds)?;
        if checksum(head, rows) != crc {
            return Err(PartitionError::ChecksumMismatch);
        }
        if row_count == 0 || row_len == 0 {
            return Err(PartitionError::NoRows);
        }
        Ok(Partition {
            blob,
            rows,
            row_count,
            row_len,
        })
    }
}

/// CRC-32 over the header's first 28 bytes followed by the rows (the blob has its own CRC).
fn checksum(head: &[u8], rows: &[u8]) -> u32 {
    let header_crc = head.get(..HEADER_LEN - 4).map_or(0, crc32);
    crc32_continue(header_crc, rows)
}

/// Extends a finished CRC-32 `crc` over `more` bytes (the same as one CRC over both parts).
fn crc32_continue(crc: u32, more: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in more {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    let mut b = [0u8; 2];
    if let Some(s) = bytes.get(at..at + 2) {
        b.copy_from_slice(s);
    }
    u16::from_le_bytes(b)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = bytes.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_le_bytes(b)
}
