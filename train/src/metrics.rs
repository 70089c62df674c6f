//! Evaluation metrics shared by training, the exporter's accuracy report and the CLI.
//!
//! They take f32 model outputs because that is what both the float checkpoint and the
//! dequantised int8 runtime produce, so the same function scores both.

/// Index of the largest value (the first one on ties): the predicted class of a logit row.
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate() {
        if x > row[best] {
            best = i;
        }
    }
    best
}

/// Fraction of rows whose argmax equals the label (labels are class indices stored as f32).
///
/// Returns NaN for empty input. Panics if the lengths differ.
pub fn accuracy(predicted_rows: &[Vec<f32>], labels: &[f32]) -> f64 {
    assert_eq!(
        predicted_rows.len(),
        labels.len(),
        "accuracy: one label per prediction"
    );
    let correct = predicted_rows
        .iter()
        .zip(labels)
        .filter(|(row, &label)| argmax(row) as f32 == label)
        .count();
    correct as f64 / labels.len() as f64
}

/// Root mean squared error, in the targets' units. NaN for empty input; panics if lengths differ.
pub fn rmse(predicted: &[f32], targets: &[f32]) -> f64 {
    assert_eq!(
        predicted.len(),
        targets.len(),
        "rmse: one target per prediction"
    );
    let sum: f64 = predicted
        .iter()
        .zip(targets)
        .map(|(&p, &t)| (f64::from(p) - f64::from(t)).powi(2))
        .sum();
    (sum / targets.len() as f64).sqrt()
}

/// Mean absolute error, in the targets' units. NaN for empty input; panics if lengths differ.
pub fn mean_absolute_error(predicted: &[f32], targets: &[f32]) -> f64 {
    assert_eq!(
        predicted.len(),
        targets.len(),
        "mean_absolute_error: one target per prediction"
    );
    let sum: f64 = predicted
        .iter()
        .zip(targets)
        .map(|(&p, &t)| (f64::from(p) - f64::from(t)).abs())
        .sum();
    sum / targets.len() as f64
}

/// Mean negative log predictive density of `targets` under independent Gaussians
/// `N(mean_i, var_i)`, in nats: the score of a probabilistic regressor (lower is better;
/// penalises both wrong means and over- or under-confident variances). NaN for empty input.
pub fn gaussian_nlpd(mean: &[f64], var: &[f64], targets: &[f64]) -> f64 {
    assert!(
        mean.len() == targets.len() && var.len() == targets.len(),
        "gaussian_nlpd: one mean and variance per target"
    );
    let total: f64 = mean
        .iter()
        .zip(var)
        .zip(targets)
        .map(|((m, v), t)| 0.5 * ((2.0 * core::f64::consts::PI * v).ln() + (t - m) * (t - m) / v))
        .sum();
    total / targets.len() as f64
}

/// Fraction of `targets` inside the central 95% interval `mean ± 1.96·sd` of their Gaussian
/// predictive: near 0.95 for calibrated variances. NaN for empty input.
pub fn coverage_95(mean: &[f64], var: &[f64], targets: &[f64]) -> f64 {
    assert!(
        mean.len() == targets.len() && var.len() == targets.len(),
        "coverage_95: one mean and variance per target"
    );
    let z = 1.959_963_984_540_054;
    let inside = mean
        .iter()
        .zip(var)
        .zip(targets)
        .filter(|((m, v), t)| (*t - *m).abs() <= z * v.sqrt())
        .count();
    inside as f64 / targets.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_uses_argmax() {
        let rows = vec![
            vec![0.1, 0.9],
            vec![2.0, -1.0],
            vec![0.5, 0.5],
            vec![0.0, 1.0],
        ];
        assert_eq!(accuracy(&rows, &[1.0, 0.0, 0.0, 0.0]), 0.75);
    }

    #[test]
    fn regression_errors() {
        let p = [1.0, 2.0, 3.0, 4.0];
        let t = [1.0, 4.0, 3.0, 2.0];
        assert!((rmse(&p, &t) - 2.0f64.sqrt()).abs() < 1e-12);
        assert_eq!(mean_absolute_error(&p, &t), 1.0);
        assert!(rmse(&[], &[]).is_nan());
    }

    #[test]
    fn gaussian_scores() {
        let nlpd = gaussian_nlpd(&[0.0, 1.0], &[1.0, 4.0], &[0.0, 3.0]);
        let expected = 0.5
            * ((2.0 * core::f64::consts::PI).ln() + (8.0 * core::f64::consts::PI).ln() + 1.0)
            / 2.0;
        assert!((nlpd - expected).abs() < 1e-12, "{nlpd}");
        assert_eq!(
            coverage_95(&[0.0, 0.0, 0.0], &[1.0, 1.0, 1.0], &[1.9, -2.0, 0.0]),
            2.0 / 3.0
        );
    }
}
