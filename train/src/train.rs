//! Training entry points: MLP classifiers and regressors that produce a [`Checkpoint`].
//!
//! Inside, training works on standardised inputs (and standardised regression targets) with
//! Adam, coupled L2 weight decay on weights and a seeded shuffle per epoch. The returned
//! checkpoint folds the standardisation back into the first and last layers, so it needs no
//! separate normaliser. Everything random comes from one [`Rng`] seeded by
//! [`TrainConfig::seed`], so the same data and config give a bit-identical checkpoint.

use crate::checkpoint::{Checkpoint, DenseLayer, Task};
use crate::data::Dataset;
use crate::mlp::Mlp;
use crate::nn::Activation;
use crate::optim::{Adam, Optimizer};
use crate::prng::Rng;
use crate::tape::{Matrix, Tape, Var};
use std::collections::BTreeMap;

/// Hyperparameters of one training run; recorded in the checkpoint's `meta`.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Widths of the hidden layers (empty for a linear model).
    pub hidden: Vec<usize>,
    /// Activation of every hidden layer (the output layer is always linear).
    pub activation: Activation,
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per Adam step.
    pub batch_size: usize,
    /// Adam step size.
    pub learning_rate: f64,
    /// L2 coefficient added to weight (not bias) gradients: keeps weights small, which helps
    /// int8 quantisation as well as generalisation.
    pub weight_decay: f64,
    /// Seed of the initialisation and shuffling stream.
    pub seed: u64,
}

impl Default for TrainConfig {
    /// Tuned for digits (64 features, 10 classes): one ReLU hidden layer of 64.
    fn default() -> Self {
        TrainConfig {
            hidden: vec![64],
            activation: Activation::Relu,
            epochs: 60,
            batch_size: 32,
            learning_rate: 1e-3,
            weight_decay: 1e-3,
            seed: 0,
        }
    }
}

/// Progress after one epoch, passed to the `on_epoch` callback (e.g. a CLI progress bar).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    /// 1-based number of the epoch just finished.
    pub epoch: usize,
    /// Total epochs in the run.
    pub epochs: usize,
    /// Mean training loss over the epoch's minibatches (cross-entropy, or MSE on the
    /// standardised target), without the weight-decay term.
    pub loss: f64,
}

/// Lower bound on a feature's scale, as a fraction of its observed range.
///
/// A std below a quarter of the range only happens for nearly constant features with rare
/// outliers (a digits pixel lit in a single image has std 0.026 and range 1). Dividing by such
/// a std makes that feature's folded first-layer weights 100x larger than the rest, which ruins
/// per-channel int8 quantisation of the checkpoint; flooring the scale keeps weights comparable
/// and costs no accuracy (measured on digits, breast_cancer and diabetes).
const RANGE_FLOOR: f64 = 0.25;

/// Per-feature mean and scale, fitted on the training set and folded into the checkpoint.
#[derive(Debug, Clone)]
struct Standardizer {
    mean: Vec<f64>,
    std: Vec<f64>,
}

impl Standardizer {
    /// Fits mean and scale per column: the population std, but at least `RANGE_FLOOR` times
    /// the column's range; zero-variance columns get scale 1.
    fn fit(rows: &[Vec<f32>]) -> Self {
        let d = rows.first().map_or(0, Vec::len);
        let n = rows.len() as f64;
        let mut mean = vec![0.0; d];
        for row in rows {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += f64::from(x);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0; d];
        for row in rows {
            for ((v, &x), m) in var.iter_mut().zip(row).zip(&mean) {
                *v += (f64::from(x) - m).powi(2);
            }
        }
        let mut lo = vec![f64::INFINITY; d];
        let mut hi = vec![f64::NEG_INFINITY; d];
        for row in rows {
            for (i, &x) in row.iter().enumerate() {
                lo[i] = lo[i].min(f64::from(x));
                hi[i] = hi[i].max(f64::from(x));
            }
        }
        let std = (0..d)
            .map(|i| {
                let s = (var[i] / n).sqrt();
                if s > 1e-12 {
                    s.max(RANGE_FLOOR * (hi[i] - lo[i]))
                } else {
                    1.0
                }
            })
            .collect();
        Standardizer { mean, std }
    }

