//! [`GpModel`]: a parsed, validated sparse GP blob, ready to predict mean and variance.
//!
//! The exporter precomputes everything that does not depend on the input (`FORMAT.md`,
//! "Sparse GP"); per input the runtime computes, for each output `p`:
//!
//! ```text
//! x'   = (x − offset) · factor                      standardised, in lengthscales
//! k_i  = σ² · profile(‖x' − z_i‖²)                  M kernel values
//! a    = L⁻¹ k                                       forward substitution
//! mean = (aᵀ m_w,p · mean_scale_p) · t_scale_p + t_mean_p [+ c_p + Σ_k β_p,k x_k]
//! var  = (max(0, σ² − ‖a‖²) + ‖U_p a‖² [+ noise_p]) · t_scale_p²
//! ```
//!
//! The variance is never negative: `‖U a‖²` is a sum of squares, and `σ² − ‖a‖²` is the
//! Nyström residual `k(x,x) − k*ᵀ K⁻¹ k*`, a Schur complement of the positive definite
//! `K([Z; x])`, so it is `>= 0` in exact arithmetic and only rounding can push the computed
//! value below 0; clamping it there changes it by no more than that rounding error.
//!
//! The bracketed linear prior mean is there when the blob has a [`GpMeanSpec`] trailer.
//!
//! f32 blobs compute this in single precision, fixed-point blobs in integers (see
//! [`crate::kernels::gp_fixed`]); both return f32 means and variances.

use crate::header::SECTION_ALIGN;
use crate::kernels::gp_layout::{factor_len, padded, upper_index};
use crate::kernels::{self, gp_f32, gp_fixed, Plain};
use crate::manifest::{GpKernel, GpMeanSpec, GpNumbers, GpSpec, Manifest, ModelKind, Section};
use crate::{Error, QuantParams};

/// Most inputs a GP blob may take.
pub const MAX_GP_INPUTS: u32 = 4096;
/// Most inducing points a GP blob may have.
pub const MAX_INDUCING: u32 = 2048;
/// Most outputs a GP blob may have.
pub const MAX_GP_OUTPUTS: u32 = 256;
/// Largest `input_shift` of a fixed-point blob.
pub const MAX_INPUT_SHIFT: u8 = 14;
/// The quantisation a GP blob records for its (real-valued) input and output: none.
pub const GP_TENSOR_QUANT: QuantParams = QuantParams {
    scale: 1.0,
    zero_point: 0,
};
/// f32 values per output in the output section.
pub const OUTPUT_AFFINE_LEN: u32 = 4;

/// A sparse GP blob that passed validation, borrowed from the blob bytes (read in place).
#[derive(Debug, Clone)]
pub struct GpModel<'a> {
    manifest: Manifest<'a>,
    spec: GpSpec,
    mean_spec: Option<GpMeanSpec>,
    params: Params<'a>,
    /// Per output `d + 1` f32 (constant, then weights) of the linear prior mean; empty without.
    linear_mean: &'a [f32],
    arena_len: usize,
}

/// The sections, viewed as numbers.
#[derive(Debug, Clone, Copy)]
enum Params<'a> {
    F32(Sections<'a, f32, f32>),
    Fixed(Sections<'a, i16, i32>),
}

#[derive(Debug, Clone, Copy)]
struct Sections<'a, T, I> {
    affine: &'a [f32],
    inducing: &'a [T],
    chol: &'a [T],
    inv_diag: &'a [I],
    mean: &'a [T],
    var: &'a [T],
    outputs: &'a [f32],
}

/// Per output: noise variance, target mean, target scale, mean scale.
#[derive(Debug, Clone, Copy)]
struct OutputAffine {
    noise: f32,
    target_mean: f32,
    target_scale: f32,
    mean_scale: f32,
}

impl OutputAffine {
    fn from(values: &[f32]) -> Option<OutputAffine> {
        let &[noise, target_mean, target_scale, mean_scale] = values.first_chunk::<4>()?;
        Some(OutputAffine {
            noise,
            target_mean,
            target_scale,
            mean_scale,
        })
    }

    fn valid(&self) -> bool {
        self.noise.is_finite()
            && self.noise >= 0.0
            && self.target_mean.is_finite()
            && self.target_scale.is_finite()
            && self.target_scale > 0.0
            && self.mean_scale.is_finite()
            && self.mean_scale > 0.0
    }

