//! Sparse GP export: a GP parameter file (`train/GP_PARAMS.md`, from `mote train gp` or the
//! GPy/GPflow script) to a `.mote` blob with precomputed predictive terms, in f32 or fixed
//! point, and the accuracy report against the f64 host model.
//!
//! Everything that does not depend on the input is computed here in f64 (`runtime/FORMAT.md`,
//! "Sparse GP"): the Cholesky factor `L` of `K(Z, Z) + jitter·I`, the whitened mean
//! `m_w = L⁻¹ q_mu`, and a factor `R` of the whitened covariance `S_w = L⁻¹ S L⁻ᵀ = R Rᵀ`, so
//! the device computes the variance as `max(0, σ² − ‖a‖²) + ‖Rᵀ a‖²` with `a = L⁻¹ k*`.

use crate::blob::{assemble, metrics, ProvenanceInfo, PRODUCER};
use crate::ExportError;
use mote_runtime::gp::{arena_len, GP_TENSOR_QUANT, MAX_INPUT_SHIFT};
use mote_runtime::kernels::gp_layout::{factor_len, lower_index, padded, upper_index};
use mote_runtime::manifest::{
    GpKernel, GpMeanSpec, GpNumbers, GpSpec, Manifest, Metrics, ModelKind, Provenance, Section,
    TensorInfo,
};
use mote_runtime::GpModel;
use mote_train::data::Dataset;
use mote_train::gp::kernels::Kernel;
use mote_train::gp::likelihood::Likelihood;
use mote_train::gp::linalg::{cholesky, solve_lower, solve_lower_transpose};
use mote_train::gp::params::GpParams;
use mote_train::gp::posterior::SparseGp;
use mote_train::tape::Matrix;
use std::fmt;
use std::str::FromStr;

/// The number format of a GP blob, chosen for the target core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GpFormat {
    /// IEEE single precision: cores with an FPU (Cortex-M4F, M7, M33 with FPU, M55).
    #[default]
    F32,
    /// Integers in the hot loops: cores without an FPU (Cortex-M0+, RISC-V without F).
    Fixed,
}

impl GpFormat {
    /// The runtime's name for it.
    pub fn numbers(self) -> GpNumbers {
        match self {
            GpFormat::F32 => GpNumbers::F32,
            GpFormat::Fixed => GpNumbers::Fixed,
        }
    }
}

impl FromStr for GpFormat {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "f32" => Ok(GpFormat::F32),
            "fixed" => Ok(GpFormat::Fixed),
            other => Err(format!(
                "unknown GP number format `{other}` (known: f32, fixed)"
            )),
        }
    }
}

impl fmt::Display for GpFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            GpFormat::F32 => "f32",
            GpFormat::Fixed => "fixed",
        })
    }
}

/// The f64 terms a blob is made of.
struct Terms {
    kernel: GpKernel,
    variance: f64,
    /// Per input: `(offset, 1 / (scale · lengthscale))`.
    affine: Vec<(f64, f64)>,
    /// Inducing inputs divided by their lengthscales, `M` rows of `d`.
    inducing: Vec<Vec<f64>>,
    /// Lower Cholesky factor of `K(Z, Z) + jitter·I`.
    chol: Matrix,
    /// `L⁻¹ q_mu`.
    mean_w: Vec<f64>,
    /// Lower factor `R` of `L⁻¹ S L⁻ᵀ`.
    var_r: Matrix,
    noise: f64,
    target_mean: f64,
    target_scale: f64,
    /// The linear prior mean on raw inputs in target units: the constant, then the weights.
    linear_mean: Option<Vec<f64>>,
}

fn unsupported(message: impl Into<String>) -> ExportError {
    ExportError::Gp(message.into())
}

