//! L-BFGS (limited-memory BFGS) for GP hyperparameters.
//!
//! Hyperparameter objectives are smooth, deterministic and have a few dozen to a few hundred
//! parameters: a quasi-Newton method converges in tens to hundreds of evaluations where Adam
//! needs thousands. Two-loop recursion (Nocedal & Wright, Alg. 7.4) with a weak-Wolfe
//! bisection line search, which guarantees the curvature condition `sᵀy > 0` for every stored
//! pair. An objective may fail (e.g. a kernel matrix stops being positive definite): the line
//! search treats that as an infinite value and steps back.

/// Settings of [`Lbfgs::minimize`].
#[derive(Debug, Clone)]
pub struct Lbfgs {
    /// Stored `(s, y)` pairs.
    pub memory: usize,
    /// Upper bound on iterations (line searches).
    pub max_iterations: usize,
    /// Stop when the largest gradient entry falls below this.
    pub gradient_tolerance: f64,
    /// Stop when an iteration improves the value by less than this, relative to `max(1, |f|)`.
    pub value_tolerance: f64,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Lbfgs {
            memory: 10,
            max_iterations: 500,
            gradient_tolerance: 1e-6,
            value_tolerance: 1e-10,
        }
    }
}

/// Where [`Lbfgs::minimize`] stopped.
#[derive(Debug, Clone)]
pub struct LbfgsResult {
    /// The best point found.
    pub x: Vec<f64>,
    /// The objective there.
    pub value: f64,
    /// Iterations run.
    pub iterations: usize,
    /// Objective evaluations made.
    pub evaluations: usize,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Lbfgs {
    /// Minimises `f`, which returns the value and gradient at a point (or `None` where it is
    /// undefined), from `x0`. `on_iteration(iteration, value)` is called after every iteration.
    /// Returns `None` only if `f` is undefined at `x0`.
    pub fn minimize(
        &self,
        x0: Vec<f64>,
        mut f: impl FnMut(&[f64]) -> Option<(f64, Vec<f64>)>,
        mut on_iteration: impl FnMut(usize, f64),
    ) -> Option<LbfgsResult> {
        let valid = |r: Option<(f64, Vec<f64>)>| {
            r.filter(|(v, g)| v.is_finite() && g.iter().all(|x| x.is_finite()))
        };
        let (mut value, mut grad) = valid(f(&x0))?;
        let mut x = x0;
        let mut evaluations = 1;
        let mut pairs: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new(); // (s, y, 1/yᵀs)
        let mut iterations = 0;
        let mut small_steps = 0;
        while iterations < self.max_iterations {
            if grad.iter().all(|g| g.abs() < self.gradient_tolerance) {
                break;
            }
            // Two-loop recursion: d = −H∇f.
            let mut q = grad.clone();
            let mut alphas = Vec::with_capacity(pairs.len());
            for (s, y, rho) in pairs.iter().rev() {
                let a = rho * dot(s, &q);
                q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
                alphas.push(a);
            }
            let gamma = pairs.last().map_or(
                1.0 / grad.iter().map(|g| g.abs()).sum::<f64>().max(1.0),
                |(s, y, _)| dot(s, y) / dot(y, y),
            );
            q.iter_mut().for_each(|v| *v *= gamma);
            for ((s, y, rho), a) in pairs.iter().zip(alphas.iter().rev()) {
                let b = rho * dot(y, &q);
                q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
            }
            let mut d: Vec<f64> = q.iter().map(|v| -v).collect();
            let mut slope = dot(&grad, &d);
            if slope >= 0.0 {
                // Not a descent direction (numerical trouble): restart from steepest descent.
                pairs.clear();
                let scale = 1.0 / grad.iter().map(|g| g.abs()).sum::<f64>().max(1.0);
                d = grad.iter().map(|g| -g * scale).collect();
                slope = dot(&grad, &d);
            }
            // Weak Wolfe line search by bracketing and bisection.
            let (c1, c2) = (1e-4, 0.9);
            let (mut lo, mut hi, mut t) = (0.0f64, f64::INFINITY, 1.0f64);
            let mut accepted = None;
            for _ in 0..40 {
                let trial: Vec<f64> = x.iter().zip(&d).map(|(xi, di)| xi + t * di).collect();
                evaluations += 1;
                match valid(f(&trial)) {
                    Some((v, g)) if v <= value + c1 * t * slope => {
                        if dot(&g, &d) < c2 * slope {
                            lo = t;
                        } else {
                            accepted = Some((trial, v, g));
                            break;
                        }
                    }
                    _ => hi = t,
                }
                t = if hi.is_finite() {
                    0.5 * (lo + hi)
                } else {
                    2.0 * lo
                };
            }
            iterations += 1;
            let Some((new_x, new_value, new_grad)) = accepted else {
                if pairs.is_empty() {
                    break;
                }
                pairs.clear();
                continue;
            };
            let s: Vec<f64> = new_x.iter().zip(&x).map(|(a, b)| a - b).collect();
            let y: Vec<f64> = new_grad.iter().zip(&grad).map(|(a, b)| a - b).collect();
            let sy = dot(&s, &y);
            if sy > 1e-12 {
                if pairs.len() == self.memory {
                    pairs.remove(0);
                }
                pairs.push((s, y, 1.0 / sy));
            }
            let improvement = value - new_value;
            x = new_x;
            value = new_value;
            grad = new_grad;
            on_iteration(iterations, value);
            if improvement < self.value_tolerance * value.abs().max(1.0) {
                small_steps += 1;
                if small_steps >= 3 {
                    break;
                }
            } else {
                small_steps = 0;
            }
        }
        Some(LbfgsResult {
            x,
            value,
            iterations,
            evaluations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimises_rosenbrock() {
        let rosen = |x: &[f64]| {
            let (a, b) = (x[0], x[1]);
            let v = (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2);
            let g = vec![
                -2.0 * (1.0 - a) - 400.0 * a * (b - a * a),
                200.0 * (b - a * a),
            ];
            Some((v, g))
        };
        let r = Lbfgs::default()
            .minimize(vec![-1.2, 1.0], rosen, |_, _| {})
            .unwrap();
        assert!(
            (r.x[0] - 1.0).abs() < 1e-5 && (r.x[1] - 1.0).abs() < 1e-5,
            "{r:?}"
        );
        assert!(r.iterations < 100, "{r:?}");
    }

    #[test]
    fn steps_back_from_undefined_regions() {
        // f = (x − 3)² defined only for x < 3.5: the first long steps fail and are shortened.
        let f = |x: &[f64]| (x[0] < 3.5).then(|| ((x[0] - 3.0).powi(2), vec![2.0 * (x[0] - 3.0)]));
        let r = Lbfgs::default()
            .minimize(vec![-20.0], f, |_, _| {})
            .unwrap();
        assert!((r.x[0] - 3.0).abs() < 1e-6, "{r:?}");
        assert!(Lbfgs::default().minimize(vec![4.0], f, |_, _| {}).is_none());
    }
}
