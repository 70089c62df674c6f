//! The fixed-point GP inner loops with the Armv7E-M / Armv8-M DSP extension (Cortex-M4, M7,
//! M33, M55): `SMLALD` multiplies two int16 pairs and adds both products to a 64-bit
//! accumulator in one instruction, which is exactly what the column-pair layout of
//! [`super::gp_layout`] stores: one 32-bit word per row and column pair.
//!
//! Bit-exact with [`super::gp_fixed`]: the same products summed exactly in 64 bits (integer
//! addition is associative and both wrap modulo 2^64), so only the order differs. The QEMU
//! tests check the device against the host's portable code.

use core::arch::asm;

/// Row sums `Σ_p w[r][2p]·a[2p] + w[r][2p+1]·a[2p+1]` for the four rows of a block, over whole
/// column pairs of `cols` (8 int16 per pair) and `a`; returns them with the pairs done.
///
/// `cols` and `a` must start at 4-byte aligned addresses (LDRD/LDR of pairs); the portable
/// path is used (0 pairs done) when they do not.
pub fn pair_sums(cols: &[i16], a: &[i16]) -> ([i64; 4], usize) {
    let pairs = (cols.len() / 8).min(a.len() / 2);
    let aligned = cols.as_ptr() as usize % 4 == 0 && a.as_ptr() as usize % 4 == 0;
    if pairs == 0 || !aligned {
        return ([0; 4], 0);
    }
    let mut sums = [0i64; 4];
    for (half, pair_sum) in sums.chunks_exact_mut(2).enumerate() {
        let (mut lo0, mut hi0, mut lo1, mut hi1) = (0u32, 0u32, 0u32, 0u32);
        // SAFETY: rows `2·half` and `2·half + 1` of pair `p` are the two words at byte
        // `16p + 8·half` of `cols`; the loop reads them for `p < pairs <= cols.len() / 8`, and
        // the words `a[2p..2p + 2]` for `p < pairs <= a.len() / 2`: all inside the slices, at
        // 4-byte aligned addresses (checked above, as LDRD needs). It writes only the declared
        // registers; `pairs >= 1`, so the count-down loop ends.
        unsafe {
            asm!(
                "2:",
                "ldrd {x0}, {x1}, [{w}], #16",
                "ldr {y}, [{a}], #4",
                "smlald {lo0}, {hi0}, {x0}, {y}",
                "smlald {lo1}, {hi1}, {x1}, {y}",
                "subs {n}, {n}, #1",
                "bne 2b",
                w = inout(reg) cols.as_ptr().wrapping_add(4 * half) => _,
                a = inout(reg) a.as_ptr() => _,
                n = inout(reg) pairs => _,
                x0 = out(reg) _,
                x1 = out(reg) _,
                y = out(reg) _,
                lo0 = inout(reg) lo0,
                hi0 = inout(reg) hi0,
                lo1 = inout(reg) lo1,
                hi1 = inout(reg) hi1,
                options(nostack, readonly),
            )
        }
        pair_sum[0] = ((hi0 as u64) << 32 | lo0 as u64) as i64;
        pair_sum[1] = ((hi1 as u64) << 32 | lo1 as u64) as i64;
    }
    (sums, 2 * pairs)
}