/// The one stationary kernel the device runs (a sum or product of one term is that term).
fn stationary(kernel: &Kernel, d: usize) -> Result<(GpKernel, f64, Vec<f64>), ExportError> {
    let (kind, variance, lengthscales) = match kernel {
        Kernel::Rbf {
            variance,
            lengthscales,
        } => (GpKernel::Rbf, variance, lengthscales),
        Kernel::Matern32 {
            variance,
            lengthscales,
        } => (GpKernel::Matern32, variance, lengthscales),
        Kernel::Matern52 {
            variance,
            lengthscales,
        } => (GpKernel::Matern52, variance, lengthscales),
        Kernel::Sum { kernels } | Kernel::Product { kernels } if kernels.len() == 1 => {
            return stationary(&kernels[0], d)
        }
        other => {
            return Err(unsupported(format!(
                "the device runtime runs one rbf, matern32 or matern52 kernel; this model's \
                 kernel is {}",
                kernel_name(other)
            )))
        }
    };
    let lengthscales = if lengthscales.len() == 1 {
        vec![lengthscales[0]; d]
    } else {
        lengthscales.clone()
    };
    Ok((kind, *variance, lengthscales))
}

fn kernel_name(kernel: &Kernel) -> String {
    let join =
        |parts: &[Kernel], op: &str| parts.iter().map(kernel_name).collect::<Vec<_>>().join(op);
    match kernel {
        Kernel::Rbf { .. } => "rbf".into(),
        Kernel::Matern32 { .. } => "matern32".into(),
        Kernel::Matern52 { .. } => "matern52".into(),
        Kernel::Linear { .. } => "linear".into(),
        Kernel::White { .. } => "white".into(),
        Kernel::Sum { kernels } => format!("({})", join(kernels, " + ")),
        Kernel::Product { kernels } => format!("({})", join(kernels, " * ")),
    }
}

/// Cholesky factor of a symmetric positive *semi*-definite matrix: a pivot below
/// `1e-12 · max(1, max diagonal)` (rounding, or a direction the posterior pins exactly) gives a
/// zero column, so `R Rᵀ` equals `a` up to that tolerance.
fn psd_cholesky(a: &Matrix) -> Matrix {
    let n = a.rows;
    let max_diag = (0..n).map(|i| a.get(i, i)).fold(1.0f64, f64::max);
    let tol = 1e-12 * max_diag;
    let mut r = Matrix::zeros(n, n);
    for j in 0..n {
        let s: f64 = (0..j).map(|k| r.get(j, k) * r.get(j, k)).sum();
        let pivot = a.get(j, j) - s;
        if pivot <= tol {
            continue;
        }
        let rjj = pivot.sqrt();
        r.data[j * n + j] = rjj;
        for i in j + 1..n {
            let s: f64 = (0..j).map(|k| r.get(i, k) * r.get(j, k)).sum();
            r.data[i * n + j] = (a.get(i, j) - s) / rjj;
        }
    }
    r
}

