//! Fixed-point arithmetic with the exact rounding of LiteRT's reference kernels.
//!
//! All functions are total: they use wrapping or widening arithmetic so that no input, however
//! odd, can panic. For the inputs LiteRT accepts they return exactly what LiteRT returns.

/// `round(x · multiplier · 2^(shift − 31))` with one rounding step (half away from zero on the
/// 64-bit product), as LiteRT's `MultiplyByQuantizedMultiplier` when built with
/// `TFLITE_SINGLE_ROUNDING` — the build LiteRT ships.
///
/// `multiplier` is a Q31 value in `[0, 2^31)`, `shift` in `-31..=30`; the parser guarantees both.
///
/// Written for 32-bit cores. With the usual right shifts of 33 to 62 bits (scales below 1/2)
/// only the high word of the product matters: `(P + 2^(s-1)) >> s` equals
/// `((P >> (s-1)) + 1) >> 1` (rounding half up commutes with flooring first), and
/// `P >> (s-1) = H >> (s-33)` for the high word `H`. That is one `SMULL` and three ALU
/// operations instead of a 64-bit add and a 64-bit variable shift.
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let product = x as i64 * multiplier as i64;
    let high_shift = (-2i32).wrapping_sub(shift) as u32; // (31 - shift) - 33
    if high_shift <= 29 {
        let high = (product >> 32) as i32;
        return (high >> high_shift).wrapping_add(1) >> 1;
    }
    // total_shift in 1..=62 for legal shifts; clamp so that odd values cannot overflow a shift.
    let total_shift = (31 - shift).clamp(1, 62) as u32;
    // |x · multiplier| <= 2^62, and adding the rounding term (<= 2^61) cannot overflow an i64.
    ((product + (1i64 << (total_shift - 1))) >> total_shift) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_half_rounds_away_from_zero_upwards() {
        // multiplier 2^30 is 0.5 in Q31; shift 0 → x/2 rounded, ties toward +inf (floor(x/2 + 1/2)).
        let half = 1 << 30;
        assert_eq!(multiply_by_quantized_multiplier(3, half, 0), 2);
        assert_eq!(multiply_by_quantized_multiplier(-3, half, 0), -1);
        assert_eq!(multiply_by_quantized_multiplier(4, half, 1), 4);
        assert_eq!(multiply_by_quantized_multiplier(1000, half, -2), 125);
    }

    proptest::proptest! {
        /// The high-word shortcut equals the plain 64-bit formula for every input.
        #[test]
        fn equals_the_wide_formula(x: i32, multiplier: i32, shift in -40i32..40) {
            let total_shift = (31 - shift).clamp(1, 62);
            let wide = ((x as i128 * multiplier as i128) + (1i128 << (total_shift - 1))) >> total_shift;
            proptest::prop_assert_eq!(multiply_by_quantized_multiplier(x, multiplier, shift), wide as i32);
        }
    }

    #[test]
    fn extreme_shifts_do_not_panic() {
        for shift in [-100, -31, 0, 30, 100] {
            for x in [i32::MIN, -1, 0, 1, i32::MAX] {
                let _ = multiply_by_quantized_multiplier(x, i32::MAX, shift);
            }
        }
    }
}
