//! First-order optimisers (Adam, SGD with momentum) over lists of [`Matrix`] parameters.
//!
//! Optimisers see parameters and gradients as parallel slices in a fixed order (see
//! [`crate::mlp::Mlp::parameters`]); their per-parameter state is created lazily on the first
//! step, so one optimiser type serves any model. Weight decay is left to the caller (the
//! trainer adds an L2 term to the weight gradients only, never to biases).

use crate::tape::Matrix;

/// Anything that turns gradients into a parameter update.
pub trait Optimizer {
    /// Updates `params` in place from `grads` (same order and shapes).
    fn step(&mut self, params: &mut [&mut Matrix], grads: &[Matrix]);
}

/// Adam (Kingma & Ba, 2015): per-element step sizes from running gradient moments, robust to
/// the very different gradient scales of first-layer and output-layer weights.
#[derive(Debug, Clone)]
pub struct Adam {
    /// Step size.
    pub learning_rate: f64,
    /// Decay of the first-moment (mean) estimate.
    pub beta1: f64,
    /// Decay of the second-moment (uncentred variance) estimate.
    pub beta2: f64,
    /// Added to the root second moment to avoid division by zero.
    pub epsilon: f64,
    t: u64,
    m: Vec<Vec<f64>>,
    v: Vec<Vec<f64>>,
}

impl Adam {
    /// Adam with the usual defaults (beta1 0.9, beta2 0.999, epsilon 1e-8).
    pub fn new(learning_rate: f64) -> Self {
        Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }
}

impl Optimizer for Adam {
    fn step(&mut self, params: &mut [&mut Matrix], grads: &[Matrix]) {
        assert_eq!(
            params.len(),
            grads.len(),
            "Adam::step: one gradient per parameter"
        );
        if self.m.is_empty() {
            self.m = params.iter().map(|p| vec![0.0; p.data.len()]).collect();
            self.v = self.m.clone();
        }
        self.t += 1;
        let bias1 = 1.0 - self.beta1.powi(self.t as i32);
        let bias2 = 1.0 - self.beta2.powi(self.t as i32);
        let step = self.learning_rate * bias2.sqrt() / bias1;
        for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            assert!(
                p.same_shape(g),
                "Adam::step: gradient shape differs from parameter"
            );
            let (m, v) = (&mut self.m[k], &mut self.v[k]);
            for i in 0..p.data.len() {
                let gi = g.data[i];
                m[i] = self.beta1 * m[i] + (1.0 - self.beta1) * gi;
                v[i] = self.beta2 * v[i] + (1.0 - self.beta2) * gi * gi;
                p.data[i] -= step * m[i] / (v[i].sqrt() + self.epsilon * bias2.sqrt());
            }
        }
    }
}

/// Stochastic gradient descent with optional (heavy-ball) momentum: the simple baseline.
#[derive(Debug, Clone)]
pub struct Sgd {
    /// Step size.
    pub learning_rate: f64,
    /// Momentum coefficient (0 for plain SGD).
    pub momentum: f64,
    velocity: Vec<Vec<f64>>,
}

impl Sgd {
    /// SGD with the given step size and momentum.
    pub fn new(learning_rate: f64, momentum: f64) -> Self {
        Sgd {
            learning_rate,
            momentum,
            velocity: Vec::new(),
        }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, params: &mut [&mut Matrix], grads: &[Matrix]) {
        assert_eq!(
            params.len(),
            grads.len(),
            "Sgd::step: one gradient per parameter"
        );
        if self.velocity.is_empty() {
            self.velocity = params.iter().map(|p| vec![0.0; p.data.len()]).collect();
        }
        for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            assert!(
                p.same_shape(g),
                "Sgd::step: gradient shape differs from parameter"
            );
            for (i, (x, gi)) in p.data.iter_mut().zip(&g.data).enumerate() {
                let v = &mut self.velocity[k][i];
                *v = self.momentum * *v + gi;
                *x -= self.learning_rate * *v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Minimises f(x) = sum (x - 3)^2 and checks convergence.
    fn minimise(opt: &mut dyn Optimizer, steps: usize) -> Matrix {
        let mut x = Matrix::new(1, 3, vec![0.0, -5.0, 10.0]);
        for _ in 0..steps {
            let g = Matrix::new(1, 3, x.data.iter().map(|v| 2.0 * (v - 3.0)).collect());
            opt.step(&mut [&mut x], &[g]);
        }
        x
    }

    #[test]
    fn adam_converges_on_a_quadratic() {
        let x = minimise(&mut Adam::new(0.1), 2000);
        assert!(x.data.iter().all(|v| (v - 3.0).abs() < 1e-3), "{x:?}");
    }

    #[test]
    fn sgd_converges_on_a_quadratic() {
        let x = minimise(&mut Sgd::new(0.05, 0.9), 500);
        assert!(x.data.iter().all(|v| (v - 3.0).abs() < 1e-6), "{x:?}");
        let x = minimise(&mut Sgd::new(0.1, 0.0), 200);
        assert!(x.data.iter().all(|v| (v - 3.0).abs() < 1e-6), "{x:?}");
    }
}
