//! SGPR: sparse GP regression with Titsias' (2009) collapsed variational bound.
//!
//! For a Gaussian likelihood the optimal `q(u)` is available in closed form, so only the
//! kernel hyperparameters, the noise variance and the inducing inputs are optimised (by
//! L-BFGS on the bound, like GPy and GPflow). With `Kuu = LLᵀ`, `A = L⁻¹Kuf`,
//! `B = I + AAᵀ/σ²`, `B = L_B L_Bᵀ`, `c = L_B⁻¹ A y / σ²` the bound is
//!
//! `−n/2 log 2π − Σ log diag L_B − n/2 log σ² − yᵀy/(2σ²) + cᵀc/2 − (Σ diag Kff − tr AAᵀ)/(2σ²)`.

use super::kernels::Kernel;
use super::lbfgs::{Lbfgs, LbfgsResult};
use super::linalg::{
    cholesky, cholesky_op, solve_lower, solve_lower_op, solve_lower_transpose, sum_log_abs_diag_op,
    MatrixExt,
};
use super::ops::{self, inverse_softplus, softplus};
use super::GpError;
use crate::tape::{Matrix, Tape, Var};

/// The smallest noise variance the parameterisation allows (`softplus(raw) + NOISE_FLOOR`).
pub const NOISE_FLOOR: f64 = 1e-6;

/// An SGPR model on standardised data.
#[derive(Debug, Clone)]
pub struct Sgpr {
    /// The covariance function and its hyperparameters.
    pub kernel: Kernel,
    /// Inducing inputs `Z` (M x d).
    pub inducing: Matrix,
    /// Gaussian noise variance.
    pub noise_variance: f64,
    /// Added to the diagonal of `K(Z, Z)`.
    pub jitter: f64,
    /// Whether [`Sgpr::fit`] moves the inducing inputs.
    pub train_inducing: bool,
    x: Matrix,
    y: Matrix,
}

/// The bound's pieces recorded on a tape.
struct Recorded {
    tape: Tape,
    bound: Var,
    leaves: Vec<Var>,
}

impl Sgpr {
    /// A model of targets `y` (one per row of `x`) with the given starting values.
    pub fn new(
        x: Matrix,
        y: &[f64],
        kernel: Kernel,
        inducing: Matrix,
        noise_variance: f64,
        jitter: f64,
    ) -> Result<Sgpr, GpError> {
        if x.rows == 0 || x.rows != y.len() {
            return Err(GpError::Invalid(format!(
                "{} input rows for {} targets",
                x.rows,
                y.len()
            )));
        }
        if inducing.cols != x.cols || inducing.rows == 0 {
            return Err(GpError::Invalid(
                "inducing inputs must have the inputs' width".into(),
            ));
        }
        kernel.validate(x.cols)?;
        if !(noise_variance > NOISE_FLOOR && noise_variance.is_finite()) {
            return Err(GpError::Invalid(format!(
                "noise variance {noise_variance} too small"
            )));
        }
        Ok(Sgpr {
            kernel,
            inducing,
            noise_variance,
            jitter,
            train_inducing: true,
            y: Matrix::column(y),
            x,
        })
    }

    /// The free parameters: kernel (softplus⁻¹), noise (softplus⁻¹ above the floor), then `Z`
    /// row by row if it is trained.
    pub fn parameters(&self) -> Vec<f64> {
        let mut p = self.kernel.unconstrained();
        p.push(inverse_softplus(self.noise_variance - NOISE_FLOOR));
        if self.train_inducing {
            p.extend_from_slice(&self.inducing.data);
        }
        p
    }

    /// Sets the free parameters in the order of [`Sgpr::parameters`].
    pub fn set_parameters(&mut self, p: &[f64]) {
        let used = self.kernel.set_unconstrained(p);
        self.noise_variance = softplus(p[used]) + NOISE_FLOOR;
        if self.train_inducing {
            self.inducing.data.copy_from_slice(&p[used + 1..]);
        }
    }

