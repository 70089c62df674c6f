//! Dense layers and activations: the building blocks of the MLP and of the checkpoint.
//!
//! The training-time layer stores its weight as `input x output` so a batch (rows = samples)
//! multiplies on the left; the checkpoint stores the transpose (`output x input`, row-major),
//! which is what the int8 kernels and the exporter expect.

use crate::prng::Rng;
use crate::tape::{Matrix, Tape, Var};
use core::fmt;

/// Elementwise nonlinearity applied after a dense layer (stored per layer in the checkpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// No nonlinearity: the output layer (logits or regression values).
    Identity,
    /// `max(0, x)`: the default hidden activation, cheap on a microcontroller.
    Relu,
    /// `min(max(0, x), 6)`: a bounded ReLU, whose fixed range quantises well.
    Relu6,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid `1 / (1 + e^-x)`.
    Sigmoid,
}

impl Activation {
    /// Every activation, e.g. to list the choices in a CLI or to test a round trip.
    pub const ALL: [Activation; 5] = [
        Activation::Identity,
        Activation::Relu,
        Activation::Relu6,
        Activation::Tanh,
        Activation::Sigmoid,
    ];

    /// Applies the activation to one value (the float reference path of [`crate::Checkpoint`]).
    pub fn apply(self, x: f32) -> f32 {
        self.apply_f64(f64::from(x)) as f32
    }

    /// Applies the activation in f64 (training-time and checkpoint accumulation precision).
    pub fn apply_f64(self, x: f64) -> f64 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => crate::tape::sigmoid(x),
        }
    }

    /// The stable lower-case name written into checkpoint metadata (`"relu"`, `"tanh"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
        }
    }

    /// Parses a name written by [`Activation::name`]; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Records the activation on a tape.
    pub fn on_tape(self, tape: &mut Tape, x: Var) -> Var {
        match self {
            Activation::Identity => x,
            Activation::Relu => tape.relu(x),
            Activation::Relu6 => tape.relu6(x),
            Activation::Tanh => tape.tanh(x),
            Activation::Sigmoid => tape.sigmoid(x),
        }
    }

    /// Whether He initialisation suits this activation (ReLU family), otherwise Glorot.
    fn is_relu_like(self) -> bool {
        matches!(self, Activation::Relu | Activation::Relu6)
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A trainable fully connected layer `y = act(x · W + b)` in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    /// Weight, `input_len x output_len` (batch rows multiply on the left).
    pub weight: Matrix,
    /// Bias, `1 x output_len`, broadcast over the batch.
    pub bias: Matrix,
    /// Nonlinearity applied after the affine map.
    pub activation: Activation,
}

impl Dense {
    /// A new layer with seeded random weights and zero bias: He-normal (std `sqrt(2/in)`) for
    /// the ReLU family, Glorot-normal (std `sqrt(2/(in+out))`) otherwise, so activations keep
    /// roughly unit scale through the network at the start of training.
    pub fn new(input_len: usize, output_len: usize, activation: Activation, rng: &mut Rng) -> Self {
        let std = if activation.is_relu_like() {
            (2.0 / input_len as f64).sqrt()
        } else {
            (2.0 / (input_len + output_len) as f64).sqrt()
        };
        let data = (0..input_len * output_len)
            .map(|_| std * rng.normal())
            .collect();
        Dense {
            weight: Matrix::new(input_len, output_len, data),
            bias: Matrix::zeros(1, output_len),
            activation,
        }
    }

    /// Number of inputs.
    pub fn input_len(&self) -> usize {
        self.weight.rows
    }

    /// Number of outputs.
    pub fn output_len(&self) -> usize {
        self.weight.cols
    }

    /// Records the layer on a tape given the leaves holding its weight and bias.
    pub fn on_tape(&self, tape: &mut Tape, x: Var, weight: Var, bias: Var) -> Var {
        let z = tape.matmul(x, weight);
        let z = tape.add(z, bias);
        self.activation.on_tape(tape, z)
    }

    /// Plain forward pass for a batch (no tape), e.g. for evaluation.
    pub fn forward(&self, x: &Matrix) -> Matrix {
        let mut z = x.matmul(&self.weight);
        for r in 0..z.rows {
            for (c, v) in z.data[r * z.cols..(r + 1) * z.cols].iter_mut().enumerate() {
                *v = self.activation.apply_f64(*v + self.bias.data[c]);
            }
        }
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_names_round_trip() {
        for a in Activation::ALL {
            assert_eq!(Activation::from_name(a.name()), Some(a));
        }
        assert_eq!(Activation::from_name("gelu"), None);
    }

    #[test]
    fn activation_values() {
        assert_eq!(Activation::Relu6.apply(7.0), 6.0);
        assert_eq!(Activation::Relu.apply(-1.0), 0.0);
        assert_eq!(Activation::Identity.apply(-1.5), -1.5);
        assert!((Activation::Sigmoid.apply(0.0) - 0.5).abs() < 1e-7);
        assert!((Activation::Sigmoid.apply_f64(-800.0)).is_finite());
    }

    #[test]
    fn dense_tape_matches_plain_forward() {
        let mut rng = Rng::new(1);
        let layer = Dense::new(3, 4, Activation::Tanh, &mut rng);
        let x = Matrix::new(2, 3, vec![0.1, -0.2, 0.3, 1.0, 2.0, -3.0]);
        let mut t = Tape::new();
        let (xv, w, b) = (
            t.leaf(x.clone()),
            t.leaf(layer.weight.clone()),
            t.leaf(layer.bias.clone()),
        );
        let y = layer.on_tape(&mut t, xv, w, b);
        assert_eq!(t.value(y), &layer.forward(&x));
    }

    #[test]
    fn he_init_has_expected_scale() {
        let mut rng = Rng::new(2);
        let layer = Dense::new(200, 100, Activation::Relu, &mut rng);
        let n = layer.weight.data.len() as f64;
        let var = layer.weight.data.iter().map(|w| w * w).sum::<f64>() / n;
        assert!((var / (2.0 / 200.0) - 1.0).abs() < 0.05, "{var}");
    }
}
