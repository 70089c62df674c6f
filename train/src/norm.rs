//! Batch normalisation per channel on the tape (Ioffe & Szegedy, 2015), for the CNN teachers.
//!
//! Why batch norm: it lets a small CNN train quickly with Adam at one learning rate without
//! careful initialisation. In training mode each channel is normalised with the mean and
//! variance over the batch and the pixels of that channel, and the adjoint flows through those
//! statistics; in evaluation mode fixed running statistics are used, which makes the op a
//! per-channel affine map. Rows are images stored channel-major as in [`crate::conv`].

use crate::conv::ImageShape;
use crate::tape::{Function, Matrix, Tape, Var};

/// Added to the variance before the square root, as in PyTorch's default.
pub const BATCH_NORM_EPS: f64 = 1e-5;

/// Learnable scale and shift per channel plus the running statistics used at evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNorm {
    /// Shape of the images it normalises.
    pub shape: ImageShape,
    /// Scale, `1 x channels` (starts at 1).
    pub gamma: Matrix,
    /// Shift, `1 x channels` (starts at 0).
    pub beta: Matrix,
    /// Running mean per channel, updated after every training batch.
    pub running_mean: Vec<f64>,
    /// Running (biased) variance per channel.
    pub running_var: Vec<f64>,
    /// Weight of the newest batch in the running statistics (PyTorch's 0.1).
    pub momentum: f64,
}

/// Training-mode batch norm as recorded: the normalised input and `1/sqrt(var + eps)` per
/// channel are what the adjoint needs.
#[derive(Debug)]
struct BatchNormTrain {
    shape: ImageShape,
    x_hat: Matrix,
    inv_std: Vec<f64>,
}

/// Evaluation-mode batch norm: `y = gamma * (x - mean) * inv_std + beta` with fixed statistics.
#[derive(Debug)]
struct BatchNormEval {
    shape: ImageShape,
    mean: Vec<f64>,
    inv_std: Vec<f64>,
}

impl BatchNorm {
    /// A fresh layer: identity scale, zero shift, running statistics of a standard normal.
    pub fn new(shape: ImageShape) -> Self {
        let c = shape.channels;
        BatchNorm {
            shape,
            gamma: Matrix::new(1, c, vec![1.0; c]),
            beta: Matrix::zeros(1, c),
            running_mean: vec![0.0; c],
            running_var: vec![1.0; c],
            momentum: 0.1,
        }
    }

    /// Records training-mode normalisation of `x` with the leaves `gamma` and `beta`; returns
    /// the output and this batch's per-channel mean and variance (for [`BatchNorm::update`]).
    pub fn on_tape_train(
        &self,
        tape: &mut Tape,
        x: Var,
        gamma: Var,
        beta: Var,
    ) -> (Var, Vec<f64>, Vec<f64>) {
        let (xv, g, b) = (tape.value(x), tape.value(gamma), tape.value(beta));
        assert_eq!(xv.cols, self.shape.len(), "BatchNorm: row length");
        let (c_n, s) = (self.shape.channels, self.shape.spatial());
        let count = (xv.rows * s) as f64;
        let mut mean = vec![0.0; c_n];
        let mut var = vec![0.0; c_n];
        for r in 0..xv.rows {
            for (c, m) in mean.iter_mut().enumerate() {
                *m += xv.row(r)[c * s..(c + 1) * s].iter().sum::<f64>();
            }
        }
        mean.iter_mut().for_each(|m| *m /= count);
        for r in 0..xv.rows {
            for c in 0..c_n {
                var[c] += xv.row(r)[c * s..(c + 1) * s]
                    .iter()
                    .map(|v| (v - mean[c]).powi(2))
                    .sum::<f64>();
            }
        }
        var.iter_mut().for_each(|v| *v /= count);
        let inv_std: Vec<f64> = var
            .iter()
            .map(|v| 1.0 / (v + BATCH_NORM_EPS).sqrt())
            .collect();
        let mut x_hat = xv.clone();
        let mut y = xv.clone();
        for r in 0..xv.rows {
            for c in 0..c_n {
                for i in r * xv.cols + c * s..r * xv.cols + (c + 1) * s {
                    x_hat.data[i] = (xv.data[i] - mean[c]) * inv_std[c];
                    y.data[i] = g.data[c] * x_hat.data[i] + b.data[c];
                }
            }
        }
        let record = BatchNormTrain {
            shape: self.shape,
            x_hat,
            inv_std,
        };
        (tape.record(&[x, gamma, beta], y, record), mean, var)
    }

