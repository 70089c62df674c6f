//! `mote-runtime`: parse a `.mote` model blob once, then run it without a heap.
//!
//! The runtime is `#![no_std]` and never allocates. [`Model::parse`] validates every length,
//! offset, shape, enum value and the CRC of a blob, so that [`Model::run`] cannot read out of
//! bounds afterwards. Every failure is an [`Error`] variant; nothing panics on any input.
//!
//! ```
//! # fn demo(blob: &[u8]) -> Result<(), mote_runtime::Error> {
//! use mote_runtime::Model;
//! let model = Model::parse(blob)?;
//! let mut arena = [0u8; 1024];
//! let input = [0i8; 64];
//! let mut output = [0i8; 10];
//! model.run(&input[..model.input_len()], &mut arena, &mut output[..model.output_len()])?;
//! # Ok(()) }
//! ```
//!
//! Sparse Gaussian process blobs parse as [`GpModel`] and predict a mean and a variance per
//! output; [`AnyModel::parse`] takes either kind.
//!
//! The blob layout is specified in `FORMAT.md` beside this crate.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]

#[cfg(test)]
extern crate std;

pub mod crc32;
mod error;
pub mod fixed_point;
pub mod gp;
pub mod header;
pub mod kernels;
pub mod manifest;
mod model;
#[cfg(feature = "moderation")]
pub mod moderation;
pub mod plan;
mod quantize;
#[cfg(feature = "recommender")]
pub mod recommend;
pub mod text;
mod wire;

pub use error::Error;
pub use gp::GpModel;
pub use manifest::{Layer, Manifest, QuantParams};
pub use model::{DecodedModel, Model, Step};
#[cfg(feature = "moderation")]
pub use moderation::{Moderation, Verdict};
pub use quantize::{dequantize, quantize};
#[cfg(feature = "recommender")]
pub use recommend::{Recommendation, Recommender};

/// A parsed blob of either kind: what firmware that runs any blob holds.
#[derive(Debug, Clone)]
pub enum AnyModel<'a> {
    /// An int8 MLP.
    Mlp(Model<'a>),
    /// A sparse GP.
    SparseGp(GpModel<'a>),
}

impl<'a> AnyModel<'a> {
    /// Parses `blob` with the parser its manifest's model kind calls for.
    pub fn parse(blob: &'a [u8]) -> Result<AnyModel<'a>, Error> {
        match Model::parse(blob) {
            Err(Error::ModelKindMismatch) => GpModel::parse(blob).map(AnyModel::SparseGp),
            other => other.map(AnyModel::Mlp),
        }
    }
}
