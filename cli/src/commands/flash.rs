//! `mote flash`: writes a blob to a real board with probe-rs and runs it.

use super::{read_file, Result};
use std::path::PathBuf;

/// Arguments of `mote flash`.
#[derive(clap::Args)]
pub struct Args {
    /// The .mote blob.
    blob: PathBuf,
    /// A real board (a folder of `boards/` with a `[probe]` table), e.g. `nrf52840-dk`.
    #[arg(long)]
    board: String,
    /// Input rows: CSV, one row of int8 values per line (default: 16 fixed pseudo-random rows).
    #[arg(long)]
    rows: Option<PathBuf>,
    /// Only replace the model: do not rebuild the firmware (it is flashed only if the board
    /// does not hold it yet).
    #[arg(long)]
    model_only: bool,
    /// Run this package of firmware/ on the model instead of the board's firmware, e.g.
    /// `mote-sensor-nrf52840` (the sensor example, `--board nrf52840-dk`).
    #[arg(long)]
    app: Option<String>,
}

/// Writes the model partition with probe-rs, flashes the firmware if needed, runs it and
/// streams its defmt log.
pub fn run(args: Args) -> Result {
    let blob = read_file(&args.blob)?;
    let rows = match &args.rows {
        Some(path) => Some(crate::table::read_rows::<i8>(path)?),
        None => None,
    };
    let options = mote_boards::flash::Options {
        model_only: args.model_only,
        app: args.app.as_deref(),
    };
    mote_boards::flash(&args.board, &blob, rows.as_deref(), options).map_err(|e| e.to_string())
}