    fn transform(&self, rows: &[Vec<f32>]) -> Matrix {
        let d = self.mean.len();
        let mut data = Vec::with_capacity(rows.len() * d);
        for row in rows {
            assert_eq!(row.len(), d, "every row needs {d} features");
            data.extend(
                row.iter()
                    .zip(&self.mean)
                    .zip(&self.std)
                    .map(|((&x, m), s)| (f64::from(x) - m) / s),
            );
        }
        Matrix::new(rows.len(), d, data)
    }
}

/// What the objective of one minibatch can read: the rows it holds, the network's output and
/// hidden activations on the tape, and the leaves of any extra trainable parameters.
pub(crate) struct Batch<'a> {
    /// Indices of the batch's rows in the training set.
    pub rows: &'a [usize],
    /// The network's output (logits or values), `rows x outputs`.
    pub output: Var,
    /// Every hidden layer's activation, input side first.
    pub hidden: &'a [Var],
    /// Leaves of the extra parameters, in the order they were handed to `fit`.
    pub extra: &'a [Var],
}

/// The objective of a minibatch, built on the tape.
pub(crate) type Objective<'a> = dyn Fn(&mut Tape, &Batch<'_>) -> Var + 'a;

/// The minibatch loop shared by every trainer: Adam over the network's parameters and the
/// `extra` ones (e.g. a distillation regressor, trained jointly but not exported); L2 decay on
/// the network's weights only.
fn fit(
    mlp: &mut Mlp,
    x: &Matrix,
    cfg: &TrainConfig,
    rng: &mut Rng,
    on_epoch: &mut dyn FnMut(&EpochReport),
    extra: &mut [Matrix],
    loss: &Objective<'_>,
) -> f64 {
    assert!(cfg.batch_size > 0, "batch_size must be positive");
    let mut optimizer = Adam::new(cfg.learning_rate);
    let mut order: Vec<usize> = (0..x.rows).collect();
    let mut last_loss = f64::NAN;
    let n_network = mlp.parameters().len();
    for epoch in 1..=cfg.epochs {
        rng.shuffle(&mut order);
        let mut total = 0.0;
        for batch in order.chunks(cfg.batch_size) {
            let mut xb = Vec::with_capacity(batch.len() * x.cols);
            for &i in batch {
                xb.extend_from_slice(x.row(i));
            }
            let mut tape = Tape::new();
            let input = tape.leaf(Matrix::new(batch.len(), x.cols, xb));
            let (out, hidden, mut params) = mlp.on_tape_with_hidden(&mut tape, input);
            let extra_leaves: Vec<Var> = extra.iter().map(|m| tape.leaf(m.clone())).collect();
            let objective = loss(
                &mut tape,
                &Batch {
                    rows: batch,
                    output: out,
                    hidden: &hidden,
                    extra: &extra_leaves,
                },
            );
            total += tape.value(objective).data[0] * batch.len() as f64;
            let mut grads = tape.backward(objective);
            params.extend(&extra_leaves);
            // A parameter the objective does not read (e.g. an unused regressor) gets zero.
            let mut grads: Vec<Matrix> = params
                .iter()
                .map(|&p| {
                    grads.take(p).unwrap_or_else(|| {
                        let v = tape.value(p);
                        Matrix::zeros(v.rows, v.cols)
                    })
                })
                .collect();
            let mut values = mlp.parameters_mut();
            values.extend(extra.iter_mut());
            // Even positions of the network's parameters are weights, odd are biases: decay
            // weights only.
            for (g, w) in grads
                .iter_mut()
                .zip(values.iter())
                .take(n_network)
                .step_by(2)
            {
                for (gi, wi) in g.data.iter_mut().zip(&w.data) {
                    *gi += cfg.weight_decay * wi;
                }
            }
            optimizer.step(&mut values, &grads);
        }
        last_loss = total / x.rows as f64;
        on_epoch(&EpochReport {
            epoch,
            epochs: cfg.epochs,
            loss: last_loss,
        });
    }
    last_loss
}

