//! `mote run`: run a blob on CSV rows through the runtime (MLP outputs, or a GP's predictive
//! mean and standard deviation per output).

use super::{read_file, Result};
use crate::table::{read_rows, write_rows};
use mote_exporter::evaluate::Runner;
use std::path::PathBuf;

/// Arguments of `mote run`.
#[derive(clap::Args)]
pub struct Args {
    /// The .mote blob.
    blob: PathBuf,
    /// CSV of input rows: real-valued features, or raw int8 values with --quantized. A CSV
    /// with the target as an extra last column (as `data/*.csv`) is accepted for GP blobs.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the output rows as CSV (required for MLP blobs; GP blobs print to
    /// standard output without it).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Rows are raw int8 values in and out, for byte-for-byte comparison with other runtimes.
    #[arg(long)]
    quantized: bool,
}

/// Runs every input row and writes one output row per input row.
pub fn run(args: Args) -> Result {
    let blob = read_file(&args.blob)?;
    if let Ok(gp) = mote_runtime::GpModel::parse(&blob) {
        return run_gp(&gp, &args);
    }
    let output = args
        .output
        .clone()
        .ok_or("--output is required for MLP blobs")?;
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
        write_rows(&output, &outputs)?;
        outputs.len()
    } else {
        let rows: Vec<Vec<f32>> = read_rows(&args.input)?;
        let mut outputs = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            check(i, row.len())?;
            outputs.push(runner.run_real(row).map_err(|e| e.to_string())?);
        }
        write_rows(&output, &outputs)?;
        outputs.len()
    };
    eprintln!("ran {written} rows -> {}", output.display());
    Ok(())
}

/// Predicts every row with a GP blob: columns `mean` and `sd` per output (`mean_1`, `sd_1`, …
/// for several), with a header, to `--output` or standard output.
fn run_gp(gp: &mote_runtime::GpModel<'_>, args: &Args) -> Result {
    if args.quantized {
        return Err("--quantized applies to int8 MLP blobs, not GP blobs".into());
    }
    let rows: Vec<Vec<f32>> = read_rows(&args.input)?;
    let (d, p) = (gp.input_len(), gp.output_len());
    let mut arena = vec![0u8; gp.arena_len()];
    let (mut mean, mut var) = (vec![0.0f32; p], vec![0.0f32; p]);
    let mut text = if p == 1 {
        "mean,sd\n".to_string()
    } else {
        (1..=p)
            .map(|i| format!("mean_{i},sd_{i}"))
            .collect::<Vec<_>>()
            .join(",")
            + "\n"
    };
    for (i, row) in rows.iter().enumerate() {
        // Data files carry the target as a last column: ignore it.
        let features = match row.len() {
            n if n == d => &row[..],
            n if n == d + 1 => &row[..d],
            n => {
                return Err(format!(
                    "{}: row {} has {n} values; the model takes {d}",
                    args.input.display(),
                    i + 1
                ))
            }
        };
        gp.run(features, &mut arena, &mut mean, &mut var)
            .map_err(|e| format!("{}: row {}: {e}", args.input.display(), i + 1))?;
        let columns: Vec<String> = mean
            .iter()
            .zip(&var)
            .map(|(m, v)| format!("{m},{}", v.sqrt()))
            .collect();
        text.push_str(&columns.join(","));
        text.push('\n');
    }
    match &args.output {
        Some(path) => {
            super::write_file(path, text.as_bytes())?;
            eprintln!("ran {} rows -> {}", rows.len(), path.display());
        }
        None => out!("{text}"),
    }
    Ok(())
}
