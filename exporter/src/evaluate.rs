//! Running a blob on the host through the runtime, for reports and the CLI.

use mote_runtime::{Error, Model};

/// A parsed model with its arena and buffers, for running many rows.
pub struct Runner<'a> {
    model: Model<'a>,
    arena: Vec<u8>,
    input: Vec<i8>,
    output: Vec<i8>,
}

impl<'a> Runner<'a> {
    /// Parses `blob` and allocates exactly the arena it asks for.
    pub fn new(blob: &'a [u8]) -> Result<Runner<'a>, Error> {
        let model = Model::parse(blob)?;
        Ok(Runner {
            arena: vec![0; model.arena_len()],
            input: vec![0; model.input_len()],
            output: vec![0; model.output_len()],
            model,
        })
    }

    /// The parsed model.
    pub fn model(&self) -> &Model<'a> {
        &self.model
    }

    /// Runs one row of raw int8 inputs; returns the raw int8 outputs.
    pub fn run_quantized(&mut self, input: &[i8]) -> Result<&[i8], Error> {
        self.model.run(input, &mut self.arena, &mut self.output)?;
        Ok(&self.output)
    }

    /// Quantises one row of real features, runs it and dequantises the outputs.
    pub fn run_real(&mut self, features: &[f32]) -> Result<Vec<f32>, Error> {
        self.model.quantize_input(features, &mut self.input)?;
        self.model
            .run(&self.input, &mut self.arena, &mut self.output)?;
        let mut values = vec![0.0; self.output.len()];
        self.model.dequantize_output(&self.output, &mut values)?;
        Ok(values)
    }
}
