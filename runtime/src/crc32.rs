//! CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): the checksum in the blob header.
//!
//! The same CRC as zlib, PNG and `crc32fast`, so any tool can check a blob. The tables are
//! built at compile time; no dependency needed.
//!
//! By default the CRC runs four bits at a time from a 16-entry table (64 bytes of flash instead
//! of the 1 KiB a byte table takes, for about twice the instructions per byte; the CRC runs once,
//! at parse). The feature `crc-byte-table` selects the byte-at-a-time 256-entry table.

/// The CRC of each `BITS`-bit value (`N = 2^BITS` entries).
const fn build_table<const N: usize>(bits: u32) -> [u32; N] {
    let mut table = [0u32; N];
    let mut i = 0;
    while i < N {
        let mut c = i as u32;
        let mut k = 0;
        while k < bits {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    #[cfg(feature = "crc-byte-table")]
    return crc32_bytes(bytes);
    #[cfg(not(feature = "crc-byte-table"))]
    crc32_nibbles(bytes)
}

/// Byte at a time, 256-entry table (1 KiB).
#[cfg(any(test, feature = "crc-byte-table"))]
fn crc32_bytes(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = build_table::<256>(8);
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Four bits at a time, 16-entry table (64 bytes); low nibble first, as the CRC is reflected.
#[cfg(any(test, not(feature = "crc-byte-table")))]
fn crc32_nibbles(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc = crc32_nibbles_step(crc, b);
    }
    !crc
}

/// One byte of [`crc32_nibbles`]. Out of line on purpose: a call in the loop keeps LLVM from
/// unrolling it four times on Cortex-M (about 250 bytes of flash for a CRC that runs once).
#[cfg(any(test, not(feature = "crc-byte-table")))]
#[inline(never)]
fn crc32_nibbles_step(crc: u32, b: u8) -> u32 {
    const TABLE: [u32; 16] = build_table::<16>(4);
    let crc = TABLE[((crc ^ b as u32) & 0xF) as usize] ^ (crc >> 4);
    TABLE[((crc ^ (b >> 4) as u32) & 0xF) as usize] ^ (crc >> 4)
}

#[cfg(test)]
mod tests {
    use super::{crc32, crc32_bytes, crc32_nibbles};
    use proptest::prelude::*;

    #[test]
    fn matches_the_standard_check_value() {
        // The CRC catalogue's check value for CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32_nibbles(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32_bytes(b"123456789"), 0xCBF4_3926);
        // zlib's crc32 of these bytes.
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        assert_eq!(crc32(&[0xFF; 32]), 0xFF6C_AB0B);
    }

    proptest! {
        #[test]
        fn nibble_table_equals_byte_table(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(crc32_nibbles(&bytes), crc32_bytes(&bytes));
        }
    }
}
