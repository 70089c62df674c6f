//! Where each layer reads and writes: the memory plan behind [`crate::Model::arena_len`].
//!
//! Layers ping-pong between two buffers in the arena: the first layer reads the caller's input,
//! the last writes the caller's output, and layer `i` in between writes buffer `A` when `i` is
//! even and `B` when it is odd. `A` sits at the start of the arena and `B` right after it, each
//! as long as the longest tensor it ever holds. The exporter sizes the arena with the same
//! function, so the manifest's `arena_len` can be checked at parse time.

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
    /// Plans layers that write `output_lens` elements, in order.
    pub fn new(output_lens: impl ExactSizeIterator<Item = u32>) -> Plan {
        let mut plan = Plan::default();
        let count = output_lens.len();
        for (index, len) in output_lens.enumerate() {
            plan.add(index, count, len);
        }
        plan
    }

    /// Accounts for layer `index` of `count` writing `output_len` elements.
    pub fn add(&mut self, index: usize, count: usize, output_len: u32) {
        let len = output_len as usize;
        match destination(index, count) {
            Slot::A => self.a_len = self.a_len.max(len),
            Slot::B => self.b_len = self.b_len.max(len),
            Slot::Input | Slot::Output => {}
        }
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
