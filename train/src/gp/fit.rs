//! From a data set to a parameter file: standardise, place inducing points, train SGPR or
//! SVGP, and express the result as `q(u)` (what `mote train gp` runs), plus scoring.

use super::inducing::kmeans;
use super::kernels::Kernel;
use super::lbfgs::Lbfgs;
use super::likelihood::Likelihood;
use super::params::{GpParams, LinearMean, ModelKind, FORMAT, FORMAT_VERSION};
use super::posterior::SparseGp;
use super::sgpr::Sgpr;
use super::standardise::Standardiser;
use super::svgp::{Svgp, SvgpConfig};
use super::GpError;
use crate::data::Dataset;
use crate::linear::LinearRegression;
use crate::prng::Rng;
use crate::tape::Matrix;
use std::collections::BTreeMap;

/// Which observation model to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikelihoodKind {
    /// Real-valued targets with Gaussian noise.
    Gaussian,
    /// 0/1 labels (SVGP only).
    Bernoulli,
}

/// The GP's prior mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MeanKind {
    /// Zero (in standardised target units: the training targets' mean).
    #[default]
    Zero,
    /// A linear trend fitted by least squares on the standardised inputs before the GP, which
    /// then models the residual (Gaussian likelihood only).
    Linear,
}

/// Everything `mote train gp` can set.
#[derive(Debug, Clone)]
pub struct GpConfig {
    /// SGPR (collapsed bound, L-BFGS) or SVGP (minibatches, Adam and natural gradients).
    pub model: ModelKind,
    /// Kernel spec, see [`Kernel::from_spec`].
    pub kernel: String,
    /// Number of inducing points M.
    pub num_inducing: usize,
    /// L-BFGS iterations (SGPR) or minibatch steps (SVGP).
    pub iterations: usize,
    /// The observation model.
    pub likelihood: LikelihoodKind,
    /// SVGP minibatch size.
    pub batch_size: usize,
    /// SVGP Adam step size.
    pub learning_rate: f64,
    /// Jitter on the diagonal of `K(Z, Z)`.
    pub jitter: f64,
    /// Starting noise variance, in standardised target units.
    pub initial_noise: f64,
    /// Seed of the inducing-point placement and the minibatch order.
    pub seed: u64,
    /// Zero or linear prior mean.
    pub mean: MeanKind,
    /// Starting lengthscale of every RBF/Matern term (standardised units), instead of the
    /// spec's defaults ([`Kernel::from_spec`]). Longer starts keep a kernel that explains
    /// only a residual (after a linear mean) from collapsing to zero variance early on.
    pub initial_lengthscale: Option<f64>,
    /// Training runs from different starts, of which the one with the best training
    /// objective is kept (see [`train_gp_restarts`]); 1 is a single run from `seed`.
    pub restarts: usize,
}

impl Default for GpConfig {
    fn default() -> Self {
        GpConfig {
            model: ModelKind::Sgpr,
            kernel: "rbf-ard".into(),
            num_inducing: 32,
            iterations: 1000,
            likelihood: LikelihoodKind::Gaussian,
            batch_size: 256,
            learning_rate: 0.01,
            jitter: 1e-6,
            initial_noise: 0.1,
            seed: 0,
            mean: MeanKind::Zero,
            initial_lengthscale: None,
            restarts: 1,
        }
    }
}

/// Progress of a training run.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Which restart is running, from 0.
    pub restart: usize,
    /// Iteration (L-BFGS) or step (SVGP), from 1.
    pub iteration: usize,
    /// The configured upper bound on iterations.
    pub total: usize,
    /// The ELBO (SVGP: on the current minibatch, scaled to the full data set).
    pub elbo: f64,
}

fn to_f64_rows(d: &Dataset) -> Vec<Vec<f64>> {
    d.features
        .iter()
        .map(|r| r.iter().map(|&v| f64::from(v)).collect())
        .collect()
}

