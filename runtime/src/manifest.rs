//! The manifest: what the blob holds, encoded with postcard right after the header.
//!
//! These types are shared with the exporter, which serialises them with serde and postcard; the
//! runtime decodes the same wire format with a small hand-written reader (`crate::wire`),
//! borrowing strings from the blob, so that an MLP firmware links no serde deserialisation code.
//! The `Deserialize` derives stay for host tools and the GP, moderation and recommender specs.

use crate::header::{Header, HEADER_LEN};
use crate::wire::Reader;
use crate::Error;
use serde::{Deserialize, Serialize};

/// Checks `blob`'s header (magic, version, length, CRC) and decodes the manifest after it: what
/// every model kind's parser does first. Returns the header, the manifest and the bytes that
/// follow it inside the manifest region (the layers, or a GP spec).
pub fn decode<'a>(blob: &'a [u8]) -> Result<(Header, Manifest<'a>, &'a [u8]), Error> {
    let header = Header::parse(blob)?;
    let manifest_end = HEADER_LEN
        .checked_add(header.manifest_len as usize)
        .ok_or(Error::ManifestOutOfBounds)?;
    let manifest_bytes = blob
        .get(HEADER_LEN..manifest_end)
        .ok_or(Error::ManifestOutOfBounds)?;
    let mut reader = Reader::new(manifest_bytes);
    let manifest = Manifest::read(&mut reader)?;
    Ok((header, manifest, reader.rest()))
}

/// Most layers a model may have (bounds the work of parsing; a parsed [`crate::Model`] keeps
/// its layers encoded in the blob, so its size does not depend on this).
pub const MAX_LAYERS: usize = 256;
/// Most metrics a blob's provenance may record.
pub const MAX_METRICS: usize = 16;
/// Largest length of any one tensor (elements).
pub const MAX_DIM: u32 = 1 << 20;

/// Everything the runtime needs to know about a blob besides the layers and the tensor bytes.
///
/// In the blob the layers follow this struct as a postcard sequence of [`Layer`] (see
/// `FORMAT.md`); the runtime decodes them one at a time ([`Layers`]) so that a parsed model
/// stays small whatever its depth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest<'a> {
    /// Which family of model this is.
    pub kind: ModelKind,
    /// The model input: length and quantisation.
    pub input: TensorInfo,
    /// Optional per-feature affine map applied to real-valued features before they are
    /// quantised (see [`crate::Model::quantize_input`]): `input_len` little-endian f32 offsets,
    /// then `input_len` f32 scales; feature `i` becomes `(x_i − offset_i) · scale_i`. It lets
    /// features of very different ranges share one int8 input tensor without losing the small
    /// ones.
    pub input_transform: Option<Section>,
    /// The model output: length and quantisation.
    pub output: TensorInfo,
    /// Bytes of scratch memory `run` needs (see [`crate::plan`]); checked at parse.
    pub arena_len: u32,
    /// Where the model came from.
    pub provenance: Provenance<'a>,
}

/// The model families a blob can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ModelKind {
    /// A feed-forward network of int8 layers; a `seq<Layer>` follows the manifest.
    Mlp,
    /// Code 1: a sparse Gaussian process (predictive mean and variance); a [`GpSpec`] follows
    /// the manifest. Run with [`crate::GpModel`].
    SparseGp,
    /// Code 2: text moderation: the featurizer, an int8 embedding bag and an MLP whose outputs
    /// are per-category scores; a [`crate::moderation::ModerationSpec`] follows the layers.
    Moderation,
    /// Code 3: recommendations: the layers are the user tower; a
    /// [`crate::recommend::RecommenderSpec`] (item embeddings, types, item table, ids) follows
    /// them. Run with [`crate::Recommender`].
    Recommender,
}

/// Affine quantisation of a tensor: `real = scale * (q - zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QuantParams {
    /// Size of one quantisation step.
    pub scale: f32,
    /// The quantised value that stands for real zero, in `-128..=127` for int8.
    pub zero_point: i32,
}

/// Length and quantisation of a model input or output (int8, one dimension).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorInfo {
    /// Number of int8 elements.
    pub len: u32,
    /// Their quantisation.
    pub quant: QuantParams,
}

/// A byte range of the blob holding one tensor, read in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Section {
    /// Offset from the start of the blob; a multiple of 16.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// One layer of an MLP.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Layer {
    /// int8 fully connected layer with per-channel requantisation and a fused clamp.
    FullyConnected(FullyConnected),
    /// int8 logistic (sigmoid); output scale 1/256, zero point -128.
    Logistic(Elementwise),
    /// int8 hyperbolic tangent; output scale 1/128, zero point 0.
    Tanh(Elementwise),
    /// int8 softmax over the whole vector; output scale 1/256, zero point -128.
    Softmax(Softmax),
}

