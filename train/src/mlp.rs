//! A multilayer perceptron: dense hidden layers with one activation and an identity output.

use crate::nn::{Activation, Dense};
use crate::prng::Rng;
use crate::tape::{Matrix, Tape, Var};

/// A stack of [`Dense`] layers run in order; the last layer is linear (logits or values).
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    /// The layers, input first.
    pub layers: Vec<Dense>,
}

impl Mlp {
    /// Builds `input -> hidden[0] -> ... -> output` with seeded initialisation; hidden layers use
    /// `activation`, the output layer [`Activation::Identity`].
    pub fn new(
        input_len: usize,
        hidden: &[usize],
        output_len: usize,
        activation: Activation,
        rng: &mut Rng,
    ) -> Self {
        let mut sizes = vec![input_len];
        sizes.extend_from_slice(hidden);
        sizes.push(output_len);
        let last = sizes.len() - 2;
        let layers = sizes
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let act = if i == last {
                    Activation::Identity
                } else {
                    activation
                };
                Dense::new(w[0], w[1], act, rng)
            })
            .collect();
        Mlp { layers }
    }

    /// All trainable matrices in a fixed order: weight 0, bias 0, weight 1, bias 1, ...
    pub fn parameters(&self) -> Vec<&Matrix> {
        self.layers
            .iter()
            .flat_map(|l| [&l.weight, &l.bias])
            .collect()
    }

    /// Mutable access in the same order as [`Mlp::parameters`] (for an optimiser step).
    pub fn parameters_mut(&mut self) -> Vec<&mut Matrix> {
        self.layers
            .iter_mut()
            .flat_map(|l| [&mut l.weight, &mut l.bias])
            .collect()
    }

    /// Records the network on a tape: returns the output and the parameter leaves (same order
    /// as [`Mlp::parameters`]) whose gradients the optimiser needs.
    pub fn on_tape(&self, tape: &mut Tape, x: Var) -> (Var, Vec<Var>) {
        let (out, _, params) = self.on_tape_with_hidden(tape, x);
        (out, params)
    }

    /// As [`Mlp::on_tape`], plus every hidden layer's output (after its activation), which
    /// distillation losses read: returns `(output, hidden, parameters)`.
    pub fn on_tape_with_hidden(&self, tape: &mut Tape, x: Var) -> (Var, Vec<Var>, Vec<Var>) {
        let mut params = Vec::with_capacity(self.layers.len() * 2);
        let mut hidden = Vec::with_capacity(self.layers.len().saturating_sub(1));
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            let w = tape.leaf(layer.weight.clone());
            let b = tape.leaf(layer.bias.clone());
            h = layer.on_tape(tape, h, w, b);
            params.push(w);
            params.push(b);
            if i + 1 < self.layers.len() {
                hidden.push(h);
            }
        }
        (h, hidden, params)
    }

    /// Plain forward pass for a batch (rows = samples), for evaluation without a tape.
    pub fn forward(&self, x: &Matrix) -> Matrix {
        self.layers
            .iter()
            .fold(x.clone(), |h, layer| layer.forward(&h))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_activations() {
        let mut rng = Rng::new(0);
        let mlp = Mlp::new(8, &[5, 4], 3, Activation::Relu, &mut rng);
        let shapes: Vec<_> = mlp
            .layers
            .iter()
            .map(|l| (l.input_len(), l.output_len(), l.activation))
            .collect();
        assert_eq!(
            shapes,
            vec![
                (8, 5, Activation::Relu),
                (5, 4, Activation::Relu),
                (4, 3, Activation::Identity)
            ]
        );
        let y = mlp.forward(&Matrix::zeros(2, 8));
        assert_eq!((y.rows, y.cols), (2, 3));
        assert_eq!(mlp.parameters().len(), 6);
    }

    #[test]
    fn no_hidden_layer_is_linear() {
        let mut rng = Rng::new(0);
        let mlp = Mlp::new(4, &[], 2, Activation::Relu, &mut rng);
        assert_eq!(mlp.layers.len(), 1);
        assert_eq!(mlp.layers[0].activation, Activation::Identity);
    }
}
