//! `mote-sensor`: the sensor example for real boards, written against `embedded-hal` 1.0 traits
//! so it runs on any HAL (nRF, STM32, RP2040, ESP32-C3) and is unit-tested on the host with
//! `embedded-hal-mock` transaction scripts.
//!
//! - [`lis3dh`]: an I2C driver for ST's LIS3DH 3-axis accelerometer;
//! - [`features`]: a window of readings turned into the model's real-valued features;
//! - [`Classifier`]: feeds readings in, and every full window quantises the features and runs
//!   a `.mote` model on them.
//!
//! `#![no_std]`, no heap.
#![no_std]
#![deny(missing_docs)]

pub mod features;
pub mod lis3dh;

pub use features::{Window, FEATURES};
pub use lis3dh::Lis3dh;

use mote_runtime::Model;

/// Most model inputs/outputs the classifier holds (the features are [`FEATURES`] long).
pub const MAX_OUTPUT: usize = 64;

/// Errors of the classifier: the sensor's or the model's.
#[derive(Debug, PartialEq, Eq)]
pub enum Error<E> {
    /// The accelerometer failed.
    Sensor(lis3dh::Error<E>),
    /// The model does not take [`FEATURES`] inputs or has more than [`MAX_OUTPUT`] outputs.
    ModelShape,
    /// The runtime failed (arena too small, ...).
    Model(mote_runtime::Error),
}

/// Reads an accelerometer into a window of `N` readings and runs `model` on each full window.
pub struct Classifier<'m, const N: usize> {
    model: &'m Model<'m>,
    window: Window<N>,
}

impl<'m, const N: usize> Classifier<'m, N> {
    /// A classifier for `model`, which must take [`FEATURES`] inputs.
    pub fn new<E>(model: &'m Model<'m>) -> Result<Self, Error<E>> {
        if model.input_len() != FEATURES || model.output_len() > MAX_OUTPUT {
            return Err(Error::ModelShape);
        }
        Ok(Classifier {
            model,
            window: Window::new(),
        })
    }

    /// Takes one reading; when it completes a window, runs the model and writes its int8
    /// output to `output` (of the model's output length), returning `true`, and starts a new
    /// window.
    pub fn step<I: embedded_hal::i2c::I2c>(
        &mut self,
        sensor: &mut Lis3dh<I>,
        arena: &mut [u8],
        output: &mut [i8],
    ) -> Result<bool, Error<I::Error>> {
        let reading = sensor.read_mg().map_err(Error::Sensor)?;
        if !self.window.push(reading) {
            return Ok(false);
        }
        let features = self.window.features();
        self.window.clear();
        let mut input = [0i8; FEATURES];
        self.model
            .quantize_input(&features, &mut input)
            .map_err(Error::Model)?;
        self.model
            .run(&input, arena, output)
            .map_err(Error::Model)?;
        Ok(true)
    }
}
