//! The f32 GP inner loops for Arm cores with a single-precision FPU (Cortex-M4F, M7, M33,
//! M55): `VLDM` loads sixteen factor values (four columns of a 4-row block) or four vector
//! values in one instruction, and `VMLA`/`VMLS` multiply-accumulate in one.
//!
//! Bit-exact with the portable loops in [`super::gp_f32`]: `VMLA`/`VMLS` on these cores are
//! *chained*, not fused (the Armv7-M and Armv8-M manuals: the product is rounded before the
//! addition), so `VMLS Sd, Sn, Sm` is exactly Rust's `d - n * m`, and every row's sum runs in
//! the same column order as the reference. LLVM does not use them on its own for these cores
//! (it marks their FP multiply-accumulate slow), hence `asm!`. The QEMU tests check the device
//! against the host's portable code bit for bit.

use super::gp_layout::BLOCK;
use core::arch::asm;

/// `acc[r] −= Σ_j col_j[r] · a_j` (`SUB`) or `acc[r] += …` (otherwise) over whole groups of
/// four columns; returns the number of columns done (the caller finishes the rest).
///
/// The FP registers are named inside the assembly, not as operands (rustc does not enable its
/// `vfp2` feature flag for these targets, which register operands need), so the loop saves and
/// restores every one it touches (`VPUSH`/`VPOP`) and reads and writes `acc` through memory.
#[inline(always)]
fn columns<const SUB: bool>(cols: &[f32], a: &[f32], acc: &mut [f32; BLOCK]) -> usize {
    let quads = (cols.len() / (BLOCK * 4)).min(a.len() / 4);
    if quads == 0 {
        return 0;
    }
    macro_rules! block_loop {
        ($op:literal) => {
            // SAFETY: the loop reads `16·quads` floats from `cols` and `4·quads` from `a`, and
            // `quads` is at most `cols.len() / 16` and `a.len() / 4`, so every load is inside
            // the two slices (4-byte aligned f32s, as VLDM needs); it reads and writes the four
            // floats of `acc`, which it borrows exclusively. The FP registers it uses are saved
            // on the stack first and restored after, so no value the compiler keeps in them
            // changes. `quads >= 1`, so the count-down loop ends.
            unsafe {
                asm!(
                    "vpush {{s0-s27}}",
                    "vldmia {acc}, {{s0-s3}}",
                    "2:",
                    "vldmia {c}!, {{s8-s23}}",
                    "vldmia {a}!, {{s24-s27}}",
                    concat!($op, " s0, s8, s24"),
                    concat!($op, " s1, s9, s24"),
                    concat!($op, " s2, s10, s24"),
                    concat!($op, " s3, s11, s24"),
                    concat!($op, " s0, s12, s25"),
                    concat!($op, " s1, s13, s25"),
                    concat!($op, " s2, s14, s25"),
                    concat!($op, " s3, s15, s25"),
                    concat!($op, " s0, s16, s26"),
                    concat!($op, " s1, s17, s26"),
                    concat!($op, " s2, s18, s26"),
                    concat!($op, " s3, s19, s26"),
                    concat!($op, " s0, s20, s27"),
                    concat!($op, " s1, s21, s27"),
                    concat!($op, " s2, s22, s27"),
                    concat!($op, " s3, s23, s27"),
                    "subs {n}, {n}, #1",
                    "bne 2b",
                    "vstmia {acc}, {{s0-s3}}",
                    "vpop {{s0-s27}}",
                    acc = in(reg) acc.as_mut_ptr(),
                    c = inout(reg) cols.as_ptr() => _,
                    a = inout(reg) a.as_ptr() => _,
                    n = inout(reg) quads => _,
                )
            }
        };
    }
    if SUB {
        block_loop!("vmls.f32");
    } else {
        block_loop!("vmla.f32");
    }
    4 * quads
}

/// `acc[r] −= Σ_j col_j[r] · a_j` over whole groups of four columns; returns the columns done.
pub fn sub_columns(cols: &[f32], a: &[f32], acc: &mut [f32; BLOCK]) -> usize {
    columns::<true>(cols, a, acc)
}

/// `acc[r] += Σ_j col_j[r] · a_j` over whole groups of four columns; returns the columns done.
pub fn add_columns(cols: &[f32], a: &[f32], acc: &mut [f32; BLOCK]) -> usize {
    columns::<false>(cols, a, acc)
}

