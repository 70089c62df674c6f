//! Fixed-point arithmetic with the exact rounding of LiteRT's reference kernels.
//!
//! All functions are total: they use wrapping or widening arithmetic so that no input, however
//! odd, can panic. For the inputs LiteRT accepts they return exactly what LiteRT returns.

/// `round(x · multiplier · 2^(shift − 31))` with one rounding step (half away from zero on the
/// 64-bit product), as LiteRT's `MultiplyByQuantizedMultiplier` when built with
/// `TFLITE_SINGLE_ROUNDING` — the build LiteRT ships.
///
/// `multiplier` is a Q31 value in `[0, 2^31)`, `shift` in `-31..=30`; the parser guarantees both.
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    // total_shift in 1..=62 for legal shifts; clamp so that odd values cannot overflow a shift.
    let total_shift = (31 - shift).clamp(1, 62) as u32;
    let round = 1i64 << (total_shift - 1);
    let product = (x as i64)
        .wrapping_mul(multiplier as i64)
        .wrapping_add(round);
    (product >> total_shift) as i32
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

    #[test]
    fn extreme_shifts_do_not_panic() {
        for shift in [-100, -31, 0, 30, 100] {
            for x in [i32::MIN, -1, 0, 1, i32::MAX] {
                let _ = multiply_by_quantized_multiplier(x, i32::MAX, shift);
            }
        }
    }
}
