//! Covariance functions: RBF (isotropic or ARD), Matern 3/2 and 5/2, linear, white, and their
//! sums and products.
//!
//! A [`Kernel`] holds its hyperparameters in natural units (what the parameter file stores and
//! what prediction uses). Training sees them through softplus: [`Kernel::unconstrained`] and
//! [`Kernel::set_unconstrained`] flatten them to free reals, and [`Kernel::on_tape`] records
//! the positive values on a tape so every hyperparameter gets a gradient.

use super::ops::{self, inverse_softplus, softplus, Pointwise};
use super::GpError;
use crate::tape::{Matrix, Tape, Var};
use serde::{Deserialize, Serialize};

/// A covariance function with its hyperparameters (all positive), as stored in `GP_PARAMS.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "RawKernel")]
pub enum Kernel {
    /// `σ² exp(−r²/2)`, `r² = Σ_k ((x_k − z_k)/ℓ_k)²`: smooth functions.
    Rbf {
        /// Signal variance σ².
        variance: f64,
        /// One lengthscale (isotropic) or one per input (ARD).
        lengthscales: Vec<f64>,
    },
    /// `σ² (1 + √3 r) exp(−√3 r)`: once-differentiable functions.
    Matern32 {
        /// Signal variance σ².
        variance: f64,
        /// One lengthscale (isotropic) or one per input (ARD).
        lengthscales: Vec<f64>,
    },
    /// `σ² (1 + √5 r + 5r²/3) exp(−√5 r)`: twice-differentiable functions.
    Matern52 {
        /// Signal variance σ².
        variance: f64,
        /// One lengthscale (isotropic) or one per input (ARD).
        lengthscales: Vec<f64>,
    },
    /// `Σ_k v_k x_k z_k`: a linear trend (Bayesian linear regression through the origin).
    Linear {
        /// One variance for all inputs or one per input.
        variances: Vec<f64>,
    },
    /// `σ²` on the diagonal of the covariance of a set with itself, zero between different
    /// sets: independent noise that stays out of cross-covariances.
    White {
        /// Noise variance σ².
        variance: f64,
    },
    /// The sum of the kernels (e.g. a smooth function plus a linear trend).
    Sum {
        /// The terms (at least one).
        kernels: Vec<Kernel>,
    },
    /// The elementwise product of the kernels.
    Product {
        /// The factors (at least one).
        kernels: Vec<Kernel>,
    },
}

/// The kernel object as read from JSON, before its `type` is checked. Reading through a plain
/// struct (not serde's internally tagged enums, which buffer numbers) keeps parsing correct
/// when another crate in the build enables serde_json's `arbitrary_precision` (defmt-decoder
/// does, in the CLI).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKernel {
    #[serde(rename = "type")]
    kind: String,
    variance: Option<f64>,
    lengthscales: Option<Vec<f64>>,
    variances: Option<Vec<f64>>,
    kernels: Option<Vec<RawKernel>>,
}

impl TryFrom<RawKernel> for Kernel {
    type Error = String;

