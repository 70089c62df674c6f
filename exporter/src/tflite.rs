//! Imports a full-integer int8 `.tflite` model into a [`QuantGraph`].
//!
//! Accepted: one subgraph whose operators form a chain from the single int8 input to the single
//! int8 output, each operator one of
//! - `FULLY_CONNECTED` with int8 symmetric weights (per-channel along dimension 0, or per
//!   tensor), an int32 bias or none, and a fused `NONE`, `RELU` or `RELU6`;
//! - `LOGISTIC`, `TANH`, `SOFTMAX` on int8 tensors.
//!
//! This is what TF's `TFLiteConverter` writes for Keras `Dense` stacks with
//! `optimizations = [DEFAULT]`, a representative dataset, `TFLITE_BUILTINS_INT8` and int8
//! inference input and output types. Anything else is an [`Err`], never a panic: the file is
//! run through `flatbuffers`' verifier before any field is read, and every index is
//! bounds-checked.
//!
//! ```no_run
//! let bytes = std::fs::read("model.tflite").unwrap();
//! let graph = mote_exporter::tflite::import(&bytes).unwrap();
//! println!("{} ops, {} inputs", graph.ops.len(), graph.input_len);
//! ```

mod names;
mod schema;

use std::fmt;

use crate::graph::{FusedActivation, QuantDense, QuantGraph, QuantOp, QuantParams};
use schema::{Buffer, Model, Operator, Tables, Tensor};

/// `BuiltinOperator.FULLY_CONNECTED`.
const FULLY_CONNECTED: i32 = 9;
/// `BuiltinOperator.LOGISTIC`.
const LOGISTIC: i32 = 14;
/// `BuiltinOperator.SOFTMAX`.
const SOFTMAX: i32 = 25;
/// `BuiltinOperator.TANH`.
const TANH: i32 = 28;

/// `TensorType.INT32`.
const TYPE_INT32: i8 = 2;
/// `TensorType.INT8`.
const TYPE_INT8: i8 = 9;

/// Names of the `TensorType` codes, for messages.
const TYPE_NAMES: [&str; 23] = [
    "FLOAT32",
    "FLOAT16",
    "INT32",
    "UINT8",
    "INT64",
    "STRING",
    "BOOL",
    "INT16",
    "COMPLEX64",
    "INT8",
    "FLOAT64",
    "COMPLEX128",
    "UINT64",
    "RESOURCE",
    "VARIANT",
    "UINT32",
    "UINT16",
    "INT4",
    "BFLOAT16",
    "INT2",
    "UINT4",
    "FLOAT8_E4M3FN",
    "FLOAT8_E5M2",
];

/// Names of the `ActivationFunctionType` codes, for messages.
const ACTIVATION_NAMES: [&str; 6] = ["NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"];

