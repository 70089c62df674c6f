//! `mote train gp`: fit a sparse Gaussian process (SGPR or SVGP) and write its parameter file.

use super::Result;
use indicatif::{ProgressBar, ProgressStyle};
use mote_train::data::Dataset;
use mote_train::gp::fit::{
    evaluate, train_gp_restarts, GpConfig, LikelihoodKind, MeanKind, RestartOutcome,
};
use mote_train::gp::params::ModelKind;
use mote_train::gp::posterior::SparseGp;
use mote_train::linear::LinearRegression;
use std::path::PathBuf;

/// Which sparse GP to train.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ModelArg {
    /// Titsias' collapsed bound, hyperparameters and inducing inputs by L-BFGS (regression).
    Sgpr,
    /// Stochastic variational GP on minibatches (regression or 0/1 classification).
    Svgp,
}

/// The observation model.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LikelihoodArg {
    /// Real-valued target with Gaussian noise.
    Gaussian,
    /// 0/1 labels, logistic link (SVGP only).
    Bernoulli,
}

/// The GP's prior mean.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum MeanArg {
    /// Zero (the training targets' mean).
    Zero,
    /// A linear trend fitted by least squares before the GP.
    Linear,
}

/// Arguments of `mote train gp`.
#[derive(clap::Args)]
pub struct Args {
    /// CSV with a header row whose last column is the target (rows with index % 5 == 4 are the
    /// test set), or `friedman1` for the generated Friedman #1 benchmark (2,000 rows, noise 1,
    /// the last 400 rows are the test set).
    #[arg(long)]
    data: String,
    /// SGPR (collapsed bound) or SVGP (minibatches).
    #[arg(long, value_enum, default_value = "sgpr")]
    model: ModelArg,
    /// Kernel: rbf, rbf-ard, matern32, matern52, matern32-iso, matern52-iso, linear, white;
    /// combine with + and *, e.g. `rbf-ard+linear`.
    #[arg(long, default_value = "rbf-ard")]
    kernel: String,
    /// Number of inducing points.
    #[arg(long, default_value_t = 32)]
    inducing: usize,
    /// L-BFGS iterations (SGPR; stops earlier on convergence) or minibatch steps (SVGP).
    /// Default: 1000 for SGPR, 3000 for SVGP.
    #[arg(long)]
    iterations: Option<usize>,
    /// Gaussian for regression, Bernoulli for 0/1 labels (SVGP).
    #[arg(long, value_enum, default_value = "gaussian")]
    likelihood: LikelihoodArg,
    /// SVGP minibatch size.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// SVGP Adam step size (hyperparameters and inducing inputs).
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// Seed of the inducing-point placement and the minibatch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training runs from different starts; the one with the best training objective (the
    /// ELBO, never a test score) is kept. Restart 0 is the run from --seed; restart k ≥ 1
    /// places the inducing points (and draws SVGP minibatches) from a seed derived from --seed
    /// and k, and starts every kernel hyperparameter at a random factor between 1/2 and 2 of
    /// its usual start. Guards against local optima such as a collapsed kernel variance.
    #[arg(long, default_value_t = 1)]
    restarts: usize,
    /// Jitter added to the diagonal of K(Z, Z), in standardised units: more keeps the inducing
    /// covariance better conditioned (what f32 and fixed-point blobs need), at a small cost in fit.
    #[arg(long, default_value_t = 1e-6)]
    jitter: f64,
    /// Prior mean: `zero`, or `linear` (a least-squares linear trend fitted first; the GP
    /// models the residual, which keeps its kernel matrix well conditioned when the target
    /// has a strong linear part, as Friedman #1 has).
    #[arg(long, value_enum, default_value = "zero")]
    mean: MeanArg,
    /// Starting lengthscale of the kernel's RBF/Matern terms, in standardised input units
    /// (default: 1 per input for ARD kernels, √d for isotropic ones). Friedman #1 with
    /// `--mean linear` needs a longer start (3) or the kernel collapses to zero variance.
    #[arg(long)]
    lengthscale_init: Option<f64>,
    /// Where to write the parameter file (JSON, see train/GP_PARAMS.md).
    #[arg(long, short, default_value = "model.gp.json")]
    out: PathBuf,
}

fn load(spec: &str) -> Result<(Dataset, Dataset)> {
    if spec == "friedman1" {
        return Ok(mote_train::gp::friedman::benchmark());
    }
    let data = super::load_csv(std::path::Path::new(spec))?;
    Ok(data.split_mod5())
}

fn rows_f64(d: &Dataset) -> Vec<Vec<f64>> {
    d.features
        .iter()
        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
        .collect()
}

/// A kernel variance below this after training means the smooth part collapsed.
const COLLAPSED_VARIANCE: f64 = 1e-6;

/// One line per finished restart (numbered from 0, as the file's `restart_kept`): its seed,
/// objective and kernel variance.
fn restart_line(o: &RestartOutcome, restarts: usize) -> String {
    let head = format!("restart {} of {restarts} (seed {})", o.restart, o.seed);
    match &o.objective {
        Ok(elbo) => {
            let variance = o.stationary_variance.map_or(String::new(), |v| {
                let collapsed = if v < COLLAPSED_VARIANCE {
                    " (collapsed)"
                } else {
                    ""
                };
                format!("  kernel variance {v:.3e}{collapsed}")
            });
            format!("{head}: elbo {elbo:.3}{variance}")
        }
        Err(e) => format!("{head}: failed: {e}"),
    }
}

