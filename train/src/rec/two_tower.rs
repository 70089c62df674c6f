//! The two-tower model on top of the HGNN (the "2T" of 2T-HGNN).
//!
//! - **User tower**: an MLP over user features built from the user's recent items only (so it
//!   can run on the device from a list of item ids): the mean item embedding of the last
//!   `recent` items, the mean per item type (zeros for a type the user never touched), the
//!   share of each type in that window and `ln(1 + history length) / 5`.
//! - **Item tower**: an MLP over the item's embedding, its own features (text hash and type)
//!   and `ln(1 + training interactions) / 5` (popularity).
//! - Both outputs are L2-normalised; the score is their dot product over a temperature.
//!
//! Training is next-item prediction on the training part of the split: an example is a
//! position `p >= 1` of a user's history, the user tower sees the items before `p`, the target
//! is the item at `p`. Each minibatch holds targets of one item type (types in turn, so the
//! sparse new type is trained as often as the others, matching the per-type evaluation) and
//! uses the other targets of the batch as negatives (in-batch sampled softmax, with the logQ
//! correction of Yi et al. 2019: each logit minus the log of its item's sampling probability).
//!
//! With the HGNN embeddings as item embeddings this is 2T-HGNN; with the text features instead
//! it is the "two-tower without the HGNN" baseline.

use super::data::{Catalog, Interaction};
use super::eval::{Scorer, TimeSplit};
use super::ops::{gather_rows_forward, l2_normalize_rows, l2_normalize_rows_forward};
use super::RecError;
use crate::gp::ops::transpose;
use crate::mlp::Mlp;
use crate::nn::Activation;
use crate::optim::{Adam, Optimizer};
use crate::prng::Rng;
use crate::tape::{Matrix, Tape};

/// Hyperparameters of the two-tower model.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoTowerConfig {
    /// Hidden widths of both towers.
    pub hidden: Vec<usize>,
    /// Output (embedding) width of both towers.
    pub output: usize,
    /// How many of the latest items make the user features.
    pub recent: usize,
    /// Examples (and in-batch negatives) per step.
    pub batch: usize,
    /// Adam steps.
    pub steps: usize,
    /// Adam step size.
    pub learning_rate: f64,
    /// Softmax temperature on the cosine scores.
    pub temperature: f64,
    /// Seed of initialisation and sampling.
    pub seed: u64,
}

impl Default for TwoTowerConfig {
    /// One hidden layer of 64, 32-wide outputs, 20 recent items, 256 per batch, 1,000 steps.
    fn default() -> Self {
        TwoTowerConfig {
            hidden: vec![64],
            output: 32,
            recent: 20,
            batch: 256,
            steps: 1000,
            learning_rate: 3e-3,
            temperature: 0.1,
            seed: 0,
        }
    }
}

/// A trained two-tower model with its item table.
#[derive(Debug, Clone, PartialEq)]
pub struct TwoTower {
    /// The user tower.
    pub user_tower: Mlp,
    /// The item tower.
    pub item_tower: Mlp,
    /// Item embeddings the user features are built from (one row per item).
    pub item_embeddings: Matrix,
    /// Item types.
    pub item_type: Vec<u8>,
    /// Number of item types.
    pub num_types: usize,
    /// Items of the user window.
    pub recent: usize,
    /// The item tower's output for every item (unit rows): the table the device scores.
    pub item_table: Matrix,
}

/// Length of the user feature vector for embedding width `d` and `t` item types.
pub fn user_feature_len(d: usize, t: usize) -> usize {
    d * (1 + t) + t + 1
}

/// User features from a history (see the module docs), written into `out`.
pub fn user_features(
    history: &[Interaction],
    embeddings: &Matrix,
    item_type: &[u8],
    num_types: usize,
    recent: usize,
    out: &mut [f64],
) {
    let d = embeddings.cols;
    assert_eq!(
        out.len(),
        user_feature_len(d, num_types),
        "user_features: length"
    );
    out.fill(0.0);
    let window = &history[history.len().saturating_sub(recent)..];
    let mut per_type = vec![0usize; num_types];
    for x in window {
        let e = embeddings.row(x.item as usize);
        let t = item_type[x.item as usize] as usize;
        per_type[t] += 1;
        for (a, b) in out[..d].iter_mut().zip(e) {
            *a += b;
        }
        for (a, b) in out[d * (1 + t)..d * (2 + t)].iter_mut().zip(e) {
            *a += b;
        }
    }
    if !window.is_empty() {
        out[..d].iter_mut().for_each(|a| *a /= window.len() as f64);
    }
    for (t, &n) in per_type.iter().enumerate() {
        if n > 0 {
            out[d * (1 + t)..d * (2 + t)]
                .iter_mut()
                .for_each(|a| *a /= n as f64);
        }
        out[d * (1 + num_types) + t] = n as f64 / window.len().max(1) as f64;
    }
    out[d * (1 + num_types) + num_types] = (1.0 + history.len() as f64).ln() / 5.0;
}

