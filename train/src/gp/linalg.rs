//! Dense f64 linear algebra for GPs: Cholesky, triangular solves and log-determinants, both as
//! plain functions (for prediction) and as differentiable tape ops (for training).
//!
//! Why hand-written rather than faer: the GP matrices here are M x M with M the number of
//! inducing points (tens to a few hundred), where an unblocked Cholesky costs microseconds, and
//! these few loops add nothing to the cold build. The reverse rules are the ones in DESIGN.md:
//! Cholesky as PyTorch's `cholesky_backward` (Murray 2016), triangular solve `B̄ = L⁻ᵀX̄`,
//! `L̄ = −tril(B̄Xᵀ)`, log-determinant `Ā = A⁻¹`.

use super::GpError;
use crate::tape::{Function, Matrix, Tape, Var};

/// Lower Cholesky factor `L` of a symmetric positive definite `a` (only its lower triangle is
/// read), or `None` if a pivot is not positive and finite.
pub fn cholesky(a: &Matrix) -> Option<Matrix> {
    assert_eq!(a.rows, a.cols, "cholesky: matrix must be square");
    let n = a.rows;
    let mut l = Matrix::zeros(n, n);
    for j in 0..n {
        let mut d = a.data[j * n + j];
        for k in 0..j {
            d -= l.data[j * n + k] * l.data[j * n + k];
        }
        if !(d > 0.0 && d.is_finite()) {
            return None;
        }
        let d = d.sqrt();
        l.data[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a.data[i * n + j];
            for k in 0..j {
                s -= l.data[i * n + k] * l.data[j * n + k];
            }
            l.data[i * n + j] = s / d;
        }
    }
    Some(l)
}

/// `L⁻¹ B` for lower-triangular `L` by forward substitution (the upper triangle is not read).
pub fn solve_lower(l: &Matrix, b: &Matrix) -> Matrix {
    assert!(l.rows == l.cols && l.rows == b.rows, "solve_lower: shapes");
    let (n, m) = (b.rows, b.cols);
    let mut x = b.clone();
    for i in 0..n {
        for k in 0..i {
            let lik = l.data[i * n + k];
            if lik != 0.0 {
                for c in 0..m {
                    x.data[i * m + c] -= lik * x.data[k * m + c];
                }
            }
        }
        let d = l.data[i * n + i];
        for c in 0..m {
            x.data[i * m + c] /= d;
        }
    }
    x
}

/// `L⁻ᵀ B` for lower-triangular `L` by back substitution (the upper triangle is not read).
pub fn solve_lower_transpose(l: &Matrix, b: &Matrix) -> Matrix {
    assert!(
        l.rows == l.cols && l.rows == b.rows,
        "solve_lower_transpose: shapes"
    );
    let (n, m) = (b.rows, b.cols);
    let mut x = b.clone();
    for i in (0..n).rev() {
        for k in i + 1..n {
            let lki = l.data[k * n + i];
            if lki != 0.0 {
                for c in 0..m {
                    x.data[i * m + c] -= lki * x.data[k * m + c];
                }
            }
        }
        let d = l.data[i * n + i];
        for c in 0..m {
            x.data[i * m + c] /= d;
        }
    }
    x
}

/// `A⁻¹` from the Cholesky factor of `A` (`L⁻ᵀ L⁻¹`).
pub fn cholesky_inverse(l: &Matrix) -> Matrix {
    let n = l.rows;
    let mut eye = Matrix::zeros(n, n);
    for i in 0..n {
        eye.data[i * n + i] = 1.0;
    }
    solve_lower_transpose(l, &solve_lower(l, &eye))
}

/// The lower triangle (diagonal included) of a square matrix, zeros above.
pub fn tril(m: &Matrix) -> Matrix {
    let mut out = m.clone();
    for r in 0..m.rows {
        for c in r + 1..m.cols {
            out.data[r * m.cols + c] = 0.0;
        }
    }
    out
}

/// The identity matrix of size `n`.
pub fn identity(n: usize) -> Matrix {
    let mut eye = Matrix::zeros(n, n);
    for i in 0..n {
        eye.data[i * n + i] = 1.0;
    }
    eye
}

fn symmetric_part(s: &Matrix) -> Matrix {
    let n = s.rows;
    let mut out = s.clone();
    for i in 0..n {
        for j in 0..n {
            out.data[i * n + j] = 0.5 * (s.data[i * n + j] + s.data[j * n + i]);
        }
    }
    out
}

/// Reverse rule of `L = chol(A)` (PyTorch's `cholesky_backward`, Murray 2016).
#[derive(Debug)]
struct CholeskyFn;

impl Function for CholeskyFn {
    fn backward(&self, _: &[&Matrix], l: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        // P = Φ(Lᵀ L̄): lower triangle with the diagonal halved.
        let mut p = tril(&l.transpose().matmul(g));
        for i in 0..p.rows {
            p.data[i * p.cols + i] *= 0.5;
        }
        // S = L⁻ᵀ P L⁻¹ = (L⁻ᵀ (L⁻ᵀ P)ᵀ)ᵀ; Ā is its symmetric part.
        let x = solve_lower_transpose(l, &p);
        let s = solve_lower_transpose(l, &x.transpose()).transpose();
        vec![Some(symmetric_part(&s))]
    }
}

