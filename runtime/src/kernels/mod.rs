//! The compute kernels: one portable scalar reference per op.
//!
//! SIMD variants will sit beside each reference (e.g. `arm_dsp.rs`) and must be bit-exact with
//! it. Kernels trust the shapes the parser validated but still index only through iterators and
//! `get`, so that even a wrong call cannot read out of bounds.

pub mod arm_dsp;
mod fully_connected;
mod gemmlowp;
mod logistic;
mod softmax;
mod tanh;

pub use fully_connected::FullyConnectedView;

/// The portable scalar kernels every optimised variant must equal.
pub mod reference {
    pub use super::fully_connected::fully_connected;
}

/// int8 fully connected, the fastest variant for the target: [`arm_dsp`] on Armv7E-M,
/// [`reference`] elsewhere (Cortex-M55 and x86-64 auto-vectorise it well).
#[cfg(mote_arm_dsp)]
pub use arm_dsp::fully_connected;
/// int8 fully connected, the fastest variant for the target: [`arm_dsp`] on Armv7E-M,
/// [`reference`] elsewhere (Cortex-M55 and x86-64 auto-vectorise it well).
#[cfg(not(mote_arm_dsp))]
pub use fully_connected::fully_connected;
pub use logistic::logistic;
pub use softmax::softmax;
pub use tanh::tanh;

pub(crate) use logistic::validate as validate_logistic;
pub(crate) use softmax::validate as validate_softmax;
pub(crate) use tanh::validate as validate_tanh;

/// Views bytes as int8 values, in place.
pub fn bytes_as_i8(bytes: &[u8]) -> &[i8] {
    // SAFETY: u8 and i8 have the same size, alignment and validity (every bit pattern is a valid
    // value of both), and the returned slice borrows `bytes` with the same lifetime and length.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) }
}

/// Views mutable bytes as int8 values, in place.
pub fn bytes_as_i8_mut(bytes: &mut [u8]) -> &mut [i8] {
    // SAFETY: as in `bytes_as_i8`; the exclusive borrow of `bytes` moves to the result, so no
    // alias exists while it lives.
    unsafe { core::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<i8>(), bytes.len()) }
}

/// Little-endian i32 values stored in a byte section.
pub(crate) fn le_i32s(bytes: &[u8]) -> impl Iterator<Item = i32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}
