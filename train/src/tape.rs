//! A small reverse-mode automatic differentiation "tape" over dense f64 matrices.
//!
//! Why our own: Rust's deep-learning crates have no gradients through Cholesky or triangular
//! solves (needed later for the GP models) and take many minutes to build cold. A tape is a
//! flat list of nodes in evaluation order; each node keeps its value and the `Op` that made
//! it, so [`Tape::backward`] walks the list once in reverse and applies each op's adjoint rule.
//!
//! The core ops live here as `Op` variants. Families of ops defined elsewhere (linear algebra
//! for GPs, convolutions for CNNs) implement [`Function`] in their own module and record
//! themselves with [`Tape::record`]; the reverse sweep calls their adjoint rule. Every op's
//! adjoint is checked against central finite differences ([`gradcheck::check_gradients`]).

use core::fmt;
use std::rc::Rc;

/// A dense row-major matrix of f64: the only value type on the tape (scalars are 1 x 1).
#[derive(Clone, PartialEq)]
pub struct Matrix {
    /// Number of rows (for a batch: one row per sample).
    pub rows: usize,
    /// Number of columns (for a batch: one column per feature).
    pub cols: usize,
    /// Row-major values: element (r, c) is `data[r * cols + c]`.
    pub data: Vec<f64>,
}

impl fmt::Debug for Matrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Matrix {}x{} {:?}", self.rows, self.cols, self.data)
    }
}

impl Matrix {
    /// Wraps row-major data; panics if `data.len() != rows * cols` (a programming error).
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        assert_eq!(
            data.len(),
            rows * cols,
            "Matrix::new: data length does not match shape"
        );
        Matrix { rows, cols, data }
    }

    /// An all-zero matrix, e.g. a gradient accumulator or a bias before training.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// A 1 x 1 matrix holding a scalar (losses are scalars on the tape).
    pub fn scalar(value: f64) -> Self {
        Matrix {
            rows: 1,
            cols: 1,
            data: vec![value],
        }
    }

    /// Element (r, c).
    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    /// Row `r` as a slice (rows are contiguous in row-major storage).
    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// Same shape as `other`? Used by the elementwise ops' shape checks.
    pub fn same_shape(&self, other: &Matrix) -> bool {
        self.rows == other.rows && self.cols == other.cols
    }

    /// The transpose, e.g. to turn a (in x out) weight into the checkpoint's (out x in).
    pub fn transpose(&self) -> Matrix {
        let mut out = Matrix::zeros(self.cols, self.rows);
        for r in 0..self.rows {
            for c in 0..self.cols {
                out.data[c * self.rows + r] = self.data[r * self.cols + c];
            }
        }
        out
    }

    /// Matrix product `self · other` (i-k-j loop order so the inner loop is contiguous).
    pub fn matmul(&self, other: &Matrix) -> Matrix {
        assert_eq!(self.cols, other.rows, "matmul: inner dimensions differ");
        let mut out = Matrix::zeros(self.rows, other.cols);
        let n = other.cols;
        for i in 0..self.rows {
            let out_row = &mut out.data[i * n..(i + 1) * n];
            for (k, &a) in self.row(i).iter().enumerate() {
                if a == 0.0 {
                    continue;
                }
                let b_row = &other.data[k * n..(k + 1) * n];
                for (o, &b) in out_row.iter_mut().zip(b_row) {
                    *o += a * b;
                }
            }
        }
        out
    }

    /// `self · otherᵀ` without materialising the transpose (the matmul adjoint for the left input).
    fn matmul_nt(&self, other: &Matrix) -> Matrix {
        assert_eq!(self.cols, other.cols, "matmul_nt: inner dimensions differ");
        let mut out = Matrix::zeros(self.rows, other.rows);
        for i in 0..self.rows {
            let a = self.row(i);
            for j in 0..other.rows {
                out.data[i * other.rows + j] = a.iter().zip(other.row(j)).map(|(x, y)| x * y).sum();
            }
        }
        out
    }

    /// `selfᵀ · other` without materialising the transpose (the matmul adjoint for the right input).
    fn matmul_tn(&self, other: &Matrix) -> Matrix {
        assert_eq!(self.rows, other.rows, "matmul_tn: inner dimensions differ");
        let n = other.cols;
        let mut out = Matrix::zeros(self.cols, n);
        for i in 0..self.rows {
            let b_row = other.row(i);
            for (k, &a) in self.row(i).iter().enumerate() {
                if a == 0.0 {
                    continue;
                }
                let out_row = &mut out.data[k * n..(k + 1) * n];
                for (o, &b) in out_row.iter_mut().zip(b_row) {
                    *o += a * b;
                }
            }
        }
        out
    }

    fn map(&self, f: impl Fn(f64) -> f64) -> Matrix {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }

    fn zip_map(&self, other: &Matrix, f: impl Fn(f64, f64) -> f64) -> Matrix {
        debug_assert!(self.same_shape(other));
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        }
    }

    fn add_assign(&mut self, other: &Matrix) {
        debug_assert!(self.same_shape(other));
        for (a, b) in self.data.iter_mut().zip(&other.data) {
            *a += b;
        }
    }

    /// Sums over rows into a 1 x cols row: the adjoint of a row broadcast.
    fn column_sums(&self) -> Matrix {
        let mut out = Matrix::zeros(1, self.cols);
        for r in 0..self.rows {
            for (o, &x) in out.data.iter_mut().zip(self.row(r)) {
                *o += x;
            }
        }
        out
    }
}

