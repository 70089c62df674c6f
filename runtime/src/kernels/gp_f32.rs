//! Sparse GP kernels in IEEE single precision (cores with an FPU).
//!
//! One implementation for every core: plain `f32` additions and multiplications in a fixed
//! order (Rust never contracts `a * b + c` into a fused multiply-add, and never reorders float
//! sums), plus [`exp_neg`] written out of the same operations and `libm::sqrtf` (correctly
//! rounded). So the host and any device with an IEEE FPU compute bit-identical results.
//!
//! The factors are in the 4-row block layout of [`super::gp_layout`].

use super::gp_layout::BLOCK;
use crate::manifest::GpKernel;

/// `log2(e)`.
const LOG2_E: f32 = core::f32::consts::LOG2_E;
/// Coefficients of `2^g` on `[−½, ½]` (degree 5, Chebyshev fit; relative error below 3e-7
/// evaluated in f32).
const EXP2_POLY: [f32; 6] = [
    1.000_000_1,
    core::f32::consts::LN_2,
    0.240_221_07,
    0.055_503_27,
    0.009_676_037,
    0.001_340_043_3,
];

/// `exp(−t)` for `t >= 0`, relative error below `3e-7 + 7e-8·t` (the polynomial, and the
/// rounding of `t·log2(e)`); 0 from `t ≈ 87.7` on (where the result would not be a normal
/// f32) and for `+∞`; NaN for NaN. Callers pass `t >= 0` (a negative `t` gives an inaccurate
/// value).
#[inline(always)]
pub fn exp_neg(t: f32) -> f32 {
    // exp(−t) = 2^−y = 2^−n · 2^(n − y), with n = round(y) in 0..=126. `as` saturates (NaN
    // becomes 0, so a NaN `t` stays NaN through `g`).
    let y = t * LOG2_E;
    let n = (y + 0.5) as i32;
    if n > 126 {
        return 0.0;
    }
    let n = n.max(0);
    let g = n as f32 - y;
    let [c0, c1, c2, c3, c4, c5] = EXP2_POLY;
    let p = c0 + g * (c1 + g * (c2 + g * (c3 + g * (c4 + g * c5))));
    // 2^−n as a float: biased exponent 127 − n in 1..=127, so always a normal number.
    let scale = f32::from_bits(((127 - n) as u32) << 23);
    p * scale
}

/// The kernel's value relative to its variance, as a function of the squared scaled distance.
#[inline(always)]
fn profile(kernel: GpKernel, r2: f32) -> f32 {
    match kernel {
        GpKernel::Rbf => exp_neg(0.5 * r2),
        GpKernel::Matern32 => {
            let s = 1.732_050_8 * libm::sqrtf(r2);
            (1.0 + s) * exp_neg(s)
        }
        GpKernel::Matern52 => {
            let s = 2.236_068 * libm::sqrtf(r2);
            (1.0 + s + s * s * (1.0 / 3.0)) * exp_neg(s)
        }
    }
}

/// `out[i] = variance · profile(‖x − z_i‖²)` for the inducing inputs `z_i`, the rows of
/// `inducing` (each `x.len()` long). Writes `min(out.len(), rows)` values.
pub fn kernel_values(
    kernel: GpKernel,
    variance: f32,
    x: &[f32],
    inducing: &[f32],
    out: &mut [f32],
) {
    if x.is_empty() {
        return;
    }
    match kernel {
        GpKernel::Rbf => {
            kernel_values_with(x, inducing, out, |r2| variance * profile(GpKernel::Rbf, r2))
        }
        GpKernel::Matern32 => kernel_values_with(x, inducing, out, |r2| {
            variance * profile(GpKernel::Matern32, r2)
        }),
        GpKernel::Matern52 => kernel_values_with(x, inducing, out, |r2| {
            variance * profile(GpKernel::Matern52, r2)
        }),
    }
}

#[inline(always)]
fn kernel_values_with(x: &[f32], inducing: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
    #[cfg(mote_arm_fpu)]
    if x.len() == 8 {
        // All squared distances first (the 8 inputs stay in registers), then the profile.
        let rows = super::arm_fpu::squared_distances_8(x, inducing, out);
        if let Some(done) = out.get_mut(..rows) {
            for k in done {
                *k = f(*k);
            }
        }
        return;
    }
    for (z, k) in inducing.chunks_exact(x.len()).zip(out.iter_mut()) {
        *k = f(squared_distance(x, z));
    }
}

