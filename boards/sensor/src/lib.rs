//! `mote-sensor`: the sensor example for real boards, written against `embedded-hal` 1.0 traits
//! so it runs on any HAL (nRF, STM32, RP2040, ESP32-C3) and is unit-tested on the host with
//! `embedded-hal-mock` transaction scripts.
//!
//! - [`lis3dh`]: an I2C driver for ST's LIS3DH 3-axis accelerometer;
//! - [`features`]: a window of readings turned into the model's real-valued features;
//! - [`Classifier`]: feeds readings in, and every full window quantises the features and runs
//!   a `.mote` model on them; [`Classifier::classify`] paces a whole window with an
//!   embedded-hal [`DelayNs`] and returns the [`Prediction`] (the board binaries' loop body,
//!   `firmware/sensor-nrf52840`).
//!
//! `#![no_std]`, no heap.
#![no_std]
#![deny(missing_docs)]

pub mod features;
pub mod lis3dh;

pub use features::{Window, FEATURES};
pub use lis3dh::Lis3dh;

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;
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
    pub fn step<I: I2c>(
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

    /// Reads a whole window, waiting `period_us` microseconds on `delay` after each reading
    /// (the LIS3DH runs at 100 Hz: 10 000 µs), runs the model on it, writes its int8 output to
    /// `output` and returns the top class. A failed reading ends the call with the error; the
    /// readings taken so far stay in the window, and the next call continues it.
    pub fn classify<I: I2c, D: DelayNs>(
        &mut self,
        sensor: &mut Lis3dh<I>,
        delay: &mut D,
        period_us: u32,
        arena: &mut [u8],
        output: &mut [i8],
    ) -> Result<Prediction, Error<I::Error>> {
        loop {
            let done = self.step(sensor, arena, output)?;
            delay.delay_us(period_us);
            if done {
                return top_class(output).ok_or(Error::ModelShape);
            }
        }
    }
}

/// The class a model output picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prediction {
    /// Index of the largest output (the first one on ties).
    pub class: usize,
    /// Its int8 value.
    pub score: i8,
}

/// The largest value of `output` and its index (the first on ties); `None` when empty.
pub fn top_class(output: &[i8]) -> Option<Prediction> {
    let mut best: Option<Prediction> = None;
    for (class, &score) in output.iter().enumerate() {
        if best.is_none_or(|b| score > b.score) {
            best = Some(Prediction { class, score });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_class_is_the_first_largest() {
        assert_eq!(top_class(&[]), None);
        assert_eq!(
            top_class(&[-128, 7, 3, 7]),
            Some(Prediction { class: 1, score: 7 })
        );
        assert_eq!(
            top_class(&[-128, -128]),
            Some(Prediction {
                class: 0,
                score: -128
            })
        );
    }
}
