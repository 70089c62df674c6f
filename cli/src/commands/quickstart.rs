//! `mote quickstart`: the whole path on the bundled digits data in one command.

use super::train::progress_bar;
use super::{write_file, Result};
use mote_exporter::pipeline::quickstart;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `mote quickstart`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder for the checkpoint and the blob.
    #[arg(long, default_value = "out/quickstart")]
    out: PathBuf,
    /// Seed of initialisation and shuffling.
    #[arg(long)]
    seed: Option<u64>,
}

/// Trains, exports, runs and reports; the last line is machine-readable.
pub fn run(args: Args) -> Result {
    let start = Instant::now();
    outln!("digits: 1797 rows of 8x8 pixels, 10 classes; rows i % 5 == 4 held out");
    let cfg = mote_train::TrainConfig::default();
    let (bar, mut on_epoch) = progress_bar(cfg.epochs);
    let made = quickstart(args.seed, &mut on_epoch).map_err(|e| e.to_string())?;
    bar.finish();
    let checkpoint_path = args.out.join("digits.safetensors");
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    made.checkpoint
        .save(&checkpoint_path)
        .map_err(|e| e.to_string())?;
    let blob_path = args.out.join("digits.mote");
    write_file(&blob_path, &made.blob)?;
    let report = &made.report;
    outln!("trained on {} rows", made.train_rows);
    outln!("{report}");
    outln!("checkpoint -> {}", checkpoint_path.display());
    outln!("blob       -> {}", blob_path.display());
    outln!("took {:.1} s", start.elapsed().as_secs_f64());
    outln!(
        "quickstart: float_acc={:.4} int8_acc={:.4} blob_bytes={} arena_bytes={}",
        report.float,
        report.int8,
        report.blob_bytes,
        report.arena_bytes
    );
    Ok(())
}