/// Why a `.tflite` file was not imported.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TfliteError {
    /// The file does not carry the `TFL3` identifier of a TFLite flatbuffer.
    NotTflite,
    /// The flatbuffer failed verification (truncated, corrupt, or offsets out of bounds).
    Malformed {
        /// What the verifier found.
        reason: String,
    },
    /// The model has a number of subgraphs other than one.
    SubgraphCount {
        /// Subgraphs in the file.
        count: usize,
    },
    /// The subgraph has a number of inputs or outputs other than one.
    GraphArity {
        /// Subgraph inputs.
        inputs: usize,
        /// Subgraph outputs.
        outputs: usize,
    },
    /// The subgraph has no operators.
    NoOperators,
    /// An operator is not one mote supports.
    UnsupportedOp {
        /// Position of the operator in the subgraph.
        index: usize,
        /// Its builtin name, e.g. `CONV_2D` (or `BUILTIN_<code>` for a code this importer does
        /// not know).
        name: String,
    },
    /// A `FULLY_CONNECTED` fuses an activation other than `NONE`, `RELU` or `RELU6`.
    UnsupportedActivation {
        /// Position of the operator.
        index: usize,
        /// The `ActivationFunctionType` name, e.g. `TANH`.
        name: String,
    },
    /// A supported operator uses an option value mote does not support.
    UnsupportedOption {
        /// Position of the operator.
        index: usize,
        /// The operator's builtin name.
        op: &'static str,
        /// What is unsupported.
        reason: String,
    },
    /// An operator does not read what the previous one writes (or, for the first, the graph
    /// input; or the last operator does not write the graph output).
    NotLinear {
        /// Position of the operator.
        index: usize,
    },
    /// An index in the file (tensor, buffer, opcode) points past the end of its table.
    IndexOutOfRange {
        /// Position of the operator that holds the index, if any.
        index: Option<usize>,
        /// The kind of index, e.g. `"tensor"`.
        what: &'static str,
        /// The index found.
        value: i64,
        /// Length of the table it indexes.
        len: usize,
    },
    /// A tensor has a type other than the one the operator needs.
    TensorType {
        /// Position of the operator.
        index: usize,
        /// The tensor's name.
        tensor: String,
        /// The type needed.
        expected: &'static str,
        /// The type found.
        found: String,
    },
    /// A tensor's shape is not one the operator accepts.
    Shape {
        /// Position of the operator.
        index: usize,
        /// The tensor's name.
        tensor: String,
        /// The shape found (empty when missing).
        shape: Vec<i32>,
        /// What is expected.
        expected: String,
    },
    /// A tensor's quantisation parameters are missing or unsupported.
    Quantization {
        /// Position of the operator.
        index: usize,
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// A constant tensor (weights or bias) has no data, or data of the wrong length.
    TensorData {
        /// Position of the operator.
        index: usize,
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
}

impl fmt::Display for TfliteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TfliteError::NotTflite => {
                write!(f, "not a .tflite file (no TFL3 flatbuffer identifier)")
            }
            TfliteError::Malformed { reason } => write!(f, "malformed .tflite file: {reason}"),
            TfliteError::SubgraphCount { count } => {
                write!(
                    f,
                    "the model has {count} subgraphs; mote imports exactly one"
                )
            }
            TfliteError::GraphArity { inputs, outputs } => write!(
                f,
                "the subgraph has {inputs} inputs and {outputs} outputs; mote imports one of each"
            ),
            TfliteError::NoOperators => write!(f, "the subgraph has no operators"),
            TfliteError::UnsupportedOp { index, name } => write!(
                f,
                "operator {index} is {name}, which mote does not support \
                 (supported: FULLY_CONNECTED, LOGISTIC, TANH, SOFTMAX)"
            ),
            TfliteError::UnsupportedActivation { index, name } => write!(
                f,
                "operator {index} (FULLY_CONNECTED) fuses activation {name}, which mote does not \
                 support (supported: NONE, RELU, RELU6)"
            ),
            TfliteError::UnsupportedOption { index, op, reason } => {
                write!(f, "operator {index} ({op}): {reason}")
            }
            TfliteError::NotLinear { index } => write!(
                f,
                "operator {index} breaks the chain: mote imports a linear chain of operators \
                 from the graph input to the graph output"
            ),
            TfliteError::IndexOutOfRange {
                index,
                what,
                value,
                len,
            } => {
                if let Some(index) = index {
                    write!(f, "operator {index}: ")?;
                }
                write!(
                    f,
                    "{what} index {value} is out of range (the table has {len} entries)"
                )
            }
            TfliteError::TensorType {
                index,
                tensor,
                expected,
                found,
            } => write!(
                f,
                "operator {index}: tensor '{tensor}' has type {found}; mote needs {expected}"
            ),
            TfliteError::Shape {
                index,
                tensor,
                shape,
                expected,
            } => write!(
                f,
                "operator {index}: tensor '{tensor}' has shape {shape:?}; mote needs {expected}"
            ),
            TfliteError::Quantization {
                index,
                tensor,
                reason,
            } => {
                write!(f, "operator {index}: tensor '{tensor}': {reason}")
            }
            TfliteError::TensorData {
                index,
                tensor,
                reason,
            } => {
                write!(f, "operator {index}: tensor '{tensor}': {reason}")
            }
        }
    }
}

impl std::error::Error for TfliteError {}

