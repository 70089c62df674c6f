//! [`Model`]: a parsed, validated blob, ready to run.

use crate::header::SECTION_ALIGN;
use crate::kernels::{self, FullyConnectedView};
#[cfg(feature = "softmax")]
use crate::manifest::Softmax;
use crate::manifest::{
    FullyConnected, Layer, Layers, Manifest, ModelKind, Section, MAX_DIM, MAX_LAYERS,
};
#[cfg(feature = "moderation")]
use crate::moderation::{self, ModerationSpec};
use crate::plan::{self, Plan, Slot};
#[cfg(feature = "recommender")]
use crate::recommend::{self, RecommenderSpec};
use crate::{dequantize, quantize, Error, QuantParams};

/// An MLP blob that passed validation (sparse GP blobs parse as [`crate::GpModel`]). Borrowed from the blob bytes, which stay in place
/// (in flash on a device): weights are read from them directly.
#[derive(Debug, Clone)]
pub struct Model<'a> {
    blob: &'a [u8],
    manifest: Manifest<'a>,
    /// The encoded layers (after their count), decoded again on each run: keeps `Model` small.
    layer_bytes: &'a [u8],
    layer_count: usize,
    plan: Plan,
    /// No fully connected weight is -128 (checked at parse on x86-64 only, where the AVX2
    /// kernel can then negate weights; elsewhere `false` and never scanned).
    symmetric_weights: bool,
    /// What follows the layers: a moderation or recommender blob's spec, empty for an MLP.
    #[cfg(any(feature = "moderation", feature = "recommender"))]
    extension: &'a [u8],
}

impl<'a> Model<'a> {
    /// Parses and validates `blob`: header, CRC, manifest, every section's bounds, alignment and
    /// length, every shape and quantisation parameter, and the arena size.
    ///
    /// After this succeeds, [`Model::run`] cannot fail except on wrongly sized arguments.
    pub fn parse(blob: &'a [u8]) -> Result<Model<'a>, Error> {
        let (header, manifest, rest) = crate::manifest::decode(blob)?;
        if !matches!(
            manifest.kind,
            ModelKind::Mlp | ModelKind::Moderation | ModelKind::Recommender
        ) {
            return Err(Error::ModelKindMismatch);
        }
        let layers = Layers::new(rest)?;
        let (layer_bytes, layer_count) = (layers.rest(), layers.remaining());
        let (plan, extension) = validate(&manifest, layers, blob, header.data_start())?;
        let mut model = Model {
            blob,
            manifest,
            layer_bytes,
            layer_count,
            plan,
            symmetric_weights: false,
            #[cfg(any(feature = "moderation", feature = "recommender"))]
            extension,
        };
        #[cfg(not(any(feature = "moderation", feature = "recommender")))]
        let _ = extension;
        model.symmetric_weights = cfg!(target_arch = "x86_64") && model.weights_are_symmetric();
        Ok(model)
    }

    /// True when no fully connected weight is -128, as the int8 spec (weights in -127..=127)
    /// requires of every exporter; a scan over all weights.
    fn weights_are_symmetric(&self) -> bool {
        self.layers().all(|layer| match layer {
            Layer::FullyConnected(fc) => self
                .section(fc.weights)
                .is_ok_and(|weights| !weights.contains(&0x80)),
            _ => true,
        })
    }

    /// A moderation blob's spec (validated at parse); `None` for other kinds.
    #[cfg(feature = "moderation")]
    pub fn moderation_spec(&self) -> Result<Option<ModerationSpec<'a>>, Error> {
        match self.manifest.kind {
            ModelKind::Mlp | ModelKind::SparseGp | ModelKind::Recommender => Ok(None),
            ModelKind::Moderation => postcard::from_bytes(self.extension)
                .map(Some)
                .map_err(|_| Error::ManifestDecode),
        }
    }

