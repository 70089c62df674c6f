//! Likelihoods: Gaussian (regression) and Bernoulli with a logistic link (binary
//! classification), and the Gauss–Hermite quadrature that takes the Bernoulli expectation
//! under a Gaussian marginal `q(f) = N(μ, v)`, on the tape.

use crate::tape::{sigmoid, Function, Matrix, Tape, Var};
use serde::{Deserialize, Serialize};

/// The observation model `p(y | f)`, as stored in the parameter file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "RawLikelihood")]
pub enum Likelihood {
    /// `y = f + ε`, `ε ~ N(0, variance)`; `variance` is in standardised target units.
    Gaussian {
        /// Noise variance (positive).
        variance: f64,
    },
    /// `p(y = 1 | f) = σ(f)` (logistic), labels 0 and 1.
    Bernoulli,
}

/// The likelihood object as read from JSON (a plain struct, for the reason given on
/// `kernels::RawKernel`: correct numbers under serde_json's `arbitrary_precision`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLikelihood {
    #[serde(rename = "type")]
    kind: String,
    variance: Option<f64>,
}

impl TryFrom<RawLikelihood> for Likelihood {
    type Error = String;

    fn try_from(raw: RawLikelihood) -> Result<Likelihood, String> {
        match (raw.kind.as_str(), raw.variance) {
            ("gaussian", Some(variance)) => Ok(Likelihood::Gaussian { variance }),
            ("gaussian", None) => Err("the gaussian likelihood needs \"variance\"".into()),
            ("bernoulli", None) => Ok(Likelihood::Bernoulli),
            ("bernoulli", Some(_)) => Err("the bernoulli likelihood takes no variance".into()),
            (other, _) => Err(format!("unknown likelihood type {other:?}")),
        }
    }
}

/// Nodes `x_i` and weights `w_i` of `n`-point Gauss–Hermite quadrature
/// (`∫ e^{−x²} g(x) dx ≈ Σ w_i g(x_i)`), by Newton's method on the Hermite recurrence
/// (Numerical Recipes' `gauher`).
pub fn gauss_hermite(n: usize) -> (Vec<f64>, Vec<f64>) {
    let pim4 = core::f64::consts::PI.powf(-0.25);
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    let m = n.div_ceil(2);
    let mut z = 0.0f64;
    for i in 0..m {
        z = match i {
            0 => (2.0 * n as f64 + 1.0).sqrt() - 1.85575 * (2.0 * n as f64 + 1.0).powf(-1.0 / 6.0),
            1 => z - 1.14 * (n as f64).powf(0.426) / z,
            2 => 1.86 * z - 0.86 * x[0],
            3 => 1.91 * z - 0.91 * x[1],
            _ => 2.0 * z - x[i - 2],
        };
        let mut pp = 0.0;
        for _ in 0..100 {
            let mut p1 = pim4;
            let mut p2 = 0.0;
            for j in 0..n {
                let p3 = p2;
                p2 = p1;
                p1 = z * (2.0 / (j as f64 + 1.0)).sqrt() * p2
                    - (j as f64 / (j as f64 + 1.0)).sqrt() * p3;
            }
            pp = (2.0 * n as f64).sqrt() * p2;
            let z1 = z;
            z = z1 - p1 / pp;
            if (z - z1).abs() <= 1e-15 {
                break;
            }
        }
        x[i] = z;
        x[n - 1 - i] = -z;
        w[i] = 2.0 / (pp * pp);
        w[n - 1 - i] = w[i];
    }
    (x, w)
}

/// Quadrature points used for Bernoulli expectations.
pub const QUADRATURE_POINTS: usize = 20;

/// `E_{N(μ, v)}[g(f)]` by Gauss–Hermite: `Σ w_i/√π g(μ + √(2v) x_i)`.
pub fn expect(nodes: &(Vec<f64>, Vec<f64>), mean: f64, var: f64, g: impl Fn(f64) -> f64) -> f64 {
    let sd = (2.0 * var.max(0.0)).sqrt();
    nodes
        .0
        .iter()
        .zip(&nodes.1)
        .map(|(x, w)| w * g(mean + sd * x))
        .sum::<f64>()
        / core::f64::consts::PI.sqrt()
}