    fn record(&self) -> Result<Recorded, GpError> {
        let mut t = Tape::new();
        let mut leaves = Vec::new();
        let tk = self.kernel.on_tape(&mut t, &mut leaves);
        let raw_noise = t.leaf(Matrix::scalar(inverse_softplus(
            self.noise_variance - NOISE_FLOOR,
        )));
        leaves.push(raw_noise);
        let z = t.leaf(self.inducing.clone());
        if self.train_inducing {
            leaves.push(z);
        }
        let x = ops::constant(&mut t, self.x.clone());
        let y = ops::constant(&mut t, self.y.clone());
        let n = self.x.rows as f64;

        let sp = ops::softplus_op(&mut t, raw_noise);
        let floor = ops::constant(&mut t, Matrix::scalar(NOISE_FLOOR));
        let noise = t.add(sp, floor);
        let precision = ops::recip(&mut t, noise);

        let kuu = tk.symmetric(&mut t, z);
        let kuu = ops::add_diagonal(&mut t, kuu, self.jitter);
        let kuf = tk.cross(&mut t, z, x);
        let kdiag = tk.diagonal(&mut t, x);
        let l = cholesky_op(&mut t, kuu)?;
        let a = solve_lower_op(&mut t, l, kuf);
        let at = ops::transpose(&mut t, a);
        let aat = t.matmul(a, at);
        let b = ops::scale_by(&mut t, aat, precision);
        let b = ops::add_diagonal(&mut t, b, 1.0);
        let lb = cholesky_op(&mut t, b)?;
        let ay = t.matmul(a, y);
        let c = solve_lower_op(&mut t, lb, ay);
        let c = ops::scale_by(&mut t, c, precision);

        let yy: f64 = self.y.data.iter().map(|v| v * v).sum();
        let log_det_b = sum_log_abs_diag_op(&mut t, lb);
        let log_noise = ops::log(&mut t, noise);
        let c2 = ops::square(&mut t, c);
        let cc = t.sum(c2);
        let a2 = ops::square(&mut t, a);
        let tr_aat = t.sum(a2);
        let tr_kff = t.sum(kdiag);
        let gap = t.sub(tr_kff, tr_aat);
        let yy = ops::constant(&mut t, Matrix::scalar(yy));
        let data_fit = ops::scale_by(&mut t, yy, precision);
        let trace = ops::scale_by(&mut t, gap, precision);

        let mut terms = vec![
            t.scale(log_det_b, -1.0),
            t.scale(log_noise, -0.5 * n),
            t.scale(data_fit, -0.5),
            t.scale(cc, 0.5),
            t.scale(trace, -0.5),
        ];
        terms.push(ops::constant(
            &mut t,
            Matrix::scalar(-0.5 * n * (2.0 * core::f64::consts::PI).ln()),
        ));
        let mut bound = terms[0];
        for &term in &terms[1..] {
            bound = t.add(bound, term);
        }
        Ok(Recorded {
            tape: t,
            bound,
            leaves,
        })
    }

    /// The collapsed evidence lower bound at the current parameters.
    pub fn elbo(&self) -> Result<f64, GpError> {
        let r = self.record()?;
        Ok(r.tape.value(r.bound).data[0])
    }

    /// `(−bound / n, its gradient)` with respect to [`Sgpr::parameters`].
    pub fn objective(&self) -> Result<(f64, Vec<f64>), GpError> {
        let r = self.record()?;
        let n = self.x.rows as f64;
        let grads = r.tape.backward(r.bound);
        let mut g = Vec::new();
        for &leaf in &r.leaves {
            let value_len = r.tape.value(leaf).data.len();
            match grads.get(leaf) {
                Some(m) => g.extend(m.data.iter().map(|v| -v / n)),
                None => g.extend(std::iter::repeat_n(0.0, value_len)),
            }
        }
        Ok((-r.tape.value(r.bound).data[0] / n, g))
    }

    /// Maximises the bound with L-BFGS; `on_iteration(iteration, bound)` reports progress.
    pub fn fit(
        &mut self,
        lbfgs: &Lbfgs,
        mut on_iteration: impl FnMut(usize, f64),
    ) -> Result<LbfgsResult, GpError> {
        let n = self.x.rows as f64;
        let mut probe = self.clone();
        let result = lbfgs
            .minimize(
                self.parameters(),
                |p| {
                    probe.set_parameters(p);
                    probe.objective().ok()
                },
                |i, v| on_iteration(i, -v * n),
            )
            .ok_or(GpError::NotPositiveDefinite)?;
        self.set_parameters(&result.x);
        Ok(result)
    }