    /// A recommender blob's spec (validated at parse); `None` for other kinds.
    #[cfg(feature = "recommender")]
    pub fn recommender_spec(&self) -> Result<Option<RecommenderSpec>, Error> {
        match self.manifest.kind {
            ModelKind::Recommender => postcard::from_bytes(self.extension)
                .map(Some)
                .map_err(|_| Error::ManifestDecode),
            _ => Ok(None),
        }
    }

    /// The decoded manifest: shapes, quantisation, provenance.
    pub fn manifest(&self) -> &Manifest<'a> {
        &self.manifest
    }

    /// The layers, in the order they run, decoded from the blob as the iterator advances.
    pub fn layers(&self) -> Layers<'a> {
        Layers::from_parts(self.layer_bytes, self.layer_count)
    }

    /// Number of layers.
    pub fn layer_count(&self) -> usize {
        self.layer_count
    }

    /// Bytes of scratch memory [`Model::run`] needs.
    pub fn arena_len(&self) -> usize {
        self.plan.arena_len()
    }

    /// Number of int8 input elements.
    pub fn input_len(&self) -> usize {
        self.manifest.input.len as usize
    }

    /// Number of int8 output elements.
    pub fn output_len(&self) -> usize {
        self.manifest.output.len as usize
    }

    /// Quantisation of the input.
    pub fn input_quant(&self) -> QuantParams {
        self.manifest.input.quant
    }

    /// Quantisation of the output.
    pub fn output_quant(&self) -> QuantParams {
        self.manifest.output.quant
    }

    /// Multiply-accumulates per inference.
    pub fn macs(&self) -> u64 {
        self.layers().map(|layer| layer.macs()).sum()
    }

    /// Quantises real-valued features into the model's int8 input, applying the blob's input
    /// transform first when it has one.
    pub fn quantize_input(&self, features: &[f32], input: &mut [i8]) -> Result<(), Error> {
        if features.len() != self.input_len() || input.len() != self.input_len() {
            return Err(Error::InputLength);
        }
        let q = self.input_quant();
        match self.manifest.input_transform {
            None => {
                for (x, q_x) in features.iter().zip(input.iter_mut()) {
                    *q_x = quantize(*x, q);
                }
            }
            Some(section) => {
                let (offsets, scales) = self
                    .section(section)?
                    .split_at_checked(4 * self.input_len())
                    .ok_or(Error::SectionLengthMismatch)?;
                let affine = le_f32s(offsets).zip(le_f32s(scales));
                for ((x, q_x), (offset, scale)) in features.iter().zip(input.iter_mut()).zip(affine)
                {
                    *q_x = quantize((*x - offset) * scale, q);
                }
            }
        }
        Ok(())
    }

    /// Turns the model's int8 output into real values.
    pub fn dequantize_output(&self, output: &[i8], values: &mut [f32]) -> Result<(), Error> {
        if output.len() != self.output_len() || values.len() != self.output_len() {
            return Err(Error::OutputLength);
        }
        let q = self.output_quant();
        for (y, v) in output.iter().zip(values.iter_mut()) {
            *v = dequantize(*y, q);
        }
        Ok(())
    }

    /// Runs the model on one int8 input vector, writing its int8 output.
    ///
    /// `arena` must hold at least [`Model::arena_len`] bytes; its contents on entry do not matter.
    pub fn run(&self, input: &[i8], arena: &mut [u8], output: &mut [i8]) -> Result<(), Error> {
        self.run_observed(input, arena, output, |_| {})
    }

    /// [`Model::run`], calling `after_layer(index)` as each layer finishes: lets firmware time
    /// layers (read a clock before the call and in the hook) without repeating the run loop.
    pub fn run_observed(
        &self,
        input: &[i8],
        arena: &mut [u8],
        output: &mut [i8],
        after_layer: impl FnMut(usize),
    ) -> Result<(), Error> {
        let steps = self.layers().map(|layer| self.step(&layer));
        self.run_steps(steps, input, arena, output, after_layer)
    }

    /// Decodes every layer once into `store` (for example `[None; 16]`, static or on the
    /// stack) and resolves what it reads (sections as slices, lengths, what the kernels want
    /// to know about the constants), for runs that skip all of that: a few hundred
    /// instructions less per layer, for about 64 bytes of `store` per layer.
    /// [`Error::TooManyLayers`] when `store` is too short.
    pub fn decode_layers<'s>(
        &'s self,
        store: &'s mut [Option<Step<'a>>],
    ) -> Result<DecodedModel<'a, 's>, Error> {
        let slots = store
            .get_mut(..self.layer_count)
            .ok_or(Error::TooManyLayers)?;
        let mut decoded = 0;
        for (slot, layer) in slots.iter_mut().zip(self.layers()) {
            *slot = Some(self.step(&layer)?);
            decoded += 1;
        }
        if decoded != self.layer_count {
            return Err(Error::ManifestDecode);
        }
        Ok(DecodedModel {
            model: self,
            steps: slots,
        })
    }

    /// The [`Step`] that runs `layer` (one of this model's).
    fn step(&self, layer: &Layer) -> Result<Step<'a>, Error> {
        let op = match layer {
            Layer::FullyConnected(fc) => StepOp::FullyConnected(self.fully_connected_view(fc)?),
            Layer::Logistic(p) => StepOp::Logistic(self.table(p.table)?),
            Layer::Tanh(p) => StepOp::Tanh(self.table(p.table)?),
            #[cfg(feature = "softmax")]
            Layer::Softmax(p) => StepOp::Softmax(*p),
            #[cfg(not(feature = "softmax"))]
            Layer::Softmax(_) => return Err(Error::UnsupportedLayer),
        };
        Ok(Step {
            op,
            input_len: layer.input_len() as usize,
            output_len: layer.output_len() as usize,
        })
    }

    /// The run loop over `steps` (this model's, resolved now or earlier).
    fn run_steps<S: core::borrow::Borrow<Step<'a>>>(
        &self,
        steps: impl Iterator<Item = Result<S, Error>>,
        input: &[i8],
        arena: &mut [u8],
        output: &mut [i8],
        mut after_layer: impl FnMut(usize),
    ) -> Result<(), Error> {
        if input.len() != self.input_len() {
            return Err(Error::InputLength);
        }
        if output.len() != self.output_len() {
            return Err(Error::OutputLength);
        }
        let arena = arena
            .get_mut(..self.plan.arena_len())
            .ok_or(Error::ArenaTooSmall)?;
        let (a, b) = kernels::bytes_as_i8_mut(arena)
            .split_at_mut_checked(self.plan.a_len)
            .ok_or(Error::ArenaTooSmall)?;
        let count = self.layer_count;
        let mut ran = 0;
        for (index, step) in steps.enumerate() {
            let step = step?;
            let layer = step.borrow();
            let (in_len, out_len) = (layer.input_len, layer.output_len);
            // The source and destination are always different slots, so no copy is needed.
            match (plan::source(index, count), plan::destination(index, count)) {
                (Slot::Input, Slot::Output) => {
                    layer.run(prefix(input, in_len)?, prefix_mut(output, out_len)?)?
                }
                (Slot::Input, Slot::A) => {
                    layer.run(prefix(input, in_len)?, prefix_mut(a, out_len)?)?
                }
                (Slot::A, Slot::B) => layer.run(prefix(a, in_len)?, prefix_mut(b, out_len)?)?,
                (Slot::B, Slot::A) => layer.run(prefix(b, in_len)?, prefix_mut(a, out_len)?)?,
                (Slot::A, Slot::Output) => {
                    layer.run(prefix(a, in_len)?, prefix_mut(output, out_len)?)?
                }
                (Slot::B, Slot::Output) => {
                    layer.run(prefix(b, in_len)?, prefix_mut(output, out_len)?)?
                }
                _ => return Err(Error::ShapeMismatch),
            }
            after_layer(index);
            ran += 1;
        }
        if ran != count {
            return Err(Error::ManifestDecode);
        }
        Ok(())
    }

    /// The kernel's view of one of this model's fully connected layers (its sections borrowed
    /// from the blob): for calling kernels directly, as benchmarks do.
    pub fn fully_connected_view(
        &self,
        fc: &FullyConnected,
    ) -> Result<FullyConnectedView<'a>, Error> {
        let shifts = self.section(fc.shifts)?;
        Ok(FullyConnectedView {
            weights: kernels::bytes_as_i8(self.section(fc.weights)?),
            layout: fc.layout,
            symmetric_weights: self.symmetric_weights,
            small_scales: kernels::small_scales(shifts),
            bias: self.section(fc.bias)?,
            multipliers: self.section(fc.multipliers)?,
            shifts,
            input_len: fc.input_len as usize,
            output_offset: fc.output.zero_point,
            activation_min: fc.activation_min,
            activation_max: fc.activation_max,
        })
    }

    /// A 256-entry lookup table section.
    fn table(&self, section: Section) -> Result<&'a [u8; 256], Error> {
        self.section(section)?
            .try_into()
            .map_err(|_| Error::SectionLengthMismatch)
    }

    /// The bytes of a section (validated at parse, so this does not fail for a parsed model).
    pub fn section(&self, section: Section) -> Result<&'a [u8], Error> {
        let start = section.offset as usize;
        let end = start
            .checked_add(section.len as usize)
            .ok_or(Error::SectionOutOfBounds)?;
        self.blob.get(start..end).ok_or(Error::SectionOutOfBounds)
    }
}

