//! Lowering a [`QuantGraph`] to the runtime's fixed-point [`Layer`]s and their tensor bytes.

use crate::activation_params;
use crate::activation_params::LookupTable;
use crate::error::ExportError;
use crate::graph::{QuantDense, QuantGraph, QuantOp};
use crate::requant::{activation_range, quantize_multiplier};
use mote_runtime::kernels::layout::{pack_row_quads, packed_len};
use mote_runtime::manifest::{
    Elementwise, FullyConnected, Layer, Section, WeightLayout, MAX_LAYERS,
};

/// Runtime layers plus the bytes of their tensor sections.
///
/// Until [`crate::blob::build`] places them, each [`Section::offset`] in `layers` holds the
/// index of its bytes in `payloads`.
#[derive(Debug, Clone, PartialEq)]
pub struct Lowered {
    /// The layers in order.
    pub layers: Vec<Layer>,
    /// The input transform's section, if the graph has one.
    pub input_transform: Option<Section>,
    /// Tensor bytes, referenced by index from the sections.
    pub payloads: Vec<Vec<u8>>,
}

impl Lowered {
    fn section(&mut self, bytes: Vec<u8>) -> Section {
        let section = Section {
            offset: self.payloads.len() as u32,
            len: bytes.len() as u32,
        };
        self.payloads.push(bytes);
        section
    }

    fn lookup_table(&mut self, lut: LookupTable) -> Elementwise {
        Elementwise {
            len: lut.len,
            input: lut.input,
            output: lut.output,
            table: self.section(lut.table.iter().map(|&v| v as u8).collect()),
        }
    }
}

/// Checks the graph's chain of shapes and quantisation and lowers every op, storing fully
/// connected weights in `layout`.
pub fn lower(graph: &QuantGraph, layout: WeightLayout) -> Result<Lowered, ExportError> {
    if graph.ops.is_empty() {
        return Err(ExportError::EmptyGraph);
    }
    if graph.ops.len() > MAX_LAYERS {
        return Err(ExportError::TooManyLayers {
            count: graph.ops.len(),
        });
    }
    let mut lowered = Lowered {
        layers: Vec::new(),
        input_transform: None,
        payloads: Vec::new(),
    };
    if let Some(transform) = &graph.input_transform {
        let n = graph.input_len;
        let finite = transform
            .offset
            .iter()
            .chain(&transform.scale)
            .all(|v| v.is_finite());
        if transform.offset.len() != n || transform.scale.len() != n || !finite {
            return Err(ExportError::BadTensor {
                index: 0,
                reason: format!("the input transform must hold {n} finite offsets and scales"),
            });
        }
        let bytes = transform.offset.iter().chain(&transform.scale);
        let bytes = bytes.flat_map(|v| v.to_le_bytes()).collect();
        lowered.input_transform = Some(lowered.section(bytes));
    }
    let mut len = graph.input_len;
    let mut quant = graph.input;
    for (index, op) in graph.ops.iter().enumerate() {
        if op.input_len() != len {
            return Err(ExportError::ShapeMismatch {
                index,
                expected: len,
                found: op.input_len(),
            });
        }
        if op.input_quant() != quant {
            return Err(bad_quant(
                index,
                op,
                format!(
                    "input quantisation {:?} differs from the previous output's {:?}",
                    op.input_quant(),
                    quant
                ),
            ));
        }
        let layer = match op {
            QuantOp::FullyConnected(dense) => {
                Layer::FullyConnected(lower_dense(index, dense, layout, &mut lowered)?)
            }
            QuantOp::Logistic { len, input, output } => {
                let lut = activation_params::logistic(*len, *input, *output)
                    .map_err(|reason| bad_quant(index, op, reason))?;
                Layer::Logistic(lowered.lookup_table(lut))
            }
            QuantOp::Tanh { len, input, output } => {
                let lut = activation_params::tanh(*len, *input, *output)
                    .map_err(|reason| bad_quant(index, op, reason))?;
                Layer::Tanh(lowered.lookup_table(lut))
            }
            QuantOp::Softmax {
                len,
                input,
                output,
                beta,
            } => Layer::Softmax(
                activation_params::softmax(*len, *input, *output, *beta)
                    .map_err(|reason| bad_quant(index, op, reason))?,
            ),
        };
        lowered.layers.push(layer);
        len = op.output_len();
        quant = op.output_quant();
    }
    Ok(lowered)
}

fn op_name(op: &QuantOp) -> &'static str {
    match op {
        QuantOp::FullyConnected(_) => "FULLY_CONNECTED",
        QuantOp::Logistic { .. } => "LOGISTIC",
        QuantOp::Tanh { .. } => "TANH",
        QuantOp::Softmax { .. } => "SOFTMAX",
    }
}

