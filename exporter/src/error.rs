//! The one error type of the exporter.

use std::fmt;

/// Everything that can stop an export.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExportError {
    /// The graph has no ops.
    EmptyGraph,
    /// The graph has more layers than the runtime accepts.
    TooManyLayers {
        /// Layers in the graph.
        count: usize,
    },
    /// An op reads a different length than the previous op writes.
    ShapeMismatch {
        /// Position of the op.
        index: usize,
        /// Length the previous op writes.
        expected: usize,
        /// Length this op reads.
        found: usize,
    },
    /// An op's tensor data is inconsistent with its declared shape.
    BadTensor {
        /// Position of the op.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// An op's quantisation is outside what the int8 kernels accept.
    BadQuantisation {
        /// Position of the op.
        index: usize,
        /// The op's name.
        op: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// More provenance metrics than the blob format holds.
    TooManyMetrics,
    /// The weights cannot be written in this layout (a layout code this exporter does not know).
    UnsupportedLayout(mote_runtime::manifest::WeightLayout),
    /// The manifest did not serialise.
    Encode(String),
    /// The finished blob failed the runtime's own validation (a bug in the exporter).
    SelfCheck(mote_runtime::Error),
    /// The calibration set is empty or has rows of the wrong length.
    Calibration(String),
    /// A checkpoint layer cannot be exported.
    Checkpoint(String),
    /// A GP parameter file cannot be exported (the message says why and what to do).
    Gp(String),
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::EmptyGraph => write!(f, "the model has no layers"),
            ExportError::TooManyLayers { count } => write!(
                f,
                "the model has {count} layers; the runtime accepts at most {}",
                mote_runtime::manifest::MAX_LAYERS
            ),
            ExportError::ShapeMismatch {
                index,
                expected,
                found,
            } => write!(
                f,
                "op {index} reads {found} values but the previous op writes {expected}"
            ),
            ExportError::BadTensor { index, reason } => write!(f, "op {index}: {reason}"),
            ExportError::BadQuantisation { index, op, reason } => {
                write!(f, "op {index} ({op}): {reason}")
            }
            ExportError::UnsupportedLayout(layout) => {
                write!(f, "cannot write weights in layout {layout:?}")
            }
            ExportError::TooManyMetrics => write!(
                f,
                "at most {} metrics fit in a blob's provenance",
                mote_runtime::manifest::MAX_METRICS
            ),
            ExportError::Encode(e) => write!(f, "could not encode the manifest: {e}"),
            ExportError::SelfCheck(e) => {
                write!(f, "the written blob failed validation ({e}); this is a bug")
            }
            ExportError::Calibration(e) => write!(f, "calibration: {e}"),
            ExportError::Checkpoint(e) => write!(f, "checkpoint: {e}"),
            ExportError::Gp(e) => write!(f, "GP export: {e}"),
        }
    }
}

impl std::error::Error for ExportError {}