/// `r2 + Σ_k (x_k − z_k)²` over whole groups of four inputs, in order; returns the sum and the
/// number of inputs done.
pub fn squared_distance(x: &[f32], z: &[f32], r2: f32) -> (f32, usize) {
    let quads = x.len().min(z.len()) / 4;
    if quads == 0 {
        return (r2, 0);
    }
    let mut sum = r2;
    // SAFETY: reads `4·quads` floats from each of `x` and `z`, with `quads` at most `len / 4`
    // of both, so every load is inside the slices (4-byte aligned f32s); reads and writes
    // `sum` through an exclusive borrow; saves and restores the FP registers it uses (see
    // `columns`); `quads >= 1`, so the loop ends.
    unsafe {
        asm!(
            "vpush {{s0-s15}}",
            "vldr s0, [{sum}]",
            "2:",
            "vldmia {x}!, {{s8-s11}}",
            "vldmia {z}!, {{s12-s15}}",
            "vsub.f32 s8, s8, s12",
            "vsub.f32 s9, s9, s13",
            "vsub.f32 s10, s10, s14",
            "vsub.f32 s11, s11, s15",
            "vmla.f32 s0, s8, s8",
            "vmla.f32 s0, s9, s9",
            "vmla.f32 s0, s10, s10",
            "vmla.f32 s0, s11, s11",
            "subs {n}, {n}, #1",
            "bne 2b",
            "vstr s0, [{sum}]",
            "vpop {{s0-s15}}",
            sum = in(reg) &mut sum as *mut f32,
            x = inout(reg) x.as_ptr() => _,
            z = inout(reg) z.as_ptr() => _,
            n = inout(reg) quads => _,
        )
    }
    (sum, 4 * quads)
}

/// Squared distances from `x` (8 inputs, held in registers) to each row of `inducing` (8
/// values per row), written to `out`, each summed in input order; returns the rows done.
pub fn squared_distances_8(x: &[f32], inducing: &[f32], out: &mut [f32]) -> usize {
    let rows = (inducing.len() / 8).min(out.len());
    if x.len() != 8 || rows == 0 {
        return 0;
    }
    // SAFETY: reads 8 floats of `x` and `8·rows` of `inducing`, writes `rows` of `out`, with
    // `rows` at most `inducing.len() / 8` and `out.len()`: all inside the slices (4-byte
    // aligned f32s). The FP registers it uses are saved and restored; `rows >= 1`.
    // `vmul` then `vmla` equals `0 + t0²` then `+= tk²` in order: `0 + y == y` for `y >= +0`.
    unsafe {
        asm!(
            "vpush {{s0-s23}}",
            "vldmia {x}, {{s16-s23}}",
            "2:",
            "vldmia {z}!, {{s8-s15}}",
            "vsub.f32 s8, s16, s8",
            "vsub.f32 s9, s17, s9",
            "vsub.f32 s10, s18, s10",
            "vsub.f32 s11, s19, s11",
            "vsub.f32 s12, s20, s12",
            "vsub.f32 s13, s21, s13",
            "vsub.f32 s14, s22, s14",
            "vsub.f32 s15, s23, s15",
            "vmul.f32 s0, s8, s8",
            "vmla.f32 s0, s9, s9",
            "vmla.f32 s0, s10, s10",
            "vmla.f32 s0, s11, s11",
            "vmla.f32 s0, s12, s12",
            "vmla.f32 s0, s13, s13",
            "vmla.f32 s0, s14, s14",
            "vmla.f32 s0, s15, s15",
            "vstmia {out}!, {{s0}}",
            "subs {n}, {n}, #1",
            "bne 2b",
            "vpop {{s0-s23}}",
            x = in(reg) x.as_ptr(),
            z = inout(reg) inducing.as_ptr() => _,
            out = inout(reg) out.as_mut_ptr() => _,
            n = inout(reg) rows => _,
        )
    }
    rows
}

/// The whole forward substitution of [`super::gp_f32::forward_substitute`] for `blocks` 4-row
/// blocks, in the reference's operation order: per block the dense columns (`VMLS`, four
/// columns per step), then the diagonal block row by row (`VMLS`, `VMUL` by the reciprocal).
/// Returns false (doing nothing) when a slice is too short for `blocks`.
pub fn forward_substitute(chol: &[f32], inv_diag: &[f32], a: &mut [f32], blocks: usize) -> bool {
    let fits = blocks > 0
        && blocks
            .checked_mul(blocks + 1)
            .and_then(|b| b.checked_mul(8))
            .is_some_and(|len| chol.len() >= len)
        && inv_diag.len() >= 4 * blocks
        && a.len() >= 4 * blocks;
    if !fits {
        return false;
    }
    // SAFETY: block `b` reads `16b + 16` floats of `chol` (`8B(B+1)` in all, checked above),
    // 4 of `inv_diag` (`4B`), `4b` of `a` for the columns and 4 more it then overwrites, so
    // with the lengths checked above every access is inside the slices (4-byte aligned f32s;
    // `a` is borrowed exclusively). The FP registers it uses are saved and restored.
    // `blocks >= 1`; the inner loop runs only when there are column quads (`b >= 1`).
    unsafe {
        asm!(
            "vpush {{s0-s27}}",
            "movs {nq}, #0",
            "mov {blk}, {a}",
            "2:",
            "vldmia {blk}, {{s0-s3}}",
            "cmp {nq}, #0",
            "beq 4f",
            "mov {q}, {nq}",
            "mov {aj}, {a}",
            "3:",
            "vldmia {c}!, {{s8-s23}}",
            "vldmia {aj}!, {{s24-s27}}",
            "vmls.f32 s0, s8, s24",
            "vmls.f32 s1, s9, s24",
            "vmls.f32 s2, s10, s24",
            "vmls.f32 s3, s11, s24",
            "vmls.f32 s0, s12, s25",
            "vmls.f32 s1, s13, s25",
            "vmls.f32 s2, s14, s25",
            "vmls.f32 s3, s15, s25",
            "vmls.f32 s0, s16, s26",
            "vmls.f32 s1, s17, s26",
            "vmls.f32 s2, s18, s26",
            "vmls.f32 s3, s19, s26",
            "vmls.f32 s0, s20, s27",
            "vmls.f32 s1, s21, s27",
            "vmls.f32 s2, s22, s27",
            "vmls.f32 s3, s23, s27",
            "subs {q}, {q}, #1",
            "bne 3b",
            "4:",
            // Diagonal block D (row by row, strictly lower) and the reciprocals.
            "vldmia {c}!, {{s8-s23}}",
            "vldmia {inv}!, {{s24-s27}}",
            "vmul.f32 s0, s0, s24",
            "vmls.f32 s1, s12, s0",
            "vmul.f32 s1, s1, s25",
            "vmls.f32 s2, s16, s0",
            "vmls.f32 s2, s17, s1",
            "vmul.f32 s2, s2, s26",
            "vmls.f32 s3, s20, s0",
            "vmls.f32 s3, s21, s1",
            "vmls.f32 s3, s22, s2",
            "vmul.f32 s3, s3, s27",
            "vstmia {blk}!, {{s0-s3}}",
            "adds {nq}, {nq}, #1",
            "subs {nb}, {nb}, #1",
            "bne 2b",
            "vpop {{s0-s27}}",
            a = in(reg) a.as_mut_ptr(),
            c = inout(reg) chol.as_ptr() => _,
            inv = inout(reg) inv_diag.as_ptr() => _,
            nb = inout(reg) blocks => _,
            nq = out(reg) _,
            blk = out(reg) _,
            q = out(reg) _,
            aj = out(reg) _,
        )
    }
    true
}