fn bad_quant(index: usize, op: &QuantOp, reason: String) -> ExportError {
    ExportError::BadQuantisation {
        index,
        op: op_name(op),
        reason,
    }
}

fn lower_dense(
    index: usize,
    dense: &QuantDense,
    layout: WeightLayout,
    lowered: &mut Lowered,
) -> Result<FullyConnected, ExportError> {
    let (n_in, n_out) = (dense.input_len, dense.output_len);
    let bad_tensor = |reason: String| ExportError::BadTensor { index, reason };
    if n_in == 0 || n_out == 0 {
        return Err(bad_tensor(format!("empty shape {n_out}x{n_in}")));
    }
    if dense.weights.len() != n_in * n_out {
        return Err(bad_tensor(format!(
            "{} weights for a {n_out}x{n_in} layer",
            dense.weights.len()
        )));
    }
    if dense.bias.len() != n_out {
        return Err(bad_tensor(format!(
            "{} biases for {n_out} outputs",
            dense.bias.len()
        )));
    }
    if dense.weight_scales.len() != 1 && dense.weight_scales.len() != n_out {
        return Err(bad_tensor(format!(
            "{} weight scales for {n_out} output channels",
            dense.weight_scales.len()
        )));
    }
    let quant_error = |reason: String| ExportError::BadQuantisation {
        index,
        op: "FULLY_CONNECTED",
        reason,
    };
    let scales_ok = dense
        .weight_scales
        .iter()
        .chain([&dense.input.scale, &dense.output.scale])
        .all(|s| s.is_finite() && *s > 0.0);
    if !scales_ok {
        return Err(quant_error("scales must be finite and positive".into()));
    }
    let input_offset = -dense.input.zero_point;
    let mut bias = Vec::with_capacity(4 * n_out);
    let mut multipliers = Vec::with_capacity(4 * n_out);
    let mut shifts = Vec::with_capacity(n_out);
    for (o, row) in dense.weights.chunks_exact(n_in).enumerate() {
        // LiteRT adds input_offset to every input inside the dot product; folding
        // input_offset · Σw into the bias gives the same i32 (wrapping) result.
        let row_sum = row.iter().map(|&w| w as i32).sum::<i32>();
        let folded = dense.bias[o].wrapping_add(input_offset.wrapping_mul(row_sum));
        bias.extend_from_slice(&folded.to_le_bytes());
        let weight_scale = dense.weight_scales[o.min(dense.weight_scales.len() - 1)];
        let effective = dense.input.scale as f64 * weight_scale as f64 / dense.output.scale as f64;
        let (multiplier, shift) = quantize_multiplier(effective);
        if !(-31..=30).contains(&shift) || multiplier < 0 {
            return Err(quant_error(format!(
                "output channel {o}: effective scale {effective:e} is out of range"
            )));
        }
        multipliers.extend_from_slice(&multiplier.to_le_bytes());
        shifts.push(shift as i8 as u8);
    }
    let (activation_min, activation_max) = activation_range(dense.activation, dense.output);
    Ok(FullyConnected {
        input_len: n_in as u32,
        output_len: n_out as u32,
        input_offset,
        output: dense.output,
        activation: dense.activation,
        activation_min,
        activation_max,
        layout,
        weights: lowered.section(pack_weights(dense, layout)?),
        bias: lowered.section(bias),
        multipliers: lowered.section(multipliers),
        shifts: lowered.section(shifts),
    })
}

/// The weight bytes of `dense` in `layout`.
fn pack_weights(dense: &QuantDense, layout: WeightLayout) -> Result<Vec<u8>, ExportError> {
    let (rows, cols) = (dense.output_len, dense.input_len);
    let len = packed_len(layout, rows, cols).ok_or(ExportError::UnsupportedLayout(layout))?;
    let mut packed = vec![0i8; len];
    match layout {
        WeightLayout::RowMajor => packed.copy_from_slice(&dense.weights),
        WeightLayout::RowQuads => pack_row_quads(&dense.weights, rows, cols, &mut packed),
        WeightLayout::Unknown(_) => return Err(ExportError::UnsupportedLayout(layout)),
    }
    Ok(packed.into_iter().map(|w| w as u8).collect())
}

/// Every section of a layer, for placing them in the blob.
pub(crate) fn sections_mut(layer: &mut Layer) -> Vec<&mut Section> {
    match layer {
        Layer::FullyConnected(fc) => vec![
            &mut fc.weights,
            &mut fc.bias,
            &mut fc.multipliers,
            &mut fc.shifts,
        ],
        Layer::Logistic(e) | Layer::Tanh(e) => vec![&mut e.table],
        Layer::Softmax(_) => Vec::new(),
    }
}
