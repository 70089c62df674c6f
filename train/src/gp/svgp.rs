//! SVGP: the stochastic variational GP (Hensman et al. 2013, 2015) with whitened inducing
//! variables `u = L v`, `q(v) = N(m, S)`, `S = L_S L_Sᵀ`, trained on minibatches.
//!
//! The minibatch ELBO is `(n/b) Σ_batch E_q[log p(y|f)] − KL(q(v) ‖ N(0, I))` with marginals
//! `μ = Aᵀm`, `v = diag Kff − Σ A² + Σ (L_SᵀA)²`, `A = L⁻¹ Kuf`. Hyperparameters and inducing
//! inputs take Adam steps. For a Gaussian likelihood `q(v)` takes natural-gradient steps
//! instead (exact in one step on the full batch: `Λ = I + (n/b)AAᵀ/σ²`, `Λm = (n/b)Ay/σ²`,
//! blended with step size γ), which converges far faster than Adam on `m` and `L_S`; for
//! Bernoulli (Gauss–Hermite expectations) `m` and `L_S` take Adam steps too.

use super::kernels::Kernel;
use super::likelihood::{bernoulli_expected_log_lik, Likelihood};
use super::linalg::{
    cholesky, cholesky_inverse, cholesky_op, solve_lower, solve_lower_op, sum_log_abs_diag_op,
    tril, MatrixExt,
};
use super::ops::{self, inverse_softplus, softplus};
use super::sgpr::NOISE_FLOOR;
use super::GpError;
use crate::optim::{Adam, Optimizer};
use crate::prng::Rng;
use crate::tape::{Matrix, Tape, Var};

/// Settings of [`Svgp::fit`].
#[derive(Debug, Clone)]
pub struct SvgpConfig {
    /// Adam steps.
    pub iterations: usize,
    /// Rows per minibatch (the whole set if larger).
    pub batch_size: usize,
    /// Adam step size for hyperparameters, inducing inputs (and `q` for Bernoulli).
    pub learning_rate: f64,
    /// Natural-gradient step γ for `q` under a Gaussian likelihood; `None` trains `q` with Adam.
    pub natural_gradient_step: Option<f64>,
    /// Whether the inducing inputs move.
    pub train_inducing: bool,
    /// Seed of the minibatch order.
    pub seed: u64,
}

impl Default for SvgpConfig {
    fn default() -> Self {
        SvgpConfig {
            iterations: 2000,
            batch_size: 256,
            learning_rate: 0.01,
            natural_gradient_step: Some(0.1),
            train_inducing: true,
            seed: 0,
        }
    }
}

/// An SVGP model on standardised data.
#[derive(Debug, Clone)]
pub struct Svgp {
    /// The covariance function and its hyperparameters.
    pub kernel: Kernel,
    /// Inducing inputs `Z` (M x d).
    pub inducing: Matrix,
    /// The observation model (Gaussian variance in standardised units).
    pub likelihood: Likelihood,
    /// Whitened variational mean `m` (M x 1).
    pub q_mean: Matrix,
    /// Lower-triangular factor `L_S` of the whitened variational covariance (M x M).
    pub q_sqrt: Matrix,
    /// Added to the diagonal of `K(Z, Z)`.
    pub jitter: f64,
    x: Matrix,
    y: Vec<f64>,
}

struct Recorded {
    tape: Tape,
    elbo: Var,
    hyper: Vec<Var>,
    q_mean: Var,
    q_sqrt: Var,
}

impl Svgp {
    /// A model of targets `y` (standardised values, or 0/1 labels for Bernoulli), with the
    /// prior as `q(v)`.
    pub fn new(
        x: Matrix,
        y: &[f64],
        kernel: Kernel,
        inducing: Matrix,
        likelihood: Likelihood,
        jitter: f64,
    ) -> Result<Svgp, GpError> {
        if x.rows == 0 || x.rows != y.len() || inducing.cols != x.cols || inducing.rows == 0 {
            return Err(GpError::Invalid(
                "SVGP: inputs, targets and inducing inputs disagree".into(),
            ));
        }
        kernel.validate(x.cols)?;
        if let Likelihood::Bernoulli = likelihood {
            if y.iter().any(|&v| v != 0.0 && v != 1.0) {
                return Err(GpError::Invalid("Bernoulli labels must be 0 or 1".into()));
            }
        }
        let m = inducing.rows;
        Ok(Svgp {
            kernel,
            inducing,
            likelihood,
            q_mean: Matrix::zeros(m, 1),
            q_sqrt: super::linalg::identity(m),
            jitter,
            x,
            y: y.to_vec(),
        })
    }

