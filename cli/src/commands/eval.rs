//! `mote eval`: experiments that train many models and write their results down.

use super::Result;

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
    /// Recommendations: per-user time split, HGNN trained by link prediction, popularity and
    /// embedding-average baselines; hit-rate@10 and NDCG@10 per item type and for cold-start
    /// users of the new type (about a minute at the default 5,000 simulated users).
    Rec(super::rec::EvalRecArgs),
}

/// Runs the chosen experiment.
pub fn run(args: Args) -> Result {
    match args.command {
        EvalCommand::Distill(a) => super::distill::run_eval(a),
        EvalCommand::Rec(a) => super::rec::run_eval(a),
    }
}