/// One layer of a [`Model`] ready to run: its sections resolved to slices (what the kernel
/// reads, borrowed from the blob) and its lengths. Made by [`Model::decode_layers`], which
/// keeps one per layer so that runs neither decode nor look anything up.
#[derive(Debug, Clone, Copy)]
pub struct Step<'a> {
    op: StepOp<'a>,
    input_len: usize,
    output_len: usize,
}

/// The kernel a [`Step`] runs and what it reads.
#[derive(Debug, Clone, Copy)]
enum StepOp<'a> {
    FullyConnected(FullyConnectedView<'a>),
    Logistic(&'a [u8; 256]),
    Tanh(&'a [u8; 256]),
    #[cfg(feature = "softmax")]
    Softmax(Softmax),
}

impl Step<'_> {
    /// Runs the layer's kernel; the slices have the layer's lengths. Not inlined: the run
    /// loop calls it from one place per pair of buffers, and one copy keeps flash small.
    #[inline(never)]
    fn run(&self, input: &[i8], output: &mut [i8]) -> Result<(), Error> {
        match &self.op {
            StepOp::FullyConnected(view) => kernels::fully_connected(view, input, output),
            StepOp::Logistic(table) => kernels::logistic(table, input, output),
            StepOp::Tanh(table) => kernels::tanh(table, input, output),
            #[cfg(feature = "softmax")]
            StepOp::Softmax(p) => kernels::softmax(p, input, output),
        }
        Ok(())
    }
}

/// A [`Model`] with its layers decoded and resolved once (see [`Model::decode_layers`]).
#[derive(Debug, Clone, Copy)]
pub struct DecodedModel<'a, 's> {
    model: &'s Model<'a>,
    steps: &'s [Option<Step<'a>>],
}

