//! Post-training quantisation of a float `mote-train` checkpoint.
//!
//! Weights are quantised symmetrically per output channel to `[-127, 127]`; activations
//! asymmetrically per tensor, with ranges observed by running the float model on a calibration
//! set (min/max, or a percentile to ignore outliers); biases to int32 at scale
//! `input_scale · weight_scale`. The result follows LiteRT's int8 spec, so the same lowering
//! serves imported and home-made models.
//!
//! Raw features often span very different ranges (breast-cancer features run from 0.001 to
//! 4000); one int8 input tensor would flatten the small ones to a single step. So each feature is
//! first mapped onto `[-1, 1]` by its calibration range (an [`InputTransform`] stored in the blob
//! and applied by the runtime's `quantize_input`), and the first layer absorbs the inverse map,
//! which leaves the float model unchanged.

use crate::error::ExportError;
use crate::graph::{FusedActivation, InputTransform, QuantDense, QuantGraph, QuantOp};
use crate::requant::choose_quant_params;
use mote_runtime::QuantParams;
use mote_train::{Activation, Checkpoint, DenseLayer};

/// How the range of an activation tensor is taken from calibration values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum RangeMethod {
    /// The smallest and largest value seen.
    #[default]
    MinMax,
    /// The `p`-th and `(100 − p)`-th percentiles, e.g. `p = 99.99`: clips rare outliers so that
    /// the common values get finer steps.
    Percentile(f32),
}

/// The fixed output quantisation LiteRT's int8 LOGISTIC uses.
pub const LOGISTIC_OUTPUT: QuantParams = QuantParams {
    scale: 1.0 / 256.0,
    zero_point: -128,
};
/// The fixed output quantisation LiteRT's int8 TANH uses.
pub const TANH_OUTPUT: QuantParams = QuantParams {
    scale: 1.0 / 128.0,
    zero_point: 0,
};

/// Quantises `checkpoint` with activation ranges observed on `calibration` rows of raw features.
pub fn quantize_checkpoint(
    checkpoint: &Checkpoint,
    calibration: &[Vec<f32>],
    range: RangeMethod,
) -> Result<QuantGraph, ExportError> {
    let input_len = checkpoint
        .layers
        .first()
        .map(|l| l.input_len)
        .ok_or(ExportError::EmptyGraph)?;
    if calibration.is_empty() {
        return Err(ExportError::Calibration(
            "the calibration set is empty".into(),
        ));
    }
    if let Some((i, row)) = calibration
        .iter()
        .enumerate()
        .find(|(_, r)| r.len() != input_len)
    {
        return Err(ExportError::Calibration(format!(
            "row {i} has {} features; the model takes {input_len}",
            row.len()
        )));
    }
    if let RangeMethod::Percentile(p) = range {
        if !(50.0..=100.0).contains(&p) {
            return Err(ExportError::Calibration(format!(
                "percentile {p} is outside 50..=100"
            )));
        }
    }
    for (index, layer) in checkpoint.layers.iter().enumerate() {
        check_layer(index, layer)?;
    }
    let transform = feature_ranges(calibration, input_len);
    let mut layers = checkpoint.layers.clone();
    if let Some(first) = layers.first_mut() {
        absorb_inverse(first, &transform);
    }
    let mut activations: Vec<Vec<f32>> = calibration
        .iter()
        .map(|row| apply_transform(&transform, row))
        .collect();
    let input = tensor_quant(activations.iter().flatten().copied(), range);
    let mut ops = Vec::new();
    let mut quant = input;
    for layer in &layers {
        let pre: Vec<Vec<f32>> = activations.iter().map(|a| affine(layer, a)).collect();
        let (fused, elementwise) = match layer.activation {
            Activation::Identity => (FusedActivation::None, None),
            Activation::Relu => (FusedActivation::Relu, None),
            Activation::Relu6 => (FusedActivation::Relu6, None),
            Activation::Tanh => (FusedActivation::None, Some(Activation::Tanh)),
            Activation::Sigmoid => (FusedActivation::None, Some(Activation::Sigmoid)),
        };
        // The fully connected output tensor holds values after a fused activation.
        let fc_values: Vec<Vec<f32>> = match fused {
            FusedActivation::None => pre.clone(),
            _ => pre
                .iter()
                .map(|z| z.iter().map(|&v| apply(layer.activation, v)).collect())
                .collect(),
        };
        let output = tensor_quant(fc_values.iter().flatten().copied(), range);
        ops.push(QuantOp::FullyConnected(quantize_dense(
            layer, quant, output, fused,
        )));
        quant = output;
        let len = layer.output_len;
        match elementwise {
            Some(Activation::Tanh) => {
                ops.push(QuantOp::Tanh {
                    len,
                    input: quant,
                    output: TANH_OUTPUT,
                });
                quant = TANH_OUTPUT;
            }
            Some(_) => {
                ops.push(QuantOp::Logistic {
                    len,
                    input: quant,
                    output: LOGISTIC_OUTPUT,
                });
                quant = LOGISTIC_OUTPUT;
            }
            None => {}
        }
        activations = pre
            .iter()
            .map(|z| z.iter().map(|&v| apply(layer.activation, v)).collect())
            .collect();
    }
    Ok(QuantGraph {
        input_len,
        input,
        input_transform: Some(transform),
        ops,
    })
}

