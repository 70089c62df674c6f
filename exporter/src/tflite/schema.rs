//! Hand-written, read-only views of the few TFLite schema tables the importer needs.
//!
//! Field slots (vtable offsets) follow `schema.fbs` as generated into `schema_py_generated.py`
//! of `ai-edge-litert` 2.3: slot `4 + 2·k` is the `k`-th field of a table.
//!
//! Soundness: every accessor reads a field that the table's [`Verifiable`] impl right next to it
//! visits, and the only way in is [`model`], which runs `flatbuffers::Verifier` over everything
//! reachable through those fields first. Fields the importer never reads are never verified
//! and have no accessor. Vectors are only indexed through the bounds-checked helpers in the
//! importer, never with `Vector::get` on an unchecked index.

use flatbuffers::{
    Follow, ForwardsUOffset, InvalidFlatbuffer, Table, Vector, Verifiable, Verifier,
    VerifierOptions,
};

type Result<T> = core::result::Result<T, InvalidFlatbuffer>;

/// A vector of tables.
pub(crate) type Tables<'a, T> = Vector<'a, ForwardsUOffset<T>>;

macro_rules! table {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy)]
        pub(crate) struct $name<'a>(Table<'a>);

        impl<'a> Follow<'a> for $name<'a> {
            type Inner = $name<'a>;
            #[inline]
            unsafe fn follow(buf: &'a [u8], loc: usize) -> Self::Inner {
                // SAFETY: forwarded contract of `Follow::follow`.
                $name(unsafe { Table::new(buf, loc) })
            }
        }
    };
}

/// Reads field `slot` of a verified table.
macro_rules! field {
    ($self:ident, $ty:ty, $slot:expr, $default:expr) => {
        // SAFETY: the table's `Verifiable` impl visited `$slot` with type `$ty`.
        unsafe { $self.0.get::<$ty>($slot, $default) }
    };
}

/// Verifies and returns the `Model` root of a `.tflite` file.
pub(crate) fn model(bytes: &[u8]) -> Result<Model<'_>> {
    flatbuffers::root_with_opts::<Model>(&VerifierOptions::default(), bytes)
}

table!(
    /// `table Model`.
    Model
);

impl<'a> Model<'a> {
    const OPERATOR_CODES: u16 = 6;
    const SUBGRAPHS: u16 = 8;
    const BUFFERS: u16 = 12;

    pub(crate) fn operator_codes(&self) -> Option<Tables<'a, OperatorCode<'a>>> {
        field!(
            self,
            ForwardsUOffset<Tables<'a, OperatorCode<'a>>>,
            Self::OPERATOR_CODES,
            None
        )
    }

    pub(crate) fn subgraphs(&self) -> Option<Tables<'a, SubGraph<'a>>> {
        field!(
            self,
            ForwardsUOffset<Tables<'a, SubGraph<'a>>>,
            Self::SUBGRAPHS,
            None
        )
    }

    pub(crate) fn buffers(&self) -> Option<Tables<'a, Buffer<'a>>> {
        field!(
            self,
            ForwardsUOffset<Tables<'a, Buffer<'a>>>,
            Self::BUFFERS,
            None
        )
    }
}

impl Verifiable for Model<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<()> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Tables<OperatorCode>>>(
                "operator_codes",
                Self::OPERATOR_CODES,
                false,
            )?
            .visit_field::<ForwardsUOffset<Tables<SubGraph>>>("subgraphs", Self::SUBGRAPHS, false)?
            .visit_field::<ForwardsUOffset<Tables<Buffer>>>("buffers", Self::BUFFERS, false)?
            .finish();
        Ok(())
    }
}

table!(
    /// `table OperatorCode`.
    OperatorCode
);

