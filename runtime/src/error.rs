//! The one error type of the runtime.

/// Everything that can go wrong when parsing or running a blob.
///
/// One flat enum, as postcard does it: each variant names exactly what was wrong, so that a
/// device can log it in a few bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The blob is shorter than the fixed header.
    TruncatedHeader,
    /// The first four bytes are not `MOTE`.
    BadMagic,
    /// The blob was written for a format version this runtime does not read.
    UnsupportedVersion,
    /// A flag bit is set that this runtime does not know.
    UnknownFlags,
    /// The header's total length differs from the length of the slice handed in.
    LengthMismatch,
    /// The CRC-32 of the body differs from the one in the header.
    ChecksumMismatch,
    /// The manifest region lies outside the blob.
    ManifestOutOfBounds,
    /// The manifest bytes do not decode (bad enum value, truncated field, trailing bytes).
    ManifestDecode,
    /// The manifest names a model kind this runtime cannot run.
    UnsupportedModelKind,
    /// The model has no layers.
    NoLayers,
    /// The model has more layers than [`manifest::MAX_LAYERS`].
    TooManyLayers,
    /// A tensor section lies (partly) outside the blob or overlaps the header or manifest.
    SectionOutOfBounds,
    /// A tensor section does not start on a 16-byte boundary.
    SectionMisaligned,
    /// A tensor section's length does not match the shape the layer declares.
    SectionLengthMismatch,
    /// A layer's input length differs from the previous layer's output length.
    ShapeMismatch,
    /// A length is zero or too large to handle.
    BadDimension,
    /// A quantisation parameter is out of its legal range (shift, zero point, clamp bounds).
    BadQuantParams,
    /// The manifest's arena length differs from the one the runtime plans for the layers.
    ArenaLenMismatch,
    /// A layer's weights use a packing this runtime does not know (a newer exporter wrote it).
    UnsupportedWeightLayout,
    /// The input slice handed to `run` has the wrong length.
    InputLength,
    /// The output slice handed to `run` has the wrong length.
    OutputLength,
    /// The arena handed to `run` is smaller than [`crate::Model::arena_len`].
    ArenaTooSmall,
    /// The blob holds another kind of model than the parser was asked for (an MLP blob given
    /// to [`crate::GpModel::parse`] or a GP blob to [`crate::Model::parse`]; [`crate::AnyModel`]
    /// takes both).
    ModelKindMismatch,
    /// A GP blob does not start at a 4-byte aligned address, so its sections cannot be read
    /// in place as numbers (or the core is big-endian).
    BlobMisaligned,
    /// A section of a GP blob holds a NaN or an infinity.
    NonFiniteValue,
    /// A GP parameter is out of range: a variance, scale or input factor not positive, a
    /// reciprocal diagonal not positive (or padding not zero), an input shift too large.
    BadGpParams,
    /// The GP kernel is not available in the blob's number format (fixed point runs RBF only).
    UnsupportedKernel,
    /// An input handed to `run` is NaN or infinite.
    InputNotFinite,
    /// A moderation blob's categories do not match its outputs, or a name or threshold is
    /// out of range.
    BadModerationSpec,
    /// A recommender blob's window is out of range, an item type is not below the number of
    /// types, or the item ids are not strictly increasing.
    BadRecommenderSpec,
    /// A layer's op is one this runtime build leaves out (a cargo feature such as `softmax` is
    /// off to save flash).
    UnsupportedLayer,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = match self {
            Error::TruncatedHeader => "blob is shorter than the 32-byte header",
            Error::BadMagic => "blob does not start with the magic `MOTE`",
            Error::UnsupportedVersion => "blob format version is not supported by this runtime",
            Error::UnknownFlags => "blob header sets unknown flag bits",
            Error::LengthMismatch => "blob length differs from the length in its header",
            Error::ChecksumMismatch => "blob CRC-32 does not match its body (corrupt blob)",
            Error::ManifestOutOfBounds => "manifest lies outside the blob",
            Error::ManifestDecode => "manifest does not decode",
            Error::UnsupportedModelKind => "model kind is not supported by this runtime",
            Error::NoLayers => "model has no layers",
            Error::TooManyLayers => "model has more layers than the runtime supports",
            Error::SectionOutOfBounds => "a tensor section lies outside the data area of the blob",
            Error::SectionMisaligned => "a tensor section is not 16-byte aligned",
            Error::SectionLengthMismatch => "a tensor section's length does not match its shape",
            Error::ShapeMismatch => "a layer's input length differs from the previous output",
            Error::BadDimension => "a tensor length is zero or too large",
            Error::BadQuantParams => "a quantisation parameter is out of range",
            Error::ArenaLenMismatch => "manifest arena length differs from the planned one",
            Error::UnsupportedWeightLayout => {
                "a layer's weight layout is not supported by this runtime"
            }
            Error::InputLength => "input slice has the wrong length",
            Error::OutputLength => "output slice has the wrong length",
            Error::ArenaTooSmall => "arena is smaller than the model needs",
            Error::ModelKindMismatch => "blob holds another kind of model than the one asked for",
            Error::BlobMisaligned => "GP blob is not 4-byte aligned in memory",
            Error::NonFiniteValue => "a GP section holds a NaN or an infinity",
            Error::BadGpParams => "a GP parameter is out of range",
            Error::UnsupportedKernel => "GP kernel is not available in the blob's number format",
            Error::InputNotFinite => "an input value is NaN or infinite",
            Error::BadModerationSpec => {
                "moderation categories do not match the outputs, or a name or threshold is bad"
            }
            Error::BadRecommenderSpec => {
                "recommender window, item types or item ids (not strictly increasing) are bad"
            }
            Error::UnsupportedLayer => "a layer's op is not compiled into this runtime build",
        };
        f.write_str(text)
    }
}

impl core::error::Error for Error {}
