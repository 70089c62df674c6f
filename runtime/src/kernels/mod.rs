//! The compute kernels: one portable scalar reference per op.
//!
//! SIMD variants sit beside each reference (`arm_dsp.rs`, `helium.rs`, `x86_avx2.rs`) and are
//! bit-exact with it. Kernels trust the shapes the parser validated but still index only through iterators and
//! `get`, so that even a wrong call cannot read out of bounds.

pub mod arm_dsp;
#[cfg(any(mote_arm_dsp, mote_helium))]
pub mod arm_dsp_gp;
#[cfg(mote_arm_fpu)]
pub mod arm_fpu;
#[cfg(test)]
mod conformance;
pub mod dot;
mod fully_connected;
// The softmax kernel's test oracle (`softmax_reference.rs`) runs on these.
#[cfg(all(test, feature = "softmax"))]
mod gemmlowp;
pub mod gp_f32;
pub mod gp_fixed;
pub mod gp_layout;
pub mod helium;
pub mod layout;
mod logistic;
#[cfg(feature = "softmax")]
mod softmax;
mod tanh;
pub(crate) mod utf8;
#[cfg(target_arch = "x86_64")]
pub mod x86_avx2;

pub use fully_connected::{small_scales, FullyConnectedView};

use crate::manifest::WeightLayout;

/// The portable scalar kernels every optimised variant must equal.
pub mod reference {
    pub use super::fully_connected::fully_connected;
    pub use super::layout::fully_connected_row_quads;
}

/// int8 fully connected with the fastest kernel this build has for the layer's weight layout.
///
/// Chosen at compile time from the target (see `build.rs`): the [`arm_dsp`] kernels on
/// Armv7E-M and DSP-capable Armv8-M, [`helium`] on the Cortex-M55, [`x86_avx2`] on x86-64
/// hosts whose CPU has AVX2 (detected at run time), the [`reference`] kernels otherwise.
/// Writes `min(output.len(), rows)` outputs; the caller passes matching lengths. A layout this
/// build does not run (see [`supports`]) writes nothing: parsing already refused it.
pub fn fully_connected(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) {
    match layer.layout {
        #[cfg(feature = "row-major")]
        WeightLayout::RowMajor => row_major(layer, input, output),
        #[cfg(feature = "row-quads")]
        WeightLayout::RowQuads => row_quads(layer, input, output),
        _ => {
            let _ = (input, output);
        }
    }
}

/// Whether this build runs fully connected weights in `layout` (cargo features `row-major`
/// and `row-quads`, both on by default). Parsing refuses blobs that need a layout it does not.
pub const fn supports(layout: WeightLayout) -> bool {
    match layout {
        WeightLayout::RowMajor => cfg!(feature = "row-major"),
        WeightLayout::RowQuads => cfg!(feature = "row-quads"),
        WeightLayout::Unknown(_) => false,
    }
}

#[cfg(feature = "row-major")]
fn row_major(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) {
    #[cfg(mote_arm_dsp)]
    return arm_dsp::fully_connected(layer, input, output);
    #[cfg(mote_helium)]
    return helium::fully_connected(layer, input, output);
    #[cfg(target_arch = "x86_64")]
    if x86_avx2::available() {
        return x86_avx2::fully_connected(layer, input, output);
    }
    #[allow(unreachable_code)]
    fully_connected::fully_connected(layer, input, output)
}

#[cfg(feature = "row-quads")]
fn row_quads(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) {
    #[cfg(mote_arm_dsp)]
    return arm_dsp::fully_connected_row_quads(layer, input, output);
    #[allow(unreachable_code)]
    layout::fully_connected_row_quads(layer, input, output)
}

pub use logistic::logistic;
#[cfg(feature = "softmax")]
pub use softmax::softmax;
pub use tanh::tanh;

pub(crate) use logistic::validate as validate_logistic;
#[cfg(feature = "softmax")]
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

/// Number types whose every bit pattern is a valid value and that have no padding, so bytes
/// can be viewed as them in place.
pub trait Plain: Copy + sealed::Sealed {}
impl Plain for f32 {}
impl Plain for i16 {}
impl Plain for i32 {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for i16 {}
    impl Sealed for i32 {}
}

/// Views little-endian bytes as numbers in place: `None` unless `bytes` starts at an address
/// aligned for `T` and holds a whole number of them (and the core is little-endian, as every
/// core mote supports is).
pub fn bytes_as<T: Plain>(bytes: &[u8]) -> Option<&[T]> {
    if cfg!(target_endian = "big") {
        return None;
    }
    // SAFETY: `T` is `Plain` (f32, i16 or i32): every bit pattern is a valid value and there is
    // no padding, so any aligned bytes may be read as `T`. `align_to` returns only a correctly
    // aligned middle part that lies inside `bytes` and borrows it for the same lifetime.
    let (head, body, tail) = unsafe { bytes.align_to::<T>() };
    (head.is_empty() && tail.is_empty()).then_some(body)
}

/// The longest part of `bytes` aligned for `T`, viewed as `T`s in place (scratch memory: at
/// most `align_of::<T>() − 1` bytes at the start and the odd bytes at the end go unused).
pub fn bytes_as_mut<T: Plain>(bytes: &mut [u8]) -> &mut [T] {
    // SAFETY: as in `bytes_as`; the exclusive borrow of `bytes` moves to the result, so no
    // alias exists while it lives, and any value written is valid bytes.
    unsafe { bytes.align_to_mut::<T>() }.1
}

/// Little-endian i32 values stored in a byte section.
pub(crate) fn le_i32s(bytes: &[u8]) -> impl Iterator<Item = i32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}
