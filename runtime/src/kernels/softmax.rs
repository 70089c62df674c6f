//! int8 SOFTMAX, bit-exact with LiteRT's reference kernel (`reference_ops::Softmax`, which
//! LiteRT's `BUILTIN_REF` resolver runs for int8 in and out).
//!
//! For each element, the difference from the maximum is rescaled by `beta · input_scale` into
//! Q5.26 (one rounding: LiteRT's `MultiplyByQuantizedMultiplierGreaterThanOne` is the
//! single-rounding `MultiplyByQuantizedMultiplier` in the build LiteRT ships), `exp` of it is
//! computed with gemmlowp's fixed-point polynomial, the exps are summed in Q12.19, and each exp is
//! multiplied by the fixed-point reciprocal of the sum and rounded to the output scale 1/256,
//! zero point -128. Differences below `diff_min` contribute nothing and output -128.
//!
//! The kernel is written for flash (about 0.85 KiB on a Cortex-M4 instead of 1.9 KiB): see
//! [`softmax`]. The first, line-by-line transliteration of LiteRT and gemmlowp is kept as its
//! test oracle (`softmax_reference.rs` on `gemmlowp.rs`); the tests check the two equal on random
//! vectors and parameters and, exhaustively, the `exp` and reciprocal helpers.

use crate::manifest::{Softmax, MAX_DIM};
use crate::Error;

#[cfg(test)]
#[path = "softmax_reference.rs"]
mod reference;

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
///
/// Exactly the arithmetic of LiteRT's reference kernel (see the module docs), written for size:
/// the exps are computed twice (for the sum, then for the outputs) by one out-of-line function,
/// the barrel shifter of `exp` is a loop over a table, the doubling multiply and the
/// Newton-Raphson step are out of line, and the rounding shifts stay in 32 bits.
pub fn softmax(p: &Softmax, input: &[i8], output: &mut [i8]) {
    let mut max = i8::MIN;
    for &x in input {
        max = max.max(x);
        // An empty optimisation barrier (no instruction): without it the compiler unrolls this
        // loop four times plus a three-step tail, about 130 bytes of flash for a 16-byte loop
        // that runs once per inference. It changes no value.
        core::hint::black_box(());
    }
    // Rescale<12>: Q0.31 to Q12.19 (every exp is >= 0), summed with wrapping as in LiteRT.
    let sum_of_exps = input.iter().fold(0i32, |sum, &x| {
        sum.wrapping_add(rounding_divide_by_pot(
            exp_of(p, max, x),
            ACCUMULATION_INTEGER_BITS as u32,
        ))
    });
    let (scale, exponent) = scale_and_exponent(sum_of_exps);
    for (y, &x) in output.iter_mut().zip(input) {
        let scaled = rounding_doubling_high_mul(scale, exp_of(p, max, x));
        // LiteRT checks exponent <= 31 and aborts otherwise (a sum of exps of 512 or more); here
        // a larger exponent divides by 2^32 or more, which rounds every output to -128.
        let unsat = rounding_divide_by_pot(scaled, exponent);
        *y = unsat.wrapping_add(OUTPUT_ZERO_POINT).clamp(-128, 127) as i8;
    }
}

/// `exp(x - max)` in Q0.31, or 0 when the difference is below `diff_min` (which outputs -128
/// and adds nothing to the sum, as LiteRT's skipping the element does).
#[inline(never)]
fn exp_of(p: &Softmax, max: i8, x: i8) -> i32 {
    let diff = i32::from(x) - i32::from(max);
    if diff < p.diff_min {
        return 0;
    }
    // MultiplyByQuantizedMultiplier (one rounding, ties upwards) into Q5.26:
    // `(diff · multiplier + 2^(t-1)) >> t` with `t = 31 - shift` in `1..=30` (validated; clamped
    // so that no parameter can overflow a shift). The result fits 32 bits for validated
    // parameters (`diff >= diff_min` bounds it by 31 · 2^26), so only the 64-bit product's bits
    // `t..t+32` are needed: one multiply-accumulate and three shifts.
    let t = (31 - p.input_beta_left_shift.clamp(1, 30)) as u32;
    let product = i64::from(diff) * i64::from(p.input_beta_multiplier) + i64::from(1i32 << (t - 1));
    let rescaled = ((product as u32 >> t) | ((product >> 32) as u32) << (32 - t)) as i32;
    exp_on_negative_values(rescaled)
}

/// `exp(-2^k)` in Q0.31 for k = -2..=4: the barrel shifter's factors.
const EXP_OF_MINUS_POWERS_OF_TWO: [i32; 7] = [
    1_672_461_947,
    1_302_514_674,
    790_015_084,
    290_630_308,
    39_332_535,
    720_401,
    242,
];

