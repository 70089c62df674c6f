//! A compact UTF-8 check for the manifest's strings.
//!
//! `core::str::from_utf8` is built for speed on long text (word-at-a-time ASCII scanning and a
//! 256-entry width table): about 800 bytes of flash, to check a few dozen bytes of provenance
//! once at parse. This byte-at-a-time check accepts exactly the same inputs (the tests compare
//! it with `core` exhaustively up to three bytes and on random text) in about a tenth of that.
//! It lives with the kernels because turning the checked bytes into a `&str` is `unsafe`.

/// `bytes` as a `&str` if they are well-formed UTF-8 (RFC 3629: no overlong forms, no
/// surrogates, nothing above U+10FFFF), `None` otherwise; the same answer as
/// `core::str::from_utf8(bytes).ok()`.
#[inline(never)]
pub(crate) fn as_str(bytes: &[u8]) -> Option<&str> {
    // Continuation bytes still expected, and the range the next one must be in.
    let mut pending = 0u8;
    let (mut low, mut high) = (0x80u8, 0xBFu8);
    for &byte in bytes {
        if pending > 0 {
            if byte < low || byte > high {
                return None;
            }
            pending -= 1;
            (low, high) = (0x80, 0xBF);
            continue;
        }
        pending = match byte {
            0x00..=0x7F => 0,
            0xC2..=0xDF => 1,
            0xE0..=0xEF => 2,
            0xF0..=0xF4 => 3,
            _ => return None,
        };
        // The first continuation byte is narrower after these four leads: that excludes
        // overlong forms, surrogates and code points above U+10FFFF.
        (low, high) = match byte {
            0xE0 => (0xA0, 0xBF),
            0xED => (0x80, 0x9F),
            0xF0 => (0x90, 0xBF),
            0xF4 => (0x80, 0x8F),
            _ => (0x80, 0xBF),
        };
    }
    if pending > 0 {
        return None;
    }
    // SAFETY: the loop above walked every byte of `bytes` and returned `None` unless each
    // sequence (no sequence is left incomplete at the end) is a well-formed UTF-8 encoding of
    // one scalar value (the table of RFC 3629,
    // section 4), which is exactly the invariant `str` requires.
    Some(unsafe { core::str::from_utf8_unchecked(bytes) })
}

#[cfg(test)]
mod tests {
    use super::as_str;
    use proptest::prelude::*;

    fn agrees(bytes: &[u8]) -> bool {
        as_str(bytes) == core::str::from_utf8(bytes).ok()
    }

    #[test]
    fn equals_core_on_every_input_up_to_three_bytes() {
        assert!(agrees(&[]));
        for a in 0..=255u8 {
            assert!(agrees(&[a]), "{a:02x}");
            for b in 0..=255u8 {
                assert!(agrees(&[a, b]), "{a:02x} {b:02x}");
                for c in 0..=255u8 {
                    assert!(agrees(&[a, b, c]), "{a:02x} {b:02x} {c:02x}");
                }
            }
        }
    }

    #[test]
    fn equals_core_on_four_bytes_at_every_range_boundary() {
        const EDGES: [u8; 12] = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xF4, 0xFF,
        ];
        for a in 0xC0..=0xFFu8 {
            for b in EDGES {
                for c in EDGES {
                    for d in EDGES {
                        assert!(agrees(&[a, b, c, d]), "{a:02x} {b:02x} {c:02x} {d:02x}");
                    }
                }
            }
        }
    }

    proptest! {
        #[test]
        fn equals_core_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            prop_assert!(agrees(&bytes));
        }

        #[test]
        fn accepts_any_text(text in "\\PC{0,16}", cut in 0usize..64) {
            prop_assert_eq!(as_str(text.as_bytes()), Some(text.as_str()));
            // A cut inside a multi-byte character is refused, as core refuses it.
            let cut = cut.min(text.len());
            prop_assert!(agrees(&text.as_bytes()[..cut]));
        }
    }
}