    /// Maps a standardised latent mean (before `mean_scale`) and variance to outputs.
    #[inline(always)]
    fn finish(&self, mean: f32, latent_var: f32, with_noise: bool) -> (f32, f32) {
        let var = if with_noise {
            latent_var + self.noise
        } else {
            latent_var
        };
        (
            mean * self.mean_scale * self.target_scale + self.target_mean,
            var * (self.target_scale * self.target_scale),
        )
    }
}

/// Bytes of scratch memory a GP blob needs: its `d` standardised inputs and `Mp` kernel
/// values (overwritten by the solve), plus 3 bytes of room to align them to 4 bytes. `None` on
/// overflow.
pub fn arena_len(numbers: GpNumbers, inputs: u32, inducing: u32) -> Option<usize> {
    let values = (inputs as usize).checked_add(padded(inducing as usize))?;
    match numbers {
        GpNumbers::F32 => values.checked_mul(4)?.checked_add(3),
        GpNumbers::Fixed => values.checked_mul(2)?.checked_add(3),
    }
}

impl<'a> GpModel<'a> {
    /// Parses and validates a sparse GP blob: header, CRC, manifest and [`GpSpec`], every
    /// section's bounds, alignment and length, every value (finite, in range), the arena size.
    /// The blob must start at a 4-byte aligned address (flash partitions and heap buffers do):
    /// its sections are read in place as numbers ([`Error::BlobMisaligned`] otherwise).
    ///
    /// After this succeeds, [`GpModel::run`] cannot fail except on wrongly sized arguments or
    /// non-finite inputs.
    pub fn parse(blob: &'a [u8]) -> Result<GpModel<'a>, Error> {
        let (header, manifest, rest) = crate::manifest::decode(blob)?;
        if manifest.kind != ModelKind::SparseGp {
            return Err(Error::ModelKindMismatch);
        }
        let (spec, rest) =
            postcard::take_from_bytes::<GpSpec>(rest).map_err(|_| Error::ManifestDecode)?;
        let mean_spec = if rest.is_empty() {
            None
        } else {
            let (mean_spec, rest) =
                postcard::take_from_bytes::<GpMeanSpec>(rest).map_err(|_| Error::ManifestDecode)?;
            if !rest.is_empty() {
                return Err(Error::ManifestDecode);
            }
            Some(mean_spec)
        };
        let sections = SectionCheck {
            blob,
            data_start: header.data_start(),
        };
        let params = validate(&manifest, &spec, &sections)?;
        let linear_mean = match mean_spec {
            None => &[][..],
            Some(m) => {
                let per_output = (manifest.input.len as usize)
                    .checked_add(1)
                    .ok_or(Error::BadDimension)?;
                let len = per_output
                    .checked_mul(manifest.output.len as usize)
                    .ok_or(Error::BadDimension)?;
                let values = sections.view::<f32>(m.linear_mean, len)?;
                all_finite(values)?;
                values
            }
        };
        let arena_len = arena_len(spec.numbers, manifest.input.len, spec.inducing)
            .ok_or(Error::BadDimension)?;
        if arena_len != manifest.arena_len as usize {
            return Err(Error::ArenaLenMismatch);
        }
        Ok(GpModel {
            manifest,
            spec,
            mean_spec,
            params,
            linear_mean,
            arena_len,
        })
    }

    /// The decoded manifest: sizes, provenance.
    pub fn manifest(&self) -> &Manifest<'a> {
        &self.manifest
    }

    /// The GP's precomputed terms: kernel, number format, sections.
    pub fn spec(&self) -> &GpSpec {
        &self.spec
    }

    /// The linear prior mean's section, if the blob has one ([`GpMeanSpec`]).
    pub fn mean_spec(&self) -> Option<&GpMeanSpec> {
        self.mean_spec.as_ref()
    }

    /// Number of inputs `d` (real values).
    pub fn input_len(&self) -> usize {
        self.manifest.input.len as usize
    }

    /// Number of outputs `P`; `run` writes one mean and one variance for each.
    pub fn output_len(&self) -> usize {
        self.manifest.output.len as usize
    }

    /// Number of inducing points `M`.
    pub fn inducing(&self) -> usize {
        self.spec.inducing as usize
    }

    /// Bytes of scratch memory [`GpModel::run`] needs.
    pub fn arena_len(&self) -> usize {
        self.arena_len
    }

    /// Nominal multiply-accumulates per prediction: distances `M·d`, the solve `M(M−1)/2`,
    /// and per output the mean `M` and the variance factor `M(M+1)/2`, plus `‖a‖²` (`M`) and
    /// the linear prior mean (`d` per output) if there is one.
    pub fn macs(&self) -> u64 {
        let (m, d, p) = (
            self.spec.inducing as u64,
            self.manifest.input.len as u64,
            self.manifest.output.len as u64,
        );
        let linear = if self.mean_spec.is_some() { p * d } else { 0 };
        m * d + m * (m - 1) / 2 + m + p * (m + m * (m + 1) / 2) + linear
    }

