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