/// Converts the trained network to checkpoint layers, folding `x_std = (x - mean) / std` into
/// the first layer and `y = y_std * target_std + target_mean` into the last.
fn fold_into_layers(
    mlp: &Mlp,
    inputs: &Standardizer,
    target: Option<(f64, f64)>,
) -> Vec<DenseLayer> {
    let last = mlp.layers.len() - 1;
    mlp.layers
        .iter()
        .enumerate()
        .map(|(index, layer)| {
            let (n_in, n_out) = (layer.input_len(), layer.output_len());
            // w[o][i] and b[o] in f64, checkpoint orientation (output x input).
            let mut w = layer.weight.transpose().data;
            let mut b = layer.bias.data.clone();
            if index == 0 {
                for o in 0..n_out {
                    for i in 0..n_in {
                        let folded = w[o * n_in + i] / inputs.std[i];
                        b[o] -= folded * inputs.mean[i];
                        w[o * n_in + i] = folded;
                    }
                }
            }
            if let (true, Some((mean, std))) = (index == last, target) {
                w.iter_mut().for_each(|v| *v *= std);
                b.iter_mut().for_each(|v| *v = *v * std + mean);
            }
            DenseLayer {
                input_len: n_in,
                output_len: n_out,
                weight: w.iter().map(|&v| v as f32).collect(),
                bias: b.iter().map(|&v| v as f32).collect(),
                activation: layer.activation,
            }
        })
        .collect()
}

fn provenance(train: &Dataset, cfg: &TrainConfig, final_loss: f64) -> BTreeMap<String, String> {
    let hidden = cfg
        .hidden
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",");
    [
        (
            "trainer",
            format!("mote-train {}", env!("CARGO_PKG_VERSION")),
        ),
        ("model", "mlp".to_string()),
        ("hidden", hidden),
        ("activation", cfg.activation.name().to_string()),
        ("optimizer", "adam".to_string()),
        ("epochs", cfg.epochs.to_string()),
        ("batch_size", cfg.batch_size.to_string()),
        ("learning_rate", cfg.learning_rate.to_string()),
        ("weight_decay", cfg.weight_decay.to_string()),
        ("seed", cfg.seed.to_string()),
        ("train_rows", train.len().to_string()),
        ("train_fingerprint", train.fingerprint()),
        ("final_loss", final_loss.to_string()),
        ("feature_names", train.feature_names.join(",")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Trains an MLP classifier on `train` (targets are class indices `0..classes`).
///
/// Returns a checkpoint whose `forward` takes raw features and returns `classes` logits.
/// Panics if `train` is empty, `classes < 2`, `batch_size == 0`, or a target is not an
/// integer in `0..classes`.
pub fn train_classifier(
    train: &Dataset,
    classes: usize,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Checkpoint {
    let mut meta = BTreeMap::new();
    meta.insert("loss".into(), "softmax_cross_entropy".into());
    train_classifier_with(train, classes, cfg, on_epoch, &mut [], &|_, _| None, meta)
}

/// Adds terms to the cross-entropy of a minibatch (`None`: nothing to add).
pub(crate) type ExtraLoss<'a> = dyn Fn(&mut Tape, &Batch<'_>) -> Option<Var> + 'a;

/// [`train_classifier`] with `extra` trainable parameters and an `extra_loss` added to the
/// cross-entropy of every minibatch: the hook distillation uses, so that students are trained
/// by exactly the same loop, standardisation and folding as plain classifiers. `meta` entries
/// are added to the checkpoint's provenance.
pub(crate) fn train_classifier_with(
    train: &Dataset,
    classes: usize,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochReport),
    extra: &mut [Matrix],
    extra_loss: &ExtraLoss<'_>,
    meta: BTreeMap<String, String>,
) -> Checkpoint {
    assert!(!train.is_empty(), "train_classifier: empty data set");
    assert!(classes >= 2, "train_classifier: need at least 2 classes");
    let labels: Vec<usize> = train
        .targets
        .iter()
        .enumerate()
        .map(|(row, &t)| {
            assert!(
                t >= 0.0 && t.fract() == 0.0 && (t as usize) < classes,
                "train_classifier: row {row} has target {t}, not a class index below {classes}"
            );
            t as usize
        })
        .collect();
    let scaler = Standardizer::fit(&train.features);
    let x = scaler.transform(&train.features);
    let mut rng = Rng::new(cfg.seed);
    let mut mlp = Mlp::new(x.cols, &cfg.hidden, classes, cfg.activation, &mut rng);
    let loss = |tape: &mut Tape, batch: &Batch<'_>| {
        let y: Vec<usize> = batch.rows.iter().map(|&i| labels[i]).collect();
        let ce = tape.softmax_cross_entropy(batch.output, &y);
        match extra_loss(tape, batch) {
            Some(more) => tape.add(ce, more),
            None => ce,
        }
    };
    let final_loss = fit(&mut mlp, &x, cfg, &mut rng, on_epoch, extra, &loss);
    let mut all_meta = provenance(train, cfg, final_loss);
    all_meta.extend(meta);
    Checkpoint {
        layers: fold_into_layers(&mlp, &scaler, None),
        task: Task::Classification { classes },
        meta: all_meta,
    }
}

