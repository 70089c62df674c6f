//! Fixed parameters of the int8 LOGISTIC, TANH and SOFTMAX layers, computed exactly as LiteRT's
//! Prepare computes them for its reference kernels (`tflite/kernels/activations.cc`), so that
//! the runtime's kernels are bit-exact with LiteRT's `BUILTIN_REF` resolver.
//!
//! - LOGISTIC and TANH: LiteRT's int8 kernels (reference and generic optimised alike) look the
//!   output up in a 256-entry table that Prepare fills with `LUTPopulate`: for each int8 `v`,
//!   `x = input_scale · (v − input_zero_point)` in `f32`, `y = f(x)` in `f32` (`1 / (1 +
//!   expf(−x))` or `tanhf(x)`), then `clamp(trunc(round(y · (1 / output_scale)) + output_zp))`
//!   with `round` half away from zero. The same `f32` operations run here; `expf`/`tanhf` are the
//!   platform libm's, as in LiteRT (glibc on Linux, where the golden tests ran).
//! - SOFTMAX: `PreprocessSoftmaxScaling(beta, input_scale, 5)` in `f64`, i.e.
//!   `QuantizeMultiplierGreaterThanOne(min(beta · scale · 2^26, 2^30 − 1))` (the cap is the
//!   single-rounding build's), and `diff_min = −CalculateInputRadius(5, left_shift)`.
//!
//! Each function returns `Err` with the reason where LiteRT would refuse the parameters (or
//! abort, or overflow) and where the int8 quantisation spec fixes the output quantisation.

use crate::requant::quantize_multiplier;
use mote_runtime::manifest::{Softmax, MAX_DIM};
use mote_runtime::QuantParams;

/// A LOGISTIC or TANH layer before it is placed in a blob: its quantisation and the 256-entry
/// table LiteRT would build (the table goes into a tensor section, see
/// [`mote_runtime::manifest::Elementwise`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LookupTable {
    /// Elements in and out.
    pub len: u32,
    /// Quantisation of the input.
    pub input: QuantParams,
    /// Quantisation of the output.
    pub output: QuantParams,
    /// The output for every input value, indexed by the input's bits as `u8`.
    pub table: [i8; 256],
}

/// LiteRT's `kScaledDiffIntegerBits`: softmax differences are rescaled into Q5.26.
const SCALED_DIFF_INTEGER_BITS: i32 = 5;
/// Longest softmax whose Q12.19 sum of exps (each at most 2^19 raw) cannot overflow.
/// Output scale of int8 softmax.
const SOFTMAX_OUTPUT_SCALE: f32 = 1.0 / 256.0;
/// LiteRT's tolerance on it: `TF_LITE_ENSURE_NEAR(scale, 1.f / 256, 0.001f * 1.f / 256)`.
const SOFTMAX_OUTPUT_SCALE_TOLERANCE: f32 = 0.001 * (1.0 / 256.0);

/// Parameters of an int8 logistic layer of `len` elements: the LiteRT lookup table for this
/// input quantisation. The output must be quantised with scale 1/256 (LiteRT's Prepare checks
/// it) and zero point -128 (the int8 spec).
pub fn logistic(
    len: usize,
    input: QuantParams,
    output: QuantParams,
) -> Result<LookupTable, String> {
    check_input(input, "LOGISTIC")?;
    if output.scale != 1.0 / 256.0 || output.zero_point != -128 {
        return Err(format!(
            "LOGISTIC: int8 output must have scale 1/256 and zero point -128, got scale {} \
             and zero point {}",
            output.scale, output.zero_point
        ));
    }
    Ok(LookupTable {
        len: check_len(len, "LOGISTIC", MAX_DIM)?,
        input,
        output,
        table: lut(input, output, |x| 1.0 / (1.0 + (-x).exp())),
    })
}

/// Parameters of an int8 tanh layer of `len` elements: the LiteRT lookup table for this input
/// quantisation. The output must be quantised with scale 1/128 and zero point 0 (the int8 spec;
/// the converter always writes these).
pub fn tanh(len: usize, input: QuantParams, output: QuantParams) -> Result<LookupTable, String> {
    check_input(input, "TANH")?;
    if output.scale != 1.0 / 128.0 || output.zero_point != 0 {
        return Err(format!(
            "TANH: int8 output must have scale 1/128 and zero point 0, got scale {} and zero \
             point {}",
            output.scale, output.zero_point
        ));
    }
    Ok(LookupTable {
        len: check_len(len, "TANH", MAX_DIM)?,
        input,
        output,
        table: lut(input, output, f32::tanh),
    })
}