    /// Records evaluation-mode normalisation with the running statistics.
    pub fn on_tape_eval(&self, tape: &mut Tape, x: Var, gamma: Var, beta: Var) -> Var {
        let record = BatchNormEval {
            shape: self.shape,
            mean: self.running_mean.clone(),
            inv_std: self
                .running_var
                .iter()
                .map(|v| 1.0 / (v + BATCH_NORM_EPS).sqrt())
                .collect(),
        };
        let (xv, g, b) = (tape.value(x), tape.value(gamma), tape.value(beta));
        let value = record.apply(xv, g, b);
        tape.record(&[x, gamma, beta], value, record)
    }

    /// Evaluation-mode forward pass without a tape.
    pub fn forward_eval(&self, x: &Matrix) -> Matrix {
        let mut tape = Tape::new();
        let (xv, g, b) = (
            tape.leaf(x.clone()),
            tape.leaf(self.gamma.clone()),
            tape.leaf(self.beta.clone()),
        );
        let y = self.on_tape_eval(&mut tape, xv, g, b);
        tape.value(y).clone()
    }

    /// Moves the running statistics towards a training batch's (unbiased variance, as PyTorch).
    pub fn update(&mut self, batch_mean: &[f64], batch_var: &[f64], batch_rows: usize) {
        let n = (batch_rows * self.shape.spatial()) as f64;
        let unbias = if n > 1.0 { n / (n - 1.0) } else { 1.0 };
        for c in 0..self.shape.channels {
            self.running_mean[c] += self.momentum * (batch_mean[c] - self.running_mean[c]);
            self.running_var[c] += self.momentum * (batch_var[c] * unbias - self.running_var[c]);
        }
    }
}

impl BatchNormEval {
    fn apply(&self, x: &Matrix, gamma: &Matrix, beta: &Matrix) -> Matrix {
        let s = self.shape.spatial();
        let mut y = x.clone();
        for r in 0..x.rows {
            for c in 0..self.shape.channels {
                for v in &mut y.data[r * x.cols + c * s..r * x.cols + (c + 1) * s] {
                    *v = gamma.data[c] * (*v - self.mean[c]) * self.inv_std[c] + beta.data[c];
                }
            }
        }
        y
    }
}

impl Function for BatchNormEval {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, grad: &Matrix) -> Vec<Option<Matrix>> {
        let (x, gamma) = (inputs[0], inputs[1]);
        let (c_n, s) = (self.shape.channels, self.shape.spatial());
        let mut gx = grad.clone();
        let mut gg = Matrix::zeros(1, c_n);
        let mut gb = Matrix::zeros(1, c_n);
        for r in 0..x.rows {
            for c in 0..c_n {
                for i in r * x.cols + c * s..r * x.cols + (c + 1) * s {
                    let x_hat = (x.data[i] - self.mean[c]) * self.inv_std[c];
                    gg.data[c] += grad.data[i] * x_hat;
                    gb.data[c] += grad.data[i];
                    gx.data[i] = grad.data[i] * gamma.data[c] * self.inv_std[c];
                }
            }
        }
        vec![Some(gx), Some(gg), Some(gb)]
    }
}

