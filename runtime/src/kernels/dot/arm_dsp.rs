//! Scoring for the Armv7E-M DSP extension (Cortex-M4, M7, M33): four rows per pass, four
//! values per step. Each item word is widened by `SXTB16` (bytes 0 and 2) and
//! `SXTB16 ROR #8` (bytes 1 and 3), and `SMLAD` multiplies each half by the query's matching
//! halfword pair (prepared once in [`Query`]) and adds both products: per four rows and four
//! values, two query loads, four item loads, eight `SXTB16` and eight `SMLAD`.
//!
//! Off Arm the two instructions are emulated in plain Rust, so the host's proptest checks this
//! exact code against the reference; the QEMU tests check the real instructions.

use super::Query;

/// Same contract as [`super::reference::scores`].
pub fn scores(query: &Query, table: &[i8], out: &mut [i32]) {
    let n = query.len.max(1);
    let rows = out.len().min(table.len() / n);
    let (Some(table), Some(out)) = (table.get(..rows * n), out.get_mut(..rows)) else {
        return;
    };
    let groups = n / 4;
    let pairs = query.pairs.get(..2 * groups).unwrap_or(&[]);
    let centred = query.centred();
    let tail = centred.get(4 * groups..).unwrap_or(&[]);
    let blocks = table.chunks_exact(4 * n);
    let rest = blocks.remainder();
    let mut out_blocks = out.chunks_exact_mut(4);
    for (block, scores) in blocks.zip(&mut out_blocks) {
        let (r01, r23) = block.split_at(2 * n);
        let (r0, r1) = r01.split_at(n);
        let (r2, r3) = r23.split_at(n);
        let mut acc = [0i32; 4];
        let words = r0
            .chunks_exact(4)
            .zip(r1.chunks_exact(4))
            .zip(r2.chunks_exact(4))
            .zip(r3.chunks_exact(4))
            .zip(pairs.chunks_exact(2));
        for ((((w0, w1), w2), w3), q) in words {
            let (even, odd) = (q[0], q[1]);
            for (a, w) in acc.iter_mut().zip([w0, w1, w2, w3]) {
                let w = word(w);
                *a = smlad(sxtb16(w), even, *a);
                *a = smlad(sxtb16_ror8(w), odd, *a);
            }
        }
        for (k, &c) in tail.iter().enumerate() {
            let at = 4 * groups + k;
            for (a, r) in acc.iter_mut().zip([r0, r1, r2, r3]) {
                *a += i32::from(c) * i32::from(r.get(at).copied().unwrap_or(0));
            }
        }
        scores.copy_from_slice(&acc);
    }
    for (row, score) in rest.chunks_exact(n).zip(out_blocks.into_remainder()) {
        let mut acc = 0i32;
        for (w, q) in row.chunks_exact(4).zip(pairs.chunks_exact(2)) {
            let w = word(w);
            acc = smlad(sxtb16(w), q[0], acc);
            acc = smlad(sxtb16_ror8(w), q[1], acc);
        }
        for (&v, &c) in row.get(4 * groups..).unwrap_or(&[]).iter().zip(tail) {
            acc += i32::from(c) * i32::from(v);
        }
        *score = acc;
    }
}

/// Four bytes as a little-endian word (an unaligned `LDR`, which Armv7E-M allows).
#[inline(always)]
fn word(bytes: &[i8]) -> u32 {
    match *bytes {
        [a, b, c, d] => u32::from_le_bytes([a as u8, b as u8, c as u8, d as u8]),
        _ => 0,
    }
}

/// `SXTB16 x`: bytes 0 and 2 of `x`, sign-extended to the low and high halfword.
#[inline(always)]
fn sxtb16(x: u32) -> u32 {
    #[cfg(mote_arm_dsp)]
    {
        let out: u32;
        // SAFETY: a register-to-register instruction of the Armv7E-M DSP extension, which every
        // core `build.rs` sets `mote_arm_dsp` for has; it reads and writes no memory, no flags
        // and not the stack.
        unsafe {
            core::arch::asm!("sxtb16 {out}, {x}", out = lateout(reg) out, x = in(reg) x,
                options(pure, nomem, nostack, preserves_flags));
        }
        out
    }
    #[cfg(not(mote_arm_dsp))]
    {
        let lo = x as u8 as i8 as i16 as u16 as u32;
        let hi = (x >> 16) as u8 as i8 as i16 as u16 as u32;
        lo | hi << 16
    }
}

/// `SXTB16 x, ROR #8`: bytes 1 and 3 of `x`, sign-extended to the low and high halfword.
#[inline(always)]
fn sxtb16_ror8(x: u32) -> u32 {
    #[cfg(mote_arm_dsp)]
    {
        let out: u32;
        // SAFETY: as for `sxtb16`: a register-only DSP instruction every such core has.
        unsafe {
            core::arch::asm!("sxtb16 {out}, {x}, ror #8", out = lateout(reg) out, x = in(reg) x,
                options(pure, nomem, nostack, preserves_flags));
        }
        out
    }
    #[cfg(not(mote_arm_dsp))]
    {
        sxtb16(x.rotate_right(8))
    }
}

/// `SMLAD acc, a, b`: `acc + a.lo·b.lo + a.hi·b.hi` over signed halfwords (the Q flag it may
/// set is never read; scores never come near overflow).
#[inline(always)]
fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(mote_arm_dsp)]
    {
        let out: i32;
        // SAFETY: a register-only DSP instruction every such core has; it may set the sticky Q
        // flag, which nothing reads, and touches no memory or stack.
        unsafe {
            core::arch::asm!("smlad {out}, {a}, {b}, {acc}", out = lateout(reg) out,
                a = in(reg) a, b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        out
    }
    #[cfg(not(mote_arm_dsp))]
    {
        let (a_lo, a_hi) = (a as u16 as i16 as i32, (a >> 16) as u16 as i16 as i32);
        let (b_lo, b_hi) = (b as u16 as i16 as i32, (b >> 16) as u16 as i16 as i32);
        acc.wrapping_add(a_lo * b_lo).wrapping_add(a_hi * b_hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulated_instructions_match_their_definitions() {
        assert_eq!(sxtb16(0x80_7F_01_FF), 0x007F_FFFF);
        assert_eq!(sxtb16_ror8(0x80_7F_01_FF), 0xFF80_0001);
        assert_eq!(smlad(0x0002_FFFF, 0x0003_0005, 10), 10 - 5 + 6);
    }
}
