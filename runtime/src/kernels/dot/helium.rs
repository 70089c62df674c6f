//! Scoring for Armv8.1-M with Helium (Cortex-M55): plain Rust that LLVM vectorises for MVE
//! when built with `-C target-cpu=cortex-m55`. Four rows per pass share each loaded query
//! vector; the loop multiplies int8 by int8 (`VMLADAVA.S8`) and sums each row (`VADDVA.S8`),
//! and the zero point is applied once per row: `Σ (u − z)·v = Σ u·v − z·Σ v`, exact in i32.
//! Off Helium it compiles to whatever the target makes of it, so the host's proptest checks
//! this code against the reference.

use super::Query;

/// Same contract as [`super::reference::scores`].
pub fn scores(query: &Query, table: &[i8], out: &mut [i32]) {
    let n = query.len.max(1);
    let rows = out.len().min(table.len() / n);
    let (Some(table), Some(out), Some(user)) = (
        table.get(..rows * n),
        out.get_mut(..rows),
        query.user.get(..n),
    ) else {
        return;
    };
    let z = query.zero_point;
    let blocks = table.chunks_exact(4 * n);
    let rest = blocks.remainder();
    let mut out_blocks = out.chunks_exact_mut(4);
    for (block, scores) in blocks.zip(&mut out_blocks) {
        let (r01, r23) = block.split_at(2 * n);
        let (r0, r1) = r01.split_at(n);
        let (r2, r3) = r23.split_at(n);
        let (dots, sums) = dot4(r0, r1, r2, r3, user);
        for ((score, dot), sum) in scores.iter_mut().zip(dots).zip(sums) {
            *score = dot - z * sum;
        }
    }
    for (row, score) in rest.chunks_exact(n).zip(out_blocks.into_remainder()) {
        let (mut dot, mut sum) = (0i32, 0i32);
        for (&v, &u) in row.iter().zip(user) {
            dot += i32::from(u) * i32::from(v);
            sum += i32::from(v);
        }
        *score = dot - z * sum;
    }
}

/// Four dot products with `x` and the four row sums; all five slices have the same length.
#[inline(always)]
fn dot4(r0: &[i8], r1: &[i8], r2: &[i8], r3: &[i8], x: &[i8]) -> ([i32; 4], [i32; 4]) {
    let (mut dot, mut sum) = ([0i32; 4], [0i32; 4]);
    let columns = x.iter().zip(r0).zip(r1).zip(r2).zip(r3);
    for ((((&x, &v0), &v1), &v2), &v3) in columns {
        let x = i32::from(x);
        dot[0] += i32::from(v0) * x;
        dot[1] += i32::from(v1) * x;
        dot[2] += i32::from(v2) * x;
        dot[3] += i32::from(v3) * x;
        sum[0] += i32::from(v0);
        sum[1] += i32::from(v1);
        sum[2] += i32::from(v2);
        sum[3] += i32::from(v3);
    }
    (dot, sum)
}
