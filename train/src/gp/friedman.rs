//! The Friedman #1 regression benchmark (Friedman 1991), generated deterministically.
//!
//! `y = 10 sin(π x₁ x₂) + 20 (x₃ − ½)² + 10 x₄ + 5 x₅ + noise·ε`, inputs uniform on [0, 1]¹⁰
//! (x₆..x₁₀ are irrelevant), ε standard normal. A smooth non-linear target with distractor
//! inputs: an ARD GP should beat linear regression by a wide margin.

use crate::data::Dataset;
use crate::prng::Rng;

/// Rows of the benchmark.
pub const ROWS: usize = 2000;
/// Held-out rows: the last `TEST_ROWS` rows are the test set.
pub const TEST_ROWS: usize = 400;
/// The seed of the bundled benchmark.
pub const SEED: u64 = 1;

/// `rows` samples with 10 inputs and noise standard deviation `noise`, from `seed`.
pub fn generate(rows: usize, noise: f64, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let mut data = Dataset {
        feature_names: (1..=10).map(|i| format!("x{i}")).collect(),
        ..Dataset::default()
    };
    for _ in 0..rows {
        let x: Vec<f64> = (0..10).map(|_| rng.next_f64()).collect();
        let y = 10.0 * (core::f64::consts::PI * x[0] * x[1]).sin()
            + 20.0 * (x[2] - 0.5).powi(2)
            + 10.0 * x[3]
            + 5.0 * x[4]
            + noise * rng.normal();
        data.features.push(x.iter().map(|&v| v as f32).collect());
        data.targets.push(y as f32);
    }
    data
}

/// The benchmark of issue 5 (2,000 rows, noise 1.0, seed [`SEED`]) as `(train, test)`, the
/// test set being the last 400 rows.
pub fn benchmark() -> (Dataset, Dataset) {
    let data = generate(ROWS, 1.0, SEED);
    let train: Vec<usize> = (0..ROWS - TEST_ROWS).collect();
    let test: Vec<usize> = (ROWS - TEST_ROWS..ROWS).collect();
    (data.subset(&train), data.subset(&test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_shape_and_range() {
        let (train, test) = benchmark();
        assert_eq!(
            (train.len(), test.len(), train.num_features()),
            (1600, 400, 10)
        );
        assert_eq!(
            generate(50, 1.0, SEED).targets,
            generate(50, 1.0, SEED).targets
        );
        assert_ne!(
            generate(50, 1.0, 2).targets,
            generate(50, 1.0, SEED).targets
        );
        assert!(train
            .features
            .iter()
            .flatten()
            .all(|&x| (0.0..1.0).contains(&x)));
        // Noise-free targets lie in [0, 30]; with unit noise the mean is near 14.4.
        let mean = train.targets.iter().map(|&y| f64::from(y)).sum::<f64>() / 1600.0;
        assert!((mean - 14.4).abs() < 0.6, "{mean}");
    }
}