/// `exp(a)` for `a <= 0` in Q5.26, result in Q0.31 (gemmlowp `exp_on_negative_values<5>`):
/// `a` is split into `-k/4 + r` with `r` in `[-1/4, 0)`; `exp(r)` is a fourth-order Taylor
/// expansion around -1/8, then multiplied by `exp(-2^j)` for every bit `j` set in `k/4`.
/// Equal to gemmlowp for every `i32` (a positive `a` wraps as gemmlowp's arithmetic does).
fn exp_on_negative_values(a: i32) -> i32 {
    const QUARTER: i32 = 1 << 24; // 1/4 in Q5.26
    const EXP_MINUS_ONE_EIGHTH: i32 = 1_895_147_668; // exp(-1/8) in Q0.31
    const ONE_THIRD: i32 = 715_827_883; // 1/3 in Q0.31
    if a == 0 {
        return i32::MAX; // 1.0 saturated
    }
    // r in [-1/4, 0), Q5.26; then in Q0.31 (a shift by 5 that cannot saturate: |r| <= 2^24),
    // plus 1/8.
    let r = (a & (QUARTER - 1)) - QUARTER;
    let x = (r << 5) + (1 << 28);
    let x2 = rounding_doubling_high_mul(x, x);
    let x3 = rounding_doubling_high_mul(x2, x);
    let x4 = rounding_doubling_high_mul(x2, x2);
    let x4_over_4 = rounding_divide_by_pot(x4, 2);
    let x4_over_24_plus_x3_over_6_plus_x2_over_2 = rounding_divide_by_pot(
        rounding_doubling_high_mul(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        1,
    );
    let mut result = EXP_MINUS_ONE_EIGHTH.wrapping_add(rounding_doubling_high_mul(
        EXP_MINUS_ONE_EIGHTH,
        x.wrapping_add(x4_over_24_plus_x3_over_6_plus_x2_over_2),
    ));
    // The multiple of 1/4, in quarters: bits 0..7 say which exp(-2^(j-2)) to multiply by, from
    // the lowest bit up (the order of gemmlowp's barrel shifter, which rounds at each step).
    // Looping over the set bits (rather than the seven factors) keeps the compiler from
    // unrolling the loop seven times.
    let mut quarters = ((r.wrapping_sub(a) as u32) >> 24) & 0x7f;
    while quarters != 0 {
        if let Some(&factor) = EXP_OF_MINUS_POWERS_OF_TWO.get(quarters.trailing_zeros() as usize) {
            result = rounding_doubling_high_mul(result, factor);
        }
        quarters &= quarters - 1;
    }
    result
}

/// LiteRT's `GetReciprocal` of the Q12.19 sum followed by its output exponent: returns
/// `(scale, exponent)` with `1/sum = scale / 2^(31 + exponent - 23)`, `scale` in Q0.31.
/// Equal to the reference for every `i32` sum, including the 0 and negative sums a wrapped
/// accumulation leaves.
fn scale_and_exponent(sum_of_exps: i32) -> (i32, u32) {
    let headroom_plus_one = (sum_of_exps as u32).leading_zeros();
    // A zero sum shifts by 32, i.e. (wrapping) by 0: 0 either way.
    let shifted = (sum_of_exps as u32).wrapping_shl(headroom_plus_one);
    let shifted_sum_minus_one = shifted.wrapping_sub(1 << 31) as i32;
    // num_bits_over_unit = 12 - headroom_plus_one, exponent = num_bits_over_unit + 31 - 8.
    let exponent = (ACCUMULATION_INTEGER_BITS as u32 + 23) - headroom_plus_one;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        exponent,
    )
}

/// `1 / (1 + a)` for `a` in `[0, 1)`, Q0.31 in and out, by three Newton-Raphson steps in Q2.29
/// (gemmlowp `one_over_one_plus_x_for_x_in_0_1`). Equal to gemmlowp for every `i32`.
fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    /// 48/17 in Q2.29.
    const FORTY_EIGHT_OVER_17: i32 = 1_515_870_810;
    /// -32/17 in Q2.29.
    const MINUS_32_OVER_17: i32 = -1_010_580_540;
    let half_denominator = half_denominator(a);
    let mut x = FORTY_EIGHT_OVER_17.wrapping_add(rounding_doubling_high_mul(
        half_denominator,
        MINUS_32_OVER_17,
    ));
    for _ in 0..3 {
        x = newton_raphson_step(half_denominator, x);
    }
    // x/2 in Q2 is x in Q1; to Q0 is a saturating left shift of 1.
    x.saturating_add(x)
}