fn terms(params: &GpParams) -> Result<Terms, ExportError> {
    params
        .validate()
        .map_err(|e| unsupported(format!("invalid GP parameters: {e}")))?;
    let d = params.input_dim;
    let m = params.inducing_inputs.len();
    let (kernel, variance, lengthscales) = stationary(&params.kernel, d)?;
    let noise =
        match params.likelihood {
            Likelihood::Gaussian { variance } => variance,
            Likelihood::Bernoulli => return Err(unsupported(
                "the device runtime predicts Gaussian likelihoods only (this model is bernoulli)",
            )),
        };
    let z = Matrix::new(m, d, params.inducing_inputs.concat());
    let mut kzz = params.kernel.symmetric(&z);
    for i in 0..m {
        kzz.data[i * m + i] += params.jitter;
    }
    let chol =
        cholesky(&kzz).ok_or_else(|| unsupported("K(Z, Z) + jitter·I is not positive definite"))?;
    let mean_w = solve_lower(&chol, &Matrix::new(m, 1, params.q_mu.clone())).data;
    let cov = Matrix::new(m, m, params.q_cov.concat());
    let half = solve_lower(&chol, &cov);
    let cov_w = solve_lower(&chol, &half.transpose());
    let mut sym = Matrix::zeros(m, m);
    for i in 0..m {
        for j in 0..m {
            sym.data[i * m + j] = 0.5 * (cov_w.get(i, j) + cov_w.get(j, i));
        }
    }
    let input = &params.input_standardisation;
    let target = &params.target_standardisation;
    Ok(Terms {
        kernel,
        variance,
        affine: (0..d)
            .map(|k| (input.mean[k], 1.0 / (input.scale[k] * lengthscales[k])))
            .collect(),
        inducing: params
            .inducing_inputs
            .iter()
            .map(|row| row.iter().zip(&lengthscales).map(|(z, l)| z / l).collect())
            .collect(),
        chol,
        mean_w,
        var_r: psd_cholesky(&sym),
        noise,
        target_mean: target.mean[0],
        target_scale: target.scale[0],
        // t_scale·(b + Σ w_k (x_k − μ_k)/s_k) = c + Σ β_k x_k, folded in f64.
        linear_mean: params.mean_function.as_ref().map(|mean| {
            let ts = target.scale[0];
            let betas: Vec<f64> = mean
                .weights
                .iter()
                .zip(&input.scale)
                .map(|(w, s)| ts * w / s)
                .collect();
            let c = ts * mean.bias
                - betas
                    .iter()
                    .zip(&input.mean)
                    .map(|(b, m)| b * m)
                    .sum::<f64>();
            core::iter::once(c).chain(betas).collect()
        }),
    })
}

/// The linear-mean section of one output: `d + 1` f32 (zeros for a zero prior mean).
fn linear_mean_payload(t: &Terms) -> Vec<u8> {
    let values: Vec<f32> = match &t.linear_mean {
        Some(v) => v.iter().map(|&v| v as f32).collect(),
        None => vec![0.0; t.affine.len() + 1],
    };
    le_bytes(&values, f32::to_le_bytes)
}

/// The 2-norm condition number of `K = L Lᵀ`, by power iteration on `K` and on `K⁻¹` (through
/// the factor): what bounds how far f32 kernel values and factors can move the prediction
/// (roughly `cond · 6e-8` relative).
pub fn condition_number(params: &GpParams) -> Result<f64, ExportError> {
    let l = terms(params)?.chol;
    let m = l.rows;
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let power = |apply: &dyn Fn(&Matrix) -> Matrix| {
        let mut v = Matrix::new(m, 1, (0..m).map(|i| 1.0 + (i % 3) as f64).collect());
        let mut lambda = 0.0;
        for _ in 0..100 {
            let w = apply(&v);
            let n = norm(&w.data);
            if !(n > 0.0 && n.is_finite()) {
                break;
            }
            lambda = n / norm(&v.data);
            v = Matrix::new(m, 1, w.data.iter().map(|x| x / n).collect());
        }
        lambda
    };
    // K v = L (Lᵀ v); K⁻¹ v = L⁻ᵀ (L⁻¹ v).
    let largest = power(&|v: &Matrix| {
        let lt_v: Vec<f64> = (0..m)
            .map(|i| (i..m).map(|j| l.get(j, i) * v.data[j]).sum())
            .collect();
        Matrix::new(
            m,
            1,
            (0..m)
                .map(|i| (0..=i).map(|j| l.get(i, j) * lt_v[j]).sum())
                .collect(),
        )
    });
    let inverse = power(&|v: &Matrix| solve_lower_transpose(&l, &solve_lower(&l, v)));
    Ok(largest * inverse)
}

fn le_bytes<T: Copy, const N: usize>(values: &[T], to: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to(v)).collect()
}

/// The sections of a blob, in the order [`GpSpec`] lists them.
struct Payloads {
    numbers: GpNumbers,
    input_shift: u8,
    sections: Vec<Vec<u8>>,
}