/// The activation fused into a fully connected layer (the clamp is what runs; this names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FusedActivation {
    /// No activation: clamp to the int8 range.
    None,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, 0), 6)`.
    Relu6,
}

/// How a fully connected layer's weights are laid out in their section.
///
/// The exporter picks the layout the target's fastest kernel reads best; every runtime build
/// can run every known layout (the portable kernels read them all). Stored as one byte, so a
/// blob from a newer exporter with a layout this runtime does not know decodes to
/// [`WeightLayout::Unknown`] and parsing refuses it with [`crate::Error::UnsupportedWeightLayout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "u8", into = "u8")]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WeightLayout {
    /// Code 0: `output_len` rows of `input_len` int8 weights (the portable kernels and Helium).
    RowMajor,
    /// Code 1: rows in blocks of four, each block stored as groups of four columns, row by row:
    /// `w[4b..4b+4][4g..4g+4]` is 16 consecutive bytes, four per row. Rows and columns are
    /// padded with zero weights to multiples of four. One pointer then walks a whole block,
    /// which is what the Armv7E-M DSP kernel wants (see `kernels::layout`).
    RowQuads,
    /// A code this runtime does not know (never written by this exporter).
    Unknown(u8),
}

impl From<u8> for WeightLayout {
    fn from(code: u8) -> Self {
        match code {
            0 => WeightLayout::RowMajor,
            1 => WeightLayout::RowQuads,
            other => WeightLayout::Unknown(other),
        }
    }
}

impl From<WeightLayout> for u8 {
    fn from(layout: WeightLayout) -> u8 {
        match layout {
            WeightLayout::RowMajor => 0,
            WeightLayout::RowQuads => 1,
            WeightLayout::Unknown(code) => code,
        }
    }
}

/// int8 fully connected: `out[o] = clamp(requant(bias[o] + Σ_k w[o][k]·in[k]) + zp_out)`.
///
/// The bias is stored *folded*: it already includes `input_offset · Σ_k w[o][k]`, which makes
/// the inner loop a plain dot product while staying bit-exact with LiteRT.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FullyConnected {
    /// Elements in.
    pub input_len: u32,
    /// Elements out (output channels).
    pub output_len: u32,
    /// `-zero_point` of the input; informational, already folded into the bias.
    pub input_offset: i32,
    /// Quantisation of the output; its zero point is added after requantisation.
    pub output: QuantParams,
    /// Which activation the clamp implements.
    pub activation: FusedActivation,
    /// Lower clamp bound.
    pub activation_min: i8,
    /// Upper clamp bound.
    pub activation_max: i8,
    /// Order of the weights in `weights`.
    pub layout: WeightLayout,
    /// The int8 weights in `layout` order (`kernels::layout::packed_len` bytes).
    pub weights: Section,
    /// `output_len` little-endian i32 folded biases.
    pub bias: Section,
    /// `output_len` little-endian i32 Q31 multipliers, each `>= 0`.
    pub multipliers: Section,
    /// `output_len` i8 shifts, each in `-31..=30` (positive shifts left).
    pub shifts: Section,
}

/// Parameters of the LiteRT reference int8 LOGISTIC and TANH kernels.
///
/// LiteRT's reference (and generic optimised) int8 kernels for these ops are a 256-entry lookup
/// table that Prepare fills in float arithmetic from the input and output quantisation; the
/// exporter computes the same table (`mote_exporter::activation_params`) and the runtime only
/// looks values up, so no float maths runs on the device.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Elementwise {
    /// Elements in and out.
    pub len: u32,
    /// Quantisation of the input (recorded for inspection; `table` already applies it).
    pub input: QuantParams,
    /// Quantisation of the output (fixed by the op; recorded for inspection).
    pub output: QuantParams,
    /// 256 int8 outputs, one per input value, indexed by the input's bits as `u8`; read in
    /// place from the blob (flash), so a parsed model stays small.
    pub table: Section,
}

/// Parameters of the LiteRT reference int8 SOFTMAX kernel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Softmax {
    /// Elements in and out.
    pub len: u32,
    /// Fixed-point multiplier of `beta · input_scale`.
    pub input_beta_multiplier: i32,
    /// Left shift that goes with `input_beta_multiplier`.
    pub input_beta_left_shift: i32,
    /// Differences from the maximum below this contribute nothing.
    pub diff_min: i32,
    /// Quantisation of the output (fixed by the op; recorded for inspection).
    pub output: QuantParams,
}

