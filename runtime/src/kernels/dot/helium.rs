//! Scoring for Armv8.1-M with Helium (Cortex-M55): plain Rust that LLVM vectorises for MVE
//! when built with `-C target-cpu=cortex-m55`. Four rows per pass share each loaded vector of
//! the query's centred i16 values (`u − z`, prepared once in [`Query`]); each row's bytes are
//! widened as they load (`VLDRB.S16`) and multiplied and summed into the row's i32 score
//! (`VMLADAVA.S16`): per 8 values and 4 rows one `VLDRH`, four `VLDRB` and four `VMLADAVA`, in
//! a tail-predicated loop. (An int8 × int8 loop with a separate sum per row for the zero point
//! needs eight accumulators, which spill.) Off Helium it compiles to whatever the target makes of
//! it, so the host's proptest checks this code against the reference.

use super::Query;

/// Same contract as [`super::reference::scores`].
pub fn scores(query: &Query, table: &[i8], out: &mut [i32]) {
    let n = query.len.max(1);
    let rows = out.len().min(table.len() / n);
    let (Some(table), Some(out), Some(centred)) = (
        table.get(..rows * n),
        out.get_mut(..rows),
        query.centred.get(..n),
    ) else {
        return;
    };
    let blocks = table.chunks_exact(4 * n);
    let rest = blocks.remainder();
    let mut out_blocks = out.chunks_exact_mut(4);
    for (block, scores) in blocks.zip(&mut out_blocks) {
        let (r01, r23) = block.split_at(2 * n);
        let (r0, r1) = r01.split_at(n);
        let (r2, r3) = r23.split_at(n);
        scores.copy_from_slice(&dot4(r0, r1, r2, r3, centred));
    }
    for (row, score) in rest.chunks_exact(n).zip(out_blocks.into_remainder()) {
        *score = row
            .iter()
            .zip(centred)
            .fold(0i32, |acc, (&v, &c)| acc + i32::from(c) * i32::from(v));
    }
}

/// Four rows' scores against the centred query `c`; all five slices have the same length.
#[inline(always)]
fn dot4(r0: &[i8], r1: &[i8], r2: &[i8], r3: &[i8], c: &[i16]) -> [i32; 4] {
    let mut acc = [0i32; 4];
    let columns = c.iter().zip(r0).zip(r1).zip(r2).zip(r3);
    for ((((&c, &v0), &v1), &v2), &v3) in columns {
        let c = i32::from(c);
        acc[0] += i32::from(v0) * c;
        acc[1] += i32::from(v1) * c;
        acc[2] += i32::from(v2) * c;
        acc[3] += i32::from(v3) * c;
    }
    acc
}
