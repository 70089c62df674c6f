//! `mote`: train small models, export them to int8 blobs, inspect and run them.

/// `println!` that ends the program quietly when standard output is closed early
/// (`mote inspect x.mote | head`) instead of panicking as `println!` does.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `print!` with the same handling of a closed standard output as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::write_stdout(format_args!($($arg)*)) };
}

mod commands;
mod table;

/// Writes to standard output; exits quietly if the reader has gone (broken pipe).
fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mote — train small models on a host, run them quantised on microcontrollers.
///
/// Start with `mote quickstart`: it trains a digits classifier, exports it to an int8 blob,
/// runs the blob through the embedded runtime and reports float vs int8 accuracy and memory.
#[derive(Parser)]
#[command(name = "mote", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train on the bundled digits data, export, run the blob and report (a few seconds).
    Quickstart(commands::quickstart::Args),
    /// Train a float MLP on a CSV data set (or a CNN teacher, or a distilled student).
    Train(commands::train::Args),
    /// Quantise a checkpoint (or import an int8 .tflite) into a .mote blob.
    Export(commands::export::Args),
    /// Run an experiment and write its results (e.g. `mote eval distill`).
    Eval(commands::eval::Args),
    /// Show a blob's layers, shapes, quantisation, sizes and provenance.
    Inspect(commands::inspect::Args),
    /// Run a blob on rows of a CSV file and write the outputs as CSV.
    Run(commands::run::Args),
    /// Count instructions, flash and RAM of a blob on an emulated board (QEMU).
    Bench(commands::bench::Args),
    /// Flash a blob (and the firmware, if needed) to a real board with probe-rs and run it.
    Flash(commands::flash::Args),
    /// Check a moderation policy file (`mote policy check P.toml`).
    Policy(commands::policy::Args),
    /// Recommendation data: simulate a platform (`mote rec simulate`).
    Rec(commands::rec::Args),
    /// Label messages with a teacher model (OpenAI-compatible server) by a policy file.
    Label(commands::label::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Quickstart(args) => commands::quickstart::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Flash(args) => commands::flash::run(args),
        Command::Policy(args) => commands::policy::run(args),
        Command::Rec(args) => commands::rec::run(args),
        Command::Label(args) => commands::label::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
