//! Elementwise and structural tape ops the GP models are written with (exp, softplus, kernel
//! profiles, transpose, squared distances, ...). Each records itself through
//! [`crate::tape::Function`] and has a finite-difference gradient check below.

use super::linalg::MatrixExt;
use crate::tape::{Function, Matrix, Tape, Var};

/// An elementwise function with its derivative: one [`Function`] serves all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pointwise {
    /// `e^x`.
    Exp,
    /// `ln x` (x > 0).
    Log,
    /// `ln(1 + e^x)`, the positive transform of kernel and likelihood parameters.
    Softplus,
    /// `1 / x`.
    Recip,
    /// `x²`.
    Square,
    /// `exp(−d/2)`: the RBF kernel as a function of the scaled squared distance `d`.
    RbfProfile,
    /// `(1 + √3 r) exp(−√3 r)` with `r = √d`: Matern 3/2 of the scaled squared distance.
    Matern32Profile,
    /// `(1 + √5 r + 5r²/3) exp(−√5 r)` with `r = √d`: Matern 5/2 of the scaled squared distance.
    Matern52Profile,
}

/// `ln(1 + e^x)` without overflow, and never 0: below `x ≈ −708` it would underflow to 0,
/// which is no valid kernel or noise variance (a hyperparameter the optimiser drives that far
/// down, e.g. the linear variance of an irrelevant input, stays the smallest normal f64).
pub fn softplus(x: f64) -> f64 {
    if x > 30.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p().max(f64::MIN_POSITIVE)
    }
}

/// The inverse of [`softplus`] for `y > 0`: `ln(e^y − 1)`, computed stably.
pub fn inverse_softplus(y: f64) -> f64 {
    if y > 30.0 {
        y + (-(-y).exp()).ln_1p()
    } else {
        y.exp_m1().ln()
    }
}

impl Pointwise {
    /// The function's value at `x`.
    pub fn value(self, x: f64) -> f64 {
        match self {
            Pointwise::Exp => x.exp(),
            Pointwise::Log => x.ln(),
            Pointwise::Softplus => softplus(x),
            Pointwise::Recip => 1.0 / x,
            Pointwise::Square => x * x,
            Pointwise::RbfProfile => (-0.5 * x).exp(),
            Pointwise::Matern32Profile => {
                let r = (3.0 * x.max(0.0)).sqrt();
                (1.0 + r) * (-r).exp()
            }
            Pointwise::Matern52Profile => {
                let r = (5.0 * x.max(0.0)).sqrt();
                (1.0 + r + r * r / 3.0) * (-r).exp()
            }
        }
    }

    /// The derivative at `x` (finite at `d = 0` for the Matern profiles, unlike `d/dr`).
    pub fn derivative(self, x: f64) -> f64 {
        match self {
            Pointwise::Exp => x.exp(),
            Pointwise::Log => 1.0 / x,
            Pointwise::Softplus => crate::tape::sigmoid(x),
            Pointwise::Recip => -1.0 / (x * x),
            Pointwise::Square => 2.0 * x,
            Pointwise::RbfProfile => -0.5 * (-0.5 * x).exp(),
            Pointwise::Matern32Profile => {
                let r = (3.0 * x.max(0.0)).sqrt();
                -1.5 * (-r).exp()
            }
            Pointwise::Matern52Profile => {
                let r = (5.0 * x.max(0.0)).sqrt();
                -(5.0 / 6.0) * (1.0 + r) * (-r).exp()
            }
        }
    }
}

impl Function for Pointwise {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        vec![Some(inputs[0].zipped(g, |x, gi| gi * self.derivative(x)))]
    }
}

/// Records `f(a)` elementwise.
pub fn pointwise(tape: &mut Tape, f: Pointwise, a: Var) -> Var {
    let value = tape.value(a).mapped(|x| f.value(x));
    tape.record(&[a], value, f)
}

/// `e^a` elementwise.
pub fn exp(tape: &mut Tape, a: Var) -> Var {
    pointwise(tape, Pointwise::Exp, a)
}

/// `ln a` elementwise.
pub fn log(tape: &mut Tape, a: Var) -> Var {
    pointwise(tape, Pointwise::Log, a)
}

/// `softplus(a)` elementwise.
pub fn softplus_op(tape: &mut Tape, a: Var) -> Var {
    pointwise(tape, Pointwise::Softplus, a)
}

/// `1 / a` elementwise.
pub fn recip(tape: &mut Tape, a: Var) -> Var {
    pointwise(tape, Pointwise::Recip, a)
}

/// `a²` elementwise.
pub fn square(tape: &mut Tape, a: Var) -> Var {
    pointwise(tape, Pointwise::Square, a)
}

#[derive(Debug)]
struct TransposeFn;

impl Function for TransposeFn {
    fn backward(&self, _: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        vec![Some(g.transpose())]
    }
}

/// `aᵀ`.
pub fn transpose(tape: &mut Tape, a: Var) -> Var {
    let value = tape.value(a).transpose();
    tape.record(&[a], value, TransposeFn)
}

