//! `mote quickstart`: the whole path on the bundled digits data in one command.

use super::export::export_checkpoint;
use super::train::{fit, TaskArg};
use super::{write_file, Result};
use mote_exporter::ptq::RangeMethod;
use mote_train::data::Dataset;
use mote_train::TrainConfig;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The digits data set (UCI, CC BY 4.0), compiled in so that quickstart runs from anywhere.
const DIGITS_CSV: &str = include_str!("../../../data/digits.csv");

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
    let data = Dataset::parse_csv(DIGITS_CSV).map_err(|e| e.to_string())?;
    let (train, test) = data.split_mod5();
    println!(
        "digits: {} train rows, {} test rows, {} features, 10 classes",
        train.len(),
        test.len(),
        data.num_features()
    );
    let mut cfg = TrainConfig::default();
    cfg.seed = args.seed.unwrap_or(cfg.seed);
    let checkpoint = fit(&train, TaskArg::Classify, &cfg)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let checkpoint_path = args.out.join("digits.safetensors");
    checkpoint
        .save(&checkpoint_path)
        .map_err(|e| e.to_string())?;
    let (blob, report) = export_checkpoint(
        &checkpoint,
        &train,
        &test,
        RangeMethod::MinMax,
        Path::new("quickstart: bundled digits"),
    )?;
    let blob_path = args.out.join("digits.mote");
    write_file(&blob_path, &blob)?;
    println!("{report}");
    println!("checkpoint -> {}", checkpoint_path.display());
    println!("blob       -> {}", blob_path.display());
    println!("took {:.1} s", start.elapsed().as_secs_f64());
    println!(
        "quickstart: float_acc={:.4} int8_acc={:.4} blob_bytes={} arena_bytes={}",
        report.float, report.int8, report.blob_bytes, report.arena_bytes
    );
    Ok(())
}