impl<'a> DecodedModel<'a, '_> {
    /// The model: shapes, quantisation, arena size, provenance.
    pub fn model(&self) -> &Model<'a> {
        self.model
    }

    /// [`Model::run`] without decoding the layers again; the same outputs.
    pub fn run(&self, input: &[i8], arena: &mut [u8], output: &mut [i8]) -> Result<(), Error> {
        self.run_observed(input, arena, output, |_| {})
    }

    /// [`Model::run_observed`] without decoding the layers again.
    pub fn run_observed(
        &self,
        input: &[i8],
        arena: &mut [u8],
        output: &mut [i8],
        after_layer: impl FnMut(usize),
    ) -> Result<(), Error> {
        let steps = self.steps.iter().flatten().map(Ok);
        self.model
            .run_steps(steps, input, arena, output, after_layer)
    }
}

fn le_f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    kernels::le_i32s(bytes).map(|bits| f32::from_bits(bits as u32))
}

/// True when a little-endian f32 in `bytes` is a NaN or an infinity (all exponent bits set):
/// a byte test, which is much less code than decoding and classifying each float.
fn any_non_finite(bytes: &[u8]) -> bool {
    bytes
        .chunks_exact(4)
        .any(|f| matches!(f, [_, _, low, high] if high & 0x7F == 0x7F && low & 0x80 != 0))
}