/// How a GP blob stores its numbers (chosen at export for the target core).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GpNumbers {
    /// IEEE single precision throughout (cores with an FPU).
    F32,
    /// Integers throughout the hot loops (cores without an FPU): int16 inputs and inducing
    /// inputs, Q15 kernel values, Q14 factors, 64-bit accumulation. See `FORMAT.md`.
    Fixed,
}

impl GpNumbers {
    /// Bytes of one element of the inducing-input, factor and mean-weight sections.
    pub fn element_size(self) -> u32 {
        match self {
            GpNumbers::F32 => 4,
            GpNumbers::Fixed => 2,
        }
    }

    /// Bytes of one element of the reciprocal-diagonal section (f32 or Q16 i32).
    pub fn inv_diag_size(self) -> u32 {
        4
    }
}

/// The covariance function of a GP blob: stationary, on inputs already divided by their
/// lengthscales (ARD), scaled by [`GpSpec::kernel_variance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum GpKernel {
    /// `σ² exp(−r²/2)`.
    Rbf,
    /// `σ² (1 + √3 r) exp(−√3 r)` (f32 blobs only).
    Matern32,
    /// `σ² (1 + √5 r + 5r²/3) exp(−√5 r)` (f32 blobs only).
    Matern52,
}

/// A sparse GP's precomputed predictive terms; follows the [`Manifest`] of a
/// [`ModelKind::SparseGp`] blob (whose `input.len` is the number of inputs `d` and
/// `output.len` the number of outputs `P`). Section contents and the computation are in
/// `FORMAT.md`; `B = ceil(M / 4)` blocks of four inducing points, `Mp = 4B`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GpSpec {
    /// Number format of the sections and of the computation.
    pub numbers: GpNumbers,
    /// Covariance function.
    pub kernel: GpKernel,
    /// Number of inducing points `M`.
    pub inducing: u32,
    /// Signal variance `σ²` (standardised target units); also the prior variance `k(x, x)`.
    pub kernel_variance: f32,
    /// Fixed point: inputs and inducing inputs are int16 multiples of `2^-input_shift`
    /// lengthscales (`0..=14`). Zero for f32 blobs.
    pub input_shift: u8,
    /// `2·d` f32: per input the offset, then per input the factor: `x' = (x − offset)·factor`
    /// (f32: lengthscale units; fixed point: units of `2^-input_shift`, then rounded).
    pub input_affine: Section,
    /// `M·d` inducing inputs in the units of `x'` (f32 or i16), row by row.
    pub inducing_inputs: Section,
    /// The Cholesky factor `L` of `K(Z, Z) + jitter·I`, strictly lower part, in 4-row blocks
    /// (f32; fixed point: `L/σ` in Q14 i16).
    pub chol: Section,
    /// `Mp` reciprocals of `L`'s diagonal (f32; fixed point: `σ/L_ii` as Q16 i32); zero for
    /// the padding rows.
    pub chol_inv_diag: Section,
    /// Per output, `Mp` whitened mean weights `m_w = L⁻¹ q_mu` (f32; fixed point: i16,
    /// scaled by the output's mean scale).
    pub mean_weights: Section,
    /// Per output, the upper factor `Rᵀ` with `R Rᵀ = L⁻¹ S L⁻ᵀ`, in 4-row blocks (f32;
    /// fixed point Q14 i16).
    pub var_factor: Section,
    /// Per output, 4 f32: noise variance (standardised units, `>= 0`), target mean, target
    /// scale (`> 0`), mean scale (`> 0`).
    pub output_affine: Section,
}

/// The optional trailer of a [`ModelKind::SparseGp`] blob, after its [`GpSpec`]: a linear
/// prior mean. Blobs without it (zero prior mean) end at the spec, so blobs written before the
/// trailer existed stay valid; a reader that does not know the trailer refuses blobs that have
/// one (bytes left after the spec) instead of mispredicting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GpMeanSpec {
    /// Per output, `d + 1` f32: the constant `c`, then one weight `β_k` per raw input; the
    /// output's mean gains `c + Σ_k β_k x_k` (target units, raw inputs).
    pub linear_mean: Section,
}

/// Where a model came from: enough to reproduce and audit it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Provenance<'a> {
    /// The tool and version that wrote the blob, e.g. `mote-exporter 0.1.0`.
    pub producer: &'a str,
    /// What the model was made from: a checkpoint or `.tflite` path, or a description.
    pub source: &'a str,
    /// Hex digest identifying the training data, or empty when unknown.
    pub data_hash: &'a str,
    /// Metrics measured at export time (e.g. `int8_accuracy`).
    pub metrics: Metrics<'a>,
}