/// Parameters of an int8 softmax layer over `len` elements with LiteRT's `beta`. The output must
/// have zero point -128 and scale within 0.1 % of 1/256 (LiteRT's Prepare checks both); `beta ·
/// input_scale · 2^26` must exceed 1 (LiteRT aborts otherwise); `len` is at most 2^20 (past 4095
/// elements at the maximum, the Q12.19 sum of exps wraps, as in LiteRT).
pub fn softmax(
    len: usize,
    input: QuantParams,
    output: QuantParams,
    beta: f32,
) -> Result<Softmax, String> {
    check_input(input, "SOFTMAX")?;
    if output.zero_point != -128 {
        return Err(format!(
            "SOFTMAX: int8 output zero point must be -128, got {}",
            output.zero_point
        ));
    }
    // TF_LITE_ENSURE_NEAR(scale, 1.f / 256, 0.001f * 1.f / 256), in f32.
    let delta = if output.scale > SOFTMAX_OUTPUT_SCALE {
        output.scale - SOFTMAX_OUTPUT_SCALE
    } else {
        SOFTMAX_OUTPUT_SCALE - output.scale
    };
    // Written so that a NaN scale fails too.
    let near = delta <= SOFTMAX_OUTPUT_SCALE_TOLERANCE;
    if !near {
        return Err(format!(
            "SOFTMAX: int8 output scale must be 1/256 (within 0.1%), got {}",
            output.scale
        ));
    }
    let len = check_len(len, "SOFTMAX", MAX_DIM)?;

    // PreprocessSoftmaxScaling with TFLITE_SINGLE_ROUNDING.
    let max_real_multiplier = f64::from((1u32 << 30) - 1);
    let scaled = f64::from(beta)
        * f64::from(input.scale)
        * f64::from(1u32 << (31 - SCALED_DIFF_INTEGER_BITS));
    // std::min<double>(a, b) is `b < a ? b : a`: a NaN `a` stays NaN.
    let real = if max_real_multiplier < scaled {
        max_real_multiplier
    } else {
        scaled
    };
    // Written so that NaN fails too.
    let above_one = real > 1.0;
    if !above_one {
        return Err(format!(
            "SOFTMAX: beta · input_scale · 2^26 must exceed 1 (LiteRT's \
             QuantizeMultiplierGreaterThanOne aborts otherwise), got beta {beta} and input \
             scale {}",
            input.scale
        ));
    }
    let (multiplier, shift) = quantize_multiplier(real);
    if !(1..=30).contains(&shift) || multiplier < (1 << 30) {
        return Err(format!(
            "SOFTMAX: internal error, multiplier {multiplier} shift {shift} for {real}"
        ));
    }
    Ok(Softmax {
        len,
        input_beta_multiplier: multiplier,
        input_beta_left_shift: shift,
        diff_min: -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, shift),
        output,
    })
}

/// LiteRT's `CalculateInputRadius(input_integer_bits, input_left_shift, 31)`, in `f64` as
/// LiteRT computes it: `floor((2^bits − 1) · 2^(31 − bits) / 2^left_shift)`.
fn calculate_input_radius(input_integer_bits: i32, input_left_shift: i32) -> i32 {
    let max_input_rescaled = f64::from((1 << input_integer_bits) - 1)
        * (1i64 << (31 - input_integer_bits)) as f64
        / (1i64 << input_left_shift) as f64;
    max_input_rescaled.floor() as i32
}

fn check_input(input: QuantParams, op: &str) -> Result<(), String> {
    if !(input.scale.is_finite() && input.scale > 0.0) {
        return Err(format!(
            "{op}: input scale must be finite and positive, got {}",
            input.scale
        ));
    }
    if !(-128..=127).contains(&input.zero_point) {
        return Err(format!(
            "{op}: int8 input zero point must be in -128..=127, got {}",
            input.zero_point
        ));
    }
    Ok(())
}

fn check_len(len: usize, op: &str, max: u32) -> Result<u32, String> {
    match u32::try_from(len) {
        Ok(n) if n >= 1 && n <= max => Ok(n),
        _ => Err(format!("{op}: length must be in 1..={max}, got {len}")),
    }
}

