//! Standardisation of inputs and targets, recorded with the model.
//!
//! GP hyperparameters are easier to fit (and their defaults make sense) when every input and
//! the target have zero mean and unit scale. The fitted [`Standardiser`] is stored in the
//! parameter file so prediction maps raw inputs in and standardised outputs back out.

use serde::{Deserialize, Serialize};

/// Per-column `(x − mean) / scale`; the scale is the population standard deviation (1 for a
/// constant column, so it passes through unchanged).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardiser {
    /// Column means of the training data.
    pub mean: Vec<f64>,
    /// Column scales of the training data (all positive).
    pub scale: Vec<f64>,
}

impl Standardiser {
    /// Fits means and scales to the columns of `rows` (all of one length); empty input gives
    /// an empty standardiser.
    pub fn fit(rows: &[Vec<f64>]) -> Standardiser {
        let cols = rows.first().map_or(0, Vec::len);
        let n = rows.len() as f64;
        let mut mean = vec![0.0; cols];
        for r in rows {
            for (m, x) in mean.iter_mut().zip(r) {
                *m += x / n;
            }
        }
        let mut scale = vec![0.0; cols];
        for r in rows {
            for ((s, x), m) in scale.iter_mut().zip(r).zip(&mean) {
                *s += (x - m) * (x - m) / n;
            }
        }
        for s in &mut scale {
            *s = if *s > 0.0 { s.sqrt() } else { 1.0 };
        }
        Standardiser { mean, scale }
    }

    /// A standardiser that changes nothing (e.g. for 0/1 class labels).
    pub fn identity(cols: usize) -> Standardiser {
        Standardiser {
            mean: vec![0.0; cols],
            scale: vec![1.0; cols],
        }
    }

    /// Standardises one row.
    pub fn apply(&self, row: &[f64]) -> Vec<f64> {
        row.iter()
            .zip(self.mean.iter().zip(&self.scale))
            .map(|(x, (m, s))| (x - m) / s)
            .collect()
    }

    /// Maps a standardised value of column `col` back to the original units.
    pub fn invert(&self, col: usize, value: f64) -> f64 {
        value * self.scale[col] + self.mean[col]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardises_and_inverts() {
        let rows = vec![vec![1.0, 5.0], vec![3.0, 5.0], vec![5.0, 5.0]];
        let s = Standardiser::fit(&rows);
        assert_eq!(s.mean, vec![3.0, 5.0]);
        assert!((s.scale[0] - (8.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(s.scale[1], 1.0);
        let z = s.apply(&rows[2]);
        assert!((z[0] - 2.0 / s.scale[0]).abs() < 1e-15 && z[1] == 0.0);
        assert!((s.invert(0, z[0]) - 5.0).abs() < 1e-14);
    }
}