/// The metrics of a [`Provenance`], at most [`MAX_METRICS`]: a list a tool builds
/// ([`Metrics::new`]), or in a parsed manifest their encoding, borrowed from the blob (checked
/// at parse) and decoded on demand by [`Metrics::iter`]. Not a vector of 16 slots: that made a
/// `Manifest` 200 bytes larger and every move of it a `memcpy`, most of a KiB of flash on
/// Cortex-M.
#[derive(Clone, Copy)]
pub struct Metrics<'a>(MetricsRepr<'a>);

#[derive(Clone, Copy)]
enum MetricsRepr<'a> {
    /// `count` postcard-encoded [`Metric`]s, each known to decode.
    Encoded { bytes: &'a [u8], count: usize },
    /// A list (at most [`MAX_METRICS`]).
    Listed(&'a [Metric<'a>]),
}

impl<'a> Metrics<'a> {
    /// No metrics.
    pub const EMPTY: Metrics<'static> = Metrics(MetricsRepr::Listed(&[]));

    /// `list` as a provenance's metrics; `None` when it holds more than [`MAX_METRICS`], which
    /// no blob may record.
    pub fn new(list: &'a [Metric<'a>]) -> Option<Metrics<'a>> {
        (list.len() <= MAX_METRICS).then_some(Metrics(MetricsRepr::Listed(list)))
    }

    /// How many metrics there are.
    pub fn len(&self) -> usize {
        match self.0 {
            MetricsRepr::Encoded { count, .. } => count,
            MetricsRepr::Listed(list) => list.len(),
        }
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The metrics in order.
    pub fn iter(&self) -> MetricsIter<'a> {
        match self.0 {
            MetricsRepr::Encoded { bytes, count } => MetricsIter {
                reader: Reader::new(bytes),
                remaining: count,
                listed: [].iter(),
            },
            MetricsRepr::Listed(list) => MetricsIter {
                reader: Reader::new(&[]),
                remaining: 0,
                listed: list.iter(),
            },
        }
    }

    /// Reads a postcard `seq<Metric>` of at most [`MAX_METRICS`] (more is an error, as postcard
    /// refuses to overfill a vector), checking every metric and keeping their bytes.
    fn read(r: &mut Reader<'a>) -> Metrics<'a> {
        let count = r.len();
        if count > MAX_METRICS {
            r.fail();
        }
        let start = r.rest();
        for _ in 0..count.min(MAX_METRICS) {
            r.str();
            r.f32();
        }
        let bytes = start
            .get(..start.len().saturating_sub(r.rest().len()))
            .unwrap_or(&[]);
        Metrics(MetricsRepr::Encoded { bytes, count })
    }
}

impl core::fmt::Debug for Metrics<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Metrics<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Serialize for Metrics<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for metric in self.iter() {
            seq.serialize_element(&metric)?;
        }
        seq.end()
    }
}

impl<'a> IntoIterator for &Metrics<'a> {
    type Item = Metric<'a>;
    type IntoIter = MetricsIter<'a>;
    fn into_iter(self) -> MetricsIter<'a> {
        self.iter()
    }
}

/// The metrics of a [`Metrics`], decoded one at a time.
#[derive(Debug, Clone)]
pub struct MetricsIter<'a> {
    reader: Reader<'a>,
    remaining: usize,
    listed: core::slice::Iter<'a, Metric<'a>>,
}

impl<'a> Iterator for MetricsIter<'a> {
    type Item = Metric<'a>;

    fn next(&mut self) -> Option<Metric<'a>> {
        if let Some(metric) = self.listed.next() {
            return Some(*metric);
        }
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let r = &mut self.reader;
        let metric = Metric {
            name: r.str(),
            value: r.f32(),
        };
        let result = r.result(metric).ok();
        if result.is_none() {
            self.remaining = 0;
        }
        result
    }
}

/// One named measurement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metric<'a> {
    /// What was measured.
    pub name: &'a str,
    /// Its value.
    pub value: f32,
}

/// The layers of a blob, decoded one at a time from their postcard encoding.
///
/// Yields nothing more once a layer fails to decode (never, for a parsed model, whose layers
/// were all decoded and validated by [`crate::Model::parse`]).
#[derive(Debug, Clone)]
pub struct Layers<'a> {
    bytes: &'a [u8],
    remaining: usize,
}