/// LiteRT's `LUTPopulate<int8_t>`: the quantised `f` of every int8 input, indexed by the input
/// byte.
fn lut(input: QuantParams, output: QuantParams, f: impl Fn(f32) -> f32) -> [i8; 256] {
    let inverse_scale = 1.0f32 / output.scale;
    let mut table = [0i8; 256];
    for v in -128i32..=127 {
        let dequantized = input.scale * (v - input.zero_point) as f32;
        let transformed = f(dequantized);
        // TfLiteRound(float) is std::round: half away from zero, like f32::round.
        let rescaled = (transformed * inverse_scale).round();
        // static_cast<int32_t>(float) truncates; the values here are far inside i32.
        let quantized = (rescaled + output.zero_point as f32) as i32;
        table[usize::from(v as i8 as u8)] = quantized.clamp(-128, 127) as i8;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(scale: f32, zero_point: i32) -> QuantParams {
        QuantParams { scale, zero_point }
    }

    #[test]
    fn softmax_params_for_a_power_of_two_scale() {
        let p = softmax(10, q(1.0 / 16.0, 3), q(1.0 / 256.0, -128), 1.0).unwrap();
        assert_eq!(
            (p.input_beta_multiplier, p.input_beta_left_shift),
            (1 << 30, 23)
        );
        assert_eq!(p.diff_min, -248);
        // a huge beta caps the multiplier at 2^30 - 1
        let p = softmax(10, q(0.5, 0), q(1.0 / 256.0, -128), 1000.0).unwrap();
        assert_eq!(
            (p.input_beta_multiplier, p.input_beta_left_shift),
            (2147483646, 30)
        );
        assert_eq!(p.diff_min, -1);
    }

    #[test]
    fn softmax_refuses_what_litert_refuses() {
        let out = q(1.0 / 256.0, -128);
        assert!(softmax(10, q(0.1, 0), q(1.0 / 256.0, 0), 1.0).is_err());
        assert!(softmax(10, q(0.1, 0), q(1.0 / 250.0, -128), 1.0).is_err());
        assert!(softmax(10, q(0.1, 0), q(1.0 / 256.0 * 1.0009, -128), 1.0).is_ok());
        assert!(softmax(10, q(1e-9, 0), out, 1.0).is_err());
        assert!(softmax(10, q(0.1, 0), out, 0.0).is_err());
        assert!(softmax(10, q(0.1, 0), out, f32::NAN).is_err());
        assert!(softmax(0, q(0.1, 0), out, 1.0).is_err());
        assert!(softmax(4500, q(0.1, 0), out, 1.0).is_ok());
        assert!(softmax(MAX_DIM as usize + 1, q(0.1, 0), out, 1.0).is_err());
        assert!(softmax(10, q(0.1, 200), out, 1.0).is_err());
    }

    #[test]
    fn elementwise_refuses_other_output_quantisation() {
        assert!(logistic(4, q(0.1, 0), q(1.0 / 256.0, -128)).is_ok());
        assert!(logistic(4, q(0.1, 0), q(1.0 / 256.0, 0)).is_err());
        assert!(logistic(4, q(0.1, 0), q(1.0 / 128.0, -128)).is_err());
        assert!(tanh(4, q(0.1, 0), q(1.0 / 128.0, 0)).is_ok());
        assert!(tanh(4, q(0.1, 0), q(1.0 / 256.0, -128)).is_err());
        assert!(tanh(4, q(f32::NAN, 0), q(1.0 / 128.0, 0)).is_err());
        assert!(tanh(0, q(0.1, 0), q(1.0 / 128.0, 0)).is_err());
    }

    #[test]
    fn tables_are_monotone_and_centred() {
        let p = logistic(1, q(0.05, 0), q(1.0 / 256.0, -128)).unwrap();
        let at = |t: &[i8; 256], v: i8| t[usize::from(v as u8)];
        assert_eq!(at(&p.table, 0), 0); // sigmoid(0) = 0.5 = 128/256
        let p = tanh(1, q(0.05, 0), q(1.0 / 128.0, 0)).unwrap();
        assert_eq!(at(&p.table, 0), 0);
        for v in -128i8..127 {
            assert!(at(&p.table, v) <= at(&p.table, v + 1));
        }
    }
}