/// `Σ_k (x_k − z_k)²`, in input order.
#[inline(always)]
fn squared_distance(x: &[f32], z: &[f32]) -> f32 {
    #[cfg(mote_arm_fpu)]
    let (mut r2, done) = super::arm_fpu::squared_distance(x, z, 0.0);
    #[cfg(not(mote_arm_fpu))]
    let (mut r2, done) = (0.0f32, 0);
    let (Some(x), Some(z)) = (x.get(done..), z.get(done..)) else {
        return r2;
    };
    for (xi, zi) in x.iter().zip(z) {
        let t = xi - zi;
        r2 += t * t;
    }
    r2
}

/// `acc[r] −= Σ_j col_j[r] · a_j` over the columns of a block (4 values each), in column order.
#[inline(always)]
fn sub_columns(cols: &[f32], a: &[f32], acc: &mut [f32; BLOCK]) {
    #[cfg(mote_arm_fpu)]
    let done = super::arm_fpu::sub_columns(cols, a, acc);
    #[cfg(not(mote_arm_fpu))]
    let done = 0;
    let (Some(cols), Some(a)) = (cols.get(BLOCK * done..), a.get(done..)) else {
        return;
    };
    for (column, &aj) in cols.chunks_exact(BLOCK).zip(a) {
        if let Some(l) = column.first_chunk::<BLOCK>() {
            acc[0] -= l[0] * aj;
            acc[1] -= l[1] * aj;
            acc[2] -= l[2] * aj;
            acc[3] -= l[3] * aj;
        }
    }
}

/// `acc[r] += Σ_j col_j[r] · a_j` over the columns of a block (4 values each), in column order.
#[inline(always)]
fn add_columns(cols: &[f32], a: &[f32], acc: &mut [f32; BLOCK]) {
    #[cfg(mote_arm_fpu)]
    let done = super::arm_fpu::add_columns(cols, a, acc);
    #[cfg(not(mote_arm_fpu))]
    let done = 0;
    let (Some(cols), Some(a)) = (cols.get(BLOCK * done..), a.get(done..)) else {
        return;
    };
    for (column, &aj) in cols.chunks_exact(BLOCK).zip(a) {
        if let Some(u) = column.first_chunk::<BLOCK>() {
            acc[0] += u[0] * aj;
            acc[1] += u[1] * aj;
            acc[2] += u[2] * aj;
            acc[3] += u[3] * aj;
        }
    }
}

/// Solves `L a = k` in place (`a` holds `k` on entry, `Mp` values): `chol` is the packed lower
/// factor, `inv_diag` the reciprocals of its diagonal. Row `i`:
/// `a_i = (k_i − Σ_{j<i} L_ij a_j) · inv_diag_i`, the sum taken in column order.
pub fn forward_substitute(chol: &[f32], inv_diag: &[f32], a: &mut [f32]) {
    #[cfg(mote_arm_fpu)]
    if super::arm_fpu::forward_substitute(chol, inv_diag, a, inv_diag.len() / BLOCK) {
        return;
    }
    super::gp_layout::forward_blocks(chol, inv_diag, a, |dense, d, inv, done, block| {
        let mut acc = *block;
        sub_columns(dense, done, &mut acc);
        // The 4 x 4 diagonal block, row by row: each row uses the rows solved before it.
        let a0 = acc[0] * inv[0];
        let a1 = (acc[1] - d[4] * a0) * inv[1];
        let a2 = (acc[2] - d[8] * a0 - d[9] * a1) * inv[2];
        let a3 = (acc[3] - d[12] * a0 - d[13] * a1 - d[14] * a2) * inv[3];
        *block = [a0, a1, a2, a3];
    });
}

/// `Σ a_i w_i`, in index order.
pub fn dot(a: &[f32], w: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for (x, y) in a.iter().zip(w) {
        s += x * y;
    }
    s
}

/// `Σ a_i²`, in index order.
pub fn sum_squares(a: &[f32]) -> f32 {
    let mut s = 0.0f32;
    for x in a {
        s += x * x;
    }
    s
}