fn f32_payloads(t: &Terms) -> Payloads {
    let m = t.inducing.len();
    let mp = padded(m);
    let len = factor_len(m).unwrap_or(0);
    let mut chol = vec![0.0f32; len];
    let mut upper = vec![0.0f32; len];
    let mut inv = vec![0.0f32; mp];
    let mut mean = vec![0.0f32; mp];
    for i in 0..m {
        for j in 0..i {
            chol[lower_index(i, j, false)] = t.chol.get(i, j) as f32;
        }
        for j in i..m {
            upper[upper_index(i, j, mp, false)] = t.var_r.get(j, i) as f32;
        }
        inv[i] = (1.0 / t.chol.get(i, i)) as f32;
        mean[i] = t.mean_w[i] as f32;
    }
    let affine: Vec<f32> = t
        .affine
        .iter()
        .map(|a| a.0 as f32)
        .chain(t.affine.iter().map(|a| a.1 as f32))
        .collect();
    let inducing: Vec<f32> = t.inducing.iter().flatten().map(|&v| v as f32).collect();
    let outputs = [
        t.noise as f32,
        t.target_mean as f32,
        t.target_scale as f32,
        1.0,
    ];
    let f = |v: &[f32]| le_bytes(v, f32::to_le_bytes);
    Payloads {
        numbers: GpNumbers::F32,
        input_shift: 0,
        sections: vec![
            f(&affine),
            f(&inducing),
            f(&chol),
            f(&inv),
            f(&mean),
            f(&upper),
            f(&outputs),
        ],
    }
}

fn q(value: f64, scale: f64, what: &str) -> Result<i16, ExportError> {
    let v = (value * scale).round();
    if (i16::MIN as f64..=i16::MAX as f64).contains(&v) {
        Ok(v as i16)
    } else {
        Err(unsupported(format!(
            "{what} {value} does not fit the fixed-point format (use --format f32)"
        )))
    }
}

/// Largest `σ/L_ii` a fixed-point blob accepts (diabetes, 32 inducing points: 30).
pub const MAX_FIXED_AMPLIFICATION: f64 = 64.0;

fn fixed_payloads(t: &Terms) -> Result<Payloads, ExportError> {
    if t.kernel != GpKernel::Rbf {
        return Err(unsupported(format!(
            "fixed point runs the rbf kernel only (this model's is {:?}); use --format f32",
            t.kernel
        )));
    }
    let m = t.inducing.len();
    let mp = padded(m);
    let len = factor_len(m).unwrap_or(0);
    let sigma = t.variance.sqrt();
    // Inputs in steps of 2^-shift lengthscales: the inducing inputs and 5 lengthscales around
    // them (beyond which the kernel is 0 in Q15) must fit in int16.
    let zmax = t
        .inducing
        .iter()
        .flatten()
        .fold(0.0f64, |a, v| a.max(v.abs()));
    let room = (i16::MAX as f64 / (zmax + 5.0)).log2().floor();
    let shift = room.clamp(0.0, MAX_INPUT_SHIFT as f64) as u8;
    let step = (1u32 << shift) as f64;
    let inducing = t
        .inducing
        .iter()
        .flatten()
        .map(|&v| q(v, step, "an inducing input"))
        .collect::<Result<Vec<i16>, _>>()?;
    let mut chol = vec![0i16; len];
    let mut upper = vec![0i16; len];
    let mut inv = vec![0i32; mp];
    let mut mean = vec![0i16; mp];
    let mean_max = t
        .mean_w
        .iter()
        .fold(0.0f64, |a, v| a.max((sigma * v).abs()));
    let mean_bits = if mean_max > 0.0 {
        (i16::MAX as f64 / mean_max)
            .log2()
            .floor()
            .clamp(-15.0, 40.0) as i32
    } else {
        0
    };
    let mean_step = 2f64.powi(mean_bits);
    // The Q15 kernel values' rounding reaches `ã` amplified by up to `σ/L_ii`: beyond this the
    // fixed-point mean drifts by more than a few hundredths of a predictive sd.
    let amplification = (0..m)
        .map(|i| sigma / t.chol.get(i, i))
        .fold(0.0f64, f64::max);
    if amplification > MAX_FIXED_AMPLIFICATION {
        return Err(unsupported(format!(
            "K(Z, Z) is too ill-conditioned for fixed point (max σ/L_ii = {amplification:.0}, \
             limit {MAX_FIXED_AMPLIFICATION}: kernel values in Q15 would lose the mean); use \
             --format f32, or retrain with more jitter or fewer, better spread inducing points"
        )));
    }
    for i in 0..m {
        for j in 0..i {
            chol[lower_index(i, j, true)] = q(t.chol.get(i, j) / sigma, 16384.0, "L/σ")?;
        }
        for j in i..m {
            upper[upper_index(i, j, mp, true)] =
                q(t.var_r.get(j, i), 16384.0, "a variance factor entry")?;
        }
        let r = (sigma / t.chol.get(i, i) * 65536.0).round();
        if !(1.0..=i32::MAX as f64).contains(&r) {
            return Err(unsupported(
                "K(Z, Z) is too ill-conditioned for fixed point (use --format f32 or more jitter)",
            ));
        }
        inv[i] = r as i32;
        mean[i] = q(sigma * t.mean_w[i], mean_step, "a mean weight")?;
    }
    let affine: Vec<f32> = t
        .affine
        .iter()
        .map(|a| a.0 as f32)
        .chain(t.affine.iter().map(|a| (a.1 * step) as f32))
        .collect();
    let outputs = [
        t.noise as f32,
        t.target_mean as f32,
        t.target_scale as f32,
        2f64.powi(-15 - mean_bits) as f32,
    ];
    Ok(Payloads {
        numbers: GpNumbers::Fixed,
        input_shift: shift,
        sections: vec![
            le_bytes(&affine, f32::to_le_bytes),
            le_bytes(&inducing, i16::to_le_bytes),
            le_bytes(&chol, i16::to_le_bytes),
            le_bytes(&inv, i32::to_le_bytes),
            le_bytes(&mean, i16::to_le_bytes),
            le_bytes(&upper, i16::to_le_bytes),
            le_bytes(&outputs, f32::to_le_bytes),
        ],
    })
}

