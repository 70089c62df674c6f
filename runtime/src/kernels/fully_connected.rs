//! Portable int8 fully connected kernel, bit-exact with LiteRT's reference
//! `FullyConnectedPerChannel` (and the per-tensor kernel, whose multiplier is just repeated).

use super::le_i32s;
use crate::fixed_point::multiply_by_quantized_multiplier;
use crate::manifest::WeightLayout;

/// The validated tensors and constants of one fully connected layer, borrowed from the blob.
#[derive(Debug, Clone, Copy)]
pub struct FullyConnectedView<'a> {
    /// `output_len` rows of `input_len` weights, in `layout` order.
    pub weights: &'a [i8],
    /// The order of `weights`, which picks the kernel.
    pub layout: WeightLayout,
    /// Known: no weight is -128 (the int8 spec's -127..=127), so a kernel may negate weights.
    /// `false` when unknown; kernels then take a path that does not need it.
    pub symmetric_weights: bool,
    /// Known: every shift is at most -2 (every output scales by less than 1/4), so
    /// requantisation needs only the high word of each product (see
    /// [`small_scales`]). `false` when unknown; kernels then take the general path.
    pub small_scales: bool,
    /// Folded biases, little-endian i32, one per output.
    pub bias: &'a [u8],
    /// Q31 multipliers, little-endian i32, one per output.
    pub multipliers: &'a [u8],
    /// Shifts, one i8 per output.
    pub shifts: &'a [u8],
    /// Elements per input row.
    pub input_len: usize,
    /// Zero point of the output.
    pub output_offset: i32,
    /// Lower clamp bound.
    pub activation_min: i8,
    /// Upper clamp bound.
    pub activation_max: i8,
}

impl FullyConnectedView<'_> {
    /// True when every tensor holds what `rows` outputs from `input_len` inputs need in this
    /// layout: always for a layer of a parsed model. The optimised kernels check it once and
    /// then read without bounds checks; a view that fails it makes them write nothing.
    pub fn fits(&self, input_len: usize, rows: usize) -> bool {
        let weights = super::layout::packed_len(self.layout, rows, self.input_len);
        let (Some(weights), Some(constants)) = (weights, rows.checked_mul(4)) else {
            return false;
        };
        self.input_len > 0
            && input_len >= self.input_len
            && self.weights.len() >= weights
            && self.bias.len() >= constants
            && self.multipliers.len() >= constants
            && self.shifts.len() >= rows
    }
}

/// `output[o] = clamp(requant(bias[o] + Σ_k w[o][k]·input[k]) + output_offset)` over
/// row-major weights (whatever `layer.layout` says).
///
/// Writes `min(output.len(), rows)` outputs; the caller passes matching lengths.
pub fn fully_connected(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) {
    let rows = layer.weights.chunks_exact(layer.input_len.max(1));
    let constants = le_i32s(layer.bias)
        .zip(le_i32s(layer.multipliers))
        .zip(layer.shifts.iter().map(|&s| s as i8 as i32));
    for ((out, row), constants) in output.iter_mut().zip(rows).zip(constants) {
        let dot = row
            .iter()
            .zip(input)
            .fold(0i32, |acc, (&w, &x)| acc.wrapping_add(w as i32 * x as i32));
        *out = requantize(layer, dot, constants);
    }
}

/// Whether every shift in `shifts` (one i8 each) is in `-31..=-2`: the value of
/// [`FullyConnectedView::small_scales`] for a layer's shift section, computed once when the
/// view is built.
pub fn small_scales(shifts: &[u8]) -> bool {
    shifts.iter().all(|&s| (-31..=-2).contains(&(s as i8)))
}

/// One output from its dot product and its `((bias, multiplier), shift)`: the part every
/// fully connected kernel shares.
#[inline(always)]
pub(crate) fn requantize(
    layer: &FullyConnectedView<'_>,
    dot: i32,
    ((bias, multiplier), shift): ((i32, i32), i32),
) -> i8 {
    let scaled = multiply_by_quantized_multiplier(bias.wrapping_add(dot), multiplier, shift);
    let (min, max) = (layer.activation_min as i32, layer.activation_max as i32);
    // `max` then `min` rather than `clamp`, which panics when min > max (parsing rules that
    // out, but a kernel must not panic whatever view it is handed).
    scaled.wrapping_add(layer.output_offset).max(min).min(max) as i8
}

/// `((bias, multiplier), shift)` of output `index` (zeros past the end, which a validated
/// layer never reaches).
#[inline(always)]
pub(crate) fn constants(layer: &FullyConnectedView<'_>, index: usize) -> ((i32, i32), i32) {
    let at = |bytes: &[u8]| {
        bytes
            .get(4 * index..4 * index + 4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, i32::from_le_bytes)
    };
    let shift = layer.shifts.get(index).map_or(0, |&s| s as i8 as i32);
    ((at(layer.bias), at(layer.multipliers)), shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_scales_means_every_shift_at_most_minus_two() {
        assert!(small_scales(&[]));
        assert!(small_scales(&[-2i8 as u8, -31i8 as u8, -10i8 as u8]));
        assert!(!small_scales(&[-2i8 as u8, -1i8 as u8]));
        assert!(!small_scales(&[0, -5i8 as u8]));
        assert!(!small_scales(&[30]));
        assert!(!small_scales(&[-32i8 as u8]));
    }

    #[test]
    fn two_by_three_by_hand() {
        // w = [[1, 2, 3], [-1, 0, 1]], x = [10, 20, 30], bias = [5, -5], scale 1/2, zp 1.
        let weights = [1i8, 2, 3, -1, 0, 1];
        let bias: std::vec::Vec<u8> = [5i32, -5].iter().flat_map(|b| b.to_le_bytes()).collect();
        let mult: std::vec::Vec<u8> = [1i32 << 30, 1 << 30]
            .iter()
            .flat_map(|b| b.to_le_bytes())
            .collect();
        let layer = FullyConnectedView {
            weights: &weights,
            layout: WeightLayout::RowMajor,
            symmetric_weights: false,
            small_scales: false,
            bias: &bias,
            multipliers: &mult,
            shifts: &[0, 0],
            input_len: 3,
            output_offset: 1,
            activation_min: -128,
            activation_max: 127,
        };
        let mut out = [0i8; 2];
        fully_connected(&layer, &[10, 20, 30], &mut out);
        // (140 + 5) / 2 = 72.5 -> 73, + 1 = 74; (20 - 5) / 2 = 7.5 -> 8, + 1 = 9.
        assert_eq!(out, [74, 9]);
    }
}