/// Maps every feature's calibration range `[min, max]` onto `[-1, 1]` (constant features are
/// only shifted).
fn feature_ranges(calibration: &[Vec<f32>], input_len: usize) -> InputTransform {
    let mut offset = Vec::with_capacity(input_len);
    let mut scale = Vec::with_capacity(input_len);
    for i in 0..input_len {
        let column = calibration
            .iter()
            .map(|row| row[i])
            .filter(|v| v.is_finite());
        let (min, max) = column.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let (mid, half) = if min <= max {
            ((min + max) / 2.0, (max - min) / 2.0)
        } else {
            (0.0, 0.0) // no finite value at all
        };
        offset.push(mid);
        scale.push(if half > f32::EPSILON * mid.abs().max(1.0) {
            1.0 / half
        } else {
            1.0
        });
    }
    InputTransform { offset, scale }
}

fn apply_transform(transform: &InputTransform, row: &[f32]) -> Vec<f32> {
    row.iter()
        .zip(transform.offset.iter().zip(&transform.scale))
        .map(|(x, (offset, scale))| (x - offset) * scale)
        .collect()
}

/// Rewrites `layer` to take transformed features: with `x = offset + x' / scale`,
/// `W x + b = (W / scale) x' + (b + W offset)`.
fn absorb_inverse(layer: &mut DenseLayer, transform: &InputTransform) {
    let n = layer.input_len;
    for (row, bias) in layer.weight.chunks_exact_mut(n).zip(layer.bias.iter_mut()) {
        let shift: f64 = row
            .iter()
            .zip(&transform.offset)
            .map(|(&w, &o)| w as f64 * o as f64)
            .sum();
        *bias = (*bias as f64 + shift) as f32;
        for (w, scale) in row.iter_mut().zip(&transform.scale) {
            *w /= scale;
        }
    }
}

fn check_layer(index: usize, layer: &DenseLayer) -> Result<(), ExportError> {
    if layer.weight.len() != layer.input_len * layer.output_len
        || layer.bias.len() != layer.output_len
    {
        return Err(ExportError::Checkpoint(format!(
            "layer {index}: {} weights and {} biases do not fit {}x{}",
            layer.weight.len(),
            layer.bias.len(),
            layer.output_len,
            layer.input_len
        )));
    }
    if layer
        .weight
        .iter()
        .chain(&layer.bias)
        .any(|v| !v.is_finite())
    {
        return Err(ExportError::Checkpoint(format!(
            "layer {index} has a weight or bias that is not finite"
        )));
    }
    Ok(())
}

