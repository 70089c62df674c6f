//! Runs a model one layer at a time so that each layer can be timed (cargo feature
//! `layer-timing`, which `mote bench` turns on).
//!
//! `mote_runtime::Model::run` runs all layers in one call, and its per-layer step is private, so
//! this module repeats `run`'s loop with the runtime's public kernels and memory plan. It is only
//! used for the per-layer *timing*: the firmware reports the outputs of `Model::run` and checks
//! that this path produced the same bytes, so a divergence shows up as an error line.
//! Because it repeats private runtime code it can fall behind the runtime; that is why it is a
//! feature that the bit-exactness tests do not build. TODO: call `Model::run_layer` once the
//! runtime makes its single-layer step public, and drop the feature.

use mote_runtime::kernels::{self, FullyConnectedView};
use mote_runtime::manifest::{FullyConnected, Section};
use mote_runtime::plan::{self, Plan, Slot};
use mote_runtime::{Layer, Model};

use crate::clock;

/// Most layers timed (the runtime's own limit).
pub const MAX_LAYERS: usize = mote_runtime::manifest::MAX_LAYERS;

/// Runs `model` on `input` layer by layer, adding each layer's ticks to `ticks[layer]`.
///
/// Returns `None` when a layer kind is not handled here or a slice has the wrong length (the
/// caller then reports no per-layer figures); the outputs of a `Some` run equal `Model::run`'s.
pub fn run_timed(
    model: &Model<'_>,
    input: &[i8],
    arena: &mut [u8],
    output: &mut [i8],
    ticks: &mut [u64; MAX_LAYERS],
) -> Option<()> {
    let layers = model.layers();
    let plan = Plan::new(layers);
    let arena = arena.get_mut(..plan.arena_len())?;
    let (a, b) = kernels::bytes_as_i8_mut(arena).split_at_mut(plan.a_len);
    let count = layers.len();
    for (index, layer) in layers.iter().enumerate() {
        let in_len = layer.input_len() as usize;
        let out_len = layer.output_len() as usize;
        let start = clock::now();
        match (plan::source(index, count), plan::destination(index, count)) {
            (Slot::Input, Slot::Output) => run_layer(
                model,
                layer,
                input.get(..in_len)?,
                output.get_mut(..out_len)?,
            )?,
            (Slot::Input, Slot::A) => {
                run_layer(model, layer, input.get(..in_len)?, a.get_mut(..out_len)?)?
            }
            (Slot::A, Slot::B) => run_layer(model, layer, a.get(..in_len)?, b.get_mut(..out_len)?)?,
            (Slot::B, Slot::A) => run_layer(model, layer, b.get(..in_len)?, a.get_mut(..out_len)?)?,
            (Slot::A, Slot::Output) => {
                run_layer(model, layer, a.get(..in_len)?, output.get_mut(..out_len)?)?
            }
            (Slot::B, Slot::Output) => {
                run_layer(model, layer, b.get(..in_len)?, output.get_mut(..out_len)?)?
            }
            _ => return None,
        }
        let elapsed = clock::now().wrapping_sub(start);
        let slot = ticks.get_mut(index)?;
        *slot = slot.wrapping_add(elapsed);
    }
    Some(())
}

#[allow(unreachable_patterns)] // later runtime versions add layer kinds
fn run_layer(model: &Model<'_>, layer: &Layer, input: &[i8], output: &mut [i8]) -> Option<()> {
    match layer {
        Layer::FullyConnected(fc) => {
            kernels::fully_connected(&view(model, fc)?, input, output);
        }
        Layer::Logistic(p) => kernels::logistic(table(model, p.table)?, input, output),
        Layer::Tanh(p) => kernels::tanh(table(model, p.table)?, input, output),
        Layer::Softmax(p) => kernels::softmax(p, input, output),
        _ => return None,
    }
    Some(())
}

fn table<'a>(model: &Model<'a>, section: Section) -> Option<&'a [u8; 256]> {
    model.section(section).ok()?.try_into().ok()
}

fn view<'a>(model: &Model<'a>, fc: &FullyConnected) -> Option<FullyConnectedView<'a>> {
    Some(FullyConnectedView {
        weights: kernels::bytes_as_i8(model.section(fc.weights).ok()?),
        bias: model.section(fc.bias).ok()?,
        multipliers: model.section(fc.multipliers).ok()?,
        shifts: model.section(fc.shifts).ok()?,
        input_len: fc.input_len as usize,
        output_offset: fc.output.zero_point,
        activation_min: fc.activation_min,
        activation_max: fc.activation_max,
    })
}