/// Writes `params` as a GP blob in `format`; the result has passed [`GpModel::parse`].
pub fn build_gp(
    params: &GpParams,
    format: GpFormat,
    provenance: &ProvenanceInfo,
) -> Result<Vec<u8>, ExportError> {
    build_gp_outputs(std::slice::from_ref(params), format, provenance)
}

/// A blob with one output per parameter file: independent GPs that share the kernel, the
/// inducing inputs, the jitter and the input standardisation (so one kernel vector and one
/// solve serve them all), each with its own `q(u)`, noise and target standardisation.
pub fn build_gp_outputs(
    outputs: &[GpParams],
    format: GpFormat,
    provenance: &ProvenanceInfo,
) -> Result<Vec<u8>, ExportError> {
    let Some(params) = outputs.first() else {
        return Err(unsupported("a GP blob needs at least one output"));
    };
    let shared = |o: &GpParams| {
        o.input_dim == params.input_dim
            && o.kernel == params.kernel
            && o.inducing_inputs == params.inducing_inputs
            && o.jitter == params.jitter
            && o.input_standardisation == params.input_standardisation
    };
    if !outputs.iter().all(shared) {
        return Err(unsupported(
            "the outputs of one GP blob must share the kernel, the inducing inputs, the jitter \
             and the input standardisation",
        ));
    }
    let t = terms(params)?;
    let with_mean = outputs.iter().any(|o| o.mean_function.is_some());
    let mut payloads = match format {
        GpFormat::F32 => f32_payloads(&t),
        GpFormat::Fixed => fixed_payloads(&t)?,
    };
    if with_mean {
        payloads.sections.push(linear_mean_payload(&t));
    }
    for other in outputs.iter().skip(1) {
        let other = terms(other)?;
        let mut extra = match format {
            GpFormat::F32 => f32_payloads(&other),
            GpFormat::Fixed => fixed_payloads(&other)?,
        };
        if with_mean {
            extra.sections.push(linear_mean_payload(&other));
        }
        // Mean weights, variance factor, output affine and linear mean: one after another per
        // output.
        for (section, more) in payloads.sections.iter_mut().zip(extra.sections).skip(4) {
            section.extend_from_slice(&more);
        }
    }
    let d = params.input_dim as u32;
    let m = params.inducing_inputs.len() as u32;
    let arena = arena_len(payloads.numbers, d, m)
        .and_then(|a| u32::try_from(a).ok())
        .ok_or_else(|| unsupported("the model is too large for a blob"))?;
    let metric_list = metrics(provenance)?;
    let manifest = Manifest {
        kind: ModelKind::SparseGp,
        input: TensorInfo {
            len: d,
            quant: GP_TENSOR_QUANT,
        },
        input_transform: None,
        output: TensorInfo {
            len: outputs.len() as u32,
            quant: GP_TENSOR_QUANT,
        },
        arena_len: arena,
        provenance: Provenance {
            producer: PRODUCER,
            source: &provenance.source,
            data_hash: &provenance.data_hash,
            metrics: Metrics::new(&metric_list).ok_or(ExportError::TooManyMetrics)?,
        },
    };
    let sizes: Vec<u32> = payloads.sections.iter().map(|p| p.len() as u32).collect();
    let bytes = assemble(&payloads.sections, |offsets| {
        let section = |i: usize| Section {
            offset: offsets[i] as u32,
            len: sizes[i],
        };
        let spec = GpSpec {
            numbers: payloads.numbers,
            kernel: t.kernel,
            inducing: m,
            kernel_variance: t.variance as f32,
            input_shift: payloads.input_shift,
            input_affine: section(0),
            inducing_inputs: section(1),
            chol: section(2),
            chol_inv_diag: section(3),
            mean_weights: section(4),
            var_factor: section(5),
            output_affine: section(6),
        };
        let encoded = if with_mean {
            let mean = GpMeanSpec {
                linear_mean: section(7),
            };
            postcard::to_allocvec(&(&manifest, &spec, &mean))
        } else {
            postcard::to_allocvec(&(&manifest, &spec))
        };
        encoded.map_err(|e| ExportError::Encode(e.to_string()))
    })?;
    GpModel::parse(&bytes).map_err(ExportError::SelfCheck)?;
    Ok(bytes)
}

