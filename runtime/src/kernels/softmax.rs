//! int8 SOFTMAX, bit-exact with LiteRT's reference kernel (`reference_ops::Softmax`, which
//! LiteRT's `BUILTIN_REF` resolver runs for int8 in and out).
//!
//! For each element, the difference from the maximum is rescaled by `beta · input_scale` into
//! Q5.26 (one rounding: LiteRT's `MultiplyByQuantizedMultiplierGreaterThanOne` is the
//! single-rounding `MultiplyByQuantizedMultiplier` in the build LiteRT ships), `exp` of it is
//! computed with gemmlowp's fixed-point polynomial, the exps are summed in Q12.19, and each exp is
//! multiplied by the fixed-point reciprocal of the sum and rounded to the output scale 1/256,
//! zero point -128. Differences below `diff_min` contribute nothing and output -128.

use super::gemmlowp::{
    exp_on_negative_values, reciprocal, rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
};
use crate::fixed_point::multiply_by_quantized_multiplier;
use crate::manifest::{Softmax, MAX_DIM};
use crate::Error;

/// Integer bits of the rescaled differences (Q5.26), as LiteRT's `kScaledDiffIntegerBits`.
pub(crate) const SCALED_DIFF_INTEGER_BITS: u32 = 5;
/// Integer bits of the sum of exps (Q12.19), as LiteRT's `kAccumulationIntegerBits`.
const ACCUMULATION_INTEGER_BITS: i32 = 12;
/// Output scale of int8 softmax, and LiteRT's tolerance on it (`TF_LITE_ENSURE_NEAR`).
pub(crate) const OUTPUT_SCALE: f32 = 1.0 / 256.0;
/// Tolerance LiteRT's Prepare allows on the output scale.
pub(crate) const OUTPUT_SCALE_TOLERANCE: f32 = 0.001 * (1.0 / 256.0);
/// Output zero point of int8 softmax.
pub(crate) const OUTPUT_ZERO_POINT: i32 = -128;

/// LiteRT's `CalculateInputRadius(5, left_shift)` (31 total signed bits): the largest difference
/// whose rescaled value still fits Q5.26. Exact in integers because every factor is a power of
/// two times 31. `left_shift` is clamped to `0..=31`.
pub(crate) const fn input_radius(left_shift: i32) -> i32 {
    let shift = if left_shift < 0 {
        0
    } else if left_shift > 31 {
        31
    } else {
        left_shift
    };
    ((((1i64 << SCALED_DIFF_INTEGER_BITS) - 1) << (31 - SCALED_DIFF_INTEGER_BITS)) >> shift) as i32
}

/// int8 softmax over the whole vector (`input` and `output` the same length, `p` validated).
pub fn softmax(p: &Softmax, input: &[i8], output: &mut [i8]) {
    let max = input.iter().copied().max().unwrap_or(i8::MIN);
    // exp(x - max) in Q0.31, or None when the difference is below diff_min.
    let exp_of = |x: i8| -> Option<i32> {
        let diff = i32::from(x) - i32::from(max);
        (diff >= p.diff_min).then(|| {
            let rescaled = multiply_by_quantized_multiplier(
                diff,
                p.input_beta_multiplier,
                p.input_beta_left_shift,
            );
            exp_on_negative_values::<SCALED_DIFF_INTEGER_BITS>(rescaled)
        })
    };
    let sum_of_exps = input
        .iter()
        .filter_map(|&x| exp_of(x))
        // Rescale<12>: Q0.31 to Q12.19.
        .map(|e| rounding_divide_by_pot(e, ACCUMULATION_INTEGER_BITS as u32))
        .fold(0i32, i32::wrapping_add);
    let (shifted_scale, num_bits_over_unit) = reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS);
    // LiteRT checks 0 <= exponent <= 31 and aborts otherwise (a sum of exps of 512 or more);
    // here larger exponents divide on in 64 bits and the outputs round towards -128.
    let exponent = num_bits_over_unit.wrapping_add(31 - 8).clamp(0, 63) as u32;
    for (y, &x) in output.iter_mut().zip(input) {
        *y = match exp_of(x) {
            Some(e) => {
                let unsat = rounding_divide_by_pot(
                    saturating_rounding_doubling_high_mul(shifted_scale, e),
                    exponent,
                );
                unsat.wrapping_add(i32::from(i8::MIN)).clamp(-128, 127) as i8
            }
            None => i8::MIN,
        };
    }
}

