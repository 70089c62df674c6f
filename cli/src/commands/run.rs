//! `mote run`: run a blob on CSV rows through the runtime.

use super::{read_file, Result};
use crate::table::{read_rows, write_rows};
use mote_exporter::evaluate::Runner;
use std::path::PathBuf;

/// Arguments of `mote run`.
#[derive(clap::Args)]
pub struct Args {
    /// The .mote blob.
    blob: PathBuf,
    /// CSV of input rows: real-valued features, or raw int8 values with --quantized.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the output rows as CSV.
    #[arg(long)]
    output: PathBuf,
    /// Rows are raw int8 values in and out, for byte-for-byte comparison with other runtimes.
    #[arg(long)]
    quantized: bool,
}

/// Runs every input row and writes one output row per input row.
pub fn run(args: Args) -> Result {
    let blob = read_file(&args.blob)?;
    let mut runner = Runner::new(&blob).map_err(|e| format!("{}: {e}", args.blob.display()))?;
    let expected = runner.model().input_len();
    let check = |i: usize, len: usize| -> Result {
        if len == expected {
            Ok(())
        } else {
            Err(format!(
                "{}: row {} has {len} values; the model takes {expected}",
                args.input.display(),
                i + 1
            ))
        }
    };
    let written = if args.quantized {
        let rows: Vec<Vec<i8>> = read_rows(&args.input)?;
        let mut outputs = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            check(i, row.len())?;
            outputs.push(
                runner
                    .run_quantized(row)
                    .map_err(|e| e.to_string())?
                    .to_vec(),
            );
        }
        write_rows(&args.output, &outputs)?;
        outputs.len()
    } else {
        let rows: Vec<Vec<f32>> = read_rows(&args.input)?;
        let mut outputs = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            check(i, row.len())?;
            outputs.push(runner.run_real(row).map_err(|e| e.to_string())?);
        }
        write_rows(&args.output, &outputs)?;
        outputs.len()
    };
    eprintln!("ran {written} rows -> {}", args.output.display());
    Ok(())
}