/// Item tower inputs: embedding, item features, scaled log popularity; one row per item.
pub fn item_inputs(embeddings: &Matrix, features: &Matrix, popularity: &[f64]) -> Matrix {
    let (d, f) = (embeddings.cols, features.cols);
    let cols = d + f + 1;
    let mut m = Matrix::zeros(embeddings.rows, cols);
    for (i, row) in m.data.chunks_exact_mut(cols).enumerate() {
        row[..d].copy_from_slice(embeddings.row(i));
        row[d..d + f].copy_from_slice(features.row(i));
        row[d + f] = (1.0 + popularity[i]).ln() / 5.0;
    }
    m
}

impl TwoTower {
    /// Trains both towers on the training part of `split`.
    ///
    /// `embeddings` are the item embeddings (HGNN output, or text features for the baseline),
    /// `features` the item features, both one row per item of `catalog`.
    pub fn train(
        catalog: &Catalog,
        split: &TimeSplit,
        embeddings: &Matrix,
        features: &Matrix,
        config: &TwoTowerConfig,
        mut on_step: impl FnMut(usize, f64),
    ) -> Result<TwoTower, RecError> {
        if embeddings.rows != catalog.len() || features.rows != catalog.len() {
            return Err(RecError::Invalid(
                "two-tower: embeddings and features need one row per item".into(),
            ));
        }
        if config.batch < 2 || config.output == 0 || config.recent == 0 {
            return Err(RecError::Invalid(
                "two-tower: need a batch of at least 2, a positive output width and window".into(),
            ));
        }
        let t = catalog.num_types();
        let mut popularity = vec![0.0; catalog.len()];
        for x in &split.train {
            popularity[x.item as usize] += 1.0;
        }
        let items_in = item_inputs(embeddings, features, &popularity);
        let mut type_total = vec![0.0; t];
        for (i, &p) in popularity.iter().enumerate() {
            type_total[catalog.item_type[i] as usize] += p;
        }
        let user_len = user_feature_len(embeddings.cols, t);
        // Examples: (user, position >= 1) grouped by the target's type.
        let mut examples: Vec<Vec<(u32, u32)>> = vec![Vec::new(); t];
        for u in 0..split.num_users() {
            let h = split.user_train(u);
            for (p, x) in h.iter().enumerate().skip(1) {
                examples[catalog.item_type[x.item as usize] as usize].push((u as u32, p as u32));
            }
        }
        let types: Vec<usize> = (0..t).filter(|&k| !examples[k].is_empty()).collect();
        if types.is_empty() {
            return Err(RecError::Invalid(
                "two-tower: no user has two training interactions".into(),
            ));
        }
        let mut rng = Rng::new(config.seed);
        let mut user_tower = Mlp::new(
            user_len,
            &config.hidden,
            config.output,
            Activation::Relu,
            &mut rng,
        );
        let mut item_tower = Mlp::new(
            items_in.cols,
            &config.hidden,
            config.output,
            Activation::Relu,
            &mut rng,
        );
        let mut adam = Adam::new(config.learning_rate);
        let mut user_x = Matrix::zeros(config.batch, user_len);
        let labels: Vec<usize> = (0..config.batch).collect();
        for step in 1..=config.steps {
            let pool = &examples[types[step % types.len()]];
            let mut targets = Vec::with_capacity(config.batch);
            for r in 0..config.batch {
                let (u, p) = pool[rng.below(pool.len() as u64) as usize];
                let h = split.user_train(u as usize);
                user_features(
                    &h[..p as usize],
                    embeddings,
                    &catalog.item_type,
                    t,
                    config.recent,
                    &mut user_x.data[r * user_len..(r + 1) * user_len],
                );
                targets.push(h[p as usize].item as usize);
            }
            let mut tape = Tape::new();
            let ux = tape.leaf(user_x.clone());
            let ix = tape.leaf(gather_rows_forward(&items_in, &targets));
            let (uo, up) = user_tower.on_tape(&mut tape, ux);
            let (io, ip) = item_tower.on_tape(&mut tape, ix);
            let un = l2_normalize_rows(&mut tape, uo);
            let vn = l2_normalize_rows(&mut tape, io);
            let vt = transpose(&mut tape, vn);
            let logits = tape.matmul(un, vt);
            let logits = tape.scale(logits, 1.0 / config.temperature);
            // logQ correction: popular targets are over-represented as in-batch negatives;
            // subtracting ln q(item) makes the in-batch softmax estimate the full one.
            let log_q = Matrix::new(
                1,
                config.batch,
                targets
                    .iter()
                    .map(|&i| (popularity[i] / type_total[catalog.item_type[i] as usize]).ln())
                    .collect(),
            );
            let log_q = tape.leaf(log_q);
            let logits = tape.sub(logits, log_q);
            let loss = tape.softmax_cross_entropy(logits, &labels);
            let mut grads = tape.backward(loss);
            let g: Vec<Matrix> = up
                .iter()
                .chain(&ip)
                .map(|&v| grads.take(v).expect("parameter on the loss path"))
                .collect();
            let mut params = user_tower.parameters_mut();
            params.extend(item_tower.parameters_mut());
            adam.step(&mut params, &g);
            on_step(step, tape.value(loss).data[0]);
        }
        let item_table = l2_normalize_rows_forward(&item_tower.forward(&items_in));
        Ok(TwoTower {
            user_tower,
            item_tower,
            item_embeddings: embeddings.clone(),
            item_type: catalog.item_type.clone(),
            num_types: t,
            recent: config.recent,
            item_table,
        })
    }