/// Predictive means and variances of `y` (noise included) of a GP blob on `rows`, through the
/// runtime.
pub fn predict_blob(
    blob: &[u8],
    rows: &[Vec<f32>],
) -> Result<Vec<(f64, f64)>, mote_runtime::Error> {
    let model = GpModel::parse(blob)?;
    let mut arena = vec![0u8; model.arena_len()];
    let (mut mean, mut var) = (
        vec![0.0f32; model.output_len()],
        vec![0.0f32; model.output_len()],
    );
    rows.iter()
        .map(|row| {
            model.run(row, &mut arena, &mut mean, &mut var)?;
            Ok((f64::from(mean[0]), f64::from(var[0])))
        })
        .collect()
}

/// RMSE, mean NLPD and 95%-interval coverage of Gaussian predictions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpScores {
    /// Root mean squared error of the mean.
    pub rmse: f64,
    /// Mean negative log predictive density (nats).
    pub nlpd: f64,
    /// Fraction of targets inside `mean ± 1.96·sd`.
    pub coverage: f64,
}

impl GpScores {
    /// Scores `(mean, variance)` predictions against `targets`.
    pub fn of(predictions: &[(f64, f64)], targets: &[f32]) -> GpScores {
        let mean: Vec<f64> = predictions.iter().map(|p| p.0).collect();
        let var: Vec<f64> = predictions.iter().map(|p| p.1).collect();
        let y: Vec<f64> = targets.iter().map(|&t| f64::from(t)).collect();
        let n = y.len().max(1) as f64;
        let rmse = (mean
            .iter()
            .zip(&y)
            .map(|(m, t)| (m - t) * (m - t))
            .sum::<f64>()
            / n)
            .sqrt();
        GpScores {
            rmse,
            nlpd: mote_train::metrics::gaussian_nlpd(&mean, &var, &y),
            coverage: mote_train::metrics::coverage_95(&mean, &var, &y),
        }
    }
}

