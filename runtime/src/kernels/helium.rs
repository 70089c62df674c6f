//! int8 fully connected for Armv8.1-M with Helium (Cortex-M55), over row-major weights.
//!
//! Plain Rust that LLVM vectorises for MVE when built with `-C target-cpu=cortex-m55`: four
//! rows per pass share each loaded input vector, so the loop becomes one `VLDRB` of inputs, four
//! of weights and four `VMLADAVA` per 16 inputs. The bias already holds the input zero point
//! times the row sums (the exporter folds it), so the loop is a plain dot product. Bit-exact
//! with the reference: the same wrapping i32 sums in another order. Off Helium it compiles to
//! whatever the target vectorises, so the host tests this code against the reference.

use super::fully_connected::{constants, requantize, FullyConnectedView};

/// Same contract as [`super::reference::fully_connected`].
pub fn fully_connected(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) {
    let n = layer.input_len.max(1);
    let Some(input) = input.get(..n) else {
        return super::fully_connected::fully_connected(layer, input, output);
    };
    let blocks = layer.weights.chunks_exact(4 * n);
    let rest = blocks.remainder();
    let mut done = 0;
    for (rows, outs) in blocks.zip(output.chunks_exact_mut(4)) {
        let (rows01, rows23) = rows.split_at(2 * n);
        let (row0, row1) = rows01.split_at(n);
        let (row2, row3) = rows23.split_at(n);
        let dots = dot4(row0, row1, row2, row3, input);
        for (k, (out, dot)) in outs.iter_mut().zip(dots).enumerate() {
            *out = requantize(layer, dot, constants(layer, done + k));
        }
        done += 4;
    }
    for (k, row) in rest.chunks_exact(n).enumerate() {
        let dot = row
            .iter()
            .zip(input)
            .fold(0i32, |acc, (&w, &x)| acc.wrapping_add(w as i32 * x as i32));
        if let Some(out) = output.get_mut(done + k) {
            *out = requantize(layer, dot, constants(layer, done + k));
        }
    }
}

/// Four dot products with `x`; all five slices have the same length.
#[inline(always)]
fn dot4(row0: &[i8], row1: &[i8], row2: &[i8], row3: &[i8], x: &[i8]) -> [i32; 4] {
    let mut acc = [0i32; 4];
    let columns = x.iter().zip(row0).zip(row1).zip(row2).zip(row3);
    for ((((&x, &w0), &w1), &w2), &w3) in columns {
        let x = x as i32;
        acc[0] = acc[0].wrapping_add(w0 as i32 * x);
        acc[1] = acc[1].wrapping_add(w1 as i32 * x);
        acc[2] = acc[2].wrapping_add(w2 as i32 * x);
        acc[3] = acc[3].wrapping_add(w3 as i32 * x);
    }
    acc
}