    fn try_from(raw: RawKernel) -> Result<Kernel, String> {
        let kind = raw.kind.clone();
        let missing = |field: &str| format!("kernel {kind:?} needs {field:?}");
        let extra = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(format!("kernel {kind:?} has a field it does not take"))
            }
        };
        let stationary = |raw: RawKernel| -> Result<(f64, Vec<f64>), String> {
            extra(raw.variances.is_none() && raw.kernels.is_none())?;
            Ok((
                raw.variance.ok_or_else(|| missing("variance"))?,
                raw.lengthscales.ok_or_else(|| missing("lengthscales"))?,
            ))
        };
        let parts = |raw: RawKernel| -> Result<Vec<Kernel>, String> {
            extra(raw.variance.is_none() && raw.lengthscales.is_none() && raw.variances.is_none())?;
            raw.kernels
                .ok_or_else(|| missing("kernels"))?
                .into_iter()
                .map(Kernel::try_from)
                .collect()
        };
        Ok(match kind.as_str() {
            "rbf" => {
                let (variance, lengthscales) = stationary(raw)?;
                Kernel::Rbf {
                    variance,
                    lengthscales,
                }
            }
            "matern32" => {
                let (variance, lengthscales) = stationary(raw)?;
                Kernel::Matern32 {
                    variance,
                    lengthscales,
                }
            }
            "matern52" => {
                let (variance, lengthscales) = stationary(raw)?;
                Kernel::Matern52 {
                    variance,
                    lengthscales,
                }
            }
            "linear" => {
                extra(
                    raw.variance.is_none() && raw.lengthscales.is_none() && raw.kernels.is_none(),
                )?;
                Kernel::Linear {
                    variances: raw.variances.ok_or_else(|| missing("variances"))?,
                }
            }
            "white" => {
                extra(
                    raw.lengthscales.is_none() && raw.variances.is_none() && raw.kernels.is_none(),
                )?;
                Kernel::White {
                    variance: raw.variance.ok_or_else(|| missing("variance"))?,
                }
            }
            "sum" => Kernel::Sum {
                kernels: parts(raw)?,
            },
            "product" => Kernel::Product {
                kernels: parts(raw)?,
            },
            other => return Err(format!("unknown kernel type {other:?}")),
        })
    }
}

/// A kernel recorded on a tape: the positive hyperparameters as tape values.
#[derive(Debug, Clone)]
pub enum TapeKernel {
    /// RBF / Matern: profile, variance (1 x 1), inverse lengthscales (1 x 1 or 1 x d).
    Stationary {
        /// The kernel's shape as a function of the scaled squared distance.
        profile: Pointwise,
        /// σ² (1 x 1).
        variance: Var,
        /// `1/ℓ` (1 x 1 isotropic or 1 x d ARD).
        inverse_lengthscales: Var,
    },
    /// Linear: variances (1 x 1 or 1 x d).
    Linear {
        /// `v` (1 x 1 or 1 x d).
        variances: Var,
    },
    /// White: variance (1 x 1).
    White {
        /// σ² (1 x 1).
        variance: Var,
    },
    /// Sum of the parts.
    Sum(Vec<TapeKernel>),
    /// Product of the parts.
    Product(Vec<TapeKernel>),
}

fn check_positive(name: &str, values: &[f64], input_dim: usize) -> Result<(), GpError> {
    if values.is_empty() || (values.len() != 1 && values.len() != input_dim) {
        return Err(GpError::Invalid(format!(
            "kernel {name}: expected 1 or {input_dim} values, found {}",
            values.len()
        )));
    }
    if let Some(v) = values.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
        return Err(GpError::Invalid(format!(
            "kernel {name} must be positive and finite, found {v}"
        )));
    }
    Ok(())
}