fn prefix(slice: &[i8], len: usize) -> Result<&[i8], Error> {
    slice.get(..len).ok_or(Error::ShapeMismatch)
}

fn prefix_mut(slice: &mut [i8], len: usize) -> Result<&mut [i8], Error> {
    slice.get_mut(..len).ok_or(Error::ShapeMismatch)
}

/// Checks everything about the manifest and every layer against `blob`, whose tensor data may
/// start at `data_start`; returns the arena plan and the bytes after the layers (a moderation
/// spec, validated too).
fn validate<'a>(
    manifest: &Manifest<'_>,
    layers: Layers<'a>,
    blob: &[u8],
    data_start: usize,
) -> Result<(Plan, &'a [u8]), Error> {
    let count = layers.remaining();
    if count == 0 {
        return Err(Error::NoLayers);
    }
    if count > MAX_LAYERS {
        return Err(Error::TooManyLayers);
    }
    check_dim(manifest.input.len)?;
    check_dim(manifest.output.len)?;
    manifest.input.quant.check_int8()?;
    manifest.output.quant.check_int8()?;
    let sections = SectionCheck { blob, data_start };
    if let Some(transform) = manifest.input_transform {
        let values = manifest
            .input
            .len
            .checked_mul(2)
            .ok_or(Error::BadDimension)?;
        let bytes = sections.check(transform, values, 4)?;
        if any_non_finite(bytes) {
            return Err(Error::BadQuantParams);
        }
    }
    let mut plan = Plan::default();
    let mut previous_len = manifest.input.len;
    let mut last_quant = manifest.input.quant;
    let mut decoded = layers;
    let mut validated = 0;
    for (index, layer) in decoded.by_ref().enumerate() {
        validated += 1;
        check_dim(layer.input_len())?;
        check_dim(layer.output_len())?;
        if layer.input_len() != previous_len {
            return Err(Error::ShapeMismatch);
        }
        previous_len = layer.output_len();
        last_quant = layer.output_quant();
        last_quant.check_int8()?;
        match &layer {
            Layer::FullyConnected(fc) => validate_fully_connected(fc, &sections)?,
            Layer::Logistic(p) => {
                sections.check(p.table, 256, 1)?;
                kernels::validate_logistic(p)?
            }
            Layer::Tanh(p) => {
                sections.check(p.table, 256, 1)?;
                kernels::validate_tanh(p)?
            }
            #[cfg(feature = "softmax")]
            Layer::Softmax(p) => kernels::validate_softmax(p)?,
            #[cfg(not(feature = "softmax"))]
            Layer::Softmax(_) => return Err(Error::UnsupportedLayer),
        }
        plan.add(index, count, layer.output_len());
    }
    // Every declared layer decoded, and nothing follows the last one but a moderation spec.
    let extension = decoded.rest();
    if validated != count {
        return Err(Error::ManifestDecode);
    }
    match manifest.kind {
        ModelKind::Mlp if !extension.is_empty() => return Err(Error::ManifestDecode),
        ModelKind::Mlp => {}
        ModelKind::SparseGp => return Err(Error::ModelKindMismatch),
        #[cfg(feature = "moderation")]
        ModelKind::Moderation => {
            let spec: ModerationSpec<'_> =
                postcard::from_bytes(extension).map_err(|_| Error::ManifestDecode)?;
            moderation::validate_spec(&spec, manifest.input.len, manifest.output.len, &sections)?;
        }
        #[cfg(not(feature = "moderation"))]
        ModelKind::Moderation => return Err(Error::UnsupportedModelKind),
        #[cfg(feature = "recommender")]
        ModelKind::Recommender => {
            let spec: RecommenderSpec =
                postcard::from_bytes(extension).map_err(|_| Error::ManifestDecode)?;
            recommend::validate_spec(&spec, manifest.input.len, manifest.output.len, &sections)?;
        }
        #[cfg(not(feature = "recommender"))]
        ModelKind::Recommender => return Err(Error::UnsupportedModelKind),
    }
    if previous_len != manifest.output.len {
        return Err(Error::ShapeMismatch);
    }
    if last_quant != manifest.output.quant {
        return Err(Error::BadQuantParams);
    }
    if plan.arena_len() != manifest.arena_len as usize {
        return Err(Error::ArenaLenMismatch);
    }
    Ok((plan, extension))
}

