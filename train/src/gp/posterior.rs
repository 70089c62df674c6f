//! Prediction from a sparse GP's parameters, in f64 and in the original units.
//!
//! With `L = chol(K(Z,Z) + jitter·I)`, `a = L⁻¹ k(Z, x)`, the whitened posterior
//! `m_w = L⁻¹ q_mu`, `S_w = L⁻¹ q_cov L⁻ᵀ`:
//! mean `m(x) + aᵀ m_w` (`m` the linear mean function if there is one), latent variance `k(x,x) − aᵀ(I − S_w)a`, floored at 0, so rounding can
//! never make a variance negative. These are precomputed once in [`SparseGp::new`].

use super::likelihood::{bernoulli_probability, Likelihood};
use super::linalg::{cholesky, solve_lower};
use super::params::GpParams;
use super::GpError;
use crate::tape::Matrix;

/// A loaded sparse GP ready to predict.
#[derive(Debug, Clone)]
pub struct SparseGp {
    params: GpParams,
    inducing: Matrix,
    chol: Matrix,
    mean_w: Vec<f64>,
    /// `I − S_w`: the variance reduction in whitened coordinates.
    reduction: Matrix,
}

impl SparseGp {
    /// Validates `params` and precomputes the factorisation; fails if `K(Z,Z) + jitter·I` is
    /// not positive definite.
    pub fn new(params: GpParams) -> Result<SparseGp, GpError> {
        params.validate()?;
        let m = params.inducing_inputs.len();
        let d = params.input_dim;
        let inducing = Matrix::new(m, d, params.inducing_inputs.concat());
        let mut kuu = params.kernel.symmetric(&inducing);
        for i in 0..m {
            kuu.data[i * m + i] += params.jitter;
        }
        let chol = cholesky(&kuu).ok_or(GpError::NotPositiveDefinite)?;
        let mean_w = solve_lower(&chol, &Matrix::new(m, 1, params.q_mu.clone())).data;
        let cov = Matrix::new(m, m, params.q_cov.concat());
        let half = solve_lower(&chol, &cov); // L⁻¹ S
        let cov_w = solve_lower(&chol, &half.transpose()); // L⁻¹ (L⁻¹ S)ᵀ = L⁻¹ S L⁻ᵀ
        let mut reduction = Matrix::zeros(m, m);
        for i in 0..m {
            for j in 0..m {
                let s = 0.5 * (cov_w.get(i, j) + cov_w.get(j, i));
                reduction.data[i * m + j] = f64::from(u8::from(i == j)) - s;
            }
        }
        Ok(SparseGp {
            params,
            inducing,
            chol,
            mean_w,
            reduction,
        })
    }

    /// The parameters this model was built from.
    pub fn params(&self) -> &GpParams {
        &self.params
    }

    /// Latent `f` mean and variance at an already standardised input.
    pub fn predict_latent_standardised(&self, x: &[f64]) -> (f64, f64) {
        let xm = Matrix::new(1, x.len(), x.to_vec());
        let kux = self.params.kernel.cross(&self.inducing, &xm);
        let a = solve_lower(&self.chol, &kux).data;
        let kxx = self.params.kernel.diagonal(&xm)[0];
        let prior = self
            .params
            .mean_function
            .as_ref()
            .map_or(0.0, |mean| mean.at(x));
        let mean = prior + a.iter().zip(&self.mean_w).map(|(p, q)| p * q).sum::<f64>();
        let m = a.len();
        let mut quad = 0.0;
        for i in 0..m {
            let row = &self.reduction.data[i * m..(i + 1) * m];
            quad += a[i] * row.iter().zip(&a).map(|(r, aj)| r * aj).sum::<f64>();
        }
        (mean, (kxx - quad).max(0.0))
    }

    fn standardise(&self, x: &[f64]) -> Result<Vec<f64>, GpError> {
        if x.len() != self.params.input_dim {
            return Err(GpError::Invalid(format!(
                "input has {} values, the model takes {}",
                x.len(),
                self.params.input_dim
            )));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(GpError::Invalid("input holds a non-finite value".into()));
        }
        Ok(self.params.input_standardisation.apply(x))
    }

    /// Latent `f` mean and variance at a raw input, in target units.
    pub fn predict_latent(&self, x: &[f64]) -> Result<(f64, f64), GpError> {
        let (m, v) = self.predict_latent_standardised(&self.standardise(x)?);
        let t = &self.params.target_standardisation;
        Ok((t.invert(0, m), v * t.scale[0] * t.scale[0]))
    }

    /// Predictive mean and variance of `y` at a raw input, in the original units: for a
    /// Gaussian likelihood the latent variance plus the noise variance; for Bernoulli the
    /// probability `p(y = 1)` and `p(1 − p)`.
    pub fn predict(&self, x: &[f64]) -> Result<(f64, f64), GpError> {
        let (m, v) = self.predict_latent_standardised(&self.standardise(x)?);
        let t = &self.params.target_standardisation;
        Ok(match self.params.likelihood {
            Likelihood::Gaussian { variance } => {
                (t.invert(0, m), (v + variance) * t.scale[0] * t.scale[0])
            }
            Likelihood::Bernoulli => {
                let p = bernoulli_probability(m, v);
                (p, p * (1.0 - p))
            }
        })
    }
}
