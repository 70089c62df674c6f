//! int8 fully connected for the Armv7E-M DSP extension (Cortex-M4, M7, M33): four output rows
//! at a time, four inputs per step, with `SXTB16` to widen bytes to halfwords and `SMLAD` for
//! two multiply-accumulates per instruction. Each unpacked input word serves all four rows.
//!
//! Two entry points, one per weight layout: [`fully_connected`] reads row-major weights through
//! four row pointers; [`fully_connected_row_quads`] reads the exporter's
//! [`WeightLayout::RowQuads`](crate::manifest::WeightLayout) order through one pointer with
//! `LDRD`, in a hand-scheduled `asm!` loop of 8 inputs x 4 rows (44 instructions per 32 MACs).
//! The layers that loop does not take (tail column groups, large scales, or a blob at an
//! address that is not 4-aligned) use a second loop with two `LDR` instead of each `LDRD`.
//!
//! When every shift of the layer is at most -2 ([`FullyConnectedView::small_scales`], true of
//! trained layers, whose scales are far below 1/4) and weights and bias are 4-byte aligned, one
//! `asm!` pass runs all whole blocks of four rows: it starts the sums from the biases, and
//! requantises each block from the high word of the product (`SMULL`, two shifts, `SSAT`),
//! clamps the four bytes at once (`SSUB8`/`SEL`) and stores them as one word. Small layers are
//! mostly this per-output work, so it matters as much as the multiply-accumulate loop there.
//!
//! Bit-exact with [`super::fully_connected::fully_connected`]: the same i32 wrapping sums in a
//! different order (integer addition is associative), then the same requantisation. Off Arm the
//! three instructions are emulated in plain Rust, so the host tests this exact code against the
//! reference; on a thumbv7em target they are the real instructions (see `build.rs`), which the
//! QEMU tests check against the host.

use super::fully_connected::{constants, requantize, FullyConnectedView};
use super::layout::QUAD;
use crate::manifest::WeightLayout;

/// Same contract as the portable reference: writes `min(output.len(), rows)` outputs.
pub fn fully_connected(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) {
    let n = layer.input_len.max(1);
    let quads = layer.weights.chunks_exact(4 * n);
    let rest = quads.remainder();
    let outputs = output.chunks_exact_mut(4);
    let mut done = 0;
    for (rows, outs) in quads.zip(outputs) {
        let (rows01, rows23) = rows.split_at(2 * n);
        let (row0, row1) = rows01.split_at(n);
        let (row2, row3) = rows23.split_at(n);
        let dots = dot4([row0, row1, row2, row3], input);
        for (k, (out, dot)) in outs.iter_mut().zip(dots).enumerate() {
            *out = requantize(layer, dot, constants(layer, done + k));
        }
        done += 4;
    }
    // The last rows when there are not four of them.
    for (k, row) in rest.chunks_exact(n).enumerate() {
        let [dot, ..] = dot4([row, row, row, row], input);
        if let Some(out) = output.get_mut(done + k) {
            *out = requantize(layer, dot, constants(layer, done + k));
        }
    }
}