/// `‖U a‖²` for the packed upper factor `U` (`a` has `Mp` values): block by block, the four
/// row sums over columns `4b..Mp`, then their squares added in row order.
pub fn upper_sum_squares(factor: &[f32], a: &[f32]) -> f32 {
    #[cfg(mote_arm_fpu)]
    if let Some(total) = super::arm_fpu::upper_sum_squares(factor, a, a.len() / BLOCK) {
        return total;
    }
    let mut total = 0.0f32;
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
        let mut acc = [0.0f32; BLOCK];
        add_columns(dense, tail, &mut acc);
        total += acc[0] * acc[0];
        total += acc[1] * acc[1];
        total += acc[2] * acc[2];
        total += acc[3] * acc[3];
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
    fn exp_neg_is_accurate_and_total() {
        let mut worst = 0.0f64;
        let mut t = 0.0f32;
        while t < 86.0 {
            let want = (-f64::from(t)).exp();
            let got = f64::from(exp_neg(t));
            let bound = 3e-7 + 7e-8 * f64::from(t);
            worst = worst.max((got - want).abs() / want / bound);
            t += 0.001_3;
        }
        assert!(worst < 1.0, "worst error {worst} of the bound");
        assert_eq!(exp_neg(0.0), 1.000_000_1);
        for t in [88.0, 1e30, f32::INFINITY] {
            assert_eq!(exp_neg(t), 0.0);
        }
        assert!(exp_neg(f32::NAN).is_nan());
        // Negative arguments are outside the contract but must not panic.
        assert!(exp_neg(-5.0).is_finite());
        let _ = exp_neg(-1e30);
    }

    /// Packs a dense lower-triangular `l` (row-major `mp x mp`) the way the exporter does.
    fn pack_lower(l: &[f64], mp: usize) -> (Vec<f32>, Vec<f32>) {
        let m = mp;
        let mut chol = vec![0.0f32; factor_len(m).unwrap()];
        let mut inv = vec![0.0f32; mp];
        for i in 0..mp {
            for j in 0..i {
                chol[lower_index(i, j, false)] = l[i * mp + j] as f32;
            }
            inv[i] = (1.0 / l[i * mp + i]) as f32;
        }
        (chol, inv)
    }

    #[test]
    fn forward_substitution_and_upper_norm_match_dense_algebra() {
        let mp = 12;
        // A well-conditioned lower factor and an upper factor with known entries.
        let mut l = vec![0.0f64; mp * mp];
        let mut u = vec![0.0f64; mp * mp];
        for i in 0..mp {
            for j in 0..=i {
                l[i * mp + j] = if i == j {
                    2.0 + i as f64 * 0.1
                } else {
                    ((i * 7 + j * 3) % 5) as f64 * 0.1 - 0.2
                };
                u[j * mp + i] = ((i + 2 * j) % 7) as f64 * 0.05 - 0.1;
            }
        }
        let k: Vec<f64> = (0..mp).map(|i| (i as f64 * 0.7).sin()).collect();
        // Dense f64 reference.
        let mut a_ref = vec![0.0f64; mp];
        for i in 0..mp {
            let s: f64 = (0..i).map(|j| l[i * mp + j] * a_ref[j]).sum();
            a_ref[i] = (k[i] - s) / l[i * mp + i];
        }
        let (chol, inv) = pack_lower(&l, mp);
        let mut a: Vec<f32> = k.iter().map(|&v| v as f32).collect();
        forward_substitute(&chol, &inv, &mut a);
        for (x, y) in a.iter().zip(&a_ref) {
            assert!((f64::from(*x) - y).abs() < 1e-5, "{x} vs {y}");
        }
        let mut packed_u = vec![0.0f32; factor_len(mp).unwrap()];
        for i in 0..mp {
            for j in i..mp {
                packed_u[upper_index(i, j, padded(mp), false)] = u[i * mp + j] as f32;
            }
        }
        let want: f64 = (0..mp)
            .map(|i| {
                let b: f64 = (i..mp).map(|j| u[i * mp + j] * a_ref[j]).sum();
                b * b
            })
            .sum();
        let got = f64::from(upper_sum_squares(&packed_u, &a));
        assert!((got - want).abs() < 1e-5 * want.max(1.0), "{got} vs {want}");
        // Short buffers stop early instead of panicking.
        forward_substitute(&chol[..5], &inv, &mut a);
        let _ = upper_sum_squares(&packed_u[..7], &a);
    }

    #[test]
    fn kernel_values_follow_the_profiles() {
        let x = [0.5f32, -1.0];
        let z = [0.5f32, -1.0, 1.5, 0.0];
        for (kernel, at_one) in [
            (GpKernel::Rbf, (-1.0f64).exp()),
            (
                GpKernel::Matern32,
                (1.0 + 2f64.sqrt() * 3f64.sqrt()) * (-(6f64.sqrt())).exp(),
            ),
            (
                GpKernel::Matern52,
                (1.0 + 10f64.sqrt() + 10.0 / 3.0) * (-(10f64.sqrt())).exp(),
            ),
        ] {
            let mut out = [0.0f32; 2];
            kernel_values(kernel, 2.0, &x, &z, &mut out);
            assert!((f64::from(out[0]) - 2.0).abs() < 1e-6);
            assert!(
                (f64::from(out[1]) - 2.0 * at_one).abs() < 1e-6,
                "{kernel:?} {out:?}"
            );
        }
    }
}