#[derive(Debug)]
struct ScaleByFn;

impl Function for ScaleByFn {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let (a, s) = (inputs[0], inputs[1].data[0]);
        let gs: f64 = a.data.iter().zip(&g.data).map(|(x, y)| x * y).sum();
        vec![Some(g.scaled(s)), Some(Matrix::scalar(gs))]
    }
}

/// `s · a` for a 1 x 1 tape value `s` (e.g. a kernel variance times a kernel profile).
pub fn scale_by(tape: &mut Tape, a: Var, s: Var) -> Var {
    let sv = tape.value(s);
    assert!(sv.rows == 1 && sv.cols == 1, "scale_by: s must be 1 x 1");
    let value = tape.value(a).scaled(sv.data[0]);
    tape.record(&[a, s], value, ScaleByFn)
}

#[derive(Debug)]
struct MulRowFn;

impl Function for MulRowFn {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let (a, r) = (inputs[0], inputs[1]);
        let mut ga = g.clone();
        let mut gr = Matrix::zeros(1, a.cols);
        for i in 0..a.rows {
            for j in 0..a.cols {
                let k = i * a.cols + j;
                ga.data[k] = g.data[k] * r.data[j];
                gr.data[j] += g.data[k] * a.data[k];
            }
        }
        vec![Some(ga), Some(gr)]
    }
}

/// `a ⊙ r` with the 1 x cols row `r` multiplied into every row of `a` (ARD input scaling).
pub fn mul_row(tape: &mut Tape, a: Var, r: Var) -> Var {
    let (av, rv) = (tape.value(a), tape.value(r));
    assert!(rv.rows == 1 && rv.cols == av.cols, "mul_row: shapes");
    let mut value = av.clone();
    for i in 0..av.rows {
        for j in 0..av.cols {
            value.data[i * av.cols + j] *= rv.data[j];
        }
    }
    tape.record(&[a, r], value, MulRowFn)
}

#[derive(Debug)]
struct SquaredDistanceFn;

impl Function for SquaredDistanceFn {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        // D_ij = Σ_k (a_ik − b_jk)²: Ā = 2(diag(Ḡ1) A − Ḡ B), B̄ = 2(diag(Ḡᵀ1) B − Ḡᵀ A).
        let (a, b) = (inputs[0], inputs[1]);
        let gb_mat = g.matmul(b);
        let gta = g.transpose().matmul(a);
        let mut ga = Matrix::zeros(a.rows, a.cols);
        let mut gb = Matrix::zeros(b.rows, b.cols);
        for i in 0..a.rows {
            let row_sum: f64 = g.row(i).iter().sum();
            for k in 0..a.cols {
                ga.data[i * a.cols + k] =
                    2.0 * (row_sum * a.data[i * a.cols + k] - gb_mat.data[i * a.cols + k]);
            }
        }
        for j in 0..b.rows {
            let col_sum: f64 = (0..a.rows).map(|i| g.data[i * b.rows + j]).sum();
            for k in 0..b.cols {
                gb.data[j * b.cols + k] =
                    2.0 * (col_sum * b.data[j * b.cols + k] - gta.data[j * b.cols + k]);
            }
        }
        vec![Some(ga), Some(gb)]
    }
}

/// Plain pairwise squared Euclidean distances between the rows of `a` and of `b`.
pub fn squared_distances(a: &Matrix, b: &Matrix) -> Matrix {
    assert_eq!(a.cols, b.cols, "squared_distances: column counts differ");
    let mut out = Matrix::zeros(a.rows, b.rows);
    for i in 0..a.rows {
        let ai = a.row(i);
        for j in 0..b.rows {
            out.data[i * b.rows + j] = ai
                .iter()
                .zip(b.row(j))
                .map(|(x, y)| (x - y) * (x - y))
                .sum();
        }
    }
    out
}

/// Records the pairwise squared distances (rows(a) x rows(b)) between the rows of `a` and `b`.
pub fn squared_distance(tape: &mut Tape, a: Var, b: Var) -> Var {
    let value = squared_distances(tape.value(a), tape.value(b));
    tape.record(&[a, b], value, SquaredDistanceFn)
}

#[derive(Debug)]
struct DiagFn;

impl Function for DiagFn {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let n = inputs[0].rows;
        let mut out = Matrix::zeros(n, n);
        for i in 0..n {
            out.data[i * n + i] = g.data[i];
        }
        vec![Some(out)]
    }
}

/// The diagonal of a square matrix as an n x 1 column.
pub fn diag(tape: &mut Tape, a: Var) -> Var {
    let m = tape.value(a);
    assert_eq!(m.rows, m.cols, "diag: matrix must be square");
    let value = Matrix::new(m.rows, 1, (0..m.rows).map(|i| m.get(i, i)).collect());
    tape.record(&[a], value, DiagFn)
}

#[derive(Debug)]
struct AddDiagonalFn;

impl Function for AddDiagonalFn {
    fn backward(&self, _: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        vec![Some(g.clone())]
    }
}