/// Checks the parameters of a softmax layer: they must be exactly what LiteRT's Prepare computes
/// for some input scale and beta, so that the kernel's fixed-point ranges hold.
///
/// - `len` in `1..=MAX_DIM` ([`Error::BadDimension`]). Past 4095 elements at the maximum the
///   Q12.19 sum of exps wraps, as it does in LiteRT (which has no check either); the kernel stays
///   total because every sum wraps;
/// - `input_beta_multiplier` in `[2^30, 2^31)` and `input_beta_left_shift` in `1..=30` (LiteRT's
///   `QuantizeMultiplierGreaterThanOne` of a real multiplier in `(1, 2^30 - 1]`);
/// - `diff_min == -input_radius(input_beta_left_shift)`;
/// - output zero point -128 and scale within LiteRT's tolerance of 1/256
///   (all [`Error::BadQuantParams`]).
pub(crate) fn validate(p: &Softmax) -> Result<(), Error> {
    if p.len == 0 || p.len > MAX_DIM {
        return Err(Error::BadDimension);
    }
    if p.input_beta_multiplier < (1 << 30)
        || !(1..=30).contains(&p.input_beta_left_shift)
        || p.diff_min != -input_radius(p.input_beta_left_shift)
    {
        return Err(Error::BadQuantParams);
    }
    let scale_error = (p.output.scale - OUTPUT_SCALE).abs();
    // Written so that a NaN scale fails too.
    let scale_ok = scale_error <= OUTPUT_SCALE_TOLERANCE;
    if p.output.zero_point != OUTPUT_ZERO_POINT || !scale_ok {
        return Err(Error::BadQuantParams);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QuantParams;
    use proptest::prelude::*;

    /// Parameters for `beta · input_scale = 2^(shift - 27) · multiplier / 2^30`, roughly.
    fn params(len: u32, multiplier: i32, shift: i32) -> Softmax {
        Softmax {
            len,
            input_beta_multiplier: multiplier,
            input_beta_left_shift: shift,
            diff_min: -input_radius(shift),
            output: QuantParams {
                scale: OUTPUT_SCALE,
                zero_point: OUTPUT_ZERO_POINT,
            },
        }
    }

    #[test]
    fn radius_matches_litert_formula() {
        for shift in 0..=31 {
            let want = (31.0 * (1u64 << 26) as f64 / (1u64 << shift) as f64).floor() as i32;
            assert_eq!(input_radius(shift), want, "shift {shift}");
        }
    }

    #[test]
    fn equal_inputs_share_the_mass() {
        // input scale 1/16, beta 1: real 2^26/16 = 2^22 → multiplier 2^30, shift 23.
        let p = params(4, 1 << 30, 23);
        assert_eq!(validate(&p), Ok(()));
        let mut out = [0i8; 4];
        softmax(&p, &[5, 5, 5, 5], &mut out);
        assert_eq!(out, [-64; 4]); // 1/4 = 64/256
        let mut out = [0i8; 1];
        softmax(&params(1, 1 << 30, 23), &[-128], &mut out);
        assert_eq!(out, [127]); // 1.0 saturates to 255/256
    }

    #[test]
    fn far_below_the_maximum_is_zero() {
        let p = params(3, 1 << 30, 23);
        let mut out = [0i8; 3];
        softmax(&p, &[127, -128, 127], &mut out);
        assert_eq!(out, [0, -128, 0]);
    }

    #[test]
    fn validate_rejects_inconsistent_params() {
        let good = params(10, 1 << 30, 23);
        assert_eq!(validate(&good), Ok(()));
        let bad = |f: fn(&mut Softmax)| {
            let mut p = good;
            f(&mut p);
            validate(&p)
        };
        assert_eq!(bad(|p| p.len = 0), Err(Error::BadDimension));
        assert_eq!(bad(|p| p.len = MAX_DIM + 1), Err(Error::BadDimension));
        assert_eq!(
            bad(|p| p.input_beta_multiplier = (1 << 30) - 1),
            Err(Error::BadQuantParams)
        );
        assert_eq!(
            bad(|p| p.input_beta_multiplier = -1),
            Err(Error::BadQuantParams)
        );
        assert_eq!(
            bad(|p| p.input_beta_left_shift = 0),
            Err(Error::BadQuantParams)
        );
        assert_eq!(
            bad(|p| p.input_beta_left_shift = 31),
            Err(Error::BadQuantParams)
        );
        assert_eq!(bad(|p| p.diff_min = -255), Err(Error::BadQuantParams));
        assert_eq!(bad(|p| p.output.zero_point = 0), Err(Error::BadQuantParams));
        assert_eq!(
            bad(|p| p.output.scale = 1.0 / 128.0),
            Err(Error::BadQuantParams)
        );
        assert_eq!(
            bad(|p| p.output.scale = f32::NAN),
            Err(Error::BadQuantParams)
        );
    }

    proptest! {
        #[test]
        fn never_panics_within_validated_params(
            multiplier in (1i32 << 30)..=i32::MAX,
            shift in 1i32..=30,
            input in proptest::collection::vec(any::<i8>(), 1..64),
        ) {
            let p = params(input.len() as u32, multiplier, shift);
            prop_assert_eq!(validate(&p), Ok(()));
            let mut out = std::vec![0i8; input.len()];
            softmax(&p, &input, &mut out);
            // The outputs are probabilities: they sum to about 1 (256 steps), each step rounded.
            let total: i32 = out.iter().map(|&y| i32::from(y) + 128).sum();
            prop_assert!(total <= 256 + input.len() as i32, "total {}", total);
        }

        #[test]
        fn never_panics_on_any_params(
            multiplier in any::<i32>(),
            shift in any::<i32>(),
            diff_min in any::<i32>(),
            input in proptest::collection::vec(any::<i8>(), 0..16),
            out_len in 0usize..16,
        ) {
            let p = Softmax { diff_min, ..params(4, multiplier, shift) };
            let mut out = std::vec![0i8; out_len];
            softmax(&p, &input, &mut out);
        }
    }
}