    fn hyper_parameters(&self) -> Vec<f64> {
        let mut p = self.kernel.unconstrained();
        if let Likelihood::Gaussian { variance } = self.likelihood {
            p.push(inverse_softplus(variance - NOISE_FLOOR));
        }
        p.extend_from_slice(&self.inducing.data);
        p
    }

    fn set_hyper_parameters(&mut self, p: &[f64]) {
        let mut used = self.kernel.set_unconstrained(p);
        if let Likelihood::Gaussian { variance } = &mut self.likelihood {
            *variance = softplus(p[used]) + NOISE_FLOOR;
            used += 1;
        }
        self.inducing.data.copy_from_slice(&p[used..]);
    }

    fn record(&self, rows: &[usize]) -> Result<Recorded, GpError> {
        let mut t = Tape::new();
        let mut hyper = Vec::new();
        let tk = self.kernel.on_tape(&mut t, &mut hyper);
        let noise = match self.likelihood {
            Likelihood::Gaussian { variance } => {
                let raw = t.leaf(Matrix::scalar(inverse_softplus(variance - NOISE_FLOOR)));
                hyper.push(raw);
                let sp = ops::softplus_op(&mut t, raw);
                let floor = ops::constant(&mut t, Matrix::scalar(NOISE_FLOOR));
                Some(t.add(sp, floor))
            }
            Likelihood::Bernoulli => None,
        };
        let z = t.leaf(self.inducing.clone());
        hyper.push(z);
        let q_mean = t.leaf(self.q_mean.clone());
        let q_sqrt = t.leaf(self.q_sqrt.clone());
        let m = self.inducing.rows;
        let d = self.x.cols;
        let xb = Matrix::new(
            rows.len(),
            d,
            rows.iter().flat_map(|&i| self.x.row(i).to_vec()).collect(),
        );
        let yb: Vec<f64> = rows.iter().map(|&i| self.y[i]).collect();
        let x = ops::constant(&mut t, xb);
        let scale = self.x.rows as f64 / rows.len() as f64;

        let kuu = tk.symmetric(&mut t, z);
        let kuu = ops::add_diagonal(&mut t, kuu, self.jitter);
        let l = cholesky_op(&mut t, kuu)?;
        let kuf = tk.cross(&mut t, z, x);
        let a = solve_lower_op(&mut t, l, kuf);
        let at = ops::transpose(&mut t, a);
        let mu = t.matmul(at, q_mean);
        let mask = ops::constant(&mut t, tril(&Matrix::new(m, m, vec![1.0; m * m])));
        let ls = t.mul(q_sqrt, mask);
        let lst = ops::transpose(&mut t, ls);
        let lsa = t.matmul(lst, a);
        let kdiag = tk.diagonal(&mut t, x);
        let a2 = ops::square(&mut t, a);
        let reduce = ops::column_sums(&mut t, a2);
        let lsa2 = ops::square(&mut t, lsa);
        let add = ops::column_sums(&mut t, lsa2);
        let var = t.sub(kdiag, reduce);
        let var = t.add(var, add);

        let ell = match noise {
            Some(noise) => {
                let y = ops::constant(&mut t, Matrix::column(&yb));
                let r = t.sub(y, mu);
                let r2 = ops::square(&mut t, r);
                let e = t.add(r2, var);
                let se = t.sum(e);
                let prec = ops::recip(&mut t, noise);
                let quad = ops::scale_by(&mut t, se, prec);
                let quad = t.scale(quad, -0.5);
                let ln = ops::log(&mut t, noise);
                let ln = t.scale(ln, -0.5 * rows.len() as f64);
                let c = ops::constant(
                    &mut t,
                    Matrix::scalar(-0.5 * rows.len() as f64 * (2.0 * core::f64::consts::PI).ln()),
                );
                let s = t.add(quad, ln);
                t.add(s, c)
            }
            None => bernoulli_expected_log_lik(&mut t, mu, var, &yb),
        };
        let ell = t.scale(ell, scale);
        // KL(N(m, S) ‖ N(0, I)) = ½ (tr S + mᵀm − M − log|S|).
        let ls2 = ops::square(&mut t, ls);
        let tr = t.sum(ls2);
        let m2 = ops::square(&mut t, q_mean);
        let mm = t.sum(m2);
        let logdet = sum_log_abs_diag_op(&mut t, ls);
        let s = t.add(tr, mm);
        let two_logdet = t.scale(logdet, -2.0);
        let s = t.add(s, two_logdet);
        let kl = t.scale(s, 0.5);
        let minus_m = ops::constant_scalar(&mut t, -0.5 * m as f64);
        let kl = t.add(kl, minus_m);
        let elbo = t.sub(ell, kl);
        Ok(Recorded {
            tape: t,
            elbo,
            hyper,
            q_mean,
            q_sqrt,
        })
    }

