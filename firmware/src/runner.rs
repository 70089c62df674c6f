//! Runs a model with its layers decoded once when they fit the store (the fast path), and
//! decoding each layer as it runs otherwise (any depth, a little slower).

use mote_runtime::{DecodedModel, Error, Model, Step};

/// Layers decoded once and kept (about 64 bytes each, on the stack of `main`).
pub const DECODED_LAYERS: usize = 16;

/// Room for the decoded layers.
pub type LayerStore<'a> = [Option<Step<'a>>; DECODED_LAYERS];

/// The model, in whichever form runs it.
pub enum Runner<'a, 's> {
    /// Layers decoded once, at start-up.
    Decoded(DecodedModel<'a, 's>),
    /// Layers decoded during each run (models deeper than [`DECODED_LAYERS`]).
    Lazy(&'s Model<'a>),
}

impl<'a, 's> Runner<'a, 's> {
    /// Decodes the layers of `model` into `store` if they fit.
    pub fn new(model: &'s Model<'a>, store: &'s mut LayerStore<'a>) -> Runner<'a, 's> {
        match model.decode_layers(store) {
            Ok(decoded) => Runner::Decoded(decoded),
            Err(_) => Runner::Lazy(model),
        }
    }

    /// Runs one row, calling `after_layer(index)` as each layer finishes.
    pub fn run_observed(
        &self,
        input: &[i8],
        arena: &mut [u8],
        output: &mut [i8],
        after_layer: impl FnMut(usize),
    ) -> Result<(), Error> {
        match self {
            Runner::Decoded(model) => model.run_observed(input, arena, output, after_layer),
            Runner::Lazy(model) => model.run_observed(input, arena, output, after_layer),
        }
    }
}