/// Same contract as [`super::layout::fully_connected_row_quads`], for
/// [`WeightLayout::RowQuads`](crate::manifest::WeightLayout) weights; writes nothing for a
/// view that does not [fit](FullyConnectedView::fits) its shape.
///
/// Lean on purpose, since small layers are mostly overhead: every length is checked once up
/// front, then each block of four rows runs the `asm!` loop over pairs of column groups, the at
/// most two groups left over use inputs zero-padded once per call, and the four outputs are
/// requantised with constants read through pointers the checks made safe.
pub fn fully_connected_row_quads(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) {
    if whole_blocks(layer, input, output) {
        return;
    }
    let (n, rows) = (layer.input_len, output.len());
    let groups = n.div_ceil(QUAD);
    let block_len = QUAD * QUAD * groups;
    // The unchecked reads below rely on this: the RowQuads sizes, checked once.
    if layer.layout != WeightLayout::RowQuads || !layer.fits(input.len(), rows) {
        return;
    }
    // Sections are 16-byte aligned within the blob, so the weights are 4-byte aligned unless
    // the blob itself is not (`include_bytes!` promises no alignment).
    let aligned = layer.weights.as_ptr() as usize % 4 == 0;
    let pairs = n / (2 * QUAD);
    let (tail, tail_groups) = tail_inputs(input, n, 2 * pairs);
    let mut row = 0;
    // The whole blocks of four rows in one pass that also requantises, when the layer allows
    // the high-word requantisation, the words it loads with `LDRD` are 4-byte aligned and
    // there are only whole pairs of column groups (the pass has no tail code, to stay small).
    let bias_aligned = layer.bias.as_ptr() as usize % 4 == 0;
    if aligned && bias_aligned && layer.small_scales && pairs > 0 && tail_groups == 0 {
        let blocks = rows / QUAD;
        let min = layer.activation_min as u8 as u32 * 0x0101_0101;
        let max = layer.activation_max as u8 as u32 * 0x0101_0101;
        let mut frame = Frame {
            input: input.as_ptr(),
            pairs,
            bias: layer.bias.as_ptr(),
            multipliers: layer.multipliers.as_ptr(),
            shifts: layer.shifts.as_ptr(),
            output: output.as_mut_ptr(),
            output_offset: layer.output_offset,
            min,
            max,
            blocks,
        };
        if blocks > 0 {
            // SAFETY: `fits` checked above that the weights hold `ceil(rows / 4)` blocks of
            // `block_len = 16 * groups` bytes, the constants `rows` entries and the output
            // `rows` bytes; `blocks = rows / 4` whole blocks stay within all of them. `input`
            // holds `n >= 8 * pairs` values, `pairs >= 1`, and `groups = 2 * pairs` (no tail
            // groups), so a block is `32 * pairs` bytes. Weights and bias are 4-byte aligned
            // (checked just above).
            unsafe { fused_blocks(&mut frame, layer.weights.as_ptr()) };
        }
        row = blocks * QUAD;
    }
    while row < rows {
        // SAFETY: block `row / 4` lies inside `weights` (`fits` for RowQuads checked above: the
        // section holds `ceil(rows / 4)` blocks of `block_len` bytes).
        let block = unsafe { layer.weights.as_ptr().add(row / QUAD * block_len) };
        // SAFETY: the block holds `block_len >= 32 * pairs` bytes; `input` holds
        // `n >= 8 * pairs` values.
        let mut acc = unsafe { dot_group_pairs(block, input.as_ptr(), pairs) };
        for (g, &x) in tail.iter().enumerate().take(tail_groups) {
            // SAFETY: group `2 * pairs + g < groups` of the block, 16 bytes, is inside it.
            let group = unsafe {
                let start = block.add((2 * pairs + g) * QUAD * QUAD);
                core::slice::from_raw_parts(start, QUAD * QUAD)
            };
            mac_group(&mut acc, x, group);
        }
        for (k, dot) in acc.into_iter().enumerate().take(rows - row) {
            // SAFETY: `row + k < rows = output.len()`, and the constants hold `rows` entries
            // (checked above).
            unsafe { *output.as_mut_ptr().add(row + k) = requantize_at(layer, dot, row + k) };
        }
        row += QUAD;
    }
}

/// The common case with the fewest checks, for small layers where each call's overhead
/// counts: whole blocks of four rows, whole pairs of column groups (so no padding, and the
/// packed sizes are the plain ones), high-word requantisation and 4-byte aligned weights and
/// bias. Runs the layer and returns true in that case; returns false, having written nothing,
/// otherwise.
#[inline(always)]
fn whole_blocks(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) -> bool {
    let (n, rows) = (layer.input_len, output.len());
    let aligned = (layer.weights.as_ptr() as usize | layer.bias.as_ptr() as usize) % 4 == 0;
    let shape = n % (2 * QUAD) == 0 && n > 0 && rows % QUAD == 0 && rows > 0;
    // With `n` a multiple of 8 and `rows` of 4, RowQuads is `rows * n` bytes, unpadded.
    let sized = input.len() >= n
        && rows
            .checked_mul(n)
            .is_some_and(|len| layer.weights.len() >= len)
        && layer.bias.len() / 4 >= rows
        && layer.multipliers.len() / 4 >= rows
        && layer.shifts.len() >= rows;
    if !(layer.layout == WeightLayout::RowQuads && layer.small_scales && aligned && shape && sized)
    {
        return false;
    }
    let mut frame = Frame {
        input: input.as_ptr(),
        pairs: n / (2 * QUAD),
        bias: layer.bias.as_ptr(),
        multipliers: layer.multipliers.as_ptr(),
        shifts: layer.shifts.as_ptr(),
        output: output.as_mut_ptr(),
        output_offset: layer.output_offset,
        min: layer.activation_min as u8 as u32 * 0x0101_0101,
        max: layer.activation_max as u8 as u32 * 0x0101_0101,
        blocks: rows / QUAD,
    };
    // SAFETY: checked just above: `rows / 4 >= 1` blocks of `16 * (n / 4) = 32 * pairs`
    // weight bytes (`rows * n` in all), `pairs = n / 8 >= 1`, `input` holds `n = 8 * pairs`
    // values, the constants and the output hold `rows` entries, weights and bias are 4-byte
    // aligned.
    unsafe { fused_blocks(&mut frame, layer.weights.as_ptr()) };
    true
}

