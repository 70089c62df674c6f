//! Initial inducing inputs: k-means centres of the (standardised) training inputs.
//!
//! Centres spread the inducing points where the data are, which gives the optimiser a much
//! better start than a random subset for a handful of points; k-means++ seeding keeps it
//! deterministic from a seed.

use crate::prng::Rng;
use crate::tape::Matrix;

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// `m` k-means centres (k-means++ seeding, then `iterations` Lloyd steps) of the rows of `x`;
/// with `m >= rows` every row is returned. Panics only if `x` is empty and `m > 0`.
pub fn kmeans(x: &Matrix, m: usize, iterations: usize, seed: u64) -> Matrix {
    let (n, d) = (x.rows, x.cols);
    if m >= n {
        return x.clone();
    }
    let mut rng = Rng::new(seed);
    let mut centres: Vec<Vec<f64>> = vec![x.row(rng.below(n as u64) as usize).to_vec()];
    let mut nearest: Vec<f64> = (0..n).map(|i| dist2(x.row(i), &centres[0])).collect();
    while centres.len() < m {
        let total: f64 = nearest.iter().sum();
        let mut target = rng.next_f64() * total;
        let mut pick = n - 1;
        for (i, w) in nearest.iter().enumerate() {
            if target < *w {
                pick = i;
                break;
            }
            target -= w;
        }
        let c = x.row(pick).to_vec();
        for (i, best) in nearest.iter_mut().enumerate() {
            *best = best.min(dist2(x.row(i), &c));
        }
        centres.push(c);
    }
    for _ in 0..iterations {
        let mut sums = vec![vec![0.0; d]; m];
        let mut counts = vec![0usize; m];
        for i in 0..n {
            let row = x.row(i);
            let (best, _) = centres
                .iter()
                .enumerate()
                .map(|(k, c)| (k, dist2(row, c)))
                .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
            counts[best] += 1;
            sums[best].iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        for k in 0..m {
            if counts[k] > 0 {
                centres[k] = sums[k].iter().map(|s| s / counts[k] as f64).collect();
            }
        }
    }
    Matrix::new(m, d, centres.concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_separated_clusters() {
        let mut data = Vec::new();
        for i in 0..30 {
            let c = [0.0, 10.0, 20.0][i % 3];
            data.extend([c + 0.01 * i as f64, -c]);
        }
        let x = Matrix::new(30, 2, data);
        let z = kmeans(&x, 3, 10, 5);
        let mut firsts: Vec<f64> = (0..3).map(|k| z.get(k, 0).round()).collect();
        firsts.sort_by(f64::total_cmp);
        assert_eq!(firsts, vec![0.0, 10.0, 20.0]);
        assert_eq!(kmeans(&x, 40, 3, 1), x);
    }
}
