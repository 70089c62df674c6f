//! `mote eval`: experiments that train many models and write their results down, and the
//! scores of a GP blob on held-out data.

use super::{read_file, Result};
use mote_exporter::gp::{predict_blob, GpScores};
use mote_train::data::Dataset;
use std::path::{Path, PathBuf};

/// Arguments of `mote eval`.
#[derive(clap::Args)]
pub struct Args {
    /// Which experiment.
    #[command(subcommand)]
    command: EvalCommand,
}

/// The experiments `mote eval` runs.
#[derive(clap::Subcommand)]
pub enum EvalCommand {
    /// Distillation table: CE, KD, FitNet, VID, VID+KD students at 5, 10, 50 and all labelled
    /// rows per class, float and int8, over seeds; written as Markdown (a few minutes).
    Distill(super::distill::EvalDistillArgs),
    /// A sparse GP blob on the held-out rows of a data set, through the embedded runtime:
    /// RMSE, mean NLPD and the coverage of the 95% predictive interval.
    Gp(EvalGpArgs),
    /// Per-category precision, recall and F1 of a moderation model on the held-out messages.
    Moderation(super::moderation::EvalArgs),
    /// Recommendations: per-user time split, HGNN trained by link prediction, popularity and
    /// embedding-average baselines; hit-rate@10 and NDCG@10 per item type and for cold-start
    /// users of the new type (about a minute at the default 5,000 simulated users).
    Rec(super::rec::EvalRecArgs),
}

/// Arguments of `mote eval gp`.
#[derive(clap::Args)]
pub struct EvalGpArgs {
    /// The GP blob (`mote export model.gp.json`).
    #[arg(long)]
    blob: PathBuf,
    /// CSV with a header row, target last (held-out rows: index % 5 == 4), or `friedman1`
    /// (the last 400 of its 2,000 rows).
    #[arg(long)]
    data: PathBuf,
    /// Also score the f64 host model of this parameter file on the same rows, and print the
    /// blob's largest relative error against it (mean and variance).
    #[arg(long)]
    params: Option<PathBuf>,
    /// Also compare with this reference blob (e.g. the f32 blob of a fixed-point one): the
    /// largest |mean − reference mean| in reference predictive standard deviations, and the
    /// ratio of the NLPDs.
    #[arg(long)]
    reference: Option<PathBuf>,
}

/// Largest `|b − h| / |h|` of the means and of the variances of `blob` against `host`.
fn max_relative_errors(blob: &[(f64, f64)], host: &[(f64, f64)]) -> (f64, f64) {
    blob.iter()
        .zip(host)
        .fold((0.0f64, 0.0f64), |(mean, var), (b, h)| {
            (
                mean.max((b.0 - h.0).abs() / h.0.abs().max(f64::MIN_POSITIVE)),
                var.max((b.1 - h.1).abs() / h.1.max(f64::MIN_POSITIVE)),
            )
        })
}

/// Largest `|m − r| / sd_r` over the rows, `m` and `r` the means, `sd_r` the reference's
/// predictive standard deviation.
fn max_sd_shift(blob: &[(f64, f64)], reference: &[(f64, f64)]) -> f64 {
    blob.iter()
        .zip(reference)
        .map(|(b, r)| (b.0 - r.0).abs() / r.1.sqrt().max(f64::MIN_POSITIVE))
        .fold(0.0f64, f64::max)
}

/// Runs the chosen experiment.
pub fn run(args: Args) -> Result {
    match args.command {
        EvalCommand::Distill(a) => super::distill::run_eval(a),
        EvalCommand::Gp(a) => run_gp(a),
        EvalCommand::Moderation(a) => super::moderation::run_eval(a),
        EvalCommand::Rec(a) => super::rec::run_eval(a),
    }
}

/// The held-out rows of `spec`: a CSV's rows `i % 5 == 4`, or Friedman #1's last 400.
pub fn gp_test_rows(spec: &Path) -> Result<Dataset> {
    if spec.as_os_str() == "friedman1" {
        return Ok(mote_train::gp::friedman::benchmark().1);
    }
    Ok(super::load_csv(spec)?.split_mod5().1)
}

fn run_gp(args: EvalGpArgs) -> Result {
    let blob = read_file(&args.blob)?;
    let test = gp_test_rows(&args.data)?;
    let model = mote_runtime::GpModel::parse(&blob).map_err(|e| {
        format!(
            "{}: {e} (mote eval gp takes sparse GP blobs)",
            args.blob.display()
        )
    })?;
    if test.num_features() != model.input_len() {
        return Err(format!(
            "{}: rows have {} features; the model takes {}",
            args.data.display(),
            test.num_features(),
            model.input_len()
        ));
    }
    let predictions = predict_blob(&blob, &test.features).map_err(|e| e.to_string())?;
    let numbers = match model.spec().numbers {
        mote_runtime::manifest::GpNumbers::F32 => "f32",
        mote_runtime::manifest::GpNumbers::Fixed => "fixed",
    };
    outln!(
        "{} on {} held-out rows of {}",
        args.blob.display(),
        test.len(),
        args.data.display()
    );
    outln!("                  rmse      nlpd     coverage95");
    let row = |name: &str, s: GpScores| {
        outln!(
            "{name:<17} {:<9.4} {:<8.4} {:.4}",
            s.rmse,
            s.nlpd,
            s.coverage
        )
    };
    row(
        &format!("blob ({numbers})"),
        GpScores::of(&predictions, &test.targets),
    );
    if let Some(path) = &args.params {
        let params = mote_train::gp::params::GpParams::load(path).map_err(|e| e.to_string())?;
        let host = mote_train::gp::posterior::SparseGp::new(params).map_err(|e| e.to_string())?;
        let rows = test
            .features
            .iter()
            .map(|r| host.predict(&r.iter().map(|&v| f64::from(v)).collect::<Vec<_>>()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        row("host (f64)", GpScores::of(&rows, &test.targets));
        let (mean, var) = max_relative_errors(&predictions, &rows);
        outln!("max rel. error    mean {mean:.2e}  variance {var:.2e} (blob vs host f64)");
    }
    if let Some(path) = &args.reference {
        let reference = read_file(path)?;
        let others = predict_blob(&reference, &test.features)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let scores = GpScores::of(&others, &test.targets);
        row("reference", scores);
        outln!(
            "vs the reference max |Δmean|/sd {:.4}, NLPD ratio {:.5} ({})",
            max_sd_shift(&predictions, &others),
            GpScores::of(&predictions, &test.targets).nlpd / scores.nlpd,
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_figures() {
        let host = [(2.0, 1.0), (-4.0, 0.25)];
        let blob = [(2.001, 1.0), (-4.0, 0.2525)];
        let (mean, var) = max_relative_errors(&blob, &host);
        assert!((mean - 5e-4).abs() < 1e-12, "{mean}");
        assert!((var - 1e-2).abs() < 1e-12, "{var}");
        // 0.001 over sd 1 and 0 over sd 0.5.
        assert!((max_sd_shift(&blob, &host) - 1e-3).abs() < 1e-12);
        let shifted = [(2.0, 1.0), (-3.9, 0.25)];
        assert!((max_sd_shift(&shifted, &host) - 0.2).abs() < 1e-12);
    }
}
