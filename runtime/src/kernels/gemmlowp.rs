//! gemmlowp's scalar fixed-point primitives (`fixedpoint/fixedpoint.h`), as LiteRT's reference
//! SOFTMAX uses them: a direct transliteration, kept (in test builds only) for the softmax
//! kernel's oracle, `softmax_reference.rs`; the kernel itself has compact versions of its own.
//!
//! A fixed-point value is a raw `i32` with an implied number of integer bits `I`:
//! `real = raw / 2^(31 - I)` (written `Q I.(31-I)`). Functions take and return raw values and
//! say the formats in their docs. They reproduce gemmlowp bit for bit for every input gemmlowp
//! defines; where gemmlowp's C++ would overflow (undefined behaviour) they wrap instead, so that
//! nothing here can panic.

/// `round(a · b / 2^31)`, saturating `MIN · MIN` to `MAX` (gemmlowp
/// `SaturatingRoundingDoublingHighMul`, NEON `VQRDMULH`). gemmlowp adds a nudge of ±2^30 and
/// divides truncating, which rounds ties upwards (1.5 → 2, -1.5 → -1). Multiplies two fixed-point
/// values: `Q m · Q n → Q (m+n)`.
///
/// Both of gemmlowp's cases are `floor((ab + 2^30) / 2^31)`: for `ab < 0` the truncating
/// quotient of `ab + 1 - 2^30` is its ceiling, `floor((ab + 1 - 2^30 + 2^31 - 1) / 2^31)`. So
/// one add and an arithmetic shift do it, with no sign test and no 64-bit division sequence
/// (a few instructions instead of a dozen at each of softmax's many inlined uses).
#[inline(always)]
pub(crate) fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    // |ab| < 2^62 (MIN · MIN excluded), so the sum cannot overflow.
    ((i64::from(a) * i64::from(b) + (1 << 30)) >> 31) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero (gemmlowp `RoundingDivideByPOT`).
///
/// gemmlowp allows exponents `0..=31`; larger ones are clamped to 63 here, computed in 64 bits
/// (the natural extension: results in `{-1, 0}` rounded, i.e. 0 for every `i32` input).
#[inline(always)]
pub(crate) fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    let exponent = exponent.min(63);
    let x = i64::from(x);
    let mask = ((1u64 << exponent) - 1) as i64;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i64::from(x < 0);
    ((x >> exponent) + i64::from(remainder > threshold)) as i32
}

/// `x · 2^exponent`, saturating to the `i32` range (gemmlowp `SaturatingRoundingMultiplyByPOT`
/// with a positive exponent). `exponent` must be in `1..=30`; it is clamped to that range.
#[inline(always)]
pub(crate) fn saturating_multiply_by_pot(x: i32, exponent: u32) -> i32 {
    let exponent = exponent.clamp(1, 30);
    let threshold = (1i32 << (31 - exponent)) - 1;
    if x > threshold {
        i32::MAX
    } else if x < -threshold {
        i32::MIN
    } else {
        x << exponent
    }
}

/// `(a + b) / 2` rounded to nearest, ties away from zero (gemmlowp `RoundingHalfSum`, NEON
/// `VRHADD`).
#[inline(always)]
pub(crate) fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = i64::from(a) + i64::from(b);
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// 1.0 in Q0.31 (gemmlowp's `FixedPoint<int32, 0>::One()` saturates to the largest raw value).
const Q0_ONE: i32 = i32::MAX;
/// 1.0 in Q2.29.
const Q2_ONE: i32 = 1 << 29;

