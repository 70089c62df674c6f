//! A small reader for the postcard wire format: the few primitives the manifest and the layers
//! use (see `FORMAT.md`), decoded by hand so that an MLP firmware does not link serde's
//! generic deserialisation machinery (several KiB of flash for a few dozen bytes of manifest).
//!
//! Every read checks its bounds and fails with [`Error::ManifestDecode`] exactly where postcard
//! 1.x fails: truncated input, a varint longer than its type allows or overflowing it, an option
//! tag other than 0 or 1, a string that is not UTF-8. Nothing here panics.

use crate::Error;

/// A cursor over postcard bytes, borrowing strings from them.
///
/// Reads do not return `Result`s: the first failure marks the reader failed, empties it and
/// makes every later read return a zero value, and [`Reader::result`] turns the outcome into
/// an `Err` once, at the end. A decoder is then straight-line code (a call per field) instead
/// of a test and an early return after every field, which is most of its flash.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    failed: bool,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader {
            bytes,
            failed: false,
        }
    }

    /// The bytes not read yet (none once a read failed).
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// `Ok(value)` when every read so far succeeded, [`Error::ManifestDecode`] otherwise.
    pub(crate) fn result<T>(&self, value: T) -> Result<T, Error> {
        if self.failed {
            Err(Error::ManifestDecode)
        } else {
            Ok(value)
        }
    }

    /// Marks the reader failed: nothing more can be read.
    #[inline(never)]
    pub(crate) fn fail(&mut self) {
        self.failed = true;
        self.bytes = &[];
    }

    /// One raw byte (`u8`; `i8` is its bits).
    #[inline(never)]
    pub(crate) fn u8(&mut self) -> u8 {
        match self.bytes.split_first() {
            Some((&byte, tail)) => {
                self.bytes = tail;
                byte
            }
            None => {
                self.fail();
                0
            }
        }
    }

    /// The next `len` bytes, borrowed.
    pub(crate) fn take(&mut self, len: usize) -> &'a [u8] {
        match self.bytes.split_at_checked(len) {
            Some((head, tail)) => {
                self.bytes = tail;
                head
            }
            None => {
                self.fail();
                &[]
            }
        }
    }

    /// A `u32` varint (LEB128, at most 5 bytes, the fifth holding at most 4 bits). Like
    /// postcard, non-minimal encodings are accepted.
    #[inline(never)]
    pub(crate) fn u32(&mut self) -> u32 {
        let mut out = 0u32;
        // The shift passes through `black_box`, so LLVM cannot bound the loop at five bytes
        // and unroll it into five copies of the body (40 bytes of flash; parse only).
        let mut shift = 0u32;
        loop {
            let byte = self.u8();
            out |= ((byte & 0x7F) as u32).wrapping_shl(shift);
            if byte & 0x80 == 0 {
                if shift == 28 && byte > 0x0F {
                    break;
                }
                return out;
            }
            shift = core::hint::black_box(shift + 7);
            if shift > 28 {
                break;
            }
        }
        self.fail();
        0
    }

    /// An `i32`: a zigzag `u32` varint.
    #[inline(never)]
    pub(crate) fn i32(&mut self) -> i32 {
        let n = self.u32();
        ((n >> 1) as i32) ^ -((n & 1) as i32)
    }

    /// An `f32`: four little-endian bytes.
    #[inline(never)]
    pub(crate) fn f32(&mut self) -> f32 {
        let mut bits = [0u8; 4];
        if let Ok(bytes) = <[u8; 4]>::try_from(self.take(4)) {
            bits = bytes;
        }
        f32::from_le_bytes(bits)
    }

    /// A `usize` varint (sequence and string lengths): as wide as postcard reads it on this
    /// target, a `u64` varint on 64-bit hosts.
    #[cfg(target_pointer_width = "64")]
    pub(crate) fn len(&mut self) -> usize {
        let mut out = 0u64;
        let mut shift = 0u32;
        while shift < 70 {
            let byte = self.u8();
            out |= ((byte & 0x7F) as u64) << shift;
            if byte & 0x80 == 0 {
                if shift == 63 && byte > 0x01 {
                    break;
                }
                return out as usize;
            }
            shift += 7;
        }
        self.fail();
        0
    }

    /// A `usize` varint (sequence and string lengths): a `u32` varint on 32-bit targets.
    #[cfg(not(target_pointer_width = "64"))]
    pub(crate) fn len(&mut self) -> usize {
        self.u32() as usize
    }

    /// A `&str`: a length, then that many UTF-8 bytes, borrowed.
    #[inline(never)]
    pub(crate) fn str(&mut self) -> &'a str {
        let len = self.len();
        match crate::kernels::utf8::as_str(self.take(len)) {
            Some(text) => text,
            None => {
                self.fail();
                ""
            }
        }
    }

    /// An option's tag: `false` for none, `true` when a value follows.
    pub(crate) fn some(&mut self) -> bool {
        match self.u8() {
            0 => false,
            1 => true,
            _ => {
                self.fail();
                false
            }
        }
    }

    /// An enum's variant index, which must be below `variants` (0 after a failure).
    #[inline(never)]
    pub(crate) fn variant(&mut self, variants: u32) -> u32 {
        let index = self.u32();
        if index >= variants {
            self.fail();
            return 0;
        }
        index
    }
}