    /// Per input, the offset and the factor that map a raw feature to lengthscale units:
    /// `(x − offset) · factor`.
    pub fn input_affine(&self) -> impl Iterator<Item = (f32, f32)> + '_ {
        let affine = match self.params {
            Params::F32(s) => s.affine,
            Params::Fixed(s) => s.affine,
        };
        let step = 1.0 / (1u32 << self.spec.input_shift) as f32;
        let (offsets, factors) = affine
            .split_at_checked(self.input_len())
            .unwrap_or((affine, &[]));
        offsets
            .iter()
            .zip(factors)
            .map(move |(&o, &f)| (o, f * step))
    }

    /// Predicts `y` at the raw features `input`: writes each output's predictive mean and
    /// variance (latent variance plus noise), in the target's units.
    ///
    /// `arena` must hold at least [`GpModel::arena_len`] bytes; its contents do not matter.
    /// Non-finite inputs are refused ([`Error::InputNotFinite`]).
    pub fn run(
        &self,
        input: &[f32],
        arena: &mut [u8],
        mean: &mut [f32],
        variance: &mut [f32],
    ) -> Result<(), Error> {
        self.predict(input, arena, mean, variance, true)
    }

    /// [`GpModel::run`] for the latent function `f`: the variance without the noise.
    pub fn run_latent(
        &self,
        input: &[f32],
        arena: &mut [u8],
        mean: &mut [f32],
        variance: &mut [f32],
    ) -> Result<(), Error> {
        self.predict(input, arena, mean, variance, false)
    }

    fn predict(
        &self,
        input: &[f32],
        arena: &mut [u8],
        mean: &mut [f32],
        variance: &mut [f32],
        with_noise: bool,
    ) -> Result<(), Error> {
        if input.len() != self.input_len() {
            return Err(Error::InputLength);
        }
        if mean.len() != self.output_len() || variance.len() != self.output_len() {
            return Err(Error::OutputLength);
        }
        if input.iter().any(|x| !x.is_finite()) {
            return Err(Error::InputNotFinite);
        }
        let arena = arena
            .get_mut(..self.arena_len)
            .ok_or(Error::ArenaTooSmall)?;
        let (d, m, mp) = (self.input_len(), self.inducing(), padded(self.inducing()));
        let sigma2 = self.spec.kernel_variance;
        let outputs = mean.iter_mut().zip(variance.iter_mut());
        match self.params {
            Params::F32(s) => {
                let (xs, a) = scratch::<f32>(arena, d, mp)?;
                standardise(input, s.affine, xs, |z| z)?;
                let (k, pad) = a.split_at_mut_checked(m).ok_or(Error::ArenaTooSmall)?;
                gp_f32::kernel_values(self.spec.kernel, sigma2, xs, s.inducing, k);
                pad.fill(0.0);
                gp_f32::forward_substitute(s.chol, s.inv_diag, a);
                let a = &*a;
                let residual = (sigma2 - gp_f32::sum_squares(a)).max(0.0);
                let per_output = s
                    .mean
                    .chunks_exact(mp)
                    .zip(s.var.chunks_exact(self.factor_len()))
                    .zip(s.outputs.chunks_exact(OUTPUT_AFFINE_LEN as usize));
                for ((mean_out, var_out), ((w, u), affine)) in outputs.zip(per_output) {
                    let affine = OutputAffine::from(affine).ok_or(Error::SectionLengthMismatch)?;
                    let latent = residual + gp_f32::upper_sum_squares(u, a);
                    (*mean_out, *var_out) = affine.finish(gp_f32::dot(a, w), latent, with_noise);
                }
            }
            Params::Fixed(s) => {
                // The kernel values first, 4-byte aligned: the DSP loops read them in pairs.
                let skip = arena.as_ptr().align_offset(4);
                let arena = arena.get_mut(skip..).ok_or(Error::ArenaTooSmall)?;
                let (a, xs) = scratch::<i16>(arena, mp, d)?;
                // `as` saturates to the int16 range.
                standardise(input, s.affine, xs, |z| libm::roundf(z) as i16)?;
                let (k, pad) = a.split_at_mut_checked(m).ok_or(Error::ArenaTooSmall)?;
                gp_fixed::rbf_values_q15(xs, s.inducing, self.spec.input_shift as u32, k);
                pad.fill(0);
                gp_fixed::forward_substitute(s.chol, s.inv_diag, a);
                let a = &*a;
                let residual = ((1i64 << 30) - gp_fixed::sum_squares(a)).max(0);
                // Q30 relative to σ² → standardised units (a power of two: exact).
                let unit = sigma2 * (1.0 / (1u32 << 30) as f32);
                let per_output = s
                    .mean
                    .chunks_exact(mp)
                    .zip(s.var.chunks_exact(self.factor_len()))
                    .zip(s.outputs.chunks_exact(OUTPUT_AFFINE_LEN as usize));
                for ((mean_out, var_out), ((w, u), affine)) in outputs.zip(per_output) {
                    let affine = OutputAffine::from(affine).ok_or(Error::SectionLengthMismatch)?;
                    let latent_q30 = residual.saturating_add(gp_fixed::upper_sum_squares(u, a));
                    (*mean_out, *var_out) = affine.finish(
                        gp_fixed::dot(a, w) as f32,
                        latent_q30 as f32 * unit,
                        with_noise,
                    );
                }
            }
        }
        self.add_linear_mean(input, mean);
        Ok(())
    }

    /// Adds each output's linear prior mean `c + Σ_k β_k x_k` (in input order) to `mean`; no
    /// change without one.
    fn add_linear_mean(&self, input: &[f32], mean: &mut [f32]) {
        if self.linear_mean.is_empty() {
            return;
        }
        let Some(per_output) = self.input_len().checked_add(1) else {
            return;
        };
        for (out, row) in mean
            .iter_mut()
            .zip(self.linear_mean.chunks_exact(per_output))
        {
            if let Some((&c, weights)) = row.split_first() {
                let mut s = c;
                for (w, x) in weights.iter().zip(input) {
                    s += w * x;
                }
                *out += s;
            }
        }
    }

    fn factor_len(&self) -> usize {
        // Checked at parse, so this cannot overflow; 0 keeps `chunks_exact` total regardless.
        factor_len(self.inducing()).unwrap_or(0).max(1)
    }
}

