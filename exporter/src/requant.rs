//! Real-valued scales to the runtime's integer constants, computed exactly as LiteRT's
//! `QuantizeMultiplier` and `CalculateActivationRangeQuantized` do, so that an imported model
//! gives LiteRT's bytes.

use crate::graph::FusedActivation;
use mote_runtime::QuantParams;

/// `frexp`: `x = fraction · 2^exponent` with `|fraction|` in `[0.5, 1)`; `(0, 0)` for zero and
/// for values that are not finite.
pub fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let (x, bias) = if x.abs() < f64::MIN_POSITIVE {
        (x * 2f64.powi(64), -64) // scale subnormals into the normal range first
    } else {
        (x, 0)
    };
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32 - 1022;
    let fraction = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (fraction, exponent + bias)
}

/// A real multiplier as a Q31 fixed-point `multiplier` and a power-of-two `shift` (positive:
/// left), the way LiteRT's `QuantizeMultiplier` does it with single rounding.
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real == 0.0 {
        return (0, 0);
    }
    let (fraction, mut shift) = frexp(real);
    // TfLiteRound is std::round: half away from zero, as f64::round.
    let mut fixed = (fraction * (1i64 << 31) as f64).round() as i64;
    if fixed == 1i64 << 31 {
        fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        fixed = 0;
    }
    if shift > 30 {
        shift = 30;
        fixed = (1i64 << 31) - 1;
    }
    (fixed as i32, shift)
}

/// The clamp bounds of a fused activation on an int8 output with quantisation `output`.
pub fn activation_range(activation: FusedActivation, output: QuantParams) -> (i8, i8) {
    // LiteRT quantises the bounds in f32: zero_point + round(f / scale).
    let quantize = |f: f32| output.zero_point + (f / output.scale).round() as i32;
    let (min, max) = match activation {
        FusedActivation::None => (-128, 127),
        FusedActivation::Relu => (quantize(0.0).max(-128), 127),
        FusedActivation::Relu6 => (quantize(0.0).max(-128), quantize(6.0).min(127)),
    };
    (min.clamp(-128, 127) as i8, max.clamp(-128, 127) as i8)
}

/// Affine int8 parameters covering `[min, max]` (widened to include 0, so that zero is exact).
pub fn choose_quant_params(min: f32, max: f32) -> QuantParams {
    let min = min.min(0.0);
    let max = max.max(0.0);
    let range = max - min;
    if !(range.is_finite() && range > 0.0) {
        return QuantParams {
            scale: 1.0,
            zero_point: 0,
        };
    }
    let scale = range / 255.0;
    let zero_point = (-128.0 - min / scale).round().clamp(-128.0, 127.0) as i32;
    QuantParams { scale, zero_point }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_matches_definition() {
        for x in [1.0, 0.5, 3.0, 1e-300, 5e-324, 123456.789, 0.001] {
            let (f, e) = frexp(x);
            assert!((0.5..1.0).contains(&f), "{x}: {f}");
            assert_eq!(f * 2f64.powi(e), x);
        }
    }

    #[test]
    fn multipliers_reconstruct_the_real_value() {
        for real in [0.5, 0.25, 0.001234, 0.9999999999, 1.5, 3e-7] {
            let (m, s) = quantize_multiplier(real);
            let back = m as f64 / (1u64 << 31) as f64 * 2f64.powi(s);
            assert!((back - real).abs() / real < 1e-9, "{real} -> {m} {s}");
            assert!(m >= 1 << 30);
        }
        // Rounds up to 2^31: halve and bump the shift.
        assert_eq!(quantize_multiplier(0.99999999999999), (1 << 30, 1));
        assert_eq!(quantize_multiplier(1e-12), (0, 0));
    }

    #[test]
    fn relu6_range() {
        let q = QuantParams {
            scale: 0.05,
            zero_point: -100,
        };
        assert_eq!(activation_range(FusedActivation::Relu, q), (-100, 127));
        assert_eq!(activation_range(FusedActivation::Relu6, q), (-100, 20));
        assert_eq!(activation_range(FusedActivation::None, q), (-128, 127));
    }

    #[test]
    fn params_cover_the_range_and_zero() {
        let q = choose_quant_params(0.0, 16.0);
        assert_eq!(q.zero_point, -128);
        assert!((q.scale - 16.0 / 255.0).abs() < 1e-7);
        let q = choose_quant_params(-1.0, 1.0);
        assert!((-1..=0).contains(&q.zero_point));
    }
}