/// Sets every lengthscale of `kernel` (all terms) to `l`.
fn set_lengthscales(kernel: &mut Kernel, l: f64) {
    match kernel {
        Kernel::Rbf { lengthscales, .. }
        | Kernel::Matern32 { lengthscales, .. }
        | Kernel::Matern52 { lengthscales, .. } => lengthscales.fill(l),
        Kernel::Linear { .. } | Kernel::White { .. } => {}
        Kernel::Sum { kernels } | Kernel::Product { kernels } => {
            kernels.iter_mut().for_each(|k| set_lengthscales(k, l))
        }
    }
}

/// How far a restart moves the starting hyperparameters: each is multiplied by `2^u`, `u`
/// uniform in `[-RESTART_SPREAD, RESTART_SPREAD)`, i.e. by a factor between 1/2 and 2.
pub const RESTART_SPREAD: f64 = 1.0;

/// The seed of restart `restart` of a run seeded with `seed`: `seed` itself for restart 0 (so
/// one restart is exactly the plain run), otherwise the first draw of a SplitMix64 stream
/// seeded with `seed ^ restart · 0xD1B54A32D192ED03`, so that restarts of neighbouring seeds
/// do not share starts.
pub fn restart_seed(seed: u64, restart: usize) -> u64 {
    if restart == 0 {
        seed
    } else {
        Rng::new(seed ^ (restart as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)).next_u64()
    }
}

/// How one run of [`train_gp_restarts`] ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartOutcome {
    /// The restart, from 0.
    pub restart: usize,
    /// Its seed ([`restart_seed`]): inducing-point placement, minibatch order, perturbation.
    pub seed: u64,
    /// Its final training objective (SGPR: the collapsed bound; SVGP: the ELBO on the full
    /// training set), or why it failed.
    pub objective: Result<f64, GpError>,
    /// The trained kernel's largest RBF/Matern variance ([`Kernel::stationary_variance`]):
    /// near 0 when the run collapsed to the mean function.
    pub stationary_variance: Option<f64>,
}

/// The kept run of [`train_gp_restarts`] and how every run ended.
#[derive(Debug, Clone)]
pub struct Restarts {
    /// The parameter file of the run with the best training objective.
    pub params: GpParams,
    /// Which restart that was.
    pub kept: usize,
    /// Every run, in order.
    pub outcomes: Vec<RestartOutcome>,
}

/// Trains a sparse GP on `train` and returns its parameter file contents (the best of
/// `cfg.restarts` runs, see [`train_gp_restarts`]).
pub fn train_gp(
    train: &Dataset,
    cfg: &GpConfig,
    on_progress: impl FnMut(Progress),
) -> Result<GpParams, GpError> {
    train_gp_restarts(train, cfg, on_progress, |_| {}).map(|r| r.params)
}