/// A handle to a node on a [`Tape`]: cheap to copy, only meaningful for the tape that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Var(usize);

impl Var {
    /// Position of the node on its tape (nodes are numbered in evaluation order).
    pub fn index(self) -> usize {
        self.0
    }
}

/// How a node was computed: the information its adjoint rule needs.
#[derive(Debug, Clone)]
enum Op {
    /// An input or parameter: no parents.
    Leaf,
    MatMul(Var, Var),
    /// `a + b`; `b` may be a 1 x cols row broadcast over `a`'s rows (a bias).
    Add(Var, Var),
    /// `a - b`; `b` may be a 1 x cols row broadcast over `a`'s rows.
    Sub(Var, Var),
    Mul(Var, Var),
    Scale(Var, f64),
    Relu(Var),
    Relu6(Var),
    Tanh(Var),
    Sigmoid(Var),
    Sum(Var),
    Mean(Var),
    /// Mean softmax cross-entropy; keeps the softmax probabilities for the adjoint.
    SoftmaxCrossEntropy {
        logits: Var,
        labels: Vec<usize>,
        probs: Matrix,
    },
    MeanSquaredError(Var, Var),
    /// An op defined outside this module.
    Function {
        inputs: Vec<Var>,
        function: Rc<dyn Function>,
    },
}

/// An op whose forward value is computed by its caller and whose adjoint rule lives beside it.
///
/// Implement it for a struct holding whatever the adjoint needs (e.g. a factorisation), then
/// record the op with [`Tape::record`].
pub trait Function: fmt::Debug {
    /// The adjoints of the inputs given the inputs' values, this op's value and its adjoint
    /// `grad`; one entry per input, `None` where no gradient flows (e.g. an integer index).
    fn backward(&self, inputs: &[&Matrix], output: &Matrix, grad: &Matrix) -> Vec<Option<Matrix>>;
}

#[derive(Debug, Clone)]
struct Node {
    value: Matrix,
    op: Op,
}

/// The recorded computation: build it forward with the op methods, then call [`Tape::backward`].
///
/// A fresh tape per minibatch keeps memory bounded and makes the graph trivially acyclic.
#[derive(Debug, Default, Clone)]
pub struct Tape {
    nodes: Vec<Node>,
}