impl Kernel {
    /// Parses a kernel spec such as `rbf-ard`, `matern52`, `rbf-ard+linear` or `rbf*linear`
    /// (`+` binds looser than `*`), with neutral starting values for standardised inputs:
    /// variances 1, lengthscales 1 (√d for the isotropic `rbf`), linear variances 0.1.
    ///
    /// Names: `rbf` (isotropic), `rbf-ard`, `matern32`, `matern52` (ARD), `matern32-iso`,
    /// `matern52-iso`, `linear`, `white`.
    pub fn from_spec(spec: &str, input_dim: usize) -> Result<Kernel, GpError> {
        let ard = vec![1.0; input_dim];
        let iso = vec![(input_dim as f64).sqrt().max(1.0)];
        let mut terms = Vec::new();
        for term in spec.split('+') {
            let mut factors = Vec::new();
            for name in term.split('*') {
                let k = match name.trim() {
                    "rbf" => Kernel::Rbf {
                        variance: 1.0,
                        lengthscales: iso.clone(),
                    },
                    "rbf-ard" => Kernel::Rbf {
                        variance: 1.0,
                        lengthscales: ard.clone(),
                    },
                    "matern32" => Kernel::Matern32 {
                        variance: 1.0,
                        lengthscales: ard.clone(),
                    },
                    "matern52" => Kernel::Matern52 {
                        variance: 1.0,
                        lengthscales: ard.clone(),
                    },
                    "matern32-iso" => Kernel::Matern32 {
                        variance: 1.0,
                        lengthscales: iso.clone(),
                    },
                    "matern52-iso" => Kernel::Matern52 {
                        variance: 1.0,
                        lengthscales: iso.clone(),
                    },
                    "linear" => Kernel::Linear {
                        variances: vec![0.1; input_dim],
                    },
                    "white" => Kernel::White { variance: 0.01 },
                    other => {
                        return Err(GpError::Invalid(format!(
                            "unknown kernel {other:?} in {spec:?} (known: rbf, rbf-ard, \
                             matern32, matern52, matern32-iso, matern52-iso, linear, white; \
                             combine with + and *)"
                        )))
                    }
                };
                factors.push(k);
            }
            terms.push(if factors.len() == 1 {
                factors.remove(0)
            } else {
                Kernel::Product { kernels: factors }
            });
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Kernel::Sum { kernels: terms }
        })
    }

    /// The largest signal variance σ² among the RBF and Matern terms (`None` without one): a
    /// value near 0 after training means the smooth part collapsed and only the rest (a
    /// linear kernel or mean, the noise) is left.
    pub fn stationary_variance(&self) -> Option<f64> {
        match self {
            Kernel::Rbf { variance, .. }
            | Kernel::Matern32 { variance, .. }
            | Kernel::Matern52 { variance, .. } => Some(*variance),
            Kernel::Linear { .. } | Kernel::White { .. } => None,
            Kernel::Sum { kernels } | Kernel::Product { kernels } => kernels
                .iter()
                .filter_map(Kernel::stationary_variance)
                .reduce(f64::max),
        }
    }

    /// Checks every hyperparameter is positive and finite and every per-input vector has 1 or
    /// `input_dim` entries (the parameter file is validated with this).
    pub fn validate(&self, input_dim: usize) -> Result<(), GpError> {
        match self {
            Kernel::Rbf {
                variance,
                lengthscales,
            }
            | Kernel::Matern32 {
                variance,
                lengthscales,
            }
            | Kernel::Matern52 {
                variance,
                lengthscales,
            } => {
                check_positive("variance", &[*variance], input_dim)?;
                check_positive("lengthscales", lengthscales, input_dim)
            }
            Kernel::Linear { variances } => check_positive("variances", variances, input_dim),
            Kernel::White { variance } => check_positive("variance", &[*variance], input_dim),
            Kernel::Sum { kernels } | Kernel::Product { kernels } => {
                if kernels.is_empty() {
                    return Err(GpError::Invalid("a sum or product needs a kernel".into()));
                }
                kernels.iter().try_for_each(|k| k.validate(input_dim))
            }
        }
    }

    /// Multiplies every hyperparameter (variances and lengthscales of every term, depth first)
    /// by `2^(spread·u)` with `u` drawn uniformly from `[-1, 1)` by `rng`: the random start of
    /// a training restart, spread evenly on the log scale the optimiser effectively works on.
    pub fn perturb(&mut self, rng: &mut crate::prng::Rng, spread: f64) {
        self.visit_mut(&mut |values: &mut [f64]| {
            for v in values.iter_mut() {
                *v *= (spread * (2.0 * rng.next_f64() - 1.0)).exp2();
            }
        });
    }

    /// The hyperparameters as free reals (inverse softplus), in a fixed depth-first order.
    pub fn unconstrained(&self) -> Vec<f64> {
        let mut out = Vec::new();
        self.visit(&mut |values: &mut Vec<f64>| {
            out.extend(values.iter().map(|&v| inverse_softplus(v)));
        });
        out
    }

    /// Sets the hyperparameters from free reals in the order of [`Kernel::unconstrained`];
    /// returns how many were consumed.
    pub fn set_unconstrained(&mut self, raw: &[f64]) -> usize {
        let mut used = 0;
        self.visit_mut(&mut |values: &mut [f64]| {
            for v in values.iter_mut() {
                *v = softplus(raw[used]);
                used += 1;
            }
        });
        used
    }

    fn visit(&self, f: &mut impl FnMut(&mut Vec<f64>)) {
        let mut copy = self.clone();
        copy.visit_mut(&mut |values: &mut [f64]| f(&mut values.to_vec()));
    }

    fn visit_mut(&mut self, f: &mut impl FnMut(&mut [f64])) {
        match self {
            Kernel::Rbf {
                variance,
                lengthscales,
            }
            | Kernel::Matern32 {
                variance,
                lengthscales,
            }
            | Kernel::Matern52 {
                variance,
                lengthscales,
            } => {
                f(core::slice::from_mut(variance));
                f(lengthscales);
            }
            Kernel::Linear { variances } => f(variances),
            Kernel::White { variance } => f(core::slice::from_mut(variance)),
            Kernel::Sum { kernels } | Kernel::Product { kernels } => {
                kernels.iter_mut().for_each(|k| k.visit_mut(f))
            }
        }
    }

    /// Records the hyperparameters on `tape` as leaves holding their free values (returned in
    /// the order of [`Kernel::unconstrained`], one leaf per group) and the positive values
    /// derived from them.
    pub fn on_tape(&self, tape: &mut Tape, leaves: &mut Vec<Var>) -> TapeKernel {
        let mut positive = |tape: &mut Tape, values: &[f64]| {
            let raw = Matrix::new(
                1,
                values.len(),
                values.iter().map(|&v| inverse_softplus(v)).collect(),
            );
            let leaf = tape.leaf(raw);
            leaves.push(leaf);
            ops::softplus_op(tape, leaf)
        };
        self.on_tape_with(tape, &mut positive)
    }

    fn on_tape_with(
        &self,
        tape: &mut Tape,
        positive: &mut impl FnMut(&mut Tape, &[f64]) -> Var,
    ) -> TapeKernel {
        let stationary = |tape: &mut Tape,
                          positive: &mut dyn FnMut(&mut Tape, &[f64]) -> Var,
                          profile,
                          variance: f64,
                          lengthscales: &[f64]| {
            let variance = positive(tape, &[variance]);
            let ls = positive(tape, lengthscales);
            let inverse_lengthscales = ops::recip(tape, ls);
            TapeKernel::Stationary {
                profile,
                variance,
                inverse_lengthscales,
            }
        };
        match self {
            Kernel::Rbf {
                variance,
                lengthscales,
            } => stationary(
                tape,
                positive,
                Pointwise::RbfProfile,
                *variance,
                lengthscales,
            ),
            Kernel::Matern32 {
                variance,
                lengthscales,
            } => stationary(
                tape,
                positive,
                Pointwise::Matern32Profile,
                *variance,
                lengthscales,
            ),
            Kernel::Matern52 {
                variance,
                lengthscales,
            } => stationary(
                tape,
                positive,
                Pointwise::Matern52Profile,
                *variance,
                lengthscales,
            ),
            Kernel::Linear { variances } => TapeKernel::Linear {
                variances: positive(tape, variances),
            },
            Kernel::White { variance } => TapeKernel::White {
                variance: positive(tape, &[*variance]),
            },
            Kernel::Sum { kernels } => TapeKernel::Sum(
                kernels
                    .iter()
                    .map(|k| k.on_tape_with(tape, positive))
                    .collect(),
            ),
            Kernel::Product { kernels } => TapeKernel::Product(
                kernels
                    .iter()
                    .map(|k| k.on_tape_with(tape, positive))
                    .collect(),
            ),
        }
    }

    /// Cross-covariance `K(x, z)` (rows(x) x rows(z)) between two different sets of points.
    pub fn cross(&self, x: &Matrix, z: &Matrix) -> Matrix {
        self.eval(x, z, false)
    }

    /// Covariance `K(x, x)` of a set with itself (includes white noise on the diagonal).
    pub fn symmetric(&self, x: &Matrix) -> Matrix {
        self.eval(x, x, true)
    }

    fn eval(&self, x: &Matrix, z: &Matrix, same: bool) -> Matrix {
        use super::linalg::MatrixExt;
        let scale_rows = |m: &Matrix, ls: &[f64]| {
            let mut out = m.clone();
            for r in 0..m.rows {
                for c in 0..m.cols {
                    out.data[r * m.cols + c] /= if ls.len() == 1 { ls[0] } else { ls[c] };
                }
            }
            out
        };
        match self {
            Kernel::Rbf {
                variance,
                lengthscales,
            }
            | Kernel::Matern32 {
                variance,
                lengthscales,
            }
            | Kernel::Matern52 {
                variance,
                lengthscales,
            } => {
                let profile = self.profile();
                let d = ops::squared_distances(
                    &scale_rows(x, lengthscales),
                    &scale_rows(z, lengthscales),
                );
                d.mapped(|v| variance * profile.value(v))
            }
            Kernel::Linear { variances } => {
                let mut xv = x.clone();
                for r in 0..x.rows {
                    for c in 0..x.cols {
                        xv.data[r * x.cols + c] *= if variances.len() == 1 {
                            variances[0]
                        } else {
                            variances[c]
                        };
                    }
                }
                xv.matmul(&z.transpose())
            }
            Kernel::White { variance } => {
                let mut out = Matrix::zeros(x.rows, z.rows);
                if same {
                    for i in 0..x.rows {
                        out.data[i * z.rows + i] = *variance;
                    }
                }
                out
            }
            Kernel::Sum { kernels } => kernels
                .iter()
                .map(|k| k.eval(x, z, same))
                .reduce(|a, b| a.zipped(&b, |p, q| p + q))
                .unwrap_or_else(|| Matrix::zeros(x.rows, z.rows)),
            Kernel::Product { kernels } => kernels
                .iter()
                .map(|k| k.eval(x, z, same))
                .reduce(|a, b| a.zipped(&b, |p, q| p * q))
                .unwrap_or_else(|| Matrix::zeros(x.rows, z.rows)),
        }
    }

    /// The prior variance `k(x, x)` of every row of `x`.
    pub fn diagonal(&self, x: &Matrix) -> Vec<f64> {
        match self {
            Kernel::Rbf { variance, .. }
            | Kernel::Matern32 { variance, .. }
            | Kernel::Matern52 { variance, .. }
            | Kernel::White { variance } => vec![*variance; x.rows],
            Kernel::Linear { variances } => (0..x.rows)
                .map(|r| {
                    x.row(r)
                        .iter()
                        .enumerate()
                        .map(|(c, v)| {
                            v * v
                                * if variances.len() == 1 {
                                    variances[0]
                                } else {
                                    variances[c]
                                }
                        })
                        .sum()
                })
                .collect(),
            Kernel::Sum { kernels } => kernels.iter().fold(vec![0.0; x.rows], |acc, k| {
                acc.iter().zip(k.diagonal(x)).map(|(a, b)| a + b).collect()
            }),
            Kernel::Product { kernels } => kernels.iter().fold(vec![1.0; x.rows], |acc, k| {
                acc.iter().zip(k.diagonal(x)).map(|(a, b)| a * b).collect()
            }),
        }
    }

    fn profile(&self) -> Pointwise {
        match self {
            Kernel::Matern32 { .. } => Pointwise::Matern32Profile,
            Kernel::Matern52 { .. } => Pointwise::Matern52Profile,
            _ => Pointwise::RbfProfile,
        }
    }
}