impl OperatorCode<'_> {
    const DEPRECATED_BUILTIN_CODE: u16 = 4;
    const BUILTIN_CODE: u16 = 10;

    /// The builtin operator, read as LiteRT does: the larger of the deprecated `int8` field
    /// (codes below 127) and the newer `int32` field.
    pub(crate) fn builtin_code(&self) -> i32 {
        let old = field!(self, i8, Self::DEPRECATED_BUILTIN_CODE, Some(0)).unwrap_or(0);
        let new = field!(self, i32, Self::BUILTIN_CODE, Some(0)).unwrap_or(0);
        i32::from(old).max(new)
    }
}

impl Verifiable for OperatorCode<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<()> {
        v.visit_table(pos)?
            .visit_field::<i8>(
                "deprecated_builtin_code",
                Self::DEPRECATED_BUILTIN_CODE,
                false,
            )?
            .visit_field::<i32>("builtin_code", Self::BUILTIN_CODE, false)?
            .finish();
        Ok(())
    }
}

table!(
    /// `table SubGraph`.
    SubGraph
);

impl<'a> SubGraph<'a> {
    const TENSORS: u16 = 4;
    const INPUTS: u16 = 6;
    const OUTPUTS: u16 = 8;
    const OPERATORS: u16 = 10;

    pub(crate) fn tensors(&self) -> Option<Tables<'a, Tensor<'a>>> {
        field!(
            self,
            ForwardsUOffset<Tables<'a, Tensor<'a>>>,
            Self::TENSORS,
            None
        )
    }

    pub(crate) fn inputs(&self) -> Option<Vector<'a, i32>> {
        field!(self, ForwardsUOffset<Vector<'a, i32>>, Self::INPUTS, None)
    }

    pub(crate) fn outputs(&self) -> Option<Vector<'a, i32>> {
        field!(self, ForwardsUOffset<Vector<'a, i32>>, Self::OUTPUTS, None)
    }

    pub(crate) fn operators(&self) -> Option<Tables<'a, Operator<'a>>> {
        field!(
            self,
            ForwardsUOffset<Tables<'a, Operator<'a>>>,
            Self::OPERATORS,
            None
        )
    }
}

impl Verifiable for SubGraph<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<()> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Tables<Tensor>>>("tensors", Self::TENSORS, false)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("inputs", Self::INPUTS, false)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("outputs", Self::OUTPUTS, false)?
            .visit_field::<ForwardsUOffset<Tables<Operator>>>("operators", Self::OPERATORS, false)?
            .finish();
        Ok(())
    }
}

table!(
    /// `table Tensor`.
    Tensor
);

impl<'a> Tensor<'a> {
    const SHAPE: u16 = 4;
    const TYPE: u16 = 6;
    const BUFFER: u16 = 8;
    const NAME: u16 = 10;
    const QUANTIZATION: u16 = 12;

    pub(crate) fn shape(&self) -> Option<Vector<'a, i32>> {
        field!(self, ForwardsUOffset<Vector<'a, i32>>, Self::SHAPE, None)
    }

    /// The `TensorType` code (`FLOAT32 = 0` is the schema default).
    pub(crate) fn tensor_type(&self) -> i8 {
        field!(self, i8, Self::TYPE, Some(0)).unwrap_or(0)
    }

    /// Index into `Model.buffers`; 0 is the empty sentinel buffer.
    pub(crate) fn buffer(&self) -> u32 {
        field!(self, u32, Self::BUFFER, Some(0)).unwrap_or(0)
    }

    pub(crate) fn name(&self) -> Option<&'a str> {
        field!(self, ForwardsUOffset<&'a str>, Self::NAME, None)
    }

    pub(crate) fn quantization(&self) -> Option<QuantizationParameters<'a>> {
        field!(
            self,
            ForwardsUOffset<QuantizationParameters<'a>>,
            Self::QUANTIZATION,
            None
        )
    }
}

impl Verifiable for Tensor<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<()> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("shape", Self::SHAPE, false)?
            .visit_field::<i8>("type", Self::TYPE, false)?
            .visit_field::<u32>("buffer", Self::BUFFER, false)?
            .visit_field::<ForwardsUOffset<&str>>("name", Self::NAME, false)?
            .visit_field::<ForwardsUOffset<QuantizationParameters>>(
                "quantization",
                Self::QUANTIZATION,
                false,
            )?
            .finish();
        Ok(())
    }
}

