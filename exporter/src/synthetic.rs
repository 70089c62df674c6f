//! Synthetic int8 models: random but deterministic MLPs for benchmarks and tests, where the
//! values do not matter but the shapes and the quantisation ranges do.

use crate::graph::FusedActivation;
use crate::{QuantDense, QuantGraph, QuantOp};
use mote_runtime::QuantParams;

/// A small deterministic generator (SplitMix64) so tests need no extra crates.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A random int8 MLP `sizes[0] -> sizes[1] -> ...` with fused ReLU between layers, the same
/// for the same `sizes` and `seed`. Fewer than two sizes give a graph with no ops (which
/// lowering refuses).
pub fn random_mlp(sizes: &[usize], seed: u64) -> QuantGraph {
    let mut rng = SplitMix(seed);
    let q = |rng: &mut SplitMix| QuantParams {
        scale: 0.01 + (rng.below(1000) as f32) / 10_000.0,
        zero_point: rng.below(256) as i32 - 128,
    };
    let input = q(&mut rng);
    let mut ops = Vec::new();
    let mut current = input;
    for (i, pair) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (pair[0], pair[1]);
        let output = q(&mut rng);
        let last = i + 2 == sizes.len();
        ops.push(QuantOp::FullyConnected(QuantDense {
            input_len: n_in,
            output_len: n_out,
            weights: (0..n_in * n_out)
                .map(|_| (rng.below(255) as i32 - 127) as i8)
                .collect(),
            weight_scales: (0..n_out)
                .map(|_| 0.001 + rng.below(100) as f32 / 10_000.0)
                .collect(),
            bias: (0..n_out)
                .map(|_| rng.below(20_000) as i32 - 10_000)
                .collect(),
            input: current,
            output,
            activation: if last {
                FusedActivation::None
            } else {
                FusedActivation::Relu
            },
        }));
        current = output;
    }
    QuantGraph {
        input_len: sizes.first().copied().unwrap_or(0),
        input,
        input_transform: None,
        ops,
    }
}