    /// The ELBO on the full data set.
    pub fn elbo(&self) -> Result<f64, GpError> {
        let rows: Vec<usize> = (0..self.x.rows).collect();
        let r = self.record(&rows)?;
        Ok(r.tape.value(r.elbo).data[0])
    }

    /// One natural-gradient step of size `gamma` on `q(v)` for a Gaussian likelihood, using
    /// the minibatch `rows`.
    pub fn natural_gradient_step(&mut self, rows: &[usize], gamma: f64) -> Result<(), GpError> {
        let Likelihood::Gaussian { variance } = self.likelihood else {
            return Err(GpError::Invalid(
                "natural gradients need a Gaussian likelihood".into(),
            ));
        };
        let m = self.inducing.rows;
        let d = self.x.cols;
        let mut kuu = self.kernel.symmetric(&self.inducing);
        for i in 0..m {
            kuu.data[i * m + i] += self.jitter;
        }
        let l = cholesky(&kuu).ok_or(GpError::NotPositiveDefinite)?;
        let xb = Matrix::new(
            rows.len(),
            d,
            rows.iter().flat_map(|&i| self.x.row(i).to_vec()).collect(),
        );
        let yb = Matrix::column(&rows.iter().map(|&i| self.y[i]).collect::<Vec<_>>());
        let a = solve_lower(&l, &self.kernel.cross(&self.inducing, &xb));
        let c = self.x.rows as f64 / rows.len() as f64 / variance;
        // Current natural parameters: Λ = S⁻¹, θ = Λm.
        let s = self.q_sqrt.matmul(&self.q_sqrt.transpose());
        let ls = cholesky(&s).ok_or(GpError::NotPositiveDefinite)?;
        let lambda = cholesky_inverse(&ls);
        let theta = lambda.matmul(&self.q_mean);
        let mut lambda_hat = a.matmul(&a.transpose()).scaled(c);
        for i in 0..m {
            lambda_hat.data[i * m + i] += 1.0;
        }
        let theta_hat = a.matmul(&yb).scaled(c);
        let lambda_new = lambda.zipped(&lambda_hat, |p, q| (1.0 - gamma) * p + gamma * q);
        let theta_new = theta.zipped(&theta_hat, |p, q| (1.0 - gamma) * p + gamma * q);
        let lp = cholesky(&lambda_new).ok_or(GpError::NotPositiveDefinite)?;
        let s_new = cholesky_inverse(&lp);
        self.q_mean = s_new.matmul(&theta_new);
        self.q_sqrt = cholesky(&s_new).ok_or(GpError::NotPositiveDefinite)?;
        Ok(())
    }