#[cfg(test)]
mod tests {
    use super::Reader;
    use proptest::prelude::*;

    fn encoded<T: serde::Serialize>(value: &T) -> std::vec::Vec<u8> {
        let mut buf = [0u8; 64];
        postcard::to_slice(value, &mut buf).unwrap().to_vec()
    }

    proptest! {
        #[test]
        fn primitives_round_trip(a: u32, b: i32, c: f32, d: u64, s in "\\PC{0,12}") {
            let mut r = std::vec::Vec::new();
            r.extend(encoded(&a));
            r.extend(encoded(&b));
            r.extend(encoded(&c));
            r.extend(encoded(&(d as usize)));
            r.extend(encoded(&s.as_str()));
            let mut reader = Reader::new(&r);
            prop_assert_eq!(reader.u32(), a);
            prop_assert_eq!(reader.i32(), b);
            prop_assert_eq!(reader.f32().to_bits(), c.to_bits());
            prop_assert_eq!(reader.len(), d as usize);
            prop_assert_eq!(reader.str(), s.as_str());
            prop_assert!(reader.rest().is_empty());
            prop_assert_eq!(reader.result(()), Ok(()));
        }

        /// On any bytes, each primitive agrees with postcard: the same value and the same rest,
        /// or an error from both.
        #[test]
        fn primitives_agree_with_postcard(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let ours = |f: &dyn Fn(&mut Reader<'_>) -> std::string::String| {
                let mut reader = Reader::new(&bytes);
                let value = f(&mut reader);
                reader.result((value, reader.rest().len())).ok()
            };
            fn theirs<'de, T: serde::Deserialize<'de> + core::fmt::Debug>(
                bytes: &'de [u8],
            ) -> Option<(std::string::String, usize)> {
                postcard::take_from_bytes::<T>(bytes)
                    .ok()
                    .map(|(v, rest)| (std::format!("{v:?}"), rest.len()))
            }
            let show = |v: &dyn core::fmt::Debug| std::format!("{v:?}");
            prop_assert_eq!(ours(&|r| show(&r.u32())), theirs::<u32>(&bytes));
            prop_assert_eq!(ours(&|r| show(&r.i32())), theirs::<i32>(&bytes));
            prop_assert_eq!(ours(&|r| show(&r.f32())), theirs::<f32>(&bytes));
            prop_assert_eq!(ours(&|r| show(&r.len())), theirs::<usize>(&bytes));
            prop_assert_eq!(ours(&|r| show(&r.str())), theirs::<&str>(&bytes));
            prop_assert_eq!(
                ours(&|r| show(&r.some().then_some(()))),
                theirs::<Option<()>>(&bytes)
            );
        }
    }

    fn u32_of(bytes: &[u8]) -> Result<u32, crate::Error> {
        let mut reader = Reader::new(bytes);
        let value = reader.u32();
        reader.result(value)
    }

    #[test]
    fn varint_limits_match_postcard() {
        // Five bytes whose last holds more than the 4 bits left of a u32: refused.
        let over = [0xFF, 0xFF, 0xFF, 0xFF, 0x1F];
        assert!(u32_of(&over).is_err());
        assert!(postcard::from_bytes::<u32>(&over).is_err());
        assert_eq!(u32_of(&[0xFF, 0xFF, 0xFF, 0xFF, 0x0F]), Ok(u32::MAX));
        // Six bytes: too long.
        assert!(u32_of(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]).is_err());
        // Non-minimal but in range: accepted, as postcard does.
        assert_eq!(u32_of(&[0x81, 0x00]), Ok(1));
    }

    #[test]
    fn a_failed_read_sticks() {
        let mut reader = Reader::new(&[2, 3, 0x80]);
        assert_eq!(reader.variant(3), 2);
        assert_eq!(reader.result(()), Ok(()));
        assert_eq!(reader.variant(3), 0);
        assert!(reader.failed);
        // Nothing more is read, even though a byte was left.
        assert!(reader.rest().is_empty());
        assert_eq!(reader.u8(), 0);
        assert_eq!(reader.result(()), Err(crate::Error::ManifestDecode));
    }
}