table!(
    /// `table QuantizationParameters`.
    QuantizationParameters
);

impl<'a> QuantizationParameters<'a> {
    const SCALE: u16 = 8;
    const ZERO_POINT: u16 = 10;
    const QUANTIZED_DIMENSION: u16 = 16;

    pub(crate) fn scale(&self) -> Option<Vector<'a, f32>> {
        field!(self, ForwardsUOffset<Vector<'a, f32>>, Self::SCALE, None)
    }

    pub(crate) fn zero_point(&self) -> Option<Vector<'a, i64>> {
        field!(
            self,
            ForwardsUOffset<Vector<'a, i64>>,
            Self::ZERO_POINT,
            None
        )
    }

    pub(crate) fn quantized_dimension(&self) -> i32 {
        field!(self, i32, Self::QUANTIZED_DIMENSION, Some(0)).unwrap_or(0)
    }
}

impl Verifiable for QuantizationParameters<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<()> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Vector<f32>>>("scale", Self::SCALE, false)?
            .visit_field::<ForwardsUOffset<Vector<i64>>>("zero_point", Self::ZERO_POINT, false)?
            .visit_field::<i32>("quantized_dimension", Self::QUANTIZED_DIMENSION, false)?
            .finish();
        Ok(())
    }
}

table!(
    /// `table Buffer`.
    Buffer
);

impl<'a> Buffer<'a> {
    const DATA: u16 = 4;
    const OFFSET: u16 = 6;
    const SIZE: u16 = 8;

    pub(crate) fn data(&self) -> Option<&'a [u8]> {
        field!(self, ForwardsUOffset<Vector<'a, u8>>, Self::DATA, None).map(|v| v.bytes())
    }

    /// Position of the data in the file when it lives outside the flatbuffer (files over 2 GB);
    /// 0 or 1 when it does not.
    pub(crate) fn offset(&self) -> u64 {
        field!(self, u64, Self::OFFSET, Some(0)).unwrap_or(0)
    }

    /// Length of the out-of-flatbuffer data.
    pub(crate) fn size(&self) -> u64 {
        field!(self, u64, Self::SIZE, Some(0)).unwrap_or(0)
    }
}

impl Verifiable for Buffer<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<()> {
        v.visit_table(pos)?
            .visit_field::<ForwardsUOffset<Vector<u8>>>("data", Self::DATA, false)?
            .visit_field::<u64>("offset", Self::OFFSET, false)?
            .visit_field::<u64>("size", Self::SIZE, false)?
            .finish();
        Ok(())
    }
}

/// `BuiltinOptions.FullyConnectedOptions`.
pub(crate) const OPTIONS_FULLY_CONNECTED: u8 = 8;
/// `BuiltinOptions.SoftmaxOptions`.
pub(crate) const OPTIONS_SOFTMAX: u8 = 9;

table!(
    /// `table Operator`.
    Operator
);

impl<'a> Operator<'a> {
    const OPCODE_INDEX: u16 = 4;
    const INPUTS: u16 = 6;
    const OUTPUTS: u16 = 8;
    const BUILTIN_OPTIONS_TYPE: u16 = 10;
    const BUILTIN_OPTIONS: u16 = 12;

    pub(crate) fn opcode_index(&self) -> u32 {
        field!(self, u32, Self::OPCODE_INDEX, Some(0)).unwrap_or(0)
    }

    pub(crate) fn inputs(&self) -> Option<Vector<'a, i32>> {
        field!(self, ForwardsUOffset<Vector<'a, i32>>, Self::INPUTS, None)
    }

    pub(crate) fn outputs(&self) -> Option<Vector<'a, i32>> {
        field!(self, ForwardsUOffset<Vector<'a, i32>>, Self::OUTPUTS, None)
    }

    fn builtin_options_type(&self) -> u8 {
        field!(self, u8, Self::BUILTIN_OPTIONS_TYPE, Some(0)).unwrap_or(0)
    }

