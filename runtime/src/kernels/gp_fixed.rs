//! Sparse GP kernels in fixed point (cores without an FPU): int16 inputs and inducing inputs,
//! Q15 kernel values from a table and a cubic, Q14 factors, 64-bit accumulation.
//!
//! Integer arithmetic is exact, so every core computes the same bits; sums are wrapping
//! (they cannot overflow for the sizes the parser admits, and wrapping keeps even a corrupt
//! blob from panicking). The factors are in the int16 column-pair block layout of
//! [`super::gp_layout`].

use super::gp_layout::BLOCK;

/// `w0·a0 + w1·a1` of two int16 pairs, exact (each product fits an i32; their sum may not).
#[inline(always)]
fn pair(w0: i16, w1: i16, a0: i16, a1: i16) -> i64 {
    (w0 as i32 * a0 as i32) as i64 + (w1 as i32 * a1 as i32) as i64
}

/// Row sums `Σ_j w[r][j]·a_j` over the column pairs of a block (int16 pair layout), exact.
#[inline(always)]
fn pair_sums(cols: &[i16], a: &[i16]) -> [i64; BLOCK] {
    #[cfg(any(mote_arm_dsp, mote_helium))]
    let (mut acc, done) = super::arm_dsp_gp::pair_sums(cols, a);
    #[cfg(not(any(mote_arm_dsp, mote_helium)))]
    let (mut acc, done) = ([0i64; BLOCK], 0);
    let (Some(cols), Some(a)) = (cols.get(BLOCK * done..), a.get(done..)) else {
        return acc;
    };
    for (columns, aj) in cols.chunks_exact(2 * BLOCK).zip(a.chunks_exact(2)) {
        if let (Some(w), Some(&[a0, a1])) = (columns.first_chunk::<8>(), aj.first_chunk::<2>()) {
            acc[0] = acc[0].wrapping_add(pair(w[0], w[1], a0, a1));
            acc[1] = acc[1].wrapping_add(pair(w[2], w[3], a0, a1));
            acc[2] = acc[2].wrapping_add(pair(w[4], w[5], a0, a1));
            acc[3] = acc[3].wrapping_add(pair(w[6], w[7], a0, a1));
        }
    }
    acc
}

/// `exp(−u)` is 0 in Q15 from `u = 12` on (`exp(−12) · 2^15 ≈ 0.2`).
pub const EXP_CUTOFF_Q16: i64 = 12 << 16;
/// `u` steps per table entry: `2^12` in Q16, i.e. 1/16.
const TABLE_STEP_BITS: u32 = 12;
/// Entries of [`EXP_TABLE_Q30`]: `12 · 16`.
const TABLE_LEN: usize = 192;
/// `round(exp(−1/16) · 2^62)`.
const EXP_STEP_Q62: u128 = 4_332_278_087_304_955_805;

/// `EXP_TABLE_Q30[i] = round(exp(−i/16) · 2^30)`, computed at compile time by repeated
/// multiplication in Q62 (exact to the last bit for all 192 entries; checked in the tests).
pub const EXP_TABLE_Q30: [i32; TABLE_LEN] = exp_table();

const fn exp_table() -> [i32; TABLE_LEN] {
    let mut table = [0i32; TABLE_LEN];
    let mut value: u128 = 1 << 62;
    let mut i = 0;
    while i < TABLE_LEN {
        table[i] = ((value + (1 << 31)) >> 32) as i32;
        value = (value * EXP_STEP_Q62 + (1 << 61)) >> 62;
        i += 1;
    }
    table
}

/// `round(x / 2^shift)` (ties toward +∞), for `shift` in `1..=62`.
#[inline(always)]
pub fn round_shift(x: i64, shift: u32) -> i64 {
    (x.wrapping_add(1i64 << (shift - 1))) >> shift
}

/// `exp(−u)` in Q15 for `u >= 0` in Q16, saturated to `32767` (so `exp(0)` is `1 − 2^−15`):
/// the table entry for `u` rounded down to a 16th, times `1 − f + f²/2 − f³/6` for the rest
/// `f < 1/16` (error below `f⁴/24 < 7e-7`), evaluated in Q20 with 32-bit integers.
#[inline(always)]
pub fn exp_neg_q15(u: i64) -> i16 {
    if !(0..EXP_CUTOFF_Q16).contains(&u) {
        return if u < 0 { i16::MAX } else { 0 };
    }
    let index = (u >> TABLE_STEP_BITS) as usize;
    // f < 2^-4 in Q20 is below 2^16, so its square fits a u32, and every term below an i32.
    let f20 = ((u & ((1 << TABLE_STEP_BITS) - 1)) << 4) as u32;
    let f2 = (f20 * f20) >> 20;
    let f3 = (f2 * f20) >> 20;
    let poly = (1i32 << 20) - f20 as i32 + (f2 >> 1) as i32 - (f3 / 6) as i32;
    let Some(&entry) = EXP_TABLE_Q30.get(index) else {
        return 0;
    };
    let q15 = round_shift(entry as i64 * poly as i64, 35);
    q15.min(i16::MAX as i64) as i16
}

