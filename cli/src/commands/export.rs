//! `mote export`: a checkpoint or an int8 .tflite file to a .mote blob.

use super::{read_file, write_file, Result};
use mote_exporter::pipeline::export_checkpoint;
use mote_exporter::ptq::RangeMethod;
use mote_exporter::{build, tflite, ProvenanceInfo};
use mote_train::Checkpoint;
use std::path::PathBuf;

/// Arguments of `mote export`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["checkpoint", "tflite"])))]
pub struct Args {
    /// A float checkpoint written by `mote train`.
    checkpoint: Option<PathBuf>,
    /// Import an int8 .tflite model (FULLY_CONNECTED, LOGISTIC, TANH, SOFTMAX) instead.
    #[arg(long, conflicts_with = "data")]
    tflite: Option<PathBuf>,
    /// For a checkpoint: the training CSV. Its training rows calibrate activation ranges; its
    /// held-out rows (index % 5 == 4) give the float vs int8 report.
    #[arg(long, required_unless_present = "tflite")]
    data: Option<PathBuf>,
    /// Take activation ranges at this percentile (e.g. 99.99) instead of min/max.
    #[arg(long)]
    percentile: Option<f32>,
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
    let blob = if let Some(path) = &args.tflite {
        let graph =
            tflite::import(&read_file(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
        let provenance = ProvenanceInfo {
            source: path.display().to_string(),
            ..Default::default()
        };
        build(&graph, &provenance).map_err(|e| e.to_string())?
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
        let (blob, report) = export_checkpoint(&checkpoint, &train, &test, range, &source)
            .map_err(|e| e.to_string())?;
        outln!("{report}");
        blob
    };
    write_file(&out, &blob)?;
    outln!("blob -> {} ({} bytes)", out.display(), blob.len());
    Ok(())
}
