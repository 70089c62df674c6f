//! The softmax kernel as it was first written, kept as the test oracle: a line-by-line reading of
//! LiteRT's `reference_ops::Softmax` on top of the gemmlowp primitives of `gemmlowp.rs` (generic
//! over the integer bits, 64-bit rounding shifts, the barrel shifter written out per bit). The
//! compact kernel in `softmax.rs` must produce exactly what this one produces, output for
//! output; `softmax.rs`'s differential tests check it, and `gemmlowp.rs`'s tests check these
//! primitives against gemmlowp's definitions and against libm.

use super::{ACCUMULATION_INTEGER_BITS, SCALED_DIFF_INTEGER_BITS};
use crate::fixed_point::multiply_by_quantized_multiplier;
use crate::kernels::gemmlowp::{
    exp_on_negative_values, reciprocal, rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
};
use crate::manifest::Softmax;

/// `exp(x - max)` in Q0.31 for one element, or `None` when the difference is below `diff_min`.
pub(super) fn exp_of(p: &Softmax, max: i8, x: i8) -> Option<i32> {
    let diff = i32::from(x) - i32::from(max);
    (diff >= p.diff_min).then(|| {
        let rescaled = multiply_by_quantized_multiplier(
            diff,
            p.input_beta_multiplier,
            p.input_beta_left_shift,
        );
        exp_on_negative_values::<SCALED_DIFF_INTEGER_BITS>(rescaled)
    })
}

/// The Q0.31 scale and the rounding exponent the outputs use for a Q12.19 sum of exps.
pub(super) fn scale_and_exponent(sum_of_exps: i32) -> (i32, u32) {
    let (shifted_scale, num_bits_over_unit) = reciprocal(sum_of_exps, ACCUMULATION_INTEGER_BITS);
    // LiteRT checks 0 <= exponent <= 31 and aborts otherwise (a sum of exps of 512 or more);
    // here larger exponents divide on in 64 bits and the outputs round towards -128.
    let exponent = num_bits_over_unit.wrapping_add(31 - 8).clamp(0, 63) as u32;
    (shifted_scale, exponent)
}

/// int8 softmax over the whole vector (`input` and `output` the same length).
pub(super) fn softmax(p: &Softmax, input: &[i8], output: &mut [i8]) {
    let max = input.iter().copied().max().unwrap_or(i8::MIN);
    let sum_of_exps = input
        .iter()
        .filter_map(|&x| exp_of(p, max, x))
        // Rescale<12>: Q0.31 to Q12.19.
        .map(|e| rounding_divide_by_pot(e, ACCUMULATION_INTEGER_BITS as u32))
        .fold(0i32, i32::wrapping_add);
    let (shifted_scale, exponent) = scale_and_exponent(sum_of_exps);
    for (y, &x) in output.iter_mut().zip(input) {
        *y = match exp_of(p, max, x) {
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