/// Trains `cfg.restarts` times and keeps the run with the highest training objective (never a
/// test score), as GPy's `optimize_restarts` does: the collapsed bound and the inducing-point
/// optimisation have local optima (e.g. a kernel variance of 0 that leaves only the mean).
///
/// Restart 0 is exactly the single run from `cfg.seed`. Restart `k ≥ 1` runs from
/// [`restart_seed`]`(seed, k)`: k-means++ places the inducing points from it, SVGP draws its
/// minibatches from it, and every starting kernel hyperparameter (after
/// `initial_lengthscale`) is multiplied by a factor in `[1/2, 2]` ([`RESTART_SPREAD`],
/// [`Kernel::perturb`]); the noise starts at `initial_noise` in every run. Ties keep the
/// earlier run, so the result is never worse in objective than restart 0. A run that fails
/// (e.g. a kernel matrix that is not positive definite) is reported and skipped; if restart 0
/// fails with [`GpError::Invalid`] (a configuration or data error) that error is returned at
/// once, and if every run fails, restart 0's error is. `on_restart` hears each run's end.
/// With more than one restart the file's `meta` records `restarts`, `restart_kept` and
/// `restart_seed`.
pub fn train_gp_restarts(
    train: &Dataset,
    cfg: &GpConfig,
    mut on_progress: impl FnMut(Progress),
    mut on_restart: impl FnMut(&RestartOutcome),
) -> Result<Restarts, GpError> {
    if cfg.restarts == 0 {
        return Err(GpError::Invalid("restarts must be at least 1".into()));
    }
    let mut best: Option<(usize, f64, GpParams)> = None;
    let mut outcomes: Vec<RestartOutcome> = Vec::with_capacity(cfg.restarts);
    for restart in 0..cfg.restarts {
        let seed = restart_seed(cfg.seed, restart);
        let run = train_once(train, cfg, restart, seed, &mut on_progress);
        let outcome = RestartOutcome {
            restart,
            seed,
            objective: run.as_ref().map(|(_, elbo)| *elbo).map_err(Clone::clone),
            stationary_variance: run
                .as_ref()
                .ok()
                .and_then(|(p, _)| p.kernel.stationary_variance()),
        };
        on_restart(&outcome);
        outcomes.push(outcome);
        match run {
            Ok((params, objective)) => {
                // A finite objective beats a non-finite one; otherwise only a strictly higher
                // one replaces the kept run.
                let better = match &best {
                    None => true,
                    Some((_, kept, _)) => {
                        objective.is_finite() && (!kept.is_finite() || objective > *kept)
                    }
                };
                if better {
                    best = Some((restart, objective, params));
                }
            }
            Err(e @ GpError::Invalid(_)) if restart == 0 => return Err(e),
            Err(_) => {}
        }
    }
    let Some((kept, _, mut params)) = best else {
        // Every run failed: report the first (restart 0's) error.
        return Err(outcomes
            .into_iter()
            .find_map(|o| o.objective.err())
            .unwrap_or_else(|| GpError::Invalid("no training run finished".into())));
    };
    if cfg.restarts > 1 {
        params
            .meta
            .insert("restarts".into(), cfg.restarts.to_string());
        params.meta.insert("restart_kept".into(), kept.to_string());
        params
            .meta
            .insert("restart_seed".into(), outcomes[kept].seed.to_string());
    }
    Ok(Restarts {
        params,
        kept,
        outcomes,
    })
}

