//! The 4-row block layout of a GP blob's two triangular factors.
//!
//! Inducing points are taken four at a time (`B = ceil(M / 4)` blocks, `Mp = 4B` rows; rows
//! `M..Mp` are padding). Within a block, one column of four values (one per row) is contiguous,
//! so a kernel reads one vector element and applies it to four rows with one pointer walking
//! forward: two loads per four multiply-adds in f32, and with int16 values stored in column
//! *pairs* one 32-bit word per row and pair, what `SMLAD`-style instructions take.
//!
//! **Lower factor** `L` (forward substitution, strictly lower part): block `b` holds its dense
//! part, columns `0..4b` (`4b` columns of 4 values: `16b` elements), then its 4 x 4 diagonal
//! block `D[r][c] = L[4b + r][4b + c]` for `c < r` and zero elsewhere (16 elements, row by
//! row). Block `b` starts at element `8b(b + 1)`.
//!
//! **Upper factor** `U` (the variance factor, diagonal included): block `b` holds columns
//! `4b..Mp` (`Mp − 4b` columns of 4 values, entries below the diagonal zero). Block `b` starts
//! at element `16bB − 8b(b − 1)`.
//!
//! Both factors have `8B(B + 1)` elements. In f32 a column is `[v(r=0), v(1), v(2), v(3)]`; in
//! int16 columns `j, j + 1` (every dense part has an even number of columns) are stored
//! together as `[v(0, j), v(0, j+1), v(1, j), v(1, j+1), …, v(3, j+1)]`. Diagonal blocks of the
//! lower factor are row by row in both formats.

/// Rows per block.
pub const BLOCK: usize = 4;

/// Number of blocks for `m` inducing points.
pub const fn blocks(m: usize) -> usize {
    m.div_ceil(BLOCK)
}

/// Rows including padding: `4·blocks(m)`.
pub const fn padded(m: usize) -> usize {
    blocks(m) * BLOCK
}

/// Elements of one packed factor (lower or upper) for `m` inducing points, or `None` on
/// overflow.
pub fn factor_len(m: usize) -> Option<usize> {
    let b = blocks(m);
    b.checked_mul(b.checked_add(1)?)?.checked_mul(8)
}

/// Walks a forward substitution `L a = k` over the packed lower factor `chol`, one block of
/// [`BLOCK`] rows at a time: `solve(dense, diag, inv, done, block)` gets the block's dense
/// columns (`BLOCK · done.len()` values), its 4 x 4 diagonal block (row by row), the block's
/// reciprocal diagonal, the values solved so far and the block's values (`k` in, `a` out).
/// Both number formats share this walk; it stops at the first part too short (parse checked
/// the lengths, so only a wrong call gets there).
pub fn forward_blocks<T, I, A>(
    chol: &[T],
    inv_diag: &[I],
    a: &mut [A],
    mut solve: impl FnMut(&[T], &[T; 16], &[I; BLOCK], &[A], &mut [A; BLOCK]),
) {
    let mut rest = chol;
    let mut block_start = 0;
    for inv in inv_diag.chunks_exact(BLOCK) {
        let Some((dense, tail)) = rest.split_at_checked(BLOCK * block_start) else {
            return;
        };
        let Some((diag, tail)) = tail.split_at_checked(BLOCK * BLOCK) else {
            return;
        };
        rest = tail;
        let Some((done, block)) = a.split_at_mut_checked(block_start) else {
            return;
        };
        let (Some(block), Some(diag), Some(inv)) = (
            block.first_chunk_mut::<BLOCK>(),
            diag.first_chunk::<16>(),
            inv.first_chunk::<BLOCK>(),
        ) else {
            return;
        };
        solve(dense, diag, inv, done, block);
        block_start += BLOCK;
    }
}

/// Element position of `L[i][j]` (`j < i < Mp`) in the packed lower factor; `pairs` selects the
/// int16 column-pair order.
pub fn lower_index(i: usize, j: usize, pairs: bool) -> usize {
    let (b, r) = (i / BLOCK, i % BLOCK);
    let start = 8 * b * (b + 1);
    if j < BLOCK * b {
        start + column_offset(j, r, pairs)
    } else {
        start + 16 * b + BLOCK * r + (j - BLOCK * b)
    }
}

/// Element position of `U[i][j]` (`i <= j < mp`) in the packed upper factor of `mp` rows.
pub fn upper_index(i: usize, j: usize, mp: usize, pairs: bool) -> usize {
    let (b, r) = (i / BLOCK, i % BLOCK);
    let nb = mp / BLOCK;
    let start = 16 * b * nb - 8 * b * b.saturating_sub(1);
    start + column_offset(j - BLOCK * b, r, pairs)
}

fn column_offset(col: usize, row: usize, pairs: bool) -> usize {
    if pairs {
        8 * (col / 2) + 2 * row + col % 2
    } else {
        BLOCK * col + row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every entry of each factor has its own position, and the positions fill the section.
    #[test]
    fn positions_are_a_bijection() {
        for m in [1usize, 3, 4, 5, 8, 13, 32] {
            let mp = padded(m);
            let len = factor_len(m).unwrap();
            for pairs in [false, true] {
                let mut lower = BTreeSet::new();
                for i in 0..mp {
                    for j in 0..i {
                        assert!(lower.insert(lower_index(i, j, pairs)));
                    }
                }
                // The diagonal block's upper part and diagonal are stored zeros: 10 per block.
                assert_eq!(lower.len() + 10 * blocks(m), len, "lower m={m}");
                assert!(lower.iter().all(|&p| p < len));
                let mut upper = BTreeSet::new();
                for i in 0..mp {
                    for j in i..mp {
                        assert!(upper.insert(upper_index(i, j, mp, pairs)));
                    }
                }
                // Below the diagonal of each diagonal block: 6 stored zeros per block.
                assert_eq!(upper.len() + 6 * blocks(m), len, "upper m={m}");
                assert!(upper.iter().all(|&p| p < len));
            }
        }
    }
}