/// Adjoints of every node with respect to one scalar output, indexed by [`Var`].
#[derive(Debug, Clone)]
pub struct Gradients {
    grads: Vec<Option<Matrix>>,
}

impl Gradients {
    /// The gradient for `v`, or `None` if the output does not depend on `v`.
    pub fn get(&self, v: Var) -> Option<&Matrix> {
        self.grads.get(v.0).and_then(Option::as_ref)
    }

    /// Moves the gradient for `v` out (avoids a copy when handing it to an optimiser).
    pub fn take(&mut self, v: Var) -> Option<Matrix> {
        self.grads.get_mut(v.0).and_then(Option::take)
    }
}

fn broadcast_ok(a: &Matrix, b: &Matrix) -> bool {
    a.same_shape(b) || (b.rows == 1 && b.cols == a.cols)
}

fn broadcast_zip(a: &Matrix, b: &Matrix, f: impl Fn(f64, f64) -> f64) -> Matrix {
    if a.same_shape(b) {
        return a.zip_map(b, f);
    }
    let mut out = a.clone();
    for r in 0..a.rows {
        let row = &mut out.data[r * a.cols..(r + 1) * a.cols];
        for (x, &y) in row.iter_mut().zip(&b.data) {
            *x = f(*x, y);
        }
    }
    out
}

impl Tape {
    /// An empty tape.
    pub fn new() -> Self {
        Tape { nodes: Vec::new() }
    }