/// One training run from `seed` (perturbed hyperparameters for `restart ≥ 1`): the parameter
/// file and its final training objective.
fn train_once(
    train: &Dataset,
    cfg: &GpConfig,
    restart: usize,
    seed: u64,
    mut on_progress: impl FnMut(Progress),
) -> Result<(GpParams, f64), GpError> {
    if train.is_empty() {
        return Err(GpError::Invalid("the training set is empty".into()));
    }
    if cfg.num_inducing == 0 || cfg.iterations == 0 {
        return Err(GpError::Invalid(
            "inducing points and iterations must be at least 1".into(),
        ));
    }
    if cfg.model == ModelKind::Sgpr && cfg.likelihood == LikelihoodKind::Bernoulli {
        return Err(GpError::Invalid(
            "SGPR needs a Gaussian likelihood; use --model svgp for 0/1 labels".into(),
        ));
    }
    let rows = to_f64_rows(train);
    let d = train.num_features();
    let input_std = Standardiser::fit(&rows);
    let raw_y: Vec<f64> = train.targets.iter().map(|&v| f64::from(v)).collect();
    let target_std = match cfg.likelihood {
        LikelihoodKind::Gaussian => {
            Standardiser::fit(&raw_y.iter().map(|&v| vec![v]).collect::<Vec<_>>())
        }
        LikelihoodKind::Bernoulli => Standardiser::identity(1),
    };
    let x = Matrix::new(
        rows.len(),
        d,
        rows.iter().flat_map(|r| input_std.apply(r)).collect(),
    );
    let mut y: Vec<f64> = raw_y
        .iter()
        .map(|&v| (v - target_std.mean[0]) / target_std.scale[0])
        .collect();
    let mean_function = match cfg.mean {
        MeanKind::Zero => None,
        MeanKind::Linear => {
            if cfg.likelihood != LikelihoodKind::Gaussian {
                return Err(GpError::Invalid(
                    "a linear mean needs a Gaussian likelihood".into(),
                ));
            }
            let rows: Vec<Vec<f64>> = (0..x.rows).map(|i| x.row(i).to_vec()).collect();
            let fit = LinearRegression::fit(&rows, &y)
                .ok_or_else(|| GpError::Invalid("the linear mean could not be fitted".into()))?;
            let mean = LinearMean {
                weights: fit.weights,
                bias: fit.bias,
            };
            for (target, row) in y.iter_mut().zip(&rows) {
                *target -= mean.at(row);
            }
            Some(mean)
        }
    };
    let mut kernel = Kernel::from_spec(&cfg.kernel, d)?;
    if let Some(l) = cfg.initial_lengthscale {
        if !(l.is_finite() && l > 0.0) {
            return Err(GpError::Invalid(format!(
                "the initial lengthscale must be positive, not {l}"
            )));
        }
        set_lengthscales(&mut kernel, l);
    }
    if restart > 0 {
        // A second stream from the restart's seed (k-means++ draws from the first).
        let mut rng = Rng::new(seed.rotate_left(32) ^ 0x6A09_E667_F3BC_C908);
        kernel.perturb(&mut rng, RESTART_SPREAD);
    }
    let z = kmeans(&x, cfg.num_inducing, 20, seed);
    let total = cfg.iterations;
    let mut meta = BTreeMap::new();
    let (model_kind, kernel, z, q_mu, q_cov, likelihood, elbo) = match cfg.model {
        ModelKind::Sgpr => {
            let mut model = Sgpr::new(x, &y, kernel, z, cfg.initial_noise, cfg.jitter)?;
            let lbfgs = Lbfgs {
                max_iterations: cfg.iterations,
                ..Lbfgs::default()
            };
            let result = model.fit(&lbfgs, |iteration, elbo| {
                on_progress(Progress {
                    restart,
                    iteration,
                    total,
                    elbo,
                })
            })?;
            meta.insert("optimizer".into(), "lbfgs".into());
            meta.insert("iterations_run".into(), result.iterations.to_string());
            let (q_mu, q_cov) = model.posterior()?;
            let elbo = model.elbo()?;
            let lik = Likelihood::Gaussian {
                variance: model.noise_variance,
            };
            (
                ModelKind::Sgpr,
                model.kernel,
                model.inducing,
                q_mu,
                q_cov,
                lik,
                elbo,
            )
        }
        ModelKind::Svgp => {
            let lik = match cfg.likelihood {
                LikelihoodKind::Gaussian => Likelihood::Gaussian {
                    variance: cfg.initial_noise,
                },
                LikelihoodKind::Bernoulli => {
                    if raw_y.iter().any(|&v| v != 0.0 && v != 1.0) {
                        return Err(GpError::Invalid(
                            "the Bernoulli likelihood needs 0/1 labels in the target column".into(),
                        ));
                    }
                    Likelihood::Bernoulli
                }
            };
            let mut model = Svgp::new(x, &y, kernel, z, lik, cfg.jitter)?;
            let svgp_cfg = SvgpConfig {
                iterations: cfg.iterations,
                batch_size: cfg.batch_size,
                learning_rate: cfg.learning_rate,
                natural_gradient_step: Some(if cfg.batch_size >= train.len() {
                    1.0
                } else {
                    0.1
                }),
                train_inducing: true,
                seed,
            };
            model.fit(&svgp_cfg, |iteration, elbo| {
                on_progress(Progress {
                    restart,
                    iteration,
                    total,
                    elbo,
                })
            })?;
            meta.insert(
                "optimizer".into(),
                match cfg.likelihood {
                    LikelihoodKind::Gaussian => "adam+natural-gradient".into(),
                    LikelihoodKind::Bernoulli => "adam".into(),
                },
            );
            meta.insert("batch_size".into(), cfg.batch_size.to_string());
            meta.insert("learning_rate".into(), cfg.learning_rate.to_string());
            let (q_mu, q_cov) = model.posterior()?;
            let elbo = model.elbo()?;
            (
                ModelKind::Svgp,
                model.kernel,
                model.inducing,
                q_mu,
                q_cov,
                model.likelihood,
                elbo,
            )
        }
    };
    meta.insert(
        "trainer".into(),
        format!("mote-train {}", env!("CARGO_PKG_VERSION")),
    );
    meta.insert("kernel_spec".into(), cfg.kernel.clone());
    meta.insert("seed".into(), cfg.seed.to_string());
    if cfg.mean == MeanKind::Linear {
        meta.insert("mean".into(), "linear".into());
    }
    if let Some(l) = cfg.initial_lengthscale {
        meta.insert("initial_lengthscale".into(), l.to_string());
    }
    meta.insert("train_rows".into(), train.len().to_string());
    meta.insert("train_fingerprint".into(), train.fingerprint());
    meta.insert("elbo".into(), format!("{elbo}"));
    meta.insert("feature_names".into(), train.feature_names.join(","));
    let m = z.rows;
    let params = GpParams {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        model: model_kind,
        input_dim: d,
        kernel,
        inducing_inputs: (0..m).map(|i| z.row(i).to_vec()).collect(),
        q_mu,
        q_cov: (0..m).map(|i| q_cov.row(i).to_vec()).collect(),
        jitter: cfg.jitter,
        likelihood,
        input_standardisation: input_std,
        target_standardisation: target_std,
        mean_function,
        meta,
    };
    params.validate()?;
    Ok((params, elbo))
}