/// Writes `store((x_i − offset_i) · factor_i)` for every input into `out`; `affine` holds the
/// `out.len()` offsets, then the factors.
fn standardise<T>(
    input: &[f32],
    affine: &[f32],
    out: &mut [T],
    store: impl Fn(f32) -> T,
) -> Result<(), Error> {
    let (offsets, factors) = affine
        .split_at_checked(out.len())
        .ok_or(Error::SectionLengthMismatch)?;
    for ((x, out), (o, f)) in input.iter().zip(out).zip(offsets.iter().zip(factors)) {
        *out = store((x - o) * f);
    }
    Ok(())
}

/// Splits the aligned part of `arena` into `d` inputs and `mp` kernel values.
fn scratch<T: Plain>(arena: &mut [u8], d: usize, mp: usize) -> Result<(&mut [T], &mut [T]), Error> {
    let values = kernels::bytes_as_mut::<T>(arena);
    let (xs, rest) = values.split_at_mut_checked(d).ok_or(Error::ArenaTooSmall)?;
    let a = rest.get_mut(..mp).ok_or(Error::ArenaTooSmall)?;
    Ok((xs, a))
}

struct SectionCheck<'b> {
    blob: &'b [u8],
    data_start: usize,
}

impl<'b> SectionCheck<'b> {
    /// Checks bounds, 16-byte alignment in the blob and the exact length `elements` of `T`, and
    /// views the section as `T`s in place.
    fn view<T: Plain>(&self, section: Section, elements: usize) -> Result<&'b [T], Error> {
        let start = section.offset as usize;
        let end = start
            .checked_add(section.len as usize)
            .ok_or(Error::SectionOutOfBounds)?;
        if start < self.data_start {
            return Err(Error::SectionOutOfBounds);
        }
        let bytes = self.blob.get(start..end).ok_or(Error::SectionOutOfBounds)?;
        if start % SECTION_ALIGN != 0 {
            return Err(Error::SectionMisaligned);
        }
        let expected = elements
            .checked_mul(core::mem::size_of::<T>())
            .ok_or(Error::BadDimension)?;
        if section.len as usize != expected {
            return Err(Error::SectionLengthMismatch);
        }
        kernels::bytes_as::<T>(bytes).ok_or(Error::BlobMisaligned)
    }
}

fn all_finite(values: &[f32]) -> Result<(), Error> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::NonFiniteValue)
    }
}