/// Imports an int8 `.tflite` model (see the [module docs](self) for what is accepted).
pub fn import(bytes: &[u8]) -> Result<QuantGraph, TfliteError> {
    // Checked by hand: `flatbuffers::buffer_has_identifier` panics on short input.
    if bytes.get(4..8) != Some(b"TFL3".as_slice()) {
        return Err(TfliteError::NotTflite);
    }
    let model = schema::model(bytes).map_err(|e| TfliteError::Malformed {
        reason: e.to_string(),
    })?;
    Importer::new(bytes, model)?.run()
}

/// The schema name of a builtin operator code.
fn builtin_name(code: i32) -> String {
    usize::try_from(code)
        .ok()
        .and_then(|c| names::BUILTIN_NAMES.get(c))
        .map_or_else(|| format!("BUILTIN_{code}"), |name| (*name).to_string())
}

fn type_name(code: i8) -> String {
    usize::try_from(code)
        .ok()
        .and_then(|c| TYPE_NAMES.get(c))
        .map_or_else(|| format!("type {code}"), |name| (*name).to_string())
}

struct Importer<'a> {
    bytes: &'a [u8],
    model: Model<'a>,
    tensors: Option<Tables<'a, Tensor<'a>>>,
    operators: Tables<'a, Operator<'a>>,
    input: i32,
    output: i32,
}

/// A tensor with its index and name, for messages.
#[derive(Clone, Copy)]
struct TensorRef<'a> {
    tensor: Tensor<'a>,
    name: &'a str,
}

impl<'a> Importer<'a> {
    fn new(bytes: &'a [u8], model: Model<'a>) -> Result<Self, TfliteError> {
        let subgraphs = model.subgraphs();
        let count = subgraphs.map_or(0, |s| s.len());
        let subgraph = match subgraphs {
            Some(s) if count == 1 => s.get(0),
            _ => return Err(TfliteError::SubgraphCount { count }),
        };
        let inputs = subgraph
            .inputs()
            .map(|v| v.iter().collect::<Vec<i32>>())
            .unwrap_or_default();
        let outputs = subgraph
            .outputs()
            .map(|v| v.iter().collect::<Vec<i32>>())
            .unwrap_or_default();
        let (input, output) = match (inputs.as_slice(), outputs.as_slice()) {
            ([input], [output]) => (*input, *output),
            _ => {
                return Err(TfliteError::GraphArity {
                    inputs: inputs.len(),
                    outputs: outputs.len(),
                })
            }
        };
        let operators = match subgraph.operators() {
            Some(ops) if !ops.is_empty() => ops,
            _ => return Err(TfliteError::NoOperators),
        };
        Ok(Importer {
            bytes,
            model,
            tensors: subgraph.tensors(),
            operators,
            input,
            output,
        })
    }