    /// Trains with minibatches; `on_step(step, minibatch elbo)` reports progress.
    pub fn fit(
        &mut self,
        cfg: &SvgpConfig,
        mut on_step: impl FnMut(usize, f64),
    ) -> Result<(), GpError> {
        let n = self.x.rows;
        let batch = cfg.batch_size.clamp(1, n);
        let mut rng = Rng::new(cfg.seed);
        let mut order: Vec<usize> = (0..n).collect();
        let mut cursor = n;
        let mut adam = Adam::new(cfg.learning_rate);
        let natural = match self.likelihood {
            Likelihood::Gaussian { .. } => cfg.natural_gradient_step,
            Likelihood::Bernoulli => None,
        };
        for step in 1..=cfg.iterations {
            if cursor + batch > n {
                rng.shuffle(&mut order);
                cursor = 0;
            }
            let rows = order[cursor..cursor + batch].to_vec();
            cursor += batch;
            if let Some(gamma) = natural {
                self.natural_gradient_step(&rows, gamma)?;
            }
            let r = self.record(&rows)?;
            let elbo = r.tape.value(r.elbo).data[0];
            let grads = r.tape.backward(r.elbo);
            let grad_of = |v: Var| -> Vec<f64> {
                grads.get(v).map_or_else(
                    || vec![0.0; r.tape.value(v).data.len()],
                    |g| g.data.iter().map(|x| -x).collect(),
                )
            };
            let mut hyper_grad: Vec<f64> = r.hyper.iter().flat_map(|&v| grad_of(v)).collect();
            if !cfg.train_inducing {
                let zlen = self.inducing.data.len();
                let len = hyper_grad.len();
                hyper_grad[len - zlen..].iter_mut().for_each(|g| *g = 0.0);
            }
            let mut hyper = Matrix::new(1, hyper_grad.len(), self.hyper_parameters());
            let hyper_grad = Matrix::new(1, hyper_grad.len(), hyper_grad);
            if natural.is_some() {
                adam.step(&mut [&mut hyper], &[hyper_grad]);
            } else {
                let gm = Matrix::new(self.q_mean.rows, 1, grad_of(r.q_mean));
                let gs = Matrix::new(self.q_sqrt.rows, self.q_sqrt.cols, grad_of(r.q_sqrt));
                let (mut qm, mut qs) = (self.q_mean.clone(), self.q_sqrt.clone());
                adam.step(&mut [&mut hyper, &mut qm, &mut qs], &[hyper_grad, gm, gs]);
                self.q_mean = qm;
                self.q_sqrt = tril(&qs);
            }
            self.set_hyper_parameters(&hyper.data);
            on_step(step, elbo);
        }
        Ok(())
    }

