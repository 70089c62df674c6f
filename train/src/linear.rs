//! Ordinary least-squares linear regression: the baseline a GP has to beat.
//!
//! Solved through the normal equations on standardised inputs (with a tiny ridge so a
//! constant or duplicated column cannot make the system singular), by Cholesky.

use crate::gp::linalg::{cholesky, solve_lower, solve_lower_transpose};
use crate::gp::standardise::Standardiser;
use crate::tape::Matrix;

/// `y = w·x + b`, fitted by least squares.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearRegression {
    /// One weight per input (raw units).
    pub weights: Vec<f64>,
    /// The intercept.
    pub bias: f64,
}

impl LinearRegression {
    /// Fits `rows` (all of one length) to `targets`; `None` if there are no rows.
    pub fn fit(rows: &[Vec<f64>], targets: &[f64]) -> Option<LinearRegression> {
        let n = rows.len();
        if n == 0 || targets.len() != n {
            return None;
        }
        let s = Standardiser::fit(rows);
        let d = s.mean.len();
        let y_mean = targets.iter().sum::<f64>() / n as f64;
        let mut xtx = Matrix::zeros(d, d);
        let mut xty = Matrix::zeros(d, 1);
        for (row, t) in rows.iter().zip(targets) {
            let z = s.apply(row);
            for i in 0..d {
                xty.data[i] += z[i] * (t - y_mean);
                for j in 0..d {
                    xtx.data[i * d + j] += z[i] * z[j];
                }
            }
        }
        for i in 0..d {
            xtx.data[i * d + i] += 1e-9 * n as f64;
        }
        let l = cholesky(&xtx)?;
        let w = solve_lower_transpose(&l, &solve_lower(&l, &xty));
        let weights: Vec<f64> = w.data.iter().zip(&s.scale).map(|(w, sc)| w / sc).collect();
        let bias = y_mean - weights.iter().zip(&s.mean).map(|(w, m)| w * m).sum::<f64>();
        Some(LinearRegression { weights, bias })
    }

    /// The prediction for one row.
    pub fn predict(&self, row: &[f64]) -> f64 {
        self.bias
            + self
                .weights
                .iter()
                .zip(row)
                .map(|(w, x)| w * x)
                .sum::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_plane() {
        let rows: Vec<Vec<f64>> = (0..20)
            .map(|i| vec![i as f64, (i * i % 7) as f64])
            .collect();
        let y: Vec<f64> = rows.iter().map(|r| 3.0 - 2.0 * r[0] + 0.5 * r[1]).collect();
        let m = LinearRegression::fit(&rows, &y).unwrap();
        assert!(
            (m.bias - 3.0).abs() < 1e-6 && (m.weights[0] + 2.0).abs() < 1e-6,
            "{m:?}"
        );
        assert!((m.predict(&[1.0, 1.0]) - 1.5).abs() < 1e-6);
        assert!(LinearRegression::fit(&[], &[]).is_none());
    }
}