fn scale_inputs(tape: &mut Tape, x: Var, factors: Var) -> Var {
    if tape.value(factors).cols == 1 {
        ops::scale_by(tape, x, factors)
    } else {
        ops::mul_row(tape, x, factors)
    }
}

impl TapeKernel {
    /// `K(x, z)` on the tape, between two different sets of points.
    pub fn cross(&self, tape: &mut Tape, x: Var, z: Var) -> Var {
        self.eval(tape, x, z, false)
    }

    /// `K(x, x)` on the tape (includes white noise on the diagonal).
    pub fn symmetric(&self, tape: &mut Tape, x: Var) -> Var {
        self.eval(tape, x, x, true)
    }

    fn eval(&self, tape: &mut Tape, x: Var, z: Var, same: bool) -> Var {
        match self {
            TapeKernel::Stationary {
                profile,
                variance,
                inverse_lengthscales,
            } => {
                let xs = scale_inputs(tape, x, *inverse_lengthscales);
                let zs = if same {
                    xs
                } else {
                    scale_inputs(tape, z, *inverse_lengthscales)
                };
                let d = ops::squared_distance(tape, xs, zs);
                let k = ops::pointwise(tape, *profile, d);
                ops::scale_by(tape, k, *variance)
            }
            TapeKernel::Linear { variances } => {
                let xv = scale_inputs(tape, x, *variances);
                let zt = ops::transpose(tape, z);
                tape.matmul(xv, zt)
            }
            TapeKernel::White { variance } => {
                let (n, m) = (tape.value(x).rows, tape.value(z).rows);
                let mut base = Matrix::zeros(n, m);
                if same {
                    for i in 0..n {
                        base.data[i * m + i] = 1.0;
                    }
                }
                let base = ops::constant(tape, base);
                ops::scale_by(tape, base, *variance)
            }
            TapeKernel::Sum(parts) => {
                let mut acc = parts[0].eval(tape, x, z, same);
                for p in &parts[1..] {
                    let k = p.eval(tape, x, z, same);
                    acc = tape.add(acc, k);
                }
                acc
            }
            TapeKernel::Product(parts) => {
                let mut acc = parts[0].eval(tape, x, z, same);
                for p in &parts[1..] {
                    let k = p.eval(tape, x, z, same);
                    acc = tape.mul(acc, k);
                }
                acc
            }
        }
    }