    /// Number of nodes recorded so far.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True before anything was recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn push(&mut self, value: Matrix, op: Op) -> Var {
        self.nodes.push(Node { value, op });
        Var(self.nodes.len() - 1)
    }

    /// Records an input or parameter; its gradient is available after [`Tape::backward`].
    pub fn leaf(&mut self, value: Matrix) -> Var {
        self.push(value, Op::Leaf)
    }

    /// Records an op defined outside this module: `value` is its forward result on the values
    /// of `inputs`, and `function` gives the adjoints in the reverse sweep.
    pub fn record(
        &mut self,
        inputs: &[Var],
        value: Matrix,
        function: impl Function + 'static,
    ) -> Var {
        let op = Op::Function {
            inputs: inputs.to_vec(),
            function: Rc::new(function),
        };
        self.push(value, op)
    }

    /// The forward value of a node.
    pub fn value(&self, v: Var) -> &Matrix {
        &self.nodes[v.0].value
    }

    /// Matrix product `a · b` (a dense layer: batch x in times in x out).
    pub fn matmul(&mut self, a: Var, b: Var) -> Var {
        let value = self.value(a).matmul(self.value(b));
        self.push(value, Op::MatMul(a, b))
    }

    /// `a + b`, where `b` is either the same shape or a 1 x cols row added to every row (a bias).
    pub fn add(&mut self, a: Var, b: Var) -> Var {
        let (va, vb) = (self.value(a), self.value(b));
        assert!(
            broadcast_ok(va, vb),
            "add: shapes {}x{} and {}x{}",
            va.rows,
            va.cols,
            vb.rows,
            vb.cols
        );
        let value = broadcast_zip(va, vb, |x, y| x + y);
        self.push(value, Op::Add(a, b))
    }

    /// `a - b`, with the same row broadcast as [`Tape::add`].
    pub fn sub(&mut self, a: Var, b: Var) -> Var {
        let (va, vb) = (self.value(a), self.value(b));
        assert!(
            broadcast_ok(va, vb),
            "sub: shapes {}x{} and {}x{}",
            va.rows,
            va.cols,
            vb.rows,
            vb.cols
        );
        let value = broadcast_zip(va, vb, |x, y| x - y);
        self.push(value, Op::Sub(a, b))
    }

    /// Elementwise (Hadamard) product of two same-shape matrices.
    pub fn mul(&mut self, a: Var, b: Var) -> Var {
        let (va, vb) = (self.value(a), self.value(b));
        assert!(va.same_shape(vb), "mul: shapes differ");
        let value = va.zip_map(vb, |x, y| x * y);
        self.push(value, Op::Mul(a, b))
    }

    /// `factor * a` for a constant factor (e.g. an L2 penalty weight).
    pub fn scale(&mut self, a: Var, factor: f64) -> Var {
        let value = self.value(a).map(|x| x * factor);
        self.push(value, Op::Scale(a, factor))
    }

    /// `max(0, a)` elementwise.
    pub fn relu(&mut self, a: Var) -> Var {
        let value = self.value(a).map(|x| x.max(0.0));
        self.push(value, Op::Relu(a))
    }

    /// `min(max(0, a), 6)` elementwise: ReLU with a bounded range, friendly to int8.
    pub fn relu6(&mut self, a: Var) -> Var {
        let value = self.value(a).map(|x| x.clamp(0.0, 6.0));
        self.push(value, Op::Relu6(a))
    }

    /// `tanh(a)` elementwise.
    pub fn tanh(&mut self, a: Var) -> Var {
        let value = self.value(a).map(f64::tanh);
        self.push(value, Op::Tanh(a))
    }

    /// Logistic sigmoid `1 / (1 + e^-a)` elementwise (computed without overflow).
    pub fn sigmoid(&mut self, a: Var) -> Var {
        let value = self.value(a).map(sigmoid);
        self.push(value, Op::Sigmoid(a))
    }

    /// Sum of all elements, as a 1 x 1 scalar.
    pub fn sum(&mut self, a: Var) -> Var {
        let value = Matrix::scalar(self.value(a).data.iter().sum());
        self.push(value, Op::Sum(a))
    }

    /// Mean of all elements, as a 1 x 1 scalar.
    pub fn mean(&mut self, a: Var) -> Var {
        let m = self.value(a);
        let value = Matrix::scalar(m.data.iter().sum::<f64>() / m.data.len() as f64);
        self.push(value, Op::Mean(a))
    }

    /// Softmax cross-entropy of `logits` (batch x classes) against integer `labels`, averaged
    /// over the batch. Uses the log-sum-exp shift, so huge logits do not overflow.
    pub fn softmax_cross_entropy(&mut self, logits: Var, labels: &[usize]) -> Var {
        let z = self.value(logits);
        assert_eq!(
            z.rows,
            labels.len(),
            "softmax_cross_entropy: one label per row"
        );
        let mut probs = Matrix::zeros(z.rows, z.cols);
        let mut total = 0.0;
        for (r, &label) in labels.iter().enumerate() {
            assert!(
                label < z.cols,
                "softmax_cross_entropy: label {label} out of range"
            );
            let row = z.row(r);
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum_exp: f64 = row.iter().map(|&x| (x - max).exp()).sum();
            let log_sum_exp = max + sum_exp.ln();
            total += log_sum_exp - row[label];
            for (p, &x) in probs.data[r * z.cols..(r + 1) * z.cols].iter_mut().zip(row) {
                *p = (x - log_sum_exp).exp();
            }
        }
        let value = Matrix::scalar(total / labels.len() as f64);
        self.push(
            value,
            Op::SoftmaxCrossEntropy {
                logits,
                labels: labels.to_vec(),
                probs,
            },
        )
    }

    /// Mean over all elements of `(prediction - target)²`, as a 1 x 1 scalar.
    pub fn mean_squared_error(&mut self, prediction: Var, target: Var) -> Var {
        let (p, t) = (self.value(prediction), self.value(target));
        assert!(p.same_shape(t), "mean_squared_error: shapes differ");
        let total: f64 = p
            .data
            .iter()
            .zip(&t.data)
            .map(|(a, b)| (a - b) * (a - b))
            .sum();
        let value = Matrix::scalar(total / p.data.len() as f64);
        self.push(value, Op::MeanSquaredError(prediction, target))
    }

    /// Reverse sweep: gradients of the scalar `output` with respect to every earlier node.
    ///
    /// Panics if `output` is not 1 x 1 (gradients are defined for scalar objectives).
    pub fn backward(&self, output: Var) -> Gradients {
        let out_value = self.value(output);
        assert!(
            out_value.rows == 1 && out_value.cols == 1,
            "backward: output must be 1 x 1"
        );
        let mut grads: Vec<Option<Matrix>> = vec![None; self.nodes.len()];
        grads[output.0] = Some(Matrix::scalar(1.0));

        for index in (0..=output.0).rev() {
            let Some(g) = grads[index].take() else {
                continue;
            };
            let node = &self.nodes[index];
            match &node.op {
                Op::Leaf => {}
                Op::MatMul(a, b) => {
                    let ga = g.matmul_nt(self.value(*b));
                    let gb = self.value(*a).matmul_tn(&g);
                    accumulate(&mut grads, *a, ga);
                    accumulate(&mut grads, *b, gb);
                }
                Op::Add(a, b) | Op::Sub(a, b) => {
                    let sign = if matches!(node.op, Op::Add(..)) {
                        1.0
                    } else {
                        -1.0
                    };
                    let vb = self.value(*b);
                    let gb = if vb.same_shape(&g) {
                        g.clone()
                    } else {
                        g.column_sums()
                    };
                    accumulate(&mut grads, *b, gb.map(|x| sign * x));
                    accumulate(&mut grads, *a, g.clone());
                }
                Op::Mul(a, b) => {
                    accumulate(&mut grads, *a, g.zip_map(self.value(*b), |x, y| x * y));
                    accumulate(&mut grads, *b, g.zip_map(self.value(*a), |x, y| x * y));
                }
                Op::Scale(a, factor) => accumulate(&mut grads, *a, g.map(|x| x * factor)),
                Op::Relu(a) => {
                    let ga = g.zip_map(self.value(*a), |x, v| if v > 0.0 { x } else { 0.0 });
                    accumulate(&mut grads, *a, ga);
                }
                Op::Relu6(a) => {
                    let ga = g.zip_map(
                        self.value(*a),
                        |x, v| if v > 0.0 && v < 6.0 { x } else { 0.0 },
                    );
                    accumulate(&mut grads, *a, ga);
                }
                Op::Tanh(a) => {
                    accumulate(
                        &mut grads,
                        *a,
                        g.zip_map(&node.value, |x, y| x * (1.0 - y * y)),
                    );
                }
                Op::Sigmoid(a) => {
                    accumulate(
                        &mut grads,
                        *a,
                        g.zip_map(&node.value, |x, y| x * y * (1.0 - y)),
                    );
                }
                Op::Sum(a) => {
                    let va = self.value(*a);
                    let s = g.data[0];
                    accumulate(
                        &mut grads,
                        *a,
                        Matrix::new(va.rows, va.cols, vec![s; va.data.len()]),
                    );
                }
                Op::Mean(a) => {
                    let va = self.value(*a);
                    let s = g.data[0] / va.data.len() as f64;
                    accumulate(
                        &mut grads,
                        *a,
                        Matrix::new(va.rows, va.cols, vec![s; va.data.len()]),
                    );
                }
                Op::SoftmaxCrossEntropy {
                    logits,
                    labels,
                    probs,
                } => {
                    // d/dz of mean_r(lse(z_r) - z_r[y_r]) = (softmax(z_r) - onehot(y_r)) / batch.
                    let s = g.data[0] / labels.len() as f64;
                    let mut gz = probs.clone();
                    for (r, &label) in labels.iter().enumerate() {
                        gz.data[r * gz.cols + label] -= 1.0;
                    }
                    accumulate(&mut grads, *logits, gz.map(|x| x * s));
                }
                Op::MeanSquaredError(p, t) => {
                    let (vp, vt) = (self.value(*p), self.value(*t));
                    let s = 2.0 * g.data[0] / vp.data.len() as f64;
                    let diff = vp.zip_map(vt, |a, b| s * (a - b));
                    accumulate(&mut grads, *t, diff.map(|x| -x));
                    accumulate(&mut grads, *p, diff);
                }
                Op::Function { inputs, function } => {
                    let values: Vec<&Matrix> = inputs.iter().map(|&v| self.value(v)).collect();
                    let adjoints = function.backward(&values, &node.value, &g);
                    for (&input, adjoint) in inputs.iter().zip(adjoints) {
                        if let Some(adjoint) = adjoint {
                            accumulate(&mut grads, input, adjoint);
                        }
                    }
                }
            }
            // Keep the gradient of every node so callers can read any of them afterwards.
            grads[index] = Some(g);
        }
        Gradients { grads }
    }
}