/// `exp(a)` for `a` in `[-1/4, 0)`, Q0.31 in and out: a fourth-order Taylor expansion around
/// -1/8 (gemmlowp `exp_on_interval_between_negative_one_quarter_and_0_excl`).
fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const EXP_MINUS_ONE_EIGHTH: i32 = 1_895_147_668; // exp(-1/8) in Q0.31
    const ONE_THIRD: i32 = 715_827_883; // 1/3 in Q0.31
    let x = a.wrapping_add(1 << 28); // + 1/8
    let x2 = saturating_rounding_doubling_high_mul(x, x);
    let x3 = saturating_rounding_doubling_high_mul(x2, x);
    let x4 = saturating_rounding_doubling_high_mul(x2, x2);
    let x4_over_4 = rounding_divide_by_pot(x4, 2);
    let x4_over_24_plus_x3_over_6_plus_x2_over_2 = rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x4_over_4.wrapping_add(x3), ONE_THIRD)
            .wrapping_add(x2),
        1,
    );
    EXP_MINUS_ONE_EIGHTH.wrapping_add(saturating_rounding_doubling_high_mul(
        EXP_MINUS_ONE_EIGHTH,
        x.wrapping_add(x4_over_24_plus_x3_over_6_plus_x2_over_2),
    ))
}

/// `exp(a)` for `a <= 0`: input in Q`INTEGER_BITS`, result in Q0.31 (gemmlowp
/// `exp_on_negative_values`). Splits `a` into a multiple of 1/4 and a rest in `[-1/4, 0)`, then
/// multiplies `exp(rest)` by `exp(-2^k)` for every set bit `k` of the multiple.
pub(crate) fn exp_on_negative_values<const INTEGER_BITS: u32>(a: i32) -> i32 {
    let fractional_bits = 31 - INTEGER_BITS;
    let one_quarter: i32 = 1 << (fractional_bits - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    // Rescale<0>: from Q INTEGER_BITS to Q0 is a saturating left shift by INTEGER_BITS.
    let mut result =
        exp_on_interval_between_negative_one_quarter_and_0_excl(if INTEGER_BITS == 0 {
            a_mod_quarter_minus_one_quarter
        } else {
            saturating_multiply_by_pot(a_mod_quarter_minus_one_quarter, INTEGER_BITS)
        });
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    // exp(-2^k) in Q0.31 for k = -2..=4.
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    for (exponent, multiplier) in BARREL {
        if (INTEGER_BITS as i32) > exponent {
            let shift = (fractional_bits as i32 + exponent) as u32;
            if remainder & (1i32 << shift.min(31)) != 0 {
                result = saturating_rounding_doubling_high_mul(result, multiplier);
            }
        }
    }
    if INTEGER_BITS > 5 {
        // Below -32 the result is zero.
        let clamp = -(1i32 << (36 - INTEGER_BITS).min(30));
        if a < clamp {
            result = 0;
        }
    }
    if a == 0 {
        result = Q0_ONE;
    }
    result
}

/// `1 / (1 + a)` for `a` in `[0, 1)`, Q0.31 in and out, by three Newton-Raphson steps (gemmlowp
/// `one_over_one_plus_x_for_x_in_0_1`).
pub(crate) fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    const FORTY_EIGHT_OVER_17: i32 = 1_515_870_810; // Q2.29
    const MINUS_32_OVER_17: i32 = -1_010_580_540; // Q2.29
    let half_denominator = rounding_half_sum(a, Q0_ONE); // Q0.31
    let mut x = FORTY_EIGHT_OVER_17.wrapping_add(saturating_rounding_doubling_high_mul(
        half_denominator,
        MINUS_32_OVER_17,
    )); // Q2.29
    for _ in 0..3 {
        let half_denominator_times_x = saturating_rounding_doubling_high_mul(half_denominator, x);
        let one_minus_half_denominator_times_x = Q2_ONE.wrapping_sub(half_denominator_times_x);
        // Q2 · Q2 = Q4, rescaled to Q2 by a saturating left shift of 2.
        x = x.wrapping_add(saturating_multiply_by_pot(
            saturating_rounding_doubling_high_mul(x, one_minus_half_denominator_times_x),
            2,
        ));
    }
    // x/2 in Q2 is x in Q1; to Q0 is a saturating left shift of 1.
    saturating_multiply_by_pot(x, 1)
}