    /// The user tower's unit output for a history.
    pub fn user_vector(&self, history: &[Interaction]) -> Vec<f64> {
        let len = user_feature_len(self.item_embeddings.cols, self.num_types);
        let mut x = Matrix::zeros(1, len);
        user_features(
            history,
            &self.item_embeddings,
            &self.item_type,
            self.num_types,
            self.recent,
            &mut x.data,
        );
        l2_normalize_rows_forward(&self.user_tower.forward(&x)).data
    }
}

impl Scorer for TwoTower {
    fn score(&self, history: &[Interaction], candidates: &[u32], out: &mut Vec<f64>) {
        let u = self.user_vector(history);
        out.clear();
        out.extend(candidates.iter().map(|&i| {
            self.item_table
                .row(i as usize)
                .iter()
                .zip(&u)
                .map(|(a, b)| a * b)
                .sum::<f64>()
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rec::eval::{evaluate, EvalConfig, Popularity};
    use crate::rec::graph::text_features;
    use crate::rec::simulate::{SimConfig, Simulator, NEW_TYPE};

    #[test]
    fn user_features_layout() {
        let emb = Matrix::new(3, 2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        let types = [0u8, 1, 1];
        let h: Vec<Interaction> = [0u32, 1, 2]
            .iter()
            .map(|&item| Interaction {
                user: 0,
                item,
                timestamp: 0,
                weight: 1.0,
            })
            .collect();
        let mut out = vec![0.0; user_feature_len(2, 2)];
        user_features(&h, &emb, &types, 2, 2, &mut out);
        // Window = items 1, 2: mean (0.5, 1); type 0 none; type 1 mean (0.5, 1); shares 0, 1.
        let expect = [0.5, 1.0, 0.0, 0.0, 0.5, 1.0, 0.0, 1.0, 4f64.ln() / 5.0];
        assert!(
            out.iter().zip(expect).all(|(a, b)| (a - b).abs() < 1e-12),
            "{out:?}"
        );
    }

    #[test]
    fn learns_beyond_popularity_on_the_simulator() {
        let sim = Simulator::new(SimConfig::for_users(600, 4)).unwrap();
        let data = sim.generate();
        let split = TimeSplit::last_fraction(&data, 0.2).unwrap();
        let f = text_features(&data.catalog, 32);
        let config = TwoTowerConfig {
            batch: 64,
            steps: 200,
            ..TwoTowerConfig::default()
        };
        let mut losses = Vec::new();
        let model = TwoTower::train(&data.catalog, &split, &f, &f, &config, |_, l| {
            losses.push(l)
        })
        .unwrap();
        assert!(losses[190..].iter().sum::<f64>() < losses[..10].iter().sum::<f64>());
        let n: f64 = model.item_table.row(0).iter().map(|v| v * v).sum();
        assert!((n - 1.0).abs() < 1e-9);
        let ec = EvalConfig {
            k: 10,
            new_type: NEW_TYPE,
            max_users: 10_000,
        };
        let tt = evaluate(&model, &data.catalog, &split, &ec);
        let pop = evaluate(
            &Popularity::fit(&split, data.catalog.len()),
            &data.catalog,
            &split,
            &ec,
        );
        assert!(
            tt.per_type[0].hit_rate > pop.per_type[0].hit_rate,
            "{tt:?} vs {pop:?}"
        );
    }
}
