//! `mote-exporter`: from float models to quantised `.mote` blobs.
//!
//! Two ways in, one way out:
//! - [`tflite`] imports an int8 `.tflite` flatbuffer into a [`QuantGraph`];
//! - [`ptq`] quantises a float `mote-train` checkpoint with a calibration set;
//! - [`gp`] turns a sparse GP parameter file into a GP blob (f32 or fixed point);
//! - [`lower`] turns a [`QuantGraph`] into the runtime's fixed-point layers and [`blob`] writes
//!   the bytes; [`evaluate`] runs a blob on real-valued rows through the runtime;
//! - [`moderation`] exports a moderation model (embedding table, MLP, policy, thresholds).
#![deny(missing_docs)]

pub mod activation_params;
pub mod blob;
mod error;
pub mod evaluate;
pub mod gp;
pub mod graph;
pub mod lower;
pub mod moderation;
pub mod pipeline;
pub mod ptq;
pub mod rec;
pub mod report;
pub mod requant;
pub mod synthetic;
pub mod target;
pub mod tflite;

pub use blob::{build, build_for, ProvenanceInfo};
pub use error::ExportError;
pub use graph::{QuantDense, QuantGraph, QuantOp};
pub use target::Target;