    pub(crate) fn fully_connected_options(&self) -> Option<FullyConnectedOptions<'a>> {
        if self.builtin_options_type() != OPTIONS_FULLY_CONNECTED {
            return None;
        }
        field!(
            self,
            ForwardsUOffset<FullyConnectedOptions<'a>>,
            Self::BUILTIN_OPTIONS,
            None
        )
    }

    pub(crate) fn softmax_options(&self) -> Option<SoftmaxOptions<'a>> {
        if self.builtin_options_type() != OPTIONS_SOFTMAX {
            return None;
        }
        field!(
            self,
            ForwardsUOffset<SoftmaxOptions<'a>>,
            Self::BUILTIN_OPTIONS,
            None
        )
    }
}

impl Verifiable for Operator<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<()> {
        let mut t = v
            .visit_table(pos)?
            .visit_field::<u32>("opcode_index", Self::OPCODE_INDEX, false)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("inputs", Self::INPUTS, false)?
            .visit_field::<ForwardsUOffset<Vector<i32>>>("outputs", Self::OUTPUTS, false)?
            .visit_field::<u8>("builtin_options_type", Self::BUILTIN_OPTIONS_TYPE, false)?;
        // The union by hand: only the two option tables the importer reads are verified (and
        // only they have accessors), and an explicit `NONE` key without a value is accepted.
        let kind = match t.deref(Self::BUILTIN_OPTIONS_TYPE)? {
            Some(key) => t.verifier().get_u8(key)?,
            None => 0,
        };
        if let Some(value) = t.deref(Self::BUILTIN_OPTIONS)? {
            match kind {
                OPTIONS_FULLY_CONNECTED => {
                    ForwardsUOffset::<FullyConnectedOptions>::run_verifier(t.verifier(), value)?
                }
                OPTIONS_SOFTMAX => {
                    ForwardsUOffset::<SoftmaxOptions>::run_verifier(t.verifier(), value)?
                }
                _ => {}
            }
        }
        t.finish();
        Ok(())
    }
}

table!(
    /// `table FullyConnectedOptions`.
    FullyConnectedOptions
);

impl FullyConnectedOptions<'_> {
    const FUSED_ACTIVATION_FUNCTION: u16 = 4;
    const WEIGHTS_FORMAT: u16 = 6;
    const KEEP_NUM_DIMS: u16 = 8;

    /// The `ActivationFunctionType` code (`NONE = 0` by default).
    pub(crate) fn fused_activation_function(&self) -> i8 {
        field!(self, i8, Self::FUSED_ACTIVATION_FUNCTION, Some(0)).unwrap_or(0)
    }

    /// The `FullyConnectedOptionsWeightsFormat` code (`DEFAULT = 0`).
    pub(crate) fn weights_format(&self) -> i8 {
        field!(self, i8, Self::WEIGHTS_FORMAT, Some(0)).unwrap_or(0)
    }
}

impl Verifiable for FullyConnectedOptions<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<()> {
        v.visit_table(pos)?
            .visit_field::<i8>(
                "fused_activation_function",
                Self::FUSED_ACTIVATION_FUNCTION,
                false,
            )?
            .visit_field::<i8>("weights_format", Self::WEIGHTS_FORMAT, false)?
            .visit_field::<bool>("keep_num_dims", Self::KEEP_NUM_DIMS, false)?
            .finish();
        Ok(())
    }
}

table!(
    /// `table SoftmaxOptions`.
    SoftmaxOptions
);

impl SoftmaxOptions<'_> {
    const BETA: u16 = 4;

    pub(crate) fn beta(&self) -> f32 {
        field!(self, f32, Self::BETA, Some(0.0)).unwrap_or(0.0)
    }
}

impl Verifiable for SoftmaxOptions<'_> {
    fn run_verifier(v: &mut Verifier, pos: usize) -> Result<()> {
        v.visit_table(pos)?
            .visit_field::<f32>("beta", Self::BETA, false)?
            .finish();
        Ok(())
    }
}