/// Test-set scores of a GP regressor (all in the targets' units where they have units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Root mean squared error of the predictive mean.
    pub rmse: f64,
    /// Mean negative log predictive density (nats).
    pub nlpd: f64,
    /// Fraction of targets inside the 95% predictive interval.
    pub coverage: f64,
    /// Rows scored.
    pub rows: usize,
}

/// Predicts every row of `test` and scores mean and variance.
pub fn evaluate(model: &SparseGp, test: &Dataset) -> Result<Evaluation, GpError> {
    let mut mean = Vec::with_capacity(test.len());
    let mut var = Vec::with_capacity(test.len());
    for row in to_f64_rows(test) {
        let (m, v) = model.predict(&row)?;
        mean.push(m);
        var.push(v);
    }
    let targets: Vec<f64> = test.targets.iter().map(|&v| f64::from(v)).collect();
    let rmse = (mean
        .iter()
        .zip(&targets)
        .map(|(m, t)| (m - t) * (m - t))
        .sum::<f64>()
        / targets.len() as f64)
        .sqrt();
    Ok(Evaluation {
        rmse,
        nlpd: crate::metrics::gaussian_nlpd(&mean, &var, &targets),
        coverage: crate::metrics::coverage_95(&mean, &var, &targets),
        rows: test.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trains_saves_loads_and_predicts_friedman() {
        let data = crate::gp::friedman::generate(250, 1.0, 3);
        let (train, test) = (
            data.subset(&(0..200).collect::<Vec<_>>()),
            data.subset(&(200..250).collect::<Vec<_>>()),
        );
        let cfg = GpConfig {
            num_inducing: 16,
            iterations: 150,
            ..GpConfig::default()
        };
        let params = train_gp(&train, &cfg, |_| {}).unwrap();
        let text = params.to_json();
        let loaded = GpParams::from_json(&text).unwrap();
        assert_eq!(loaded, params);
        let model = SparseGp::new(loaded).unwrap();
        let e = evaluate(&model, &test).unwrap();
        let rows = to_f64_rows(&train);
        let y: Vec<f64> = train.targets.iter().map(|&v| f64::from(v)).collect();
        let lin = crate::linear::LinearRegression::fit(&rows, &y).unwrap();
        let lin_rmse = (to_f64_rows(&test)
            .iter()
            .zip(&test.targets)
            .map(|(r, &t)| (lin.predict(r) - f64::from(t)).powi(2))
            .sum::<f64>()
            / 50.0)
            .sqrt();
        assert!(e.rmse < lin_rmse, "gp {} linear {lin_rmse}", e.rmse);
        assert!(e.coverage > 0.8 && e.nlpd.is_finite(), "{e:?}");
        for row in to_f64_rows(&test) {
            assert!(model.predict(&row).unwrap().1 > 0.0);
        }
        assert!(model.predict(&[0.0; 3]).is_err());
    }

    /// A linear mean takes the trend of `y = 3 x₁ − 2 x₂ + sin(4 x₁)`: its weights are the
    /// least-squares ones, the file round-trips, and the model predicts mean plus GP.
    #[test]
    fn linear_mean_takes_the_trend() {
        let mut rng = crate::prng::Rng::new(7);
        let mut train = Dataset::default();
        for _ in 0..120 {
            let x = [rng.next_f64(), rng.next_f64()];
            train.features.push(x.iter().map(|&v| v as f32).collect());
            train
                .targets
                .push((3.0 * x[0] - 2.0 * x[1] + (4.0 * x[0]).sin()) as f32);
        }
        let cfg = GpConfig {
            num_inducing: 8,
            iterations: 100,
            mean: MeanKind::Linear,
            initial_lengthscale: Some(2.0),
            ..GpConfig::default()
        };
        let params = train_gp(&train, &cfg, |_| {}).unwrap();
        let mean = params.mean_function.clone().unwrap();
        let x = Matrix::new(
            train.len(),
            2,
            to_f64_rows(&train)
                .iter()
                .flat_map(|r| params.input_standardisation.apply(r))
                .collect(),
        );
        let t = params.target_standardisation.clone();
        let y: Vec<f64> = train
            .targets
            .iter()
            .map(|&v| (f64::from(v) - t.mean[0]) / t.scale[0])
            .collect();
        let rows: Vec<Vec<f64>> = (0..x.rows).map(|i| x.row(i).to_vec()).collect();
        let ls = LinearRegression::fit(&rows, &y).unwrap();
        assert_eq!((mean.weights.clone(), mean.bias), (ls.weights, ls.bias));
        assert!(mean.weights[0] > 0.0 && mean.weights[1] < 0.0, "{mean:?}");
        assert_eq!(params.meta.get("mean").map(String::as_str), Some("linear"));
        let loaded = GpParams::from_json(&params.to_json()).unwrap();
        assert_eq!(loaded, params);
        let mut short = params.clone();
        short.mean_function.as_mut().unwrap().weights.pop();
        let err = short.validate().unwrap_err();
        assert!(
            err.to_string().contains("mean_function has 1 weights"),
            "{err}"
        );
        // The prediction is the linear mean plus the GP's: dropping the mean moves it.
        let model = SparseGp::new(params.clone()).unwrap();
        let mut zero_mean = params;
        zero_mean.mean_function = None;
        let without = SparseGp::new(zero_mean).unwrap();
        let at = [0.9, 0.1];
        let xs = model.params().input_standardisation.apply(&at);
        let shift = model.predict(&at).unwrap().0 - without.predict(&at).unwrap().0;
        assert!((shift - mean.at(&xs) * t.scale[0]).abs() < 1e-9, "{shift}");
        let e = evaluate(&model, &train).unwrap();
        assert!(e.rmse < 0.1, "{e:?}");
    }

    /// Restarts keep the run with the highest training objective (so never one worse than
    /// restart 0), restart 0 is the plain run bit for bit, one restart is exactly
    /// [`train_gp`]'s old result, and the other restarts really start elsewhere; for SGPR
    /// (collapsed bound) and SVGP (ELBO on the full training set).
    #[test]
    fn restarts_keep_the_best_objective_and_restart_0_is_the_plain_run() {
        let data = crate::gp::friedman::generate(150, 1.0, 3);
        for model in [ModelKind::Sgpr, ModelKind::Svgp] {
            let base = GpConfig {
                model,
                num_inducing: 8,
                iterations: 40,
                batch_size: 64,
                mean: MeanKind::Linear,
                initial_lengthscale: Some(3.0),
                seed: 1,
                ..GpConfig::default()
            };
            let plain = train_gp(&data, &base, |_| {}).unwrap();
            let one = train_gp_restarts(&data, &base, |_| {}, |_| {}).unwrap();
            assert_eq!((&one.params, one.kept), (&plain, 0));
            assert!(!plain.meta.contains_key("restarts"));
            let cfg = GpConfig {
                restarts: 4,
                ..base.clone()
            };
            let (mut heard, mut running) = (Vec::new(), Vec::new());
            let r = train_gp_restarts(
                &data,
                &cfg,
                |p| {
                    if running.last() != Some(&p.restart) {
                        running.push(p.restart);
                    }
                },
                |o| heard.push(o.clone()),
            )
            .unwrap();
            assert_eq!(running, vec![0, 1, 2, 3]);
            assert_eq!(heard, r.outcomes);
            let objectives: Vec<f64> = r
                .outcomes
                .iter()
                .map(|o| o.objective.clone().unwrap())
                .collect();
            let plain_elbo: f64 = plain.meta["elbo"].parse().unwrap();
            assert_eq!((r.outcomes[0].seed, objectives[0]), (1, plain_elbo));
            let seeds: Vec<u64> = r.outcomes.iter().map(|o| o.seed).collect();
            assert_eq!(
                seeds,
                (0..4).map(|k| restart_seed(1, k)).collect::<Vec<_>>()
            );
            assert!(
                objectives[1..].iter().all(|&o| o != objectives[0]),
                "{objectives:?}"
            );
            let best = (0..4).fold(0, |b, k| if objectives[k] > objectives[b] { k } else { b });
            assert_eq!(r.kept, best, "{objectives:?}");
            assert!(objectives[r.kept] >= objectives[0]);
            let kept_elbo: f64 = r.params.meta["elbo"].parse().unwrap();
            assert_eq!(kept_elbo, objectives[r.kept]);
            assert_eq!(r.params.meta["restarts"], "4");
            assert_eq!(r.params.meta["restart_kept"], r.kept.to_string());
            assert_eq!(r.params.meta["restart_seed"], seeds[r.kept].to_string());
            assert_eq!(r.params.meta["seed"], "1");
        }
    }

    /// A configuration error stops at restart 0 instead of failing every restart; zero
    /// restarts is an error.
    #[test]
    fn restarts_stop_at_a_configuration_error() {
        let data = crate::gp::friedman::generate(20, 1.0, 3);
        let cfg = GpConfig {
            kernel: "nope".into(),
            restarts: 3,
            ..GpConfig::default()
        };
        let mut heard = 0;
        let err = train_gp_restarts(&data, &cfg, |_| {}, |_| heard += 1).unwrap_err();
        assert!(err.to_string().contains("unknown kernel"), "{err}");
        assert_eq!(heard, 1);
        let cfg = GpConfig {
            restarts: 0,
            ..GpConfig::default()
        };
        let err = train_gp(&data, &cfg, |_| {}).unwrap_err();
        assert!(err.to_string().contains("restarts"), "{err}");
        assert_eq!(restart_seed(7, 0), 7);
        assert_ne!(restart_seed(7, 1), restart_seed(8, 1));
        assert_ne!(restart_seed(7, 1), restart_seed(7, 2));
    }

    #[test]
    fn rejects_bad_configs() {
        let data = crate::gp::friedman::generate(20, 1.0, 3);
        let cfg = GpConfig {
            likelihood: LikelihoodKind::Bernoulli,
            ..GpConfig::default()
        };
        assert!(train_gp(&data, &cfg, |_| {}).is_err());
        let cfg = GpConfig {
            model: ModelKind::Svgp,
            likelihood: LikelihoodKind::Bernoulli,
            ..GpConfig::default()
        };
        assert!(train_gp(&data, &cfg, |_| {}).is_err());
        let cfg = GpConfig {
            kernel: "nope".into(),
            ..GpConfig::default()
        };
        assert!(train_gp(&data, &cfg, |_| {}).is_err());
        let cfg = GpConfig {
            model: ModelKind::Svgp,
            likelihood: LikelihoodKind::Bernoulli,
            mean: MeanKind::Linear,
            ..GpConfig::default()
        };
        let bits = Dataset {
            targets: data.targets.iter().map(|&t| f32::from(t > 14.0)).collect(),
            ..data.clone()
        };
        let err = train_gp(&bits, &cfg, |_| {}).unwrap_err();
        assert!(err.to_string().contains("linear mean"), "{err}");
        let cfg = GpConfig {
            initial_lengthscale: Some(0.0),
            ..GpConfig::default()
        };
        assert!(train_gp(&data, &cfg, |_| {}).is_err());
    }
}