/// `(1 + a) / 2` in Q0.31 (gemmlowp `RoundingHalfSum(a, 1.0)`): `(a + 2^31 - 1) / 2` rounded
/// half away from zero, which for every `a` but `i32::MIN` (whose sum, -1, rounds to -1) is
/// `floor(a / 2) + 2^30`. Always `>= -1`.
fn half_denominator(a: i32) -> i32 {
    (a >> 1) + (1 << 30) - i32::from(a == i32::MIN)
}

/// One Newton-Raphson step of `x -> 1 / d` for `d = 2 · half_denominator`, Q2.29 in and out.
/// Out of line: its three unrolled copies would cost more flash than three calls.
#[inline(never)]
fn newton_raphson_step(half_denominator: i32, x: i32) -> i32 {
    const ONE: i32 = 1 << 29; // Q2.29
    let half_denominator_times_x = rounding_doubling_high_mul(half_denominator, x);
    let one_minus_half_denominator_times_x = ONE.wrapping_sub(half_denominator_times_x);
    let product = rounding_doubling_high_mul(x, one_minus_half_denominator_times_x);
    // Q2 · Q2 = Q4, rescaled to Q2 by a saturating left shift of 2.
    let doubled = product.saturating_add(product);
    x.wrapping_add(doubled.saturating_add(doubled))
}

/// `round(a · b / 2^31)`, ties upwards: gemmlowp's `SaturatingRoundingDoublingHighMul` for
/// every pair but `(MIN, MIN)` (which it saturates to `MAX` and this wraps to `MIN`). Softmax
/// never multiplies that pair: `exp`'s operands are bounded Taylor terms and positive constants,
/// the output stage multiplies by an exp (`>= 0`), and in the reciprocal `half_denominator >=
/// -1`, while `x · (1 - half_denominator · x)` would need `x = MIN` with `half_denominator =
/// 0x6000_0000`, whose iterates `never_min_times_min_in_newton_raphson` traces. Without the
/// test, each of the ten or so multiplications per element is three instructions shorter.
/// Out of line: softmax calls it from ten places.
#[inline(never)]
fn rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    // |ab| <= 2^62, so the sum cannot overflow; only MIN · MIN overflows the result.
    ((i64::from(a) * i64::from(b) + (1 << 30)) >> 31) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero (gemmlowp `RoundingDivideByPOT`),