fn check_dim(len: u32) -> Result<(), Error> {
    if len == 0 || len > MAX_DIM {
        return Err(Error::BadDimension);
    }
    Ok(())
}

/// Checks tensor sections against a blob's data area.
pub(crate) struct SectionCheck<'b> {
    blob: &'b [u8],
    data_start: usize,
}

impl<'b> SectionCheck<'b> {
    /// Checks bounds, alignment and that the section holds `elements · element_size` bytes;
    /// returns the section's bytes for value checks.
    pub(crate) fn check(
        &self,
        section: Section,
        elements: u32,
        element_size: u32,
    ) -> Result<&'b [u8], Error> {
        let start = section.offset as usize;
        let end = start
            .checked_add(section.len as usize)
            .ok_or(Error::SectionOutOfBounds)?;
        if start < self.data_start {
            return Err(Error::SectionOutOfBounds);
        }
        let bytes = self.blob.get(start..end).ok_or(Error::SectionOutOfBounds)?;
        if start % SECTION_ALIGN != 0 {
            return Err(Error::SectionMisaligned);
        }
        let expected = (elements as u64) * (element_size as u64);
        if section.len as u64 != expected {
            return Err(Error::SectionLengthMismatch);
        }
        Ok(bytes)
    }
}

fn validate_fully_connected(fc: &FullyConnected, sections: &SectionCheck<'_>) -> Result<(), Error> {
    if !kernels::supports(fc.layout) {
        return Err(Error::UnsupportedWeightLayout);
    }
    let weights =
        kernels::layout::packed_len(fc.layout, fc.output_len as usize, fc.input_len as usize)
            .and_then(|len| u32::try_from(len).ok())
            .ok_or(Error::BadDimension)?;
    sections.check(fc.weights, weights, 1)?;
    sections.check(fc.bias, fc.output_len, 4)?;
    let multipliers = sections.check(fc.multipliers, fc.output_len, 4)?;
    let shifts = sections.check(fc.shifts, fc.output_len, 1)?;
    // A negative little-endian i32 has the top bit of its last byte set.
    if multipliers
        .chunks_exact(4)
        .any(|m| matches!(m, [_, _, _, high] if high & 0x80 != 0))
        || shifts.iter().any(|&s| !(-31..=30).contains(&(s as i8)))
    {
        return Err(Error::BadQuantParams);
    }
    if fc.activation_min > fc.activation_max || fc.input_offset.unsigned_abs() > 128 {
        return Err(Error::BadQuantParams);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::any_non_finite;
    use proptest::prelude::*;

    proptest! {
        /// The byte test agrees with `f32::is_finite` on every bit pattern, at any position.
        #[test]
        fn non_finite_byte_test_equals_is_finite(bits: u32, before in 0usize..3) {
            let value = f32::from_bits(bits);
            let mut bytes = std::vec![0u8; 4 * before];
            bytes.extend(bits.to_le_bytes());
            prop_assert_eq!(any_non_finite(&bytes), !value.is_finite());
        }
    }

    #[test]
    fn infinities_and_nans_are_found() {
        for value in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN, -f32::NAN] {
            assert!(any_non_finite(&value.to_le_bytes()));
        }
        for value in [0.0f32, -0.0, f32::MAX, f32::MIN, f32::MIN_POSITIVE, 1e-45] {
            assert!(!any_non_finite(&value.to_le_bytes()));
        }
    }
}
