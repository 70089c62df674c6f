//! `mote rec`: recommendation data tools (`mote rec simulate`), and `mote eval rec`.

use super::Result;
use mote_train::rec::simulate::{SimConfig, Simulator, TYPE_NAMES};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `mote rec`.
#[derive(clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    command: RecCommand,
}

/// The `mote rec` subcommands.
#[derive(clap::Subcommand)]
pub enum RecCommand {
    /// Simulate a platform (music, podcasts, newly launched audiobooks) and write
    /// `interactions.csv` and `items.csv` (about 20 interactions per user).
    Simulate(SimulateArgs),
}

/// Arguments of `mote rec simulate`.
#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Number of users (50,000 give about one million interactions).
    #[arg(long, default_value_t = 5000)]
    users: usize,
    /// Output folder (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// Seed of the simulated world.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Runs a `mote rec` subcommand.
pub fn run(args: Args) -> Result {
    match args.command {
        RecCommand::Simulate(a) => simulate(a),
    }
}

fn simulate(args: SimulateArgs) -> Result {
    let start = Instant::now();
    let sim =
        Simulator::new(SimConfig::for_users(args.users, args.seed)).map_err(|e| e.to_string())?;
    let summary = sim.write_csv(&args.out).map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    outln!(
        "{} users, {} interactions in {secs:.2} s -> {}",
        summary.users,
        summary.interactions(),
        args.out.display()
    );
    for (t, name) in TYPE_NAMES.iter().enumerate() {
        outln!(
            "  {name:<10} {:>7} items {:>9} interactions",
            summary.items_per_type[t],
            summary.interactions_per_type[t]
        );
    }
    outln!(
        "  {} users have audiobook interactions (launched at 70% of the period)",
        summary.new_type_users
    );
    Ok(())
}