/// Records `L = chol(A)` on the tape. `A` must be symmetric (its lower triangle is read, and
/// its adjoint is symmetric); a matrix that is not positive definite is an error, not a panic.
pub fn cholesky_op(tape: &mut Tape, a: Var) -> Result<Var, GpError> {
    let l = cholesky(tape.value(a)).ok_or(GpError::NotPositiveDefinite)?;
    Ok(tape.record(&[a], l, CholeskyFn))
}

/// Reverse rule of `X = L⁻¹B` (or `X = L⁻ᵀB` when `transpose`).
#[derive(Debug)]
struct TriangularSolveFn {
    transpose: bool,
}

impl Function for TriangularSolveFn {
    fn backward(&self, inputs: &[&Matrix], x: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let l = inputs[0];
        if self.transpose {
            // X = U⁻¹B with U = Lᵀ: B̄ = L⁻¹X̄, Ū = −triu(B̄Xᵀ), so L̄ = −tril(X B̄ᵀ).
            let gb = solve_lower(l, g);
            let gl = tril(&x.matmul(&gb.transpose())).scaled(-1.0);
            vec![Some(gl), Some(gb)]
        } else {
            let gb = solve_lower_transpose(l, g);
            let gl = tril(&gb.matmul(&x.transpose())).scaled(-1.0);
            vec![Some(gl), Some(gb)]
        }
    }
}

/// Records `L⁻¹B` (lower-triangular `L`, only its lower triangle is read).
pub fn solve_lower_op(tape: &mut Tape, l: Var, b: Var) -> Var {
    let x = solve_lower(tape.value(l), tape.value(b));
    tape.record(&[l, b], x, TriangularSolveFn { transpose: false })
}

/// Records `L⁻ᵀB` (lower-triangular `L`, only its lower triangle is read).
pub fn solve_lower_transpose_op(tape: &mut Tape, l: Var, b: Var) -> Var {
    let x = solve_lower_transpose(tape.value(l), tape.value(b));
    tape.record(&[l, b], x, TriangularSolveFn { transpose: true })
}

/// Reverse rule of `log det A` for symmetric positive definite `A`: `Ā = ḡ A⁻¹`.
#[derive(Debug)]
struct LogDetFn {
    inverse: Matrix,
}

impl Function for LogDetFn {
    fn backward(&self, _: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        vec![Some(self.inverse.scaled(g.data[0]))]
    }
}

/// Records `log det A` (1 x 1) of a symmetric positive definite `A`, through its Cholesky factor.
pub fn logdet_op(tape: &mut Tape, a: Var) -> Result<Var, GpError> {
    let l = cholesky(tape.value(a)).ok_or(GpError::NotPositiveDefinite)?;
    let value = 2.0 * (0..l.rows).map(|i| l.get(i, i).ln()).sum::<f64>();
    let inverse = cholesky_inverse(&l);
    Ok(tape.record(&[a], Matrix::scalar(value), LogDetFn { inverse }))
}

/// Reverse rule of `Σ log|L_ii|`: the adjoint is `ḡ / L_ii` on the diagonal.
#[derive(Debug)]
struct SumLogAbsDiagFn;

impl Function for SumLogAbsDiagFn {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let l = inputs[0];
        let mut out = Matrix::zeros(l.rows, l.cols);
        for i in 0..l.rows {
            out.data[i * l.cols + i] = g.data[0] / l.get(i, i);
        }
        vec![Some(out)]
    }
}

/// Records `Σ_i log|L_ii|` (1 x 1): half the log-determinant of `LLᵀ` for a Cholesky factor.
pub fn sum_log_abs_diag_op(tape: &mut Tape, l: Var) -> Var {
    let m = tape.value(l);
    assert_eq!(m.rows, m.cols, "sum_log_abs_diag: matrix must be square");
    let value = (0..m.rows).map(|i| m.get(i, i).abs().ln()).sum::<f64>();
    tape.record(&[l], Matrix::scalar(value), SumLogAbsDiagFn)
}

/// Small helpers on [`Matrix`] that the GP code needs and the tape keeps private.
pub trait MatrixExt {
    /// Every element times `factor`.
    fn scaled(&self, factor: f64) -> Matrix;
    /// Elementwise `f(x)`.
    fn mapped(&self, f: impl Fn(f64) -> f64) -> Matrix;
    /// Elementwise `f(a, b)` of two same-shape matrices.
    fn zipped(&self, other: &Matrix, f: impl Fn(f64, f64) -> f64) -> Matrix;
    /// A column vector (n x 1) from a slice.
    fn column(values: &[f64]) -> Matrix;
}

impl MatrixExt for Matrix {
    fn scaled(&self, factor: f64) -> Matrix {
        self.mapped(|x| x * factor)
    }

    fn mapped(&self, f: impl Fn(f64) -> f64) -> Matrix {
        Matrix::new(
            self.rows,
            self.cols,
            self.data.iter().map(|&x| f(x)).collect(),
        )
    }

