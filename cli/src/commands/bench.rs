//! `mote bench`: instruction counts, flash and RAM of a blob on an emulated board.

use super::{kernel_bench, read_file, Result};
use crate::table::read_rows;
use std::path::PathBuf;

/// Arguments of `mote bench`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["blob", "kernels", "gp", "rec"])))]
pub struct Args {
    /// The .mote blob.
    #[arg(requires = "board")]
    blob: Option<PathBuf>,
    /// An emulated board (a folder of `boards/` with a `[qemu]` table), e.g. `qemu-m4`.
    #[arg(long)]
    board: Option<String>,
    /// Instead of a blob: the fully connected kernels on generated layers, per core, plus the
    /// host's portable and AVX2 kernels (MAC/s).
    #[arg(long, conflicts_with_all = ["blob", "board", "rows"])]
    kernels: bool,
    /// Instead of a blob: a synthetic sparse GP (RBF-ARD) with M inducing points and D inputs,
    /// e.g. `64x8`, exported with --format.
    #[arg(long, value_name = "MxD", requires = "board", conflicts_with = "blob")]
    gp: Option<String>,
    /// Instead of a blob: a synthetic recommender with N items of D values (user and item
    /// vectors), e.g. `10000x32`: its user tower, then every item scored and the top 10 kept.
    #[arg(long, value_name = "NxD", requires = "board", conflicts_with_all = ["blob", "gp"])]
    rec: Option<String>,
    /// With --gp: the GP blob's numbers, `f32` or `fixed`.
    #[arg(long, default_value = "f32", requires = "gp")]
    format: mote_exporter::gp::GpFormat,
    /// With --kernels: the emulated boards, comma-separated.
    #[arg(long, default_value = kernel_bench::DEFAULT_BOARDS, requires = "kernels")]
    boards: String,
    /// With --kernels: single layers IN x OUT and MLPs A-B-C, comma-separated.
    #[arg(long, default_value = kernel_bench::DEFAULT_SIZES, requires = "kernels")]
    sizes: String,
    /// With --kernels: also write the generated blobs into this folder.
    #[arg(long, requires = "kernels")]
    keep_blobs: Option<PathBuf>,
    /// Input rows: CSV, one row of int8 values per line (default: 16 fixed pseudo-random rows;
    /// for a GP, rows of the little-endian bytes of its f32 features).
    #[arg(long)]
    rows: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Builds the firmware for the board (cached), runs the blob under QEMU with `-icount shift=0`
/// and prints instructions for parse and per inference, per layer, flash and RAM bytes.
pub fn run(args: Args) -> Result {
    if args.kernels {
        return kernels(&args);
    }
    let Some(board) = &args.board else {
        return Err("give a blob (or --gp MxD, --rec NxD) and --board, or --kernels".into());
    };
    let blob = match (&args.blob, &args.gp, &args.rec) {
        (Some(path), _, _) => read_file(path)?,
        (None, Some(shape), _) => synthetic_gp(shape, args.format)?,
        (None, None, Some(shape)) => synthetic_recommender(shape, board)?,
        (None, None, None) => {
            return Err("give a blob (or --gp MxD, --rec NxD) and --board, or --kernels".into())
        }
    };
    let rows = match &args.rows {
        Some(path) => Some(read_rows::<i8>(path)?),
        None => None,
    };
    eprintln!(
        "building the firmware for {} and running it under QEMU ...",
        board
    );
    let report = mote_boards::bench(board, &blob, rows.as_deref()).map_err(|e| e.to_string())?;
    if args.json {
        outln!("{}", report.to_json());
    } else {
        outln!("{report}");
    }
    Ok(())
}

/// The blob of a synthetic GP of shape `MxD` (fixed seed).
fn synthetic_gp(shape: &str, format: mote_exporter::gp::GpFormat) -> Result<Vec<u8>> {
    let parsed = shape
        .split_once('x')
        .and_then(|(m, d)| Some((m.parse::<usize>().ok()?, d.parse::<usize>().ok()?)))
        .filter(|&(m, d)| m > 0 && d > 0);
    let Some((m, d)) = parsed else {
        return Err(format!(
            "--gp takes MxD (inducing points x inputs), e.g. 64x8, not `{shape}`"
        ));
    };
    let params = mote_exporter::synthetic::random_gp(m, d, 1);
    let provenance = mote_exporter::ProvenanceInfo {
        source: format!("synthetic GP {m}x{d}"),
        ..Default::default()
    };
    mote_exporter::gp::build_gp(&params, format, &provenance).map_err(|e| e.to_string())
}

/// The blob of a synthetic recommender of shape `NxD` (fixed seed), its user tower in the
/// weight layout `board`'s kernels read.
fn synthetic_recommender(shape: &str, board: &str) -> Result<Vec<u8>> {
    let parsed = shape
        .split_once('x')
        .and_then(|(n, d)| Some((n.parse::<usize>().ok()?, d.parse::<usize>().ok()?)))
        .filter(|&(n, d)| n > 0 && (1..=mote_runtime::recommend::MAX_REC_OUTPUT).contains(&d));
    let Some((n, d)) = parsed else {
        return Err(format!(
            "--rec takes NxD (items x vector length, D up to {}), e.g. 10000x32, not `{shape}`",
            mote_runtime::recommend::MAX_REC_OUTPUT
        ));
    };
    let board = mote_boards::Board::load(board).map_err(|e| e.to_string())?;
    let target = mote_exporter::Target::for_build(&board.target, &board.rustflags);
    mote_exporter::synthetic::random_recommender(n, d, 1, target).map_err(|e| e.to_string())
}

/// `mote bench --kernels`: the kernel table.
fn kernels(args: &Args) -> Result {
    let list = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let (boards, sizes) = (list(&args.boards), list(&args.sizes));
    eprintln!(
        "building the firmware for {} and running {} generated models under QEMU ...",
        boards.join(", "),
        sizes.len()
    );
    let devices = kernel_bench::device_table(&boards, &sizes, args.keep_blobs.as_deref())?;
    let footprints = kernel_bench::footprints(&boards)?;
    eprintln!("timing the host kernels ...");
    let host = kernel_bench::host_table(&sizes)?;
    if args.json {
        let json =
            serde_json::json!({ "devices": devices, "footprints": footprints, "host": host });
        outln!(
            "{}",
            serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?
        );
    } else {
        out!("{}", kernel_bench::render(&devices, &host, &footprints));
    }
    Ok(())
}