impl Function for BatchNormTrain {
    fn backward(&self, inputs: &[&Matrix], _: &Matrix, grad: &Matrix) -> Vec<Option<Matrix>> {
        let (x, gamma) = (inputs[0], inputs[1]);
        let (c_n, s) = (self.shape.channels, self.shape.spatial());
        let count = (x.rows * s) as f64;
        let mut gg = Matrix::zeros(1, c_n);
        let mut gb = Matrix::zeros(1, c_n);
        for r in 0..x.rows {
            for c in 0..c_n {
                for i in r * x.cols + c * s..r * x.cols + (c + 1) * s {
                    gg.data[c] += grad.data[i] * self.x_hat.data[i];
                    gb.data[c] += grad.data[i];
                }
            }
        }
        // dx = gamma * inv_std / N * (N g - Σg - x̂ Σ(g x̂)), per channel.
        let mut gx = Matrix::zeros(x.rows, x.cols);
        for r in 0..x.rows {
            for c in 0..c_n {
                let k = gamma.data[c] * self.inv_std[c] / count;
                for i in r * x.cols + c * s..r * x.cols + (c + 1) * s {
                    gx.data[i] =
                        k * (count * grad.data[i] - gb.data[c] - self.x_hat.data[i] * gg.data[c]);
                }
            }
        }
        vec![Some(gx), Some(gg), Some(gb)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prng::Rng;
    use crate::tape::gradcheck::check_gradients;

    fn random(rng: &mut Rng, rows: usize, cols: usize, scale: f64) -> Matrix {
        Matrix::new(
            rows,
            cols,
            (0..rows * cols)
                .map(|_| scale * (rng.next_f64() * 2.0 - 1.0))
                .collect(),
        )
    }

    const SHAPE: ImageShape = ImageShape {
        channels: 3,
        height: 2,
        width: 2,
    };

    #[test]
    fn train_mode_normalises_and_its_gradient_checks() {
        let mut rng = Rng::new(21);
        let mut bn = BatchNorm::new(SHAPE);
        let x = random(&mut rng, 4, SHAPE.len(), 3.0);
        let gamma = random(&mut rng, 1, 3, 1.0);
        let beta = random(&mut rng, 1, 3, 1.0);
        let weights = random(&mut rng, 4, SHAPE.len(), 1.0);
        check_gradients(&[x.clone(), gamma, beta, weights], |t, v| {
            let (y, _, _) = bn.on_tape_train(t, v[0], v[1], v[2]);
            // A nonlinear read-out so the gradient through the batch statistics matters.
            let y = t.tanh(y);
            let y = t.mul(y, v[3]);
            t.sum(y)
        });
        // With gamma 1 and beta 0 every channel comes out with mean 0 and variance ~1.
        let mut t = Tape::new();
        let (xv, g, b) = (
            t.leaf(x.clone()),
            t.leaf(bn.gamma.clone()),
            t.leaf(bn.beta.clone()),
        );
        let (y, mean, var) = bn.on_tape_train(&mut t, xv, g, b);
        let y = t.value(y);
        for c in 0..3 {
            let vals: Vec<f64> = (0..4)
                .flat_map(|r| y.row(r)[c * 4..(c + 1) * 4].to_vec())
                .collect();
            let m = vals.iter().sum::<f64>() / 16.0;
            let v = vals.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 16.0;
            assert!(m.abs() < 1e-12 && (v - 1.0).abs() < 1e-4, "{m} {v}");
        }
        bn.update(&mean, &var, 4);
        assert!((bn.running_mean[0] - 0.1 * mean[0]).abs() < 1e-12);
    }

    #[test]
    fn eval_mode_gradient_and_value() {
        let mut rng = Rng::new(22);
        let mut bn = BatchNorm::new(SHAPE);
        bn.running_mean = vec![0.5, -1.0, 2.0];
        bn.running_var = vec![4.0, 0.25, 1.0];
        let x = random(&mut rng, 2, SHAPE.len(), 3.0);
        let gamma = random(&mut rng, 1, 3, 1.0);
        let beta = random(&mut rng, 1, 3, 1.0);
        let weights = random(&mut rng, 2, SHAPE.len(), 1.0);
        check_gradients(&[x.clone(), gamma, beta, weights], |t, v| {
            let y = bn.on_tape_eval(t, v[0], v[1], v[2]);
            let y = t.mul(y, v[3]);
            t.sum(y)
        });
        let y = bn.forward_eval(&x);
        let expected = (x.data[4] + 1.0) / (0.25 + BATCH_NORM_EPS).sqrt();
        assert!((y.data[4] - expected).abs() < 1e-12);
    }
}