/// Checks the manifest and spec of a GP blob and every section; returns the typed views.
fn validate<'b>(
    manifest: &Manifest<'_>,
    spec: &GpSpec,
    sections: &SectionCheck<'b>,
) -> Result<Params<'b>, Error> {
    let (d, p, m) = (manifest.input.len, manifest.output.len, spec.inducing);
    if !(1..=MAX_GP_INPUTS).contains(&d)
        || !(1..=MAX_GP_OUTPUTS).contains(&p)
        || !(1..=MAX_INDUCING).contains(&m)
    {
        return Err(Error::BadDimension);
    }
    if manifest.input.quant != GP_TENSOR_QUANT || manifest.output.quant != GP_TENSOR_QUANT {
        return Err(Error::BadQuantParams);
    }
    if manifest.input_transform.is_some() {
        return Err(Error::BadGpParams);
    }
    if !(spec.kernel_variance.is_finite() && spec.kernel_variance > 0.0) {
        return Err(Error::BadGpParams);
    }
    match spec.numbers {
        GpNumbers::F32 if spec.input_shift != 0 => return Err(Error::BadGpParams),
        GpNumbers::Fixed if spec.input_shift > MAX_INPUT_SHIFT => return Err(Error::BadGpParams),
        GpNumbers::Fixed if spec.kernel != GpKernel::Rbf => return Err(Error::UnsupportedKernel),
        _ => {}
    }
    let (d, p, m) = (d as usize, p as usize, m as usize);
    let mp = padded(m);
    let factor = factor_len(m).ok_or(Error::BadDimension)?;
    let affine = sections.view::<f32>(spec.input_affine, 2 * d)?;
    all_finite(affine)?;
    if affine.get(d..).is_none_or(|f| f.iter().any(|&f| f <= 0.0)) {
        return Err(Error::BadGpParams);
    }
    let outputs = sections.view::<f32>(spec.output_affine, p * OUTPUT_AFFINE_LEN as usize)?;
    if outputs
        .chunks_exact(OUTPUT_AFFINE_LEN as usize)
        .any(|o| !OutputAffine::from(o).is_some_and(|o| o.valid()))
    {
        return Err(Error::BadGpParams);
    }
    let pairs = spec.numbers == GpNumbers::Fixed;
    // Padding rows of the variance factor must be zero, so that they add nothing.
    let padding_zero = |var: &dyn Fn(usize) -> bool| -> Result<(), Error> {
        for out in 0..p {
            for i in m..mp {
                for j in i..mp {
                    if !var(out * factor + upper_index(i, j, mp, pairs)) {
                        return Err(Error::BadGpParams);
                    }
                }
            }
        }
        Ok(())
    };
    let inv_ok = |i: usize, positive: bool, zero: bool| if i < m { positive } else { zero };
    match spec.numbers {
        GpNumbers::F32 => {
            let s = Sections {
                affine,
                inducing: sections.view::<f32>(spec.inducing_inputs, m * d)?,
                chol: sections.view::<f32>(spec.chol, factor)?,
                inv_diag: sections.view::<f32>(spec.chol_inv_diag, mp)?,
                mean: sections.view::<f32>(spec.mean_weights, p * mp)?,
                var: sections.view::<f32>(spec.var_factor, p * factor)?,
                outputs,
            };
            for values in [s.inducing, s.chol, s.inv_diag, s.mean, s.var] {
                all_finite(values)?;
            }
            if s.inv_diag
                .iter()
                .enumerate()
                .any(|(i, &v)| !inv_ok(i, v > 0.0, v == 0.0))
            {
                return Err(Error::BadGpParams);
            }
            padding_zero(&|at| s.var.get(at) == Some(&0.0))?;
            Ok(Params::F32(s))
        }
        GpNumbers::Fixed => {
            let s = Sections {
                affine,
                inducing: sections.view::<i16>(spec.inducing_inputs, m * d)?,
                chol: sections.view::<i16>(spec.chol, factor)?,
                inv_diag: sections.view::<i32>(spec.chol_inv_diag, mp)?,
                mean: sections.view::<i16>(spec.mean_weights, p * mp)?,
                var: sections.view::<i16>(spec.var_factor, p * factor)?,
                outputs,
            };
            if s.inv_diag
                .iter()
                .enumerate()
                .any(|(i, &v)| !inv_ok(i, v > 0, v == 0))
            {
                return Err(Error::BadGpParams);
            }
            padding_zero(&|at| s.var.get(at) == Some(&0))?;
            Ok(Params::Fixed(s))
        }
    }
}