/// for every `x` but `i32::MIN` (which no caller passes). Exponents past 31 give 0, as a wide
/// shift would, without a branch (a branch on the exponent lets the compiler turn the output
/// loop into a call to `memset`, which costs more flash than the whole output loop).
fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    // Ties away from zero are ties upwards for `w = x - 1` when `x < 0`:
    // floor((w + 2^(e-1)) / 2^e), which is `w >> e` plus bit `e - 1` of `w`. An exponent of 0
    // reads bit 31, which adds back the 1 taken from a negative `x`.
    let w = x.wrapping_add(x >> 31);
    (w >> exponent.min(31)) + ((w >> exponent.wrapping_sub(1).min(31)) & 1)
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

        /// The kernel equals the reference (the first implementation, `softmax_reference.rs`)
        /// output for output, for any int8 input and any valid parameters.
        #[test]
        fn equals_the_reference(
            multiplier in (1i32 << 30)..=i32::MAX,
            shift in 1i32..=30,
            input in proptest::collection::vec(any::<i8>(), 1..300),
        ) {
            let p = params(input.len() as u32, multiplier, shift);
            prop_assert_eq!(validate(&p), Ok(()));
            prop_assert_eq!(run(&p, &input), run_reference(&p, &input));
        }

        /// The same, with inputs close together (most differences within `diff_min`, many ties
        /// at the maximum) and the parameters' edges.
        #[test]
        fn equals_the_reference_on_close_inputs(
            multiplier in prop_oneof![
                Just(1i32 << 30), Just(i32::MAX), (1i32 << 30)..=i32::MAX
            ],
            shift in prop_oneof![Just(1i32), Just(30), 1i32..=30],
            base in any::<i8>(),
            spread in 0u8..=16,
            offsets in proptest::collection::vec(any::<u8>(), 1..300),
        ) {
            let input: std::vec::Vec<i8> = offsets
                .iter()
                .map(|&o| base.saturating_add((o % (spread + 1)) as i8))
                .collect();
            let p = params(input.len() as u32, multiplier, shift);
            prop_assert_eq!(run(&p, &input), run_reference(&p, &input));
        }

        /// The Q5.26 rescale in `exp_of` is LiteRT's `MultiplyByQuantizedMultiplier` for every
        /// difference the kernel rescales and every valid parameter.
        #[test]
        fn exp_of_equals_the_reference(
            multiplier in prop_oneof![
                Just(1i32 << 30), Just(i32::MAX), (1i32 << 30)..=i32::MAX
            ],
            shift in 1i32..=30,
        ) {
            let p = params(1, multiplier, shift);
            for max in [i8::MIN, -1, 0, i8::MAX] {
                for x in i8::MIN..=max {
                    let want = reference::exp_of(&p, max, x).unwrap_or(0);
                    prop_assert_eq!(exp_of(&p, max, x), want, "x {} max {}", x, max);
                }
            }
        }

        /// `rounding_divide_by_pot` equals gemmlowp's for every `x` but `i32::MIN` and every
        /// exponent, including the ones past 31 the output rounding can see.
        #[test]
        fn rounding_divide_equals_gemmlowp(x in any::<i32>(), small in -70i32..70) {
            for x in [x, small, x >> 16] {
                for exponent in 0..=40 {
                    if x != i32::MIN {
                        prop_assert_eq!(
                            rounding_divide_by_pot(x, exponent),
                            gemmlowp::rounding_divide_by_pot(x, exponent),
                            "{} / 2^{}", x, exponent
                        );
                    }
                }
            }
        }

        #[test]
        fn doubling_high_mul_equals_gemmlowp(a in any::<i32>(), b in any::<i32>()) {
            for (a, b) in [(a, b), (a, i32::MIN), (i32::MIN, b), (a, a)] {
                if (a, b) == (i32::MIN, i32::MIN) {
                    continue; // the one pair gemmlowp saturates; see the function's docs
                }
                prop_assert_eq!(
                    rounding_doubling_high_mul(a, b),
                    gemmlowp::saturating_rounding_doubling_high_mul(a, b)
                );
            }
        }

        #[test]
        fn exp_and_reciprocal_equal_gemmlowp_anywhere(a in any::<i32>()) {
            prop_assert_eq!(
                exp_on_negative_values(a),
                gemmlowp::exp_on_negative_values::<SCALED_DIFF_INTEGER_BITS>(a)
            );
            prop_assert_eq!(scale_and_exponent(a), reference::scale_and_exponent(a));
            prop_assert_eq!(
                one_over_one_plus_x_for_x_in_0_1(a),
                gemmlowp::one_over_one_plus_x_for_x_in_0_1(a)
            );
        }
    }

    use crate::kernels::gemmlowp;

    /// The one way `rounding_doubling_high_mul` could see `(MIN, MIN)` in softmax: the
    /// Newton-Raphson step's `x · (1 - half_denominator · x)` with `x = MIN` needs
    /// `half_denominator · MIN / 2^31 = 2^29 - MIN` (wrapping), i.e. `half_denominator =
    /// 0x6000_0000`, which only `a = 2^30` and `2^30 + 1` give. Their iterates are never MIN.
    #[test]
    fn never_min_times_min_in_newton_raphson() {
        let d = 0x6000_0000;
        assert_eq!(half_denominator((1 << 30) - 1), d - 1);
        assert_eq!(half_denominator((1 << 30) + 2), d + 1);
        for a in [1 << 30, (1 << 30) + 1] {
            assert_eq!(half_denominator(a), d);
            let mut x = 1_515_870_810 + rounding_doubling_high_mul(d, -1_010_580_540);
            for _ in 0..3 {
                assert_ne!(x, i32::MIN);
                x = newton_raphson_step(d, x);
            }
        }
        // Everywhere else the half denominator is not MIN either (so the step's first product
        // is safe), and neither are the constants and exps the other products take.
        assert_eq!(half_denominator(i32::MIN), -1);
        assert_eq!(half_denominator(i32::MAX), i32::MAX);
    }

    fn run(p: &Softmax, input: &[i8]) -> std::vec::Vec<i8> {
        let mut out = std::vec![0i8; input.len()];
        softmax(p, input, &mut out);
        out
    }

    fn run_reference(p: &Softmax, input: &[i8]) -> std::vec::Vec<i8> {
        let mut out = std::vec![0i8; input.len()];
        reference::softmax(p, input, &mut out);
        out
    }

    /// Every Q5.26 value `exp` sees for valid parameters is in `[-2^31, 0]`. The polynomial
    /// depends only on the low 24 bits (the part below a quarter), which this sweeps in full
    /// for three multiples of 1/4 (none, one, all seven barrel-shifter bits); every multiple of
    /// 1/4 is swept with a dense sample of the low bits and their edges.
    /// `exp_equals_gemmlowp_everywhere` (ignored: minutes) sweeps all of `[-2^31, 0]`.
    #[test]
    fn exp_equals_gemmlowp_over_its_domain() {
        let check = |a: i32| {
            assert_eq!(
                exp_on_negative_values(a),
                gemmlowp::exp_on_negative_values::<SCALED_DIFF_INTEGER_BITS>(a),
                "exp of {a}"
            );
        };
        for quarters in [0i64, 1, 127] {
            for low in 0..(1i64 << 24) {
                check((-(quarters << 24) - low).max(i64::from(i32::MIN)) as i32);
            }
        }
        for quarters in 0..128i64 {
            for low in (0..(1i64 << 24)).step_by(4099).chain([
                1,
                2,
                (1 << 23) - 1,
                1 << 23,
                (1 << 23) + 1,
                (1 << 24) - 1,
            ]) {
                check((-(quarters << 24) - low).max(i64::from(i32::MIN)) as i32);
            }
        }
        check(0);
        check(i32::MIN);
    }

    /// Every sum of exps (a function of one `i32`): a dense sample, every power of two and its
    /// neighbours, and the wrapped (zero and negative) sums.
    /// `reciprocal_equals_gemmlowp_everywhere` (ignored: minutes) sweeps all of them.
    #[test]
    fn reciprocal_equals_gemmlowp_over_its_domain() {
        let check = |sum: i32| {
            assert_eq!(
                scale_and_exponent(sum),
                reference::scale_and_exponent(sum),
                "sum {sum}"
            );
            assert_eq!(
                one_over_one_plus_x_for_x_in_0_1(sum),
                gemmlowp::one_over_one_plus_x_for_x_in_0_1(sum),
                "1 / (1 + {sum})"
            );
        };
        for sum in (i32::MIN..=i32::MAX).step_by(1021) {
            check(sum);
        }
        for bit in 0..32 {
            let power = (1u32 << bit) as i32;
            for sum in [
                power,
                power.wrapping_sub(1),
                power.wrapping_add(1),
                power.wrapping_neg(),
                !power,
            ] {
                check(sum);
            }
        }
        for sum in -70_000..70_000 {
            check(sum);
        }
        check(i32::MAX);
    }

    /// All of `exp`'s domain, in parallel. Run with `--ignored`.
    #[test]
    #[ignore = "sweeps 2^31 values: minutes"]
    fn exp_equals_gemmlowp_everywhere() {
        sweep(i64::from(i32::MIN), 0, |a| {
            exp_on_negative_values(a)
                == gemmlowp::exp_on_negative_values::<SCALED_DIFF_INTEGER_BITS>(a)
        });
    }

    /// All sums of exps, in parallel. Run with `--ignored`.
    #[test]
    #[ignore = "sweeps 2^32 values: minutes"]
    fn reciprocal_equals_gemmlowp_everywhere() {
        sweep(i64::from(i32::MIN), i64::from(i32::MAX), |sum| {
            scale_and_exponent(sum) == reference::scale_and_exponent(sum)
                && one_over_one_plus_x_for_x_in_0_1(sum)
                    == gemmlowp::one_over_one_plus_x_for_x_in_0_1(sum)
        });
    }

    /// Checks `ok` on every `i32` in `first..=last` on all cores; panics at the first failure.
    fn sweep(first: i64, last: i64, ok: fn(i32) -> bool) {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
        let chunk = (last - first + threads) / threads;
        std::thread::scope(|scope| {
            for t in 0..threads {
                let start = first + t * chunk;
                let end = (start + chunk - 1).min(last);
                scope.spawn(move || {
                    for v in start..=end {
                        assert!(ok(v as i32), "differs at {v}");
                    }
                });
            }
        });
    }

    /// Sums of exps past 4095 wrap in Q12.19 (as in LiteRT); the kernel wraps the same way,
    /// including to a zero sum (8192 equal maxima) and to negative sums.
    #[test]
    fn long_vectors_equal_the_reference() {
        let mut state = 0x5eed_u32;
        for len in [
            4095usize, 4096, 4097, 6000, 8191, 8192, 8193, 12_000, 20_000,
        ] {
            for spread in [0u32, 1, 4, 256] {
                let input: std::vec::Vec<i8> = (0..len)
                    .map(|_| {
                        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                        (100 - ((state >> 16) % (spread + 1)) as i32) as i8
                    })
                    .collect();
                for (multiplier, shift) in [(1 << 30, 23), (i32::MAX, 1), (1_500_000_000, 30)] {
                    let p = params(len as u32, multiplier, shift);
                    assert_eq!(run(&p, &input), run_reference(&p, &input), "len {len}");
                }
            }
        }
    }
}
