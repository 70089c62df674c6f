//! Scoring for the Armv7E-M DSP extension (Cortex-M4, M7, M33): two rows per pass, eight
//! values per step. Each item word is widened by `SXTB16` (bytes 0 and 2) and `SXTB16 ROR #8`
//! (bytes 1 and 3), and `SMLAD` multiplies each half by the query's matching halfword pair
//! (prepared once in [`Query`]) and adds both products. On Arm the step is one `asm!` loop: per
//! two rows and eight values two `LDRD` of query pairs, four `LDR` of item words (the second row
//! through a register offset, so one pointer serves both), eight `SXTB16`, eight `SMLAD` and the
//! loop's two: 24 instructions for 16 multiply-accumulates, in eleven registers (LLVM, given
//! four rows in plain Rust, spilled to the stack; more rows would not fit the register file).
//!
//! Off Arm the instructions are emulated in plain Rust (the same steps), so the host's proptest
//! checks this code against the reference; the QEMU tests check the real instructions.

use super::Query;
// The instruction wrappers (with their plain-Rust emulation off Arm) of the dense DSP kernel.
use crate::kernels::arm_dsp::{smlad, sxtb16, sxtb16_ror8, word};

/// Values per step of the inner loop (two groups of four).
const STEP: usize = 8;

/// Same contract as [`super::reference::scores`].
pub fn scores(query: &Query, table: &[i8], out: &mut [i32]) {
    let n = query.len.max(1);
    let rows = out.len().min(table.len() / n);
    let (Some(table), Some(out)) = (table.get(..rows * n), out.get_mut(..rows)) else {
        return;
    };
    let steps = n / STEP;
    let groups = n / 4;
    let pairs = query.pairs.get(..2 * groups).unwrap_or(&[]);
    // What the steps leave: at most one group of four, then at most three values.
    let left_pairs = pairs.get(4 * steps..).unwrap_or(&[]);
    let tail = query.centred().get(4 * groups..).unwrap_or(&[]);
    let finish = |row: &[i8], mut acc: i32| -> i32 {
        let rest = row.get(STEP * steps..).unwrap_or(&[]);
        for (w, q) in rest.chunks_exact(4).zip(left_pairs.chunks_exact(2)) {
            let w = word(w);
            acc = smlad(sxtb16(w), q[0], acc);
            acc = smlad(sxtb16_ror8(w), q[1], acc);
        }
        let values = row.get(4 * groups..).unwrap_or(&[]);
        for (&v, &c) in values.iter().zip(tail) {
            acc += i32::from(c) * i32::from(v);
        }
        acc
    };
    let blocks = table.chunks_exact(2 * n);
    let rest = blocks.remainder();
    let mut out_blocks = out.chunks_exact_mut(2);
    if n % STEP == 0 {
        // Nothing left after the steps (rows of 8, 16, 32 or 64 values): the lean loop.
        for (block, scores) in blocks.zip(&mut out_blocks) {
            let [a0, a1] = dot2_steps(block, n, pairs, steps);
            scores[0] = a0;
            scores[1] = a1;
        }
    } else {
        for (block, scores) in blocks.zip(&mut out_blocks) {
            let [a0, a1] = dot2_steps(block, n, pairs, steps);
            let (r0, r1) = block.split_at(n);
            scores[0] = finish(r0, a0);
            scores[1] = finish(r1, a1);
        }
    }
    for (row, score) in rest.chunks_exact(n).zip(out_blocks.into_remainder()) {
        let mut acc = 0i32;
        for (w, q) in row.chunks_exact(4).zip(pairs.chunks_exact(2)) {
            let w = word(w);
            acc = smlad(sxtb16(w), q[0], acc);
            acc = smlad(sxtb16_ror8(w), q[1], acc);
        }
        let values = row.get(4 * groups..).unwrap_or(&[]);
        for (&v, &c) in values.iter().zip(tail) {
            acc += i32::from(c) * i32::from(v);
        }
        *score = acc;
    }
}

/// The two rows' dot products over their first `STEP · steps` values: `block` holds two rows
/// of `n` values, `pairs` the query's halfword pairs (four per step). Returns zeros unless
/// `STEP · steps <= n`, `block.len() >= 2n` and `pairs.len() >= 4 · steps`.
#[inline(always)]
fn dot2_steps(block: &[i8], n: usize, pairs: &[u32], steps: usize) -> [i32; 2] {
    if steps == 0 || STEP * steps > n || block.len() < 2 * n || pairs.len() < 4 * steps {
        return [0; 2];
    }
    #[cfg(mote_arm_dsp)]
    {
        let (mut a0, mut a1) = (0i32, 0i32);
        // SAFETY: the loop runs `steps >= 1` times; each pass reads 16 bytes of `pairs` through
        // `qp` and 8 bytes of each row through `p` (row 0) and `p + n` (row 1), only forward:
        // the checks above keep all of it inside `pairs` and `block`. `LDRD` needs a 4-aligned
        // address: `pairs` is a `[u32]`, and each pass adds 8. `LDR` may be unaligned on
        // Armv7E-M and Armv8-M Mainline. Only the registers named as operands are written;
        // SMLAD may set the sticky Q flag, which nothing reads (scores never overflow).
        unsafe {
            core::arch::asm!(
                "2:",
                "ldrd {qe}, {qo}, [{qp}], #8",
                "ldr {x}, [{p}, {n}]",
                "ldr {w}, [{p}], #4",
                "sxtb16 {t}, {w}",
                "smlad {a0}, {t}, {qe}, {a0}",
                "sxtb16 {t}, {w}, ror #8",
                "smlad {a0}, {t}, {qo}, {a0}",
                "sxtb16 {t}, {x}",
                "smlad {a1}, {t}, {qe}, {a1}",
                "sxtb16 {t}, {x}, ror #8",
                "smlad {a1}, {t}, {qo}, {a1}",
                "ldrd {qe}, {qo}, [{qp}], #8",
                "ldr {x}, [{p}, {n}]",
                "ldr {w}, [{p}], #4",
                "sxtb16 {t}, {w}",
                "smlad {a0}, {t}, {qe}, {a0}",
                "sxtb16 {t}, {w}, ror #8",
                "smlad {a0}, {t}, {qo}, {a0}",
                "sxtb16 {t}, {x}",
                "smlad {a1}, {t}, {qe}, {a1}",
                "sxtb16 {t}, {x}, ror #8",
                "smlad {a1}, {t}, {qo}, {a1}",
                "subs {k}, {k}, #1",
                "bne 2b",
                a0 = inout(reg) a0,
                a1 = inout(reg) a1,
                p = inout(reg) block.as_ptr() => _,
                qp = inout(reg) pairs.as_ptr() => _,
                k = inout(reg) steps => _,
                n = in(reg) n,
                qe = out(reg) _,
                qo = out(reg) _,
                w = out(reg) _,
                x = out(reg) _,
                t = out(reg) _,
                options(nostack, readonly),
            );
        }
        [a0, a1]
    }
    #[cfg(not(mote_arm_dsp))]
    {
        let (r0, r1) = block.split_at(n);
        let mut acc = [0i32; 2];
        let words = r0.chunks_exact(4).zip(r1.chunks_exact(4));
        for ((w0, w1), q) in words.zip(pairs.chunks_exact(2)).take(2 * steps) {
            for (a, w) in acc.iter_mut().zip([w0, w1]) {
                let w = word(w);
                *a = smlad(sxtb16(w), q[0], *a);
                *a = smlad(sxtb16_ror8(w), q[1], *a);
            }
        }
        acc
    }
}
