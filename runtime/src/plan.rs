//! Where each layer reads and writes: the memory plan behind [`crate::Model::arena_len`].
//!
//! Layers ping-pong between two buffers in the arena: the first layer reads the caller's input,
//! the last writes the caller's output, and layer `i` in between writes buffer `A` when `i` is
//! even and `B` when it is odd. `A` sits at the start of the arena and `B` right after it, each
//! as long as the longest tensor it ever holds. The exporter sizes the arena with the same
//! function, so the manifest's `arena_len` can be checked at parse time.

use crate::manifest::Layer;

/// A place a layer reads from or writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The caller's input slice.
    Input,
    /// The first arena buffer.
    A,
    /// The second arena buffer.
    B,
    /// The caller's output slice.
    Output,
}

/// Lengths of the two arena buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Plan {
    /// Bytes of buffer `A` (at arena offset 0).
    pub a_len: usize,
    /// Bytes of buffer `B` (at arena offset `a_len`).
    pub b_len: usize,
}

impl Plan {
    /// Plans `layers`.
    pub fn new(layers: &[Layer]) -> Plan {
        let mut plan = Plan::default();
        let count = layers.len();
        for (i, layer) in layers.iter().enumerate() {
            let len = layer.output_len() as usize;
            match destination(i, count) {
                Slot::A => plan.a_len = plan.a_len.max(len),
                Slot::B => plan.b_len = plan.b_len.max(len),
                Slot::Input | Slot::Output => {}
            }
        }
        plan
    }

    /// Total arena bytes.
    pub fn arena_len(&self) -> usize {
        self.a_len + self.b_len
    }
}

/// Where layer `index` of `count` reads.
pub fn source(index: usize, count: usize) -> Slot {
    match index {
        0 => Slot::Input,
        i => destination(i - 1, count),
    }
}

/// Where layer `index` of `count` writes.
pub fn destination(index: usize, count: usize) -> Slot {
    if index + 1 >= count {
        Slot::Output
    } else if index % 2 == 0 {
        Slot::A
    } else {
        Slot::B
    }
}