    fn zipped(&self, other: &Matrix, f: impl Fn(f64, f64) -> f64) -> Matrix {
        assert!(self.same_shape(other), "zipped: shapes differ");
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(&a, &b)| f(a, b))
            .collect();
        Matrix::new(self.rows, self.cols, data)
    }

    fn column(values: &[f64]) -> Matrix {
        Matrix::new(values.len(), 1, values.to_vec())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gp::ops;
    use crate::prng::Rng;
    use crate::tape::gradcheck::check_gradients;

    pub(crate) fn random(rng: &mut Rng, rows: usize, cols: usize) -> Matrix {
        Matrix::new(
            rows,
            cols,
            (0..rows * cols)
                .map(|_| 2.0 * rng.next_f64() - 1.0)
                .collect(),
        )
    }

    /// A well-conditioned symmetric positive definite matrix `BBᵀ + n I`.
    pub(crate) fn spd(rng: &mut Rng, n: usize) -> Matrix {
        let b = random(rng, n, n);
        let mut a = b.matmul(&b.transpose());
        for i in 0..n {
            a.data[i * n + i] += n as f64;
        }
        a
    }

    fn lower(rng: &mut Rng, n: usize) -> Matrix {
        let mut l = tril(&random(rng, n, n));
        for i in 0..n {
            l.data[i * n + i] = 1.5 + rng.next_f64();
        }
        l
    }

    fn max_abs_diff(a: &Matrix, b: &Matrix) -> f64 {
        a.data
            .iter()
            .zip(&b.data)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn cholesky_and_solves_reconstruct() {
        let mut rng = Rng::new(1);
        let a = spd(&mut rng, 6);
        let l = cholesky(&a).unwrap();
        assert!(max_abs_diff(&l.matmul(&l.transpose()), &a) < 1e-12);
        let b = random(&mut rng, 6, 3);
        assert!(max_abs_diff(&l.matmul(&solve_lower(&l, &b)), &b) < 1e-12);
        assert!(max_abs_diff(&l.transpose().matmul(&solve_lower_transpose(&l, &b)), &b) < 1e-12);
        assert!(max_abs_diff(&a.matmul(&cholesky_inverse(&l)), &identity(6)) < 1e-12);
        let mut bad = a.clone();
        bad.data[0] = -1.0;
        assert!(cholesky(&bad).is_none());
        assert!(cholesky(&Matrix::new(1, 1, vec![f64::NAN])).is_none());
    }

    /// `(A + Aᵀ)/2` on the tape, so finite differences of any element see a symmetric input.
    fn sym(t: &mut Tape, a: Var) -> Var {
        let at = ops::transpose(t, a);
        let s = t.add(a, at);
        t.scale(s, 0.5)
    }

    #[test]
    fn cholesky_gradient() {
        let mut rng = Rng::new(2);
        let a = spd(&mut rng, 5);
        let w = random(&mut rng, 5, 5);
        check_gradients(&[a, w], |t, v| {
            let s = sym(t, v[0]);
            let l = cholesky_op(t, s).unwrap();
            let y = t.mul(l, v[1]);
            let y = ops::square(t, y);
            t.sum(y)
        });
    }

    #[test]
    fn triangular_solve_gradients() {
        let mut rng = Rng::new(3);
        let l = lower(&mut rng, 4);
        let b = random(&mut rng, 4, 3);
        let w = random(&mut rng, 4, 3);
        for transpose in [false, true] {
            check_gradients(&[l.clone(), b.clone(), w.clone()], |t, v| {
                let x = if transpose {
                    solve_lower_transpose_op(t, v[0], v[1])
                } else {
                    solve_lower_op(t, v[0], v[1])
                };
                let y = t.mul(x, v[2]);
                let y = ops::square(t, y);
                t.sum(y)
            });
        }
    }

    #[test]
    fn logdet_gradients() {
        let mut rng = Rng::new(4);
        let a = spd(&mut rng, 5);
        let l = cholesky(&a).unwrap();
        let direct = 2.0 * (0..5).map(|i| l.get(i, i).ln()).sum::<f64>();
        let mut t = Tape::new();
        let va = t.leaf(a.clone());
        let ld = logdet_op(&mut t, va).unwrap();
        assert!((t.value(ld).data[0] - direct).abs() < 1e-12);
        check_gradients(std::slice::from_ref(&a), |t, v| {
            let s = sym(t, v[0]);
            logdet_op(t, s).unwrap()
        });
        // Through the Cholesky factor, as the models compute it.
        check_gradients(&[a], |t, v| {
            let s = sym(t, v[0]);
            let l = cholesky_op(t, s).unwrap();
            sum_log_abs_diag_op(t, l)
        });
    }

    #[test]
    fn not_positive_definite_is_an_error() {
        let mut t = Tape::new();
        let a = t.leaf(Matrix::new(2, 2, vec![1.0, 2.0, 2.0, 1.0]));
        assert_eq!(cholesky_op(&mut t, a), Err(GpError::NotPositiveDefinite));
        assert_eq!(logdet_op(&mut t, a), Err(GpError::NotPositiveDefinite));
    }
}