/// `a + c I` for a constant `c` (jitter, or the `I +` of a Woodbury identity).
pub fn add_diagonal(tape: &mut Tape, a: Var, c: f64) -> Var {
    let mut value = tape.value(a).clone();
    assert_eq!(
        value.rows, value.cols,
        "add_diagonal: matrix must be square"
    );
    for i in 0..value.rows {
        value.data[i * value.cols + i] += c;
    }
    tape.record(&[a], value, AddDiagonalFn)
}

#[derive(Debug)]
struct ColumnSumsFn;

impl Function for ColumnSumsFn {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let a = inputs[0];
        let mut out = Matrix::zeros(a.rows, a.cols);
        for i in 0..a.rows {
            out.data[i * a.cols..(i + 1) * a.cols].copy_from_slice(&g.data);
        }
        vec![Some(out)]
    }
}

/// Sums over rows into an n x 1 column: entry j is `Σ_i a_ij` (per-point variance terms).
pub fn column_sums(tape: &mut Tape, a: Var) -> Var {
    let m = tape.value(a);
    let mut value = Matrix::zeros(1, m.cols);
    for i in 0..m.rows {
        for (o, &x) in value.data.iter_mut().zip(m.row(i)) {
            *o += x;
        }
    }
    let value = Matrix::new(m.cols, 1, value.data);
    tape.record(&[a], value, ColumnSumsFn)
}

/// A constant on the tape (a leaf whose gradient nobody reads).
pub fn constant(tape: &mut Tape, value: Matrix) -> Var {
    tape.leaf(value)
}

/// A 1 x 1 constant on the tape.
pub fn constant_scalar(tape: &mut Tape, value: f64) -> Var {
    tape.leaf(Matrix::scalar(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::linalg::tests::random;
    use crate::prng::Rng;
    use crate::tape::gradcheck::check_gradients;

    #[test]
    fn pointwise_gradients() {
        let mut rng = Rng::new(11);
        let w = random(&mut rng, 3, 4);
        let positive = random(&mut rng, 3, 4).mapped(|x| 0.2 + x.abs() * 2.0);
        let any = random(&mut rng, 3, 4).mapped(|x| 3.0 * x);
        for f in [
            Pointwise::Exp,
            Pointwise::Log,
            Pointwise::Softplus,
            Pointwise::Recip,
            Pointwise::Square,
            Pointwise::RbfProfile,
            Pointwise::Matern32Profile,
            Pointwise::Matern52Profile,
        ] {
            let x = match f {
                Pointwise::Exp | Pointwise::Softplus | Pointwise::Square => any.clone(),
                _ => positive.clone(),
            };
            check_gradients(&[x, w.clone()], |t, v| {
                let y = pointwise(t, f, v[0]);
                let y = t.mul(y, v[1]);
                t.sum(y)
            });
        }
    }

    #[test]
    fn matern_profiles_match_their_closed_forms_and_are_smooth_at_zero() {
        for d in [0.0f64, 0.3, 2.0] {
            let r = d.sqrt();
            let m32 = (1.0 + 3f64.sqrt() * r) * (-(3f64.sqrt()) * r).exp();
            let m52 = (1.0 + 5f64.sqrt() * r + 5.0 * d / 3.0) * (-(5f64.sqrt()) * r).exp();
            assert!((Pointwise::Matern32Profile.value(d) - m32).abs() < 1e-15);
            assert!((Pointwise::Matern52Profile.value(d) - m52).abs() < 1e-15);
        }
        assert_eq!(Pointwise::Matern32Profile.derivative(0.0), -1.5);
        assert!((softplus(inverse_softplus(0.37)) - 0.37).abs() < 1e-15);
        assert!((softplus(inverse_softplus(45.0)) - 45.0).abs() < 1e-12);
        assert!(softplus(800.0).is_finite());
        for x in [-745.0, -800.0, -1e300, f64::NEG_INFINITY] {
            assert_eq!(softplus(x), f64::MIN_POSITIVE);
        }
        assert!(inverse_softplus(softplus(-800.0)).is_finite());
    }

    #[test]
    fn structural_gradients() {
        let mut rng = Rng::new(12);
        let a = random(&mut rng, 4, 3);
        let b = random(&mut rng, 5, 3);
        let r = random(&mut rng, 1, 3);
        let s = Matrix::scalar(0.7);
        let w = random(&mut rng, 4, 5);
        check_gradients(&[a, b, r, s, w], |t, v| {
            let ar = mul_row(t, v[0], v[2]);
            let d = squared_distance(t, ar, v[1]);
            let d = scale_by(t, d, v[3]);
            let d = t.mul(d, v[4]);
            let dt = transpose(t, d);
            let c = column_sums(t, dt);
            let c = square(t, c);
            t.sum(c)
        });
        let mut rng = Rng::new(13);
        let m = random(&mut rng, 4, 4);
        check_gradients(&[m], |t, v| {
            let m = add_diagonal(t, v[0], 2.5);
            let m = square(t, m);
            let d = diag(t, m);
            let d = exp(t, d);
            t.sum(d)
        });
    }
}
