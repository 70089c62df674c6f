//! `mote train`: fit a float MLP to a CSV data set.

use super::Result;
use indicatif::{ProgressBar, ProgressStyle};
use mote_train::data::Dataset;
use mote_train::{Activation, Checkpoint, EpochReport, TrainConfig};
use std::path::PathBuf;

/// What the model predicts.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum TaskArg {
    /// Class labels 0..k-1 in the last column; trained with softmax cross-entropy.
    Classify,
    /// A real target in the last column; trained with mean squared error.
    Regress,
}

/// Hidden-layer activations `mote train` offers.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ActivationArg {
    /// max(x, 0), fused into the int8 fully connected layer.
    Relu,
    /// min(max(x, 0), 6), fused.
    Relu6,
    /// tanh, a separate int8 TANH layer.
    Tanh,
    /// logistic, a separate int8 LOGISTIC layer.
    Sigmoid,
}

/// Arguments of `mote train`: an MLP on a CSV file, or one of the subcommands.
#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    /// Other models to train.
    #[command(subcommand)]
    command: Option<TrainCommand>,
    /// The plain MLP's options.
    #[command(flatten)]
    mlp: MlpArgs,
}

/// What `mote train <model>` trains besides the plain MLP.
#[derive(clap::Subcommand)]
pub enum TrainCommand {
    /// Train a CNN teacher on 8x8 images (the bundled digits by default) and save it.
    Teacher(super::distill::TeacherArgs),
    /// Train an MLP student from a CNN teacher (KD, FitNet, VID) and export it to int8.
    Distill(Box<super::distill::DistillArgs>),
    /// Train a sparse Gaussian process (SGPR or SVGP) and write its parameter file.
    Gp(super::train_gp::Args),
    /// Train a moderation classifier for a policy on labelled messages.
    Moderation(super::moderation::TrainArgs),
}

/// Arguments of the plain `mote train` (an MLP on a CSV file).
#[derive(clap::Args)]
pub struct MlpArgs {
    /// CSV with a header row; the last column is the label or target. Rows with
    /// index % 5 == 4 are held out for testing, the rest train.
    #[arg(long, required = true)]
    data: Option<PathBuf>,
    /// Classification or regression.
    #[arg(long, value_enum, default_value = "classify")]
    task: TaskArg,
    /// Where to write the float checkpoint (safetensors; see train/CHECKPOINT.md).
    #[arg(long, short, required = true)]
    out: Option<PathBuf>,
    /// Hidden layer widths, comma-separated.
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// Hidden-layer activation.
    #[arg(long, value_enum)]
    activation: Option<ActivationArg>,
    /// Passes over the training rows.
    #[arg(long)]
    epochs: Option<usize>,
    /// Rows per Adam step.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Adam learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// L2 weight decay.
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Seed of initialisation and shuffling; the same seed gives the same checkpoint.
    #[arg(long)]
    seed: Option<u64>,
}

impl MlpArgs {
    fn config(&self) -> TrainConfig {
        let mut cfg = TrainConfig::default();
        if let Some(hidden) = &self.hidden {
            cfg.hidden = hidden.clone();
        }
        if let Some(a) = self.activation {
            cfg.activation = match a {
                ActivationArg::Relu => Activation::Relu,
                ActivationArg::Relu6 => Activation::Relu6,
                ActivationArg::Tanh => Activation::Tanh,
                ActivationArg::Sigmoid => Activation::Sigmoid,
            };
        }
        cfg.epochs = self.epochs.unwrap_or(cfg.epochs);
        cfg.batch_size = self.batch_size.unwrap_or(cfg.batch_size);
        cfg.learning_rate = self.lr.unwrap_or(cfg.learning_rate);
        cfg.weight_decay = self.weight_decay.unwrap_or(cfg.weight_decay);
        cfg.seed = self.seed.unwrap_or(cfg.seed);
        cfg
    }
}

/// Runs the subcommand, or trains the plain MLP.
pub fn run(args: Args) -> Result {
    match args.command {
        Some(TrainCommand::Teacher(a)) => super::distill::run_teacher(a),
        Some(TrainCommand::Distill(a)) => super::distill::run_distill(*a),
        Some(TrainCommand::Gp(a)) => super::train_gp::run(a),
        Some(TrainCommand::Moderation(a)) => super::moderation::run_train(a),
        None => run_mlp(args.mlp),
    }
}

/// Trains, reports the held-out metric and saves the checkpoint.
fn run_mlp(args: MlpArgs) -> Result {
    let (Some(data_path), Some(out)) = (&args.data, &args.out) else {
        return Err("mote train needs --data and --out (or a subcommand: see --help)".into());
    };
    let data = super::load_csv(data_path)?;
    let (train, test) = data.split_mod5();
    let cfg = args.config();
    let checkpoint = fit(&train, args.task, &cfg)?;
    let predictions: Vec<Vec<f32>> = test
        .features
        .iter()
        .map(|r| checkpoint.forward(r))
        .collect();
    match args.task {
        TaskArg::Classify => outln!(
            "test accuracy {:.4} on {} rows",
            mote_train::metrics::accuracy(&predictions, &test.targets),
            test.len()
        ),
        TaskArg::Regress => {
            let first: Vec<f32> = predictions.iter().map(|r| r[0]).collect();
            outln!(
                "test rmse {:.4} on {} rows",
                mote_train::metrics::rmse(&first, &test.targets),
                test.len()
            )
        }
    }
    checkpoint.save(out).map_err(|e| e.to_string())?;
    outln!("checkpoint -> {}", out.display());
    Ok(())
}

/// A progress bar over `epochs` on standard error (drawn only on a terminal), and the epoch
/// callback that moves it.
pub fn progress_bar(epochs: usize) -> (ProgressBar, impl FnMut(&EpochReport)) {
    let bar = ProgressBar::new(epochs as u64);
    if let Ok(style) =
        ProgressStyle::with_template("training {bar:30} epoch {pos}/{len} loss {msg} ({elapsed})")
    {
        bar.set_style(style);
    }
    let handle = bar.clone();
    let on_epoch = move |r: &EpochReport| {
        handle.set_position(r.epoch as u64);
        handle.set_message(format!("{:.4}", r.loss));
    };
    (bar, on_epoch)
}

/// Trains on `train` with a progress bar on standard error.
pub fn fit(train: &Dataset, task: TaskArg, cfg: &TrainConfig) -> Result<Checkpoint> {
    if train.is_empty() {
        return Err("the training set is empty".into());
    }
    if let TaskArg::Classify = task {
        if let Some(bad) = train.targets.iter().find(|&&t| t < 0.0 || t.fract() != 0.0) {
            return Err(format!(
                "classification labels must be class indices 0, 1, 2, ...; found {bad} \
                 (use --task regress for a real-valued target)"
            ));
        }
        if train.num_classes() < 2 {
            return Err("classification needs at least two classes in the training rows".into());
        }
    }
    let (bar, mut on_epoch) = progress_bar(cfg.epochs);
    let checkpoint = match task {
        TaskArg::Classify => {
            mote_train::train_classifier(train, train.num_classes(), cfg, &mut on_epoch)
        }
        TaskArg::Regress => mote_train::train_regressor(train, cfg, &mut on_epoch),
    };
    bar.finish();
    Ok(checkpoint)
}