    /// The optimal `q(u) = N(mean, cov)` over `u = f(Z)`: with `B = L_B L_Bᵀ` as above,
    /// `mean = L L_B⁻ᵀ c` and `cov = L B⁻¹ Lᵀ`.
    pub fn posterior(&self) -> Result<(Vec<f64>, Matrix), GpError> {
        let m = self.inducing.rows;
        let mut kuu = self.kernel.symmetric(&self.inducing);
        for i in 0..m {
            kuu.data[i * m + i] += self.jitter;
        }
        let l = cholesky(&kuu).ok_or(GpError::NotPositiveDefinite)?;
        let kuf = self.kernel.cross(&self.inducing, &self.x);
        let a = solve_lower(&l, &kuf);
        let precision = 1.0 / self.noise_variance;
        let mut b = a.matmul(&a.transpose()).scaled(precision);
        for i in 0..m {
            b.data[i * m + i] += 1.0;
        }
        let lb = cholesky(&b).ok_or(GpError::NotPositiveDefinite)?;
        let c = solve_lower(&lb, &a.matmul(&self.y)).scaled(precision);
        let mean = l.matmul(&solve_lower_transpose(&lb, &c));
        // L B⁻¹ Lᵀ = (L_B⁻¹ Lᵀ)ᵀ (L_B⁻¹ Lᵀ).
        let h = solve_lower(&lb, &l.transpose());
        let cov = h.transpose().matmul(&h);
        Ok((mean.data, cov))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::linalg::tests::random;
    use crate::prng::Rng;
    use crate::tape::gradcheck::check_gradients;

    fn toy(n: usize, seed: u64) -> (Matrix, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let x = random(&mut rng, n, 2).scaled(2.0);
        let y = (0..n)
            .map(|i| (x.get(i, 0) * 1.5).sin() + 0.3 * x.get(i, 1) + 0.1 * rng.normal())
            .collect();
        (x, y)
    }

    /// log N(y | 0, K + σ²I) computed directly.
    fn exact_log_marginal(k: &Kernel, x: &Matrix, y: &[f64], noise: f64) -> f64 {
        let n = x.rows;
        let mut kyy = k.symmetric(x);
        for i in 0..n {
            kyy.data[i * n + i] += noise;
        }
        let l = cholesky(&kyy).unwrap();
        let alpha = solve_lower(&l, &Matrix::column(y));
        let quad: f64 = alpha.data.iter().map(|v| v * v).sum();
        let logdet: f64 = (0..n).map(|i| 2.0 * l.get(i, i).ln()).sum();
        -0.5 * (quad + logdet + n as f64 * (2.0 * core::f64::consts::PI).ln())
    }

    #[test]
    fn inducing_at_the_data_gives_the_exact_gp() {
        let (x, y) = toy(12, 1);
        let kernel = Kernel::from_spec("rbf-ard", 2).unwrap();
        let model = Sgpr::new(x.clone(), &y, kernel.clone(), x.clone(), 0.05, 1e-12).unwrap();
        let exact = exact_log_marginal(&kernel, &x, &y, 0.05);
        assert!(
            (model.elbo().unwrap() - exact).abs() < 1e-8,
            "{} vs {exact}",
            model.elbo().unwrap()
        );
        // With fewer inducing points the bound is below the exact evidence.
        let small = Sgpr::new(
            x.clone(),
            &y,
            kernel,
            crate::gp::inducing::kmeans(&x, 4, 5, 1),
            0.05,
            1e-12,
        )
        .unwrap();
        assert!(small.elbo().unwrap() < exact);
    }

    #[test]
    fn objective_gradient_matches_finite_differences() {
        let (x, y) = toy(10, 2);
        let kernel = Kernel::from_spec("rbf-ard+linear", 2).unwrap();
        let z = crate::gp::inducing::kmeans(&x, 4, 5, 3);
        let model = Sgpr::new(x, &y, kernel, z, 0.1, 1e-8).unwrap();
        let p0 = model.parameters();
        check_gradients(&[Matrix::new(1, p0.len(), p0.clone())], |t, v| {
            // The objective as a black box on a 1 x 1 node whose adjoint is the model's gradient.
            let mut m = model.clone();
            m.set_parameters(&t.value(v[0]).data);
            let (value, grad) = m.objective().unwrap();
            t.record(&[v[0]], Matrix::scalar(value), Precomputed(grad))
        });
    }

    #[derive(Debug)]
    struct Precomputed(Vec<f64>);

    impl crate::tape::Function for Precomputed {
        fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
            let grad = Matrix::new(1, inputs[0].cols, self.0.clone()).scaled(g.data[0]);
            vec![Some(grad)]
        }
    }

    #[test]
    fn training_raises_the_bound_and_the_posterior_predicts() {
        let (x, y) = toy(40, 3);
        let kernel = Kernel::from_spec("rbf-ard", 2).unwrap();
        let z = crate::gp::inducing::kmeans(&x, 8, 10, 4);
        let mut model = Sgpr::new(x.clone(), &y, kernel, z, 1.0, 1e-6).unwrap();
        let before = model.elbo().unwrap();
        let mut last = f64::NEG_INFINITY;
        let mut monotone = true;
        model
            .fit(
                &Lbfgs {
                    max_iterations: 100,
                    ..Lbfgs::default()
                },
                |_, b| {
                    monotone &= b >= last - 1e-9;
                    last = b;
                },
            )
            .unwrap();
        let after = model.elbo().unwrap();
        assert!(monotone && after > before + 10.0, "{before} -> {after}");
        assert!(model.noise_variance < 0.1, "noise {}", model.noise_variance);
        let (mean, cov) = model.posterior().unwrap();
        assert_eq!((mean.len(), cov.rows), (8, 8));
    }
}