impl<'a> Layers<'a> {
    /// Reads the varint layer count at the start of `bytes`; the layers follow it.
    pub fn new(bytes: &'a [u8]) -> Result<Layers<'a>, Error> {
        let mut reader = Reader::new(bytes);
        let count = reader.u32();
        reader.result(Layers {
            bytes: reader.rest(),
            remaining: count as usize,
        })
    }

    /// Layers of `count` whose encodings start at `bytes` (after the count).
    pub(crate) fn from_parts(bytes: &'a [u8], count: usize) -> Layers<'a> {
        Layers {
            bytes,
            remaining: count,
        }
    }

    /// Layers not yet yielded (as declared; decoding may stop earlier on a corrupt blob).
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// The bytes after the layers already yielded.
    pub fn rest(&self) -> &'a [u8] {
        self.bytes
    }
}

impl Iterator for Layers<'_> {
    type Item = Layer;

    fn next(&mut self) -> Option<Layer> {
        if self.remaining == 0 {
            return None;
        }
        let mut reader = Reader::new(self.bytes);
        match Layer::read(&mut reader) {
            Ok(layer) => {
                self.bytes = reader.rest();
                self.remaining -= 1;
                Some(layer)
            }
            Err(_) => {
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

impl QuantParams {
    /// Checks that these parameters can quantise an int8 tensor: a finite, positive scale and a
    /// zero point in `-128..=127` ([`Error::BadQuantParams`] otherwise).
    #[inline(never)]
    pub fn check_int8(&self) -> Result<(), Error> {
        let scale_ok = self.scale.is_finite() && self.scale > 0.0;
        if scale_ok && (-128..=127).contains(&self.zero_point) {
            Ok(())
        } else {
            Err(Error::BadQuantParams)
        }
    }
}

impl Layer {
    /// Elements the layer reads.
    pub fn input_len(&self) -> u32 {
        match self {
            Layer::FullyConnected(fc) => fc.input_len,
            Layer::Logistic(e) | Layer::Tanh(e) => e.len,
            Layer::Softmax(s) => s.len,
        }
    }

    /// Elements the layer writes.
    pub fn output_len(&self) -> u32 {
        match self {
            Layer::FullyConnected(fc) => fc.output_len,
            Layer::Logistic(e) | Layer::Tanh(e) => e.len,
            Layer::Softmax(s) => s.len,
        }
    }

    /// Quantisation of the layer's output.
    pub fn output_quant(&self) -> QuantParams {
        match self {
            Layer::FullyConnected(fc) => fc.output,
            Layer::Logistic(e) | Layer::Tanh(e) => e.output,
            Layer::Softmax(s) => s.output,
        }
    }

    /// Short op name, as LiteRT spells it.
    pub fn op_name(&self) -> &'static str {
        match self {
            Layer::FullyConnected(_) => "FULLY_CONNECTED",
            Layer::Logistic(_) => "LOGISTIC",
            Layer::Tanh(_) => "TANH",
            Layer::Softmax(_) => "SOFTMAX",
        }
    }

    /// Multiply-accumulates per inference.
    pub fn macs(&self) -> u64 {
        match self {
            Layer::FullyConnected(fc) => fc.input_len as u64 * fc.output_len as u64,
            _ => 0,
        }
    }
}

impl<'a> Manifest<'a> {
    /// Decodes a manifest from its postcard encoding, borrowing the strings. Inlined into its
    /// one caller, so that the manifest is built where it is kept (one copy of its 200 bytes
    /// less, about 200 bytes of code less on Cortex-M).
    #[inline(always)]
    fn read(r: &mut Reader<'a>) -> Result<Manifest<'a>, Error> {
        let kind = match r.variant(4) {
            0 => ModelKind::Mlp,
            1 => ModelKind::SparseGp,
            2 => ModelKind::Moderation,
            _ => ModelKind::Recommender,
        };
        let input = TensorInfo::read(r);
        let input_transform = match r.some() {
            true => Some(Section::read(r)),
            false => None,
        };
        let output = TensorInfo::read(r);
        let arena_len = r.u32();
        let producer = r.str();
        let source = r.str();
        let data_hash = r.str();
        let metrics = Metrics::read(r);
        r.result(Manifest {
            kind,
            input,
            input_transform,
            output,
            arena_len,
            provenance: Provenance {
                producer,
                source,
                data_hash,
                metrics,
            },
        })
    }
}

// The readers of the parts: a zero value after a failed read, reported by `Reader::result`.

impl QuantParams {
    fn read(r: &mut Reader<'_>) -> QuantParams {
        QuantParams {
            scale: r.f32(),
            zero_point: r.i32(),
        }
    }
}

impl TensorInfo {
    fn read(r: &mut Reader<'_>) -> TensorInfo {
        TensorInfo {
            len: r.u32(),
            quant: QuantParams::read(r),
        }
    }
}

impl Section {
    fn read(r: &mut Reader<'_>) -> Section {
        Section {
            offset: r.u32(),
            len: r.u32(),
        }
    }
}

impl Elementwise {
    fn read(r: &mut Reader<'_>) -> Elementwise {
        Elementwise {
            len: r.u32(),
            input: QuantParams::read(r),
            output: QuantParams::read(r),
            table: Section::read(r),
        }
    }
}

impl Layer {
    /// Decodes one layer from its postcard encoding (struct fields are read in the order
    /// written, which is the order they are declared and serialised in).
    fn read(r: &mut Reader<'_>) -> Result<Layer, Error> {
        let layer = match r.variant(4) {
            0 => Layer::FullyConnected(FullyConnected {
                input_len: r.u32(),
                output_len: r.u32(),
                input_offset: r.i32(),
                output: QuantParams::read(r),
                activation: match r.variant(3) {
                    0 => FusedActivation::None,
                    1 => FusedActivation::Relu,
                    _ => FusedActivation::Relu6,
                },
                activation_min: r.u8() as i8,
                activation_max: r.u8() as i8,
                layout: WeightLayout::from(r.u8()),
                weights: Section::read(r),
                bias: Section::read(r),
                multipliers: Section::read(r),
                shifts: Section::read(r),
            }),
            // One read for both table ops (a single copy of the code).
            index @ (1 | 2) => {
                let p = Elementwise::read(r);
                if index == 1 {
                    Layer::Logistic(p)
                } else {
                    Layer::Tanh(p)
                }
            }
            _ => Layer::Softmax(Softmax {
                len: r.u32(),
                input_beta_multiplier: r.i32(),
                input_beta_left_shift: r.i32(),
                diff_min: r.i32(),
                output: QuantParams::read(r),
            }),
        };
        r.result(layer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::String;
    use std::vec::Vec as StdVec;

    fn quant() -> impl Strategy<Value = QuantParams> {
        (any::<f32>(), any::<i32>())
            .prop_map(|(scale, zero_point)| QuantParams { scale, zero_point })
    }

    fn section() -> impl Strategy<Value = Section> {
        (any::<u32>(), any::<u32>()).prop_map(|(offset, len)| Section { offset, len })
    }

    fn layout() -> impl Strategy<Value = WeightLayout> {
        any::<u8>().prop_map(WeightLayout::from)
    }

    fn activation() -> impl Strategy<Value = FusedActivation> {
        prop_oneof![
            Just(FusedActivation::None),
            Just(FusedActivation::Relu),
            Just(FusedActivation::Relu6)
        ]
    }

    fn elementwise() -> impl Strategy<Value = Elementwise> {
        (any::<u32>(), quant(), quant(), section()).prop_map(|(len, input, output, table)| {
            Elementwise {
                len,
                input,
                output,
                table,
            }
        })
    }

    fn layer() -> impl Strategy<Value = Layer> {
        let fc = (
            (
                any::<u32>(),
                any::<u32>(),
                any::<i32>(),
                quant(),
                activation(),
            ),
            (any::<i8>(), any::<i8>(), layout()),
            (section(), section(), section(), section()),
        )
            .prop_map(
                |(
                    (input_len, output_len, input_offset, output, activation),
                    (activation_min, activation_max, layout),
                    (weights, bias, multipliers, shifts),
                )| {
                    Layer::FullyConnected(FullyConnected {
                        input_len,
                        output_len,
                        input_offset,
                        output,
                        activation,
                        activation_min,
                        activation_max,
                        layout,
                        weights,
                        bias,
                        multipliers,
                        shifts,
                    })
                },
            );
        let softmax = (
            any::<u32>(),
            any::<i32>(),
            any::<i32>(),
            any::<i32>(),
            quant(),
        )
            .prop_map(
                |(len, input_beta_multiplier, input_beta_left_shift, diff_min, output)| {
                    Layer::Softmax(Softmax {
                        len,
                        input_beta_multiplier,
                        input_beta_left_shift,
                        diff_min,
                        output,
                    })
                },
            );
        prop_oneof![
            fc,
            elementwise().prop_map(Layer::Logistic),
            elementwise().prop_map(Layer::Tanh),
            softmax
        ]
    }

    /// Owned strings for a [`Provenance`] to borrow.
    #[derive(Debug, Clone)]
    struct Strings {
        producer: String,
        source: String,
        data_hash: String,
        metrics: StdVec<(String, f32)>,
    }

    fn strings() -> impl Strategy<Value = Strings> {
        (
            "\\PC{0,8}",
            "\\PC{0,20}",
            "[0-9a-f]{0,16}",
            proptest::collection::vec(("\\PC{0,6}", any::<f32>()), 0..=MAX_METRICS),
        )
            .prop_map(|(producer, source, data_hash, metrics)| Strings {
                producer,
                source,
                data_hash,
                metrics,
            })
    }

    fn manifest_parts(
    ) -> impl Strategy<Value = (ModelKind, TensorInfo, Option<Section>, TensorInfo, u32)> {
        let kind = prop_oneof![
            Just(ModelKind::Mlp),
            Just(ModelKind::SparseGp),
            Just(ModelKind::Moderation),
            Just(ModelKind::Recommender)
        ];
        let info = || (any::<u32>(), quant()).prop_map(|(len, quant)| TensorInfo { len, quant });
        (
            kind,
            info(),
            proptest::option::of(section()),
            info(),
            any::<u32>(),
        )
    }

    /// The metrics of `s`, for a [`Metrics`] to borrow.
    fn metric_list(s: &Strings) -> StdVec<Metric<'_>> {
        s.metrics
            .iter()
            .map(|(name, value)| Metric {
                name,
                value: *value,
            })
            .collect()
    }

    /// What postcard decodes a manifest to: the fields of [`Manifest`] with the metrics in a
    /// vector, under the same names so that the `Debug` texts compare.
    mod mirror {
        use super::super::{Metric, ModelKind, Section, TensorInfo, MAX_METRICS};
        use serde::Deserialize;

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)] // Read through `Debug` only.
        pub struct Manifest<'a> {
            kind: ModelKind,
            input: TensorInfo,
            input_transform: Option<Section>,
            output: TensorInfo,
            arena_len: u32,
            #[serde(borrow)]
            provenance: Provenance<'a>,
        }

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)] // Read through `Debug` only.
        pub struct Provenance<'a> {
            producer: &'a str,
            source: &'a str,
            data_hash: &'a str,
            #[serde(borrow)]
            metrics: heapless::Vec<Metric<'a>, MAX_METRICS>,
        }
    }

    fn manifest<'s>(
        (kind, input, input_transform, output, arena_len): (
            ModelKind,
            TensorInfo,
            Option<Section>,
            TensorInfo,
            u32,
        ),
        s: &'s Strings,
        list: &'s [Metric<'s>],
    ) -> Manifest<'s> {
        let metrics = Metrics::new(list).unwrap();
        Manifest {
            kind,
            input,
            input_transform,
            output,
            arena_len,
            provenance: Provenance {
                producer: &s.producer,
                source: &s.source,
                data_hash: &s.data_hash,
                metrics,
            },
        }
    }

    /// What a decode produced, comparable even with NaNs: the value's `Debug` text and how
    /// many bytes were left, or `None` for an error.
    fn outcome<T: core::fmt::Debug>(result: Result<(T, &[u8]), Error>) -> Option<(String, usize)> {
        result
            .ok()
            .map(|(value, rest)| (std::format!("{value:?}"), rest.len()))
    }

    fn ours_manifest(bytes: &[u8]) -> Option<(String, usize)> {
        let mut r = Reader::new(bytes);
        outcome(Manifest::read(&mut r).map(|m| (m, r.rest())))
    }

    fn ours_layer(bytes: &[u8]) -> Option<(String, usize)> {
        let mut r = Reader::new(bytes);
        outcome(Layer::read(&mut r).map(|l| (l, r.rest())))
    }

    fn theirs<'de, T: Deserialize<'de> + core::fmt::Debug>(
        bytes: &'de [u8],
    ) -> Option<(String, usize)> {
        outcome(postcard::take_from_bytes::<T>(bytes).map_err(|_| Error::ManifestDecode))
    }

    fn encode<T: Serialize>(value: &T) -> StdVec<u8> {
        let mut buf = [0u8; 2048];
        postcard::to_slice(value, &mut buf).unwrap().to_vec()
    }

    proptest! {
        /// Every layer the exporter can write decodes to itself, using exactly its bytes;
        /// every proper prefix is an error.
        #[test]
        fn layers_round_trip(layer in layer(), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut bytes = encode(&layer);
            let len = bytes.len();
            for cut in 0..len {
                prop_assert_eq!(Layer::read(&mut Reader::new(&bytes[..cut])), Err(Error::ManifestDecode));
            }
            bytes.extend(&tail);
            let mut r = Reader::new(&bytes);
            let decoded = Layer::read(&mut r).unwrap();
            prop_assert_eq!(std::format!("{decoded:?}"), std::format!("{layer:?}"));
            prop_assert_eq!(r.rest(), &tail[..]);
        }

        /// Every manifest decodes to itself; every proper prefix is an error.
        #[test]
        fn manifests_round_trip(parts in manifest_parts(), s in strings()) {
            let list = metric_list(&s);
            let manifest = manifest(parts, &s, &list);
            let bytes = encode(&manifest);
            for cut in 0..bytes.len() {
                prop_assert!(Manifest::read(&mut Reader::new(&bytes[..cut])).is_err());
            }
            let mut r = Reader::new(&bytes);
            let decoded = Manifest::read(&mut r).unwrap();
            prop_assert_eq!(std::format!("{decoded:?}"), std::format!("{manifest:?}"));
            prop_assert!(r.rest().is_empty());
        }

        /// Corrupted encodings (bytes overwritten, inserted or removed) decode exactly as
        /// postcard decodes them: the same value and rest, or an error from both; never a panic.
        #[test]
        fn corrupt_bytes_agree_with_postcard(
            parts in manifest_parts(),
            s in strings(),
            layer in layer(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
        ) {
            let list = metric_list(&s);
            for mut bytes in [encode(&manifest(parts, &s, &list)), encode(&layer)] {
                for (at, value, op) in &edits {
                    let i = at.index(bytes.len() + 1);
                    match op {
                        0 if i < bytes.len() => bytes[i] = *value,
                        1 => bytes.insert(i, *value),
                        _ if i < bytes.len() => { bytes.remove(i); }
                        _ => {}
                    }
                }
                prop_assert_eq!(ours_manifest(&bytes), theirs::<mirror::Manifest<'_>>(&bytes));
                prop_assert_eq!(ours_layer(&bytes), theirs::<Layer>(&bytes));
            }
        }

        /// Arbitrary bytes: the same outcome as postcard.
        #[test]
        fn garbage_agrees_with_postcard(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            prop_assert_eq!(ours_manifest(&bytes), theirs::<mirror::Manifest<'_>>(&bytes));
            prop_assert_eq!(ours_layer(&bytes), theirs::<Layer>(&bytes));
            let layers = Layers::new(&bytes);
            let theirs_count = postcard::take_from_bytes::<u32>(&bytes).ok().map(|(n, _)| n as usize);
            prop_assert_eq!(layers.as_ref().ok().map(Layers::remaining), theirs_count);
            if let Ok(layers) = layers {
                // Never more layers than declared, and decoding stops at the first bad one.
                prop_assert!(layers.count() <= theirs_count.unwrap_or(0));
            }
        }
    }

    #[test]
    fn metrics_read_from_bytes_iterate_as_listed() {
        let list = [
            Metric {
                name: "int8_accuracy",
                value: 0.75,
            },
            Metric {
                name: "",
                value: -1.5,
            },
        ];
        let listed = Metrics::new(&list).unwrap();
        let bytes = encode(&listed);
        let mut r = Reader::new(&bytes);
        let read = Metrics::read(&mut r);
        assert!(r.rest().is_empty() && r.result(()).is_ok());
        assert_eq!(read.len(), 2);
        assert_eq!(read.iter().collect::<StdVec<_>>(), list.to_vec());
        assert_eq!(read, listed);
        assert!(Metrics::EMPTY.is_empty() && Metrics::EMPTY.iter().next().is_none());
        let too_many = [list[0]; MAX_METRICS + 1];
        assert!(Metrics::new(&too_many).is_none());
        assert!(Metrics::new(&too_many[..MAX_METRICS]).is_some());
    }

    #[test]
    fn more_metrics_than_the_limit_are_refused() {
        // An empty-string manifest prefix, then a metric count of MAX_METRICS + 1.
        let s = Strings {
            producer: String::new(),
            source: String::new(),
            data_hash: String::new(),
            metrics: StdVec::new(),
        };
        let parts = (
            ModelKind::Mlp,
            TensorInfo {
                len: 1,
                quant: QuantParams {
                    scale: 1.0,
                    zero_point: 0,
                },
            },
            None,
            TensorInfo {
                len: 1,
                quant: QuantParams {
                    scale: 1.0,
                    zero_point: 0,
                },
            },
            0,
        );
        let mut bytes = encode(&manifest(parts, &s, &[]));
        assert_eq!(bytes.pop(), Some(0));
        bytes.push(MAX_METRICS as u8 + 1);
        for _ in 0..=MAX_METRICS {
            bytes.extend([1, b'm', 0, 0, 0, 0]);
        }
        assert!(postcard::from_bytes::<mirror::Manifest<'_>>(&bytes).is_err());
        assert_eq!(
            Manifest::read(&mut Reader::new(&bytes)),
            Err(Error::ManifestDecode)
        );
    }
}