/// How a GP blob compares with the f64 host model (and, for fixed point, with the f32 blob).
#[derive(Debug, Clone, PartialEq)]
pub struct GpReport {
    /// The blob's number format.
    pub format: GpFormat,
    /// Inputs `d`.
    pub inputs: usize,
    /// Inducing points `M`.
    pub inducing: usize,
    /// Bytes of the blob (flash).
    pub blob_bytes: usize,
    /// Bytes of scratch memory one prediction needs (RAM).
    pub arena_bytes: usize,
    /// Multiply-accumulates per prediction.
    pub macs: u64,
    /// Held-out rows compared (0 without data).
    pub rows: usize,
    /// The f64 host model on those rows.
    pub host: Option<GpScores>,
    /// The blob through the runtime.
    pub blob: Option<GpScores>,
    /// Largest `|blob − host| / |host|` of the predictive mean.
    pub max_rel_mean: f64,
    /// Largest `|blob − host| / host` of the predictive variance.
    pub max_rel_var: f64,
    /// Fixed point only: largest `|mean − f32 mean| / f32 sd`, and NLPD over the f32 blob's.
    pub versus_f32: Option<(f64, f64)>,
    /// Condition number of `K(Z, Z) + jitter·I` ([`condition_number`]).
    pub condition: f64,
}