/// A random but deterministic sparse GP parameter file with `inducing` points and `inputs`
/// inputs (RBF-ARD, Gaussian likelihood): for benchmarks and tests, where the shapes matter and
/// the values only need to be those of a plausible posterior (`q_cov = L S_w Lᵀ` with the
/// whitened covariance `S_w = R Rᵀ`, eigenvalues below 1 as for SGPR).
pub fn random_gp(inducing: usize, inputs: usize, seed: u64) -> mote_train::gp::params::GpParams {
    use mote_train::gp::kernels::Kernel;
    use mote_train::gp::likelihood::Likelihood;
    use mote_train::gp::params::{GpParams, ModelKind, FORMAT, FORMAT_VERSION};
    use mote_train::gp::standardise::Standardiser;
    use mote_train::tape::Matrix;
    let mut rng = SplitMix(seed);
    let mut uniform = move |lo: f64, hi: f64| {
        lo + (hi - lo) * (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    };
    let (m, d) = (inducing, inputs);
    let kernel = Kernel::Rbf {
        variance: uniform(0.5, 2.0),
        lengthscales: (0..d).map(|_| uniform(1.0, 3.0)).collect(),
    };
    let z: Vec<Vec<f64>> = (0..m)
        .map(|_| (0..d).map(|_| uniform(-2.0, 2.0)).collect())
        .collect();
    let jitter = 1e-6;
    let mut kzz = kernel.symmetric(&Matrix::new(m, d, z.concat()));
    for i in 0..m {
        kzz.data[i * m + i] += jitter;
    }
    let l = mote_train::gp::linalg::cholesky(&kzz)
        .unwrap_or_else(|| mote_train::gp::linalg::identity(m));
    // T = L R with R lower triangular (diagonal 0.2..0.6, small entries below): q_cov = T Tᵀ.
    let mut r = Matrix::zeros(m, m);
    for i in 0..m {
        for j in 0..i {
            r.data[i * m + j] = uniform(-0.1, 0.1) / (m as f64).sqrt();
        }
        r.data[i * m + i] = uniform(0.2, 0.6);
    }
    let mut t = Matrix::zeros(m, m);
    for i in 0..m {
        for j in 0..=i {
            t.data[i * m + j] = (j..=i).map(|k| l.get(i, k) * r.get(k, j)).sum();
        }
    }
    let q_cov: Vec<Vec<f64>> = (0..m)
        .map(|i| {
            (0..m)
                .map(|j| (0..m).map(|k| t.get(i, k) * t.get(j, k)).sum())
                .collect()
        })
        .collect();
    // Symmetric to the last bit: take the lower triangle for both halves.
    let q_cov: Vec<Vec<f64>> = (0..m)
        .map(|i| (0..m).map(|j| q_cov[i.max(j)][i.min(j)]).collect())
        .collect();
    GpParams {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        model: ModelKind::Sgpr,
        input_dim: d,
        kernel,
        inducing_inputs: z,
        q_mu: (0..m).map(|_| uniform(-1.5, 1.5)).collect(),
        q_cov,
        jitter,
        likelihood: Likelihood::Gaussian {
            variance: uniform(0.05, 0.3),
        },
        input_standardisation: Standardiser {
            mean: (0..d).map(|_| uniform(-5.0, 5.0)).collect(),
            scale: (0..d).map(|_| uniform(0.5, 4.0)).collect(),
        },
        target_standardisation: Standardiser {
            mean: vec![uniform(-10.0, 10.0)],
            scale: vec![uniform(1.0, 20.0)],
        },
        mean_function: None,
        meta: Default::default(),
    }
}

/// A random but deterministic recommender blob (`ModelKind::Recommender`) with `items` items
/// and user and item vectors of `dim` values: item embeddings of width 8 over 3 item types, a
/// window of 8 recent items, a random user tower `36 -> 32 -> dim` and a random int8 item
/// table; item ids `10 + 3·row` (so ids and rows differ). For benchmarks (`mote bench --rec`)
/// and the device tests, where shapes matter and values need only be plausible.
pub fn random_recommender(
    items: usize,
    dim: usize,
    seed: u64,
    target: crate::Target,
) -> Result<Vec<u8>, crate::ExportError> {
    use mote_runtime::manifest::Section;
    use mote_runtime::recommend::{user_feature_len, RecommenderSpec};
    const EMBEDDING: usize = 8;
    const TYPES: u8 = 3;
    let mut rng = SplitMix(seed ^ 0x7265_635f);
    let bytes = |n: usize, rng: &mut SplitMix| -> Vec<u8> {
        (0..n)
            .map(|_| (rng.below(255) as i32 - 127) as i8 as u8)
            .collect()
    };
    let embedding = bytes(items * EMBEDDING, &mut rng);
    let item_table = bytes(items * dim, &mut rng);
    let item_types: Vec<u8> = (0..items)
        .map(|_| rng.below(usize::from(TYPES)) as u8)
        .collect();
    let item_ids: Vec<u8> = (0..items)
        .flat_map(|row| (10 + 3 * row as u32).to_le_bytes())
        .collect();
    let graph = random_mlp(
        &[user_feature_len(EMBEDDING, usize::from(TYPES)), 32, dim],
        seed,
    );
    let empty = Section { offset: 0, len: 0 };
    let spec = RecommenderSpec {
        items: u32::try_from(items)
            .map_err(|_| crate::ExportError::Calibration("too many items".into()))?,
        embedding_dim: EMBEDDING as u32,
        types: TYPES,
        recent: 8,
        embedding: empty,
        embedding_scale: 1.0 / 127.0,
        item_types: empty,
        item_table: empty,
        item_table_scale: 1.0 / 127.0,
        item_ids: empty,
    };
    let tables = crate::blob::RecommenderTables {
        embedding: &embedding,
        item_types: &item_types,
        item_table: &item_table,
        item_ids: &item_ids,
    };
    let provenance = crate::ProvenanceInfo {
        source: format!("synthetic recommender {items}x{dim}"),
        ..Default::default()
    };
    crate::blob::build_recommender(&graph, &provenance, target, &spec, tables)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_random_recommender_parses_and_recommends() {
        let blob = random_recommender(37, 10, 1, crate::Target::Portable).unwrap();
        assert_eq!(
            blob,
            random_recommender(37, 10, 1, crate::Target::Portable).unwrap()
        );
        let rec = mote_runtime::Recommender::parse(&blob).unwrap();
        assert_eq!((rec.items(), rec.model().output_len()), (37, 10));
        assert_eq!((rec.item_id(0), rec.item_id(36)), (Some(10), Some(118)));
        let mut arena = vec![0u8; rec.arena_len()];
        let mut top = heapless::Vec::<_, 5>::new();
        rec.recommend(&[13, 16], &[13], &mut arena, &mut top)
            .unwrap();
        assert_eq!(top.len(), 5);
        assert!(top.iter().all(|r| r.item != 13 && (r.item - 10) % 3 == 0));
    }
}