    fn run(&self) -> Result<QuantGraph, TfliteError> {
        let mut ops = Vec::with_capacity(self.operators.len());
        let mut current = self.input;
        let mut input_len = 0;
        let mut input_quant = QuantParams {
            scale: 0.0,
            zero_point: 0,
        };
        for (index, op) in self.operators.iter().enumerate() {
            let code = self.builtin_code(index, &op)?;
            let name: &'static str = match code {
                FULLY_CONNECTED => "FULLY_CONNECTED",
                LOGISTIC => "LOGISTIC",
                TANH => "TANH",
                SOFTMAX => "SOFTMAX",
                _ => {
                    return Err(TfliteError::UnsupportedOp {
                        index,
                        name: builtin_name(code),
                    })
                }
            };
            let inputs: Vec<i32> = op.inputs().map(|v| v.iter().collect()).unwrap_or_default();
            let outputs: Vec<i32> = op.outputs().map(|v| v.iter().collect()).unwrap_or_default();
            if inputs.first() != Some(&current) {
                return Err(TfliteError::NotLinear { index });
            }
            let out_index = match outputs.as_slice() {
                [o] => *o,
                _ => {
                    return Err(TfliteError::UnsupportedOption {
                        index,
                        op: name,
                        reason: format!("{} outputs; mote needs exactly one", outputs.len()),
                    })
                }
            };
            let x = self.tensor(index, current)?;
            let y = self.tensor(index, out_index)?;
            let x_quant = self.activation_quant(index, x)?;
            let y_quant = self.activation_quant(index, y)?;
            let x_len = vector_len(index, x)?;
            let y_len = vector_len(index, y)?;
            if index == 0 {
                input_len = x_len;
                input_quant = x_quant;
            }
            let quant_op = match code {
                FULLY_CONNECTED => {
                    if !(2..=3).contains(&inputs.len()) {
                        return Err(TfliteError::UnsupportedOption {
                            index,
                            op: name,
                            reason: format!(
                                "{} inputs; FULLY_CONNECTED takes input, weights and an optional \
                                 bias",
                                inputs.len()
                            ),
                        });
                    }
                    let bias = inputs.get(2).copied().filter(|&b| b >= 0);
                    QuantOp::FullyConnected(
                        self.dense(index, &op, x_len, x_quant, inputs[1], bias, y_len, y_quant)?,
                    )
                }
                _ => {
                    if inputs.len() != 1 {
                        return Err(TfliteError::UnsupportedOption {
                            index,
                            op: name,
                            reason: format!("{} inputs; {name} takes one", inputs.len()),
                        });
                    }
                    if x_len != y_len {
                        return Err(TfliteError::Shape {
                            index,
                            tensor: y.name.to_string(),
                            shape: shape_of(y),
                            expected: format!("{x_len} elements like the input"),
                        });
                    }
                    let (scale, zero_point) = if code == TANH {
                        (1.0 / 128.0, 0)
                    } else {
                        (1.0 / 256.0, -128)
                    };
                    if y_quant.scale != scale || y_quant.zero_point != zero_point {
                        return Err(TfliteError::Quantization {
                            index,
                            tensor: y.name.to_string(),
                            reason: format!(
                                "{name} output has scale {} and zero point {}; LiteRT requires \
                                 scale {scale} and zero point {zero_point}",
                                y_quant.scale, y_quant.zero_point
                            ),
                        });
                    }
                    match code {
                        LOGISTIC => QuantOp::Logistic {
                            len: x_len,
                            input: x_quant,
                            output: y_quant,
                        },
                        TANH => QuantOp::Tanh {
                            len: x_len,
                            input: x_quant,
                            output: y_quant,
                        },
                        _ => {
                            let beta = op.softmax_options().map_or(0.0, |o| o.beta());
                            if !(beta.is_finite() && beta > 0.0) {
                                return Err(TfliteError::UnsupportedOption {
                                    index,
                                    op: name,
                                    reason: format!("softmax beta {beta}; mote needs beta > 0"),
                                });
                            }
                            QuantOp::Softmax {
                                len: x_len,
                                input: x_quant,
                                output: y_quant,
                                beta,
                            }
                        }
                    }
                }
            };
            ops.push(quant_op);
            current = out_index;
        }
        if current != self.output {
            return Err(TfliteError::NotLinear {
                index: self.operators.len() - 1,
            });
        }
        Ok(QuantGraph {
            input_len,
            input: input_quant,
            input_transform: None,
            ops,
        })
    }

    fn builtin_code(&self, index: usize, op: &Operator<'a>) -> Result<i32, TfliteError> {
        let codes = self.model.operator_codes();
        let len = codes.map_or(0, |c| c.len());
        let at = op.opcode_index();
        match codes {
            Some(codes) if (at as usize) < len => Ok(codes.get(at as usize).builtin_code()),
            _ => Err(TfliteError::IndexOutOfRange {
                index: Some(index),
                what: "opcode",
                value: i64::from(at),
                len,
            }),
        }
    }

    fn tensor(&self, index: usize, at: i32) -> Result<TensorRef<'a>, TfliteError> {
        let len = self.tensors.map_or(0, |t| t.len());
        match (self.tensors, usize::try_from(at)) {
            (Some(tensors), Ok(i)) if i < len => {
                let tensor = tensors.get(i);
                Ok(TensorRef {
                    tensor,
                    name: tensor.name().unwrap_or("<unnamed>"),
                })
            }
            _ => Err(TfliteError::IndexOutOfRange {
                index: Some(index),
                what: "tensor",
                value: i64::from(at),
                len,
            }),
        }
    }

    /// The data of a constant tensor, `Ok(None)` when it has none.
    fn data(&self, index: usize, t: TensorRef<'a>) -> Result<Option<&'a [u8]>, TfliteError> {
        let buffers = self.model.buffers();
        let len = buffers.map_or(0, |b| b.len());
        let at = t.tensor.buffer() as usize;
        let buffer: Buffer<'a> = match buffers {
            Some(b) if at < len => b.get(at),
            _ if at == 0 => return Ok(None),
            _ => {
                return Err(TfliteError::IndexOutOfRange {
                    index: Some(index),
                    what: "buffer",
                    value: at as i64,
                    len,
                })
            }
        };
        if let Some(data) = buffer.data().filter(|d| !d.is_empty()) {
            return Ok(Some(data));
        }
        let (offset, size) = (buffer.offset(), buffer.size());
        if offset > 1 {
            // Data outside the flatbuffer (files over 2 GB).
            let start = usize::try_from(offset).ok();
            let end = start
                .zip(usize::try_from(size).ok())
                .and_then(|(s, n)| s.checked_add(n));
            return match start.zip(end).and_then(|(s, e)| self.bytes.get(s..e)) {
                Some(data) => Ok(Some(data)),
                None => Err(TfliteError::TensorData {
                    index,
                    tensor: t.name.to_string(),
                    reason: format!(
                        "external data at offset {offset}, size {size} lies outside the file"
                    ),
                }),
            };
        }
        Ok(None)
    }

    /// Per-tensor int8 quantisation of an activation tensor.
    fn activation_quant(&self, index: usize, t: TensorRef<'a>) -> Result<QuantParams, TfliteError> {
        check_type(index, t, TYPE_INT8, "INT8")?;
        let bad = |reason: String| TfliteError::Quantization {
            index,
            tensor: t.name.to_string(),
            reason,
        };
        let q = t
            .tensor
            .quantization()
            .ok_or_else(|| bad("no quantisation parameters".into()))?;
        let scales: Vec<f32> = q.scale().map(|v| v.iter().collect()).unwrap_or_default();
        let zero_points: Vec<i64> = q
            .zero_point()
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        let (scale, zero_point) = match (scales.as_slice(), zero_points.as_slice()) {
            ([s], [z]) => (*s, *z),
            _ => {
                return Err(bad(format!(
                    "{} scales and {} zero points; an activation needs one of each",
                    scales.len(),
                    zero_points.len()
                )))
            }
        };
        if !(scale.is_finite() && scale > 0.0) {
            return Err(bad(format!("scale {scale} is not a positive number")));
        }
        if !(-128..=127).contains(&zero_point) {
            return Err(bad(format!(
                "zero point {zero_point} is outside the int8 range"
            )));
        }
        Ok(QuantParams {
            scale,
            zero_point: zero_point as i32,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn dense(
        &self,
        index: usize,
        op: &Operator<'a>,
        input_len: usize,
        input: QuantParams,
        weights_at: i32,
        bias_at: Option<i32>,
        output_len: usize,
        output: QuantParams,
    ) -> Result<QuantDense, TfliteError> {
        let unsupported = |reason: String| TfliteError::UnsupportedOption {
            index,
            op: "FULLY_CONNECTED",
            reason,
        };
        let options = op.fully_connected_options();
        let activation = match options.map_or(0, |o| o.fused_activation_function()) {
            0 => FusedActivation::None,
            1 => FusedActivation::Relu,
            3 => FusedActivation::Relu6,
            other => {
                let name = usize::try_from(other)
                    .ok()
                    .and_then(|a| ACTIVATION_NAMES.get(a))
                    .map_or_else(|| format!("code {other}"), |n| (*n).to_string());
                return Err(TfliteError::UnsupportedActivation { index, name });
            }
        };
        let format = options.map_or(0, |o| o.weights_format());
        if format != 0 {
            return Err(unsupported(format!(
                "weights format {format}; mote needs DEFAULT"
            )));
        }

        // Weights: [output_len, input_len], int8, symmetric.
        let w = self.tensor(index, weights_at)?;
        check_type(index, w, TYPE_INT8, "INT8")?;
        let w_shape = shape_of(w);
        if w_shape != [output_len as i32, input_len as i32] {
            return Err(TfliteError::Shape {
                index,
                tensor: w.name.to_string(),
                shape: w_shape,
                expected: format!("[{output_len}, {input_len}]"),
            });
        }
        let count = output_len.checked_mul(input_len);
        let data = self.data(index, w)?;
        let weights: Vec<i8> = match data {
            Some(d) if Some(d.len()) == count => d.iter().map(|&b| b as i8).collect(),
            _ => {
                return Err(TfliteError::TensorData {
                    index,
                    tensor: w.name.to_string(),
                    reason: format!(
                        "{} bytes of weights; the shape needs {}",
                        data.map_or(0, <[u8]>::len),
                        output_len as u64 * input_len as u64
                    ),
                })
            }
        };
        let weight_scales = self.weight_scales(index, w, output_len)?;

        // Bias: [output_len], int32, zero point 0; absent means zeros.
        let bias = match bias_at {
            None => vec![0; output_len],
            Some(at) => {
                let b = self.tensor(index, at)?;
                check_type(index, b, TYPE_INT32, "INT32")?;
                let b_shape = shape_of(b);
                if b_shape != [output_len as i32] {
                    return Err(TfliteError::Shape {
                        index,
                        tensor: b.name.to_string(),
                        shape: b_shape,
                        expected: format!("[{output_len}]"),
                    });
                }
                let data = self.data(index, b)?;
                match data {
                    Some(d) if d.len() == 4 * output_len => d
                        .chunks_exact(4)
                        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                    _ => {
                        return Err(TfliteError::TensorData {
                            index,
                            tensor: b.name.to_string(),
                            reason: format!(
                                "{} bytes of bias; the shape needs {}",
                                data.map_or(0, <[u8]>::len),
                                4 * output_len
                            ),
                        })
                    }
                }
            }
        };
        Ok(QuantDense {
            input_len,
            output_len,
            weights,
            weight_scales,
            bias,
            input,
            output,
            activation,
        })
    }

    /// Scales of a symmetric int8 weight tensor: one per output channel or one for all.
    fn weight_scales(
        &self,
        index: usize,
        w: TensorRef<'a>,
        output_len: usize,
    ) -> Result<Vec<f32>, TfliteError> {
        let bad = |reason: String| TfliteError::Quantization {
            index,
            tensor: w.name.to_string(),
            reason,
        };
        let q = w
            .tensor
            .quantization()
            .ok_or_else(|| bad("no quantisation parameters".into()))?;
        let scales: Vec<f32> = q.scale().map(|v| v.iter().collect()).unwrap_or_default();
        if scales.len() != 1 && scales.len() != output_len {
            return Err(bad(format!(
                "{} scales; weights need one per output channel ({output_len}) or one",
                scales.len()
            )));
        }
        if scales.len() > 1 && q.quantized_dimension() != 0 {
            return Err(bad(format!(
                "quantised along dimension {}; mote needs dimension 0 (output channels)",
                q.quantized_dimension()
            )));
        }
        if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return Err(bad(format!("scale {s} is not a positive number")));
        }
        let zero_points: Vec<i64> = q
            .zero_point()
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        if zero_points.iter().any(|&z| z != 0) {
            return Err(bad(
                "weights are not symmetric (a zero point is not 0)".into()
            ));
        }
        Ok(scales)
    }
}

fn shape_of(t: TensorRef<'_>) -> Vec<i32> {
    t.tensor
        .shape()
        .map(|v| v.iter().collect())
        .unwrap_or_default()
}

fn check_type(
    index: usize,
    t: TensorRef<'_>,
    expected: i8,
    expected_name: &'static str,
) -> Result<(), TfliteError> {
    let found = t.tensor.tensor_type();
    if found == expected {
        Ok(())
    } else {
        Err(TfliteError::TensorType {
            index,
            tensor: t.name.to_string(),
            expected: expected_name,
            found: type_name(found),
        })
    }
}

/// Length of a `[1, N]` or `[N]` activation tensor.
fn vector_len(index: usize, t: TensorRef<'_>) -> Result<usize, TfliteError> {
    let shape = shape_of(t);
    // A vector, possibly behind leading dimensions of 1 (batch, or Keras' keep_num_dims).
    match shape.split_last() {
        Some((&n, leading)) if n > 0 && leading.iter().all(|&d| d == 1) => Ok(n as usize),
        _ => Err(TfliteError::Shape {
            index,
            tensor: t.name.to_string(),
            shape,
            expected: "[N], [1, N] or [1, ..., 1, N]".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGITS_RELU: &[u8] = include_bytes!("../../tests/fixtures/litert/digits_relu.tflite");
    const DIABETES_TANH: &[u8] = include_bytes!("../../tests/fixtures/litert/diabetes_tanh.tflite");
    const CANCER_SOFTMAX: &[u8] =
        include_bytes!("../../tests/fixtures/litert/cancer_softmax.tflite");
    const DIGITS_SOFTMAX_TANH: &[u8] =
        include_bytes!("../../tests/fixtures/litert/digits_softmax_tanh.tflite");
    const UNSUPPORTED_CONV: &[u8] =
        include_bytes!("../../tests/fixtures/litert/unsupported_conv.tflite");

    const ALL: [&[u8]; 5] = [
        DIGITS_RELU,
        DIABETES_TANH,
        CANCER_SOFTMAX,
        DIGITS_SOFTMAX_TANH,
        UNSUPPORTED_CONV,
    ];

    fn kinds(graph: &QuantGraph) -> Vec<&'static str> {
        graph
            .ops
            .iter()
            .map(|op| match op {
                QuantOp::FullyConnected(_) => "FC",
                QuantOp::Logistic { .. } => "LOGISTIC",
                QuantOp::Tanh { .. } => "TANH",
                QuantOp::Softmax { .. } => "SOFTMAX",
            })
            .collect()
    }

    fn dense(op: &QuantOp) -> &QuantDense {
        match op {
            QuantOp::FullyConnected(d) => d,
            other => panic!("expected FULLY_CONNECTED, got {other:?}"),
        }
    }

    /// Every op reads what the previous writes, lengths and quantisation included.
    fn assert_chained(graph: &QuantGraph) {
        let mut len = graph.input_len;
        let mut quant = graph.input;
        for op in &graph.ops {
            assert_eq!(op.input_len(), len);
            assert_eq!(op.input_quant(), quant);
            len = op.output_len();
            quant = op.output_quant();
        }
    }

    #[test]
    fn digits_relu() {
        let g = import(DIGITS_RELU).unwrap();
        assert_eq!(kinds(&g), ["FC", "FC", "FC"]);
        assert_eq!(g.input_len, 64);
        // Pixels scaled to [0, 1]: the converter picks 1/255 with zero point -128.
        assert!((g.input.scale - 1.0 / 255.0).abs() < 1e-7, "{:?}", g.input);
        assert_eq!(g.input.zero_point, -128);
        assert_chained(&g);
        let shapes: Vec<_> = g
            .ops
            .iter()
            .map(|op| (op.input_len(), op.output_len()))
            .collect();
        assert_eq!(shapes, [(64, 32), (32, 16), (16, 10)]);
        let acts: Vec<_> = g.ops.iter().map(|op| dense(op).activation).collect();
        assert_eq!(
            acts,
            [
                FusedActivation::Relu,
                FusedActivation::Relu6,
                FusedActivation::None
            ]
        );
        for op in &g.ops {
            let d = dense(op);
            // TF 2.21 quantises per channel.
            assert_eq!(d.weight_scales.len(), d.output_len);
            assert_eq!(d.weights.len(), d.input_len * d.output_len);
            assert_eq!(d.bias.len(), d.output_len);
            assert!(
                d.weights.iter().all(|&w| w >= -127),
                "symmetric weights reach -128"
            );
            // Per-channel symmetric quantisation uses the full range in every row.
            for row in d.weights.chunks(d.input_len) {
                assert_eq!(row.iter().map(|w| w.unsigned_abs()).max(), Some(127));
            }
        }
        // A ReLU output's zero point sits at the bottom of the range.
        assert_eq!(dense(&g.ops[0]).output.zero_point, -128);
    }

    #[test]
    fn diabetes_tanh() {
        let g = import(DIABETES_TANH).unwrap();
        assert_eq!(kinds(&g), ["FC", "TANH", "FC", "LOGISTIC", "FC"]);
        assert_eq!(g.input_len, 10);
        assert_chained(&g);
        assert_eq!(g.ops.last().unwrap().output_len(), 1);
        let tanh = g.ops[1].output_quant();
        assert_eq!((tanh.scale, tanh.zero_point), (1.0 / 128.0, 0));
        let logistic = g.ops[3].output_quant();
        assert_eq!((logistic.scale, logistic.zero_point), (1.0 / 256.0, -128));
        assert_eq!(g.ops[1].input_len(), 16);
        assert_eq!(g.ops[3].input_len(), 8);
    }

    #[test]
    fn cancer_softmax() {
        let g = import(CANCER_SOFTMAX).unwrap();
        assert_eq!(kinds(&g), ["FC", "FC", "SOFTMAX"]);
        assert_eq!(g.input_len, 30);
        assert_chained(&g);
        match &g.ops[2] {
            QuantOp::Softmax {
                len, output, beta, ..
            } => {
                assert_eq!(*len, 2);
                assert_eq!(*beta, 1.0);
                assert_eq!((output.scale, output.zero_point), (1.0 / 256.0, -128));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn digits_softmax_tanh() {
        let g = import(DIGITS_SOFTMAX_TANH).unwrap();
        assert_eq!(kinds(&g), ["FC", "TANH", "FC", "SOFTMAX"]);
        assert_chained(&g);
        assert_eq!(g.ops.last().unwrap().output_len(), 10);
        assert_eq!(dense(&g.ops[0]).activation, FusedActivation::None);
    }

    #[test]
    fn unsupported_op_is_named() {
        let err = import(UNSUPPORTED_CONV).unwrap_err();
        assert_eq!(
            err,
            TfliteError::UnsupportedOp {
                index: 0,
                name: "CONV_2D".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "operator 0 is CONV_2D, which mote does not support \
             (supported: FULLY_CONNECTED, LOGISTIC, TANH, SOFTMAX)"
        );
    }

    #[test]
    fn not_tflite() {
        assert_eq!(import(b""), Err(TfliteError::NotTflite));
        assert_eq!(import(b"\x10\0\0\0MOTE...."), Err(TfliteError::NotTflite));
    }

    #[test]
    fn builtin_names() {
        assert_eq!(builtin_name(3), "CONV_2D");
        assert_eq!(builtin_name(FULLY_CONNECTED), "FULLY_CONNECTED");
        assert_eq!(builtin_name(LOGISTIC), "LOGISTIC");
        assert_eq!(builtin_name(SOFTMAX), "SOFTMAX");
        assert_eq!(builtin_name(TANH), "TANH");
        assert_eq!(builtin_name(-1), "BUILTIN_-1");
        assert_eq!(builtin_name(100_000), "BUILTIN_100000");
    }

    /// Every truncation of every fixture is an error or a graph, never a panic.
    #[test]
    fn truncated_files_do_not_panic() {
        for bytes in ALL {
            for len in 0..bytes.len() {
                let _ = import(&bytes[..len]);
            }
        }
    }

    /// Deterministic bit flips and byte overwrites all over every fixture never panic.
    #[test]
    fn corrupted_files_do_not_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for bytes in ALL {
            let mut buf = bytes.to_vec();
            // Every bit of the first 256 bytes (root offset, vtables, the first tables).
            for i in 0..buf.len().min(256) * 8 {
                buf[i / 8] ^= 1 << (i % 8);
                let _ = import(&buf);
                buf[i / 8] ^= 1 << (i % 8);
            }
            // Random multi-byte damage everywhere.
            for _ in 0..3000 {
                let mut damaged = bytes.to_vec();
                for _ in 0..1 + next() % 4 {
                    let at = (next() % damaged.len() as u64) as usize;
                    damaged[at] = match next() % 3 {
                        0 => damaged[at] ^ (1 << (next() % 8)),
                        1 => 0xff,
                        _ => next() as u8,
                    };
                }
                let _ = import(&damaged);
            }
        }
    }

    #[test]
    fn errors_display() {
        let e = TfliteError::UnsupportedActivation {
            index: 2,
            name: "TANH".into(),
        };
        assert!(e
            .to_string()
            .contains("operator 2 (FULLY_CONNECTED) fuses activation TANH"));
        let e = TfliteError::Malformed { reason: "x".into() };
        assert_eq!(e.to_string(), "malformed .tflite file: x");
    }
}
