//! A small reader for the postcard wire format: the few primitives the manifest and the layers
//! use (see `FORMAT.md`), decoded by hand so that an MLP firmware does not link serde's
//! generic deserialisation machinery (several KiB of flash for a few dozen bytes of manifest).
//!
//! Every read checks its bounds and fails with [`Error::ManifestDecode`] exactly where postcard
//! 1.x fails: truncated input, a varint longer than its type allows or overflowing it, an option
//! tag other than 0 or 1, a string that is not UTF-8. Nothing here panics.

use crate::Error;

/// A cursor over postcard bytes, borrowing strings from them.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

/// The one error every read reports.
const BAD: Error = Error::ManifestDecode;

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.bytes
    }

    /// One raw byte (`u8`; `i8` is its bits).
    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        let (&byte, tail) = self.bytes.split_first().ok_or(BAD)?;
        self.bytes = tail;
        Ok(byte)
    }

    /// The next `len` bytes, borrowed.
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], Error> {
        let (head, tail) = self.bytes.split_at_checked(len).ok_or(BAD)?;
        self.bytes = tail;
        Ok(head)
    }

    /// A `u32` varint (LEB128, at most 5 bytes, the fifth holding at most 4 bits). Like
    /// postcard, non-minimal encodings are accepted.
    #[inline(never)]
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        let mut out = 0u32;
        let mut shift = 0u32;
        while shift < 35 {
            let byte = self.u8()?;
            out |= ((byte & 0x7F) as u32) << shift;
            if byte & 0x80 == 0 {
                return if shift == 28 && byte > 0x0F {
                    Err(BAD)
                } else {
                    Ok(out)
                };
            }
            shift += 7;
        }
        Err(BAD)
    }

    /// An `i32`: a zigzag `u32` varint.
    pub(crate) fn i32(&mut self) -> Result<i32, Error> {
        let n = self.u32()?;
        Ok(((n >> 1) as i32) ^ -((n & 1) as i32))
    }

    /// An `f32`: four little-endian bytes.
    pub(crate) fn f32(&mut self) -> Result<f32, Error> {
        let mut bits = [0u8; 4];
        bits.copy_from_slice(self.take(4)?);
        Ok(f32::from_le_bytes(bits))
    }

    /// A `usize` varint (sequence and string lengths): as wide as postcard reads it on this
    /// target, a `u64` varint on 64-bit hosts.
    #[cfg(target_pointer_width = "64")]
    pub(crate) fn len(&mut self) -> Result<usize, Error> {
        let mut out = 0u64;
        let mut shift = 0u32;
        while shift < 70 {
            let byte = self.u8()?;
            out |= ((byte & 0x7F) as u64) << shift;
            if byte & 0x80 == 0 {
                return if shift == 63 && byte > 0x01 {
                    Err(BAD)
                } else {
                    usize::try_from(out).map_err(|_| BAD)
                };
            }
            shift += 7;
        }
        Err(BAD)
    }

    /// A `usize` varint (sequence and string lengths): a `u32` varint on 32-bit targets.
    #[cfg(not(target_pointer_width = "64"))]
    pub(crate) fn len(&mut self) -> Result<usize, Error> {
        usize::try_from(self.u32()?).map_err(|_| BAD)
    }

    /// A `&str`: a length, then that many UTF-8 bytes, borrowed.
    pub(crate) fn str(&mut self) -> Result<&'a str, Error> {
        let len = self.len()?;
        core::str::from_utf8(self.take(len)?).map_err(|_| BAD)
    }

    /// An option's tag: `false` for none, `true` when a value follows.
    pub(crate) fn some(&mut self) -> Result<bool, Error> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(BAD),
        }
    }

    /// An enum's variant index, which must be below `variants`.
    pub(crate) fn variant(&mut self, variants: u32) -> Result<u32, Error> {
        let index = self.u32()?;
        if index < variants {
            Ok(index)
        } else {
            Err(BAD)
        }
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
            prop_assert_eq!(reader.u32(), Ok(a));
            prop_assert_eq!(reader.i32(), Ok(b));
            prop_assert_eq!(reader.f32().map(f32::to_bits), Ok(c.to_bits()));
            prop_assert_eq!(reader.len(), Ok(d as usize));
            prop_assert_eq!(reader.str(), Ok(s.as_str()));
            prop_assert!(reader.rest().is_empty());
        }

        /// On any bytes, each primitive agrees with postcard: the same value and the same rest,
        /// or an error from both.
        #[test]
        fn primitives_agree_with_postcard(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let ours = |f: &dyn Fn(&mut Reader<'_>) -> Option<std::string::String>| {
                let mut reader = Reader::new(&bytes);
                f(&mut reader).map(|v| (v, reader.rest().len()))
            };
            fn theirs<'de, T: serde::Deserialize<'de> + core::fmt::Debug>(
                bytes: &'de [u8],
            ) -> Option<(std::string::String, usize)> {
                postcard::take_from_bytes::<T>(bytes)
                    .ok()
                    .map(|(v, rest)| (std::format!("{v:?}"), rest.len()))
            }
            let show = |v: &dyn core::fmt::Debug| std::format!("{v:?}");
            prop_assert_eq!(ours(&|r| r.u32().ok().map(|v| show(&v))), theirs::<u32>(&bytes));
            prop_assert_eq!(ours(&|r| r.i32().ok().map(|v| show(&v))), theirs::<i32>(&bytes));
            prop_assert_eq!(ours(&|r| r.f32().ok().map(|v| show(&v))), theirs::<f32>(&bytes));
            prop_assert_eq!(ours(&|r| r.len().ok().map(|v| show(&v))), theirs::<usize>(&bytes));
            prop_assert_eq!(ours(&|r| r.str().ok().map(|v| show(&v))), theirs::<&str>(&bytes));
            prop_assert_eq!(
                ours(&|r| r.some().ok().map(|v| show(&v.then_some(())))),
                theirs::<Option<()>>(&bytes)
            );
        }
    }

    #[test]
    fn varint_limits_match_postcard() {
        // Five bytes whose last holds more than the 4 bits left of a u32: refused.
        let over = [0xFF, 0xFF, 0xFF, 0xFF, 0x1F];
        assert!(Reader::new(&over).u32().is_err());
        assert!(postcard::from_bytes::<u32>(&over).is_err());
        let max = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F];
        assert_eq!(Reader::new(&max).u32(), Ok(u32::MAX));
        // Six bytes: too long.
        assert!(Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00])
            .u32()
            .is_err());
        // Non-minimal but in range: accepted, as postcard does.
        assert_eq!(Reader::new(&[0x81, 0x00]).u32(), Ok(1));
        assert_eq!(Reader::new(&[2]).variant(3), Ok(2));
        assert!(Reader::new(&[3]).variant(3).is_err());
    }
}
