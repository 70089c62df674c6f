//! [`QuantGraph`]: a quantised int8 network in real-number terms (scales and zero points), the
//! meeting point of every importer and of post-training quantisation. Lowering it to the
//! runtime's fixed-point layers is [`crate::lower`]'s job.

pub use mote_runtime::manifest::FusedActivation;
pub use mote_runtime::QuantParams;

/// A chain of int8 ops from one input vector to one output vector.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantGraph {
    /// Elements of the input vector.
    pub input_len: usize,
    /// Quantisation of the input.
    pub input: QuantParams,
    /// Per-feature map applied to real features before quantisation, if any.
    pub input_transform: Option<InputTransform>,
    /// The ops in order; op `i + 1` reads what op `i` writes.
    pub ops: Vec<QuantOp>,
}

/// `x_i ↦ (x_i − offset_i) · scale_i`, one pair per input feature: lets features of very
/// different ranges share one int8 input tensor (the model's first layer absorbs the inverse).
#[derive(Debug, Clone, PartialEq)]
pub struct InputTransform {
    /// Subtracted from each feature.
    pub offset: Vec<f32>,
    /// Then multiplied with it.
    pub scale: Vec<f32>,
}

/// One int8 op with the quantisation of its input and output tensors.
#[derive(Debug, Clone, PartialEq)]
pub enum QuantOp {
    /// Fully connected with per-channel (or per-tensor) symmetric int8 weights.
    FullyConnected(QuantDense),
    /// Logistic (sigmoid); LiteRT requires output scale 1/256 and zero point -128.
    Logistic {
        /// Elements in and out.
        len: usize,
        /// Input quantisation.
        input: QuantParams,
        /// Output quantisation.
        output: QuantParams,
    },
    /// Hyperbolic tangent; LiteRT requires output scale 1/128 and zero point 0.
    Tanh {
        /// Elements in and out.
        len: usize,
        /// Input quantisation.
        input: QuantParams,
        /// Output quantisation.
        output: QuantParams,
    },
    /// Softmax with temperature `beta`; LiteRT requires output scale 1/256, zero point -128.
    Softmax {
        /// Elements in and out.
        len: usize,
        /// Input quantisation.
        input: QuantParams,
        /// Output quantisation.
        output: QuantParams,
        /// The softmax `beta` (1.0 for a plain softmax).
        beta: f32,
    },
}

/// A quantised fully connected layer, as LiteRT stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantDense {
    /// Elements in.
    pub input_len: usize,
    /// Elements out.
    pub output_len: usize,
    /// `output_len` rows of `input_len` weights, symmetric (zero point 0).
    pub weights: Vec<i8>,
    /// One scale per output channel, or a single scale for the whole tensor.
    pub weight_scales: Vec<f32>,
    /// `output_len` biases with scale `input.scale · weight_scale`, zero point 0.
    pub bias: Vec<i32>,
    /// Input quantisation.
    pub input: QuantParams,
    /// Output quantisation.
    pub output: QuantParams,
    /// The fused activation.
    pub activation: FusedActivation,
}

impl QuantOp {
    /// Elements the op writes.
    pub fn output_len(&self) -> usize {
        match self {
            QuantOp::FullyConnected(d) => d.output_len,
            QuantOp::Logistic { len, .. } | QuantOp::Tanh { len, .. } => *len,
            QuantOp::Softmax { len, .. } => *len,
        }
    }

    /// Elements the op reads.
    pub fn input_len(&self) -> usize {
        match self {
            QuantOp::FullyConnected(d) => d.input_len,
            QuantOp::Logistic { len, .. } | QuantOp::Tanh { len, .. } => *len,
            QuantOp::Softmax { len, .. } => *len,
        }
    }

    /// Quantisation of the op's input.
    pub fn input_quant(&self) -> QuantParams {
        match self {
            QuantOp::FullyConnected(d) => d.input,
            QuantOp::Logistic { input, .. }
            | QuantOp::Tanh { input, .. }
            | QuantOp::Softmax { input, .. } => *input,
        }
    }

    /// Quantisation of the op's output.
    pub fn output_quant(&self) -> QuantParams {
        match self {
            QuantOp::FullyConnected(d) => d.output,
            QuantOp::Logistic { output, .. }
            | QuantOp::Tanh { output, .. }
            | QuantOp::Softmax { output, .. } => *output,
        }
    }
}