/// `‖U a‖²` of [`super::gp_f32::upper_sum_squares`] for `blocks` 4-row blocks, in the
/// reference's operation order; `None` when a slice is too short for `blocks`.
pub fn upper_sum_squares(factor: &[f32], a: &[f32], blocks: usize) -> Option<f32> {
    let fits = blocks > 0
        && blocks
            .checked_mul(blocks + 1)
            .and_then(|b| b.checked_mul(8))
            .is_some_and(|len| factor.len() >= len)
        && a.len() >= 4 * blocks;
    if !fits {
        return None;
    }
    let zeros = [0.0f32; BLOCK];
    let mut total = 0.0f32;
    // SAFETY: block `b` reads `16(B − b)` floats of `factor` (`8B(B+1)` in all) and `a[4b..4B]`,
    // inside the slices by the checks above (4-byte aligned f32s); it reads `zeros` and reads
    // and writes `total`, both locals. The FP registers it uses are saved and restored.
    // `blocks >= 1`, and block `b` has `B − b >= 1` column quads, so both loops end.
    unsafe {
        asm!(
            "vpush {{s0-s27}}",
            "vldr s4, [{tot}]",
            "mov {nq}, {nb}",
            "2:",
            "vldmia {zeros}, {{s0-s3}}",
            "mov {q}, {nq}",
            "mov {aj}, {ab}",
            "3:",
            "vldmia {u}!, {{s8-s23}}",
            "vldmia {aj}!, {{s24-s27}}",
            "vmla.f32 s0, s8, s24",
            "vmla.f32 s1, s9, s24",
            "vmla.f32 s2, s10, s24",
            "vmla.f32 s3, s11, s24",
            "vmla.f32 s0, s12, s25",
            "vmla.f32 s1, s13, s25",
            "vmla.f32 s2, s14, s25",
            "vmla.f32 s3, s15, s25",
            "vmla.f32 s0, s16, s26",
            "vmla.f32 s1, s17, s26",
            "vmla.f32 s2, s18, s26",
            "vmla.f32 s3, s19, s26",
            "vmla.f32 s0, s20, s27",
            "vmla.f32 s1, s21, s27",
            "vmla.f32 s2, s22, s27",
            "vmla.f32 s3, s23, s27",
            "subs {q}, {q}, #1",
            "bne 3b",
            // 0 + acc·acc for the first block: the squares are >= +0, so adding them to the
            // +0 start is exact, as in the reference.
            "vmla.f32 s4, s0, s0",
            "vmla.f32 s4, s1, s1",
            "vmla.f32 s4, s2, s2",
            "vmla.f32 s4, s3, s3",
            "adds {ab}, {ab}, #16",
            "subs {nq}, {nq}, #1",
            "bne 2b",
            "vstr s4, [{tot}]",
            "vpop {{s0-s27}}",
            tot = in(reg) &mut total as *mut f32,
            zeros = in(reg) zeros.as_ptr(),
            u = inout(reg) factor.as_ptr() => _,
            ab = inout(reg) a.as_ptr() => _,
            nb = in(reg) blocks,
            nq = out(reg) _,
            q = out(reg) _,
            aj = out(reg) _,
        )
    }
    Some(total)
}