    /// The prior variances `k(x_i, x_i)` on the tape, as an n x 1 column.
    pub fn diagonal(&self, tape: &mut Tape, x: Var) -> Var {
        let n = tape.value(x).rows;
        match self {
            TapeKernel::Stationary { variance, .. } | TapeKernel::White { variance } => {
                let ones = ops::constant(tape, Matrix::new(n, 1, vec![1.0; n]));
                ops::scale_by(tape, ones, *variance)
            }
            TapeKernel::Linear { variances } => {
                let sq = ops::square(tape, x);
                let sv = scale_inputs(tape, sq, *variances);
                let t = ops::transpose(tape, sv);
                ops::column_sums(tape, t)
            }
            TapeKernel::Sum(parts) => {
                let mut acc = parts[0].diagonal(tape, x);
                for p in &parts[1..] {
                    let k = p.diagonal(tape, x);
                    acc = tape.add(acc, k);
                }
                acc
            }
            TapeKernel::Product(parts) => {
                let mut acc = parts[0].diagonal(tape, x);
                for p in &parts[1..] {
                    let k = p.diagonal(tape, x);
                    acc = tape.mul(acc, k);
                }
                acc
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every hyperparameter moves, by a factor within `[2^-spread, 2^spread]`, and the same
    /// seed gives the same start.
    #[test]
    fn perturb_scales_every_hyperparameter_within_the_spread() {
        let k = Kernel::from_spec("rbf-ard+linear+white", 3).unwrap();
        let mut a = k.clone();
        a.perturb(&mut crate::prng::Rng::new(5), 1.0);
        let mut b = k.clone();
        b.perturb(&mut crate::prng::Rng::new(5), 1.0);
        assert_eq!(a, b);
        let before = k
            .unconstrained()
            .iter()
            .map(|&v| softplus(v))
            .collect::<Vec<_>>();
        let after = a
            .unconstrained()
            .iter()
            .map(|&v| softplus(v))
            .collect::<Vec<_>>();
        assert_eq!(before.len(), after.len());
        for (x, y) in before.iter().zip(&after) {
            let ratio = y / x;
            assert!(
                ratio != 1.0 && (0.5 - 1e-9..=2.0 + 1e-9).contains(&ratio),
                "{x} -> {y}"
            );
        }
    }

    #[test]
    fn stationary_variance_of_sums() {
        let k = Kernel::from_spec("rbf-ard+linear+matern52", 2).unwrap();
        assert_eq!(k.stationary_variance(), Some(1.0));
        let linear = Kernel::from_spec("linear+white", 2).unwrap();
        assert_eq!(linear.stationary_variance(), None);
        let sum = Kernel::Sum {
            kernels: vec![
                Kernel::Rbf {
                    variance: 0.5,
                    lengthscales: vec![1.0],
                },
                Kernel::Matern32 {
                    variance: 2.5,
                    lengthscales: vec![1.0],
                },
            ],
        };
        assert_eq!(sum.stationary_variance(), Some(2.5));
    }
    use crate::gp::linalg::tests::random;
    use crate::prng::Rng;
    use crate::tape::gradcheck::check_gradients;

    fn all_kernels(d: usize) -> Vec<Kernel> {
        [
            "rbf",
            "rbf-ard",
            "matern32",
            "matern52",
            "matern32-iso",
            "linear",
            "white",
            "rbf-ard+linear",
            "matern52*linear+white",
        ]
        .iter()
        .map(|s| {
            let mut k = Kernel::from_spec(s, d).unwrap();
            // Spread the values so every parameter matters differently.
            let raw: Vec<f64> = k
                .unconstrained()
                .iter()
                .enumerate()
                .map(|(i, v)| v + 0.1 * i as f64)
                .collect();
            k.set_unconstrained(&raw);
            k
        })
        .collect()
    }

    #[test]
    fn tape_and_plain_evaluations_agree() {
        let mut rng = Rng::new(21);
        let x = random(&mut rng, 5, 3);
        let z = random(&mut rng, 4, 3);
        for k in all_kernels(3) {
            k.validate(3).unwrap();
            let mut t = Tape::new();
            let mut leaves = Vec::new();
            let tk = k.on_tape(&mut t, &mut leaves);
            assert_eq!(
                leaves.iter().map(|&l| t.value(l).data.len()).sum::<usize>(),
                k.unconstrained().len()
            );
            let (vx, vz) = (t.leaf(x.clone()), t.leaf(z.clone()));
            let c = tk.cross(&mut t, vx, vz);
            let s = tk.symmetric(&mut t, vx);
            let d = tk.diagonal(&mut t, vx);
            let close = |a: &Matrix, b: &Matrix| {
                a.data
                    .iter()
                    .zip(&b.data)
                    .all(|(p, q)| (p - q).abs() < 1e-12)
            };
            assert!(close(t.value(c), &k.cross(&x, &z)), "{k:?}");
            assert!(close(t.value(s), &k.symmetric(&x)), "{k:?}");
            let plain_diag = Matrix::new(5, 1, k.diagonal(&x));
            assert!(close(t.value(d), &plain_diag), "{k:?}");
            let sym = k.symmetric(&x);
            assert!(close(
                &Matrix::new(5, 1, (0..5).map(|i| sym.get(i, i)).collect()),
                &plain_diag
            ));
        }
    }

    #[test]
    fn kernel_gradients_for_hyperparameters_and_inputs() {
        let mut rng = Rng::new(22);
        let x = random(&mut rng, 4, 2);
        let z = random(&mut rng, 3, 2);
        let w = random(&mut rng, 4, 3);
        let w2 = random(&mut rng, 4, 4);
        for k in all_kernels(2) {
            let raw = k.unconstrained();
            let inputs = vec![
                Matrix::new(1, raw.len(), raw.clone()),
                x.clone(),
                z.clone(),
                w.clone(),
                w2.clone(),
            ];
            check_gradients(&inputs, |t, v| {
                let mut kk = k.clone();
                kk.set_unconstrained(&t.value(v[0]).data.clone());
                // Re-record with the leaf's values, then tie the group leaves to v[0] by
                // adding (leaf − v[0] slice) = 0: simpler to rebuild from v[0] directly.
                let tk = tape_kernel_from_flat(t, &kk, v[0]);
                let c = tk.cross(t, v[1], v[2]);
                let c = t.mul(c, v[3]);
                let s = tk.symmetric(t, v[1]);
                let s = t.mul(s, v[4]);
                let d = tk.diagonal(t, v[1]);
                let d = ops::square(t, d);
                let a = t.sum(c);
                let b = t.sum(s);
                let e = t.sum(d);
                let ab = t.add(a, b);
                t.add(ab, e)
            });
        }
    }

    /// Records `kernel` with its free parameters read from consecutive entries of `flat`.
    fn tape_kernel_from_flat(t: &mut Tape, kernel: &Kernel, flat: Var) -> TapeKernel {
        let mut offset = 0;
        let mut positive = |t: &mut Tape, values: &[f64]| {
            let sel = select(t, flat, offset, values.len());
            offset += values.len();
            ops::softplus_op(t, sel)
        };
        kernel.on_tape_with(t, &mut positive)
    }

    /// `flat[offset..offset+len]` as a 1 x len row, via a constant selection matrix.
    fn select(t: &mut Tape, flat: Var, offset: usize, len: usize) -> Var {
        let n = t.value(flat).cols;
        let mut s = Matrix::zeros(n, len);
        for j in 0..len {
            s.data[(offset + j) * len + j] = 1.0;
        }
        let s = t.leaf(s);
        t.matmul(flat, s)
    }

    #[test]
    fn spec_parsing_and_validation() {
        for k in all_kernels(3) {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<Kernel>(&json).unwrap(), k, "{json}");
        }
        assert!(serde_json::from_str::<Kernel>(r#"{"type":"rbf","variance":1.0}"#).is_err());
        assert!(
            serde_json::from_str::<Kernel>(r#"{"type":"white","variance":1,"kernels":[]}"#)
                .is_err()
        );
        assert!(matches!(
            Kernel::from_spec("rbf-ard+linear", 3).unwrap(),
            Kernel::Sum { .. }
        ));
        assert!(matches!(
            Kernel::from_spec("rbf*linear", 3).unwrap(),
            Kernel::Product { .. }
        ));
        assert!(Kernel::from_spec("cosine", 3).is_err());
        let bad = Kernel::Rbf {
            variance: -1.0,
            lengthscales: vec![1.0],
        };
        assert!(bad.validate(2).is_err());
        let bad = Kernel::Rbf {
            variance: 1.0,
            lengthscales: vec![1.0, 2.0, 3.0],
        };
        assert!(bad.validate(2).is_err());
        let json = serde_json::to_string(&Kernel::from_spec("rbf-ard+white", 2).unwrap()).unwrap();
        assert!(
            json.contains(r#""type":"sum""#) && json.contains(r#""type":"rbf""#),
            "{json}"
        );
    }
}
