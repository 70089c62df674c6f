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
    /// Per-category precision, recall and F1 of a moderation model on the held-out messages.
    Moderation(super::moderation::EvalArgs),
}

/// Runs the chosen experiment.
pub fn run(args: Args) -> Result {
    match args.command {
        EvalCommand::Distill(a) => super::distill::run_eval(a),
        EvalCommand::Moderation(a) => super::moderation::run_eval(a),
    }
}
