//! Sparse tape ops for graph networks: row gathers, segment means (the neighbour aggregator),
//! a linear map whose weight block depends on each row's node type, row L2 normalisation, row
//! dot products and the logistic link-prediction loss.
//!
//! Aggregation never builds a dense N x N adjacency: a [`Segments`] list names, for every
//! output row, the input rows to average, and the adjoint scatters back along the same lists.
//! Each op has a plain `*_forward` function (used for full-graph inference without a tape)
//! and a tape version recorded through [`Function`]; every adjoint is gradient-checked below.

use crate::gp::ops::softplus;
use crate::tape::{sigmoid, Function, Matrix, Tape, Var};

/// For each output row `i`, the input rows `sources[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Segments {
    /// `rows + 1` non-decreasing offsets into `sources`, starting at 0.
    pub offsets: Vec<usize>,
    /// Input row indices, segment after segment.
    pub sources: Vec<usize>,
}

impl Segments {
    /// An empty list (no output rows yet).
    pub fn new() -> Segments {
        Segments {
            offsets: vec![0],
            sources: Vec::new(),
        }
    }

    /// Closes the current segment (everything pushed to `sources` since the last call).
    pub fn close(&mut self) {
        self.offsets.push(self.sources.len());
    }

    /// Number of output rows.
    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The input rows of output row `i`.
    pub fn segment(&self, i: usize) -> &[usize] {
        &self.sources[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// Rows `indices` of `x`, in that order.
pub fn gather_rows_forward(x: &Matrix, indices: &[usize]) -> Matrix {
    let d = x.cols;
    let mut data = Vec::with_capacity(indices.len() * d);
    for &i in indices {
        data.extend_from_slice(x.row(i));
    }
    Matrix::new(indices.len(), d, data)
}

#[derive(Debug)]
struct GatherRows {
    indices: Vec<usize>,
}

impl Function for GatherRows {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let x = inputs[0];
        let d = x.cols;
        let mut gx = Matrix::zeros(x.rows, d);
        for (r, &i) in self.indices.iter().enumerate() {
            for (a, b) in gx.data[i * d..(i + 1) * d].iter_mut().zip(g.row(r)) {
                *a += b;
            }
        }
        vec![Some(gx)]
    }
}

/// Rows `indices` of `x` on the tape (the adjoint scatter-adds back; repeats accumulate).
pub fn gather_rows(tape: &mut Tape, x: Var, indices: &[usize]) -> Var {
    let value = gather_rows_forward(tape.value(x), indices);
    tape.record(
        &[x],
        value,
        GatherRows {
            indices: indices.to_vec(),
        },
    )
}

/// Mean of each segment's rows of `x` (a zero row for an empty segment).
pub fn segment_mean_forward(x: &Matrix, segments: &Segments) -> Matrix {
    let d = x.cols;
    let rows = segments.rows();
    let mut out = Matrix::zeros(rows, d);
    for i in 0..rows {
        let seg = segments.segment(i);
        if seg.is_empty() {
            continue;
        }
        let scale = 1.0 / seg.len() as f64;
        let o = &mut out.data[i * d..(i + 1) * d];
        for &s in seg {
            for (a, b) in o.iter_mut().zip(x.row(s)) {
                *a += b;
            }
        }
        for a in o.iter_mut() {
            *a *= scale;
        }
    }
    out
}

#[derive(Debug)]
struct SegmentMean {
    segments: Segments,
}

impl Function for SegmentMean {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let x = inputs[0];
        let d = x.cols;
        let mut gx = Matrix::zeros(x.rows, d);
        for i in 0..self.segments.rows() {
            let seg = self.segments.segment(i);
            if seg.is_empty() {
                continue;
            }
            let scale = 1.0 / seg.len() as f64;
            let gi = g.row(i);
            for &s in seg {
                for (a, b) in gx.data[s * d..(s + 1) * d].iter_mut().zip(gi) {
                    *a += scale * b;
                }
            }
        }
        vec![Some(gx)]
    }
}

/// Segment means of `x`'s rows on the tape: the mean neighbour aggregator.
pub fn segment_mean(tape: &mut Tape, x: Var, segments: &Segments) -> Var {
    let value = segment_mean_forward(tape.value(x), segments);
    tape.record(
        &[x],
        value,
        SegmentMean {
            segments: segments.clone(),
        },
    )
}

/// `out[i] = x[i] · W_{types[i]}` where `w` stacks one `x.cols x out` block per type.
pub fn typed_linear_forward(x: &Matrix, w: &Matrix, types: &[u8]) -> Matrix {
    let d = x.cols;
    let e = w.cols;
    assert_eq!(types.len(), x.rows, "typed_linear: one type per row");
    assert_eq!(
        w.rows % d.max(1),
        0,
        "typed_linear: weight rows not a multiple"
    );
    let mut out = Matrix::zeros(x.rows, e);
    for (i, &t) in types.iter().enumerate() {
        let base = t as usize * d;
        assert!(
            base + d <= w.rows,
            "typed_linear: type {t} has no weight block"
        );
        let o = &mut out.data[i * e..(i + 1) * e];
        for (k, &a) in x.row(i).iter().enumerate() {
            if a == 0.0 {
                continue;
            }
            for (acc, &b) in o.iter_mut().zip(w.row(base + k)) {
                *acc += a * b;
            }
        }
    }
    out
}

#[derive(Debug)]
struct TypedLinear {
    types: Vec<u8>,
}

impl Function for TypedLinear {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let (x, w) = (inputs[0], inputs[1]);
        let (d, e) = (x.cols, w.cols);
        let mut gx = Matrix::zeros(x.rows, d);
        let mut gw = Matrix::zeros(w.rows, e);
        for (i, &t) in self.types.iter().enumerate() {
            let base = t as usize * d;
            let gi = g.row(i);
            let xi = x.row(i);
            for (k, &a) in xi.iter().enumerate() {
                let wk = w.row(base + k);
                gx.data[i * d + k] = wk.iter().zip(gi).map(|(a, b)| a * b).sum();
                if a != 0.0 {
                    let gwk = &mut gw.data[(base + k) * e..(base + k + 1) * e];
                    for (acc, &b) in gwk.iter_mut().zip(gi) {
                        *acc += a * b;
                    }
                }
            }
        }
        vec![Some(gx), Some(gw)]
    }
}