/// Q15 kernel values `κ_i = exp(−‖x − z_i‖² h² / 2)` of the RBF kernel (relative to its
/// variance) for int16 `x` and inducing inputs `z_i` (rows of `inducing`, each `x.len()`
/// long) in steps of `h = 2^-input_shift`. The squared distance is summed exactly in 64 bits,
/// then brought to Q16 with rounding: `u = r² · 2^−(2·input_shift + 1)`.
pub fn rbf_values_q15(x: &[i16], inducing: &[i16], input_shift: u32, out: &mut [i16]) {
    if x.is_empty() {
        return;
    }
    // u (Q16) = r2 · 2^(16 − 2s − 1).
    let up = 15i32 - 2 * input_shift as i32;
    for (z, k) in inducing.chunks_exact(x.len()).zip(out.iter_mut()) {
        let mut r2: i64 = 0;
        for (&xi, &zi) in x.iter().zip(z) {
            // |x − z| <= 65535, whose square fits in a u32.
            let t = (xi as i32 - zi as i32).unsigned_abs();
            r2 = r2.wrapping_add((t * t) as i64);
        }
        let u = if up >= 0 {
            // r2 < 2^44 for the input counts the parser admits, and up <= 15.
            if r2 >= EXP_CUTOFF_Q16 >> up {
                EXP_CUTOFF_Q16
            } else {
                r2 << up
            }
        } else {
            round_shift(r2, (-up) as u32)
        };
        *k = exp_neg_q15(u);
    }
}

/// Solves `L̃ ã = κ` in place (`a` holds Q15 `κ` on entry, `Mp` values; Q15 `ã` on return,
/// saturated to int16): `chol` is `L/σ` in Q14 (column-pair layout), `inv_diag` is `σ/L_ii` in
/// Q16. Row `i`: `acc = (κ_i << 14) − Σ_{j<i} L̃_ij ã_j` (Q29, exact), then
/// `ã_i = round(acc · inv_diag_i / 2^30)`.
pub fn forward_substitute(chol: &[i16], inv_diag: &[i32], a: &mut [i16]) {
    super::gp_layout::forward_blocks(chol, inv_diag, a, |dense, d, inv, done, block| {
        let sums = pair_sums(dense, done);
        let mut acc = block.map(|k| (k as i64) << 14);
        for (acc, sum) in acc.iter_mut().zip(sums) {
            *acc = acc.wrapping_sub(sum);
        }
        // |acc| <= 2^32 keeps the product with a (31-bit) reciprocal inside an i64; a valid
        // model's sums stay near 2^29 (Cauchy–Schwarz), so the clamp only tames corrupt blobs.
        let solve = |acc: i64, inv: i32| -> i16 {
            let wide = acc.clamp(-(1 << 32), 1 << 32) * inv as i64;
            round_shift(wide, 30).clamp(i16::MIN as i64, i16::MAX as i64) as i16
        };
        let term = |l: i16, a: i16| (l as i32 * a as i32) as i64;
        let a0 = solve(acc[0], inv[0]);
        let a1 = solve(acc[1].wrapping_sub(term(d[4], a0)), inv[1]);
        let a2 = solve(
            acc[2]
                .wrapping_sub(term(d[8], a0))
                .wrapping_sub(term(d[9], a1)),
            inv[2],
        );
        let a3 = solve(
            acc[3]
                .wrapping_sub(term(d[12], a0))
                .wrapping_sub(term(d[13], a1))
                .wrapping_sub(term(d[14], a2)),
            inv[3],
        );
        *block = [a0, a1, a2, a3];
    });
}

/// `Σ a_i w_i`, exact in 64 bits.
pub fn dot(a: &[i16], w: &[i16]) -> i64 {
    a.iter().zip(w).fold(0i64, |s, (&x, &y)| {
        s.wrapping_add((x as i32 * y as i32) as i64)
    })
}

/// `Σ a_i²`, exact in 64 bits.
pub fn sum_squares(a: &[i16]) -> i64 {
    dot(a, a)
}