/// Trains an MLP regressor on `train` (one real-valued target per row, MSE loss).
///
/// Returns a checkpoint whose `forward` takes raw features and returns one value in the
/// target's original units. Panics if `train` is empty or `batch_size == 0`.
pub fn train_regressor(
    train: &Dataset,
    cfg: &TrainConfig,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Checkpoint {
    assert!(!train.is_empty(), "train_regressor: empty data set");
    let scaler = Standardizer::fit(&train.features);
    let x = scaler.transform(&train.features);
    let target_rows: Vec<Vec<f32>> = train.targets.iter().map(|&t| vec![t]).collect();
    let target_scaler = Standardizer::fit(&target_rows);
    let y = target_scaler.transform(&target_rows);
    let mut rng = Rng::new(cfg.seed);
    let mut mlp = Mlp::new(x.cols, &cfg.hidden, 1, cfg.activation, &mut rng);
    let loss = |tape: &mut Tape, batch: &Batch<'_>| {
        let target = tape.leaf(Matrix::new(
            batch.rows.len(),
            1,
            batch.rows.iter().map(|&i| y.data[i]).collect(),
        ));
        tape.mean_squared_error(batch.output, target)
    };
    let final_loss = fit(&mut mlp, &x, cfg, &mut rng, on_epoch, &mut [], &loss);
    let (mean, std) = (target_scaler.mean[0], target_scaler.std[0]);
    let mut meta = provenance(train, cfg, final_loss);
    meta.insert("loss".into(), "mean_squared_error".into());
    meta.insert("target_mean".into(), mean.to_string());
    meta.insert("target_std".into(), std.to_string());
    Checkpoint {
        layers: fold_into_layers(&mlp, &scaler, Some((mean, std))),
        task: Task::Regression,
        meta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics;

    #[test]
    fn folding_matches_standardised_forward() {
        let data = Dataset {
            features: (0..40)
                .map(|i| vec![i as f32, 100.0 + (i % 7) as f32 * 3.0, 5.0])
                .collect(),
            targets: (0..40).map(|i| 1000.0 + i as f32 * 10.0).collect(),
            feature_names: vec!["a".into(), "b".into(), "constant".into()],
        };
        let scaler = Standardizer::fit(&data.features);
        assert_eq!(scaler.std[2], 1.0);
        let mut rng = Rng::new(5);
        let mlp = Mlp::new(3, &[4], 1, Activation::Tanh, &mut rng);
        let layers = fold_into_layers(&mlp, &scaler, Some((1000.0, 50.0)));
        let ckpt = Checkpoint {
            layers,
            task: Task::Regression,
            meta: BTreeMap::new(),
        };
        let reference = mlp.forward(&scaler.transform(&data.features));
        for (r, row) in data.features.iter().enumerate() {
            let expected = reference.data[r] * 50.0 + 1000.0;
            let got = f64::from(ckpt.forward(row)[0]);
            assert!(
                (got - expected).abs() < 1e-3,
                "row {r}: {got} vs {expected}"
            );
        }
    }

    #[test]
    fn reports_every_epoch_and_learns_a_separable_problem() {
        let data = Dataset {
            features: (0..60)
                .map(|i| vec![(i % 10) as f32, (i / 10) as f32 * 50.0])
                .collect(),
            targets: (0..60)
                .map(|i| if i % 10 < 5 { 0.0 } else { 1.0 })
                .collect(),
            feature_names: vec!["x".into(), "noise".into()],
        };
        let cfg = TrainConfig {
            hidden: vec![8],
            epochs: 40,
            batch_size: 8,
            learning_rate: 0.01,
            ..TrainConfig::default()
        };
        let mut reports = Vec::new();
        let ckpt = train_classifier(&data, 2, &cfg, &mut |r| reports.push(*r));
        assert_eq!(reports.len(), 40);
        assert_eq!((reports[39].epoch, reports[39].epochs), (40, 40));
        assert!(reports[39].loss < reports[0].loss);
        let rows: Vec<Vec<f32>> = data.features.iter().map(|x| ckpt.forward(x)).collect();
        assert_eq!(metrics::accuracy(&rows, &data.targets), 1.0);
        assert_eq!(ckpt.meta["seed"], "0");
        assert_eq!(ckpt.meta["train_fingerprint"], data.fingerprint());
    }
}