fn accumulate(grads: &mut [Option<Matrix>], v: Var, g: Matrix) {
    match &mut grads[v.0] {
        Some(existing) => existing.add_assign(&g),
        slot @ None => *slot = Some(g),
    }
}

/// Numerically safe logistic function (no `exp` overflow for large |x|).
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Finite-difference checking of adjoint rules, for the tests of every module that adds ops.
#[cfg(test)]
pub(crate) mod gradcheck {
    use super::{Matrix, Tape, Var};

    /// Checks the tape's gradient of `f` with respect to every input against central finite
    /// differences, elementwise, with relative error below 1e-6.
    pub fn check_gradients(inputs: &[Matrix], f: impl Fn(&mut Tape, &[Var]) -> Var) {
        let mut tape = Tape::new();
        let vars: Vec<Var> = inputs.iter().map(|m| tape.leaf(m.clone())).collect();
        let out = f(&mut tape, &vars);
        let grads = tape.backward(out);

        let eval = |inputs: &[Matrix]| {
            let mut t = Tape::new();
            let vs: Vec<Var> = inputs.iter().map(|m| t.leaf(m.clone())).collect();
            let o = f(&mut t, &vs);
            t.value(o).data[0]
        };
        let h = 1e-5;
        for (k, input) in inputs.iter().enumerate() {
            let analytic = grads
                .get(vars[k])
                .cloned()
                .unwrap_or_else(|| Matrix::zeros(input.rows, input.cols));
            assert!(analytic.same_shape(input), "gradient shape for input {k}");
            for i in 0..input.data.len() {
                let mut plus = inputs.to_vec();
                plus[k].data[i] += h;
                let mut minus = inputs.to_vec();
                minus[k].data[i] -= h;
                let numeric = (eval(&plus) - eval(&minus)) / (2.0 * h);
                let a = analytic.data[i];
                let rel = (a - numeric).abs() / a.abs().max(numeric.abs()).max(1e-3);
                assert!(
                    rel < 1e-6,
                    "input {k} element {i}: analytic {a} numeric {numeric} rel {rel}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::gradcheck::check_gradients;
    use super::*;
    use crate::prng::Rng;

    fn random_matrix(rng: &mut Rng, rows: usize, cols: usize, lo: f64, hi: f64) -> Matrix {
        Matrix::new(
            rows,
            cols,
            (0..rows * cols)
                .map(|_| lo + (hi - lo) * rng.next_f64())
                .collect(),
        )
    }

    /// Random values kept away from the kinks of ReLU/ReLU6 so finite differences are valid.
    fn away_from_kinks(rng: &mut Rng, rows: usize, cols: usize) -> Matrix {
        let mut m = random_matrix(rng, rows, cols, -3.0, 9.0);
        for x in &mut m.data {
            for kink in [0.0, 6.0] {
                if (*x - kink).abs() < 0.05 {
                    *x += 0.1;
                }
            }
        }
        m
    }

    #[test]
    fn matmul_gradient() {
        let mut rng = Rng::new(1);
        let a = random_matrix(&mut rng, 3, 4, -1.0, 1.0);
        let b = random_matrix(&mut rng, 4, 2, -1.0, 1.0);
        let w = random_matrix(&mut rng, 3, 2, -1.0, 1.0);
        // Weight the output by a fixed matrix so every element's adjoint differs.
        check_gradients(&[a, b, w], |t, v| {
            let p = t.matmul(v[0], v[1]);
            let q = t.mul(p, v[2]);
            t.sum(q)
        });
    }

    #[test]
    fn add_sub_with_broadcast_gradient() {
        let mut rng = Rng::new(2);
        let a = random_matrix(&mut rng, 3, 4, -1.0, 1.0);
        let b = random_matrix(&mut rng, 1, 4, -1.0, 1.0);
        let c = random_matrix(&mut rng, 3, 4, -1.0, 1.0);
        let w = random_matrix(&mut rng, 3, 4, -1.0, 1.0);
        check_gradients(&[a, b, c, w], |t, v| {
            let s = t.add(v[0], v[1]);
            let d = t.sub(s, v[2]);
            let e = t.sub(d, v[1]);
            let f = t.add(e, v[2]);
            let g = t.mul(f, v[3]);
            let h = t.mul(g, d);
            t.sum(h)
        });
    }

    #[test]
    fn mul_scale_mean_gradient() {
        let mut rng = Rng::new(3);
        let a = random_matrix(&mut rng, 2, 5, -2.0, 2.0);
        let b = random_matrix(&mut rng, 2, 5, -2.0, 2.0);
        check_gradients(&[a, b], |t, v| {
            let p = t.mul(v[0], v[1]);
            let q = t.mul(p, v[0]);
            let s = t.scale(q, -1.7);
            t.mean(s)
        });
    }

    #[test]
    fn activation_gradients() {
        let mut rng = Rng::new(4);
        let x = away_from_kinks(&mut rng, 4, 5);
        let w = random_matrix(&mut rng, 4, 5, -1.0, 1.0);
        type Act = fn(&mut Tape, Var) -> Var;
        let acts: [Act; 4] = [Tape::relu, Tape::relu6, Tape::tanh, Tape::sigmoid];
        for act in acts {
            check_gradients(&[x.clone(), w.clone()], |t, v| {
                let y = act(t, v[0]);
                let z = t.mul(y, v[1]);
                t.sum(z)
            });
        }
    }

    #[test]
    fn softmax_cross_entropy_gradient() {
        let mut rng = Rng::new(5);
        let z = random_matrix(&mut rng, 5, 4, -3.0, 3.0);
        let labels = [0, 3, 1, 1, 2];
        check_gradients(&[z], |t, v| t.softmax_cross_entropy(v[0], &labels));
    }

    #[test]
    fn softmax_cross_entropy_is_stable_and_correct() {
        let mut t = Tape::new();
        let z = t.leaf(Matrix::new(2, 3, vec![1000.0, 0.0, -1000.0, 1.0, 2.0, 3.0]));
        let loss = t.softmax_cross_entropy(z, &[0, 1]);
        let expected_row2 = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln() - 2.0;
        let value = t.value(loss).data[0];
        assert!(value.is_finite());
        assert!((value - expected_row2 / 2.0).abs() < 1e-12, "{value}");
        let g = t.backward(loss);
        assert!(g.get(z).unwrap().data.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn mean_squared_error_gradient() {
        let mut rng = Rng::new(6);
        let p = random_matrix(&mut rng, 4, 2, -2.0, 2.0);
        let y = random_matrix(&mut rng, 4, 2, -2.0, 2.0);
        check_gradients(&[p, y], |t, v| t.mean_squared_error(v[0], v[1]));
    }

    #[test]
    fn two_layer_network_gradient() {
        let mut rng = Rng::new(7);
        let x = random_matrix(&mut rng, 6, 4, -1.0, 1.0);
        let w1 = random_matrix(&mut rng, 4, 5, -1.0, 1.0);
        let b1 = random_matrix(&mut rng, 1, 5, -0.5, 0.5);
        let w2 = random_matrix(&mut rng, 5, 3, -1.0, 1.0);
        let b2 = random_matrix(&mut rng, 1, 3, -0.5, 0.5);
        let labels = [0, 1, 2, 2, 1, 0];
        for hidden in [Tape::tanh as fn(&mut Tape, Var) -> Var, Tape::sigmoid] {
            check_gradients(
                &[x.clone(), w1.clone(), b1.clone(), w2.clone(), b2.clone()],
                |t, v| {
                    let h = t.matmul(v[0], v[1]);
                    let h = t.add(h, v[2]);
                    let h = hidden(t, h);
                    let o = t.matmul(h, v[3]);
                    let o = t.add(o, v[4]);
                    let ce = t.softmax_cross_entropy(o, &labels);
                    // Plus an L2 penalty through the tape, as a regulariser would be written.
                    let sq = t.mul(v[1], v[1]);
                    let l2 = t.sum(sq);
                    let l2 = t.scale(l2, 1e-2);
                    t.add(ce, l2)
                },
            );
        }
    }

    #[test]
    fn two_layer_relu_regression_gradient() {
        let mut rng = Rng::new(8);
        let x = random_matrix(&mut rng, 5, 3, -1.0, 1.0);
        let w1 = random_matrix(&mut rng, 3, 4, -1.0, 1.0);
        let b1 = random_matrix(&mut rng, 1, 4, -0.5, 0.5);
        let w2 = random_matrix(&mut rng, 4, 1, -1.0, 1.0);
        let y = random_matrix(&mut rng, 5, 1, -1.0, 1.0);
        check_gradients(&[x, w1, b1, w2, y], |t, v| {
            let h = t.matmul(v[0], v[1]);
            let h = t.add(h, v[2]);
            let h = t.relu(h);
            let o = t.matmul(h, v[3]);
            t.mean_squared_error(o, v[4])
        });
    }

    #[test]
    fn matmul_helpers_agree_with_transpose() {
        let mut rng = Rng::new(9);
        let a = random_matrix(&mut rng, 3, 4, -1.0, 1.0);
        let b = random_matrix(&mut rng, 5, 4, -1.0, 1.0);
        let c = random_matrix(&mut rng, 3, 2, -1.0, 1.0);
        let nt = a.matmul_nt(&b);
        let reference = a.matmul(&b.transpose());
        assert!(nt
            .data
            .iter()
            .zip(&reference.data)
            .all(|(x, y)| (x - y).abs() < 1e-12));
        let tn = a.matmul_tn(&c);
        let reference = a.transpose().matmul(&c);
        assert!(tn
            .data
            .iter()
            .zip(&reference.data)
            .all(|(x, y)| (x - y).abs() < 1e-12));
    }

    /// Elementwise `a * b * b`, defined outside the `Op` enum.
    #[derive(Debug)]
    struct MulSquare;

    impl Function for MulSquare {
        fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
            let (a, b) = (inputs[0], inputs[1]);
            let ga = g.zip_map(&b.zip_map(b, |x, y| x * y), |x, y| x * y);
            let gb = g.zip_map(&a.zip_map(b, |x, y| 2.0 * x * y), |x, y| x * y);
            vec![Some(ga), Some(gb)]
        }
    }

    #[test]
    fn recorded_function_gradient() {
        let mut rng = Rng::new(9);
        let a = random_matrix(&mut rng, 2, 3, -1.0, 1.0);
        let b = random_matrix(&mut rng, 2, 3, -1.0, 1.0);
        check_gradients(&[a, b], |t, v| {
            let value = t.value(v[0]).zip_map(t.value(v[1]), |x, y| x * y * y);
            let y = t.record(&[v[0], v[1]], value, MulSquare);
            let y = t.tanh(y);
            t.sum(y)
        });
    }
}