/// `Σ_r round(b_r / 2^14)²` with `b = U ã` for the packed Q14 upper factor `U` and Q15 `ã`
/// (so each `b_r` is Q29 and the result Q30).
pub fn upper_sum_squares(factor: &[i16], a: &[i16]) -> i64 {
    let mut total = 0i64;
    let mut rest = factor;
    let mut start = 0;
    while start < a.len() {
        let Some(tail) = a.get(start..) else {
            break;
        };
        let Some((dense, next)) = rest.split_at_checked(BLOCK * tail.len()) else {
            break;
        };
        rest = next;
        let acc = pair_sums(dense, tail);
        for b in acc {
            let b15 = round_shift(b, 14);
            total = total.wrapping_add(b15.wrapping_mul(b15));
        }
        start += BLOCK;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::super::gp_layout::{factor_len, lower_index, padded, upper_index};
    use super::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn table_is_exact() {
        for (i, &v) in EXP_TABLE_Q30.iter().enumerate() {
            let want = ((-(i as f64) / 16.0).exp() * (1u64 << 30) as f64).round() as i64;
            assert!((v as i64 - want).abs() <= 1, "entry {i}: {v} vs {want}");
        }
    }

    #[test]
    fn exp_is_within_a_q15_step() {
        let mut u = 0i64;
        while u < EXP_CUTOFF_Q16 + 1000 {
            let want = (-(u as f64) / 65536.0).exp() * 32768.0;
            let got = exp_neg_q15(u) as f64;
            assert!(
                (got - want.min(32767.0)).abs() <= 1.0,
                "u={u}: {got} vs {want}"
            );
            u += 37;
        }
        assert_eq!(exp_neg_q15(-5), i16::MAX);
        assert_eq!(exp_neg_q15(i64::MAX), 0);
    }

    #[test]
    fn rbf_values_scale_distances() {
        // h = 2^-10: a distance of 1024 steps is one lengthscale, exp(−1/2).
        let x = [0i16, 0];
        let z = [0i16, 0, 1024, 0, 0, -2048, i16::MAX, i16::MIN];
        let mut out = [0i16; 4];
        rbf_values_q15(&x, &z, 10, &mut out);
        let q = |v: f64| (v * 32768.0).round().min(32767.0) as i16;
        assert_eq!(out[0], 32767);
        assert!((out[1] - q((-0.5f64).exp())).abs() <= 1, "{out:?}");
        assert!((out[2] - q((-2.0f64).exp())).abs() <= 1, "{out:?}");
        assert_eq!(out[3], 0);
        // Coarse steps (h = 1) and fine steps (h = 2^-14) take both shift directions.
        rbf_values_q15(&[1, 0], &[0, 0], 0, &mut out[..1]);
        assert!((out[0] - q((-0.5f64).exp())).abs() <= 1);
        rbf_values_q15(&[16384, 0], &[0, 0], 14, &mut out[..1]);
        assert!((out[0] - q((-0.5f64).exp())).abs() <= 1);
    }

    #[test]
    fn factors_match_dense_algebra_within_quantisation() {
        let mp = padded(10);
        let mut l = vec![0.0f64; mp * mp];
        for i in 0..mp {
            for j in 0..i {
                l[i * mp + j] = ((i * 5 + j * 3) % 7) as f64 * 0.05 - 0.15;
            }
            l[i * mp + i] = 1.0 - 0.03 * i as f64;
        }
        let q14 = |v: f64| (v * 16384.0).round() as i16;
        let mut chol = vec![0i16; factor_len(mp).unwrap()];
        let mut upper = vec![0i16; factor_len(mp).unwrap()];
        let mut inv = vec![0i32; mp];
        for i in 0..mp {
            for j in 0..i {
                chol[lower_index(i, j, true)] = q14(l[i * mp + j]);
            }
            for j in i..mp {
                upper[upper_index(i, j, mp, true)] = q14(l[j * mp + i]);
            }
            inv[i] = (65536.0 / l[i * mp + i]).round() as i32;
        }
        let kappa: Vec<f64> = (0..mp).map(|i| 0.05 + 0.01 * i as f64).collect();
        let mut a_ref = vec![0.0f64; mp];
        for i in 0..mp {
            let lq = |j: usize| f64::from(q14(l[i * mp + j])) / 16384.0;
            let s: f64 = (0..i).map(|j| lq(j) * a_ref[j]).sum();
            a_ref[i] = (kappa[i] - s) / l[i * mp + i];
        }
        let mut a: Vec<i16> = kappa
            .iter()
            .map(|&k| (k * 32768.0).round() as i16)
            .collect();
        forward_substitute(&chol, &inv, &mut a);
        for (x, y) in a.iter().zip(&a_ref) {
            assert!((f64::from(*x) / 32768.0 - y).abs() < 2e-4, "{x} vs {y}");
        }
        let want: f64 = (0..mp)
            .map(|i| {
                let b: f64 = (i..mp)
                    .map(|j| f64::from(q14(l[j * mp + i])) / 16384.0 * a_ref[j])
                    .sum();
                b * b
            })
            .sum();
        let got = upper_sum_squares(&upper, &a) as f64 / (1u64 << 30) as f64;
        assert!((got - want).abs() < 1e-3 * want.max(1.0), "{got} vs {want}");
        let dot_want: f64 = a.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        assert_eq!(sum_squares(&a) as f64, dot_want);
        forward_substitute(&chol[..9], &inv, &mut a);
        let _ = upper_sum_squares(&upper[..3], &a);
    }
}
