//! Converting between real numbers and int8 with a tensor's [`QuantParams`].

use crate::QuantParams;

/// Quantises `real` to int8 as LiteRT's QUANTIZE op does: `round(real / scale) + zero_point`,
/// rounding half away from zero, saturating to `-128..=127`.
pub fn quantize(real: f32, q: QuantParams) -> i8 {
    let steps = libm::roundf(real / q.scale);
    // `as` saturates (NaN becomes 0), so no input can overflow.
    let value = (steps as i32).saturating_add(q.zero_point);
    value.clamp(i8::MIN as i32, i8::MAX as i32) as i8
}

/// The real value an int8 stands for: `scale · (q − zero_point)`.
pub fn dequantize(value: i8, q: QuantParams) -> f32 {
    q.scale * (value as i32 - q.zero_point) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_saturation() {
        let q = QuantParams {
            scale: 0.5,
            zero_point: -3,
        };
        assert_eq!(quantize(1.0, q), -1);
        assert_eq!(quantize(0.25, q), -2); // 0.5 steps round away from zero
        assert_eq!(quantize(-0.25, q), -4);
        assert_eq!(quantize(1e9, q), 127);
        assert_eq!(quantize(-1e9, q), -128);
        assert_eq!(quantize(f32::NAN, q), -3);
        assert_eq!(dequantize(-1, q), 1.0);
    }
}
