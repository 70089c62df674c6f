//! int8 fully connected for the Armv7E-M DSP extension (Cortex-M4, M7): two output rows at a
//! time, four inputs per step, with `SXTB16` to widen bytes to halfwords and `SMLAD` for two
//! multiply-accumulates per instruction. Each unpacked input word serves both rows.
//!
//! Bit-exact with [`super::fully_connected::fully_connected`]: the same i32 wrapping sums in a
//! different order (integer addition is associative), then the same requantisation. Off Arm the
//! three instructions are emulated in plain Rust, so the host tests this exact code against the
//! reference; on a thumbv7em target they are the real instructions (see `build.rs`), which the
//! QEMU tests check against the host.

use super::fully_connected::{constants, requantize, FullyConnectedView};

/// Same contract as the portable reference: writes `min(output.len(), rows)` outputs.
pub fn fully_connected(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) {
    let n = layer.input_len.max(1);
    let quads = layer.weights.chunks_exact(4 * n);
    let rest = quads.remainder();
    let outputs = output.chunks_exact_mut(4);
    let mut done = 0;
    for (rows, outs) in quads.zip(outputs) {
        let (rows01, rows23) = rows.split_at(2 * n);
        let (row0, row1) = rows01.split_at(n);
        let (row2, row3) = rows23.split_at(n);
        let dots = dot4([row0, row1, row2, row3], input);
        for (k, (out, dot)) in outs.iter_mut().zip(dots).enumerate() {
            *out = requantize(layer, dot, constants(layer, done + k));
        }
        done += 4;
    }
    // The last rows when there are not four of them.
    for (k, row) in rest.chunks_exact(n).enumerate() {
        let [dot, ..] = dot4([row, row, row, row], input);
        if let Some(out) = output.get_mut(done + k) {
            *out = requantize(layer, dot, constants(layer, done + k));
        }
    }
}

/// `Σ rows[r]·x` for four rows, with wrapping i32 sums: each unpacked input word serves all four.
#[inline(always)]
fn dot4(rows: [&[i8]; 4], input: &[i8]) -> [i32; 4] {
    let [row0, row1, row2, row3] = rows;
    let words = input
        .chunks_exact(4)
        .zip(row0.chunks_exact(4))
        .zip(row1.chunks_exact(4))
        .zip(row2.chunks_exact(4))
        .zip(row3.chunks_exact(4));
    let mut acc = [0i32; 4];
    for ((((x, w0), w1), w2), w3) in words {
        let x = word(x);
        let (x_even, x_odd) = (sxtb16(x), sxtb16_ror8(x));
        for (acc, w) in acc.iter_mut().zip([w0, w1, w2, w3]) {
            let w = word(w);
            *acc = smlad(sxtb16(w), x_even, *acc);
            *acc = smlad(sxtb16_ror8(w), x_odd, *acc);
        }
    }
    let tail = input.len() / 4 * 4;
    for (k, &x) in input.iter().enumerate().skip(tail) {
        for (acc, row) in acc.iter_mut().zip([row0, row1, row2, row3]) {
            let w = row.get(k).map_or(0, |&w| w as i32);
            *acc = acc.wrapping_add(w * x as i32);
        }
    }
    acc
}

/// Four int8 values as one little-endian word (one unaligned `LDR` on Armv7E-M).
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
        // thumbv7em core has (build.rs sets `mote_arm_dsp` only for those targets); it reads
        // and writes no memory, no flags and not the stack.
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
        lo | (hi << 16)
    }
}

/// `SXTB16 x, ROR #8`: bytes 1 and 3 of `x`, sign-extended to the low and high halfword.
#[inline(always)]
fn sxtb16_ror8(x: u32) -> u32 {
    #[cfg(mote_arm_dsp)]
    {
        let out: u32;
        // SAFETY: as for `sxtb16`: register-only DSP instruction present on every thumbv7em core.
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

/// `SMLAD acc, a, b`: `acc + a.lo·b.lo + a.hi·b.hi` over signed halfwords, wrapping (the Q flag
/// it may set is never read).
#[inline(always)]
fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(mote_arm_dsp)]
    {
        let out: i32;
        // SAFETY: register-only DSP instruction present on every thumbv7em core; it may set the
        // sticky Q flag, which nothing reads, and touches no memory or stack.
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
    use super::super::fully_connected::fully_connected as reference;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn le(values: &[i32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    proptest! {
        /// Every shape (odd rows, inputs not a multiple of 4) and value gives the reference's bytes.
        #[test]
        fn equals_the_portable_reference(
            rows in 1usize..9,
            cols in 1usize..23,
            seed in any::<u64>(),
            output_offset in -128i32..128,
            clamp in (any::<i8>(), any::<i8>()),
        ) {
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 33) as u32
            };
            let weights: Vec<i8> = (0..rows * cols).map(|_| next() as i8).collect();
            let input: Vec<i8> = (0..cols).map(|_| next() as i8).collect();
            let bias = le(&(0..rows).map(|_| next() as i32 >> 8).collect::<Vec<_>>());
            let multipliers = le(&(0..rows).map(|_| (next() >> 1) as i32).collect::<Vec<_>>());
            let shifts: Vec<u8> = (0..rows).map(|_| ((next() % 62) as i32 - 31) as i8 as u8).collect();
            let (lo, hi) = (clamp.0.min(clamp.1), clamp.0.max(clamp.1));
            let layer = FullyConnectedView {
                weights: &weights,
                bias: &bias,
                multipliers: &multipliers,
                shifts: &shifts,
                input_len: cols,
                output_offset,
                activation_min: lo,
                activation_max: hi,
            };
            let mut want = std::vec![0i8; rows];
            let mut got = std::vec![0i8; rows];
            reference(&layer, &input, &mut want);
            fully_connected(&layer, &input, &mut got);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn emulated_instructions_match_their_definitions() {
        assert_eq!(sxtb16(0x80_7F_01_FF), 0x007F_FFFF);
        assert_eq!(sxtb16_ror8(0x80_7F_01_FF), 0xFF80_0001);
        assert_eq!(smlad(0x0002_FFFF, 0x0003_0005, 10), 10 - 5 + 6);
    }
}