/// A per-node-type linear map on the tape (one weight block per type, stacked in `w`).
pub fn typed_linear(tape: &mut Tape, x: Var, w: Var, types: &[u8]) -> Var {
    let value = typed_linear_forward(tape.value(x), tape.value(w), types);
    tape.record(
        &[x, w],
        value,
        TypedLinear {
            types: types.to_vec(),
        },
    )
}

/// Added under the square root of the row norm: keeps a zero row finite.
pub const NORM_EPSILON: f64 = 1e-12;

/// Each row divided by `sqrt(|row|² + ε)`.
pub fn l2_normalize_rows_forward(x: &Matrix) -> Matrix {
    let mut out = x.clone();
    for r in 0..x.rows {
        let row = &mut out.data[r * x.cols..(r + 1) * x.cols];
        let n = (row.iter().map(|v| v * v).sum::<f64>() + NORM_EPSILON).sqrt();
        for v in row.iter_mut() {
            *v /= n;
        }
    }
    out
}

#[derive(Debug)]
struct L2NormalizeRows;

impl Function for L2NormalizeRows {
    fn backward(&self, inputs: &[&Matrix], y: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        // y = x / n, n = sqrt(|x|² + ε): x̄ = (ḡ - y (y·ḡ)) / n.
        let x = inputs[0];
        let d = x.cols;
        let mut gx = Matrix::zeros(x.rows, d);
        for r in 0..x.rows {
            let xr = x.row(r);
            let n = (xr.iter().map(|v| v * v).sum::<f64>() + NORM_EPSILON).sqrt();
            let (yr, gr) = (y.row(r), g.row(r));
            let dot: f64 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
            for c in 0..d {
                gx.data[r * d + c] = (gr[c] - yr[c] * dot) / n;
            }
        }
        vec![Some(gx)]
    }
}