/// `log σ(s f)` for the sign `s = 2y − 1`, without overflow.
fn log_sigmoid(t: f64) -> f64 {
    -super::ops::softplus(-t)
}

/// Reverse rule of the summed Bernoulli expected log-likelihood.
#[derive(Debug)]
struct BernoulliExpectationFn {
    labels: Vec<f64>,
    nodes: (Vec<f64>, Vec<f64>),
}

impl Function for BernoulliExpectationFn {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, g: &Matrix) -> Vec<Option<Matrix>> {
        let (mu, var) = (inputs[0], inputs[1]);
        let mut gm = Matrix::zeros(mu.rows, 1);
        let mut gv = Matrix::zeros(mu.rows, 1);
        let c = g.data[0] / core::f64::consts::PI.sqrt();
        for b in 0..mu.rows {
            let s = 2.0 * self.labels[b] - 1.0;
            let v = var.data[b].max(1e-300);
            let sd = (2.0 * v).sqrt();
            for (x, w) in self.nodes.0.iter().zip(&self.nodes.1) {
                let f = mu.data[b] + sd * x;
                let dlog = s * sigmoid(-s * f);
                gm.data[b] += c * w * dlog;
                gv.data[b] += c * w * dlog * x / sd;
            }
        }
        vec![Some(gm), Some(gv)]
    }
}

/// Records `Σ_b E_{N(μ_b, v_b)}[log p(y_b | f)]` (1 x 1) for 0/1 `labels` under the logistic
/// Bernoulli likelihood; `mu` and `var` are n x 1 columns.
pub fn bernoulli_expected_log_lik(tape: &mut Tape, mu: Var, var: Var, labels: &[f64]) -> Var {
    let nodes = gauss_hermite(QUADRATURE_POINTS);
    let (m, v) = (tape.value(mu), tape.value(var));
    let total: f64 = (0..m.rows)
        .map(|b| {
            let s = 2.0 * labels[b] - 1.0;
            expect(&nodes, m.data[b], v.data[b], |f| log_sigmoid(s * f))
        })
        .sum();
    let value = Matrix::scalar(total);
    tape.record(
        &[mu, var],
        value,
        BernoulliExpectationFn {
            labels: labels.to_vec(),
            nodes,
        },
    )
}

/// `p(y = 1) = E_{N(μ, v)}[σ(f)]`: the Bernoulli predictive probability.
pub fn bernoulli_probability(mean: f64, var: f64) -> f64 {
    expect(&gauss_hermite(QUADRATURE_POINTS), mean, var, sigmoid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tape::gradcheck::check_gradients;

    #[test]
    fn quadrature_integrates_gaussian_moments() {
        let nodes = gauss_hermite(QUADRATURE_POINTS);
        assert!((nodes.1.iter().sum::<f64>() - core::f64::consts::PI.sqrt()).abs() < 1e-12);
        // E[f²] = μ² + v, E[f⁴] = μ⁴ + 6μ²v + 3v².
        let (m, v) = (0.3, 2.0);
        assert!((expect(&nodes, m, v, |f| f * f) - (m * m + v)).abs() < 1e-12);
        let e4 = m.powi(4) + 6.0 * m * m * v + 3.0 * v * v;
        assert!((expect(&nodes, m, v, |f| f.powi(4)) - e4).abs() < 1e-10);
        // σ(f) with zero variance is just σ(μ); by symmetry E[σ(f)] = ½ at μ = 0.
        assert!((bernoulli_probability(1.2, 0.0) - sigmoid(1.2)).abs() < 1e-15);
        assert!((bernoulli_probability(0.0, 3.0) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn bernoulli_expectation_gradient() {
        let mu = Matrix::new(4, 1, vec![-1.0, 0.3, 2.0, 0.0]);
        let var = Matrix::new(4, 1, vec![0.5, 1.5, 0.2, 3.0]);
        let labels = [0.0, 1.0, 1.0, 0.0];
        check_gradients(&[mu, var], |t, v| {
            bernoulli_expected_log_lik(t, v[0], v[1], &labels)
        });
    }
}