    /// `q(u) = N(L m, L S Lᵀ)` over `u = f(Z)` (not whitened), for the parameter file.
    pub fn posterior(&self) -> Result<(Vec<f64>, Matrix), GpError> {
        let m = self.inducing.rows;
        let mut kuu = self.kernel.symmetric(&self.inducing);
        for i in 0..m {
            kuu.data[i * m + i] += self.jitter;
        }
        let l = cholesky(&kuu).ok_or(GpError::NotPositiveDefinite)?;
        let mean = l.matmul(&self.q_mean).data;
        let h = l.matmul(&tril(&self.q_sqrt));
        Ok((mean, h.matmul(&h.transpose())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::linalg::tests::random;
    use crate::gp::sgpr::Sgpr;

    fn toy(n: usize, seed: u64) -> (Matrix, Vec<f64>) {
        let mut rng = Rng::new(seed);
        let x = random(&mut rng, n, 2).scaled(2.0);
        let y = (0..n)
            .map(|i| (x.get(i, 0) * 1.5).sin() + 0.1 * rng.normal())
            .collect();
        (x, y)
    }

    #[test]
    fn full_batch_natural_gradient_reaches_the_collapsed_bound() {
        // One γ = 1 step on the full batch gives the optimal q, so the SVGP ELBO equals SGPR's.
        let (x, y) = toy(30, 1);
        let kernel = Kernel::from_spec("rbf-ard", 2).unwrap();
        let z = crate::gp::inducing::kmeans(&x, 6, 5, 2);
        let lik = Likelihood::Gaussian { variance: 0.1 };
        let mut svgp = Svgp::new(x.clone(), &y, kernel.clone(), z.clone(), lik, 1e-8).unwrap();
        let rows: Vec<usize> = (0..30).collect();
        svgp.natural_gradient_step(&rows, 1.0).unwrap();
        let sgpr = Sgpr::new(x, &y, kernel, z, 0.1, 1e-8).unwrap();
        let (a, b) = (svgp.elbo().unwrap(), sgpr.elbo().unwrap());
        assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        let (m1, c1) = svgp.posterior().unwrap();
        let (m2, c2) = sgpr.posterior().unwrap();
        assert!(m1.iter().zip(&m2).all(|(p, q)| (p - q).abs() < 1e-7));
        assert!(c1
            .data
            .iter()
            .zip(&c2.data)
            .all(|(p, q)| (p - q).abs() < 1e-7));
    }

    #[test]
    fn elbo_gradient_matches_finite_differences() {
        let (x, y) = toy(8, 3);
        let labels: Vec<f64> = y.iter().map(|&v| f64::from(u8::from(v > 0.0))).collect();
        let z = crate::gp::inducing::kmeans(&x, 3, 5, 2);
        for (lik, targets) in [
            (Likelihood::Gaussian { variance: 0.3 }, &y),
            (Likelihood::Bernoulli, &labels),
        ] {
            let mut model = Svgp::new(
                x.clone(),
                targets,
                Kernel::from_spec("matern52", 2).unwrap(),
                z.clone(),
                lik,
                1e-8,
            )
            .unwrap();
            model.q_mean = Matrix::new(3, 1, vec![0.3, -0.2, 0.5]);
            model.q_sqrt = Matrix::new(3, 3, vec![0.9, 0.0, 0.0, 0.1, 0.8, 0.0, -0.2, 0.05, 0.7]);
            let rows = [0, 2, 3, 5, 7];
            let r = model.record(&rows).unwrap();
            let grads = r.tape.backward(r.elbo);
            let analytic: Vec<f64> = r
                .hyper
                .iter()
                .chain([&r.q_mean, &r.q_sqrt])
                .flat_map(|&v| grads.get(v).unwrap().data.clone())
                .collect();
            let mut p = model.hyper_parameters();
            p.extend(&model.q_mean.data);
            p.extend(&model.q_sqrt.data);
            let eval = |p: &[f64]| {
                let mut m = model.clone();
                let h = m.hyper_parameters().len();
                m.set_hyper_parameters(&p[..h]);
                m.q_mean.data.copy_from_slice(&p[h..h + 3]);
                m.q_sqrt.data.copy_from_slice(&p[h + 3..]);
                let r = m.record(&rows).unwrap();
                r.tape.value(r.elbo).data[0]
            };
            for i in 0..p.len() {
                let (mut a, mut b) = (p.clone(), p.clone());
                a[i] += 1e-5;
                b[i] -= 1e-5;
                let numeric = (eval(&a) - eval(&b)) / 2e-5;
                let rel =
                    (analytic[i] - numeric).abs() / analytic[i].abs().max(numeric.abs()).max(1e-3);
                assert!(rel < 1e-6, "param {i}: {} vs {numeric}", analytic[i]);
            }
        }
    }

    #[test]
    fn bernoulli_training_separates_classes() {
        let (x, y) = toy(60, 4);
        let labels: Vec<f64> = y.iter().map(|&v| f64::from(u8::from(v > 0.0))).collect();
        let z = crate::gp::inducing::kmeans(&x, 6, 5, 2);
        let mut model = Svgp::new(
            x.clone(),
            &labels,
            Kernel::from_spec("rbf-ard", 2).unwrap(),
            z,
            Likelihood::Bernoulli,
            1e-6,
        )
        .unwrap();
        let before = model.elbo().unwrap();
        let cfg = SvgpConfig {
            iterations: 300,
            batch_size: 60,
            learning_rate: 0.05,
            ..SvgpConfig::default()
        };
        model.fit(&cfg, |_, _| {}).unwrap();
        assert!(model.elbo().unwrap() > before + 5.0);
    }
}