/// Row L2 normalisation on the tape.
pub fn l2_normalize_rows(tape: &mut Tape, x: Var) -> Var {
    let value = l2_normalize_rows_forward(tape.value(x));
    tape.record(&[x], value, L2NormalizeRows)
}

#[derive(Debug)]
struct RowDot;

impl Function for RowDot {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let (a, b) = (inputs[0], inputs[1]);
        let mut ga = Matrix::zeros(a.rows, a.cols);
        let mut gb = Matrix::zeros(b.rows, b.cols);
        for r in 0..a.rows {
            let s = g.data[r];
            for c in 0..a.cols {
                ga.data[r * a.cols + c] = s * b.data[r * b.cols + c];
                gb.data[r * b.cols + c] = s * a.data[r * a.cols + c];
            }
        }
        vec![Some(ga), Some(gb)]
    }
}

/// Dot product of matching rows of two same-shape matrices, as a `rows x 1` column.
pub fn row_dot(tape: &mut Tape, a: Var, b: Var) -> Var {
    let (va, vb) = (tape.value(a), tape.value(b));
    assert!(va.same_shape(vb), "row_dot: shapes differ");
    let data = (0..va.rows)
        .map(|r| va.row(r).iter().zip(vb.row(r)).map(|(x, y)| x * y).sum())
        .collect();
    let value = Matrix::new(va.rows, 1, data);
    tape.record(&[a, b], value, RowDot)
}

#[derive(Debug)]
struct LogisticLoss {
    labels: Vec<bool>,
}

impl Function for LogisticLoss {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let s = inputs[0];
        let scale = g.data[0] / self.labels.len() as f64;
        let data = s
            .data
            .iter()
            .zip(&self.labels)
            .map(|(&x, &y)| scale * (sigmoid(x) - if y { 1.0 } else { 0.0 }))
            .collect();
        vec![Some(Matrix::new(s.rows, s.cols, data))]
    }
}

