//! `mote bench`: instruction counts, flash and RAM of a blob on an emulated board.

use super::{read_file, Result};
use crate::table::read_rows;
use std::path::PathBuf;

/// Arguments of `mote bench`.
#[derive(clap::Args)]
pub struct Args {
    /// The .mote blob.
    blob: PathBuf,
    /// An emulated board (a folder of `boards/` with a `[qemu]` table), e.g. `qemu-m4`.
    #[arg(long)]
    board: String,
    /// Input rows: CSV, one row of int8 values per line (default: 16 fixed pseudo-random rows).
    #[arg(long)]
    rows: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Builds the firmware for the board (cached), runs the blob under QEMU with `-icount shift=0`
/// and prints instructions for parse and per inference, per layer, flash and RAM bytes.
pub fn run(args: Args) -> Result {
    let blob = read_file(&args.blob)?;
    let rows = match &args.rows {
        Some(path) => Some(read_rows::<i8>(path)?),
        None => None,
    };
    eprintln!(
        "building the firmware for {} and running it under QEMU ...",
        args.board
    );
    let report =
        mote_boards::bench(&args.board, &blob, rows.as_deref()).map_err(|e| e.to_string())?;
    if args.json {
        outln!("{}", report.to_json());
    } else {
        outln!("{report}");
    }
    Ok(())
}
