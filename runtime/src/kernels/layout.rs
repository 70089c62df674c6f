//! Weight layouts: how many bytes each takes, how the exporter packs them, and the portable
//! kernel for the packed [`WeightLayout::RowQuads`] order.
//!
//! One definition serves both sides: the exporter calls [`pack_row_quads`], the runtime's
//! validation calls [`packed_len`], and the kernels index with the same arithmetic.

use super::fully_connected::{constants, requantize, FullyConnectedView};
use crate::manifest::WeightLayout;

/// Rows per block and columns per group of [`WeightLayout::RowQuads`].
pub const QUAD: usize = 4;

/// Bytes of the weights of a `rows x cols` layer in `layout`, or `None` for an unknown layout
/// or a size that overflows.
pub fn packed_len(layout: WeightLayout, rows: usize, cols: usize) -> Option<usize> {
    match layout {
        WeightLayout::RowMajor => rows.checked_mul(cols),
        WeightLayout::RowQuads => round_up(rows)?.checked_mul(round_up(cols)?),
        WeightLayout::Unknown(_) => None,
    }
}

fn round_up(n: usize) -> Option<usize> {
    Some(n.checked_add(QUAD - 1)? / QUAD * QUAD)
}

/// Writes the row-major `rows x cols` matrix `weights` into `packed` in
/// [`WeightLayout::RowQuads`] order, zero-padding rows and columns to multiples of four.
///
/// `packed` must hold `packed_len(RowQuads, rows, cols)` bytes; extra bytes are left alone and
/// missing ones are skipped, so a wrong length cannot write out of bounds.
pub fn pack_row_quads(weights: &[i8], rows: usize, cols: usize, packed: &mut [i8]) {
    let groups = cols.div_ceil(QUAD);
    for (index, slot) in packed.iter_mut().enumerate() {
        let (block_group, within) = (index / (QUAD * QUAD), index % (QUAD * QUAD));
        let (block, group) = (block_group / groups.max(1), block_group % groups.max(1));
        let row = block * QUAD + within / QUAD;
        let col = group * QUAD + within % QUAD;
        *slot = if row < rows && col < cols {
            weights.get(row * cols + col).copied().unwrap_or(0)
        } else {
            0
        };
    }
}

/// Portable int8 fully connected over [`WeightLayout::RowQuads`] weights; the same outputs as
/// the row-major reference on the unpacked matrix.
pub fn fully_connected_row_quads(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) {
    let groups = layer.input_len.div_ceil(QUAD);
    let blocks = layer.weights.chunks_exact((QUAD * QUAD * groups).max(1));
    for (block, (weights, outs)) in blocks.zip(output.chunks_mut(QUAD)).enumerate() {
        let mut dots = [0i32; QUAD];
        for (group, x) in weights.chunks_exact(QUAD * QUAD).zip(input.chunks(QUAD)) {
            for (dot, w) in dots.iter_mut().zip(group.chunks_exact(QUAD)) {
                let products = w.iter().zip(x).map(|(&w, &x)| w as i32 * x as i32);
                *dot = products.fold(*dot, i32::wrapping_add);
            }
        }
        for (k, (out, dot)) in outs.iter_mut().zip(dots).enumerate() {
            *out = requantize(layer, dot, constants(layer, block * QUAD + k));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_a_five_by_six_matrix_with_padding() {
        let (rows, cols) = (5, 6);
        let weights: std::vec::Vec<i8> = (1..=30).collect();
        let len = packed_len(WeightLayout::RowQuads, rows, cols).unwrap();
        assert_eq!(len, 8 * 8);
        let mut packed = std::vec![99i8; len];
        pack_row_quads(&weights, rows, cols, &mut packed);
        // Block 0, group 0: rows 0..4, columns 0..4.
        assert_eq!(
            packed[..16],
            [1, 2, 3, 4, 7, 8, 9, 10, 13, 14, 15, 16, 19, 20, 21, 22]
        );
        // Block 0, group 1: columns 4, 5 and two zero columns.
        assert_eq!(
            packed[16..32],
            [5, 6, 0, 0, 11, 12, 0, 0, 17, 18, 0, 0, 23, 24, 0, 0]
        );
        // Block 1 holds row 4 and three zero rows.
        assert_eq!(packed[32..36], [25, 26, 27, 28]);
        assert_eq!(packed[48..52], [29, 30, 0, 0]);
        assert!(packed[36..48].iter().chain(&packed[52..]).all(|&w| w == 0));
    }

    #[test]
    fn unknown_layouts_have_no_length() {
        assert_eq!(packed_len(WeightLayout::Unknown(7), 4, 4), None);
        assert_eq!(packed_len(WeightLayout::RowQuads, usize::MAX, 4), None);
    }
}