/// Reciprocal of a positive `x` in Q`x_integer_digits`, as LiteRT's `GetReciprocal`: returns
/// `(scale, num_bits_over_unit)` with `1/x = scale / 2^(31 + num_bits_over_unit)`, `scale`
/// in Q0.31. `x <= 0` gives an unspecified value (LiteRT never passes it).
pub(crate) fn reciprocal(x: i32, x_integer_digits: i32) -> (i32, i32) {
    let headroom_plus_one = (x as u32).leading_zeros();
    let num_bits_over_unit = x_integer_digits.wrapping_sub(headroom_plus_one as i32);
    let shifted = (x as u32).checked_shl(headroom_plus_one).unwrap_or(0);
    let shifted_sum_minus_one = shifted.wrapping_sub(1 << 31) as i32;
    (
        one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one),
        num_bits_over_unit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_f64(x: f64, integer_bits: u32) -> i32 {
        (x * (1u64 << (31 - integer_bits)) as f64).round() as i32
    }

    proptest::proptest! {
        /// The shift form equals gemmlowp's nudge-and-truncate definition for every input.
        #[test]
        fn doubling_high_mul_equals_gemmlowp(a: i32, b: i32, small in -4i32..4) {
            for (a, b) in [(a, b), (a, small), (small, b), (a, i32::MIN), (i32::MIN, b)] {
                let want = if a == i32::MIN && b == i32::MIN {
                    i32::MAX
                } else {
                    let ab = i64::from(a) * i64::from(b);
                    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
                    ((ab + nudge) / (1i64 << 31)) as i32
                };
                proptest::prop_assert_eq!(saturating_rounding_doubling_high_mul(a, b), want);
            }
        }
    }

    #[test]
    fn doubling_high_mul_matches_definition() {
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
            1 << 29
        );
        // 3 · 2^30 / 2^31 = 1.5 → 2 and -1.5 → -1: the nudge rounds ties upwards.
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(1, 1 << 30), 1);
        assert_eq!(saturating_rounding_doubling_high_mul(-1, 1 << 30), 0);
        assert_eq!(saturating_rounding_doubling_high_mul(-5, 1 << 30), -2);
    }

    #[test]
    fn rounding_divide_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(-4, 1), -2);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
        assert_eq!(rounding_divide_by_pot(i32::MAX, 31), 1);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
        assert_eq!(rounding_divide_by_pot(i32::MAX, 40), 0);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 100), 0);
    }

    #[test]
    fn saturating_shift_saturates() {
        assert_eq!(saturating_multiply_by_pot(1 << 29, 2), i32::MAX);
        assert_eq!(saturating_multiply_by_pot(-(1 << 29), 2), i32::MIN);
        assert_eq!(saturating_multiply_by_pot(-3, 2), -12);
    }

    #[test]
    fn exp_is_close_to_libm() {
        for i in 0..=2000 {
            let x = -f64::from(i) * 0.016; // 0 down to -32
            let raw = from_f64(x, 5);
            let got = f64::from(exp_on_negative_values::<5>(raw)) / 2147483648.0;
            let want = libm::exp(f64::from(raw) / f64::from(1 << 26));
            assert!(
                (got - want).abs() < 2e-8 * 64.0,
                "exp({x}) = {got}, want {want}"
            );
        }
        assert_eq!(exp_on_negative_values::<5>(0), i32::MAX);
    }

    #[test]
    fn reciprocal_is_close() {
        for i in 0..1000 {
            let a = 0.001 * f64::from(i); // [0, 1)
            let got = f64::from(one_over_one_plus_x_for_x_in_0_1(from_f64(a, 0))) / 2147483648.0;
            assert!((got - 1.0 / (1.0 + a)).abs() < 1e-8, "1/(1+{a}) = {got}");
        }
        // 3.0 in Q12.19: 1/3 = scale / 2^(31 + 1).
        let (scale, bits) = reciprocal(3 << 19, 12);
        assert_eq!(bits, 1);
        assert!((f64::from(scale) / 2147483648.0 / 2.0 - 1.0 / 3.0).abs() < 1e-9);
        let _ = reciprocal(0, 12);
        let _ = reciprocal(-5, 12);
    }
}