/// Exports `params` in `format` and, given held-out rows, measures the blob against the f64
/// host model on them (and a fixed-point blob against the f32 blob). Records the measured
/// metrics in the blob's provenance.
pub fn export_gp(
    params: &GpParams,
    format: GpFormat,
    test: Option<&Dataset>,
    source: &str,
) -> Result<(Vec<u8>, GpReport), ExportError> {
    let mut provenance = ProvenanceInfo {
        source: source.to_string(),
        data_hash: params
            .meta
            .get("train_fingerprint")
            .cloned()
            .unwrap_or_default(),
        metrics: Vec::new(),
    };
    let blob = build_gp(params, format, &provenance)?;
    let (inputs, inducing, arena_bytes, macs) = {
        let model = GpModel::parse(&blob).map_err(ExportError::SelfCheck)?;
        (
            model.input_len(),
            model.inducing(),
            model.arena_len(),
            model.macs(),
        )
    };
    let mut report = GpReport {
        format,
        inputs,
        inducing,
        blob_bytes: blob.len(),
        arena_bytes,
        macs,
        rows: 0,
        host: None,
        blob: None,
        max_rel_mean: 0.0,
        max_rel_var: 0.0,
        versus_f32: None,
        condition: condition_number(params)?,
    };
    let Some(test) = test.filter(|t| !t.is_empty()) else {
        return Ok((blob, report));
    };
    let host_model = SparseGp::new(params.clone())
        .map_err(|e| unsupported(format!("the host model does not load: {e}")))?;
    let host = test
        .features
        .iter()
        .map(|row| {
            let row: Vec<f64> = row.iter().map(|&v| f64::from(v)).collect();
            host_model.predict(&row)
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unsupported(format!("host prediction failed: {e}")))?;
    let device = predict_blob(&blob, &test.features).map_err(ExportError::SelfCheck)?;
    for (h, b) in host.iter().zip(&device) {
        report.max_rel_mean = report
            .max_rel_mean
            .max((b.0 - h.0).abs() / h.0.abs().max(1e-300));
        report.max_rel_var = report.max_rel_var.max((b.1 - h.1).abs() / h.1.max(1e-300));
    }
    report.rows = test.len();
    let host_scores = GpScores::of(&host, &test.targets);
    let blob_scores = GpScores::of(&device, &test.targets);
    if format == GpFormat::Fixed {
        let reference = build_gp(params, GpFormat::F32, &provenance)?;
        let f32_preds = predict_blob(&reference, &test.features).map_err(ExportError::SelfCheck)?;
        let worst = device
            .iter()
            .zip(&f32_preds)
            .map(|(x, r)| (x.0 - r.0).abs() / r.1.sqrt())
            .fold(0.0f64, f64::max);
        let f32_nlpd = GpScores::of(&f32_preds, &test.targets).nlpd;
        report.versus_f32 = Some((worst, blob_scores.nlpd / f32_nlpd));
    }
    report.host = Some(host_scores);
    report.blob = Some(blob_scores);
    provenance.metrics = vec![
        ("host_rmse".into(), host_scores.rmse as f32),
        ("host_nlpd".into(), host_scores.nlpd as f32),
        (format!("{format}_rmse"), blob_scores.rmse as f32),
        (format!("{format}_nlpd"), blob_scores.nlpd as f32),
        (format!("{format}_coverage95"), blob_scores.coverage as f32),
    ];
    let blob = build_gp(params, format, &provenance)?;
    report.blob_bytes = blob.len();
    Ok((blob, report))
}

impl fmt::Display for GpReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sparse GP, {} inputs, {} inducing points, {} numbers",
            self.inputs, self.inducing, self.format
        )?;
        if let (Some(h), Some(b)) = (self.host, self.blob) {
            writeln!(f, "held-out rows     {}", self.rows)?;
            writeln!(f, "                  rmse      nlpd     coverage95")?;
            writeln!(
                f,
                "host f64          {:<9.4} {:<8.4} {:.4}",
                h.rmse, h.nlpd, h.coverage
            )?;
            writeln!(
                f,
                "blob {:<12} {:<9.4} {:<8.4} {:.4}",
                self.format, b.rmse, b.nlpd, b.coverage
            )?;
            writeln!(
                f,
                "max rel. error    mean {:.2e}  variance {:.2e} (blob vs host f64)",
                self.max_rel_mean, self.max_rel_var
            )?;
            if let Some((dmean, ratio)) = self.versus_f32 {
                writeln!(
                    f,
                    "vs the f32 blob   max |Δmean|/sd {dmean:.4}, NLPD ratio {ratio:.5}"
                )?;
            }
        }
        writeln!(f, "K(Z,Z) condition  {:.2e}", self.condition)?;
        if self.condition > 1e6 {
            writeln!(
                f,
                "note              K(Z,Z) is ill-conditioned: f32 rounding may be amplified up to \
                 {:.0e} relative (a worst-case bound; the measured error is above); more \
                 jitter, or fewer or better spread inducing points, make the model exportable \
                 more exactly",
                self.condition * 6e-8
            )?;
        }
        writeln!(f, "blob bytes        {}", self.blob_bytes)?;
        writeln!(f, "arena bytes       {}", self.arena_bytes)?;
        write!(f, "MACs/prediction   {}", self.macs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psd_cholesky_factors_semidefinite_matrices() {
        // Rank 1: [[1, 2], [2, 4]].
        let a = Matrix::new(2, 2, vec![1.0, 2.0, 2.0, 4.0]);
        let r = psd_cholesky(&a);
        assert_eq!(r.data, vec![1.0, 0.0, 2.0, 0.0]);
    }

    #[test]
    fn condition_number_of_a_diagonal_kernel_matrix() {
        // Far-apart inducing points: K ≈ σ²·I + jitter, condition ≈ 1.
        let mut params = crate::synthetic::random_gp(4, 1, 2);
        params.inducing_inputs = vec![vec![-300.0], vec![-100.0], vec![100.0], vec![300.0]];
        let c = condition_number(&params).unwrap();
        assert!((c - 1.0).abs() < 1e-6, "{c}");
    }

    #[test]
    fn formats_parse() {
        assert_eq!("fixed".parse::<GpFormat>(), Ok(GpFormat::Fixed));
        assert!("f16"
            .parse::<GpFormat>()
            .unwrap_err()
            .contains("f32, fixed"));
    }
}