/// Trains, prints test RMSE, NLPD and 95% coverage (and a linear baseline), saves the file.
pub fn run(args: Args) -> Result {
    if args.restarts == 0 {
        return Err("--restarts must be at least 1".into());
    }
    let (train, test) = load(&args.data)?;
    if train.is_empty() || test.is_empty() {
        return Err("need at least one training and one test row".into());
    }
    let (model, default_iterations) = match args.model {
        ModelArg::Sgpr => (ModelKind::Sgpr, 1000),
        ModelArg::Svgp => (ModelKind::Svgp, 3000),
    };
    let cfg = GpConfig {
        model,
        kernel: args.kernel.clone(),
        num_inducing: args.inducing,
        iterations: args.iterations.unwrap_or(default_iterations),
        likelihood: match args.likelihood {
            LikelihoodArg::Gaussian => LikelihoodKind::Gaussian,
            LikelihoodArg::Bernoulli => LikelihoodKind::Bernoulli,
        },
        batch_size: args.batch_size,
        learning_rate: args.lr,
        seed: args.seed,
        jitter: args.jitter,
        mean: match args.mean {
            MeanArg::Zero => MeanKind::Zero,
            MeanArg::Linear => MeanKind::Linear,
        },
        initial_lengthscale: args.lengthscale_init,
        restarts: args.restarts,
        ..GpConfig::default()
    };
    let bar = ProgressBar::new(cfg.iterations as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix} {bar:30} iteration {pos}/{len} elbo {msg} ({elapsed})",
    ) {
        bar.set_style(style);
    }
    let restarts = cfg.restarts;
    let prefix = |restart: usize| {
        if restarts > 1 {
            format!("restart {restart} of {restarts}")
        } else {
            "training".to_string()
        }
    };
    bar.set_prefix(prefix(0));
    let started = std::time::Instant::now();
    let result = train_gp_restarts(
        &train,
        &cfg,
        |p| {
            bar.set_position(p.iteration as u64);
            bar.set_message(format!("{:.3}", p.elbo));
        },
        |o| {
            if restarts > 1 {
                bar.suspend(|| outln!("{}", restart_line(o, restarts)));
                bar.reset();
                bar.set_prefix(prefix(o.restart + 1));
            }
        },
    );
    bar.finish_and_clear();
    let trained = result.map_err(|e| format!("training the GP failed: {e}"))?;
    if restarts > 1 {
        outln!(
            "kept restart {} of {restarts} (the highest elbo)",
            trained.kept
        );
    }
    let mut params = trained.params;
    let model = SparseGp::new(params.clone()).map_err(|e| e.to_string())?;
    outln!(
        "trained {:?} ({}, {} inducing points) on {} rows in {:.1} s, elbo {}",
        cfg.model,
        cfg.kernel,
        params.inducing_inputs.len(),
        train.len(),
        started.elapsed().as_secs_f64(),
        params.meta.get("elbo").map_or("?", String::as_str)
    );
    if let Some(v) = params
        .kernel
        .stationary_variance()
        .filter(|&v| v < COLLAPSED_VARIANCE)
    {
        let hint = if restarts > 1 {
            "more --restarts"
        } else {
            "--restarts 4"
        };
        outln!(
            "warning: the kernel's variance collapsed to {v:.1e}: the smooth part explains \
             nothing (a local optimum); try {hint}, another --seed or a longer --lengthscale-init"
        );
    }
    match cfg.likelihood {
        LikelihoodKind::Gaussian => {
            let e = evaluate(&model, &test).map_err(|e| e.to_string())?;
            let linear = LinearRegression::fit(
                &rows_f64(&train),
                &train
                    .targets
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect::<Vec<_>>(),
            )
            .map(|lin| {
                let sq: f64 = rows_f64(&test)
                    .iter()
                    .zip(&test.targets)
                    .map(|(r, &t)| (lin.predict(r) - f64::from(t)).powi(2))
                    .sum();
                (sq / test.len() as f64).sqrt()
            });
            outln!(
                "test rmse {:.4}  nlpd {:.4}  coverage95 {:.4}  on {} rows",
                e.rmse,
                e.nlpd,
                e.coverage,
                e.rows
            );
            if let Some(lin) = linear {
                outln!(
                    "linear regression test rmse {lin:.4} (gp is {:.2}x lower)",
                    lin / e.rmse
                );
            }
            params
                .meta
                .insert("test_rmse".into(), format!("{:.6}", e.rmse));
            params
                .meta
                .insert("test_nlpd".into(), format!("{:.6}", e.nlpd));
            params
                .meta
                .insert("test_coverage95".into(), format!("{:.6}", e.coverage));
        }
        LikelihoodKind::Bernoulli => {
            let mut correct = 0usize;
            let mut nll = 0.0;
            for (row, &t) in rows_f64(&test).iter().zip(&test.targets) {
                let (p, _) = model.predict(row).map_err(|e| e.to_string())?;
                let p = p.clamp(1e-12, 1.0 - 1e-12);
                correct += usize::from((p > 0.5) == (t > 0.5));
                nll -= if t > 0.5 { p.ln() } else { (1.0 - p).ln() };
            }
            let acc = correct as f64 / test.len() as f64;
            let nll = nll / test.len() as f64;
            outln!(
                "test accuracy {acc:.4}  nlpd {nll:.4}  on {} rows",
                test.len()
            );
            params
                .meta
                .insert("test_accuracy".into(), format!("{acc:.6}"));
            params.meta.insert("test_nlpd".into(), format!("{nll:.6}"));
        }
    }
    super::write_file(&args.out, params.to_json().as_bytes())?;
    outln!("gp parameters -> {}", args.out.display());
    Ok(())
}
