//! The sparse GP parameter file (`GP_PARAMS.md`): what `mote train gp` writes, what the GPy
//! and GPflow export script writes, and what the exporter will read.
//!
//! JSON, because every GP library can write it in a few lines of Python and a reader can
//! check it by eye. [`GpParams::from_json`] validates everything, so a [`SparseGp`] built from
//! it can predict without panicking.
//!
//! [`SparseGp`]: super::posterior::SparseGp

use super::kernels::Kernel;
use super::likelihood::Likelihood;
use super::standardise::Standardiser;
use super::GpError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The value of `format` in every parameter file.
pub const FORMAT: &str = "mote-gp";
/// The `format_version` this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// How the parameters were trained (informational: both are predicted the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Titsias' collapsed bound; `q(u)` is its optimum.
    Sgpr,
    /// Stochastic variational GP; `q(u)` was learnt.
    Svgp,
}

/// A sparse GP: kernel, inducing inputs, `q(u) = N(q_mu, q_cov)` over `u = f(Z)`, likelihood,
/// and the standardisation of inputs and target. Field meanings are in `GP_PARAMS.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpParams {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// How `q(u)` was obtained.
    pub model: ModelKind,
    /// Number of raw inputs per row.
    pub input_dim: usize,
    /// The covariance function, on standardised inputs.
    pub kernel: Kernel,
    /// Inducing inputs `Z`, M rows of `input_dim` standardised values.
    pub inducing_inputs: Vec<Vec<f64>>,
    /// Mean of `q(u)` (M values), `u = f(Z)` in standardised target units (not whitened).
    pub q_mu: Vec<f64>,
    /// Covariance of `q(u)` (M x M, symmetric).
    pub q_cov: Vec<Vec<f64>>,
    /// Added to the diagonal of `K(Z, Z)` before it is factorised (part of the model).
    pub jitter: f64,
    /// The observation model.
    pub likelihood: Likelihood,
    /// Input standardisation: `x_std = (x − mean) / scale`.
    pub input_standardisation: Standardiser,
    /// Target standardisation (one column): `y = y_std · scale + mean`.
    pub target_standardisation: Standardiser,
    /// A linear prior mean `m(x) = bias + Σ_k weights_k x_k` on standardised inputs, in
    /// standardised target units, added to the GP's mean (absent: zero mean). The GP then
    /// models only what the linear trend leaves, so a smooth kernel need not emulate the trend
    /// with a huge variance and lengthscales (an ill-conditioned `K(Z, Z)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_function: Option<LinearMean>,
    /// Free-form provenance (trainer, data fingerprint, metrics).
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
}

/// A linear mean function on standardised inputs (GPflow's `Linear` mean function, `A x + b`
/// with one output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearMean {
    /// One weight per standardised input.
    pub weights: Vec<f64>,
    /// The intercept, in standardised target units.
    pub bias: f64,
}

impl LinearMean {
    /// `bias + Σ_k weights_k x_k` at a standardised input.
    pub fn at(&self, x: &[f64]) -> f64 {
        self.bias + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
    }
}

fn finite(name: &str, values: &[f64]) -> Result<(), GpError> {
    match values.iter().find(|v| !v.is_finite()) {
        Some(v) => Err(GpError::Invalid(format!(
            "{name} holds {v}, not a finite number"
        ))),
        None => Ok(()),
    }
}

impl GpParams {
    /// Checks the format tag and version, every shape, and that every value is finite and in
    /// range. (Positive definiteness of `K(Z, Z) + jitter·I` is checked by `SparseGp::new`.)
    pub fn validate(&self) -> Result<(), GpError> {
        if self.format != FORMAT {
            return Err(GpError::Invalid(format!(
                "format is {:?}, expected {FORMAT:?}",
                self.format
            )));
        }
        if self.format_version != FORMAT_VERSION {
            return Err(GpError::UnsupportedVersion(self.format_version));
        }
        let d = self.input_dim;
        if d == 0 {
            return Err(GpError::Invalid("input_dim must be at least 1".into()));
        }
        self.kernel.validate(d)?;
        let m = self.inducing_inputs.len();
        if m == 0 {
            return Err(GpError::Invalid("inducing_inputs is empty".into()));
        }
        for (i, row) in self.inducing_inputs.iter().enumerate() {
            if row.len() != d {
                return Err(GpError::Invalid(format!(
                    "inducing_inputs[{i}] has {} values, input_dim is {d}",
                    row.len()
                )));
            }
            finite("inducing_inputs", row)?;
        }
        if self.q_mu.len() != m {
            return Err(GpError::Invalid(format!(
                "q_mu has {} values for {m} inducing inputs",
                self.q_mu.len()
            )));
        }
        finite("q_mu", &self.q_mu)?;
        if self.q_cov.len() != m || self.q_cov.iter().any(|r| r.len() != m) {
            return Err(GpError::Invalid(format!("q_cov must be {m} x {m}")));
        }
        for (i, row) in self.q_cov.iter().enumerate() {
            finite("q_cov", row)?;
            if row[i] < 0.0 {
                return Err(GpError::Invalid(format!("q_cov[{i}][{i}] is negative")));
            }
            for (j, v) in row.iter().enumerate() {
                let w = self.q_cov[j][i];
                if (v - w).abs() > 1e-8 * v.abs().max(w.abs()).max(1e-300) + 1e-14 {
                    return Err(GpError::Invalid(format!(
                        "q_cov is not symmetric at [{i}][{j}]"
                    )));
                }
            }
        }
        if !(self.jitter.is_finite() && self.jitter >= 0.0) {
            return Err(GpError::Invalid(format!(
                "jitter {} must be >= 0",
                self.jitter
            )));
        }
        if let Likelihood::Gaussian { variance } = self.likelihood {
            if !(variance.is_finite() && variance > 0.0) {
                return Err(GpError::Invalid(format!(
                    "likelihood variance {variance} must be positive"
                )));
            }
        }
        for (name, s, cols) in [
            ("input_standardisation", &self.input_standardisation, d),
            ("target_standardisation", &self.target_standardisation, 1),
        ] {
            if s.mean.len() != cols || s.scale.len() != cols {
                return Err(GpError::Invalid(format!(
                    "{name} must have {cols} mean and scale values"
                )));
            }
            finite(name, &s.mean)?;
            if s.scale.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                return Err(GpError::Invalid(format!("{name} scales must be positive")));
            }
        }
        if let Some(mean) = &self.mean_function {
            if mean.weights.len() != d {
                return Err(GpError::Invalid(format!(
                    "mean_function has {} weights, input_dim is {d}",
                    mean.weights.len()
                )));
            }
            finite("mean_function.weights", &mean.weights)?;
            finite("mean_function.bias", &[mean.bias])?;
        }
        Ok(())
    }

    /// Parses and validates a parameter file's text.
    pub fn from_json(text: &str) -> Result<GpParams, GpError> {
        let params: GpParams =
            serde_json::from_str(text).map_err(|e| GpError::Parse(e.to_string()))?;
        params.validate()?;
        Ok(params)
    }

    /// The file's text (pretty-printed JSON, fields in a fixed order).
    pub fn to_json(&self) -> String {
        // Serialising plain structs of numbers and strings cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Reads and validates a parameter file.
    pub fn load(path: &Path) -> Result<GpParams, GpError> {
        let text = std::fs::read_to_string(path).map_err(|e| GpError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        GpParams::from_json(&text)
    }

    /// Writes the parameter file.
    pub fn save(&self, path: &Path) -> Result<(), GpError> {
        std::fs::write(path, self.to_json()).map_err(|e| GpError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }
}