fn affine(layer: &DenseLayer, input: &[f32]) -> Vec<f32> {
    layer
        .weight
        .chunks_exact(layer.input_len)
        .zip(&layer.bias)
        .map(|(row, b)| row.iter().zip(input).map(|(w, x)| w * x).sum::<f32>() + b)
        .collect()
}

fn apply(activation: Activation, v: f32) -> f32 {
    match activation {
        Activation::Identity => v,
        Activation::Relu => v.max(0.0),
        Activation::Relu6 => v.clamp(0.0, 6.0),
        Activation::Tanh => v.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
    }
}

/// Quantisation of a tensor from its observed values.
fn tensor_quant(values: impl Iterator<Item = f32>, range: RangeMethod) -> QuantParams {
    let mut values: Vec<f32> = values.filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return choose_quant_params(0.0, 0.0);
    }
    match range {
        RangeMethod::MinMax => {
            let min = values.iter().copied().fold(f32::MAX, f32::min);
            let max = values.iter().copied().fold(f32::MIN, f32::max);
            choose_quant_params(min, max)
        }
        RangeMethod::Percentile(p) => {
            values.sort_by(f32::total_cmp);
            let at = |q: f32| {
                let pos = (q / 100.0 * (values.len() - 1) as f32).round() as usize;
                values[pos.min(values.len() - 1)]
            };
            choose_quant_params(at(100.0 - p), at(p))
        }
    }
}

fn quantize_dense(
    layer: &DenseLayer,
    input: QuantParams,
    output: QuantParams,
    activation: FusedActivation,
) -> QuantDense {
    let mut weights = Vec::with_capacity(layer.weight.len());
    let mut weight_scales = Vec::with_capacity(layer.output_len);
    let mut bias = Vec::with_capacity(layer.output_len);
    for (row, &b) in layer.weight.chunks_exact(layer.input_len).zip(&layer.bias) {
        let largest = row.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
        weights.extend(
            row.iter()
                .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8),
        );
        weight_scales.push(scale);
        let bias_scale = input.scale as f64 * scale as f64;
        let q = (b as f64 / bias_scale).round();
        bias.push(q.clamp(i32::MIN as f64, i32::MAX as f64) as i32);
    }
    QuantDense {
        input_len: layer.input_len,
        output_len: layer.output_len,
        weights,
        weight_scales,
        bias,
        input,
        output,
        activation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> DenseLayer {
        DenseLayer {
            input_len: 3,
            output_len: 2,
            weight: vec![0.5, -1.0, 0.002, 0.25, 0.75, -0.001],
            bias: vec![0.1, -0.2],
            activation: Activation::Relu,
        }
    }

    #[test]
    fn features_map_onto_minus_one_to_one() {
        let rows = vec![
            vec![0.0, 10.0, 4000.0],
            vec![2.0, 10.0, 0.0],
            vec![1.0, 10.0, 100.0],
        ];
        let t = feature_ranges(&rows, 3);
        for row in &rows {
            for v in apply_transform(&t, row) {
                assert!((-1.0..=1.0).contains(&v), "{v}");
            }
        }
        assert_eq!(apply_transform(&t, &rows[0]), vec![-1.0, 0.0, 1.0]);
    }

    #[test]
    fn absorbing_the_inverse_keeps_the_float_function() {
        let rows = vec![
            vec![0.0, 10.0, 4000.0],
            vec![2.0, 11.0, 0.0],
            vec![1.0, 10.5, 100.0],
        ];
        let t = feature_ranges(&rows, 3);
        let mut folded = layer();
        absorb_inverse(&mut folded, &t);
        for row in &rows {
            let before = affine(&layer(), row);
            let after = affine(&folded, &apply_transform(&t, row));
            for (a, b) in before.iter().zip(&after) {
                assert!((a - b).abs() < 1e-3 * a.abs().max(1.0), "{a} vs {b}");
            }
        }
    }
}
