//! The model partition image the firmware reads (layout in `firmware/README.md`).
//!
//! ```text
//! offset 0   header (32 bytes, little-endian)
//!            0  magic "MOTP"       4  version u16 = 1     6  flags u16 = 0
//!            8  blob_offset u32   12  blob_len u32       16  rows_offset u32
//!           20  row_count u32     24  row_len u32        28  crc32 u32
//! blob_offset (= 32)                     the .mote blob
//! rows_offset (blob end rounded up to 16) row_count rows of row_len int8 values
//! ```
//!
//! `crc32` is the CRC-32 (the blob's own CRC, zlib's) of header bytes `0..28` followed by the
//! rows; the blob is covered by its own header CRC.

use crate::BoardError;
use mote_runtime::crc32::crc32;

/// The four bytes a partition starts with.
pub const MAGIC: [u8; 4] = *b"MOTP";
/// The layout version written.
pub const VERSION: u16 = 1;
/// Length of the partition header; the blob starts right after it.
pub const HEADER_LEN: usize = 32;
/// The blob and the rows start at multiples of this.
pub const ALIGN: usize = 16;

/// Lays out `blob` and `rows` (each `row_len` long) as a partition image.
pub fn write(blob: &[u8], rows: &[Vec<i8>], row_len: usize) -> Result<Vec<u8>, BoardError> {
    if rows.is_empty() {
        return Err(BoardError::Partition("no input rows".into()));
    }
    if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != row_len) {
        return Err(BoardError::Partition(format!(
            "row {i} has {} values, the model takes {row_len}",
            row.len()
        )));
    }
    let blob_offset = HEADER_LEN;
    let rows_offset = (blob_offset + blob.len()).next_multiple_of(ALIGN);
    let total = rows_offset + rows.len() * row_len;
    let field = |v: usize| {
        u32::try_from(v).map_err(|_| BoardError::Partition(format!("{v} does not fit in u32")))
    };
    let mut image = Vec::with_capacity(total);
    image.extend_from_slice(&MAGIC);
    image.extend_from_slice(&VERSION.to_le_bytes());
    image.extend_from_slice(&0u16.to_le_bytes());
    for v in [blob_offset, blob.len(), rows_offset, rows.len(), row_len] {
        image.extend_from_slice(&field(v)?.to_le_bytes());
    }
    image.extend_from_slice(&[0; 4]); // crc, filled in below
    image.extend_from_slice(blob);
    image.resize(rows_offset, 0);
    for row in rows {
        image.extend(row.iter().map(|&v| v as u8));
    }
    let mut covered = image[..HEADER_LEN - 4].to_vec();
    covered.extend_from_slice(&image[rows_offset..]);
    let crc = crc32(&covered);
    image[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_header_blob_and_rows() {
        let blob = [7u8; 21];
        let image = write(&blob, &[vec![1, -1], vec![2, -2]], 2).unwrap();
        assert_eq!(&image[..4], b"MOTP");
        let u32_at = |at: usize| u32::from_le_bytes(image[at..at + 4].try_into().unwrap());
        assert_eq!(u32_at(8), 32);
        assert_eq!(u32_at(12), 21);
        assert_eq!(u32_at(16), 64);
        assert_eq!((u32_at(20), u32_at(24)), (2, 2));
        assert_eq!(&image[32..53], &blob);
        assert_eq!(&image[64..], &[1, 255, 2, 254]);
        let mut covered = image[..28].to_vec();
        covered.extend_from_slice(&image[64..]);
        assert_eq!(u32_at(28), crc32(&covered));
    }

    #[test]
    fn rejects_rows_of_the_wrong_length() {
        assert!(write(&[0; 40], &[vec![1, 2, 3]], 2).is_err());
        assert!(write(&[0; 40], &[], 2).is_err());
    }
}