/// What [`fused_blocks`] reads and updates, in one place so that one register addresses it
/// (the multiply-accumulate loop already needs 12 of the 13 registers `asm!` may use). The
/// field offsets are part of the `asm!` code: keep the order.
#[repr(C)]
struct Frame {
    /// Offset 0: the first input.
    input: *const i8,
    /// Offset 4: pairs of column groups (8 inputs each) per row block, at least 1.
    pairs: usize,
    /// Offset 8: the bias of the next block's first row (advances 16 bytes per block).
    bias: *const u8,
    /// Offset 12: its multiplier (likewise).
    multipliers: *const u8,
    /// Offset 16: its shift (advances 4 bytes per block).
    shifts: *const u8,
    /// Offset 20: its output (likewise).
    output: *mut i8,
    /// Offset 24: the output zero point.
    output_offset: i32,
    /// Offset 28: the lower clamp bound in each byte.
    min: u32,
    /// Offset 32: the upper clamp bound in each byte.
    max: u32,
    /// Offset 36: blocks of four rows still to run.
    blocks: usize,
}

/// Runs `frame.blocks` whole blocks of four rows: each block's dot products start from the
/// biases, run over the pairs of column groups, and are requantised from
/// the high word of the product, offset, saturated, clamped four bytes at a time and stored as
/// one word. Bit-exact with [`requantize`] when every shift is in -31..=-2 (see
/// [`requantize4`], its model in plain Rust).
///
/// # Safety
/// `weights` must point to `frame.blocks` blocks of `32 * pairs` readable bytes and be 4-byte
/// aligned; `frame.bias` must be 4-byte aligned; `input` must hold
/// `8 * pairs` values and `pairs >= 1`; bias, multipliers, shifts and output must hold
/// `4 * blocks` entries. (A shift outside -31..=-2 gives wrong outputs, not unsafety.)
///
/// Not inlined: its two callers share one copy of the code (flash counts on small cores).
#[inline(never)]
unsafe fn fused_blocks(frame: &mut Frame, weights: *const i8) {
    #[cfg(mote_arm_dsp)]
    {
        macro_rules! mac {
            () => {
                concat!(
                    "sxtb16 {xo}, {x}, ror #8\n",
                    "sxtb16 {x}, {x}\n",
                    "ldrd {w0}, {w1}, [{wp}], #8\n",
                    "sxtb16 {t}, {w0}\n",
                    "smlad {a0}, {t}, {x}, {a0}\n",
                    "sxtb16 {t}, {w0}, ror #8\n",
                    "smlad {a0}, {t}, {xo}, {a0}\n",
                    "sxtb16 {t}, {w1}\n",
                    "smlad {a1}, {t}, {x}, {a1}\n",
                    "sxtb16 {t}, {w1}, ror #8\n",
                    "smlad {a1}, {t}, {xo}, {a1}\n",
                    "ldrd {w0}, {w1}, [{wp}], #8\n",
                    "sxtb16 {t}, {w0}\n",
                    "smlad {a2}, {t}, {x}, {a2}\n",
                    "sxtb16 {t}, {w0}, ror #8\n",
                    "smlad {a2}, {t}, {xo}, {a2}\n",
                    "sxtb16 {t}, {w1}\n",
                    "smlad {a3}, {t}, {x}, {a3}\n",
                    "sxtb16 {t}, {w1}, ror #8\n",
                    "smlad {a3}, {t}, {xo}, {a3}\n",
                )
            };
        }
        // One output: x holds the zero point, t the shift count -2 - s in its low byte.
        // ((high >> k) + 1) >> 1 is the rounded shift of `fixed_point`'s high-word path.
        macro_rules! requantize {
            ($a:literal) => {
                concat!(
                    "ldr {w0}, [{xp}], #4\n",
                    "smull {w1}, {w0}, ",
                    $a,
                    ", {w0}\n",
                    "asr {w0}, {w0}, {t}\n",
                    "add {w0}, {w0}, #1\n",
                    "add {w0}, {x}, {w0}, asr #1\n",
                    "ssat ",
                    $a,
                    ", #8, {w0}\n",
                )
            };
        }
        // SAFETY: the caller guarantees every address read or written here: per block, 16
        // bias bytes (LDRD, 4-byte aligned), `32 * pairs` weight bytes
        // (LDRD, 4-byte aligned, advancing 8 at a time so staying aligned), `8 * pairs` input
        // bytes (LDR, any alignment on Armv7E-M/Armv8-M), 16 multiplier and 4 shift bytes
        // (LDR), and one output word (STR, any alignment); the frame is a live, aligned
        // `repr(C)` struct that only this code touches while it runs. Only registers named as
        // operands are written; flags (including GE and the sticky Q) are clobbered, which
        // `asm!` assumes without `preserves_flags`. The stack is not used.
        unsafe {
            core::arch::asm!(
                "3:",
                "ldr {t}, [{f}, #8]",
                "ldrd {a0}, {a1}, [{t}], #8",
                "ldrd {a2}, {a3}, [{t}], #8",
                "str {t}, [{f}, #8]",
                "ldrd {xp}, {n}, [{f}]",
                "2:",
                "ldr {x}, [{xp}], #4",
                mac!(),
                "ldr {x}, [{xp}], #4",
                mac!(),
                "subs {n}, {n}, #1",
                "bne 2b",
                "ldrd {xp}, {n}, [{f}, #12]",
                "ldr {t}, [{n}], #4",
                // -2 - s in every byte: each shift byte is 0xE1..=0xFE, so no byte borrows.
                "rsb {t}, {t}, #0xFEFEFEFE",
                "ldr {x}, [{f}, #24]",
                requantize!("{a0}"),
                "lsr {t}, {t}, #8",
                requantize!("{a1}"),
                "lsr {t}, {t}, #8",
                requantize!("{a2}"),
                "lsr {t}, {t}, #8",
                requantize!("{a3}"),
                "strd {xp}, {n}, [{f}, #12]",
                "bfi {a0}, {a1}, #8, #8",
                "bfi {a0}, {a2}, #16, #8",
                "bfi {a0}, {a3}, #24, #8",
                "ldrd {w0}, {w1}, [{f}, #28]",
                "ssub8 {t}, {a0}, {w0}",
                "sel {a0}, {a0}, {w0}",
                "ssub8 {t}, {w1}, {a0}",
                "sel {a0}, {a0}, {w1}",
                "ldr {t}, [{f}, #20]",
                "str {a0}, [{t}], #4",
                "str {t}, [{f}, #20]",
                "ldr {t}, [{f}, #36]",
                "subs {t}, {t}, #1",
                "str {t}, [{f}, #36]",
                "bne 3b",
                f = in(reg) frame as *mut Frame,
                wp = inout(reg) weights => _,
                xp = out(reg) _,
                n = out(reg) _,
                a0 = out(reg) _,
                a1 = out(reg) _,
                a2 = out(reg) _,
                a3 = out(reg) _,
                x = out(reg) _,
                xo = out(reg) _,
                w0 = out(reg) _,
                w1 = out(reg) _,
                t = out(reg) _,
                options(nostack),
            );
        }
    }
    #[cfg(not(mote_arm_dsp))]
    {
        // The same steps in plain Rust: what the host tests check.
        let block_len = 2 * QUAD * QUAD * frame.pairs;
        for block in 0..frame.blocks {
            // SAFETY: the caller guarantees these lengths are readable and writable.
            let (weights, input, bias, multipliers, shifts, output) = unsafe {
                (
                    core::slice::from_raw_parts(weights.add(block * block_len), block_len),
                    core::slice::from_raw_parts(frame.input, 8 * frame.pairs),
                    core::slice::from_raw_parts(frame.bias.add(16 * block), 16),
                    core::slice::from_raw_parts(frame.multipliers.add(16 * block), 16),
                    core::slice::from_raw_parts(frame.shifts.add(4 * block), 4),
                    core::slice::from_raw_parts_mut(frame.output.add(4 * block), 4),
                )
            };
            let mut acc = [0i32; 4];
            for (a, b) in acc.iter_mut().zip(bias.chunks_exact(4)) {
                *a = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            let words = input.chunks_exact(QUAD).map(word);
            for (x, group) in words.zip(weights.chunks_exact(QUAD * QUAD)) {
                mac_group(&mut acc, x, group);
            }
            let mut m = [0i32; 4];
            for (m, b) in m.iter_mut().zip(multipliers.chunks_exact(4)) {
                *m = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            let shifts = u32::from_le_bytes([shifts[0], shifts[1], shifts[2], shifts[3]]);
            let packed = requantize4(acc, m, shifts, frame.output_offset, frame.min, frame.max);
            for (out, byte) in output.iter_mut().zip(packed.to_le_bytes()) {
                *out = byte as i8;
            }
        }
    }
}

/// The requantisation of [`fused_blocks`] step by step in plain Rust, as its instructions do
/// it: four sums (bias included), their multipliers, their four shifts packed in a word (each
/// in -31..=-2), the zero point and the clamp bounds repeated in each byte; returns the four
/// int8 outputs packed in a word.
#[cfg_attr(mote_arm_dsp, allow(dead_code))]
fn requantize4(
    acc: [i32; 4],
    multipliers: [i32; 4],
    shifts: u32,
    offset: i32,
    min: u32,
    max: u32,
) -> u32 {
    // RSB with 0xFEFEFEFE: -2 - s per byte, no borrows for shift bytes in 0xE1..=0xFE.
    let mut counts = 0xFEFE_FEFEu32.wrapping_sub(shifts);
    let mut packed = 0u32;
    for (k, (acc, multiplier)) in acc.into_iter().zip(multipliers).enumerate() {
        // SMULL's high word; ASR by the low byte of `counts` (0..=29 here).
        let high = ((i64::from(acc) * i64::from(multiplier)) >> 32) as i32;
        let rounded = (high >> (counts & 0xFF).min(31)).wrapping_add(1);
        let value = offset.wrapping_add(rounded >> 1);
        // SSAT #8, then BFI into byte k.
        packed |= (value.clamp(-128, 127) as u8 as u32) << (8 * k);
        counts >>= 8;
    }
    // SSUB8 + SEL twice: bytewise signed max with `min`, then min with `max`.
    let bytes = packed.to_le_bytes().map(|b| b as i8);
    let (min, max) = (min.to_le_bytes(), max.to_le_bytes());
    let mut out = [0u8; 4];
    for (k, slot) in out.iter_mut().enumerate() {
        *slot = bytes[k].max(min[k] as i8).min(max[k] as i8) as u8;
    }
    u32::from_le_bytes(out)
}

/// [`requantize`] with the constants of output `index` read without bounds checks.
///
/// # Safety
/// `index` must be below the number of outputs that `bias`, `multipliers` and `shifts` hold.
#[inline(always)]
unsafe fn requantize_at(layer: &FullyConnectedView<'_>, dot: i32, index: usize) -> i8 {
    // SAFETY: the caller guarantees `4 * index + 4 <= bias.len()` and likewise for the other
    // two; `read_unaligned` has no alignment requirement.
    let (bias, multiplier, shift) = unsafe {
        (
            core::ptr::read_unaligned(layer.bias.as_ptr().add(4 * index).cast::<[u8; 4]>()),
            core::ptr::read_unaligned(layer.multipliers.as_ptr().add(4 * index).cast::<[u8; 4]>()),
            *layer.shifts.as_ptr().add(index),
        )
    };
    let constants = (
        (i32::from_le_bytes(bias), i32::from_le_bytes(multiplier)),
        shift as i8 as i32,
    );
    requantize(layer, dot, constants)
}

/// The input words of the column groups from `first_group` on (at most two remain after the
/// pairs), zero-padded past `n`, and how many there are.
fn tail_inputs(input: &[i8], n: usize, first_group: usize) -> ([u32; 2], usize) {
    let mut words = [0u32; 2];
    let rest = input.get(first_group * QUAD..n).unwrap_or(&[]);
    // Shifted into place byte by byte: a copy into a zeroed `[i8; 4]` becomes a `memcpy` call,
    // which alone costs the footprint ~0.9 KiB of flash.
    for (i, &value) in rest.iter().take(2 * QUAD).enumerate() {
        if let Some(slot) = words.get_mut(i / QUAD) {
            *slot |= u32::from(value as u8) << (8 * (i % QUAD));
        }
    }
    (words, rest.len().div_ceil(QUAD).min(2))
}

/// The four rows' dot products over the first `pairs` pairs of column groups (8 inputs each)
/// of the block at `weights`, loaded with `LDR`, which Armv7E-M allows at any address (a blob
/// from `include_bytes!` may sit anywhere). Only the layers the fused pass does not take come
/// here, so one loop (no `LDRD` copy for aligned weights) keeps flash small.
///
/// # Safety
/// `weights` must point to `32 * pairs` readable bytes; `input` must point to `8 * pairs`
/// readable bytes.
#[inline(always)]
unsafe fn dot_group_pairs(weights: *const i8, input: *const i8, pairs: usize) -> [i32; 4] {
    let mut acc = [0i32; 4];
    if pairs == 0 {
        return acc;
    }
    #[cfg(mote_arm_dsp)]
    {
        let [mut a0, mut a1, mut a2, mut a3] = acc;
        // Per group of four inputs: one LDR of the inputs, two SXTB16 for its even and odd
        // bytes, then per pair of rows one LDRD of 8 weights, 4 SXTB16 and 4 SMLAD.
        macro_rules! group {
            ($load:literal) => {
                concat!(
                    "ldr {x}, [{xp}], #4\n",
                    "sxtb16 {xo}, {x}, ror #8\n",
                    "sxtb16 {x}, {x}\n",
                    $load,
                    "sxtb16 {t}, {w0}\n",
                    "smlad {a0}, {t}, {x}, {a0}\n",
                    "sxtb16 {t}, {w0}, ror #8\n",
                    "smlad {a0}, {t}, {xo}, {a0}\n",
                    "sxtb16 {t}, {w1}\n",
                    "smlad {a1}, {t}, {x}, {a1}\n",
                    "sxtb16 {t}, {w1}, ror #8\n",
                    "smlad {a1}, {t}, {xo}, {a1}\n",
                    $load,
                    "sxtb16 {t}, {w0}\n",
                    "smlad {a2}, {t}, {x}, {a2}\n",
                    "sxtb16 {t}, {w0}, ror #8\n",
                    "smlad {a2}, {t}, {xo}, {a2}\n",
                    "sxtb16 {t}, {w1}\n",
                    "smlad {a3}, {t}, {x}, {a3}\n",
                    "sxtb16 {t}, {w1}, ror #8\n",
                    "smlad {a3}, {t}, {xo}, {a3}\n",
                )
            };
        }
        macro_rules! pairs_loop {
            ($load:literal) => {
                // SAFETY: the loop runs `pairs >= 1` times and each pass reads 32 bytes through
                // `wp` and 8 through `xp`, only forward from the given pointers, which the caller
                // guarantees are readable for that long. `LDR` may be unaligned on Armv7E-M.
                // Only registers named as operands are written; SMLAD may set the Q flag, which
                // nothing reads.
                unsafe {
                    core::arch::asm!(
                        "2:",
                        group!($load),
                        group!($load),
                        "subs {n}, {n}, #1",
                        "bne 2b",
                        xp = inout(reg) input => _,
                        wp = inout(reg) weights => _,
                        n = inout(reg) pairs => _,
                        a0 = inout(reg) a0,
                        a1 = inout(reg) a1,
                        a2 = inout(reg) a2,
                        a3 = inout(reg) a3,
                        x = out(reg) _,
                        xo = out(reg) _,
                        w0 = out(reg) _,
                        w1 = out(reg) _,
                        t = out(reg) _,
                        options(nostack, readonly),
                    );
                }
            };
        }
        pairs_loop!("ldr {w0}, [{wp}], #4\nldr {w1}, [{wp}], #4\n");
        acc = [a0, a1, a2, a3];
    }
    #[cfg(not(mote_arm_dsp))]
    {
        // The same instruction sequence, emulated: what the host tests check.
        // SAFETY: the caller guarantees these lengths are readable.
        let (weights, input) = unsafe {
            (
                core::slice::from_raw_parts(weights, 32 * pairs),
                core::slice::from_raw_parts(input, 8 * pairs),
            )
        };
        for (x, group) in input
            .chunks_exact(QUAD)
            .zip(weights.chunks_exact(QUAD * QUAD))
        {
            mac_group(&mut acc, word(x), group);
        }
    }
    acc
}

/// Adds one group of four inputs (`x`, as a word) times the 16 weights of a
/// [`WeightLayout::RowQuads`](crate::manifest::WeightLayout) group to the four rows' sums.
#[inline(always)]
fn mac_group(acc: &mut [i32; 4], x: u32, group: &[i8]) {
    let (x_even, x_odd) = (sxtb16(x), sxtb16_ror8(x));
    for (acc, w) in acc.iter_mut().zip(group.chunks_exact(QUAD)) {
        let w = word(w);
        *acc = smlad(sxtb16(w), x_even, *acc);
        *acc = smlad(sxtb16_ror8(w), x_odd, *acc);
    }
}

/// `Σ rows[r]·x` for four rows, with wrapping i32 sums: each unpacked input word serves all four.
#[inline(always)]
fn dot4(rows: [&[i8]; 4], input: &[i8]) -> [i32; 4] {
    let [row0, row1, row2, row3] = rows;
    let words = input
        .chunks_exact(4)
        .zip(row0.chunks_exact(4))
        .zip(row1.chunks_exact(4))
        .zip(row2.chunks_exact(4))
        .zip(row3.chunks_exact(4));
    let mut acc = [0i32; 4];
    for ((((x, w0), w1), w2), w3) in words {
        let x = word(x);
        let (x_even, x_odd) = (sxtb16(x), sxtb16_ror8(x));
        for (acc, w) in acc.iter_mut().zip([w0, w1, w2, w3]) {
            let w = word(w);
            *acc = smlad(sxtb16(w), x_even, *acc);
            *acc = smlad(sxtb16_ror8(w), x_odd, *acc);
        }
    }
    let tail = input.len() / 4 * 4;
    for (k, &x) in input.iter().enumerate().skip(tail) {
        for (acc, row) in acc.iter_mut().zip([row0, row1, row2, row3]) {
            let w = row.get(k).map_or(0, |&w| w as i32);
            *acc = acc.wrapping_add(w * x as i32);
        }
    }
    acc
}

/// Four int8 values as one little-endian word (one unaligned `LDR` on Armv7E-M).
#[inline(always)]
pub(crate) fn word(bytes: &[i8]) -> u32 {
    match *bytes {
        [a, b, c, d] => u32::from_le_bytes([a as u8, b as u8, c as u8, d as u8]),
        _ => 0,
    }
}

/// `SXTB16 x`: bytes 0 and 2 of `x`, sign-extended to the low and high halfword.
#[inline(always)]
pub(crate) fn sxtb16(x: u32) -> u32 {
    #[cfg(mote_arm_dsp)]
    {
        let out: u32;
        // SAFETY: a register-to-register instruction of the Armv7E-M DSP extension, which every
        // thumbv7em core has (build.rs sets `mote_arm_dsp` only for those targets); it reads
        // and writes no memory, no flags and not the stack.
        unsafe {
            core::arch::asm!("sxtb16 {out}, {x}", out = lateout(reg) out, x = in(reg) x,
                options(pure, nomem, nostack, preserves_flags));
        }
        out
    }
    #[cfg(not(mote_arm_dsp))]
    {
        let lo = x as u8 as i8 as i16 as u16 as u32;
        let hi = (x >> 16) as u8 as i8 as i16 as u16 as u32;
        lo | (hi << 16)
    }
}

/// `SXTB16 x, ROR #8`: bytes 1 and 3 of `x`, sign-extended to the low and high halfword.
#[inline(always)]
pub(crate) fn sxtb16_ror8(x: u32) -> u32 {
    #[cfg(mote_arm_dsp)]
    {
        let out: u32;
        // SAFETY: as for `sxtb16`: register-only DSP instruction present on every thumbv7em core.
        unsafe {
            core::arch::asm!("sxtb16 {out}, {x}, ror #8", out = lateout(reg) out, x = in(reg) x,
                options(pure, nomem, nostack, preserves_flags));
        }
        out
    }
    #[cfg(not(mote_arm_dsp))]
    {
        sxtb16(x.rotate_right(8))
    }
}

/// `SMLAD acc, a, b`: `acc + a.lo·b.lo + a.hi·b.hi` over signed halfwords, wrapping (the Q flag
/// it may set is never read).
#[inline(always)]
pub(crate) fn smlad(a: u32, b: u32, acc: i32) -> i32 {
    #[cfg(mote_arm_dsp)]
    {
        let out: i32;
        // SAFETY: register-only DSP instruction present on every thumbv7em core; it may set the
        // sticky Q flag, which nothing reads, and touches no memory or stack.
        unsafe {
            core::arch::asm!("smlad {out}, {a}, {b}, {acc}", out = lateout(reg) out,
                a = in(reg) a, b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
        }
        out
    }
    #[cfg(not(mote_arm_dsp))]
    {
        let (a_lo, a_hi) = (a as u16 as i16 as i32, (a >> 16) as u16 as i16 as i32);
        let (b_lo, b_hi) = (b as u16 as i16 as i32, (b >> 16) as u16 as i16 as i32);
        acc.wrapping_add(a_lo * b_lo).wrapping_add(a_hi * b_hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulated_instructions_match_their_definitions() {
        assert_eq!(sxtb16(0x80_7F_01_FF), 0x007F_FFFF);
        assert_eq!(sxtb16_ror8(0x80_7F_01_FF), 0xFF80_0001);
        assert_eq!(smlad(0x0002_FFFF, 0x0003_0005, 10), 10 - 5 + 6);
    }

    proptest::proptest! {
        /// The fused pass's requantisation equals the shared one for every sum, multiplier,
        /// zero point and clamp, whenever every shift is in -31..=-2.
        #[test]
        fn requantize4_equals_requantize(
            acc: [i32; 4],
            multipliers in proptest::array::uniform4(0i32..=i32::MAX),
            shifts in proptest::array::uniform4(-31i8..=-2),
            offset in -128i32..128,
            a: i8,
            b: i8,
        ) {
            let (min, max) = (a.min(b), a.max(b));
            let layer = FullyConnectedView {
                weights: &[],
                layout: WeightLayout::RowQuads,
                symmetric_weights: true,
                small_scales: true,
                bias: &[],
                multipliers: &[],
                shifts: &[],
                input_len: 1,
                output_offset: offset,
                activation_min: min,
                activation_max: max,
            };
            let packed = requantize4(
                acc,
                multipliers,
                u32::from_le_bytes(shifts.map(|s| s as u8)),
                offset,
                min as u8 as u32 * 0x0101_0101,
                max as u8 as u32 * 0x0101_0101,
            );
            for (k, byte) in packed.to_le_bytes().into_iter().enumerate() {
                let want = requantize(&layer, acc[k], ((0, multipliers[k]), shifts[k] as i32));
                proptest::prop_assert_eq!(byte as i8, want);
            }
        }
    }

    #[test]
    fn a_view_that_does_not_fit_writes_nothing() {
        let weights = [1i8; 16];
        let bias = [0u8; 16];
        let view = FullyConnectedView {
            weights: &weights,
            layout: WeightLayout::RowQuads,
            symmetric_weights: true,
            small_scales: true,
            bias: &bias,
            multipliers: &bias,
            shifts: &[0; 4],
            input_len: 8, // needs 32 weight bytes for 4 rows; there are 16
            output_offset: 0,
            activation_min: -128,
            activation_max: 127,
        };
        let mut out = [7i8; 4];
        fully_connected_row_quads(&view, &[1; 8], &mut out);
        assert_eq!(out, [7; 4]);
        let row_major = FullyConnectedView {
            layout: WeightLayout::RowMajor,
            input_len: 4,
            ..view
        };
        fully_connected_row_quads(&row_major, &[1; 4], &mut out);
        assert_eq!(out, [7; 4]);
    }
}