/// Mean binary cross-entropy of logits `scores` (one per element) against `labels`:
/// `mean(softplus(-s))` over positives plus `softplus(s)` over negatives, stable for any `s`.
pub fn logistic_loss(tape: &mut Tape, scores: Var, labels: &[bool]) -> Var {
    let s = tape.value(scores);
    assert_eq!(
        s.data.len(),
        labels.len(),
        "logistic_loss: one label per score"
    );
    let total: f64 = s
        .data
        .iter()
        .zip(labels)
        .map(|(&x, &y)| if y { softplus(-x) } else { softplus(x) })
        .sum();
    let value = Matrix::scalar(total / labels.len() as f64);
    tape.record(
        &[scores],
        value,
        LogisticLoss {
            labels: labels.to_vec(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prng::Rng;
    use crate::tape::gradcheck::check_gradients;

    fn random(rng: &mut Rng, rows: usize, cols: usize) -> Matrix {
        Matrix::new(
            rows,
            cols,
            (0..rows * cols)
                .map(|_| 2.0 * rng.next_f64() - 1.0)
                .collect(),
        )
    }

    /// A fixed weighting so every output element gets a distinct adjoint.
    fn weighted_sum(t: &mut Tape, y: Var, w: Var) -> Var {
        let p = t.mul(y, w);
        t.sum(p)
    }

    #[test]
    fn gather_rows_gradient_with_repeats() {
        let mut rng = Rng::new(1);
        let x = random(&mut rng, 5, 3);
        let w = random(&mut rng, 6, 3);
        check_gradients(&[x, w], |t, v| {
            let y = gather_rows(t, v[0], &[4, 0, 4, 2, 2, 4]);
            weighted_sum(t, y, v[1])
        });
    }

    fn example_segments() -> Segments {
        let mut s = Segments::new();
        for seg in [&[0usize, 3, 3][..], &[], &[5], &[1, 2, 4, 0]] {
            s.sources.extend_from_slice(seg);
            s.close();
        }
        s
    }

    #[test]
    fn segment_mean_values_and_gradient() {
        let mut rng = Rng::new(2);
        let x = random(&mut rng, 6, 3);
        let segs = example_segments();
        let m = segment_mean_forward(&x, &segs);
        assert_eq!(m.rows, 4);
        assert_eq!(m.row(1), &[0.0, 0.0, 0.0]);
        assert_eq!(m.row(2), x.row(5));
        let expect0 = (x.get(0, 1) + 2.0 * x.get(3, 1)) / 3.0;
        assert!((m.get(0, 1) - expect0).abs() < 1e-15);
        let w = random(&mut rng, 4, 3);
        check_gradients(&[x, w], |t, v| {
            let y = segment_mean(t, v[0], &segs);
            weighted_sum(t, y, v[1])
        });
    }

    #[test]
    fn typed_linear_matches_per_type_matmul_and_gradient() {
        let mut rng = Rng::new(3);
        let x = random(&mut rng, 5, 3);
        let w = random(&mut rng, 9, 2);
        let types = [2u8, 0, 1, 2, 0];
        let y = typed_linear_forward(&x, &w, &types);
        for (i, &t) in types.iter().enumerate() {
            let block = Matrix::new(3, 2, w.data[t as usize * 6..(t as usize + 1) * 6].to_vec());
            let xi = Matrix::new(1, 3, x.row(i).to_vec());
            let expect = xi.matmul(&block);
            assert!(expect
                .data
                .iter()
                .zip(y.row(i))
                .all(|(a, b)| (a - b).abs() < 1e-14));
        }
        let g = random(&mut rng, 5, 2);
        check_gradients(&[x, w, g], |t, v| {
            let y = typed_linear(t, v[0], v[1], &types);
            weighted_sum(t, y, v[2])
        });
    }

    #[test]
    fn l2_normalize_rows_gradient_and_unit_norm() {
        let mut rng = Rng::new(4);
        let x = random(&mut rng, 4, 5);
        let y = l2_normalize_rows_forward(&x);
        for r in 0..4 {
            let n: f64 = y.row(r).iter().map(|v| v * v).sum();
            assert!((n - 1.0).abs() < 1e-9);
        }
        let zero = l2_normalize_rows_forward(&Matrix::zeros(1, 3));
        assert!(zero.data.iter().all(|v| *v == 0.0));
        let w = random(&mut rng, 4, 5);
        check_gradients(&[x, w], |t, v| {
            let y = l2_normalize_rows(t, v[0]);
            weighted_sum(t, y, v[1])
        });
    }

    #[test]
    fn row_dot_and_logistic_loss_gradient() {
        let mut rng = Rng::new(5);
        let a = random(&mut rng, 6, 4);
        let b = random(&mut rng, 6, 4);
        let labels = [true, false, true, true, false, false];
        check_gradients(&[a, b], |t, v| {
            let s = row_dot(t, v[0], v[1]);
            let s = t.scale(s, 3.0);
            logistic_loss(t, s, &labels)
        });
    }

    #[test]
    fn logistic_loss_is_stable() {
        let mut t = Tape::new();
        let s = t.leaf(Matrix::new(2, 1, vec![800.0, -800.0]));
        let l = logistic_loss(&mut t, s, &[false, true]);
        assert!((t.value(l).data[0] - 800.0).abs() < 1e-9);
        let g = t.backward(l);
        assert!(g.get(s).unwrap().data.iter().all(|x| x.is_finite()));
    }
}
