//! `mote export`: a checkpoint, an int8 .tflite file or a sparse GP parameter file to a .mote
//! blob.

use super::{read_file, write_file, Result};
use mote_exporter::pipeline::export_checkpoint;
use mote_exporter::ptq::RangeMethod;
use mote_exporter::{build_for, tflite, ProvenanceInfo, Target};
use mote_train::Checkpoint;
use std::path::PathBuf;

/// Arguments of `mote export`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["checkpoint", "tflite"])))]
pub struct Args {
    /// A float checkpoint written by `mote train`, or a sparse GP parameter file (`*.json`, e.g.
    /// `model.gp.json` from `mote train gp` or GPy/GPflow: train/GP_PARAMS.md).
    checkpoint: Option<PathBuf>,
    /// Import an int8 .tflite model (FULLY_CONNECTED, LOGISTIC, TANH, SOFTMAX) instead.
    #[arg(long, conflicts_with = "data")]
    tflite: Option<PathBuf>,
    /// For a checkpoint: the training CSV. Its training rows calibrate activation ranges; its
    /// held-out rows (index % 5 == 4) give the float vs int8 report. For a GP (optional): the
    /// CSV or `friedman1`, whose held-out rows give the blob vs f64 host report.
    #[arg(long)]
    data: Option<PathBuf>,
    /// For a GP: the blob's numbers, `f32` (cores with an FPU) or `fixed` (without one).
    #[arg(long, default_value = "f32")]
    format: mote_exporter::gp::GpFormat,
    /// Take activation ranges at this percentile (e.g. 99.99) instead of min/max.
    #[arg(long)]
    percentile: Option<f32>,
    /// The core the blob is for: its weights are packed the way that core's fastest kernel
    /// reads them (portable, x86-64, cortex-m0plus, riscv32, cortex-m4, cortex-m7, cortex-m33,
    /// cortex-m55). Any runtime build still runs the blob.
    #[arg(long, default_value = "portable")]
    target: Target,
    /// Where to write the blob [default: the input path with extension .mote].
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// Exports and prints the report.
pub fn run(args: Args) -> Result {
    let input = args
        .tflite
        .as_ref()
        .or(args.checkpoint.as_ref())
        .ok_or("nothing to export")?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| input.with_extension("mote"));
    let is_gp = args.tflite.is_none()
        && input
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".json"));
    let out = if is_gp && args.out.is_none() {
        // `model.gp.json` -> `model.mote`, not `model.gp.mote`.
        let stem = input.with_extension("");
        match stem.extension() {
            Some(e) if e == "gp" => stem.with_extension("mote"),
            _ => input.with_extension("mote"),
        }
    } else {
        out
    };
    let blob = if is_gp {
        export_gp(input, &args)?
    } else if let Some(path) = &args.tflite {
        let graph =
            tflite::import(&read_file(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
        let provenance = ProvenanceInfo {
            source: path.display().to_string(),
            ..Default::default()
        };
        build_for(&graph, &provenance, args.target).map_err(|e| e.to_string())?
    } else if let Ok(model) = mote_train::moderation::ModerationModel::load(input) {
        let data_path = args
            .data
            .as_ref()
            .ok_or("--data is required with a moderation model")?;
        let messages = mote_train::moderation::Messages::load(data_path, &model.policy)
            .map_err(|e| format!("{}: {e}", data_path.display()))?;
        super::moderation::export(&model, &messages, &input.display().to_string())?.0
    } else {
        let data_path = args
            .data
            .as_ref()
            .ok_or("--data is required with a checkpoint")?;
        let checkpoint = Checkpoint::load(input).map_err(|e| e.to_string())?;
        let data = super::load_csv(data_path)?;
        let (train, test) = data.split_mod5();
        let range = args
            .percentile
            .map_or(RangeMethod::MinMax, RangeMethod::Percentile);
        let source = input.display().to_string();
        let (blob, report) =
            export_checkpoint(&checkpoint, &train, &test, range, &source, args.target)
                .map_err(|e| e.to_string())?;
        outln!("{report}");
        blob
    };
    write_file(&out, &blob)?;
    outln!("blob -> {} ({} bytes)", out.display(), blob.len());
    Ok(())
}

/// Exports a GP parameter file; with `--data`, reports the blob against the f64 host model on
/// the held-out rows.
fn export_gp(path: &std::path::Path, args: &Args) -> Result<Vec<u8>> {
    let params = mote_train::gp::params::GpParams::load(path).map_err(|e| e.to_string())?;
    let test = match &args.data {
        Some(spec) => Some(super::eval::gp_test_rows(spec)?),
        None => None,
    };
    let (blob, report) = mote_exporter::gp::export_gp(
        &params,
        args.format,
        test.as_ref(),
        &path.display().to_string(),
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    outln!("{report}");
    Ok(blob)
}
